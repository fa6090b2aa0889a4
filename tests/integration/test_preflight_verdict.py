"""venv_preflight returns the preflight role's verdict itself, and reuses it within a run.

The verdicts are compared with what the role composed in Jinja before (compat_check, venv_info and
venv_preflight with ``packages``; the expressions are kept in playbooks/tasks/verdict-venv.yml), on real
3.9 venvs against the real wheelhouse: one that moves to 3.12, one that cannot (numpy 1.24.4 has no
cp312 wheel there, and its code imports imp), and a path that holds no venv.
"""

import json
import os
import subprocess

from helpers import failed_tasks, run_playbook, task_results
from support import FIXTURES, UV, make_app_venv

from ansible_collections.oxzep7.python.plugins.module_utils._state import slug

HERE = os.path.dirname(os.path.abspath(__file__))


def _steady(verdict):
    """``verdict`` without the free bytes of its disk check, which change between two calls."""
    disk = dict(verdict["disk"] or {}, free_bytes=None) if verdict["disk"] else None
    return dict(verdict, disk=disk)


def _verdicts(base, venvs, wheelhouse, pyenv_root, compare=True):
    rc, _stats, plays = run_playbook(os.path.join(HERE, "playbooks", "verdict.yml"), base, {}, extra_vars=dict(
        venvs=venvs, wheelhouse=wheelhouse, pyenv_root=pyenv_root, state_dir=os.path.join(base, "state"),
        compare=compare))
    assert rc == 0 and not failed_tasks(plays), failed_tasks(plays)
    return task_results(plays, "The old verdict and the new")[-1]["ansible_facts"]["verdicts"]


def test_verdict_matches_old_role_and_is_reused(tmp_path, old_python, wheelhouse, pyenv_root):
    base = str(tmp_path)
    clean, blocked = os.path.join(base, "clean", "venv"), os.path.join(base, "blocked", "venv")
    make_app_venv(clean, old_python, wheelhouse)
    make_app_venv(blocked, old_python, wheelhouse)
    subprocess.run([UV, "pip", "install", "--no-config", "--python", os.path.join(blocked, "bin", "python"),
                    "--no-index", "--find-links", wheelhouse, "numpy==1.24.4"], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    code = os.path.join(FIXTURES, "demoapp", "src")
    absent = os.path.join(base, "none", "venv")
    venvs = [dict(path=clean, code_paths=[]), dict(path=blocked, code_paths=[code]), dict(path=absent, code_paths=[])]

    verdicts = _verdicts(base, venvs, wheelhouse, pyenv_root)
    for path, status in ((clean, "ready"), (blocked, "inhibited"), (absent, "absent")):
        found = verdicts[path]
        assert _steady(found["new"]["verdict"]) == _steady(found["old"]), path  # the old Jinja's fields and values
        assert found["new"]["verdict"]["status"] == status
        assert found["new"]["oxzep7_report"] == dict(kind="preflight", host_record=found["new"]["verdict"])
    inhibited = verdicts[blocked]["new"]["verdict"]
    assert sorted((i["check"], i.get("name") or i.get("module")) for i in inhibited["inhibitors"]) == [
        ("package", "numpy"), ("removed_module", "imp")]
    # venv on 3.9 seeded setuptools; on 3.12 it seeds pip only, so pkg_resources would be gone
    dropped = [w for w in verdicts[clean]["new"]["verdict"]["warnings"] if w["check"] == "seed_dropped"]
    assert [(w["name"], w["target"]) for w in dropped] == [("setuptools", "3.12")], dropped
    assert [(s["target"], s["can_move"]) for s in verdicts[clean]["new"]["verdict"]["steps"]] == [
        ("3.10", False), ("3.11", False), ("3.12", True)]  # the wheelhouse has cp39 and cp312 wheels only

    # the second call of the run reuses the verdict kept under the venv's state folder
    for path in (clean, blocked):
        first, again = verdicts[path]["new"], verdicts[path]["again"]
        assert not first["reused"] and again["reused"] and again["verdict"] == first["verdict"]
    # stepwise_when inhibited (upgrade.yml): the venv that moves checks 3.12 alone; the inhibited one gets
    # its whole stepwise path, as with always
    lazy = _verdicts(base, venvs[:2], wheelhouse, pyenv_root, compare=False)
    moves, stuck = lazy[clean]["lazy"], lazy[blocked]["lazy"]
    assert moves["targets"] == ["3.12"] and moves["verdict"]["status"] == "ready" and not moves["reused"]
    assert [(s["target"], s["can_move"]) for s in moves["verdict"]["steps"]] == [("3.12", True)]
    assert stuck["targets"] == ["3.10", "3.11", "3.12"]
    assert _steady(stuck["verdict"]) == _steady(verdicts[blocked]["new"]["verdict"])
    cache = os.path.join(base, "state", slug(clean), "preflight.json")
    assert oct(os.stat(cache).st_mode & 0o777) == "0o600"

    # a changed lock is checked again (then reused); so is a tampered cache file, never trusted
    subprocess.run([UV, "pip", "install", "--no-config", "--python", os.path.join(clean, "bin", "python"), "--no-index",
                    "--find-links", wheelhouse, "packaging"], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    changed = _verdicts(base, venvs[:1], wheelhouse, pyenv_root, compare=False)[clean]
    assert not changed["new"]["reused"] and changed["again"]["reused"]
    assert "packaging" in [row["name"] for row in changed["new"]["verdict"]["matrix"]]
    with open(cache) as fh:
        kept = json.load(fh)
    kept["result"]["verdict"]["status"] = "done"
    for bad in (kept, {"version": 1}, "[]"):
        with open(cache, "w") as fh:
            fh.write(bad if isinstance(bad, str) else json.dumps(bad))
        tampered = _verdicts(base, venvs[:1], wheelhouse, pyenv_root, compare=False)[clean]
        assert not tampered["new"]["reused"] and tampered["new"]["verdict"]["status"] == "ready"
