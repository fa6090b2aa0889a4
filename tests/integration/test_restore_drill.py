"""Restore drills (playbooks/restore_drill.yml) on a real local venv with real snapshots: the newest
snapshot is restored into a scratch release, verified with the venv's own gates and removed; the live
venv stays byte-identical (sha256 manifests, ``_archive.tree_manifest``), the ledger and the drill
report hold the drill. A damaged snapshot fails the drill with a message naming its file, and still
nothing changes."""

import json
import os
import subprocess

import pytest

from helpers import failed_tasks, read_ledger, run_playbook, task_results
from support import UV

from ansible_collections.oxzep7.python.plugins.module_utils._archive import SUMS, sha256_file, tree_manifest
from ansible_collections.oxzep7.python.plugins.module_utils._layout import Layout
from ansible_collections.oxzep7.python.plugins.module_utils._snapshot import list_snapshots
from ansible_collections.oxzep7.python.plugins.module_utils._venv import python_of

DRILL = "Restore the latest snapshot into a scratch release, verify it and remove it"


def _host_vars(base, venv, **entry):
    return dict(upgrade_state_dir=os.path.join(base, "state"), upgrade_backup_dir=os.path.join(base, "backups"),
                upgrade_venvs=[dict(dict(path=venv, imports=["demoapp", "flask"],
                                         smoke_commands=[["python", "-m", "demoapp.selftest"]]), **entry)])


def _snapshot(base, host_vars):
    rc, stats, plays = run_playbook("snapshot.yml", base, host_vars, timeout=600)
    assert rc == 0 and not failed_tasks(plays), (rc, stats, failed_tasks(plays))


def _drill(base, host_vars, run_id, check=False):
    return run_playbook("restore_drill.yml", base, host_vars, check=check, timeout=600, extra_vars=dict(
        python_upgrade_report_dir=os.path.join(base, "reports"), python_upgrade_run_id=run_id))


def _report(base, run_id):
    with open(os.path.join(base, "reports", run_id, "drill", "drill.json")) as fh:
        report = json.load(fh)
    with open(os.path.join(base, "reports", run_id, "drill", "drill.md")) as fh:
        return report, fh.read()


def test_drill_restores_the_newest_of_two_snapshots_and_changes_nothing(tmp_path, app_venv, wheelhouse):
    """Two snapshots, the second after packaging was installed; the drill imports packaging, which only the
    newer snapshot holds."""
    base = str(tmp_path)
    host_vars = _host_vars(base, app_venv, imports=["demoapp", "flask", "packaging"])
    _snapshot(base, host_vars)
    subprocess.run([UV, "pip", "install", "--quiet", "--no-config", "--python", python_of(app_venv), "--no-index",
                    "--find-links", wheelhouse, "packaging==26.3"], check=True)
    _snapshot(base, host_vars)
    snapshots = [s["snapshot_id"] for s in list_snapshots(host_vars["upgrade_backup_dir"], app_venv)]
    assert len(snapshots) == 2, snapshots
    layout = Layout(app_venv)
    live, backups = tree_manifest(app_venv), tree_manifest(host_vars["upgrade_backup_dir"])

    # check mode: the snapshot is checked (checksums, members), nothing is restored, nothing recorded
    rc, stats, plays = _drill(base, host_vars, "d0", check=True)
    assert rc == 0 and not failed_tasks(plays), (rc, stats, failed_tasks(plays))
    [checked] = task_results(plays, DRILL)[0]["results"]
    assert (checked["snapshot_id"], checked["passed"], checked["removed"], checked["gates"]) == (
        snapshots[-1], None, False, [])
    assert _report(base, "d0")[0]["hosts"][0]["venvs"][0]["result"] == "checked"
    assert not [r for r in read_ledger(host_vars["upgrade_state_dir"]) if r["run_id"] == "d0"]
    assert tree_manifest(app_venv) == live and not os.path.lexists(layout.releases_dir)

    rc, stats, plays = _drill(base, host_vars, "d1")
    assert rc == 0 and not failed_tasks(plays), (rc, stats, failed_tasks(plays))
    [drilled] = task_results(plays, DRILL)[0]["results"]
    assert drilled["snapshot_id"] == snapshots[-1] and drilled["release_id"] == "drill-" + snapshots[-1]
    assert drilled["passed"] and drilled["removed"] and not drilled["changed"]
    assert [g["name"] for g in drilled["gates"]] == ["pip check", "imports", "lock", "smoke: python -m demoapp.selftest"]
    assert drilled["gates"][1]["checked"] == ["demoapp", "flask", "packaging"]
    assert drilled["release_path"].startswith(layout.releases_dir + os.sep)

    # the live venv, every file of it, and the snapshots are as they were; the scratch release is gone,
    # and the releases directory the drill made beside the plain venv with it
    assert tree_manifest(app_venv) == live and layout.kind() == "plain"
    assert tree_manifest(host_vars["upgrade_backup_dir"]) == backups
    assert not os.path.lexists(layout.releases_dir)

    records = [r for r in read_ledger(host_vars["upgrade_state_dir"]) if r["run_id"] == "d1"]
    assert [(r["step"], r["result"], r["from"], r["to"]) for r in records] == [
        ("drill", "passed", snapshots[-1], "drill-" + snapshots[-1])]
    assert records[0]["seconds"] > 0

    report, markdown = _report(base, "d1")
    assert report["status"] == "passed" and report["totals"]["passed"] == 1
    [row] = report["hosts"]
    assert row["host"] == "app" and [(v["path"], v["result"], v["snapshot_id"]) for v in row["venvs"]] == [
        (app_venv, "passed", snapshots[-1])]
    assert set(row["venvs"][0]["seconds"]) == {"restore", "verify", "total"}
    assert "| app | `%s` | %s | 3.9." % (app_venv, snapshots[-1]) in markdown and "| passed |" in markdown


