# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-venv state on the host: the folder name of a stable path, its ledger and its locks.

``<state_dir>/<slug>/ledger.jsonl`` holds one JSON object per line and step of
every run: ``time`` (UTC ISO 8601), ``run_id``, ``step``, ``from``, ``to``,
``result`` and ``seconds``, plus free-form ``details``.

Two locks keep one run per venv:

- ``<slug>/lock``, the run's lock (:func:`acquire_lock`): a JSON object naming the run id and
  its owner (controller host and ``ansible-playbook`` pid, and the AWX job that ran it, if one did),
  held from the snapshot to the record;
- ``<slug>/work.lock``, the host-side lock (:class:`WorkLock`): an ``fcntl.flock`` held by each
  module process that changes the venv for as long as it works, so a module left running by a
  killed controller and the modules of the next run never work at once.

It also holds the glue of the module ``venv_info``, whose decision (``on_target``) is made here.
"""

from __future__ import absolute_import, division, print_function

import errno
import fcntl
import grp
import hashlib
import json
import os
import pwd
import re
import time

from ansible_collections.oxzep7.python.plugins.module_utils._common import Oxzep7Error, flock_within, module_runner, redact
from ansible_collections.oxzep7.python.plugins.module_utils._layout import STATE_VERIFIED, Layout, ownership
from ansible_collections.oxzep7.python.plugins.module_utils._venv import (
    check_target, describe_live, has_pip, inspect_python, python_of, read_pyvenv_cfg, tree_size, venv_distributions)

__metaclass__ = type

DEFAULT_STATE_DIR = "/var/lib/oxzep7-python"
DEFAULT_BACKUP_DIR = "/var/backups/oxzep7-python"
WORK_LOCK_WAIT = 300  # seconds a module waits for another module process changing the venv


def slug(stable_path):
    """Return the folder name for a stable path: a readable part plus 8 hex digits of its sha256.

    ``/srv/app/venv`` gives ``srv-app-venv-<hash>``.
    """
    readable = re.sub(r"[^A-Za-z0-9]+", "-", stable_path).strip("-")[-48:] or "root"
    digest = hashlib.sha256(stable_path.encode("utf-8")).hexdigest()[:8]
    return "%s-%s" % (readable, digest)


def venv_dir(base, stable_path, mode=0o700):
    """Return (and create, with ``mode``) ``base/<slug>`` for ``stable_path``."""
    path = os.path.join(base, slug(stable_path))
    if not os.path.isdir(path):
        os.makedirs(path, mode)
        os.chmod(path, mode)
    return path


def append_ledger(state_dir, stable_path, record):
    """Append one record (dict) to the ledger of ``stable_path``; returns the record written.

    The line is written with one ``write()`` on a file opened for appending, so
    concurrent writers never interleave inside a line (POSIX ``O_APPEND``). After a
    line torn by a crash, the record starts on a new line.
    """
    record = redact(dict(record))
    record.setdefault("time", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    record["stable_path"] = stable_path
    path = os.path.join(venv_dir(state_dir, stable_path, 0o755), "ledger.jsonl")
    line = json.dumps(record, sort_keys=True) + "\n"
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = "\n" + line  # a line torn by a crash must not swallow this record
        os.write(fd, line.encode("utf-8"))
    finally:
        os.close(fd)
    return record


def ledger_path(state_dir, stable_path):
    """The ledger file of ``stable_path``: ``<state_dir>/<slug>/ledger.jsonl``."""
    return os.path.join(state_dir, slug(stable_path), "ledger.jsonl")


def read_ledger_file(path):
    """Read one ledger file.

    Every line holding a JSON object is a record, whatever the lines around it hold: a line cut
    short by a crash, garbage or a JSON value that is not an object is skipped and counted.

    :param path: the ledger file (str).
    :returns: ``(records, bad)``: the records (list of dicts, oldest first) and the numbers
        (list of int, from 1) of the lines that are not a JSON object.
    :raises OSError: when the file cannot be read (missing included).
    """
    records, bad = [], []
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw.decode("utf-8"))
            except ValueError:  # UnicodeDecodeError is one too
                record = None
            if isinstance(record, dict):
                records.append(record)
            else:
                bad.append(number)
    return records, bad


def read_ledger(state_dir, stable_path):
    """Return every ledger record of ``stable_path`` (list of dicts, oldest first).

    Lines that are not a JSON object (a write cut short by a crash, say) are skipped, see
    :func:`read_ledger_file`; a missing or unreadable ledger gives ``[]``.
    """
    try:
        return read_ledger_file(ledger_path(state_dir, stable_path))[0]
    except (IOError, OSError):
        return []


def ledger_venvs(state_dir):
    """Find the stable paths recorded in every ledger under ``state_dir``.

    A ledger names its venv in the ``stable_path`` of its records; only absolute paths whose
    slug is the ledger's folder count (the folder is made from the path, see :func:`slug`).

    :returns: ``(paths, problems)``: the stable paths (sorted list of str) and, for each
        ledger that names no venv or cannot be read, a dict with ``ledger`` (its path) and
        ``reason``: such a ledger could hide a venv.
    """
    paths, problems = set(), []
    try:
        folders = sorted(os.listdir(state_dir))
    except OSError:
        return [], []
    for folder in folders:
        path = os.path.join(state_dir, folder, "ledger.jsonl")
        if not os.path.lexists(path):
            continue
        try:
            records, bad = read_ledger_file(path)
        except (IOError, OSError) as exc:
            problems.append(dict(ledger=path, reason="cannot be read: %s" % exc))
            continue
        named = set(r["stable_path"] for r in records if isinstance(r.get("stable_path"), str)
                    and os.path.isabs(r["stable_path"]) and slug(r["stable_path"]) == folder)
        if not named:
            problems.append(dict(ledger=path, reason="names no venv of its folder (%d records, %d garbled lines)"
                                 % (len(records), len(bad))))
        paths.update(named)
    return sorted(paths), problems


def matches_target(version, target):
    """Tell whether an interpreter ``version`` (``X.Y.Z``) is ``target`` (``X.Y``: any ``X.Y.*``;
    ``X.Y.Z``: exactly)."""
    return (version + ".").startswith(target + ".")


def on_target(layout, version, target, records):
    """Decide whether the live venv of ``layout`` needs no upgrade to ``target``.

    On target means the live interpreter's version is the target (:func:`matches_target`) and
    the live venv is known good: either the current release is one a run upgraded to (a ledger
    record ``step=upgrade, result=upgraded`` for it, written only after it was verified,
    switched to and found healthy) and its marker says verified, or the venv ran the target
    before any run of this collection (a plain venv directory, or the adopted release that was
    that directory). A release left live by a killed run is not on target.

    :param layout: ``_layout.Layout`` of the venv.
    :param version: the live interpreter's version (str, ``X.Y.Z``).
    :param target: ``X.Y`` or ``X.Y.Z``.
    :param records: the venv's ledger records (:func:`read_ledger`).
    :returns: ``(on_target, reason)``: bool and a sentence saying why.
    """
    if not matches_target(version, target):
        return False, "it runs Python %s, not %s" % (version, target)
    current = layout.current_release()
    if current is None:
        return True, "a plain venv that already runs Python %s" % version
    marker = layout.marker(current)
    if marker.get("state") == STATE_VERIFIED and marker.get("origin") == "adopted":
        return True, "release %s, the original venv, already ran Python %s" % (current, version)
    upgraded = [r for r in records if r.get("step") == "upgrade" and r.get("result") == "upgraded"
                and r.get("release_id") == current]
    if upgraded and marker.get("state") == STATE_VERIFIED:
        return True, "release %s runs Python %s; run %s upgraded to it, verified and healthy" % (
            current, version, upgraded[-1].get("run_id"))
    return False, ("release %s runs Python %s, but no run recorded it as verified and healthy (an "
                   "interrupted run?): it is upgraded again" % (current, version))


class LockHeld(Exception):
    """The venv's lock belongs to another run; ``held`` is what its lock file says (dict)."""

    def __init__(self, held):
        super(LockHeld, self).__init__("locked by run %s" % held.get("run_id"))
        self.held = held


