"""venv_upgrade, the one-pass module, on a real venv: check mode, failure, lock, upgrade, on target."""

import os

from helpers import failed_tasks, module_result, read_ledger, run_module, run_playbook

from ansible_collections.oxzep7.python.plugins.module_utils._archive import check_sums, tree_manifest
from ansible_collections.oxzep7.python.plugins.module_utils._layout import Layout
from ansible_collections.oxzep7.python.plugins.module_utils._snapshot import being_written, restore, wait_written


def test_venv_upgrade_passes(app_venv, pyenv_root, wheelhouse, tmp_path):
    base = str(tmp_path)
    extra = dict(stable=app_venv, pyenv_root=pyenv_root, wheelhouse=wheelhouse,
                 backup_dir=os.path.join(base, "backups"), state_dir=os.path.join(base, "state"))
    playbook = os.path.join(os.path.dirname(os.path.abspath(__file__)), "playbooks", "venv_upgrade.yml")
    rc, _stats, plays = run_playbook(playbook, base, {}, extra_vars=extra)
    failed = failed_tasks(plays, ignore=("Upgrade with a gate that fails", "Upgrade while another run holds the lock",
                                         "A record that comes with taking the lock is refused"))
    assert rc == 0 and not failed, failed
    layout = Layout(app_venv)
    assert layout.current_release() == "r3-cp312"
    assert os.readlink(app_venv).endswith("r3-cp312")
    # the failed pass left no release and no snapshot of its own besides the one the upgrade reused
    assert sorted(r["id"] for r in layout.releases()) == sorted([layout.previous_verified(), "r3-cp312"])
    steps = [(r["run_id"], r["step"]) for r in read_ledger(extra["state_dir"]) if r.get("run_id") == "r2"]
    assert steps == []  # the locked-out run wrote nothing
    # the refused venv_lock call (a record with state=present) wrote no ledger line and took no lock: the
    # upgrade r3 right after it took the lock
    assert [r for r in read_ledger(extra["state_dir"]) if r.get("run_id") == "r9"] == []


def test_the_switch_does_not_wait_for_the_snapshot(app_venv, pyenv_root, installer_options, tmp_path):
    """A bz2 archive of the app venv with 40 MB of random bytes in it (about 12 s) outlasts the rebuild
    with uv and the gates (about 3 s): the pass switches without it,
    the module returns, and the writer it left finishes the snapshot of the old venv (the plain directory,
    renamed by the switch into the adopted release) and records it in the ledger."""
    state_dir, backups = str(tmp_path / "state"), str(tmp_path / "backups")
    with open(os.path.join(app_venv, "padding.bin"), "wb") as fh:
        fh.write(os.urandom(40 * 1024 * 1024))
    before = tree_manifest(app_venv)
    proc = run_module("venv_upgrade", dict(
        path=app_venv, state_dir=state_dir, run_id="d1", python_version="3.12", pyenv_root=pyenv_root,
        backup_dir=backups, imports=["demoapp"], snapshot_compression="bz2", **installer_options))
    result = module_result(proc)
    assert result.get("outcome") == "upgraded", proc.stdout[-3000:]
    layout = Layout(app_venv)
    assert result["snapshot"]["state"] == "writing" and "snapshot_archive" not in result["seconds"]
    assert result["seconds"]["snapshot"] < 5
    partial = result["snapshot"]["path"] + ".partial"
    assert being_written(partial)
    assert not [r for r in read_ledger(state_dir) if r["step"] == "snapshot"]
    assert wait_written(partial, 300) and check_sums(result["snapshot"]["path"]) == []
    records = [r for r in read_ledger(state_dir) if r["step"] == "snapshot"]
    assert [(r["run_id"], r["result"], r["detached"], r["to"]) for r in records] == [
        ("d1", "changed", True, result["snapshot_id"])]
    restored = restore(layout, backups, result["snapshot_id"])
    assert tree_manifest(restored["release_path"]) == before
    assert layout.current_release() == result["release_id"]
