"""Hostile input and faults: every case gets a clear error naming the file or member, and changes nothing.

Each test builds the bad input for real (tarballs written with tarfile, snapshots taken of a real
venv, a symlink in place of a releases directory, a 2 MiB tmpfs for a full disk), runs the
collection's code (the module_utils functions, or the module itself as Ansible runs it), and
asserts the exact message and that a sha256 manifest (``_archive.tree_manifest``) of the host
directories involved, including a canary directory outside every managed directory, is the same
before and after.
"""

import gzip
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile

import pytest

from support import ROOT, make_app_venv

from ansible_collections.oxzep7.python.plugins.module_utils._common import Oxzep7Error, Runner, write_json_atomic
from ansible_collections.oxzep7.python.plugins.module_utils._layout import Layout
from ansible_collections.oxzep7.python.plugins.module_utils._pyenv import Pyenv, platform_id
from ansible_collections.oxzep7.python.plugins.module_utils._archive import SUMS, tree_manifest, unsafe_members, write_sums
from ansible_collections.oxzep7.python.plugins.module_utils._snapshot import restore, snapshot_root, take

ID = "golden"
COLLECTION = os.path.join(ROOT, ".cache", "collections")


@pytest.fixture(scope="module")
def world(tmp_path_factory, old_python, wheelhouse):
    """One real app venv at ``<base>/srv/app/venv`` and a real snapshot of it, shared by the module."""
    base = str(tmp_path_factory.mktemp("hostile"))
    os.makedirs(os.path.join(base, "srv", "app"))
    stable = make_app_venv(os.path.join(base, "srv", "app", "venv"), old_python, wheelhouse)
    snap = take(Runner(), Layout(stable), os.path.join(base, "golden"), snapshot_id=ID, compression="gz")
    return dict(stable=stable, app=os.path.dirname(stable), golden=snap["path"])


@pytest.fixture
def host(world, tmp_path):
    """A copy of the golden snapshot under ``<tmp>/backups``, a canary directory, and the manifest of both
    and of the app directory (venv and releases); the releases a test leaves are removed afterwards."""
    tmp = str(tmp_path)
    canary = os.path.join(tmp, "canary")
    os.makedirs(os.path.join(canary, "data"))
    for name, text in (("victim", "keep me\n"), ("data/keep.txt", "keep me too\n")):
        with open(os.path.join(canary, name), "w") as fh:
            fh.write(text)
    backups = os.path.join(tmp, "backups")
    snapshot = os.path.join(snapshot_root(backups, world["stable"]), ID)
    shutil.copytree(world["golden"], snapshot)
    layout = Layout(world["stable"])
    h = dict(world, tmp=tmp, canary=canary, backups=backups, snapshot=snapshot, layout=layout,
             archive=os.path.join(snapshot, "release.tar.gz"),
             manifest=lambda: dict(tmp=tree_manifest(tmp), app=tree_manifest(world["app"])))
    yield h
    shutil.rmtree(layout.releases_dir, ignore_errors=True)


def refused(call, *args, **kwargs):
    """Run ``call`` and return the message of the Oxzep7Error it must raise."""
    with pytest.raises(Oxzep7Error) as err:
        call(*args, **kwargs)
    return err.value.msg


def _add(tar, name, kind=tarfile.REGTYPE, linkname="", data=b"pwned\n", mode=0o644):
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, linkname, mode
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def write_tar(path, members, mode="w:gz"):
    """Write ``members`` (tuples of _add's arguments) into a new tarball at ``path``; a ``.zst`` path
    is compressed by the zstd program."""
    zstd = path.endswith(".zst")
    with tarfile.open(path[:-4] if zstd else path, "w" if zstd else mode) as tar:
        for member in members:
            _add(tar, *member)
    if zstd:
        subprocess.run(["zstd", "-q", "-f", "--rm", path[:-4], "-o", path], check=True)
    return path


