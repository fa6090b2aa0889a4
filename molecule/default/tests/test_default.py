"""The default scenario's host after the upgrade, checked in one go (testinfra's podman backend)."""

import json

testinfra_hosts = ["podman://oxzep7-default"]


def test_app_runs_on_a_verified_target_release(host):
    stable = host.file("/srv/app/venv")
    assert stable.is_symlink
    release = stable.linked_to
    assert release.startswith("/srv/app/.venv.releases/") and release.endswith("-cp312")
    marker = json.loads(host.file(release + ".release.json").content_string)
    assert marker["state"] == "verified" and marker["python_version"].startswith("3.12.")
    assert host.check_output("/srv/app/venv/bin/python -c 'import sys; print(sys.version_info[:2])'") == "(3, 12)"

    assert host.service("demoapp.service").is_running
    health = json.loads(host.check_output(
        "python3 -c \"import urllib.request as u; print(u.urlopen('http://127.0.0.1:18101/health').read().decode())\""))
    assert health["status"] == "ok" and health["python"].startswith("3.12.")

    records = [json.loads(line) for line in
               host.check_output("cat /var/lib/oxzep7-python/*/ledger.jsonl").splitlines()]
    upgrades = [r for r in records if r["step"] == "upgrade"]
    assert upgrades[0]["result"] == "upgraded" and upgrades[0]["from"].startswith("3.9.")
    assert all(r["result"] == "already_current" for r in upgrades[1:])  # the idempotence run
    # the archive is written while the release is built and verified; the switch does not wait for it, and its
    # writer records it once done (long before this check: the idempotence run came in between)
    steps = [r["step"] for r in records]
    assert [s for s in steps if s != "snapshot"][:3] == ["rebuild", "verify", "switch"], steps
    assert steps.count("snapshot") == 1, steps

    backups = host.file("/var/backups/oxzep7-python")
    assert backups.mode == 0o700
    snapshot = "/var/backups/oxzep7-python/%s" % host.check_output("ls /var/backups/oxzep7-python")
    assert host.file(snapshot).mode == 0o700
    assert host.run("cd %s/* && sha256sum -c --quiet SHA256SUMS" % snapshot).rc == 0
