"""After rollback, forward, loss of the old release and restore: the app runs 3.9 from the snapshot."""

import json

testinfra_hosts = ["podman://oxzep7-rollback"]


def test_restored_from_snapshot(host):
    records = [json.loads(line) for line in host.check_output("cat /var/lib/oxzep7-python/*/ledger.jsonl").splitlines()]
    upgrade = [r for r in records if r["step"] == "upgrade"][0]
    release = host.file("/srv/app/venv").linked_to
    assert release == "/srv/app/.venv.releases/restored-" + upgrade["snapshot_id"]
    assert host.check_output("/srv/app/venv/bin/python -c 'import sys; print(sys.version_info[:2])'") == "(3, 9)"
    assert host.service("demoapp.service").is_running
    health = json.loads(host.check_output(
        "python3 -c \"import urllib.request as u; print(u.urlopen('http://127.0.0.1:18121/health').read().decode())\""))
    assert health["python"].startswith("3.9.")
    steps = [(r["step"], r["result"]) for r in records]
    assert ("restore", "changed") in steps and ("verify", "passed") in steps
    rollbacks = [r["to"] for r in records if r["step"] == "rollback"]
    assert len(rollbacks) == 3 and rollbacks[0].endswith("-adopted")
    assert rollbacks[1:] == [upgrade["release_id"], "restored-" + upgrade["snapshot_id"]]
    assert host.file("/srv/app/.venv.releases/%s" % upgrade["release_id"]).is_directory
    marker = json.loads(host.file(release + ".release.json").content_string)
    assert marker["state"] == "verified" and marker["origin"] == "snapshot:" + upgrade["snapshot_id"]
