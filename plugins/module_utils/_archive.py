# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tar archives and sha256 manifests: writing, checking and extracting untrusted archives.

Used by snapshots (``_snapshot``) and by interpreter and pyenv archives (``_pyenv``).

Compressions: ``gz``, ``xz``, ``bz2`` and ``none`` through Python's ``tarfile``, and ``zstd``
through the external ``zstd`` program (Zstandard CLI, RFC 8878 frames): ``tarfile`` writes the
tar stream into ``zstd -3 -T0 -q -c``'s stdin and reads it back from ``zstd -d -c -q``'s stdout,
argument lists and never a shell, each process under a watchdog that kills it at its time limit.

Every archive read is untrusted: each member's name, type, link target and mode is checked
(:func:`unsafe_members`) before anything is extracted, and a zstd archive, read twice (once to
check, once to extract), must give the very members it gave the first time.
"""

from __future__ import absolute_import, division, print_function

import hashlib
import os
import posixpath
import re
import shutil
import stat
import subprocess
import tarfile
import tempfile
import threading
import zlib

try:
    from lzma import LZMAError
except ImportError:  # a Python built without liblzma: tarfile reports .xz as a CompressionError
    LZMAError = EOFError

from ansible_collections.oxzep7.python.plugins.module_utils._common import TIMEOUT_INSTALL, Oxzep7Error

__metaclass__ = type

# compression name: (tarfile mode or None for the zstd program, file name suffix)
COMPRESSION = {"zstd": (None, ".tar.zst"), "gz": ("w:gz", ".tar.gz"), "xz": ("w:xz", ".tar.xz"),
               "bz2": ("w:bz2", ".tar.bz2"), "none": ("w", ".tar")}
# The first bytes of a Zstandard frame (RFC 8878, section 3.1.1).
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
ZSTD_WRITE = ("-3", "-T0", "-q", "-c")
ZSTD_READ = ("-d", "-c", "-q")
TIMEOUT_ARCHIVE = TIMEOUT_INSTALL  # seconds writing or reading one archive may take
SUMS = "SHA256SUMS"
# One line of ``sha256sum`` text output: 64 lowercase hex digits, two spaces, a plain file name.
SUM_LINE = re.compile(r"^([0-9a-f]{64})  ([A-Za-z0-9][A-Za-z0-9._-]*)$")
_SUMS_MAX_BYTES = 64 * 1024
_CHUNK = 1024 * 1024
# What reading or extracting a damaged archive raises: tarfile's own errors, a compressed stream
# that ends early (EOFError), the decompressors' errors (gzip's BadGzipFile and bz2's are OSError),
# and OSError from the disk.
ARCHIVE_ERRORS = (tarfile.TarError, EOFError, zlib.error, LZMAError, OSError)


# -- sha256 ----------------------------------------------------------------------------------------
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
    """Check a directory against its ``SHA256SUMS``, which is untrusted.

    ``SHA256SUMS`` must be UTF-8 text of at most 64 KiB ending in a newline, every line exactly
    ``<64 lowercase hex digits>  <plain file name>`` (the text format of ``sha256sum``, GNU
    coreutils). Every other entry of the directory must be a regular file (not a symlink) listed
    exactly once, nothing absent may be listed, and each file's sha256 must match.

    :param directory: the directory (str), e.g. a snapshot.
    :returns: list of problems (str), each naming the file; empty when the directory is whole.
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