@pytest.mark.parametrize("damage", ["checksum", "archive"])
def test_drill_of_a_damaged_snapshot_fails_naming_the_file_and_changes_nothing(tmp_path, app_venv, damage):
    """Bytes flipped in the middle of the snapshot's archive: SHA256SUMS catches it (``checksum``); with
    SHA256SUMS rewritten to match (``archive``), reading the archive does."""
    base = str(tmp_path)
    host_vars = _host_vars(base, app_venv)
    _snapshot(base, host_vars)
    [snapshot] = list_snapshots(host_vars["upgrade_backup_dir"], app_venv)
    archive = os.path.join(snapshot["path"], snapshot["archive"])
    with open(archive, "r+b") as fh:
        fh.seek(os.path.getsize(archive) // 2)
        chunk = fh.read(64)
        fh.seek(-len(chunk), os.SEEK_CUR)
        fh.write(bytes(b ^ 0xFF for b in chunk))
    if damage == "archive":
        sums = os.path.join(snapshot["path"], SUMS)
        with open(sums) as fh:
            lines = fh.read().splitlines()
        with open(sums, "w") as fh:
            fh.write("".join("%s  %s\n" % (sha256_file(archive), name) if name == snapshot["archive"]
                             else line + "\n" for line, name in ((line, line.split("  ", 1)[1]) for line in lines)))
    layout = Layout(app_venv)
    live, backups = tree_manifest(app_venv), tree_manifest(host_vars["upgrade_backup_dir"])

    rc, stats, plays = _drill(base, host_vars, "d2")
    assert rc != 0 and stats["failures"] == 1, (rc, stats)
    [(host, task, [msg])] = failed_tasks(plays)
    named = (snapshot["path"] + " failed its checksums: %s does not match its sha256" % snapshot["archive"]
             if damage == "checksum" else archive)
    assert named in msg, msg

    assert tree_manifest(app_venv) == live and layout.kind() == "plain"
    assert tree_manifest(host_vars["upgrade_backup_dir"]) == backups
    assert not os.path.lexists(layout.releases_dir)

    [record] = [r for r in read_ledger(host_vars["upgrade_state_dir"]) if r["run_id"] == "d2"]
    assert (record["step"], record["result"], record["from"]) == ("drill", "failed", snapshot["snapshot_id"])
    assert named in record["reason"]
    report, markdown = _report(base, "d2")
    assert report["status"] == "failed" and report["hosts"][0]["venvs"][0]["reason"] == msg
    assert "| failed |" in markdown and named in markdown
