# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Snapshots of a live venv and restores of them into new releases.

A snapshot is a directory ``<backup_dir>/<slug>/<snapshot_id>/`` (mode 0700)::

    lock.txt          exact pins (see _lock)
    venv.json         the inspection facts: interpreter and distributions
    pyvenv.cfg        a copy of the venv's
    release.tar.zst   the release directory (.tar.zst, .tar.gz, .tar.xz, .tar.bz2 or .tar)
    snapshot.json     metadata: ids, stable path, owner, sizes, created
    SHA256SUMS        sha256 of every file above, in ``sha256sum -c`` format

It is written to ``<snapshot_id>.partial`` and renamed when complete, so a directory without
that suffix is always whole; a take that fails removes its partial copy. :func:`begin` writes
the small files at once and the archive in a writer process, so a caller can rebuild while the
archive is written, and can leave the rest to the writer (:meth:`PendingSnapshot.detach`);
:func:`take` is ``begin(...).wait()``.

Everything read back is untrusted: the file list is checked exactly against SHA256SUMS,
snapshot.json must have the shape :func:`begin` writes, and every archive member's name,
type, link target and mode is checked before anything is extracted (``_archive.unsafe_members``).
"""

from __future__ import absolute_import, division, print_function

import contextlib
import fcntl
import json
import os
import re
import select
import shutil
import signal
import stat
import time

from ansible_collections.oxzep7.python.plugins.module_utils._archive import (
    ARCHIVE_ERRORS, COMPRESSION, TIMEOUT_ARCHIVE, Packer, check_sums, extract, load_archive,
    member_problem, pick_compression, write_sums)
from ansible_collections.oxzep7.python.plugins.module_utils._common import (
    KILL_AFTER, Oxzep7Error, _real_dir, dir_locked, flock_within, module_runner, module_which, remove_tree,
    write_json_atomic)
from ansible_collections.oxzep7.python.plugins.module_utils._layout import (
    RELEASE_ID, STATE_BUILT, apply_owner, check_release_id, ownership)
from ansible_collections.oxzep7.python.plugins.module_utils._modules import _changes, _diff, _outcome, _record, _stage
from ansible_collections.oxzep7.python.plugins.module_utils._state import slug
from ansible_collections.oxzep7.python.plugins.module_utils._venv import describe_live, read_pyvenv_cfg

__metaclass__ = type

META = "snapshot.json"
ROOT_LOCK_TIMEOUT = 60  # seconds begin() and prune() wait for each other (each holds the lock briefly)
ARCHIVE_NAMES = tuple("release" + suffix for _mode, suffix in COMPRESSION.values())


def _meta_problem(meta):
    """Return what is wrong with a parsed snapshot.json (str), or None when it has the shape take writes."""
    if not isinstance(meta, dict):
        return "it holds a JSON %s, not an object" % type(meta).__name__
    owner = meta.get("owner")
    checks = (
        ("snapshot_id", isinstance(meta.get("snapshot_id"), str) and RELEASE_ID.match(meta["snapshot_id"])),
        ("archive", meta.get("archive") in ARCHIVE_NAMES),
        ("stable_path", isinstance(meta.get("stable_path"), str)),
        ("created", isinstance(meta.get("created"), (int, float))),
        ("archive_bytes", isinstance(meta.get("archive_bytes"), int)),
        ("owner", isinstance(owner, dict) and isinstance(owner.get("uid"), int)
         and isinstance(owner.get("gid"), int) and re.match(r"^[0-7]{3,4}$", str(owner.get("mode")))),
    )
    bad = [key for key, ok in checks if not ok]
    return "%s missing or not valid" % ", ".join(bad) if bad else None


def read_meta(path):
    """Return the ``snapshot.json`` of the snapshot directory ``path`` (dict), checked.

    It must be a JSON object with ``snapshot_id`` (a valid id), ``archive`` (``release.tar``,
    ``.tar.gz``, ``.tar.xz`` or ``.tar.bz2``), ``stable_path`` (str), ``created`` (epoch
    seconds), ``archive_bytes`` (int) and ``owner`` (``uid`` and ``gid`` ints, ``mode`` in octal).

    :raises Oxzep7Error: naming the file when it is missing, not JSON, or not of that shape.
    """
    name = os.path.join(path, META)
    try:
        with open(name, "rb") as fh:
            meta = json.loads(fh.read().decode("utf-8"))
    except (IOError, OSError) as exc:
        raise Oxzep7Error("cannot read %s: %s" % (name, exc))
    except ValueError as exc:
        raise Oxzep7Error("%s is not JSON: %s" % (name, exc))
    problem = _meta_problem(meta)
    if problem:
        raise Oxzep7Error("%s is not a snapshot description: %s" % (name, problem))
    return meta


def snapshot_root(backup_dir, stable_path):
    """Return ``<backup_dir>/<slug>``, where the snapshots of ``stable_path`` live."""
    return os.path.join(backup_dir, slug(stable_path))


def list_snapshots(backup_dir, stable_path):
    """Return the complete snapshots of a stable path, oldest first.

    A snapshot is a real directory whose snapshot.json passes :func:`read_meta` and names it;
    anything else there is not listed, so retention never removes it.

    :returns: list of snapshot.json dicts, each with ``path`` added.
    """
    root = snapshot_root(backup_dir, stable_path)
    try:
        names = os.listdir(root)
    except OSError:
        return []
    out = []
    for name in names:
        path = os.path.join(root, name)
        if name.endswith(".partial") or os.path.islink(path) or not os.path.isdir(path):
            continue
        try:
            meta = read_meta(path)
        except Oxzep7Error:
            continue
        if meta["snapshot_id"] == name:
            out.append(dict(meta, path=path))
    return sorted(out, key=lambda m: (m["created"], m["snapshot_id"]))


class PendingSnapshot:
    """A snapshot being written, as :func:`begin` returns it.

    The archive, snapshot.json and SHA256SUMS are written into ``<id>.partial`` by a writer process of
    its own (forked, in a session of its own, so that it can outlive the module). It reads the live
    venv through a descriptor of its directory, so the archive holds the venv that was live at
    :func:`begin` even when a switch renames that directory meanwhile; it holds a shared ``flock`` on
    that directory, so ``Layout.prune`` keeps the release it reads. It then waits for this object's
    decision: :meth:`wait` has it rename ``<id>.partial`` to ``<id>`` and apply the retention now;
    :meth:`detach` leaves it to do so on its own after the module ended and to record the outcome
    (``ledger``); :meth:`abort`, or the module ending without a decision, discards the copy. Nothing
    but a decision makes a snapshot whole, so a pass that fails before it leaves none. While it works
    the writer holds an exclusive ``flock`` on the ``.partial`` directory: :func:`prune` leaves a held
    ``.partial`` alone, and :func:`begin` and :func:`restore` wait for one of the same id.

    ``result`` (dict): what :meth:`wait` returns, filled in by it (see :func:`take`); ``state`` is
    ``complete``, or ``writing`` after :meth:`detach` left the archive to the writer.
    ``lock_path`` (str): the lock of the live venv, readable from :func:`begin` on: inside the
    ``.partial`` directory while the archive is written, in the snapshot once it is complete.
    ``lock_entries`` (list of dicts, ``_lock`` entries): the same lock, parsed.
    ``waited`` (float): seconds :meth:`wait` blocked, the snapshot's cost on the caller's path.
    """

    def __init__(self, result, started, lock_entries):
        self.result = result
        self.result.update(state="complete", retention_error=None)
        self.lock_path = result["lock_path"]
        self.lock_entries = lock_entries
        self.waited = 0.0
        self._started = started
        self._writer = self._failed = None
        self._detachable = False

    def _start(self, packer, backup_dir, partial, made, meta, keep, hold, ledger, detachable, aliases):
        """Fork the writer; the descriptors ``hold`` (the live venv's directory, the lock on ``partial``) are
        closed here in any case. ``aliases``: ``(path written in errors, path meant)`` pairs."""
        self._partial, self._made, self._root = partial, made, os.path.dirname(partial)
        self._detachable = detachable
        self.lock_path = os.path.join(partial, "lock.txt")
        final, stable = self.result["path"], meta["stable_path"]

        def pack():
            """In the writer: the archive, snapshot.json and SHA256SUMS, all in the ``.partial`` directory."""
            packer.run()
            meta["archive_bytes"] = os.path.getsize(os.path.join(partial, meta["archive"]))
            write_json_atomic(os.path.join(partial, META), meta, mode=0o600)
            write_sums(partial)
            return dict(archive_bytes=meta["archive_bytes"])

        def finish():
            """In the writer, once told to: the snapshot made whole by its rename, then the retention, whose
            failure leaves the snapshot whole (``retention_error``)."""
            os.rename(partial, final)
            out = dict(archive_bytes=meta["archive_bytes"], removed=[], retention_error=None)
            try:
                out["removed"] = prune(backup_dir, stable, keep, protect=meta["snapshot_id"])
            except (Oxzep7Error, OSError) as exc:
                out["retention_error"] = "the retention of %s failed: %s" % (
                    self._root, exc.msg if isinstance(exc, Oxzep7Error) else exc)
            return out

        def discard():
            """In the writer: no ``.partial`` left, nor a backup directory made for it and empty now."""
            remove_tree(partial, self._root)
            _remove_empty(made)

        self._writer = _Writer(dict(pack=pack, finish=finish, discard=discard, stop=packer.stop,
                                    ledger=lambda status: ledger(dict(status, snapshot_id=meta["snapshot_id"]))),
                               hold=hold, timeout=TIMEOUT_ARCHIVE, what="snapshot %s" % final, aliases=aliases)

    def _settle(self, status):
        """Take the writer's final ``status`` (dict) into ``result``, or raise the failure it reports."""
        if status is None:  # the writer died after the decision: the rename either happened or not
            if os.path.isdir(self.result["path"]) and not check_sums(self.result["path"]):
                status = dict(ok=True, archive_bytes=read_meta(self.result["path"])["archive_bytes"], removed=[],
                              retention_error="the writer ended before the retention")
            else:
                self._kill("its writer ended without finishing it (was it killed?)")
        self._writer = None
        if not status.get("ok"):
            self._failed = Oxzep7Error(status.get("msg"), **status.get("details", {}))
            raise self._failed
        self.lock_path = self.result["lock_path"]
        self.result.update(archive_bytes=status["archive_bytes"], removed=status["removed"],
                           retention_error=status.get("retention_error"),
                           seconds=round(time.time() - self._started, 3))
        return self.result

    def _packed(self, timeout):
        """The writer's report on the archive within ``timeout`` seconds (dict), or None; a writer that died
        without one has its partial copy removed here, and the failure is raised."""
        status = self._writer.packed(timeout)
        if status is not None and status.get("dead"):
            self._kill("its writer ended without reporting (was it killed?)")
        return status

    def _kill(self, why):
        """Stop the writer, remove what it left and raise ``cannot write snapshot <path> (the partial copy
        was removed): <why>``."""
        self._writer.kill()
        self._writer = None
        remove_tree(self._partial, self._root)
        _remove_empty(self._made)
        self._failed = Oxzep7Error("cannot write snapshot %s (the partial copy was removed): %s"
                                   % (self.result["path"], why))
        raise self._failed

    def wait(self, timeout=TIMEOUT_ARCHIVE):
        """Finish the snapshot: wait until the writer has written the archive, snapshot.json and
        SHA256SUMS, then have it rename ``<id>.partial`` to ``<id>`` and apply the retention.

        :param timeout: seconds (int or float) to wait for the archive; the writer is killed after them.
        :returns: the ``result`` dict (see :func:`take`); a second call returns it again.
        :raises Oxzep7Error: ``cannot write snapshot <path> (the partial copy was removed): <why>``
            when the archive failed (a full disk, zstd failing, a file that cannot be read, a writer
            killed from outside) or took longer than ``timeout``; ``cannot snapshot <venv>: <file>:
            <why>, which a restore refuses`` for a member a restore would refuse. No ``.partial``
            directory is left, nor the backup directories :func:`begin` made. A call after a failure
            raises it again.
        """
        if self._failed is not None:
            raise self._failed
        if self._writer is None:
            self.result.setdefault("seconds", round(time.time() - self._started, 3))
            return self.result
        blocked = time.time()
        try:
            status = self._packed(timeout)
            if status is None:
                self._kill("the archive took longer than %s s" % timeout)
            return self._settle(self._writer.finish() if status.get("ok") else status)
        finally:
            self.waited = time.time() - blocked

    def detach(self):
        """Return ``result`` now: ``state`` ``complete`` when the archive was already written (the
        snapshot is made whole first, as by :meth:`wait`), else ``writing``: the writer finishes on
        its own, outliving this process, and records the outcome through ``ledger`` (see :func:`begin`).

        Without ``/proc`` (the writer then reads the venv by path) this is :meth:`wait`.

        :raises Oxzep7Error: the writer's failure when it had already failed.
        """
        if self._failed is not None:
            raise self._failed
        if self._writer is None or not self._detachable:
            return self.wait()
        status = self._packed(0)
        if status is None and self._writer.detach():
            self._writer = None
            self.result.update(state="writing", seconds=round(time.time() - self._started, 3))
            return self.result
        status = status or self._packed(KILL_AFTER)
        if status is None:
            self._kill("its writer stopped answering")
        return self._settle(self._writer.finish() if status.get("ok") else status)

    def abort(self):
        """Stop writing the archive and remove the ``.partial`` directory (and the backup
        directories :func:`begin` made). Does nothing once :meth:`wait` or :meth:`detach`
        returned or raised, or when nothing was being written (an intact snapshot already there,
        check mode).

        :raises Oxzep7Error: from ``remove_tree`` when the partial directory is no longer one this
            collection made (a symlink put in its place).
        """
        if self._writer is None:
            return
        try:
            self._kill("the pass was aborted")
        except Oxzep7Error:
            if self._failed is None:
                raise


def _remove_empty(made):
    """Remove the directories ``made`` (list of paths, parents first) that are empty, deepest first."""
    for path in reversed(made):
        try:
            os.rmdir(path)
        except OSError:
            pass  # gone already, or another snapshot's files are in it


def _dir_lock(path, how=fcntl.LOCK_EX, follow=False):
    """Open the directory ``path`` (a symlink only with ``follow``) and take an ``flock`` (``how``) on it;
    return the descriptor."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | (0 if follow else os.O_NOFOLLOW))
    try:
        fcntl.flock(fd, how)
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextlib.contextmanager
def _root_locked(root, timeout=None):
    """Hold an exclusive ``flock`` on the snapshot directory ``root`` of a stable path: :func:`begin`
    makes and locks a ``.partial`` under it, :func:`prune` removes under it, never both at once.

    :param timeout: seconds (int) to wait for the lock, polling every 0.05 s; default :data:`ROOT_LOCK_TIMEOUT`.
    :raises Oxzep7Error: naming ``root`` when it stays locked that long.
    """
    timeout = ROOT_LOCK_TIMEOUT if timeout is None else timeout
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        if not flock_within(fd, fcntl.LOCK_EX, timeout, 0.05):
            raise Oxzep7Error("cannot lock %s: another snapshot holds it after %s s" % (root, timeout))
        yield
    finally:
        os.close(fd)


def being_written(path):
    """Tell whether a snapshot writer holds the lock on the ``.partial`` directory ``path`` (bool)."""
    return dir_locked(path)


def wait_written(path, timeout):
    """Wait until no writer holds ``path`` (see :func:`being_written`), trying every 0.1 s: until the writer
    has ended, its retention and ledger record included, even when it renamed the directory meanwhile.

    :param timeout: seconds (int or float).
    :returns: True when free (or nothing is there), False when still held after ``timeout``.
    :raises OSError: from ``flock`` for anything but a held lock.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return True  # no .partial: no writer at it
    try:
        return flock_within(fd, fcntl.LOCK_EX, timeout, 0.1)
    finally:
        os.close(fd)


def wait_for_writers(backup_dir, stable_path, timeout=TIMEOUT_ARCHIVE):
    """Wait until no writer holds a ``.partial`` snapshot of ``stable_path`` (:func:`wait_written`).

    :param timeout: seconds (int or float) for all of them together.
    :raises Oxzep7Error: naming the snapshot still being written after ``timeout``.
    """
    root = snapshot_root(backup_dir, stable_path)
    deadline = time.time() + timeout
    for name in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        path = os.path.join(root, name)
        if name.endswith(".partial") and not wait_written(path, max(deadline - time.time(), 0)):
            raise Oxzep7Error("snapshot %s is still being written after %s s" % (path[:-len(".partial")], timeout))


DECISION_TIMEOUT = 86400  # seconds a writer whose archive is written waits for wait(), detach() or abort()
WRITER_NICE = 10  # added to the writer's niceness (and so zstd's): it yields the CPU to the pass and the app


class _Stopped(Exception):
    """Raised in the writer by its alarm or a SIGTERM while it packs (:func:`_serve`)."""


class _Writer:
    """A forked writer process: it runs ``pack()``, reports, waits for a decision, and acts on it.

    The process forks twice and starts a session of its own, with stdin, stdout and stderr on
    ``/dev/null`` and no descriptor but ``hold`` (kept open until it exits: the source directory and
    the lock) and its two pipes, so Ansible's connection never waits for it. It ends with
    ``os._exit``: none of the module's own clean-up (``atexit``) runs in it. It runs at a niceness
    :data:`WRITER_NICE` higher, so the pass's own work and the app get the CPU first. ``SIGALRM``
    after ``timeout`` seconds, or a ``SIGTERM``, stops ``pack()``; ``SIGHUP`` is ignored.

    Report pipe, one JSON object per line: ``{"pid": N}``, then ``pack()``'s outcome
    (``{"ok": true, ...}`` or ``{"ok": false, "msg": ..., "details": {...}}``, after which the writer
    has run ``discard()`` itself), then after an ``f`` decision ``finish()``'s outcome. Control pipe,
    one byte: ``f`` (finish and report), ``d`` (finish and record through ``ledger``: the caller is
    gone), or its end without a byte (discard). The control pipe keeps a decision sent while
    ``pack()`` still runs, so each outcome is recorded exactly once, by one side.

    :param work: dict of callables: ``pack`` and ``finish`` (each returning a JSON-able dict),
        ``discard`` (removes what ``pack()`` wrote), ``stop`` (ends ``pack()`` early) and ``ledger``
        (``(status dict)``, the outcome of a ``d`` decision), all run in the writer.
    :param hold: descriptors (ints) the writer keeps; this process closes its copies.
    :param timeout: seconds (int) ``pack()`` may take.
    :param what: words naming the work in errors (str).
    :param aliases: ``(path written in errors, path meant)`` pairs, replaced in the writer's messages.
    """

    def __init__(self, work, hold, timeout, what, aliases=()):
        pipes = []
        try:
            pipes.extend(os.pipe())
            pipes.extend(os.pipe())
            child = os.fork()
        except OSError as exc:
            for fd in hold + tuple(pipes):
                os.close(fd)
            raise Oxzep7Error("cannot start the writer of %s: %s" % (what, exc))
        report_r, report_w, control_r, control_w = pipes
        if child == 0:  # pragma: no cover (runs in the forked process, reported through the pipe)
            try:
                os.close(report_r)
                os.close(control_w)
                self._become_writer(hold + (report_w, control_r))
                _serve(work, timeout, what, aliases, report_w, control_r)
            finally:
                os._exit(0)
        for fd in hold + (report_w, control_r):
            os.close(fd)
        os.waitpid(child, 0)
        self._report, self._control, self._buffer, self._ended, self.pid = report_r, control_w, b"", False, None
        self._pidfd = None
        first = self._line(10)
        self.pid = first.get("pid") if first else None
        if not self.pid:
            self._close()
            raise Oxzep7Error("cannot start the writer of %s" % what)
        try:  # a handle on this very process: a kill can never reach another that reused its pid
            self._pidfd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):
            self._pidfd = None

    @staticmethod
    def _become_writer(keep):
        """Second fork, own session, ``/dev/null`` for stdio, every other descriptor closed."""
        os.setsid()
        if os.fork() > 0:
            os._exit(0)
        os.chdir("/")
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        highest = max(keep + (null, 2)) + 1
        for fd in range(3, highest):
            if fd not in keep:
                try:
                    os.close(fd)
                except OSError:
                    pass
        os.closerange(highest, 65536)

    def _line(self, timeout):
        """The next JSON line of the report pipe (dict), None at its end or after ``timeout`` seconds."""
        deadline = time.time() + timeout
        while b"\n" not in self._buffer:
            left = max(deadline - time.time(), 0)
            if self._ended or self._report < 0 or not select.select([self._report], [], [], left)[0]:
                return None
            chunk = os.read(self._report, 65536)
            if not chunk:
                self._ended = True  # the writer is gone: it held the pipe until its exit
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            data = json.loads(line.decode("utf-8"))
        except ValueError:
            data = None
        return data if isinstance(data, dict) else dict(ok=False, msg="the writer reported %r" % line[:200])

    def packed(self, timeout):
        """Wait up to ``timeout`` seconds for ``pack()``'s outcome; return it (dict), or None when none came
        in time. A writer that died without a word (killed) gives ``{"ok": false, "dead": true}``."""
        data = self._line(timeout)
        if data is None and self._ended:
            data = dict(ok=False, dead=True)
        if data is not None and not data.get("ok"):
            self._close()
        return data

    def finish(self):
        """Tell the writer to finish; return ``finish()``'s outcome (dict), or None when it ended first."""
        self._tell(b"f")
        data = self._line(TIMEOUT_ARCHIVE)
        self._close()
        return data

    def detach(self):
        """Tell the writer it is on its own (it records the outcome); True when it got the word."""
        told = self._tell(b"d")
        if told:
            self._close()
        return told

    def _tell(self, decision):
        try:
            os.write(self._control, decision)
            return True
        except OSError:
            return False

    def kill(self):
        """Kill the writer unless it is known to have ended, then wait, at most ``KILL_AFTER`` seconds, until
        its pipe ends. Without a pidfd the pipe is read first, so that a writer already gone is not killed
        by a pid another process may have got since."""
        while not self._ended and self._report >= 0 and self._line(0) is not None:
            pass
        if not self._ended and self._report >= 0:
            try:
                if self._pidfd is not None:
                    signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
                else:
                    os.kill(self.pid, signal.SIGKILL)
            except OSError:
                pass
            deadline = time.time() + KILL_AFTER
            while not self._ended and time.time() < deadline:
                self._line(deadline - time.time())
        self._close()

    def _close(self):
        for fd in (self._report, self._control, self._pidfd):
            if fd is not None and fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._report = self._control = -1
        self._pidfd = None


