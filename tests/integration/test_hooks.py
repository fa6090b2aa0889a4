"""Hooks (issue 15): task files of the user's run at the upgrade's stages, on a real venv and a real app."""

import glob
import json
import os

from helpers import HOOKS, hook_lines, read_ledger, run_playbook, settle_snapshots, task_results

from ansible_collections.oxzep7.python.plugins.module_utils._archive import tree_manifest
from ansible_collections.oxzep7.python.plugins.module_utils._layout import Layout


def test_hooks_run_in_order_with_their_variables(app, pyenv_root, wheelhouse):
    log = os.path.join(app.base, "hooks.jsonl")
    record = os.path.join(HOOKS, "record.yml")
    stages = ["before_snapshot", "before_switch", "after_switch", "after_health", "before_rollback", "on_rollback",
              "after_batch"]
    host_vars = app.host_vars(pyenv_root, wheelhouse, hook_log=log, hook_stable=app.stable,
                              upgrade_hooks=dict((s, [record]) for s in stages))
    rc, stats, _plays = run_playbook("upgrade.yml", app.base, host_vars, extra_vars=dict(python_upgrade_run_id="h1"))
    assert rc == 0, stats
    lines = hook_lines(log)
    assert [h["stage"] for h in lines] == stages[:4] + ["after_batch"], lines  # no rollback, none of its stages
    by = dict((h["stage"], h) for h in lines)
    release = Layout(app.stable).current_release()
    assert release == "h1-cp312"
    for stage in stages[:4]:
        hook = by[stage]
        assert hook["run_id"] == "h1" and hook["path"] == app.stable and hook["venv"]["path"] == app.stable
        assert hook["from_version"].startswith("3.9.") and hook["to_version"].startswith("3.12"), hook
    assert by["before_snapshot"]["live"] == "plain" and by["before_snapshot"]["release"] is None
    # before the switch the new release is verified beside the live venv, which has not moved
    assert by["before_switch"]["live"] == "plain" and by["before_switch"]["release"] == release
    assert Layout(app.stable).marker(release)["state"] == "verified"
    assert by["after_switch"]["live"].endswith("/" + release) and by["after_health"]["live"].endswith("/" + release)
    assert by["after_switch"]["previous_release"].endswith("-adopted")
    assert by["after_batch"]["batch"] == ["app"] and by["after_batch"]["run_id"] == "h1"
    settle_snapshots(app.backup_dir)
    steps = [r["step"] for r in read_ledger(app.state_dir)]
    assert [s for s in steps if s != "snapshot"] == ["rebuild", "verify", "switch", "upgrade"], steps
    assert steps.count("snapshot") == 1, steps

    # already on the target: no stage of a venv's upgrade runs, only the batch's
    rc, stats, _plays = run_playbook("upgrade.yml", app.base, host_vars, extra_vars=dict(python_upgrade_run_id="h2"))
    assert rc == 0, stats
    assert [h["stage"] for h in hook_lines(log)[len(lines):]] == ["after_batch"]


