# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The on-host release layout of one stable venv path (README.md, "On-host layout").

::

    /srv/app/venv -> .venv.releases/20261121T020000Z-cp312
    /srv/app/.venv.releases/<release-id>/               one full venv per release
    /srv/app/.venv.releases/<release-id>.release.json   its marker (state, interpreter)

Markers live beside the release, never inside it, so verifying or switching to
a release never changes a byte of the venv itself.
"""

from __future__ import absolute_import, division, print_function

import ctypes
import errno
import os
import re
import stat
import time

from ansible_collections.oxzep7.python.plugins.module_utils._common import (
    Oxzep7Error, dir_locked, read_json, remove_tree, utc_stamp, write_json_atomic)
from ansible_collections.oxzep7.python.plugins.module_utils._venv import read_pyvenv_cfg

__metaclass__ = type

RELEASE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
MARKER_SUFFIX = ".release.json"
STATE_VERIFIED = "verified"
STATE_BUILT = "built"
STATE_BUILDING = "building"
STATE_FAILED = "failed"  # kept for inspection (keep_failed_release); never switched to, pruned like unverified ones

# renameat2(2) flag, linux/fs.h; glibc >= 2.28 exports the wrapper.
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def check_release_id(release_id, what="release id"):
    """Return ``release_id`` when it is a safe single path component (str).

    :param what: the words naming it in the error, e.g. ``snapshot id``.
    :raises Oxzep7Error: when it is empty, a path (``/``, ``..``), hidden, longer than 128
        characters or ends like a marker file.
    """
    if not isinstance(release_id, str) or not RELEASE_ID.match(release_id) or release_id.endswith(MARKER_SUFFIX):
        raise Oxzep7Error("%s %r is not valid: use letters, digits, '.', '_' and '-' "
                          "(at most 128), starting with a letter or digit" % (what, release_id))
    return release_id


def make_release_id(tag, epoch=None):
    """Return a new release id ``<UTC timestamp>-<interpreter tag>``, e.g. ``20261121T020000Z-cp312``."""
    return "%s-%s" % (utc_stamp(epoch), tag)


def release_id_for(run_id, tag):
    """The release id of run ``run_id`` for an interpreter tag: ``<run id>-<tag>`` (``...-cp312``),
    so every host of a run names its release the same.

    :raises Oxzep7Error: when the result is not a valid release id (see :func:`check_release_id`).
    """
    return check_release_id("%s-%s" % (run_id, tag))


def _unguarded():
    """The default :attr:`Layout.guard`: lets every write through."""


def exchange(path_a, path_b):
    """Swap two paths on one filesystem in a single step with ``renameat2(RENAME_EXCHANGE)``.

    Linux 3.15+; see renameat2(2).

    :raises OSError: when the kernel, libc or filesystem does not support it.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    func = getattr(libc, "renameat2", None)
    if func is None:
        raise OSError(errno.ENOSYS, "renameat2 is not available in this libc")
    func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if func(_AT_FDCWD, os.fsencode(path_a), _AT_FDCWD, os.fsencode(path_b), _RENAME_EXCHANGE) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), path_a)