def _serve(work, timeout, what, aliases, report, control):  # pragma: no cover (the writer process)
    """The writer's life: report its pid, pack, report, wait for the decision and act on it.

    :param work: the callables of :class:`_Writer`.
    """
    packing = [False]

    def send(data):
        try:
            os.write(report, (json.dumps(data) + "\n").encode("utf-8"))
        except OSError:
            pass  # the module is gone

    def failure(exc, discard=True):
        msg = exc.msg if isinstance(exc, Oxzep7Error) else str(exc) if isinstance(exc, ARCHIVE_ERRORS) \
            else "%s: %s" % (type(exc).__name__, exc)
        for alias, meant in aliases:
            msg = msg.replace(alias, meant)
        if not (isinstance(exc, Oxzep7Error) and msg.startswith("cannot snapshot ")):
            msg = "cannot write %s (the partial copy was removed): %s" % (what, msg)
        status = dict(ok=False, msg=msg, details=getattr(exc, "details", {}))
        try:
            work["discard"]()
        except BaseException as also:  # a symlink put in place of the .partial: say so too
            status["msg"] += "; removing the partial copy failed: %s" % also
        return status

    def stopped(signum, _frame):
        if packing[0]:  # only pack() is stopped; the decision and finish() run to their end
            packing[0] = False
            work["stop"]()
            raise _Stopped("the archive took longer than %s s" % timeout if signum == signal.SIGALRM
                           else "the writer got signal %d" % signum)

    send({"pid": os.getpid()})
    try:
        os.nice(WRITER_NICE)  # the release's build and gates, and the app itself, come first
    except OSError:
        pass
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    for signum in (signal.SIGALRM, signal.SIGTERM):
        signal.signal(signum, stopped)
    packing[0] = True
    signal.alarm(max(int(timeout), 1))
    try:
        status = dict(work["pack"](), ok=True)
    except BaseException as exc:  # every failure is reported, none escapes the forked process
        status = exc
    packing[0] = False
    signal.alarm(0)
    if not isinstance(status, dict):
        status = failure(Oxzep7Error(str(status)) if isinstance(status, _Stopped) else status)
    send(status)
    decision = os.read(control, 1) if select.select([control], [], [], DECISION_TIMEOUT)[0] else b""
    if status["ok"]:
        if decision not in (b"f", b"d"):
            work["discard"]()
            return
        try:
            status = dict(work["finish"](), ok=True)
        except BaseException as exc:  # the rename failed: the snapshot is not whole
            status = failure(exc)
    if decision == b"f":
        send(status)
    elif decision == b"d":
        work["ledger"](status)


