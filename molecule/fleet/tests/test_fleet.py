"""The fleet after one run: three hosts upgraded, canary first; one rolled back and still serving 3.9."""

import json

import pytest

GOOD = {"oxzep7-fleet-1": 18111, "oxzep7-fleet-2": 18112, "oxzep7-fleet-3": 18113}
BAD = ("oxzep7-fleet-4", 18114)


def _ledger(host):
    return [json.loads(line) for line in host.check_output("cat /var/lib/oxzep7-python/*/ledger.jsonl").splitlines()]


def _health(host, port):
    return json.loads(host.check_output(
        "python3 -c \"import urllib.request as u; print(u.urlopen('http://127.0.0.1:%d/health').read().decode())\""
        % port))


@pytest.mark.parametrize("name", sorted(GOOD))
def test_upgraded_host(host_for, name):
    host = host_for(name)
    release = host.file("/srv/app/venv").linked_to
    assert release.endswith("-cp312") and host.service("demoapp.service").is_running
    assert _health(host, GOOD[name])["python"].startswith("3.12.")
    assert [r["result"] for r in _ledger(host) if r["step"] == "upgrade"] == ["upgraded"]


def test_rolled_back_host_serves_the_old_release(host_for):
    host = host_for(BAD[0])
    assert host.file("/srv/app/venv").linked_to.endswith("-adopted")
    assert host.service("demoapp.service").is_running
    assert _health(host, BAD[1])["python"].startswith("3.9.")
    record = [r for r in _ledger(host) if r["step"] == "upgrade"][-1]
    assert record["result"] == "rolled_back" and "health command" in record["reason"]
    assert "No module named 'imp'" in record["reason"]
    assert host.run("ls -d /srv/app/.venv.releases/*-cp312").rc != 0, "the failed release must be removed"


def test_canary_finished_before_the_others_started(host_for):
    canary = [r for r in _ledger(host_for("oxzep7-fleet-1")) if r["step"] == "upgrade"][0]["time"]
    for name in ("oxzep7-fleet-2", "oxzep7-fleet-3", BAD[0]):
        first = _ledger(host_for(name))[0]
        assert first["step"] == "snapshot" and first["time"] >= canary, (name, first, canary)
