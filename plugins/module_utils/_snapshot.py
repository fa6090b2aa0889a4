# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Snapshots of a live venv and restores of them into new releases.

A snapshot is a directory ``<backup_dir>/<slug>/<snapshot_id>/`` (mode 0700)::

    lock.txt          exact pins (see _lock)
    venv.json         the inspection facts: interpreter and distributions
    pip-freeze.txt    ``pip freeze --all`` output (when the venv has pip)
    pip-inspect.json  ``pip inspect`` output (pip 22.2 and later)
    pyvenv.cfg        a copy of the venv's
    release.tar.gz    the release directory (.tar, .tar.gz, .tar.xz or .tar.bz2)
    snapshot.json     metadata: ids, stable path, owner, sizes, created
    SHA256SUMS        sha256 of every file above, in ``sha256sum -c`` format

It is written to ``<snapshot_id>.partial`` and renamed when complete, so a
directory without that suffix is always whole.
"""

from __future__ import absolute_import, division, print_function

import hashlib
import json
import os
import shutil
import stat
import tarfile
import time

from ansible_collections.oxzep7.python.plugins.module_utils._common import (
    Oxzep7Error, read_json, write_json_atomic)
from ansible_collections.oxzep7.python.plugins.module_utils._installer import pip_freeze_and_inspect
from ansible_collections.oxzep7.python.plugins.module_utils._layout import (
    STATE_BUILT, apply_owner, check_release_id, ownership)
from ansible_collections.oxzep7.python.plugins.module_utils._lock import build_lock, render_lock
from ansible_collections.oxzep7.python.plugins.module_utils._state import slug
from ansible_collections.oxzep7.python.plugins.module_utils._venv import (
    inspect_python, python_of, read_pyvenv_cfg, venv_distributions)

__metaclass__ = type

COMPRESSION = {"gz": ("w:gz", ".tar.gz"), "xz": ("w:xz", ".tar.xz"),
               "bz2": ("w:bz2", ".tar.bz2"), "none": ("w", ".tar")}
SUMS = "SHA256SUMS"
_CHUNK = 1024 * 1024


def sha256_file(path):
    """Return the hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_sums(directory):
    """Write ``SHA256SUMS`` for every regular file in ``directory`` (sorted names)."""
    names = sorted(n for n in os.listdir(directory)
                   if n != SUMS and os.path.isfile(os.path.join(directory, n)))
    with open(os.path.join(directory, SUMS), "w") as fh:
        for name in names:
            fh.write("%s  %s\n" % (sha256_file(os.path.join(directory, name)), name))


def check_sums(directory):
    """Check a snapshot's files against its ``SHA256SUMS``.

    :returns: list of problems (str); empty when every file matches.
    """
    try:
        with open(os.path.join(directory, SUMS)) as fh:
            lines = [line.rstrip("\n") for line in fh if line.strip()]
    except (IOError, OSError):
        return ["%s has no %s" % (directory, SUMS)]
    problems = []
    for line in lines:
        want, name = line.split("  ", 1)
        path = os.path.join(directory, name)
        if os.path.basename(name) != name or not os.path.isfile(path):
            problems.append("%s is missing" % name)
        elif sha256_file(path) != want:
            problems.append("%s does not match its sha256" % name)
    return problems


def snapshot_root(backup_dir, stable_path):
    """Return ``<backup_dir>/<slug>``, where the snapshots of ``stable_path`` live."""
    return os.path.join(backup_dir, slug(stable_path))


def list_snapshots(backup_dir, stable_path):
    """Return the complete snapshots of a stable path, oldest first.

    :returns: list of snapshot.json dicts, each with ``path`` added.
    """
    root = snapshot_root(backup_dir, stable_path)
    try:
        names = os.listdir(root)
    except OSError:
        return []
    out = []
    for name in names:
        meta = read_json(os.path.join(root, name, "snapshot.json"))
        if meta and not name.endswith(".partial"):
            meta["path"] = os.path.join(root, name)
            out.append(meta)
    return sorted(out, key=lambda m: (m.get("created", 0), m["snapshot_id"]))


def describe_live(runner, layout, facts=None):
    """Inspect the live venv of ``layout`` and render its lock.

    :param facts: what ``inspect_python`` already returned for the live venv, to not run it twice.
    :returns: dict with ``path`` (the live directory), ``facts``, ``entries``,
        ``lock_text`` and ``lock_sha256``.
    :raises Oxzep7Error: when there is no venv at the stable path.
    """
    live = layout.live_path()
    if live is None:
        raise Oxzep7Error("there is no venv at %s" % layout.stable)
    facts = facts or inspect_python(runner, python_of(live))
    entries = build_lock(venv_distributions(facts))
    text = render_lock(entries, header=["lock of %s, Python %s (%s)" % (
        layout.stable, facts["python"]["version"], facts["python"]["implementation"])])
    return dict(path=live, facts=facts, entries=entries, lock_text=text,
                lock_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest())


