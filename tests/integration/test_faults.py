"""Faults around runs, on real venvs with real ansible-playbook runs against localhost: untrusted
ledgers, run ids and the run lock, two module processes on one venv, a killed run and its rerun,
a hanging restart, a release left live by a killed run, bad targets.

Each test asserts a clear message and, with sha256 manifests (``_archive.tree_manifest``), that
nothing changed where nothing may change.
"""

import calendar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from helpers import Playbook, failed_tasks, read_ledger, run_fleet_playbook, run_playbook, settle_snapshots, task_results
from support import UV

from ansible_collections.oxzep7.python.plugins.module_utils._layout import MARKER_SUFFIX, Layout
from ansible_collections.oxzep7.python.plugins.module_utils._archive import tree_manifest
from ansible_collections.oxzep7.python.plugins.module_utils._state import acquire_lock, append_ledger, lock_path, slug
from ansible_collections.oxzep7.python.plugins.module_utils._venv import python_of

PLAYBOOKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "playbooks")
ROLE = os.path.join(PLAYBOOKS, "upgrade_role.yml")
RUN_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{8}$")

# A restart command that hangs (as sleep 3600) while the stable path is a cp312 release, unless the
# file argv[3] exists; it appends its pid (the sleep's, after exec) to argv[2].
HANG = """import os, sys
with open(sys.argv[2], "a") as fh:
    fh.write("%d\\n" % os.getpid())
if os.path.realpath(sys.argv[1]).endswith("-cp312") and not os.path.exists(sys.argv[3]):
    os.execvp("sleep", ["sleep", "3600"])
"""

# On PYTHONPATH of the installer only: the first interpreter started (the rebuild creating its venv)
# makes the file OXZEP7_TEST_SLOW and sleeps, so a test can kill the run in the middle of the rebuild.
SLOW = """import os, time
flag = os.environ.get("OXZEP7_TEST_SLOW")
if flag:
    try:
        os.close(os.open(flag, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except OSError:
        pass
    else:
        time.sleep(float(os.environ["OXZEP7_TEST_SLOW_SECONDS"]))
"""


@pytest.fixture
def venv(tmp_path, old_python, wheelhouse):
    """A small live venv on the old interpreter (idna) at ``<tmp>/srv/app/venv``, a plain directory."""
    path = str(tmp_path / "srv" / "app" / "venv")
    os.makedirs(os.path.dirname(path))
    subprocess.run([old_python, "-m", "venv", path], check=True)
    subprocess.run([UV, "pip", "install", "--no-config", "--python", python_of(path), "--no-index",
                    "--find-links", wheelhouse, "idna==3.4"], check=True, stdout=subprocess.PIPE)
    return path


def _vars(tmp_path, venv, pyenv_root, wheelhouse, **extra):
    """Host vars of the upgrade role (no preflight) for ``venv``."""
    host_vars = dict(upgrade_python_version="3.12", upgrade_pyenv_root=pyenv_root, upgrade_no_index=True,
                     upgrade_find_links=[wheelhouse], upgrade_installer_isolated=True, upgrade_preflight=False,
                     upgrade_state_dir=str(tmp_path / "state"), upgrade_backup_dir=str(tmp_path / "backups"),
                     upgrade_health_retries=1, upgrade_health_delay=1,
                     upgrade_venvs=[dict(path=venv, imports=["idna"])])
    host_vars.update(extra)
    return host_vars


def _play(tmp_path, name, tasks, start=False, hosts=None):
    """Write a playbook of one play with ``tasks`` (dicts) and run it for the host ``app`` or ``hosts``
    (name -> host vars), or start it for ``app`` (a ``Playbook``)."""
    path = str(tmp_path / ("%s.yml" % name))
    with open(path, "w") as fh:
        json.dump([dict(name=name, hosts="python_fleet", gather_facts=False, tasks=tasks)], fh)
    if start:
        return Playbook(path, str(tmp_path), {})
    return run_fleet_playbook(path, str(tmp_path), hosts or {"app": {}}, timeout=600)


def _manifests(*paths):
    return dict((p, tree_manifest(p) if os.path.isdir(p) else os.path.lexists(p)) for p in paths)