class Layout:
    """Paths and state of one stable venv path.

    :param stable_path: the path services use, e.g. ``/srv/app/venv`` (str). It is
        made absolute but symlinks are not resolved: it usually is one.

    ``guard`` is called with no arguments right before every write of a marker and every
    switch of the stable path; it raises to stop the write (a module sets it to
    ``_state.WorkLock.check``). By default it does nothing.
    """

    def __init__(self, stable_path):
        if not stable_path or not os.path.isabs(stable_path):
            raise Oxzep7Error("stable path must be an absolute path, got %r" % (stable_path,))
        self.stable = os.path.normpath(stable_path)
        self.parent, self.name = os.path.split(self.stable)
        if not self.name:
            raise Oxzep7Error("stable path %r has no final component" % (stable_path,))
        self.releases_rel = ".%s.releases" % self.name
        self.releases_dir = os.path.join(self.parent, self.releases_rel)
        self.guard = _unguarded

    # -- reading -----------------------------------------------------------------
    def release_path(self, release_id):
        """Return the directory of release ``release_id`` (str)."""
        return os.path.join(self.releases_dir, check_release_id(release_id))

    def marker_path(self, release_id):
        """Return the marker file of release ``release_id`` (str)."""
        return self.release_path(release_id) + MARKER_SUFFIX

    def lock_path(self, release_id):
        """Return the file beside a release that holds the requirements it was built from."""
        return self.release_path(release_id) + ".lock.txt"

    def marker(self, release_id):
        """Return the marker dict of a release, or ``{}`` when it has none."""
        return read_json(self.marker_path(release_id), default={}) or {}

    def kind(self):
        """Return ``absent``, ``plain`` (a venv directory) or ``release`` (a symlink)."""
        if os.path.islink(self.stable):
            return "release"
        if os.path.isdir(self.stable):
            return "plain"
        if os.path.lexists(self.stable):
            raise Oxzep7Error("%s exists but is neither a venv directory nor a symlink" % self.stable)
        return "absent"

    def current_release(self):
        """Return the id of the release the stable path points at, or None.

        :raises Oxzep7Error: when the stable path is a symlink to anything other than
            a directory in the releases directory.
        """
        if not os.path.islink(self.stable):
            return None
        target = os.readlink(self.stable)
        full = os.path.normpath(os.path.join(self.parent, target))
        if os.path.dirname(full) != self.releases_dir:
            raise Oxzep7Error("%s points at %s, outside %s: it was not made by oxzep7.python"
                              % (self.stable, target, self.releases_dir))
        return os.path.basename(full)

    def live_path(self):
        """Return the real directory of the live venv (str), or None when absent."""
        kind = self.kind()
        if kind == "absent":
            return None
        return self.release_path(self.current_release()) if kind == "release" else self.stable

    def releases(self):
        """Return every release as a list of dicts, oldest first.

        Keys: ``id``, ``path``, ``state`` (verified, built, building or unknown),
        ``verified`` (bool), ``created`` (epoch seconds, float), ``current`` (bool),
        ``python_version`` and ``origin`` from the marker.
        """
        if not self.has_releases_dir():
            return []
        current = self.current_release()
        names = os.listdir(self.releases_dir)
        out = []
        for name in names:
            path = os.path.join(self.releases_dir, name)
            if name.endswith(MARKER_SUFFIX) or not RELEASE_ID.match(name) or os.path.islink(path) \
                    or not os.path.isdir(path):
                continue
            marker = self.marker(name)
            state = marker.get("state", "unknown")
            out.append(dict(id=name, path=path, state=state, verified=state == STATE_VERIFIED,
                            created=marker.get("created", os.lstat(path).st_mtime),
                            current=name == current, python_version=marker.get("python_version"),
                            origin=marker.get("origin")))
        return sorted(out, key=lambda r: (r["created"], r["id"]))

    def previous_verified(self):
        """Return the id of the newest verified release other than the current one, or None."""
        candidates = [r["id"] for r in self.releases() if r["verified"] and not r["current"]]
        return candidates[-1] if candidates else None

    def has_releases_dir(self):
        """Tell whether the releases directory exists (bool), checked with ``os.lstat``.

        :raises Oxzep7Error: when something other than a real directory is there, for example a
            symlink to another directory: listing, pruning or writing through it would change
            files this collection does not own.
        """
        try:
            st = os.lstat(self.releases_dir)
        except OSError:
            return False
        if not stat.S_ISDIR(st.st_mode):
            raise Oxzep7Error("refusing to use %s: it is not a real directory (a symlink?); oxzep7.python "
                              "keeps releases only in a directory it made there" % self.releases_dir)
        return True

    # -- changing ----------------------------------------------------------------
    def ensure_releases_dir(self, owner):
        """Create the releases directory with the owner and mode of the live venv.

        :param owner: ``(uid, gid, mode)`` to apply, see :func:`ownership`.
        :returns: True when it was created.
        :raises Oxzep7Error: when something other than a real directory is there.
        """
        if self.has_releases_dir():
            return False
        os.mkdir(self.releases_dir, owner[2] & 0o7777)
        apply_owner(self.releases_dir, owner, recursive=False)
        return True

    def remove_releases_dir_if_empty(self):
        """Remove the releases directory when it is a real, empty directory (left by a failed first build).

        :returns: True when it was removed.
        """
        try:
            if not stat.S_ISDIR(os.lstat(self.releases_dir).st_mode):
                return False  # a symlink or a file: not ours to touch
            os.rmdir(self.releases_dir)
        except OSError:
            return False  # absent, or not empty: leave it
        return True

    def write_marker(self, release_id, **fields):
        """Merge ``fields`` into a release's marker, written atomically (after :attr:`guard`).

        :raises Oxzep7Error: when the releases directory is missing or not a real directory, or
            the guard stops the write.
        """
        if not self.has_releases_dir():
            raise Oxzep7Error("cannot mark release %s: %s does not exist" % (release_id, self.releases_dir))
        self.guard()
        data = self.marker(release_id)
        data.update(fields)
        data["release_id"] = release_id
        write_json_atomic(self.marker_path(release_id), data)
        return data

    def mark_failed(self, release_id, reason, check_mode=False):
        """Mark a release that is not current ``failed``, with ``reason`` (str), and keep it on disk.

        :returns: True when the marker changed (False: it said ``failed`` already).
        :raises Oxzep7Error: for the current release, or a release that does not exist.
        """
        if release_id == self.current_release():
            raise Oxzep7Error("refusing to mark %s failed: it is the current release" % release_id)
        path = self.release_path(release_id)
        if not self.has_releases_dir() or not os.path.isdir(path) or os.path.islink(path):
            raise Oxzep7Error("release %s does not exist in %s" % (release_id, self.releases_dir))
        if self.marker(release_id).get("state") == STATE_FAILED:
            return False
        if not check_mode:
            self.write_marker(release_id, state=STATE_FAILED, failed_at=time.time(), reason=reason)
        return True

    def remove_release(self, release_id):
        """Delete a release directory, its marker and its lock file.

        Only entries directly in the real releases directory are removed; symlinks among them
        are removed themselves, never followed.

        :raises Oxzep7Error: for the current release, or when the releases directory is not a
            real directory.
        """
        if release_id == self.current_release():
            raise Oxzep7Error("refusing to remove %s: it is the current release" % release_id)
        if not self.has_releases_dir():
            return
        path = self.release_path(release_id)
        if os.path.islink(path):
            unlink_entry(self.releases_dir, release_id)
        remove_tree(path, self.releases_dir)
        for extra in (self.marker_path(release_id), self.lock_path(release_id)):
            unlink_entry(self.releases_dir, os.path.basename(extra))

    def _point_at(self, release_id):
        """Point the stable path at a release: symlink to a temporary name, then rename() (after :attr:`guard`)."""
        self.guard()
        tmp = os.path.join(self.parent, ".%s.switch-%d" % (self.name, os.getpid()))
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(os.path.join(self.releases_rel, release_id), tmp)
        os.replace(tmp, self.stable)

    def adopt_id(self):
        """Return the release id the plain venv directory gets when it is converted.

        It is made from the time its pyvenv.cfg was written and its Python version,
        e.g. ``20240102T030405Z-py3.9.18-adopted``.
        """
        cfg = read_pyvenv_cfg(self.stable)
        version = cfg.get("version") or cfg.get("version_info") or "unknown"
        try:
            epoch = os.stat(os.path.join(self.stable, "pyvenv.cfg")).st_mtime
        except OSError:
            epoch = os.stat(self.stable).st_mtime
        return "%s-py%s-adopted" % (utc_stamp(epoch), version)

    def convert(self, owner):
        """Turn a plain venv directory into the release layout in one atomic exchange.

        The directory becomes release :meth:`adopt_id` (marked verified: it was the
        live venv) and the stable path becomes a symlink to it. The two paths are
        swapped with ``renameat2(RENAME_EXCHANGE)`` so that the stable path is a
        working venv at every instant.

        :returns: the adopted release id.
        :raises Oxzep7Error: when the exchange is not supported here.
        """
        release_id = self.adopt_id()
        self.ensure_releases_dir(owner)
        slot = self.release_path(release_id)
        if os.path.islink(slot):
            unlink_entry(self.releases_dir, release_id)  # left by a conversion killed before the exchange
        if os.path.lexists(slot):
            raise Oxzep7Error("cannot adopt %s: %s already exists" % (self.stable, slot))
        created = os.stat(self.stable).st_mtime
        cfg = read_pyvenv_cfg(self.stable)
        self.write_marker(release_id, state=STATE_VERIFIED, origin="adopted", created=created,
                          python_version=cfg.get("version") or cfg.get("version_info"),
                          verified_at=time.time())
        # A symlink named like the release that already points where the stable
        # path must point; swapping it with the directory completes both at once.
        os.symlink(os.path.join(self.releases_rel, release_id), slot)
        try:
            exchange(slot, self.stable)
        except OSError as exc:
            unlink_entry(self.releases_dir, release_id)
            unlink_entry(self.releases_dir, os.path.basename(self.marker_path(release_id)))
            raise Oxzep7Error("cannot convert %s to the release layout atomically: %s"
                              % (self.stable, exc))
        return release_id

    def switch(self, release_id, check_mode=False, owner=None):
        """Make the stable path point at ``release_id``; convert a plain venv first.

        :param owner: ``(uid, gid, mode)`` for the symlink and a new releases directory;
            defaults to the live venv's.
        :returns: dict with ``changed``, ``previous`` (release id or None),
            ``current``, ``converted`` (adopted release id or None).
        :raises Oxzep7Error: when the release does not exist or is not verified, or the releases
            directory is not a real directory.
        """
        path = self.release_path(release_id)
        if not self.has_releases_dir() or not os.path.isdir(path) or os.path.islink(path):
            raise Oxzep7Error("release %s does not exist in %s" % (release_id, self.releases_dir))
        if self.marker(release_id).get("state") != STATE_VERIFIED:
            raise Oxzep7Error("release %s is not verified; run venv_verify on it first" % release_id)
        kind = self.kind()
        previous = self.current_release()
        if kind == "release" and previous == release_id:
            return dict(changed=False, previous=previous, current=release_id, converted=None)
        converted = None
        if not check_mode:
            owner = owner or ownership(self.live_path() or path)
            if kind == "plain":
                converted = previous = self.convert(owner)
            if previous and not self.marker(release_id).get("origin"):
                # only into releases built here: adopted and restored ones stay byte-identical
                for link in link_previous_lib(self.release_path(previous), path, os.path.join("..", "..")):
                    apply_owner(link, owner, recursive=False)
            self._point_at(release_id)
            apply_owner(self.stable, owner, recursive=False)
        elif kind == "plain":
            converted = previous = self.adopt_id()
        return dict(changed=True, previous=previous, current=release_id, converted=converted)

    def prune(self, keep, check_mode=False):
        """Remove old and unfinished releases.

        Keeps the current release, the newest verified release before it (the
        rollback target), a release a snapshot writer still reads (``_common.dir_locked``)
        and, counting those, the ``keep`` newest verified ones.
        Unverified releases other than the current one are removed.

        :param keep: how many verified releases to keep (int, at least 2 in effect).
        :returns: list of removed release ids.
        """
        releases = self.releases()
        verified = [r["id"] for r in releases if r["verified"]]
        protect = set(verified[-max(keep, 1):])
        protect.update(r["id"] for r in releases if r["current"])
        rollback_target = self.previous_verified()
        if rollback_target:
            protect.add(rollback_target)
        # a release a snapshot writer still reads (it holds a shared flock on it): the venv that was live
        protect.update(r["id"] for r in releases if dir_locked(self.release_path(r["id"])))
        removed = [r["id"] for r in releases if r["id"] not in protect]
        if not check_mode:
            for release_id in removed:
                self.remove_release(release_id)
        return removed