def lock_path(state_dir, stable_path):
    """The per-venv lock file: ``<state_dir>/<slug>/lock``."""
    return os.path.join(state_dir, slug(stable_path), "lock")


def read_lock(path):
    """Return what the lock file ``path`` says (dict), or None when there is none.

    :raises Oxzep7Error: naming the file when it cannot be read or is not a JSON object.
    """
    try:
        with open(path) as fh:
            held = json.load(fh)
    except (IOError, OSError) as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise Oxzep7Error("cannot read the lock file %s: %s" % (path, exc))
    except ValueError as exc:
        raise Oxzep7Error("the lock file %s is not JSON (%s); remove it if no run is changing the venv"
                          % (path, exc))
    if not isinstance(held, dict):
        raise Oxzep7Error("the lock file %s holds a JSON %s, not an object; remove it if no run is "
                          "changing the venv" % (path, type(held).__name__))
    return held


def describe_lock(held):
    """Say who holds a lock (dict read from a lock file): ``run R (controller C, pid P, since T)``, with
    ``, AWX job J of job template T`` after the pid when an AWX job took it."""
    owner = held.get("owner") if isinstance(held.get("owner"), dict) else {}
    awx = owner.get("awx") if isinstance(owner.get("awx"), dict) else None
    since = held.get("acquired")
    return "run %s (controller %s, pid %s%s, since %s)" % (
        held.get("run_id"), owner.get("controller"), owner.get("pid"),
        ", AWX job %s of job template %s" % (awx.get("job"), awx.get("template")) if awx else "",
        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(since)) if isinstance(since, (int, float)) else "unknown")


