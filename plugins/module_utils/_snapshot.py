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
the small files at once and the archive in a background thread, so a caller can rebuild while
the archive is written; :func:`take` is ``begin(...).wait()``.

Everything read back is untrusted: the file list is checked exactly against SHA256SUMS,
snapshot.json must have the shape :func:`begin` writes, and every archive member's name,
type, link target and mode is checked before anything is extracted (``_archive.unsafe_members``).
"""

from __future__ import absolute_import, division, print_function

import json
import os
import re
import shutil
import stat
import threading
import time

from ansible_collections.oxzep7.python.plugins.module_utils._archive import (
    ARCHIVE_ERRORS, COMPRESSION, TIMEOUT_ARCHIVE, Packer, ZstdError, check_sums, extract, load_archive,
    member_problem, pick_compression, write_sums)
from ansible_collections.oxzep7.python.plugins.module_utils._common import (
    KILL_AFTER, Oxzep7Error, module_runner, module_which, remove_tree, write_json_atomic)
from ansible_collections.oxzep7.python.plugins.module_utils._layout import (
    RELEASE_ID, STATE_BUILT, apply_owner, check_release_id, ownership)
from ansible_collections.oxzep7.python.plugins.module_utils._modules import _changes, _diff, _outcome, _record, _stage
from ansible_collections.oxzep7.python.plugins.module_utils._state import slug
from ansible_collections.oxzep7.python.plugins.module_utils._venv import describe_live, read_pyvenv_cfg

__metaclass__ = type

META = "snapshot.json"
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

    ``result`` (dict): what :meth:`wait` returns, filled in by it (see :func:`take`).
    ``lock_path`` (str): the lock of the live venv, readable from :func:`begin` on: inside the
    ``.partial`` directory while the archive is written, in the snapshot after :meth:`wait`.
    ``lock_entries`` (list of dicts, ``_lock`` entries): the same lock, parsed.
    ``waited`` (float): seconds :meth:`wait` blocked, the snapshot's cost on the caller's path.
    """

    def __init__(self, result, started, lock_entries):
        self.result = result
        self.lock_path = result["lock_path"]
        self.lock_entries = lock_entries
        self.waited = 0.0
        self._started = started
        self._thread = self._packer = self._error = self._failed = None

    def _start(self, packer, backup_dir, partial, made, meta, keep):
        self._packer, self._partial, self._made, self._meta, self._keep = packer, partial, made, meta, keep
        self._backup_dir = backup_dir
        self._root = os.path.dirname(partial)
        self.lock_path = os.path.join(partial, "lock.txt")
        self._thread = threading.Thread(target=self._pack, name="oxzep7 snapshot %s" % meta["snapshot_id"])
        self._thread.daemon = True  # a module that dies leaves a .partial, which the next prune removes
        self._thread.start()

    def _pack(self):
        try:
            self._packer.run()
        except BaseException as exc:  # handed to wait(), which raises it in the caller
            self._error = exc

    def _discard(self):
        remove_tree(self._partial, self._root)
        for path in reversed(self._made):
            os.rmdir(path)

    def _fail(self, exc):
        """Remove the partial copy and return the error to raise for ``exc``."""
        self._thread = None
        self._discard()
        final = self.result["path"]
        if isinstance(exc, ZstdError):
            exc = Oxzep7Error("cannot write snapshot %s (the partial copy was removed): %s" % (final, exc.msg),
                              **exc.details)
        elif isinstance(exc, ARCHIVE_ERRORS):
            exc = Oxzep7Error("cannot write snapshot %s (the partial copy was removed): %s" % (final, exc))
        self._failed = exc
        return exc

    def wait(self, timeout=TIMEOUT_ARCHIVE):
        """Finish the snapshot: wait for the archive, write snapshot.json and SHA256SUMS, rename
        ``<id>.partial`` to ``<id>``, then apply the retention.

        :param timeout: seconds (int or float) to wait for the archive; it is stopped after them.
        :returns: the ``result`` dict (see :func:`take`); a second call returns it again.
        :raises Oxzep7Error: ``cannot write snapshot <path> (the partial copy was removed): <why>``
            when the archive failed (a full disk, zstd failing, a file that cannot be read) or
            took longer than ``timeout``; ``cannot snapshot <venv>: <file>: <why>, which a restore
            refuses`` for a member a restore would refuse. No ``.partial`` directory is left, nor
            the backup directories :func:`begin` made. A call after a failure raises it again.
        """
        if self._failed is not None:
            raise self._failed
        if self._thread is None:
            self.result.setdefault("seconds", round(time.time() - self._started, 3))
            return self.result
        blocked = time.time()
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._packer.stop()
            self._thread.join(KILL_AFTER)
            self.waited = time.time() - blocked
            raise self._fail(Oxzep7Error("cannot write snapshot %s (the partial copy was removed): the archive "
                                         "took longer than %s s" % (self.result["path"], timeout)))
        try:
            if self._error is not None:
                raise self._error
            archive = os.path.join(self._partial, self._meta["archive"])
            self._meta["archive_bytes"] = os.path.getsize(archive)
            write_json_atomic(os.path.join(self._partial, META), self._meta, mode=0o600)
            write_sums(self._partial)
            os.rename(self._partial, self.result["path"])
        except BaseException as exc:
            self.waited = time.time() - blocked
            raise self._fail(exc)
        self._thread = None
        self.lock_path = self.result["lock_path"]
        self.result["archive_bytes"] = self._meta["archive_bytes"]
        self.result["removed"] = prune(self._backup_dir, self._meta["stable_path"], self._keep,
                                       protect=self._meta["snapshot_id"])
        self.result["seconds"] = round(time.time() - self._started, 3)
        self.waited = time.time() - blocked
        return self.result

    def abort(self):
        """Stop writing the archive and remove the ``.partial`` directory (and the backup
        directories :func:`begin` made). Does nothing once :meth:`wait` returned or raised, or
        when nothing was being written (an intact snapshot already there, check mode).

        :raises Oxzep7Error: from ``remove_tree`` when the partial directory is no longer one this
            collection made (a symlink put in its place).
        """
        if self._thread is None:
            return
        self._packer.stop()
        self._thread.join(KILL_AFTER)
        self._thread = None
        self._failed = Oxzep7Error("snapshot %s was aborted" % self.result["path"])
        self._discard()


