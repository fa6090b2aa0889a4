"""venv_upgrade, the one-pass module, on a real venv: check mode, failure, lock, upgrade, on target."""

import os

from helpers import failed_tasks, read_ledger, run_playbook

from ansible_collections.oxzep7.python.plugins.module_utils._layout import Layout


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