def holds(held, run_id, owner):
    """Tell whether the lock ``held`` (dict) belongs to ``run_id`` started by ``owner``: the same
    run id, controller and ``ansible-playbook`` pid (a run id alone can be given to two runs)."""
    mine = held.get("owner") if isinstance(held.get("owner"), dict) else {}
    return held.get("run_id") == run_id and all(mine.get(k) == (owner or {}).get(k) for k in ("controller", "pid"))


def acquire_lock(state_dir, stable_path, run_id, owner, steal=None, check_mode=False):
    """Take the venv's lock for ``run_id`` and ``owner``, or fail fast when another run holds it.

    The lock file is written complete under a temporary name and linked into place
    (``link()`` fails when the name exists), so of two runs exactly one gets it and nobody
    reads half a file. The same run and owner taking it again is a no-op (a resumed run).
    ``steal`` is what the lock file of a holder known to be dead said (its controller process
    is gone): the file is renamed away (only one taker can), and put back if it turns out to
    say something else by then.

    :param owner: dict saying who holds it (controller host, pid, user), stored in the file.
    :param steal: dict, the dead holder's lock, or None.
    :returns: dict with ``changed``, ``lock_path``, ``held`` (the lock now) and ``stolen``
        (the dead holder's lock, or None).
    :raises LockHeld: when another run (or the same run id of another owner) holds it.
    :raises Oxzep7Error: when the lock file is not a JSON object.
    """
    path = lock_path(state_dir, stable_path)
    mine = dict(run_id=run_id, owner=owner or {}, acquired=time.time())
    held = read_lock(path)
    if held is not None and holds(held, run_id, owner):
        return dict(changed=False, lock_path=path, held=held, stolen=None)
    if held is not None and held != steal:
        raise LockHeld(held)
    if check_mode:
        return dict(changed=True, lock_path=path, held=mine, stolen=held)
    venv_dir(state_dir, stable_path)
    if held is not None:
        stale = "%s.stale-%d" % (path, os.getpid())
        try:
            os.rename(path, stale)
        except OSError:
            raise LockHeld(read_lock(path) or held)  # another run took it over first
        moved = read_lock(stale)
        if moved != held:  # replaced since it was read: put the new holder's lock back
            try:
                os.link(stale, path)
            finally:
                os.unlink(stale)
            raise LockHeld(moved)
        os.unlink(stale)
    tmp = "%s.new-%d" % (path, os.getpid())
    with open(tmp, "w") as fh:
        json.dump(mine, fh)
    try:
        os.link(tmp, path)
    except OSError:
        raise LockHeld(read_lock(path) or {})
    finally:
        os.unlink(tmp)
    return dict(changed=True, lock_path=path, held=mine, stolen=held)


def release_lock(state_dir, stable_path, run_id, owner, check_mode=False):
    """Remove the venv's lock if ``run_id`` of ``owner`` holds it (see :func:`holds`).

    :returns: dict with ``changed``, ``lock_path`` and ``held`` (what the file said, or None).
    :raises Oxzep7Error: when the lock file is not a JSON object.
    """
    path = lock_path(state_dir, stable_path)
    held = read_lock(path)
    mine = held is not None and holds(held, run_id, owner)
    if mine and not check_mode:
        os.unlink(path)
    return dict(changed=mine, lock_path=path, held=held)


class TakenOver(Oxzep7Error):
    """The run lock changed while a module worked: another run took the venv over."""