def _archive(source, dest, compression):
    mode = COMPRESSION[compression][0]
    kwargs = {"compresslevel": 6} if compression in ("gz", "bz2") else {}
    with tarfile.open(dest, mode, **kwargs) as tar:
        for name in sorted(os.listdir(source)):
            tar.add(os.path.join(source, name), arcname=name, recursive=True)


def take(runner, layout, backup_dir, snapshot_id=None, compression="gz", keep=5, check_mode=False):
    """Snapshot the live venv of ``layout``.

    :param backup_dir: the backup root (str); ``<backup_dir>/<slug>`` is made 0700.
    :param snapshot_id: its name; default ``<current release id or 'plain'>-<12 hex of the
        lock's sha256>``, so the same live venv always gives the same snapshot.
    :param compression: ``gz``, ``xz``, ``bz2`` or ``none``.
    :param keep: how many snapshots of this stable path to keep (int, at least 1).
    :returns: dict with ``changed``, ``snapshot_id``, ``path``, ``lock_path``,
        ``archive``, ``archive_bytes``, ``seconds``, ``removed`` (snapshot ids) and
        ``release_id``.
    :raises Oxzep7Error: on a missing venv or a bad compression.
    """
    if compression not in COMPRESSION:
        raise Oxzep7Error("compression must be one of %s" % ", ".join(sorted(COMPRESSION)))
    started = time.time()
    live = describe_live(runner, layout)
    release_id = layout.current_release()
    snapshot_id = check_release_id(snapshot_id or "%s-%s" % (release_id or "plain", live["lock_sha256"][:12]))
    root = snapshot_root(backup_dir, layout.stable)
    final = os.path.join(root, snapshot_id)
    archive_name = "release" + COMPRESSION[compression][1]
    result = dict(changed=False, snapshot_id=snapshot_id, path=final, release_id=release_id,
                  lock_path=os.path.join(final, "lock.txt"), removed=[],
                  archive=os.path.join(final, archive_name), archive_bytes=None)
    if os.path.isdir(final) and not check_sums(final):
        meta = read_json(os.path.join(final, "snapshot.json"), {})
        result.update(archive=os.path.join(final, meta.get("archive", archive_name)),
                      archive_bytes=meta.get("archive_bytes"), seconds=0.0)
        return result
    result["changed"] = True
    if check_mode:
        result["seconds"] = round(time.time() - started, 3)
        return result
    for path in (backup_dir, root):
        if not os.path.isdir(path):
            os.makedirs(path, 0o700)
        os.chmod(path, 0o700)
    partial = final + ".partial"
    for stale in (partial, final):
        if os.path.isdir(stale):
            shutil.rmtree(stale)
    os.mkdir(partial, 0o700)
    python = python_of(live["path"])
    freeze, inspect = pip_freeze_and_inspect(runner, python)
    with open(os.path.join(partial, "lock.txt"), "w") as fh:
        fh.write(live["lock_text"])
    with open(os.path.join(partial, "venv.json"), "w") as fh:
        json.dump(live["facts"], fh, indent=2, sort_keys=True)
    if freeze is not None:
        with open(os.path.join(partial, "pip-freeze.txt"), "w") as fh:
            fh.write(freeze)
    if inspect is not None:
        with open(os.path.join(partial, "pip-inspect.json"), "w") as fh:
            fh.write(inspect)
    shutil.copyfile(os.path.join(live["path"], "pyvenv.cfg"), os.path.join(partial, "pyvenv.cfg"))
    _archive(live["path"], os.path.join(partial, archive_name), compression)
    uid, gid, mode = ownership(live["path"])
    meta = dict(snapshot_id=snapshot_id, stable_path=layout.stable, release_id=release_id,
                python_version=live["facts"]["python"]["version"], created=time.time(),
                archive=archive_name, compression=compression, lock_sha256=live["lock_sha256"],
                archive_bytes=os.path.getsize(os.path.join(partial, archive_name)),
                owner=dict(uid=uid, gid=gid, mode="%04o" % mode))
    write_json_atomic(os.path.join(partial, "snapshot.json"), meta, mode=0o600)
    write_sums(partial)
    os.rename(partial, final)
    result["archive_bytes"] = meta["archive_bytes"]
    result["removed"] = prune(backup_dir, layout.stable, keep, protect=snapshot_id)
    result["seconds"] = round(time.time() - started, 3)
    return result


def prune(backup_dir, stable_path, keep, protect=None, check_mode=False):
    """Remove all but the ``keep`` newest snapshots of a stable path and any ``.partial`` leftovers.

    :param protect: a snapshot id never removed (the one just taken).
    :returns: list of removed snapshot ids.
    """
    snaps = list_snapshots(backup_dir, stable_path)
    doomed = [s for s in snaps[:max(len(snaps) - max(keep, 1), 0)] if s["snapshot_id"] != protect]
    root = snapshot_root(backup_dir, stable_path)
    leftovers = [n for n in (os.listdir(root) if os.path.isdir(root) else []) if n.endswith(".partial")]
    if not check_mode:
        for snap in doomed:
            shutil.rmtree(snap["path"])
        for name in leftovers:
            shutil.rmtree(os.path.join(root, name))
    return [s["snapshot_id"] for s in doomed]