def to_zstd(h):
    """Recompress the snapshot's archive with the zstd program, as a zstd snapshot has it, and
    rewrite snapshot.json and SHA256SUMS to match."""
    tar = h["archive"][:-3]
    with gzip.open(h["archive"]) as src, open(tar, "wb") as dst:
        shutil.copyfileobj(src, dst)
    os.unlink(h["archive"])
    subprocess.run(["zstd", "-q", "--rm", tar, "-o", tar + ".zst"], check=True)
    h["archive"] = tar + ".zst"
    _rewrite(h, "snapshot.json", json.dumps(dict(_meta(h), archive="release.tar.zst", compression="zstd",
                                                 archive_bytes=os.path.getsize(h["archive"]))).encode())
    return h


@pytest.fixture(params=["gz", "zstd"])
def any_host(request, host):
    """The host, its snapshot's archive compressed by gzip (tarfile) or by zstd (the program)."""
    return to_zstd(host) if request.param == "zstd" else host


def plant(h, members):
    """Replace the snapshot's archive by a tarball of ``members`` and rewrite SHA256SUMS to match,
    as someone who can write the snapshot can."""
    write_tar(h["archive"], members)
    os.unlink(os.path.join(h["snapshot"], SUMS))
    write_sums(h["snapshot"])


def _restore(h):
    return restore(h["layout"], h["backups"], ID)


# -- archive members ---------------------------------------------------------------------------
# (members, the member named in the error, its reason); "{canary}" is the canary directory.
MEMBERS = {
    "symlink then a file of the same name": (
        [("evil", tarfile.SYMTYPE, "{canary}/victim"), ("evil",)],
        "evil: replaces the symbolic link of the same name before it"),
    "file below a symlink, spelled ./lib": (
        [("lib", tarfile.SYMTYPE, "{canary}"), ("./lib/victim",)],
        "./lib/victim: lies below the symbolic link lib"),
    "file below a symlink": (
        [("lib", tarfile.SYMTYPE, "{canary}"), ("lib/victim",)],
        "lib/victim: lies below the symbolic link lib"),
    "hard link through a symlink": (
        [("d", tarfile.SYMTYPE, "{canary}"), ("h", tarfile.LNKTYPE, "d/victim", b"", 0o755)],
        "h: hard link to d/victim goes through the symbolic link d"),
    "hard link to a symlink": (
        [("s", tarfile.SYMTYPE, "{canary}/victim"), ("h", tarfile.LNKTYPE, "s", b"", 0o600)],
        "h: hard link to s goes through the symbolic link s"),
    "hard link to a later member": (
        [("h", tarfile.LNKTYPE, "later", b""), ("later",)],
        "h: hard link to later, which is not an earlier regular file of the archive"),
    "hard link to a directory": (
        [("d", tarfile.DIRTYPE, "", b"", 0o755), ("h", tarfile.LNKTYPE, "d", b"")],
        "h: hard link to d, which is not an earlier regular file of the archive"),
    "hard link outside": (
        [("h", tarfile.LNKTYPE, "{canary}/victim", b"")],
        "h: hard link to {canary}/victim outside the archive"),
    "setuid file": ([("bin/su", tarfile.REGTYPE, "", b"#!/bin/sh\n", 0o4755)],
                    "bin/su: mode 4755 has the setuid, setgid or sticky bit"),
    "setgid file": ([("bin/sg", tarfile.REGTYPE, "", b"#!/bin/sh\n", 0o2755)],
                    "bin/sg: mode 2755 has the setuid, setgid or sticky bit"),
    "world-writable directory": ([("lib", tarfile.DIRTYPE, "", b"", 0o777)],
                                 "lib: directory mode 0777 is world-writable"),
    "character device": ([("null", tarfile.CHRTYPE, "", b"")], "null: device or FIFO"),
    "FIFO": ([("pipe", tarfile.FIFOTYPE, "", b"")], "pipe: device or FIFO"),
    "absolute name": ([("{canary}/victim",)], "{canary}/victim: path leaves the release directory"),
    "name with ..": ([("bin/../../../../escape",)], "bin/../../../../escape: path leaves the release directory"),
    "the same file twice": ([("a",), ("a",)], "a: appears twice in the archive"),
    "a directory replaced by a symlink": (
        [("lib/x",), ("lib", tarfile.SYMTYPE, "{canary}")], "lib: appears twice in the archive"),
}