# Executed by site.py at every interpreter start in a release we build (site-packages
# .pth lines that start with "import" are run: see the documentation of the site module).
# It rewrites sys.path entries under sys.prefix (the stable path, a symlink) to the
# release's real directory, so a process keeps importing from the release it started
# on even when the stable path is switched while it runs.
PIN_PTH_NAME = "00-oxzep7-release.pth"
PIN_PTH = ("import os, sys; p = sys.prefix; r = os.path.realpath(p); "
           "sys.path[:] = [r + e[len(p):] if r != p and (e == p or e.startswith(p + os.sep)) else e "
           "for e in sys.path]\n")


def pin_release(release_dir):
    """Write the start-up pin (see ``PIN_PTH``) into every ``lib/python*/site-packages`` of a release.

    :returns: the list of files written.
    """
    written = []
    lib = os.path.join(release_dir, "lib")
    for name in sorted(os.listdir(lib)) if os.path.isdir(lib) else []:
        site = os.path.join(lib, name, "site-packages")
        if name.startswith("python") and os.path.isdir(site) and not os.path.islink(os.path.join(lib, name)):
            path = os.path.join(site, PIN_PTH_NAME)
            with open(path, "w") as fh:
                fh.write(PIN_PTH)
            written.append(path)
    return written


def link_previous_lib(previous_dir, release_dir, releases_rel_to_lib):
    """Give ``release_dir`` a ``lib/pythonX.Y`` link to each such directory of the previous release it lacks.

    A process started through the stable path on the previous release computed its
    ``sys.path`` as ``<stable>/lib/pythonX.Y/site-packages``; after the switch that
    path leads here, and the link sends it on to the previous release's files.

    :param releases_rel_to_lib: relative path from ``release_dir/lib`` to the releases directory.
    :returns: the list of links made.
    """
    made = []
    old_lib, new_lib = os.path.join(previous_dir, "lib"), os.path.join(release_dir, "lib")
    if not (os.path.isdir(old_lib) and os.path.isdir(new_lib)):
        return made
    for name in sorted(os.listdir(old_lib)):
        target = os.path.join(new_lib, name)
        if name.startswith("python") and not os.path.lexists(target):
            os.symlink(os.path.join(releases_rel_to_lib, os.path.basename(previous_dir), "lib", name), target)
            made.append(target)
    return made


