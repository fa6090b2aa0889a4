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
directory without that suffix is always whole; a take that fails removes its partial copy.

Everything read back is untrusted: the file list is checked exactly against SHA256SUMS,
snapshot.json must have the shape :func:`take` writes, and every archive member's name,
type, link target and mode is checked before anything is extracted (:func:`unsafe_members`).
"""

from __future__ import absolute_import, division, print_function

import hashlib
import json
import os
import posixpath
import re
import shutil
import stat
import tarfile
import time
import zlib

try:
    from lzma import LZMAError
except ImportError:  # a Python built without liblzma: tarfile reports .xz as a CompressionError
    LZMAError = EOFError

from ansible_collections.oxzep7.python.plugins.module_utils._common import (
    Oxzep7Error, remove_tree, write_json_atomic)
from ansible_collections.oxzep7.python.plugins.module_utils._installer import pip_freeze_and_inspect
from ansible_collections.oxzep7.python.plugins.module_utils._layout import (
    RELEASE_ID, STATE_BUILT, apply_owner, check_release_id, ownership)
from ansible_collections.oxzep7.python.plugins.module_utils._lock import build_lock, render_lock
from ansible_collections.oxzep7.python.plugins.module_utils._state import slug
from ansible_collections.oxzep7.python.plugins.module_utils._venv import (
    inspect_python, python_of, read_pyvenv_cfg, venv_distributions)

__metaclass__ = type

COMPRESSION = {"gz": ("w:gz", ".tar.gz"), "xz": ("w:xz", ".tar.xz"),
               "bz2": ("w:bz2", ".tar.bz2"), "none": ("w", ".tar")}
SUMS = "SHA256SUMS"
META = "snapshot.json"
ARCHIVE_NAMES = tuple("release" + suffix for _mode, suffix in COMPRESSION.values())
# One line of ``sha256sum`` text output: 64 lowercase hex digits, two spaces, a plain file name.
SUM_LINE = re.compile(r"^([0-9a-f]{64})  ([A-Za-z0-9][A-Za-z0-9._-]*)$")
_SUMS_MAX_BYTES = 64 * 1024
_CHUNK = 1024 * 1024
# What reading or extracting a damaged archive raises: tarfile's own errors, a compressed stream
# that ends early (EOFError), the decompressors' errors (gzip's BadGzipFile and bz2's are OSError),
# and OSError from the disk.
ARCHIVE_ERRORS = (tarfile.TarError, EOFError, zlib.error, LZMAError, OSError)


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
    """Check a snapshot directory against its ``SHA256SUMS``, which is untrusted.

    ``SHA256SUMS`` must be UTF-8 text of at most 64 KiB ending in a newline, every line exactly
    ``<64 lowercase hex digits>  <plain file name>`` (the text format of ``sha256sum``, GNU
    coreutils). Every other entry of the directory must be a regular file (not a symlink) listed
    exactly once, nothing absent may be listed, and each file's sha256 must match.

    :param directory: the snapshot directory (str).
    :returns: list of problems (str), each naming the file; empty when the snapshot is whole.
    """
    sums = os.path.join(directory, SUMS)
    try:
        entries = sorted(os.listdir(directory))
        kinds = dict((name, os.lstat(os.path.join(directory, name)).st_mode) for name in entries)
        if not stat.S_ISREG(kinds.get(SUMS, 0)):
            return ["%s is missing or not a regular file" % sums]
        with open(sums, "rb") as fh:
            raw = fh.read(_SUMS_MAX_BYTES + 1)
    except (IOError, OSError) as exc:
        return ["cannot read %s: %s" % (sums, exc)]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return ["%s is not UTF-8 text" % sums]
    if not text or len(raw) > _SUMS_MAX_BYTES or not text.endswith("\n"):
        return ["%s is empty, larger than 64 KiB or does not end with a newline" % sums]
    listed, problems = {}, []
    for number, line in enumerate(text[:-1].split("\n"), 1):
        match = SUM_LINE.match(line)
        if not match:
            problems.append("%s line %d is not '<sha256>  <file name>': %r" % (sums, number, line[:80]))
        elif match.group(2) in listed or match.group(2) == SUMS:
            problems.append("%s line %d lists %s a second time or lists itself" % (sums, number, match.group(2)))
        else:
            listed[match.group(2)] = match.group(1)
    for name in entries:
        if name == SUMS:
            continue
        if not stat.S_ISREG(kinds[name]):
            problems.append("%s is not a regular file" % name)
        elif name not in listed:
            problems.append("%s is not listed in %s" % (name, SUMS))
        elif sha256_file(os.path.join(directory, name)) != listed[name]:
            problems.append("%s does not match its sha256" % name)
    problems += ["%s is listed in %s but missing" % (name, SUMS) for name in sorted(set(listed) - set(entries))]
    return problems


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
    """Pack the directory ``source`` into ``dest``; refuse members a restore would refuse."""
    mode = COMPRESSION[compression][0]
    kwargs = {"compresslevel": 6} if compression in ("gz", "bz2") else {}

    def restorable(member):
        problem = member_problem(member)
        if problem:
            raise Oxzep7Error("cannot snapshot %s: %s: %s, which a restore refuses; fix it in the venv first"
                              % (source, os.path.join(source, member.name), problem))
        return member

    with tarfile.open(dest, mode, **kwargs) as tar:
        for name in sorted(os.listdir(source)):
            tar.add(os.path.join(source, name), arcname=name, recursive=True, filter=restorable)


def _write(runner, live, partial, archive_name, compression, meta):
    """Write the files of a snapshot into the directory ``partial``; return the complete ``meta``."""
    freeze, inspect = pip_freeze_and_inspect(runner, python_of(live["path"]))
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
    meta.update(archive_bytes=os.path.getsize(os.path.join(partial, archive_name)),
                owner=dict(uid=uid, gid=gid, mode="%04o" % mode))
    write_json_atomic(os.path.join(partial, META), meta, mode=0o600)
    write_sums(partial)
    return meta


def take(runner, layout, backup_dir, snapshot_id=None, compression="gz", keep=5, check_mode=False, facts=None):
    """Snapshot the live venv of ``layout``.

    :param backup_dir: the backup root (str); ``<backup_dir>/<slug>`` is made 0700.
    :param snapshot_id: its name; default ``<current release id or 'plain'>-<12 hex of the
        lock's sha256>``, so the same live venv always gives the same snapshot.
    :param compression: ``gz``, ``xz``, ``bz2`` or ``none``.
    :param keep: how many snapshots of this stable path to keep (int, at least 1).
    :param facts: what ``inspect_python`` already returned for the live venv, to not run it twice.
    :returns: dict with ``changed``, ``snapshot_id``, ``path``, ``lock_path``,
        ``archive``, ``archive_bytes``, ``seconds``, ``removed`` (snapshot ids) and
        ``release_id``.
    :raises Oxzep7Error: on a missing venv, a bad compression or snapshot id, a member a restore
        would refuse (see :func:`member_problem`), or a failed write (a full disk), naming the
        snapshot directory; the partial copy and the directories this call made are removed first.
    """
    if compression not in COMPRESSION:
        raise Oxzep7Error("compression must be one of %s" % ", ".join(sorted(COMPRESSION)))
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
    if os.path.isdir(final) and not check_sums(final):
        meta = read_meta(final)
        result.update(archive=os.path.join(final, meta["archive"]), archive_bytes=meta["archive_bytes"],
                      seconds=0.0)
        return result
    result["changed"] = True
    if check_mode:
        result["seconds"] = round(time.time() - started, 3)
        return result
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
    meta = dict(snapshot_id=snapshot_id, stable_path=layout.stable, release_id=release_id,
                python_version=live["facts"]["python"]["version"], created=time.time(),
                archive=archive_name, compression=compression, lock_sha256=live["lock_sha256"])
    try:
        os.mkdir(partial, 0o700)
        _write(runner, live, partial, archive_name, compression, meta)
        os.rename(partial, final)
    except BaseException as exc:
        remove_tree(partial, root)
        for path in reversed(made):
            os.rmdir(path)
        if isinstance(exc, ARCHIVE_ERRORS):
            raise Oxzep7Error("cannot write snapshot %s (the partial copy was removed): %s" % (final, exc))
        raise
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


def member_problem(member):
    """Return why one archive member's type or mode is unsafe to extract as root (str), or None.

    Accepted: regular files, hard links, directories and symbolic links. Refused: devices and
    FIFOs, any other type, the setuid bit, the setgid and sticky bits on anything but a
    directory, and world-writable directories. None of these occurs in a venv made by venv,
    virtualenv, pip or uv. Kept as they are: world-writable files (uv makes ``<venv>/.lock``
    0666 on purpose, and a restore reproduces a release byte for byte, modes included), and
    group-writable or setgid directories (a venv in a group-shared tree inherits setgid).
    Symbolic links have no mode of their own.

    :param member: a ``tarfile.TarInfo`` (its ``mode`` may carry the file type bits, as
        ``TarFile.gettarinfo`` leaves them).
    """
    if member.isdev() or member.isfifo():
        return "device or FIFO"
    if not (member.isreg() or member.islnk() or member.isdir() or member.issym()):
        return "unsupported member type %r" % member.type
    if member.issym():
        return None
    mode = stat.S_IMODE(member.mode)
    if mode & (stat.S_ISUID if member.isdir() else stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX):
        return "mode %04o has the setuid, setgid or sticky bit" % mode
    if member.isdir() and mode & stat.S_IWOTH:
        return "directory mode %04o is world-writable" % mode
    return None


def _archive_key(name):
    """Return a member name normalized (``./a//b`` is ``a/b``), or None when it is absolute or has ``..``."""
    if not name or name.startswith("/") or ".." in name.split("/"):
        return None
    return posixpath.normpath(name)


def _symlink_on(key, kinds):
    """Return the earlier symlink member that ``key`` is or lies below, or None."""
    parts = key.split("/")
    for i in range(1, len(parts) + 1):
        if kinds.get("/".join(parts[:i])) == "symlink":
            return "/".join(parts[:i])
    return None


def _member_reason(member, kinds):
    """Return why ``member`` is unsafe given the earlier members ``kinds`` (normalized name to kind)."""
    key = _archive_key(member.name)
    if key is None:
        return "path leaves the release directory"
    link = _symlink_on(key, kinds)
    if link == key:
        return "replaces the symbolic link of the same name before it"
    if link:
        return "lies below the symbolic link %s" % link
    if key in kinds:
        return "appears twice in the archive"
    if member.islnk():
        target = _archive_key(member.linkname)
        if target is None:
            return "hard link to %s outside the archive" % member.linkname
        through = _symlink_on(target, kinds)
        if through:
            return "hard link to %s goes through the symbolic link %s" % (member.linkname, through)
        if kinds.get(target) != "file":
            return "hard link to %s, which is not an earlier regular file of the archive" % member.linkname
    return member_problem(member)


def unsafe_members(tar):
    """Return the reasons (list of str, each ``<member name>: <reason>``) that make an archive
    unsafe to extract into an empty directory as root.

    Checked here, in full, whether or not this Python has tarfile's extraction filters (PEP 706:
    3.12, and 3.8.17, 3.9.17, 3.10.12, 3.11.4 and later patch releases):

    - names: absolute or with a ``..`` component; compared normalized (``./a//b`` is ``a/b``);
    - every name once: a member with the name of an earlier one, or of an earlier member's
      parent directory, is refused, so is one that is or lies below an earlier symbolic link
      (extracting it would write through the link);
    - hard links: the target must be an earlier regular file of the archive, by a name that
      does not go through a symbolic link of the archive;
    - type and mode: see :func:`member_problem`.

    Symbolic links themselves may point anywhere (a venv's ``bin/python`` points at its
    interpreter, ``lib/python3.X`` of a release at the previous release): nothing is extracted
    through them.
    """
    problems, kinds = [], {}
    for member in tar.getmembers():
        reason = _member_reason(member, kinds)
        if reason:
            problems.append("%s: %s" % (member.name, reason))
        key = _archive_key(member.name)
        if key is not None:
            parts = key.split("/")
            for i in range(1, len(parts)):
                kinds.setdefault("/".join(parts[:i]), "dir")
            kinds.setdefault(key, "symlink" if member.issym() else "file" if member.isreg() else "other")
    return problems


def check_archive(tar, what, top=None):
    """Refuse an archive that is unsafe to extract (see :func:`unsafe_members`).

    :param what: words naming it in the error, e.g. ``archive /path/release.tar.gz``.
    :param top: when given, every member must also lie in this top directory.
    :raises Oxzep7Error: listing up to 10 reasons.
    """
    problems = unsafe_members(tar)
    if top:
        problems += ["%s: outside %s/" % (m.name, top) for m in tar.getmembers()
                     if (_archive_key(m.name) or "").split("/")[0] != top]
    if problems:
        raise Oxzep7Error("refusing %s: %s" % (what, "; ".join(problems[:10])))


def _error(exc):
    return "%s: %s" % (type(exc).__name__, exc)


def load_archive(path, top=None):
    """Open the tar archive at ``path`` (any compression tarfile reads) and check every member.

    :param top: see :func:`check_archive`.
    :returns: the open ``tarfile.TarFile``; use it in a ``with`` block.
    :raises Oxzep7Error: naming the file when it is not a tar archive, is truncated or its
        compressed stream is damaged, or a member is unsafe.
    """
    try:
        tar = tarfile.open(path)
    except ARCHIVE_ERRORS as exc:
        raise Oxzep7Error("cannot read archive %s: %s" % (path, _error(exc)))
    try:
        check_archive(tar, "archive %s" % path, top)
    except ARCHIVE_ERRORS as exc:
        tar.close()
        raise Oxzep7Error("cannot read archive %s: %s" % (path, _error(exc)))
    except BaseException:
        tar.close()
        raise
    return tar


def _second_check(member, dest):
    """Extraction filter (PEP 706): refuse what ``tarfile.data_filter`` refuses, for every member
    but symbolic links (whose absolute targets a venv needs); the member is returned unchanged, so
    the owners and modes :func:`unsafe_members` accepted are kept (the data filter would drop both)."""
    if not member.issym():
        tarfile.data_filter(member, dest)
    return member


def extract(tar, dest, **kwargs):
    """Extract an archive from :func:`load_archive` into the empty directory ``dest``.

    Where Python has tarfile's extraction filters, each member also passes ``tarfile.data_filter``
    as a second check (see :func:`_second_check`).

    :param kwargs: passed to ``TarFile.extractall`` (``numeric_owner``).
    :raises Oxzep7Error: naming the archive and ``dest`` when extraction fails (a truncated or
        damaged archive, a full disk, a member the filter refuses).
    """
    if hasattr(tarfile, "data_filter"):
        kwargs["filter"] = _second_check
    try:
        tar.extractall(dest, **kwargs)
    except ARCHIVE_ERRORS as exc:
        raise Oxzep7Error("cannot extract %s into %s: %s" % (tar.name, dest, _error(exc)))


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


def restore(layout, backup_dir, snapshot, release_id=None, check_mode=False):
    """Unpack a snapshot into a new release directory (not switched to).

    :param snapshot: a snapshot id under the backup directory, or an absolute path.
    :param release_id: the new release's id; default ``restored-<snapshot id>``.
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
    with load_archive(os.path.join(path, meta["archive"])) as tar:
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
