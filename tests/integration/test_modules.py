"""Every module through check mode, apply, check mode again and apply again, on a real venv."""

import os

from helpers import run_playbook, task_results

from ansible_collections.oxzep7.python.plugins.module_utils._layout import Layout


def test_module_cycles(app_venv, pyenv_root, wheelhouse, tmp_path):
    base = str(tmp_path)
    extra = dict(stable=app_venv, pyenv_root=pyenv_root, wheelhouse=wheelhouse,
                 backup_dir=os.path.join(base, "backups"), state_dir=os.path.join(base, "state"))
    playbook = os.path.join(os.path.dirname(os.path.abspath(__file__)), "playbooks", "modules.yml")
    rc, stats, plays = run_playbook(playbook, base, {}, extra_vars=extra)
    failed = [(t["task"]["name"], t["hosts"]["app"].get("msg")) for p in plays for t in p["tasks"]
              if t["hosts"].get("app", {}).get("failed")]
    assert rc == 0 and not failed, failed
    assert len(task_results(plays, "Check the removals and the ledger")) == 1
    layout = Layout(app_venv)
    assert layout.current_release() == "r-cp312"
    assert [r["id"] for r in layout.releases()] == [layout.previous_verified(), "r-cp312"]