def tree_manifest(path):
    """Return ``{relative path: description}`` for every entry under ``path``.

    Files map to their sha256, symlinks to ``-> target``, directories to ``dir``;
    each with its mode. Used to prove a tree is byte-identical before and after.
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


# -- the zstd program --------------------------------------------------------------------------------
class ZstdError(Oxzep7Error):
    """The zstd program failed or overstayed its time limit (``msg`` names the archive; ``rc``,
    ``stderr`` and ``cmd`` are in the details)."""


class _Zstd:
    """One ``zstd`` process with a watchdog: a context manager that kills it at its time limit and,
    on leaving, waits for it and raises when it failed.

    :param argv: the command (list of str), ``zstd`` first.
    :param what: words naming the archive in errors, e.g. ``archive /b/release.tar.zst``.
    :param timeout: seconds (int) before the process is killed.
    :param popen: passed to ``subprocess.Popen`` (``stdin``, ``stdout``).
    """

    def __init__(self, argv, what, timeout, **popen):
        self.argv, self.what, self.timeout = list(argv), what, timeout
        self.stderr = tempfile.TemporaryFile()
        try:
            self.proc = subprocess.Popen(self.argv, stderr=self.stderr, **popen)
        except OSError as exc:
            self.stderr.close()
            raise Oxzep7Error("cannot run %s for %s: %s" % (self.argv[0], what, exc), cmd=self.argv, rc=None,
                              stdout="", stderr=str(exc))
        self.timed_out = False
        self.watchdog = threading.Timer(timeout, self._expire)
        self.watchdog.daemon = True
        self.watchdog.start()

    def _expire(self):
        self.timed_out = True
        self.kill()

    def kill(self):
        """Kill the process if it still runs."""
        if self.proc.poll() is None:
            self.proc.kill()

    def __enter__(self):
        return self.proc

    def __exit__(self, kind, value, traceback):
        if kind is None and self.proc.stdout is not None:
            while self.proc.stdout.read(_CHUNK):  # tar's padding after the end-of-archive blocks
                pass
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except (IOError, OSError):
                    pass  # a broken pipe: the exit status tells why
        if kind is not None and not issubclass(kind, BrokenPipeError):
            self.kill()
        rc = self.proc.wait()
        self.watchdog.cancel()
        self.stderr.seek(0)
        err = self.stderr.read().decode("utf-8", "replace").strip()
        self.stderr.close()
        details = dict(cmd=self.argv, rc=rc, stdout="", stderr=err)
        if self.timed_out:
            raise ZstdError("%s: zstd took longer than %d s and was stopped" % (self.what, self.timeout), **details)
        # a broken pipe is zstd's failure (a full disk): its own words say why
        if rc != 0 and (kind is None or issubclass(kind, BrokenPipeError)):
            raise ZstdError("%s: zstd failed (rc=%s): %s" % (self.what, rc, err), **details)
        return False


def pick_compression(compression, which):
    """Return ``(compression, zstd)``: the compression to write and the zstd program's path.

    :param compression: ``auto`` (``zstd`` when the program is found, else ``gz``), or one of
        :data:`COMPRESSION`.
    :param which: callable ``name -> path or None`` (``AnsibleModule.get_bin_path`` with
        ``required=False``, or ``shutil.which``).
    :returns: ``(str, str or None)``; the path is None unless the compression is ``zstd``.
    :raises Oxzep7Error: on an unknown compression, or ``zstd`` when the program is not found.
    """
    if compression != "auto" and compression not in COMPRESSION:
        raise Oxzep7Error("compression must be one of %s" % ", ".join(["auto"] + sorted(COMPRESSION)))
    if compression not in ("auto", "zstd"):
        return compression, None
    zstd = which("zstd")
    if zstd:
        return "zstd", zstd
    if compression == "auto":
        return "gz", None
    raise Oxzep7Error("compression zstd needs the zstd program, which is not on PATH; install zstd "
                      "or use compression auto")


class Packer:
    """Writes a tar archive, in the calling thread (:meth:`run`); :meth:`stop` from another thread
    ends it early (the archive is then incomplete and :meth:`run` raises).

    :param dest: the archive's path (str); created or truncated.
    :param entries: list of ``(path, name in the archive)``, each added recursively, in order.
    :param compression: one of :data:`COMPRESSION` (not ``auto``: see :func:`pick_compression`).
    :param zstd: the zstd program's path (str) for ``zstd``.
    :param compresslevel: gzip or bzip2 level (int 1-9); 6 when None.
    :param member_filter: ``TarInfo -> TarInfo``, may raise to refuse a member (``tarfile`` filter).
    :param timeout: seconds (int) the zstd process may run.
    """

    def __init__(self, dest, entries, compression, zstd=None, compresslevel=None, member_filter=None,
                 timeout=TIMEOUT_ARCHIVE):
        self.dest, self.entries, self.compression, self.zstd = dest, list(entries), compression, zstd
        self.compresslevel = compresslevel or 6
        self.member_filter = member_filter
        self.timeout = timeout
        self._stopped = threading.Event()
        self._process = None

    def _filter(self, member):
        if self._stopped.is_set():
            raise Oxzep7Error("writing archive %s was stopped" % self.dest)
        return self.member_filter(member) if self.member_filter else member

    def _add_all(self, tar):
        for path, name in self.entries:
            tar.add(path, arcname=name, recursive=True, filter=self._filter)

    def run(self):
        """Write the archive.

        :raises Oxzep7Error: when zstd fails or overstays, or :meth:`stop` was called.
        :raises OSError: on a full disk or a file that cannot be read (one of :data:`ARCHIVE_ERRORS`).
        """
        mode = COMPRESSION[self.compression][0]
        with open(self.dest, "wb") as out:
            if mode is not None:
                kwargs = {"compresslevel": self.compresslevel} if self.compression in ("gz", "bz2") else {}
                with tarfile.open(fileobj=out, mode=mode, **kwargs) as tar:
                    self._add_all(tar)
                return
            self._process = _Zstd([self.zstd] + list(ZSTD_WRITE), "cannot write archive %s" % self.dest,
                                  self.timeout, stdin=subprocess.PIPE, stdout=out)
            with self._process as proc:
                with tarfile.open(fileobj=proc.stdin, mode="w|") as tar:
                    self._add_all(tar)
            out.flush()
            os.fsync(out.fileno())

    def stop(self):
        """Make :meth:`run` end at its next member and kill the zstd process (safe from any thread)."""
        self._stopped.set()
        if self._process is not None:
            self._process.kill()


# -- checking and extracting untrusted archives -------------------------------------------------------
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


def unsafe_members(members):
    """Return the reasons (list of str, each ``<member name>: <reason>``) that make an archive
    unsafe to extract into an empty directory as root.

    :param members: the archive's members in order (list of ``tarfile.TarInfo``), or an open
        ``tarfile.TarFile`` (its ``getmembers()``).

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
    if isinstance(members, tarfile.TarFile):
        members = members.getmembers()
    problems, kinds = [], {}
    for member in members:
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