def test_failing_hook_rolls_back_keeps_the_failed_release_and_runs_on_rollback(app, pyenv_root, wheelhouse):
    """A failing after_health hook rolls back; the before_rollback hooks run before the switch back and the
    restart, and one of them failing does not stop the rollback."""
    log = os.path.join(app.base, "hooks.jsonl")
    reports = os.path.join(app.base, "reports")
    record, fail = os.path.join(HOOKS, "record.yml"), os.path.join(HOOKS, "fail.yml")
    host_vars = app.host_vars(pyenv_root, wheelhouse, hook_log=log, hook_stable=app.stable,
                              upgrade_keep_failed_release=True,
                              upgrade_hooks=dict(before_switch=[record], after_health=[fail],
                                                 before_rollback=[fail, record], on_rollback=[record]))
    rc, stats, plays = run_playbook("upgrade.yml", app.base, host_vars,
                                    extra_vars=dict(python_upgrade_run_id="f1", python_upgrade_report_dir=reports))
    assert rc != 0 and stats["rescued"] == 1, stats
    failed = task_results(plays, "Fail the stage, as a drain or a probe that goes wrong would")
    assert [(r["msg"], r["failed"]) for r in failed] == [
        ("hook says no at after_health", True), ("hook says no at before_rollback", True)], failed
    layout = Layout(app.stable)
    assert layout.current_release().endswith("-adopted")
    # the failed release stays for inspection, marked failed, and the retention of the next switch removes it
    marker = layout.marker("f1-cp312")
    assert marker["state"] == "failed" and "hook says no at after_health" in marker["reason"], marker
    # before_switch hooks split the pass (venv_upgrade stops at the verified release, venv_switch follows):
    # the rollback still finds the release that was live before
    before, drain, hook = hook_lines(log)
    assert before["stage"] == "before_switch" and before["live"] == "plain"
    # before the switch back (so before the restart), and after a hook of its own failed
    assert drain["stage"] == "before_rollback" and drain["live"].endswith("/f1-cp312"), drain
    assert "hook says no at after_health" in drain["reason"] and drain["previous_release"].endswith("-adopted")
    assert hook["stage"] == "on_rollback" and "hook says no at after_health" in hook["reason"]
    assert hook["release"] == "f1-cp312" and hook["live"].endswith("-adopted"), hook
    upgrade = [r for r in read_ledger(app.state_dir) if r["step"] == "upgrade"][-1]
    assert upgrade["result"] == "rolled_back" and "hook says no" in upgrade["reason"]
    [marked] = [r for r in read_ledger(app.state_dir) if r["step"] == "mark release failed"]
    assert marked["from"] == "f1-cp312" and "hook says no" in marked["reason"], marked

    # the next run upgrades, never switching to the failed release, and prunes it
    rc, stats, _plays = run_playbook("upgrade.yml", app.base, dict(host_vars, upgrade_hooks={}),
                                     extra_vars=dict(python_upgrade_run_id="f2"))
    assert rc == 0, stats
    assert layout.current_release() == "f2-cp312"
    assert [r["id"] for r in layout.releases() if r["id"].startswith("f1")] == []


def test_failed_verify_leaves_its_output_in_the_report(app, pyenv_root, wheelhouse):
    reports = os.path.join(app.base, "reports")
    host_vars = app.host_vars(pyenv_root, wheelhouse,
                              upgrade_venvs=[app.venv_entry(imports=["demoapp", "demoapp.legacy"])])
    rc, stats, _plays = run_playbook("upgrade.yml", app.base, host_vars,
                                     extra_vars=dict(python_upgrade_run_id="v1", python_upgrade_report_dir=reports))
    assert rc != 0, stats
    [evidence] = glob.glob(os.path.join(reports, "v1", "hosts", "app", "*.verify.log"))
    with open(evidence) as fh:
        text = fh.read()
    assert "## imports: FAILED" in text and "No module named 'imp'" in text, text
    with open(os.path.join(reports, "v1", "hosts", "app.json")) as fh:
        record = json.load(fh)["results"][0]
    assert record["evidence"] == [os.path.relpath(evidence, os.path.join(reports, "v1"))], record
    with open(os.path.join(reports, "v1", "report.md")) as fh:
        assert os.path.basename(evidence) in fh.read()


def test_bad_hook_file_fails_before_anything_changes(app, pyenv_root, wheelhouse):
    before = tree_manifest(app.stable)
    for bad in ("missing.yml", "not-tasks.yml"):
        path = os.path.join(HOOKS, bad)
        host_vars = app.host_vars(pyenv_root, wheelhouse, upgrade_hooks=dict(after_switch=[path]))
        rc, stats, plays = run_playbook("upgrade.yml", app.base, host_vars)
        assert rc != 0, stats
        out = json.dumps(plays)
        assert "hook file %s is missing or is not a YAML list of tasks" % path in out
        assert tree_manifest(app.stable) == before and not os.path.exists(Layout(app.stable).releases_dir)
        assert read_ledger(app.state_dir) == []
    host_vars = app.host_vars(pyenv_root, wheelhouse, upgrade_hooks=dict(after_lunch=["x.yml"]))
    rc, stats, plays = run_playbook("upgrade.yml", app.base, host_vars)
    assert rc != 0 and "after_lunch" in json.dumps(plays)
    assert tree_manifest(app.stable) == before