@pytest.mark.parametrize("case", sorted(MEMBERS))
def test_restore_refuses_unsafe_members(any_host, case):
    host = any_host
    members, reason = MEMBERS[case]
    plant(host, [tuple(a.format(canary=host["canary"]) if isinstance(a, str) else a for a in m) for m in members])
    before = host["manifest"]()
    assert refused(_restore, host) == "refusing archive %s: %s" % (host["archive"], reason.format(canary=host["canary"]))
    assert host["manifest"]() == before


def test_zstd_archive_without_the_zstd_program_is_refused(host):
    to_zstd(host)
    before = host["manifest"]()
    assert refused(restore, host["layout"], host["backups"], ID, which=lambda name: None) == (
        "cannot read archive %s: it is zstd-compressed and the zstd program is not on PATH; install zstd"
        % host["archive"])
    assert host["manifest"]() == before


def test_zstd_archive_restores_byte_identical(host):
    to_zstd(host)
    done = _restore(host)
    assert tree_manifest(done["release_path"]) == tree_manifest(host["stable"])


def test_restore_reports_a_truncated_zstd_archive(host):
    to_zstd(host)
    with open(host["archive"], "rb") as fh:
        data = fh.read()
    _rewrite(host, "release.tar.zst", data[:len(data) // 2])
    before = host["manifest"]()
    message = refused(_restore, host)
    assert message.startswith("cannot read archive %s: " % host["archive"]), message
    assert host["manifest"]() == before and not os.path.exists(host["layout"].releases_dir)


def test_modes_a_venv_really_has_are_kept():
    """Not refused: uv's world-writable .lock, group-writable files, setgid and sticky directories."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for member in [("lib", tarfile.DIRTYPE, "", b"", 0o2775), ("tmp", tarfile.DIRTYPE, "", b"", 0o1755),
                       (".lock", tarfile.REGTYPE, "", b"", 0o666), ("lib/a.py", tarfile.REGTYPE, "", b"", 0o664),
                       ("bin/python", tarfile.SYMTYPE, "/opt/pyenv/versions/3.9.18/bin/python3.9"),
                       ("lib/python3.9", tarfile.SYMTYPE, "../../r1/lib/python3.9"),
                       ("lib/b.py", tarfile.LNKTYPE, "lib/a.py", b"", 0o664)]:
            _add(tar, *member)
    buf.seek(0)
    assert unsafe_members(tarfile.open(fileobj=buf)) == []


RESTORE_SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.oxzep7.python.plugins.module_utils._layout import Layout
from ansible_collections.oxzep7.python.plugins.module_utils._archive import tree_manifest
from ansible_collections.oxzep7.python.plugins.module_utils._snapshot import restore
import tarfile
layout = Layout(sys.argv[2])
done = restore(layout, None, sys.argv[3])
print(json.dumps(dict(filters=hasattr(tarfile, "data_filter"), live=tree_manifest(layout.stable),
                      restored=tree_manifest(done["release_path"]))))
"""


def test_restore_where_python_has_extraction_filters_is_byte_identical(host, new_python):
    """With tarfile.data_filter (CPython 3.12) as the second check, a real venv's absolute
    bin/python3.9 symlink and uv's 0666 .lock come back exactly as they were."""
    out = subprocess.run([new_python, "-I", "-c", RESTORE_SCRIPT, COLLECTION, host["stable"], host["snapshot"]],
                         stdout=subprocess.PIPE, universal_newlines=True, check=True)
    answer = json.loads(out.stdout)
    assert answer["filters"] and answer["restored"] == answer["live"]
    assert answer["live"][".lock"].endswith(" 666") and answer["live"]["bin/python3.9"].startswith("-> /")


def test_interpreter_import_refuses_unsafe_members(host):
    pyenv = Pyenv(os.path.join(host["tmp"], "pyenv"), Runner())
    archive = write_tar(os.path.join(host["tmp"], "cpython.tar.gz"), [
        ("3.13.5", tarfile.DIRTYPE, "", b"", 0o755),
        ("3.13.5/bin/python3.13", tarfile.SYMTYPE, host["canary"] + "/victim"), ("3.13.5/bin/python3.13",)])
    write_json_atomic(archive + ".json", dict(version="3.13.5", platform=platform_id(), prefix=pyenv.prefix("3.13.5"),
                                              sha256=hashlib.sha256(open(archive, "rb").read()).hexdigest()))
    before = host["manifest"]()
    assert refused(pyenv.import_archive, "3.13.5", archive) == (
        "refusing archive %s: 3.13.5/bin/python3.13: replaces the symbolic link of the same name before it" % archive)
    assert host["manifest"]() == before


def test_pyenv_archive_refuses_unsafe_members(host):
    pyenv = Pyenv(os.path.join(host["tmp"], "opt", "pyenv"), Runner())
    archive = write_tar(os.path.join(host["tmp"], "pyenv.tar.gz"), [
        ("pyenv/bin/pyenv", tarfile.REGTYPE, "", b"#!/bin/sh\n", 0o755),
        ("pyenv/libexec/pyenv", tarfile.SYMTYPE, host["canary"] + "/victim"), ("pyenv/libexec/pyenv",)])
    before = host["manifest"]()
    assert refused(pyenv.install_pyenv, archive=archive) == (
        "refusing archive %s: pyenv/libexec/pyenv: replaces the symbolic link of the same name before it" % archive)
    assert host["manifest"]() == before


def test_interpreter_archive_json_that_is_not_an_object(host):
    pyenv = Pyenv(os.path.join(host["tmp"], "pyenv"), Runner())
    archive = write_tar(os.path.join(host["tmp"], "cpython.tar.gz"), [("3.13.5/bin/python3.13",)])
    with open(archive + ".json", "w") as fh:
        fh.write('["sha256"]\n')
    before = host["manifest"]()
    assert refused(pyenv.import_archive, "3.13.5", archive) == "%s.json holds a JSON list, not an object" % archive
    assert host["manifest"]() == before


# -- SHA256SUMS --------------------------------------------------------------------------------
def _hostile_archive(h):
    """Overwrite the archive with one that writes into the canary."""
    write_tar(h["archive"], [("evil", tarfile.SYMTYPE, h["canary"] + "/victim"), ("evil",)])


def _sums_lines(h):
    with open(os.path.join(h["snapshot"], SUMS)) as fh:
        return fh.readlines()


def _write_sums(h, data):
    with open(os.path.join(h["snapshot"], SUMS), "wb") as fh:
        fh.write(data if isinstance(data, bytes) else "".join(data).encode())


def _drop_archive_line(h):
    _hostile_archive(h)
    _write_sums(h, [line for line in _sums_lines(h) if not line.endswith("  release.tar.gz\n")])
    return "release.tar.gz is not listed in SHA256SUMS"


def _empty(h):
    _hostile_archive(h)
    _write_sums(h, b"")
    return "{sums} is empty, larger than 64 KiB or does not end with a newline"


def _garbage_line(h):
    _write_sums(h, ["garbage\n"] + _sums_lines(h))
    return "{sums} line 1 is not '<sha256>  <file name>': 'garbage'"


def _not_text(h):
    _write_sums(h, b"\xff\xfe\x00garbage\n")
    return "{sums} is not UTF-8 text"


def _duplicate_line(h):
    lines = _sums_lines(h)
    _write_sums(h, lines + lines[:1])
    return "{sums} line %d lists %s a second time or lists itself" % (len(lines) + 1, lines[0].split("  ")[1].strip())


def _unlisted_file(h):
    with open(os.path.join(h["snapshot"], "evil.pth"), "w") as fh:
        fh.write("import os\n")
    return "evil.pth is not listed in SHA256SUMS"


def _path_in_sums(h):
    digest = hashlib.sha256(open(os.path.join(h["canary"], "victim"), "rb").read()).hexdigest()
    _write_sums(h, _sums_lines(h) + ["%s  ../victim\n" % digest])
    return "{sums} line %d is not '<sha256>  <file name>': '%s  ../victim'" % (len(_sums_lines(h)), digest)


def _listed_but_missing(h):
    os.unlink(os.path.join(h["snapshot"], "lock.txt"))
    return "lock.txt is listed in SHA256SUMS but missing"


def _tampered(h):
    with open(os.path.join(h["snapshot"], "lock.txt"), "a") as fh:
        fh.write("evil==1.0\n")
    return "lock.txt does not match its sha256"


def _symlinked_file(h):
    os.unlink(os.path.join(h["snapshot"], "pyvenv.cfg"))
    os.symlink(os.path.join(h["canary"], "victim"), os.path.join(h["snapshot"], "pyvenv.cfg"))
    return "pyvenv.cfg is not a regular file"


SUMS_CASES = dict((f.__name__.strip("_").replace("_", " "), f) for f in (
    _drop_archive_line, _empty, _garbage_line, _not_text, _duplicate_line,
    _unlisted_file, _path_in_sums, _listed_but_missing, _tampered, _symlinked_file))


@pytest.mark.parametrize("case", sorted(SUMS_CASES))
def test_restore_checks_the_exact_file_list_of_sha256sums(host, case):
    problem = SUMS_CASES[case](host).format(sums=os.path.join(host["snapshot"], SUMS))
    before = host["manifest"]()
    assert refused(_restore, host) == "snapshot %s failed its checksums: %s" % (host["snapshot"], problem)
    assert host["manifest"]() == before


# -- snapshot.json and damaged archives --------------------------------------------------------
def _rewrite(h, name, data):
    path = os.path.join(h["snapshot"], name)
    with open(path, "wb") as fh:
        fh.write(data)
    os.unlink(os.path.join(h["snapshot"], SUMS))
    write_sums(h["snapshot"])
    return path


def _meta(h):
    with open(os.path.join(h["snapshot"], "snapshot.json")) as fh:
        return json.load(fh)


@pytest.mark.parametrize("content,reason", [
    (b'["snapshot_id"]', "is not a snapshot description: it holds a JSON list, not an object"),
    (b"{garbage", "is not JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
    (None, "is not a snapshot description: archive missing or not valid"),
], ids=["a JSON list", "not JSON", "archive is a path"])
def test_restore_refuses_a_bad_snapshot_json(host, content, reason):
    content = content or json.dumps(dict(_meta(host), archive="../../../canary/victim")).encode()
    path = _rewrite(host, "snapshot.json", content)
    before = host["manifest"]()
    assert refused(_restore, host) == "%s %s" % (path, reason)
    assert host["manifest"]() == before


def _truncated_gzip(h):
    with open(h["archive"], "rb") as fh:
        data = fh.read()
    return data[:len(data) // 2], "EOFError: Compressed file ended before the end-of-stream marker was reached"


def _truncated_tar(h):
    write_tar(h["archive"], [("big", tarfile.REGTYPE, "", b"x" * 100000)], mode="w")
    with open(h["archive"], "rb") as fh:
        return fh.read()[:60000], "ReadError: unexpected end of data"


def _not_an_archive(h):
    return b"garbage " * 1000, "ReadError: file could not be opened successfully:\n- method gz: "


@pytest.mark.parametrize("damage", [_truncated_gzip, _truncated_tar, _not_an_archive],
                         ids=["truncated gzip", "truncated tar", "not an archive"])
def test_restore_reports_a_damaged_archive(host, damage):
    data, reason = damage(host)
    _rewrite(host, "release.tar.gz", data)
    before = host["manifest"]()
    assert refused(_restore, host).startswith("cannot read archive %s: %s" % (host["archive"], reason))
    assert host["manifest"]() == before


def test_archive_that_fails_during_extraction_leaves_nothing(host):
    """A file below a regular file of the archive passes the member check and fails while extracting:
    the partial .restoring directory and the releases directory the restore made are removed."""
    plant(host, [("bin/python", tarfile.SYMTYPE, "/usr/bin/python3"), ("a",), ("a/b",)])
    before = host["manifest"]()
    work = host["layout"].release_path("restored-" + ID) + ".restoring"
    assert refused(_restore, host) == "cannot extract %s into %s: NotADirectoryError: [Errno 20] Not a directory: %r" % (
        host["archive"], work, os.path.join(work, "a", "b"))
    assert host["manifest"]() == before and not os.path.exists(host["layout"].releases_dir)


@pytest.mark.parametrize("snapshot", ["../../canary", "{canary}"], ids=["traversal", "absolute"])
def test_restore_refuses_a_snapshot_id_that_is_a_path(host, snapshot):
    snapshot = snapshot.format(canary=host["canary"])
    before = host["manifest"]()
    if snapshot.startswith("/"):  # an absolute path names a snapshot directory; the canary is none
        assert refused(restore, host["layout"], host["backups"], snapshot) == (
            "snapshot %s failed its checksums: %s/SHA256SUMS is missing or not a regular file" % (snapshot, snapshot))
    else:
        assert refused(restore, host["layout"], host["backups"], snapshot) == (
            "snapshot id %r is not valid: use letters, digits, '.', '_' and '-' (at most 128), "
            "starting with a letter or digit" % snapshot)
    assert host["manifest"]() == before


def test_snapshot_refuses_a_symlinked_snapshot_directory(host):
    """<backup_dir>/<slug> replaced by a symlink: nothing is written or chmodded through it."""
    root = snapshot_root(host["backups"], host["stable"])
    shutil.rmtree(root)
    os.symlink(host["canary"], root)
    before = host["manifest"]()
    assert refused(take, Runner(), host["layout"], host["backups"], snapshot_id="s1", compression="none") == (
        "refusing to use %s: it is not a real directory (a symlink?); oxzep7.python keeps the snapshots of %s "
        "only in a directory it made there" % (root, host["stable"]))
    assert host["manifest"]() == before


# -- full disk ---------------------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs (needs root), unmounted afterwards."""
    path = str(tmp_path / "small")
    os.mkdir(path, 0o700)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", path], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", path], check=True)


@pytest.mark.parametrize("compression,why", [
    ("none", r"\[Errno 28\] No space left on device"),
    ("zstd", r"cannot write archive {final}/release.tar.zst: zstd failed \(rc=70\): .*No space left on device"),
], ids=["none", "zstd"])
def test_snapshot_on_a_full_disk_removes_its_partial_copy(host, small_disk, compression, why):
    before = dict(host["manifest"](), disk=tree_manifest(small_disk))
    final = os.path.join(snapshot_root(small_disk, host["stable"]), "full")
    message = refused(take, Runner(), host["layout"], small_disk, snapshot_id="full", compression=compression)
    assert re.match(r"cannot write snapshot %s \(the partial copy was removed\): %s"
                    % (re.escape(final), why.format(final=re.escape(final + ".partial"))), message, re.S), message
    assert dict(host["manifest"](), disk=tree_manifest(small_disk)) == before


def test_interpreter_export_on_a_full_disk_removes_its_partial_file(host, small_disk):
    pyenv = Pyenv(os.path.join(host["tmp"], "pyenv"), Runner())
    os.makedirs(os.path.join(pyenv.prefix("3.13.5"), "bin"))
    with open(pyenv.interpreter("3.13.5"), "wb") as fh:
        fh.write(os.urandom(3 * 1024 * 1024))  # does not compress: larger than the disk
    before = dict(host["manifest"](), disk=tree_manifest(small_disk))
    path = os.path.join(small_disk, "cpython-3.13.5-%s.tar.gz" % platform_id())
    message = refused(pyenv.export, "3.13.5", small_disk)
    assert message.startswith("cannot export CPython 3.13.5 to %s (the partial file was removed): [Errno 28] "
                              "No space left on device" % path), message
    assert dict(host["manifest"](), disk=tree_manifest(small_disk)) == before


def test_atomic_write_on_a_full_disk_leaves_no_temporary_file(small_disk):
    with open(os.path.join(small_disk, "filler"), "wb") as fh:
        fh.write(b"x" * (2 * 1024 * 1024 - 8192))
    before = tree_manifest(small_disk)
    with pytest.raises(OSError, match="No space left on device"):
        write_json_atomic(os.path.join(small_disk, "marker.json"), dict(data="x" * 100000))
    assert tree_manifest(small_disk) == before


# -- deletions ---------------------------------------------------------------------------------
def run_module(name, tmp, **args):
    """Run the module ``name`` as Ansible runs it (a JSON arguments file) and return its result."""
    path = os.path.join(tmp, "args.json")
    with open(path, "w") as fh:
        json.dump({"ANSIBLE_MODULE_ARGS": args}, fh)
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "plugins", "modules", name + ".py"), path],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          env=dict(os.environ, PYTHONPATH=COLLECTION), check=False)
    os.unlink(path)
    return json.loads(proc.stdout)


