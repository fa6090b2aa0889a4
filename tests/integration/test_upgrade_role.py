"""The upgrade and rollback roles end to end on localhost: real venvs, real services, real failures."""

import json
import os
import shutil
import stat
import subprocess

import pytest

from helpers import (
    App, ImportProbe, failed_tasks, http_json, read_ledger, run_fleet_playbook, run_playbook, settle_snapshots, task_results)
from support import UV

from ansible_collections.oxzep7.python.plugins.module_utils._layout import Layout
from ansible_collections.oxzep7.python.plugins.module_utils._archive import check_sums, tree_manifest


def _selftest(stable):
    out = subprocess.run([os.path.join(stable, "bin", "python"), "-m", "demoapp.selftest"], check=False,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    assert out.returncode == 0, out.stdout
    return out.stdout


def test_upgrade_switches_atomically_and_second_run_changes_nothing(app, pyenv_root, wheelhouse):
    before = tree_manifest(app.stable)
    host_vars = app.host_vars(pyenv_root, wheelhouse)

    reports = os.path.join(app.base, "check-reports")
    rc, stats, _plays = run_playbook("upgrade.yml", app.base, host_vars, check=True,
                                     extra_vars=dict(python_upgrade_report_dir=reports, python_upgrade_run_id="check"))
    assert rc == 0 and stats["changed"] > 0, stats
    assert tree_manifest(app.stable) == before and not os.path.islink(app.stable)
    assert not os.path.exists(Layout(app.stable).releases_dir), "check mode must not build anything"
    with open(os.path.join(reports, "check", "report.json")) as fh:
        report = json.load(fh)
    assert [(h["host"], h["status"]) for h in report["hosts"]] == [("app", "would_upgrade")], report
    assert report["status"] == "completed" and report["totals"]["would_upgrade"] == 1, report

    probe = ImportProbe(app.stable)
    probe.start()
    try:
        rc, stats, plays = run_playbook("upgrade.yml", app.base, host_vars)
    finally:
        probe.stop()
    assert rc == 0 and stats["failures"] == 0, stats
    assert probe.failures == 0, (probe.runs, probe.errors[:3])
    # the probe ran throughout: on the old interpreter before the switch, the new one after
    assert probe.versions[0] == "3.9" and probe.versions[-1] == "3.12", probe.versions

    layout = Layout(app.stable)
    current = layout.current_release()
    assert current.endswith("-cp312") and layout.marker(current)["state"] == "verified"
    assert http_json("http://127.0.0.1:%d/health" % app.port)["python"].startswith("3.12.")
    assert "on Python 3.12" in _selftest(app.stable)
    adopted = layout.previous_verified()
    assert adopted.endswith("-adopted") and tree_manifest(layout.release_path(adopted)) == before

    records = [r for r in read_ledger(app.state_dir) if r["step"] == "upgrade"]
    assert records[-1]["result"] == "upgraded" and records[-1]["from"].startswith("3.9.")
    # the snapshot's archive is written while the release is built and verified; the switch does not wait
    # for it, and it is recorded once, when its writer is done
    settle_snapshots(app.backup_dir)
    steps = [r["step"] for r in read_ledger(app.state_dir)]
    assert [s for s in steps if s != "snapshot"][:3] == ["rebuild", "verify", "switch"], steps
    assert steps.count("snapshot") == 1 and steps.index("snapshot") > steps.index("rebuild"), steps
    snap_dir = os.path.dirname(task_results(plays, "Snapshot, rebuild, verify and switch")[0]["snapshot"]["path"])
    assert stat.S_IMODE(os.stat(snap_dir).st_mode) == 0o700
    snap = task_results(plays, "Snapshot, rebuild, verify and switch")[0]["snapshot"]["path"]
    assert stat.S_IMODE(os.stat(snap).st_mode) == 0o700 and check_sums(snap) == []

    # issue 14: one venv's happy path is at most 15 task results, the skipped ones counted too: the include's
    # item, then the role's "Start the record" to its last per-venv task. Four of them run.
    tasks = [t for p in plays for t in p["tasks"] if "app" in t["hosts"]]
    names = [t["task"]["name"].split(" : ")[-1] for t in tasks]
    first = [i for i, n in enumerate(names) if n.startswith("Start the record of ")][0]
    last = [i for i, n in enumerate(names) if n.startswith("Keep what the bake would roll back ")][0]
    ran = [names[i].split(" /")[0] for i in range(first, last + 1) if not tasks[i]["hosts"]["app"].get("skipped")]
    assert 1 + last + 1 - first <= 15, names[first:last + 1]
    assert ran == ["Start the record of", "Snapshot, rebuild, verify and switch", "Restart and check the services of",
                   "Record the outcome and release the venv's lock"], ran

    rc, stats, _plays = run_playbook("upgrade.yml", app.base, host_vars)
    assert rc == 0 and stats["changed"] == 0, stats
    assert [r for r in read_ledger(app.state_dir) if r["step"] == "upgrade"][-1]["result"] == "already_current"
    assert layout.current_release() == current


FAILURES = {
    # stage: (requirements of the live venv, venv entry overrides, where the stable path ends)
    "rebuild": ("requirements-broken.txt", {}, "plain"),
    "verify": ("requirements.txt", {"imports": ["demoapp", "demoapp.legacy"]}, "plain"),
    "health": ("requirements.txt", {"health_command": ["{stable}/bin/python", "-c", "import demoapp.legacy"]},
               "adopted"),
}


@pytest.mark.parametrize("stage", sorted(FAILURES))
def test_failure_rolls_back_to_the_old_release_unchanged(stage, tmp_path, old_python, pyenv_root, wheelhouse):
    requirements, overrides, ends = FAILURES[stage]
    app = App(str(tmp_path), old_python, wheelhouse, requirements)
    try:
        before = tree_manifest(app.stable)
        entry = app.venv_entry(**dict(
            (k, [a.format(stable=app.stable) for a in v] if k == "health_command" else v)
            for k, v in overrides.items()))
        host_vars = app.host_vars(pyenv_root, wheelhouse, upgrade_venvs=[entry])
        # numpy 1.24.4 (requirements-broken.txt) has no 3.12 wheel: the preflight would refuse the
        # host; report-only lets the rebuild itself fail, to test the rollback from there.
        rc, stats, plays = run_playbook("upgrade.yml", app.base, host_vars,
                                        extra_vars=dict(preflight_inhibited_action="report"))
        assert rc != 0 and stats["failures"] == 1 and stats["rescued"] == 1, stats
        layout = Layout(app.stable)
        live = layout.live_path()
        if ends == "plain":  # the first conversion never happened: nothing is left beside the venv
            assert layout.kind() == "plain" and not os.path.exists(layout.releases_dir)
        else:
            assert layout.current_release().endswith("-adopted")
        assert tree_manifest(live) == before, "the old release must be byte-identical"
        assert [r["id"] for r in layout.releases() if r["id"].endswith("-cp312")] == []
        assert "on Python 3.9" in _selftest(app.stable)
        assert http_json("http://127.0.0.1:%d/health" % app.port)["python"].startswith("3.9.")
        record = [r for r in read_ledger(app.state_dir) if r["step"] == "upgrade"][-1]
        assert record["result"] == "rolled_back", record
        message = task_results(plays, "Fail the host, the upgrade was rolled back " + app.stable)[0]["msg"]
        assert "rolled back" in message and record["reason"] in message
        if stage == "rebuild":  # the failed stage has its record too, naming the pin in uv's own words
            rebuilds = [r for r in read_ledger(app.state_dir) if r["step"] == "rebuild"]
            named = ("no build of numpy==1.24.4 for cp312: Because numpy==1.24.4 has no wheels with a matching "
                     "Python ABI tag (e.g., `cp312`)")
            assert [r["result"] for r in rebuilds] == ["failed"] and rebuilds[0]["reason"].startswith(named), rebuilds
            assert record["reason"] == "Snapshot, rebuild, verify and switch: " + rebuilds[0]["reason"]
    finally:
        app.stop()


def test_rollback_playbook_and_restore_from_snapshot(app, pyenv_root, wheelhouse):
    before = tree_manifest(app.stable)
    # four restarts, each of which must turn healthy: up to 20 s each, not 3, on a machine busy with other tests
    host_vars = app.host_vars(pyenv_root, wheelhouse, upgrade_health_retries=20)
    rc, stats, plays = run_playbook("upgrade.yml", app.base, host_vars)
    assert rc == 0, failed_tasks(plays)
    snapshot_id = task_results(plays, "Snapshot, rebuild, verify and switch")[0]["snapshot_id"]
    layout = Layout(app.stable)
    new, old = layout.current_release(), layout.previous_verified()

    rc, stats, plays = run_playbook("rollback.yml", app.base, host_vars)
    assert rc == 0 and stats["changed"] > 0, (stats, failed_tasks(plays))
    assert layout.current_release() == old and "on Python 3.9" in _selftest(app.stable)
    assert http_json("http://127.0.0.1:%d/health" % app.port)["python"].startswith("3.9.")

    # forward again to the 3.12 release, delete the old one, then come back from the snapshot
    rc, stats, plays = run_playbook("rollback.yml", app.base, host_vars, extra_vars={"rollback_release": new})
    assert rc == 0 and layout.current_release() == new, failed_tasks(plays)
    shutil.rmtree(layout.release_path(old))
    rc, stats, plays = run_playbook("rollback.yml", app.base, host_vars,
                                    extra_vars={"rollback_release": old, "rollback_snapshot": snapshot_id})
    assert rc == 0, failed_tasks(plays)
    restored = layout.current_release()
    assert restored == "restored-" + snapshot_id
    assert tree_manifest(layout.release_path(restored)) == before
    assert "on Python 3.9" in _selftest(app.stable)
    assert http_json("http://127.0.0.1:%d/health" % app.port)["python"].startswith("3.9.")

    rc, stats, plays = run_playbook("rollback.yml", app.base, host_vars, extra_vars={"rollback_release": restored})
    assert rc == 0 and stats["changed"] == 0, (stats, failed_tasks(plays))


def test_several_venvs_per_host_by_fqcn(tmp_path, old_python, new_python, pyenv_root, wheelhouse):
    venvs = {}
    for name, python in (("old", old_python), ("current", new_python)):
        path = str(tmp_path / name / "venv")
        os.makedirs(os.path.dirname(path))
        subprocess.run([python, "-m", "venv", path], check=True)
        subprocess.run([UV, "pip", "install", "--no-config", "--python", os.path.join(path, "bin", "python"),
                        "--no-index", "--find-links", wheelhouse, "idna==3.4"], check=True, stdout=subprocess.PIPE)
        venvs[name] = path
    before = tree_manifest(venvs["current"])
    state = str(tmp_path / "state")
    host_vars = dict(upgrade_python_version="3.12", upgrade_pyenv_root=pyenv_root, upgrade_no_index=True,
                     upgrade_find_links=[wheelhouse], upgrade_installer_isolated=True, upgrade_state_dir=state,
                     upgrade_backup_dir=str(tmp_path / "backups"),
                     upgrade_venvs=[dict(path=venvs["old"], imports=["idna"]),
                                    dict(path=venvs["current"], imports=["idna"])])
    rc, stats, _plays = run_playbook("oxzep7.python.upgrade", str(tmp_path), host_vars)
    assert rc == 0, stats
    assert Layout(venvs["old"]).current_release().endswith("-cp312")
    assert Layout(venvs["current"]).kind() == "plain" and tree_manifest(venvs["current"]) == before
    results = dict((r["path"], r["result"]) for r in read_ledger(state) if r["step"] == "upgrade")
    assert results == {venvs["old"]: "upgraded", venvs["current"]: "already_current"}
    rc, stats, _plays = run_playbook("oxzep7.python.upgrade", str(tmp_path), host_vars)
    assert rc == 0 and stats["changed"] == 0, stats


def test_hosts_whose_venv_entries_differ_work_side_by_side(tmp_path, old_python, pyenv_root, wheelhouse):
    """Two hosts in one batch, each with its own venv entry: every task of the venv's include runs once
    for both hosts. Ansible's linear strategy runs differing include items host after host, which made
    a batch as slow as its hosts one by one."""
    hosts = {}
    for name in ("web-1", "web-2"):
        path = str(tmp_path / name / "venv")
        os.makedirs(os.path.dirname(path))
        subprocess.run([old_python, "-m", "venv", path], check=True)
        subprocess.run([UV, "pip", "install", "--no-config", "--python", os.path.join(path, "bin", "python"),
                        "--no-index", "--find-links", wheelhouse, "idna==3.4"], check=True, stdout=subprocess.PIPE)
        hosts[name] = dict(upgrade_python_version="3.12", upgrade_pyenv_root=pyenv_root, upgrade_no_index=True,
                           upgrade_find_links=[wheelhouse], upgrade_installer_isolated=True,
                           upgrade_state_dir=str(tmp_path / name / "state"),
                           upgrade_backup_dir=str(tmp_path / name / "backups"),
                           upgrade_venvs=[dict(path=path, imports=["idna"])])
    rc, stats, plays = run_fleet_playbook("upgrade.yml", str(tmp_path), hosts, extra_vars=dict(
        python_upgrade_canary_count=0, python_upgrade_serial=["100%"],
        python_upgrade_report_dir=str(tmp_path / "reports")))
    assert rc == 0, stats
    for name in hosts:
        assert Layout(hosts[name]["upgrade_venvs"][0]["path"]).current_release().endswith("-cp312")
    for task in ("Snapshot, rebuild, verify and switch",
                 "Record the outcome and release the venv's lock"):
        started = [t for p in plays for t in p["tasks"] if t["task"]["name"].endswith(" : " + task)]
        assert [sorted(t["hosts"]) for t in started] == [sorted(hosts)], task


def test_rollback_with_nothing_to_go_back_to_fails_cleanly(app, pyenv_root, wheelhouse):
    before = tree_manifest(app.stable)
    rc, stats, plays = run_playbook("rollback.yml", app.base, app.host_vars(pyenv_root, wheelhouse))
    assert rc != 0 and stats["failures"] == 1
    msg = task_results(plays, "Refuse when there is nothing to go back to")[0]["msg"]
    assert "is not a verified release here" in msg
    assert tree_manifest(app.stable) == before


def test_bad_input_is_refused_before_anything_changes(app, pyenv_root, wheelhouse):
    before = tree_manifest(app.stable)
    missing = app.host_vars(pyenv_root, wheelhouse, upgrade_python_version="3.99")
    # The preflight ends the host first (no wheel of anything for 3.99), untouched
    rc, stats, plays = run_playbook("upgrade.yml", app.base, missing)
    assert rc == 0 and "cannot install on 3.99" in json.dumps(plays)
    assert tree_manifest(app.stable) == before and not os.path.islink(app.stable)
    # and past the preflight, the rebuild refuses the missing interpreter
    rc, stats, plays = run_playbook("upgrade.yml", app.base, missing, extra_vars=dict(preflight_inhibited_action="report"))
    assert rc != 0
    rebuild = task_results(plays, "Snapshot, rebuild, verify and switch")[0]
    assert "CPython 3.99 is not installed" in rebuild["msg"]
    assert tree_manifest(app.stable) == before and not os.path.islink(app.stable)

    typo = app.host_vars(pyenv_root, wheelhouse, upgrade_venvs=[{"paht": app.stable}])
    rc, stats, plays = run_playbook("upgrade.yml", app.base, typo)
    assert rc != 0 and json.dumps(plays).count("path") > 0
    assert tree_manifest(app.stable) == before