def _error(exc):
    return "%s: %s" % (type(exc).__name__, exc)


def _shape(member):
    """What a member must keep between the two reads of a zstd archive."""
    return (member.name, member.type, member.linkname, member.size, member.mode, member.uid, member.gid)


class Archive:
    """A tar archive whose every member passed :func:`unsafe_members`; made by :func:`load_archive`.

    ``path`` (str), ``members`` (list of ``tarfile.TarInfo``); a context manager that closes it.
    """

    def __init__(self, path, members, tar=None, zstd=None, timeout=TIMEOUT_ARCHIVE):
        self.path, self.members, self._tar, self._zstd, self.timeout = path, members, tar, zstd, timeout

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        if self._tar is not None:
            self._tar.close()

    def _checked(self, tar):
        """Yield the members of a second read of a zstd archive, each the same as in the first."""
        count = 0
        for count, member in enumerate(tar, 1):
            if count > len(self.members) or _shape(member) != _shape(self.members[count - 1]):
                raise Oxzep7Error("refusing archive %s: it changed while it was read (member %d, %s)"
                                  % (self.path, count, member.name))
            yield member
        if count != len(self.members):
            raise Oxzep7Error("refusing archive %s: it changed while it was read (%d members, not %d)"
                              % (self.path, count, len(self.members)))

    def extract(self, dest, **kwargs):
        """Extract every member into ``dest`` (see :func:`extract`)."""
        if self._tar is not None:
            self._tar.extractall(dest, members=self.members, **kwargs)
            return
        with open(self.path, "rb") as source:
            with _Zstd([self._zstd] + list(ZSTD_READ), "cannot read archive %s" % self.path, self.timeout,
                       stdin=source, stdout=subprocess.PIPE) as proc:
                with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
                    tar.extractall(dest, members=self._checked(tar), **kwargs)