@pytest.mark.parametrize("snapshot_id", ["{canary}", "../../canary", "..", "golden/../.."],
                         ids=["absolute", "traversal", "dot-dot", "nested"])
def test_snapshot_removal_refuses_an_id_that_is_a_path(host, snapshot_id):
    snapshot_id = snapshot_id.format(canary=host["canary"])
    before = host["manifest"]()
    result = run_module("venv_snapshot", host["tmp"], path=host["stable"], backup_dir=host["backups"],
                        state="absent", snapshot_id=snapshot_id)
    assert result.get("failed") and result["msg"] == (
        "snapshot id %r is not valid: use letters, digits, '.', '_' and '-' (at most 128), "
        "starting with a letter or digit" % snapshot_id), result
    assert host["manifest"]() == before


@pytest.fixture
def moved_releases(tmp_path):
    """A stable path whose releases directory was replaced by a symlink to another directory that
    holds its releases (r1, r2: verified; r2 live) beside files of its own (data/, notes.release.json)."""
    other = tmp_path / "other"
    for release_id, created in (("r1", 1.0), ("r2", 2.0)):
        (other / release_id / "bin").mkdir(parents=True)
        (other / release_id / "pyvenv.cfg").write_text("home = /usr/bin\n")
        (other / (release_id + ".release.json")).write_text(json.dumps(
            dict(state="verified", origin="adopted", created=created, release_id=release_id)))
    (other / "data").mkdir()
    (other / "data" / "keep.txt").write_text("not a release\n")
    (other / "notes.release.json").write_text("{}\n")
    (tmp_path / "srv" / "app").mkdir(parents=True)
    (tmp_path / "srv" / "app" / ".venv.releases").symlink_to(other)
    (tmp_path / "srv" / "app" / "venv").symlink_to(".venv.releases/r2")
    return Layout(str(tmp_path / "srv" / "app" / "venv"))