class WorkLock:
    """The host-side lock of one module process changing a venv, and its guard.

    ``fcntl.flock`` on ``<state_dir>/<slug>/work.lock``, taken when the module starts and held
    until it ends (the kernel drops it when the process dies, SIGKILL included). A second
    module waits for it up to ``wait`` seconds, then fails naming the process that holds it
    (written into the file by the holder).

    On entry it also reads the run lock (:func:`lock_path`): a lock of another run refuses the
    step. :meth:`check`, called before each write (a release marker, a switch, a ledger line),
    raises :class:`TakenOver` when the run lock no longer says what it said on entry: the run
    that started this module was taken over (its controller died and a new run stole the lock),
    so this process must stop and remove what it made.

    :param state_dir: the state directory (str).
    :param stable_path: the venv's stable path (str).
    :param run_id: the run this module works for (str); None holds and checks nothing (a module
        run without a run id, or in check mode).
    :param step: a word naming the module's work, written for whoever waits (str).
    :param wait: seconds to wait for another module process (int).
    """

    def __init__(self, state_dir, stable_path, run_id, step, wait=WORK_LOCK_WAIT):
        self.stable_path = stable_path
        self.state_dir = state_dir
        self.path = os.path.join(state_dir, slug(stable_path), "work.lock")
        self.lock_file = lock_path(state_dir, stable_path)
        self.run_id, self.step, self.wait = run_id, step, wait
        self.fd = None
        self.held = None

    def __enter__(self):
        if self.run_id is None:
            return self
        venv_dir(self.state_dir, self.stable_path)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            self._take(fd)
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(dict(pid=os.getpid(), run_id=self.run_id, step=self.step,
                                     since=time.time())).encode("utf-8"))
        try:
            self.held = read_lock(self.lock_file)
            if self.held is not None and self.held.get("run_id") != self.run_id:
                raise Oxzep7Error("%s is locked by %s in %s, not by run %s: the %s changed nothing"
                                  % (self.stable_path, describe_lock(self.held), self.lock_file, self.run_id,
                                     self.step))
        except Oxzep7Error:
            self.__exit__()
            raise
        return self

    def _take(self, fd):
        if not flock_within(fd, fcntl.LOCK_EX, self.wait, 0.5):
            raise Oxzep7Error(self._busy())

    def _busy(self):
        try:
            with open(self.path) as fh:
                holder = json.load(fh)
        except (IOError, OSError, ValueError):
            holder = None
        if not isinstance(holder, dict):
            holder = {}
        return ("%s is being changed on this host by process %s (%s of run %s, since %s): waited %d s for it. "
                "Wait until it ends, or end it if its run is gone (%s)" % (
                    self.stable_path, holder.get("pid", "unknown"), holder.get("step"), holder.get("run_id"),
                    time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(holder.get("since") or 0)), self.wait,
                    self.path))

    def check(self):
        """Raise :class:`TakenOver` unless the run lock still says what it said on entry."""
        if self.run_id is None:
            return
        now = read_lock(self.lock_file)
        if now != self.held:
            raise TakenOver("run %s no longer holds %s (now: %s): process %d stopped its %s before writing "
                            "and removed what it made" % (self.run_id, self.lock_file,
                                                          describe_lock(now) if now else "no lock",
                                                          os.getpid(), self.step))

    def __exit__(self, *exc_info):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def run_venv_info(module):
    """The module ``venv_info``: facts about the venv at ``path``, and whether it is on ``target``."""
    p = module.params
    target = check_target(p["target"]) if p["target"] else None
    layout = Layout(p["path"])
    runner = module_runner(module)
    kind = layout.kind()
    result = dict(changed=False, stable_path=layout.stable, exists=kind != "absent", layout=kind,
                  current_release=layout.current_release(), releases=layout.releases(),
                  releases_dir=layout.releases_dir, release_path=layout.live_path())
    if target:
        result.update(on_target=False, on_target_reason="there is no venv at %s" % layout.stable)
    if kind == "absent":
        return result
    live = layout.live_path()
    facts = inspect_python(runner, python_of(live))
    if target:
        result["on_target"], result["on_target_reason"] = on_target(
            layout, facts["python"]["version"], target, read_ledger(p["state_dir"], layout.stable))
    dists = venv_distributions(facts)
    uid, gid, mode = ownership(live)
    cfg = read_pyvenv_cfg(live)
    described = describe_live(runner, layout, facts) if module.params["include_lock"] else None
    result.update(
        interpreter=dict(facts["python"], path=python_of(live), home=cfg.get("home")),
        pyvenv_cfg=cfg, has_pip=has_pip(runner, python_of(live)),
        distributions=[dict(name=d["name"], version=d["version"], requires_python=d["requires_python"],
                            installer=d["installer"], direct_url=d["direct_url"],
                            editable=bool((d["direct_url"] or {}).get("dir_info", {}).get("editable")))
                       for d in dists],
        size_bytes=tree_size(live), owner=_user_name(uid), group=_group_name(gid), uid=uid, gid=gid,
        mode="%04o" % mode,
        lock=described["lock_text"] if described else None,
        lock_sha256=described["lock_sha256"] if described else None)
    result["direct_url_installs"] = [d["name"] for d in result["distributions"] if d["direct_url"]]
    return redact(result)


def _user_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group_name(gid):
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)