def begin(runner, layout, backup_dir, snapshot_id=None, compression="auto", keep=5, which=shutil.which,
          check_mode=False, facts=None):
    """Start a snapshot of the live venv of ``layout``: write its lock, venv.json and pyvenv.cfg
    into ``<snapshot_id>.partial`` now, and its archive in a background thread.

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
    :returns: a :class:`PendingSnapshot`; call its ``wait()`` (or ``abort()``) before the process
        ends. It is already complete (``wait()`` returns at once) when an intact snapshot of the
        same id is there (``changed`` false) or in check mode.
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
    partial = final + ".partial"
    for stale in (partial, final):
        remove_tree(stale, root)
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

    try:
        os.mkdir(partial, 0o700)
        with open(os.path.join(partial, "lock.txt"), "w") as fh:
            fh.write(live["lock_text"])
        with open(os.path.join(partial, "venv.json"), "w") as fh:
            json.dump(live["facts"], fh, indent=2, sort_keys=True)
        shutil.copyfile(os.path.join(live["path"], "pyvenv.cfg"), os.path.join(partial, "pyvenv.cfg"))
    except BaseException as exc:
        remove_tree(partial, root)
        for path in reversed(made):
            os.rmdir(path)
        if isinstance(exc, ARCHIVE_ERRORS):
            raise Oxzep7Error("cannot write snapshot %s (the partial copy was removed): %s" % (final, exc))
        raise
    entries = [(os.path.join(live["path"], name), name) for name in sorted(os.listdir(live["path"]))]
    packer = Packer(os.path.join(partial, archive_name), entries, compression, zstd=zstd,
                    compresslevel=1 if asked == "auto" else None,
                    member_filter=restorable)
    pending._start(packer, backup_dir, partial, made, meta, keep)
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
    """Remove all but the ``keep`` newest snapshots of a stable path and any ``.partial`` leftovers.

    :param protect: a snapshot id never removed (the one just taken).
    :returns: list of removed snapshot ids.
    """
    snaps = list_snapshots(backup_dir, stable_path)
    doomed = [s for s in snaps[:max(len(snaps) - max(keep, 1), 0)] if s["snapshot_id"] != protect]
    root = snapshot_root(backup_dir, stable_path)
    leftovers = [os.path.join(root, n) for n in (os.listdir(root) if os.path.isdir(root) else [])
                 if n.endswith(".partial")]
    if not check_mode:
        for path in [s["path"] for s in doomed] + [p for p in leftovers if stat.S_ISDIR(os.lstat(p).st_mode)]:
            remove_tree(path, root)
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

    :returns: ``(path, meta)``.
    :raises Oxzep7Error: when it is missing, its file list or a checksum does not match
        SHA256SUMS (:func:`check_sums`), its snapshot.json is not valid (:func:`read_meta`),
        or it belongs to another stable path.
    """
    path = snapshot if os.path.isabs(snapshot) else os.path.join(
        snapshot_root(backup_dir, stable_path), check_release_id(snapshot, "snapshot id"))
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