def _running(pid):
    """Whether process ``pid`` runs (a zombie does not)."""
    try:
        with open("/proc/%d/stat" % pid) as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _stop(run, tree=()):
    """End what is left of ``run`` (a ``Playbook``): ansible-playbook if it still runs, and ``tree``
    (its processes, taken before it was killed) or else the processes below it now."""
    tree = list(tree) or run.descendants()
    if run.proc.poll() is None:
        run.kill()
    for pid in tree:
        if _running(pid):
            os.kill(pid, signal.SIGKILL)


def _wait_for(what, done, proc, seconds=180):
    deadline = time.time() + seconds
    while not done():
        assert time.time() < deadline and proc.poll() is None, what
        time.sleep(0.1)


def _end(pids_file):
    """Kill the hung restarts this test started (their pids are in ``pids_file``)."""
    for pid in _pids(pids_file):
        if _running(pid) and _processes_of(pid).startswith(b"sleep"):
            os.kill(pid, signal.SIGKILL)


def _pids(pids_file):
    if not os.path.exists(pids_file):
        return []
    with open(pids_file) as fh:
        return [int(line) for line in fh if line.strip()]


def _processes_of(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as fh:
            return fh.read()
    except OSError:
        return b""


LEDGERS = {
    # host: (what replaces the ledger's first line, whether the valid record stays after it, the refusal names)
    "torn-first-line": ('{"run_id": "r1", "step": "snap', True, "venv"),
    "garbage-only": ("\x00garbage\xff", False, "ledger"),
    "array-first-line": ('[{"stable_path": "%(stable)s"}]', True, "venv"),
    "array-only": ("[1, 2, 3]", False, "ledger"),
}


def test_garbled_ledger_lines_never_hide_a_venv_from_pyenv_removal(tmp_path, old_python):
    """One host per kind of garbled ledger, each with its own pyenv root, venv and state directory."""
    hosts, expected = {}, {}
    for host, (first, keep, names) in LEDGERS.items():
        base = tmp_path / host
        prefix = base / "pyenv" / "versions" / "3.13.99"
        os.makedirs(str(prefix / "bin"))
        (prefix / "bin" / "python3.13").write_text("#!/bin/sh\n")
        os.chmod(str(prefix / "bin" / "python3.13"), 0o755)
        stable = str(base / "srv" / "app" / "venv")
        subprocess.run([old_python, "-m", "venv", "--without-pip", stable], check=True)
        with open(os.path.join(stable, "pyvenv.cfg")) as fh:
            cfg = re.sub(r"(?m)^home = .*$", "home = %s" % (prefix / "bin"), fh.read())
        with open(os.path.join(stable, "pyvenv.cfg"), "w") as fh:
            fh.write(cfg)  # this venv runs on CPython 3.13.99 of that root
        state = str(base / "state")
        append_ledger(state, stable, dict(run_id="r1", step="snapshot", result="changed"))
        ledger = os.path.join(state, slug(stable), "ledger.jsonl")
        with open(ledger, "rb") as fh:
            record = fh.read()
        with open(ledger, "wb") as fh:
            fh.write((first % dict(stable=stable)).encode("latin-1") + b"\n" + (record if keep else b""))
        hosts[host] = dict(root=str(base / "pyenv"), state=state)
        expected[host] = ("used by %s" % stable if names == "venv" else "ledger %s names no venv" % ledger,
                          [str(base / "pyenv"), state, stable])
    before = dict((host, _manifests(*paths)) for host, (_m, paths) in expected.items())

    rc, _stats, plays = _play(tmp_path, "remove", [{
        "name": "Remove the interpreter", "oxzep7.python.pyenv_install": dict(
            pyenv_root="{{ root }}", version="3.13.99", state="absent", state_dir="{{ state }}")}], hosts=hosts)
    assert rc != 0
    for host, (named, paths) in expected.items():
        result = task_results(plays, "Remove the interpreter", host)[0]
        assert result.get("failed") and result["msg"].startswith("refusing to remove CPython 3.13.99: "), result
        assert named in result["msg"] and "force=true" in result["msg"], result["msg"]
        assert _manifests(*paths) == before[host], host


def test_runs_started_together_get_distinct_ids_and_one_lock_owner(tmp_path, venv):
    # Two runs started at the same moment: every run id made without one given (the playbooks', the
    # upgrade and rollback roles' fallbacks) is the UTC time and 32 random bits.
    runs = [Playbook(os.path.join(PLAYBOOKS, "run_ids.yml"), str(tmp_path), {}) for _run in range(2)]
    ids = []
    for run in runs:
        rc, _stats, plays = run.finish(timeout=300)
        assert rc == 0, failed_tasks(plays)
        shown = task_results(plays, "Show the run ids")[0]["msg"]
        assert shown["report_dir"].endswith("/" + shown["playbook"]), shown
        ids += [shown["playbook"], shown["upgrade"], shown["rollback"]]
    assert all(RUN_ID.match(i) for i in ids) and len(set(ids)) == len(ids), ids

    # The same run id given to two ansible-playbook processes: the lock belongs to one of them.
    state, go = str(tmp_path / "state"), str(tmp_path / "go")
    lock = dict(path=venv, state_dir=state, run_id="same")
    first = _play(tmp_path, "first", [
        {"name": "Lock", "oxzep7.python.venv_lock": lock},
        {"name": "Hold it", "ansible.builtin.wait_for": dict(path=go, timeout=120)},
        {"name": "Release", "oxzep7.python.venv_lock": dict(lock, state="absent")}], start=True)
    try:
        _wait_for("the first run never took the lock", lambda: os.path.exists(lock_path(state, venv)), first.proc)
        before = _manifests(venv, state)
        rc, _stats, plays = _play(tmp_path, "second", [{"name": "Lock", "oxzep7.python.venv_lock": lock}])
        msg = task_results(plays, "Lock")[0].get("msg", "")
        assert rc != 0 and "%s is locked by run same (controller %s, pid %d, since " % (
            venv, socket.gethostname(), first.proc.pid) in msg, msg
        assert first.proc.poll() is None and _manifests(venv, state) == before  # the first still holds it
    finally:
        open(go, "w").close()
    rc, _stats, plays = first.finish(timeout=120)
    assert rc == 0 and not os.path.exists(lock_path(state, venv)), failed_tasks(plays)


def test_two_module_processes_never_change_one_venv_at_once(tmp_path, venv):
    state, backups = str(tmp_path / "state"), str(tmp_path / "backups")
    started, go = str(tmp_path / "started"), str(tmp_path / "go")
    hold = [sys.executable, "-c", "import os, sys, time\nopen(sys.argv[1], 'w').close()\n"
            "while not os.path.exists(sys.argv[2]):\n    time.sleep(0.1)\n", started, go]
    verify = {"name": "Verify", "oxzep7.python.venv_verify": dict(
        path=venv, state_dir=state, run_id="r1", imports=["idna"], smoke_commands=[hold])}
    snapshot = dict(path=venv, state_dir=state, backup_dir=backups, run_id="r1")
    first = _play(tmp_path, "verify", [verify], start=True)
    waiting = None
    try:
        _wait_for("the verification never started", lambda: os.path.exists(started), first.proc)
        with open(os.path.join(state, slug(venv), "work.lock")) as fh:
            holder = json.load(fh)
        assert _running(holder["pid"]) and b"venv_verify" in _processes_of(holder["pid"]), holder
        before = _manifests(venv, state, backups)

        rc, _stats, plays = _play(tmp_path, "snapshot", [
            {"name": "Snapshot", "oxzep7.python.venv_snapshot": dict(snapshot, lock_timeout=2)}])
        msg = task_results(plays, "Snapshot")[0].get("msg", "")
        assert rc != 0 and "%s is being changed on this host by process %d (verify of run r1, since " % (
            venv, holder["pid"]) in msg and "waited 2 s" in msg, msg
        assert _manifests(venv, state, backups) == before

        # one that waits long enough gets its turn when the first ends
        waiting = _play(tmp_path, "snapshot-waits", [
            {"name": "Snapshot", "oxzep7.python.venv_snapshot": dict(snapshot, lock_timeout=120)}], start=True)
    finally:
        open(go, "w").close()
    for run in (first, waiting):
        rc, _stats, plays = run.finish(timeout=300)
        assert rc == 0, failed_tasks(plays)
    assert [r["step"] for r in read_ledger(state)] == ["verify", "snapshot"]


def test_a_killed_run_stops_its_orphan_and_the_rerun_runs_alone(tmp_path, venv, pyenv_root, wheelhouse):
    slow = tmp_path / "slow"
    slow.mkdir()
    (slow / "sitecustomize.py").write_text(SLOW)
    flag, state = str(tmp_path / "slept"), str(tmp_path / "state")
    layout = Layout(venv)
    before = tree_manifest(venv)
    killed = Playbook(ROLE, str(tmp_path), _vars(
        tmp_path, venv, pyenv_root, wheelhouse, upgrade_run_id="killed", upgrade_installer="pip",
        upgrade_installer_environment=dict(PYTHONPATH=str(slow), OXZEP7_TEST_SLOW=flag,
                                           OXZEP7_TEST_SLOW_SECONDS="12")))
    tree = []
    try:
        _wait_for("the rebuild never started", lambda: os.path.exists(flag), killed.proc)
        assert layout.marker("killed-cp312")["state"] == "building"
        tree = killed.descendants()
        orphans = [pid for pid in tree if b"AnsiballZ_venv_upgrade" in _processes_of(pid)]
        assert orphans, tree
        killed.kill()  # SIGKILL to ansible-playbook: its module on the host works on
        gone = []

        def watch():
            deadline = time.time() + 600
            while any(_running(pid) for pid in orphans) and time.time() < deadline:
                time.sleep(0.1)
            gone.append(time.time())

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        rerun = Playbook(ROLE, str(tmp_path), _vars(tmp_path, venv, pyenv_root, wheelhouse, upgrade_run_id="rerun"))
        rc, _stats, plays = rerun.finish(timeout=600)
        ended = time.time()
        watcher.join(timeout=1)
    finally:
        _stop(killed, tree)
    assert rc == 0, failed_tasks(plays)
    stolen = task_results(plays, "Snapshot, rebuild, verify and switch")[0]["lock"]["stolen"]
    assert stolen["run_id"] == "killed", stolen  # the dead run's lock was taken over
    assert gone and gone[0] < ended, "the orphaned module still ran after the rerun ended"
    settle_snapshots(str(tmp_path / "backups"))
    records = read_ledger(state)
    snap = [r for r in records if r["run_id"] == "rerun" and r["step"] == "snapshot"][0]
    snap_started = calendar.timegm(time.strptime(snap["time"], "%Y-%m-%dT%H:%M:%SZ")) + 1 - snap["seconds"]
    assert gone[0] <= snap_started + 0.5, "the rerun changed the venv while the orphan still worked"
    # the orphan stopped before writing: no ledger line, no release, no marker, no snapshot
    assert [r["step"] for r in records if r["run_id"] == "killed"] == [], records
    assert not [n for n in os.listdir(layout.releases_dir) if n.startswith("killed-")]
    for name in os.listdir(layout.releases_dir):
        if name.endswith(MARKER_SUFFIX):
            release = name[:-len(MARKER_SUFFIX)]
            if layout.marker(release).get("state") in ("built", "verified"):
                assert os.access(python_of(layout.release_path(release)), os.X_OK), release
    assert [(r["run_id"], r["result"]) for r in records if r["step"] == "upgrade"] == [("rerun", "upgraded")]
    assert layout.current_release() == "rerun-cp312"
    assert tree_manifest(layout.release_path(layout.previous_verified())) == before


def test_a_hanging_restart_times_out_and_rolls_back(tmp_path, venv, pyenv_root, wheelhouse):
    hang, pids, state = str(tmp_path / "hang.py"), str(tmp_path / "restarts"), str(tmp_path / "state")
    with open(hang, "w") as fh:
        fh.write(HANG)
    entry = dict(path=venv, imports=["idna"], restart_commands=[[sys.executable, hang, venv, pids,
                                                                 str(tmp_path / "never")]])
    before = tree_manifest(venv)
    try:
        rc, stats, plays = run_playbook(ROLE, str(tmp_path), _vars(
            tmp_path, venv, pyenv_root, wheelhouse, upgrade_venvs=[entry], upgrade_restart_timeout=3), timeout=300)
        assert rc != 0 and stats["rescued"] == 1, stats
        record = [r for r in read_ledger(state) if r["step"] == "upgrade"][-1]
        assert record["result"] == "rolled_back", record
        assert record["reason"].startswith("Restart and check the services of %s: restart command 1 of %s timed out "
                                           "after 3 s: " % (venv, venv)), record
        layout = Layout(venv)
        assert layout.current_release().endswith("-adopted") and tree_manifest(layout.live_path()) == before
        assert [r["id"] for r in layout.releases() if r["id"].endswith("-cp312")] == []
        # the hung restart was killed, the rollback's restart ran
        assert len(_pids(pids)) == 2 and not [p for p in _pids(pids) if _running(p)], _pids(pids)
    finally:
        _end(pids)


def test_a_release_left_live_by_a_killed_run_is_not_already_current(tmp_path, venv, pyenv_root, wheelhouse):
    hang, pids, free = str(tmp_path / "hang.py"), str(tmp_path / "restarts"), str(tmp_path / "free")
    with open(hang, "w") as fh:
        fh.write(HANG)
    entry = dict(path=venv, imports=["idna"], restart_commands=[[sys.executable, hang, venv, pids, free]])
    layout, state = Layout(venv), str(tmp_path / "state")
    killed = Playbook(ROLE, str(tmp_path), _vars(tmp_path, venv, pyenv_root, wheelhouse, upgrade_run_id="killed",
                                                 upgrade_venvs=[entry]))
    tree = []
    try:
        _wait_for("the restart never started", lambda: _pids(pids), killed.proc)
        tree = killed.descendants()
        killed.kill()  # killed during the restart: the new release is live, never found healthy
    finally:
        _stop(killed, tree)
    open(free, "w").close()
    assert layout.current_release() == "killed-cp312" and layout.marker("killed-cp312")["state"] == "verified"
    left = tree_manifest(layout.release_path("killed-cp312"))

    def run(run_id):
        rc, stats, plays = run_playbook(ROLE, str(tmp_path), _vars(
            tmp_path, venv, pyenv_root, wheelhouse, upgrade_run_id=run_id, upgrade_venvs=[entry]), timeout=600)
        assert rc == 0, failed_tasks(plays)
        return stats, task_results(plays, "Snapshot, rebuild, verify and switch")[0]

    _stats, info = run("rerun")
    assert [(r["run_id"], r["result"]) for r in read_ledger(state) if r["step"] == "upgrade"] == [("rerun", "upgraded")]
    assert layout.current_release() == "rerun-cp312"
    assert info["from_version"].startswith("3.12.") and info["outcome"] == "upgraded", info
    assert "release killed-cp312 runs Python 3.12" in info["on_target_reason"], info["on_target_reason"]
    assert "no run recorded it as verified and healthy" in info["on_target_reason"]
    assert tree_manifest(layout.release_path("killed-cp312")) == left  # the release it moved from is untouched

    stats, info = run("again")  # now it is on target: recorded upgraded, verified and healthy
    assert stats["changed"] == 0 and info["outcome"] == "already_current", (stats, info)
    assert "run rerun upgraded to it, verified and healthy" in info["on_target_reason"], info["on_target_reason"]
    assert [(r["run_id"], r["result"]) for r in read_ledger(state) if r["step"] == "upgrade"] == [
        ("rerun", "upgraded"), ("again", "already_current")]


BAD_TARGETS = ["2.7", "3", "abc", "3.12.x"]


def test_a_bad_target_is_refused_before_anything_changes(tmp_path, venv, pyenv_root, wheelhouse):
    """One host per bad target, all on one venv: the modules on their own, then the role with its preflight off."""
    state, backups = str(tmp_path / "state"), str(tmp_path / "backups")
    hosts = dict(("target-%d" % i, _vars(tmp_path, venv, pyenv_root, wheelhouse, upgrade_python_version=target))
                 for i, target in enumerate(BAD_TARGETS))
    # the same task refuses a bake or a soak with nothing to watch, and says every reason at once
    hosts["bake"] = _vars(tmp_path, venv, pyenv_root, wheelhouse, upgrade_python_version="3", upgrade_bake_seconds=5)
    hosts["soak"] = _vars(tmp_path, venv, pyenv_root, wheelhouse, upgrade_venvs=[dict(path=venv, soak_seconds=5)])
    before = _manifests(venv, state, backups, Layout(venv).releases_dir)
    playbook = str(tmp_path / "bad-targets.yml")
    with open(playbook, "w") as fh:
        json.dump([dict(name="Modules", hosts="target-*", gather_facts=False, tasks=[
            {"name": "Read the venv for the target", "ignore_errors": True,
             "oxzep7.python.venv_info": dict(path=venv, state_dir=state, target="{{ upgrade_python_version }}")},
            {"name": "Build for the target", "ignore_errors": True, "oxzep7.python.venv_rebuild": dict(
                path=venv, state_dir=state, run_id="r1", python_version="{{ upgrade_python_version }}",
                pyenv_root=pyenv_root, release_id="r")}]),
            dict(name="Role", hosts="python_fleet", gather_facts=False, roles=["oxzep7.python.upgrade"])], fh)
    rc, _stats, plays = run_fleet_playbook(playbook, str(tmp_path), hosts, timeout=600)
    assert rc != 0 and _manifests(venv, state, backups, Layout(venv).releases_dir) == before
    for i, target in enumerate(BAD_TARGETS):
        host = "target-%d" % i
        for name in ("Read the venv for the target", "Build for the target"):
            msg = task_results(plays, name, host)[0].get("msg", "")
            assert "%r is not a supported target: CPython 3.8 or later, written X.Y or X.Y.Z" % target in msg, msg
        msg = task_results(plays, "Refuse a target that is not CPython 3.8 or later, and a bake or a soak with "
                           "nothing to watch", host)[0]["msg"]
        assert "upgrade_python_version '%s' is not a supported target" % target in msg, msg
    refused = "Refuse a target that is not CPython 3.8 or later, and a bake or a soak with nothing to watch"
    assert task_results(plays, refused, "bake")[0]["msg"] == (
        "upgrade_python_version '3' is not a supported target: CPython 3.8 or later, written X.Y or X.Y.Z "
        "(3.12, 3.12.4); upgrade_bake_seconds is 5 but upgrade_bake_probe has no command, url or metrics; "
        "nothing was changed")
    assert task_results(plays, refused, "soak")[0]["msg"] == (
        "soak_seconds needs a health_url or a health_command: %s; nothing was changed" % venv)


def test_interpreter_versions_that_leave_out_the_target_are_refused(tmp_path):
    """The interpreter role checks interpreter_versions against the run's target before it installs
    anything: a 3.12 run given only 3.13.5 fails there, and the pyenv root is never made."""
    root = str(tmp_path / "pyenv")
    role = {"name": "Interpreter", "ansible.builtin.include_role": {"name": "oxzep7.python.interpreter"}}
    hosts = {"typo": dict(python_upgrade_target="3.12", interpreter_versions=["3.13.5"], interpreter_pyenv_root=root),
             "none": dict(python_upgrade_target="3.12", interpreter_versions=[], interpreter_pyenv_root=root)}
    rc, stats, plays = _play(tmp_path, "interpreter", [role], hosts=hosts)
    assert rc != 0 and stats["typo"]["failures"] == 1 and stats["none"]["failures"] == 0, stats
    msg = task_results(plays, "Refuse interpreter versions that leave out the run's target", "typo")[0]["msg"]
    assert "interpreter_versions 3.13.5 has no version of the target Python 3.12: nothing was installed" in msg, msg
    assert not os.path.exists(root)


def test_the_role_leaves_a_venv_another_run_holds_alone(tmp_path, venv, pyenv_root, wheelhouse):
    """A run that meets another run's lock fails the host naming that run, and writes nothing: no
    release, no snapshot, no ledger line (the ledger belongs to the run that holds the lock)."""
    state = str(tmp_path / "state")
    acquire_lock(state, venv, "other", dict(controller="elsewhere", pid=1))
    before = _manifests(venv, state)
    rc, stats, plays = run_playbook(ROLE, str(tmp_path), _vars(tmp_path, venv, pyenv_root, wheelhouse,
                                                               upgrade_run_id="mine"), timeout=600)
    assert rc != 0 and stats["failures"] == 1, stats
    msg = task_results(plays, "Leave the venv another run holds alone")[0]["msg"]
    assert "%s is locked by run other (controller elsewhere, pid 1" % venv in msg, msg
    released = task_results(plays, "Record the outcome and release the venv's lock")
    assert released and released[0]["recorded"] is None and "oxzep7_report" not in released[0], released
    assert not released[0]["changed"], "the lock of the other run was released"
    assert _manifests(venv, state) == before and read_ledger(state) == []
    assert not os.path.exists(str(tmp_path / "backups")) and not os.path.exists(Layout(venv).releases_dir)