def unlink_entry(directory, name):
    """Remove the file or symlink ``name`` of ``directory`` if it is there.

    ``directory`` is opened with ``O_NOFOLLOW`` and the entry removed relative to it, so a
    directory replaced by a symlink meanwhile is refused (``OSError``, ``ELOOP``) instead of
    followed; a symlink entry is removed itself.

    :param directory: absolute path of a real directory (str).
    :param name: one path component (str).
    :returns: True when an entry was removed.
    :raises OSError: when ``directory`` is a symlink or the entry cannot be removed (a directory).
    """
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        os.unlink(name, dir_fd=fd)
        return True
    except FileNotFoundError:
        return False
    finally:
        os.close(fd)


def ownership(path):
    """Return ``(uid, gid, mode)`` of ``path`` (follows a symlink to its directory)."""
    st = os.stat(path)
    return (st.st_uid, st.st_gid, st.st_mode & 0o7777)


def apply_owner(path, owner, recursive=True):
    """Give ``path`` (and with ``recursive`` everything under it) ``owner``'s uid and gid.

    Only root can give files away; as any other user this is a no-op, because the
    files already belong to that user. The top directory also gets ``owner``'s mode.
    Symlinks are changed themselves, never followed.
    """
    uid, gid, mode = owner
    if os.path.isdir(path) and not os.path.islink(path):
        os.chmod(path, mode)
    if os.geteuid() != 0:
        return
    os.lchown(path, uid, gid)
    if not recursive:
        return
    for top, dirs, files in os.walk(path):
        for name in dirs + files:
            os.lchown(os.path.join(top, name), uid, gid)