def begin(runner, layout, backup_dir, snapshot_id=None, compression="auto", keep=5, which=shutil.which,
          check_mode=False, facts=None, ledger=None):
    """Start a snapshot of the live venv of ``layout``: write its lock, venv.json and pyvenv.cfg
    into ``<snapshot_id>.partial`` now, and its archive in a writer process (see :class:`PendingSnapshot`).

    :param runner: ``_common.Runner`` (inspects the live venv once).
    :param layout: ``_layout.Layout`` of the stable path.
    :param backup_dir: the backup root (str); ``<backup_dir>/<slug>`` is made 0700.
    :param snapshot_id: its name; default ``<current release id or 'plain'>-<12 hex of the
        lock's sha256>``, so the same live venv always gives the same snapshot.
    :param compression: ``auto`` (``zstd`` when the zstd program is found, else ``gz`` at
        level 1), ``zstd`` (``zstd -3 -T0``), ``gz`` (level 6), ``xz``, ``bz2`` or ``none``.
    :param keep: how many snapshots of this stable path to keep (int, at least 1), applied by wait.
    :param which: callable ``name -> path or None`` finding ``zstd`` (``get_bin_path``).
    :param facts: what ``inspect_python`` already returned for the live venv, to not run it twice.
    :param ledger: callable ``(status)`` the writer runs when :meth:`PendingSnapshot.detach` left it
        the outcome to record: ``status`` is a dict with ``ok`` (bool) and ``snapshot_id``, plus
        ``archive_bytes`` and ``removed`` on success, ``msg`` on failure.
    :returns: a :class:`PendingSnapshot`; call its ``wait()``, ``detach()`` or ``abort()`` before
        the process ends. It is already complete (``wait()`` returns at once) when an intact
        snapshot of the same id is there (``changed`` false) or in check mode. A snapshot of the
        same id still being written by another writer is waited for first.
    :raises Oxzep7Error: on a missing venv, a bad compression or snapshot id, zstd asked for and
        missing, a backup directory that is a symlink, or a failed write of the small files (the
        partial copy and the directories this call made are removed first).
    """
    asked = compression
    compression, zstd = pick_compression(compression, which)
    started = time.time()
    live = describe_live(runner, layout, facts)
    release_id = layout.current_release()
    snapshot_id = check_release_id(snapshot_id or "%s-%s" % (release_id or "plain", live["lock_sha256"][:12]),
                                   "snapshot id")
    root = snapshot_root(backup_dir, layout.stable)
    final = os.path.join(root, snapshot_id)
    archive_name = "release" + COMPRESSION[compression][1]
    result = dict(changed=False, snapshot_id=snapshot_id, path=final, release_id=release_id,
                  lock_path=os.path.join(final, "lock.txt"), removed=[],
                  archive=os.path.join(final, archive_name), archive_bytes=None)
    pending = PendingSnapshot(result, started, live["entries"])
    partial = final + ".partial"
    if not wait_written(partial, TIMEOUT_ARCHIVE):
        raise Oxzep7Error("snapshot %s is still being written by another run after %s s" % (final, TIMEOUT_ARCHIVE))
    if os.path.isdir(final) and not check_sums(final):
        meta = read_meta(final)
        result.update(archive=os.path.join(final, meta["archive"]), archive_bytes=meta["archive_bytes"],
                      seconds=0.0)
        return pending
    result["changed"] = True
    if check_mode:
        return pending
    made = [path for path in (backup_dir, root) if not os.path.isdir(path)]
    for path in made:
        os.makedirs(path, 0o700)
    if not stat.S_ISDIR(os.lstat(root).st_mode):
        raise Oxzep7Error("refusing to use %s: it is not a real directory (a symlink?); oxzep7.python keeps "
                          "the snapshots of %s only in a directory it made there" % (root, layout.stable))
    for path in (backup_dir, root):
        os.chmod(path, 0o700)
    uid, gid, mode = ownership(live["path"])
    meta = dict(snapshot_id=snapshot_id, stable_path=layout.stable, release_id=release_id,
                python_version=live["facts"]["python"]["version"], created=time.time(),
                archive=archive_name, compression=compression, lock_sha256=live["lock_sha256"],
                owner=dict(uid=uid, gid=gid, mode="%04o" % mode))

    def restorable(member):
        problem = member_problem(member)
        if problem:
            raise Oxzep7Error("cannot snapshot %s: %s: %s, which a restore refuses; fix it in the venv first"
                              % (live["path"], os.path.join(live["path"], member.name), problem))
        return member

    source = lock = None
    mine = False
    try:
        with _root_locked(root):  # prune() of another snapshot's writer never sees the new .partial unlocked
            if being_written(partial):
                raise Oxzep7Error("snapshot %s is being written by another run" % final)
            for stale in (partial, final):
                remove_tree(stale, root)
            os.mkdir(partial, 0o700)
            mine = True
            lock = _dir_lock(partial)
        with open(os.path.join(partial, "lock.txt"), "w") as fh:
            fh.write(live["lock_text"])
        with open(os.path.join(partial, "venv.json"), "w") as fh:
            json.dump(live["facts"], fh, indent=2, sort_keys=True)
        shutil.copyfile(os.path.join(live["path"], "pyvenv.cfg"), os.path.join(partial, "pyvenv.cfg"))
        # The archive reads the venv through a descriptor of its directory (/proc/self/fd/N/...): a switch
        # that renames a plain venv directory meanwhile (it becomes the adopted release) changes nothing of
        # what is read, and the shared lock keeps Layout.prune off it. Without /proc it reads by path, and
        # detach() waits instead.
        source = _dir_lock(live["path"], fcntl.LOCK_SH, follow=True)
        top = "/proc/self/fd/%d" % source
        by_fd = os.path.isdir(top)
        top = top if by_fd else live["path"]
        entries = [(os.path.join(top, name), name) for name in sorted(os.listdir(live["path"]))]
        packer = Packer(os.path.join(partial, archive_name), entries, compression, zstd=zstd,
                        compresslevel=1 if asked == "auto" else None, member_filter=restorable)
        hold, source, lock = (source, lock), None, None
        pending._start(packer, backup_dir, partial, made, meta, keep, hold, ledger or (lambda status: None),
                       detachable=by_fd, aliases=((top, live["path"]),))
    except BaseException as exc:
        for fd in (source, lock):
            if fd is not None:
                os.close(fd)
        if mine:
            remove_tree(partial, root)
        _remove_empty(made)
        if isinstance(exc, ARCHIVE_ERRORS):
            raise Oxzep7Error("cannot write snapshot %s (the partial copy was removed): %s" % (final, exc))
        raise
    return pending