def _not_real(layout):
    return ("refusing to use %s: it is not a real directory (a symlink?); oxzep7.python keeps releases only in "
            "a directory it made there" % layout.releases_dir)


@pytest.mark.parametrize("action", ["prune", "remove_release data", "remove_release notes", "write_marker"])
def test_layout_refuses_a_symlinked_releases_dir(moved_releases, tmp_path, action):
    layout = moved_releases
    before = tree_manifest(str(tmp_path))
    calls = {"prune": lambda: layout.prune(1), "remove_release data": lambda: layout.remove_release("data"),
             "remove_release notes": lambda: layout.remove_release("notes"),
             "write_marker": lambda: layout.write_marker("r1", state="built")}
    assert refused(calls[action]) == _not_real(layout)
    assert tree_manifest(str(tmp_path)) == before


@pytest.mark.parametrize("module,args", [
    ("venv_switch", dict(release="r1", keep_releases=1)),
    ("venv_rebuild", dict(state="absent", release_id="data")),
    ("venv_info", dict(include_lock=False)),
], ids=["venv_switch", "venv_rebuild absent", "venv_info"])
def test_modules_refuse_a_symlinked_releases_dir(moved_releases, tmp_path, module, args):
    before = tree_manifest(str(tmp_path))
    result = run_module(module, str(tmp_path), path=moved_releases.stable, **args)
    assert result.get("failed") and result["msg"] == _not_real(moved_releases), result
    assert tree_manifest(str(tmp_path)) == before


def test_every_directory_deletion_goes_through_remove_tree():
    """shutil.rmtree appears once in plugins/: in _common.remove_tree, behind its lstat checks."""
    calls = []
    for top, dirs, files in os.walk(os.path.join(ROOT, "plugins")):
        for name in files:
            if name.endswith(".py"):
                with open(os.path.join(top, name)) as fh:
                    calls += ["%s:%d" % (name, n) for n, line in enumerate(fh, 1) if re.search(r"\brmtree\(", line)]
    assert [c.split(":")[0] for c in calls] == ["_common.py"], calls