def unsafe_members(tar):
    """Return the reasons (list of str) that make an archive unsafe to extract.

    Refused: absolute names, ``..`` components, device and FIFO members, hard links
    to outside the archive, and members below a symbolic link of the archive (which
    could write through it). Symbolic links to absolute paths are allowed: a venv's
    ``bin/python`` is one.
    """
    problems, links = [], set()
    for member in tar.getmembers():
        name = member.name
        parts = name.split("/")
        if name.startswith("/") or ".." in parts:
            problems.append("%s: path leaves the release directory" % name)
        if member.isdev() or member.isfifo():
            problems.append("%s: device or FIFO" % name)
        if member.islnk() and (member.linkname.startswith("/") or ".." in member.linkname.split("/")):
            problems.append("%s: hard link to %s outside the archive" % (name, member.linkname))
        for i in range(1, len(parts)):
            if "/".join(parts[:i]) in links:
                problems.append("%s: lies below the symbolic link %s" % (name, "/".join(parts[:i])))
                break
        if member.issym():
            links.add(name.rstrip("/"))
    return problems


def check_archive(tar, what, top=None):
    """Refuse an archive that is unsafe to extract (see :func:`unsafe_members`).

    :param what: words naming it in the error, e.g. ``to restore /path`` or ``pyenv archive /path``.
    :param top: when given, every member must also lie in this top directory.
    :raises Oxzep7Error: listing up to 10 reasons.
    """
    problems = unsafe_members(tar)
    if top:
        problems += ["%s: outside %s/" % (m.name, top) for m in tar.getmembers() if m.name.split("/")[0] != top]
    if problems:
        raise Oxzep7Error("refusing %s: %s" % (what, "; ".join(problems[:10])))


def extract(tar, dest, **kwargs):
    """Extract a checked archive into ``dest``, with tarfile's ``tar`` filter where Python has it (PEP 706)."""
    if hasattr(tarfile, "tar_filter"):
        kwargs["filter"] = "tar"
    tar.extractall(dest, **kwargs)


def open_snapshot(backup_dir, stable_path, snapshot):
    """Find and check a snapshot by id or absolute path.

    :returns: ``(path, meta)``.
    :raises Oxzep7Error: when it is missing, a checksum fails, or it belongs to
        another stable path.
    """
    path = snapshot if os.path.isabs(snapshot) else os.path.join(
        snapshot_root(backup_dir, stable_path), check_release_id(snapshot))
    meta = read_json(os.path.join(path, "snapshot.json"))
    if not meta:
        raise Oxzep7Error("snapshot %s does not exist or has no snapshot.json" % path)
    problems = check_sums(path)
    if problems:
        raise Oxzep7Error("snapshot %s failed its checksums: %s" % (path, "; ".join(problems)))
    if meta.get("stable_path") != stable_path:
        raise Oxzep7Error("snapshot %s was taken of %s, not %s; its scripts name that path"
                          % (path, meta.get("stable_path"), stable_path))
    return path, meta


def restore(layout, backup_dir, snapshot, release_id=None, check_mode=False):
    """Unpack a snapshot into a new release directory (not switched to).

    :param snapshot: a snapshot id under the backup directory, or an absolute path.
    :param release_id: the new release's id; default ``restored-<snapshot id>``.
    :returns: dict with ``changed``, ``release_id``, ``release_path``, ``snapshot_id``,
        ``python_version``.
    :raises Oxzep7Error: on a failed checksum, an unsafe member, a missing interpreter
        or a release id already used by something else.
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
    with tarfile.open(os.path.join(path, meta["archive"])) as tar:
        check_archive(tar, "to restore %s" % path)
        result["changed"] = True
        if check_mode:
            return result
        owner = meta.get("owner") or {}
        owner = (owner.get("uid", os.geteuid()), owner.get("gid", os.getegid()),
                 int(owner.get("mode", "0755"), 8))
        layout.ensure_releases_dir(owner)
        work = dest + ".restoring"
        if os.path.isdir(work):
            shutil.rmtree(work)
        os.mkdir(work, 0o700)
        try:
            extract(tar, work, numeric_owner=True)
            apply_owner(work, owner, recursive=False)
            layout.guard()  # a run that took the venv over meanwhile gets nothing half made
            os.rename(work, dest)
        except Exception:
            shutil.rmtree(work, ignore_errors=True)
            raise
    layout.write_marker(release_id, state=STATE_BUILT, origin=origin, created=time.time(),
                        python_version=meta.get("python_version"))
    return result


def tree_manifest(path):
    """Return ``{relative path: description}`` for every entry under ``path``.

    Files map to their sha256, symlinks to ``-> target``, directories to ``dir``;
    each with its mode. Used to prove a release is byte-identical before and after.
    """
    out = {}
    for top, dirs, files in os.walk(path):
        for name in dirs + files:
            full = os.path.join(top, name)
            rel = os.path.relpath(full, path)
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = "-> %s" % os.readlink(full)
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = "dir %o" % stat.S_IMODE(st.st_mode)
            else:
                out[rel] = "%s %o" % (sha256_file(full), stat.S_IMODE(st.st_mode))
    return out