def take(runner, layout, backup_dir, snapshot_id=None, compression="auto", keep=5, which=shutil.which,
         check_mode=False):
    """Snapshot the live venv of ``layout`` and wait for it: ``begin(...).wait()``.

    :param compression: see :func:`begin`.
    :returns: dict with ``changed``, ``snapshot_id``, ``path``, ``lock_path``,
        ``archive``, ``archive_bytes``, ``seconds``, ``removed`` (snapshot ids) and
        ``release_id``.
    :raises Oxzep7Error: see :func:`begin` and :meth:`PendingSnapshot.wait`.
    """
    return begin(runner, layout, backup_dir, snapshot_id=snapshot_id, compression=compression, keep=keep,
                 which=which, check_mode=check_mode).wait()


def prune(backup_dir, stable_path, keep, protect=None, check_mode=False):
    """Remove all but the ``keep`` newest snapshots of a stable path and any ``.partial`` leftovers
    (not one a writer still holds: each is locked here before it is removed), under the lock of the
    stable path's snapshot directory (see :func:`begin`).

    :param protect: a snapshot id never removed (the one just taken).
    :returns: list of removed snapshot ids.
    :raises Oxzep7Error: from ``remove_tree``, or when the directory stays locked.
    """
    snaps = list_snapshots(backup_dir, stable_path)
    doomed = [s for s in snaps[:max(len(snaps) - max(keep, 1), 0)] if s["snapshot_id"] != protect]
    root = snapshot_root(backup_dir, stable_path)
    if check_mode or not _real_dir(root):
        return [s["snapshot_id"] for s in doomed]
    with _root_locked(root):
        for snap in doomed:
            remove_tree(snap["path"], root)
        for name in sorted(os.listdir(root)):
            if not name.endswith(".partial"):
                continue
            try:
                held = _dir_lock(os.path.join(root, name), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # a writer holds it, or it is no directory of ours
            try:
                remove_tree(os.path.join(root, name), root)
            finally:
                os.close(held)
    return [s["snapshot_id"] for s in doomed]


def remove(backup_dir, stable_path, snapshot_id, check_mode=False):
    """Delete the snapshot ``snapshot_id`` of a stable path (``venv_snapshot state=absent``).

    :param snapshot_id: its name: one path component (see :func:`check_release_id`), never a path.
    :returns: dict with ``changed``, ``snapshot_id`` and ``path``.
    :raises Oxzep7Error: on an id that is not a plain name, or when the snapshot or the stable
        path's backup directory is not a real directory (a symlink); nothing is deleted then.
    """
    root = snapshot_root(backup_dir, stable_path)
    path = os.path.join(root, check_release_id(snapshot_id, "snapshot id"))
    changed = os.path.lexists(path)
    if changed and not check_mode:
        remove_tree(path, root)
    return dict(changed=changed, snapshot_id=snapshot_id, path=path)


def open_snapshot(backup_dir, stable_path, snapshot):
    """Find and check a snapshot by id or absolute path.

    A snapshot of that id still being written (an upgrade's writer finishing it) is waited for first, at
    most ``TIMEOUT_ARCHIVE`` seconds.

    :returns: ``(path, meta)``.
    :raises Oxzep7Error: when it is missing or still being written, its file list or a checksum does not match
        SHA256SUMS (:func:`check_sums`), its snapshot.json is not valid (:func:`read_meta`),
        or it belongs to another stable path.
    """
    path = snapshot if os.path.isabs(snapshot) else os.path.join(
        snapshot_root(backup_dir, stable_path), check_release_id(snapshot, "snapshot id"))
    if not os.path.isdir(path) and not wait_written(path + ".partial", TIMEOUT_ARCHIVE):
        raise Oxzep7Error("snapshot %s is still being written after %s s" % (path, TIMEOUT_ARCHIVE))
    if not os.path.isdir(path):
        raise Oxzep7Error("snapshot %s does not exist" % path)
    problems = check_sums(path)
    if problems:
        raise Oxzep7Error("snapshot %s failed its checksums: %s" % (path, "; ".join(problems[:10])))
    meta = read_meta(path)
    if meta["stable_path"] != stable_path:
        raise Oxzep7Error("snapshot %s was taken of %s, not %s; its scripts name that path"
                          % (path, meta.get("stable_path"), stable_path))
    return path, meta


def restore(layout, backup_dir, snapshot, release_id=None, which=shutil.which, check_mode=False):
    """Unpack a snapshot into a new release directory (not switched to).

    :param snapshot: a snapshot id under the backup directory, or an absolute path.
    :param release_id: the new release's id; default ``restored-<snapshot id>``.
    :param which: callable ``name -> path or None`` finding ``zstd`` for a ``.tar.zst`` archive.
    :returns: dict with ``changed``, ``release_id``, ``release_path``, ``snapshot_id``,
        ``python_version``.
    :raises Oxzep7Error: on a failed checksum, an unsafe member, a damaged archive, a missing
        interpreter or a release id already used by something else. A failed extraction removes
        the partial ``<release>.restoring`` directory, and the releases directory if it made it.
    """
    path, meta = open_snapshot(backup_dir, layout.stable, snapshot)
    release_id = check_release_id(release_id or ("restored-" + meta["snapshot_id"])[:128])
    dest = layout.release_path(release_id)
    origin = "snapshot:%s" % meta["snapshot_id"]
    result = dict(changed=False, release_id=release_id, release_path=dest,
                  snapshot_id=meta["snapshot_id"], python_version=meta.get("python_version"))
    if os.path.isdir(dest):
        if layout.marker(release_id).get("origin") == origin:
            return result
        raise Oxzep7Error("release %s already exists and was not restored from %s" % (release_id, origin))
    home = read_pyvenv_cfg(path).get("home")
    if home and not os.path.isdir(home):
        raise Oxzep7Error("the snapshot's interpreter directory %s is missing; install Python %s "
                          "there first" % (home, meta.get("python_version")))
    with load_archive(os.path.join(path, meta["archive"]), which=which) as tar:
        result["changed"] = True
        if check_mode:
            return result
        owner = (meta["owner"]["uid"], meta["owner"]["gid"], int(meta["owner"]["mode"], 8))
        made = layout.ensure_releases_dir(owner)
        work = dest + ".restoring"
        try:
            remove_tree(work, layout.releases_dir)
            os.mkdir(work, 0o700)
            extract(tar, work, numeric_owner=True)
            apply_owner(work, owner, recursive=False)
            layout.guard()  # a run that took the venv over meanwhile gets nothing half made
            os.rename(work, dest)
        except BaseException:
            remove_tree(work, layout.releases_dir)
            if made:
                layout.remove_releases_dir_if_empty()
            raise
    layout.write_marker(release_id, state=STATE_BUILT, origin=origin, created=time.time(),
                        python_version=meta.get("python_version"))
    return result


@_changes("snapshot")
def run_venv_snapshot(module, layout, work):
    """The module ``venv_snapshot``: take (``state=present``) or remove a snapshot."""
    started = time.time()
    p = module.params
    if p["state"] == "absent":
        result = remove(p["backup_dir"], layout.stable, p["snapshot_id"], check_mode=module.check_mode)
        result["diff"] = _diff("snapshot", result["path"], result["changed"], removed=True)
        return result
    with _stage(module, work, "snapshot", source=layout.current_release(), target=p["snapshot_id"]):
        result = take(module_runner(module), layout, p["backup_dir"], snapshot_id=p["snapshot_id"],
                      compression=p["compression"], keep=p["keep"], which=module_which(module),
                      check_mode=module.check_mode)
    result["diff"] = _diff("snapshot", result["path"], result["changed"])
    root = snapshot_root(p["backup_dir"], layout.stable)
    _record(module, work, "snapshot", _outcome(result), started, source=result["release_id"],
            target=result["snapshot_id"], undo=lambda: result["changed"] and remove_tree(result["path"], root))
    return result


@_changes("restore")
def run_venv_restore(module, layout, work):
    """The module ``venv_restore``: unpack a snapshot into a new release."""
    started = time.time()
    p = module.params
    with _stage(module, work, "restore", source=p["snapshot"], target=p["release_id"]):
        result = restore(layout, p["backup_dir"], p["snapshot"], release_id=p["release_id"],
                         which=module_which(module), check_mode=module.check_mode)
    result["diff"] = _diff("release", result["release_id"], result["changed"])
    _record(module, work, "restore", _outcome(result), started, source=result["snapshot_id"],
            target=result["release_id"], undo=lambda: result["changed"] and layout.remove_release(result["release_id"]))
    return result