def _read_zstd_members(path, zstd, timeout):
    with open(path, "rb") as source:
        with _Zstd([zstd] + list(ZSTD_READ), "cannot read archive %s" % path, timeout,
                   stdin=source, stdout=subprocess.PIPE) as proc:
            with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
                return list(tar)


def _is_zstd(path):
    try:
        with open(path, "rb") as fh:
            return fh.read(len(ZSTD_MAGIC)) == ZSTD_MAGIC
    except (IOError, OSError):
        return False  # tarfile.open names the problem


def load_archive(path, top=None, which=shutil.which, timeout=TIMEOUT_ARCHIVE):
    """Open the tar archive at ``path`` and check every member before anything is written.

    tarfile's compressions are told apart by tarfile; a Zstandard archive by its magic number,
    read through the ``zstd`` program (found with ``which``).

    :param top: when given, every member must also lie in this top directory (str).
    :param which: callable ``name -> path or None`` to find ``zstd``; needed only for a zstd
        archive (``AnsibleModule.get_bin_path`` with ``required=False``, or ``shutil.which``).
    :param timeout: seconds (int) each zstd process may run.
    :returns: an :class:`Archive`; use it in a ``with`` block.
    :raises Oxzep7Error: naming the file when it is not a tar archive, is truncated or its
        compressed stream is damaged, zstd is needed and missing, or a member is unsafe
        (``refusing archive <path>: <member>: <reason>``, up to 10 reasons).
    """
    tar = zstd = None
    try:
        if _is_zstd(path):
            zstd = which("zstd")
            if not zstd:
                raise Oxzep7Error("cannot read archive %s: it is zstd-compressed and the zstd program is "
                                  "not on PATH; install zstd" % path)
            members = _read_zstd_members(path, zstd, timeout)
        else:
            tar = tarfile.open(path)
            members = tar.getmembers()
    except ARCHIVE_ERRORS as exc:
        if tar is not None:
            tar.close()
        raise Oxzep7Error("cannot read archive %s: %s" % (path, _error(exc)))
    problems = unsafe_members(members)
    if top:
        problems += ["%s: outside %s/" % (m.name, top) for m in members
                     if (_archive_key(m.name) or "").split("/")[0] != top]
    if problems:
        if tar is not None:
            tar.close()
        raise Oxzep7Error("refusing archive %s: %s" % (path, "; ".join(problems[:10])))
    return Archive(path, members, tar, zstd, timeout)


def _second_check(member, dest):
    """Extraction filter (PEP 706): refuse what ``tarfile.data_filter`` refuses, for every member
    but symbolic links (whose absolute targets a venv needs); the member is returned unchanged, so
    the owners and modes :func:`unsafe_members` accepted are kept (the data filter would drop both)."""
    if not member.issym():
        tarfile.data_filter(member, dest)
    return member


def extract(archive, dest, **kwargs):
    """Extract an :class:`Archive` from :func:`load_archive` into the empty directory ``dest``.

    Where Python has tarfile's extraction filters, each member also passes ``tarfile.data_filter``
    as a second check (see :func:`_second_check`).

    :param kwargs: passed to ``TarFile.extractall`` (``numeric_owner``).
    :raises Oxzep7Error: naming the archive and ``dest`` when extraction fails (a truncated or
        damaged archive, a full disk, a member the filter refuses, a zstd archive that changed
        since it was checked).
    """
    if hasattr(tarfile, "data_filter"):
        kwargs["filter"] = _second_check
    try:
        archive.extract(dest, **kwargs)
    except ARCHIVE_ERRORS as exc:
        raise Oxzep7Error("cannot extract %s into %s: %s" % (archive.path, dest, _error(exc)))
