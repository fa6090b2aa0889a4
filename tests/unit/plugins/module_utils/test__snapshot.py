"""Snapshots and restores of a real venv: checksums, tampering, unsafe archives, retention,
compressions (zstd through the zstd program), and a snapshot written while the caller works."""

import io
import os
import shutil
import stat
import subprocess
import tarfile
import time

import pytest

from ansible_collections.oxzep7.python.plugins.module_utils._archive import check_sums, tree_manifest, unsafe_members, write_sums
from ansible_collections.oxzep7.python.plugins.module_utils._common import Oxzep7Error
from ansible_collections.oxzep7.python.plugins.module_utils._layout import Layout
from ansible_collections.oxzep7.python.plugins.module_utils._snapshot import (
    begin, list_snapshots, remove, restore, snapshot_root, take)


def no_zstd(name):
    """A ``which`` that finds everything but the zstd program."""
    return None if name == "zstd" else shutil.which(name)


@pytest.mark.parametrize("compression,which,archive", [
    ("auto", shutil.which, "release.tar.zst"),
    ("auto", no_zstd, "release.tar.gz"),
    ("zstd", shutil.which, "release.tar.zst"),
    ("gz", shutil.which, "release.tar.gz"),
    ("none", shutil.which, "release.tar"),
], ids=["auto", "auto without zstd", "zstd", "gz", "none"])
def test_snapshot_and_restore_are_byte_identical(app_venv, runner, tmp_path, compression, which, archive):
    assert shutil.which("zstd"), "these tests need the zstd program"
    layout = Layout(app_venv)
    backups = str(tmp_path / "backups")
    snap = take(runner, layout, backups, compression=compression, which=which)
    assert snap["changed"] and snap["archive_bytes"] > 100000
    assert sorted(os.listdir(snap["path"])) == sorted(
        ["lock.txt", "venv.json", "pyvenv.cfg", "SHA256SUMS", "snapshot.json", archive])
    assert check_sums(snap["path"]) == [] and snap["archive"] == os.path.join(snap["path"], archive)
    assert stat.S_IMODE(os.stat(snap["path"]).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(os.path.dirname(snap["path"])).st_mode) == 0o700
    assert "flask==3.0.0" in open(os.path.join(snap["path"], "lock.txt")).read().lower()
    assert take(runner, layout, backups, compression=compression, which=which)["changed"] is False

    restored = restore(layout, backups, snap["snapshot_id"])
    assert restored["changed"] and tree_manifest(restored["release_path"]) == tree_manifest(app_venv)
    assert restore(layout, backups, snap["snapshot_id"])["changed"] is False
    assert layout.marker(restored["release_id"])["state"] == "built"


def test_zstd_needs_the_program(app_venv, runner, tmp_path):
    with pytest.raises(Oxzep7Error, match="compression zstd needs the zstd program, which is not on PATH"):
        take(runner, Layout(app_venv), str(tmp_path / "b"), compression="zstd", which=no_zstd)
    assert not os.path.exists(str(tmp_path / "b"))


def test_a_snapshot_of_the_old_format_restores_and_is_removed(app_venv, runner, tmp_path):
    """gzip level 6 with pip-freeze.txt and pip-inspect.json beside the lock, as snapshots were taken
    before compression auto: restore and state=absent take it."""
    layout = Layout(app_venv)
    backups = str(tmp_path / "b")
    snap = take(runner, layout, backups, compression="gz")
    for name in ("pip-freeze.txt", "pip-inspect.json"):
        with open(os.path.join(snap["path"], name), "w") as fh:
            fh.write("flask==3.0.0\n")
    os.unlink(os.path.join(snap["path"], "SHA256SUMS"))
    write_sums(snap["path"])
    restored = restore(layout, backups, snap["snapshot_id"])
    assert tree_manifest(restored["release_path"]) == tree_manifest(app_venv)
    assert remove(backups, layout.stable, snap["snapshot_id"])["changed"]
    assert not os.path.exists(snap["path"])


def test_begin_writes_the_lock_at_once_and_wait_finishes(app_venv, runner, tmp_path):
    layout = Layout(app_venv)
    backups = str(tmp_path / "b")
    pending = begin(runner, layout, backups, snapshot_id="s1")
    partial = os.path.join(snapshot_root(backups, layout.stable), "s1.partial")
    assert pending.lock_path == os.path.join(partial, "lock.txt")
    assert "flask==3.0.0" in open(pending.lock_path).read().lower()
    assert [e["name"] for e in pending.lock_entries if e["name"].lower() == "flask"]
    result = pending.wait()
    assert result["changed"] and not os.path.exists(partial) and check_sums(result["path"]) == []
    assert pending.lock_path == result["lock_path"] and os.path.isfile(result["lock_path"])
    assert pending.wait() is result and pending.waited >= 0
    pending.abort()  # after wait: nothing to stop, the snapshot stays
    assert [s["snapshot_id"] for s in list_snapshots(backups, layout.stable)] == ["s1"]


def test_abort_leaves_nothing(app_venv, runner, tmp_path):
    layout = Layout(app_venv)
    backups = str(tmp_path / "b")
    pending = begin(runner, layout, backups, snapshot_id="s1")
    pending.abort()
    assert not os.path.exists(backups)
    with pytest.raises(Oxzep7Error, match="was aborted"):
        pending.wait()


def test_xz_snapshot_and_restore_are_byte_identical(old_python, runner, tmp_path):
    """xz: tarfile's own compression, as for gz, on a venv with pip alone (xz takes a minute on the app venv)."""
    path = str(tmp_path / "srv" / "small" / "venv")
    subprocess.run([old_python, "-m", "venv", path], check=True)
    layout, backups = Layout(path), str(tmp_path / "backups")
    snap = take(runner, layout, backups, compression="xz")
    assert snap["changed"] and snap["archive"] == os.path.join(snap["path"], "release.tar.xz")
    assert check_sums(snap["path"]) == [] and tarfile.open(snap["archive"]).getmember("bin/python")
    restored = restore(layout, backups, snap["snapshot_id"])
    assert tree_manifest(restored["release_path"]) == tree_manifest(path)


def test_a_wait_that_runs_out_of_time_leaves_nothing(app_venv, runner, tmp_path):
    layout = Layout(app_venv)
    backups = str(tmp_path / "b")
    os.makedirs(backups)
    pending = begin(runner, layout, backups, snapshot_id="s1", compression="xz")
    started = time.time()
    with pytest.raises(Oxzep7Error) as err:
        pending.wait(timeout=0.05)
    assert err.value.msg == ("cannot write snapshot %s (the partial copy was removed): the archive took longer "
                             "than 0.05 s" % os.path.join(snapshot_root(backups, layout.stable), "s1"))
    assert time.time() - started < 10 and os.listdir(backups) == []


def test_tampered_snapshot_is_refused(app_venv, runner, tmp_path):
    layout = Layout(app_venv)
    snap = take(runner, layout, str(tmp_path / "b"))
    assert snap["archive"].endswith(".tar.zst")
    with open(os.path.join(snap["path"], "lock.txt"), "a") as fh:
        fh.write("evil==1.0\n")
    with pytest.raises(Oxzep7Error, match="lock.txt does not match its sha256"):
        restore(layout, str(tmp_path / "b"), snap["snapshot_id"])
    assert not os.path.exists(layout.releases_dir)


def _tar(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    buf.seek(0)
    return tarfile.open(fileobj=buf)


def _member(name, kind=tarfile.REGTYPE, linkname="", data=b"x"):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, data if kind == tarfile.REGTYPE else None


@pytest.mark.parametrize("members,reason", [
    ([_member("../escape")], "leaves the release directory"),
    ([_member("/etc/passwd")], "leaves the release directory"),
    ([_member("dev", tarfile.CHRTYPE)], "device or FIFO"),
    ([_member("hard", tarfile.LNKTYPE, "../../etc/shadow")], "hard link"),
    ([_member("lib", tarfile.SYMTYPE, "/etc"), _member("lib/cron.d/job")], "below the symbolic link"),
])
def test_unsafe_members_are_named(members, reason):
    problems = unsafe_members(_tar(members))
    assert problems and reason in problems[0]


def test_absolute_interpreter_symlink_is_allowed():
    assert unsafe_members(_tar([_member("bin/python", tarfile.SYMTYPE, "/usr/bin/python3.11")])) == []


def test_retention_keeps_the_newest(app_venv, runner, tmp_path):
    layout = Layout(app_venv)
    backups = str(tmp_path / "b")
    removed = [take(runner, layout, backups, snapshot_id="s%d" % i, keep=2, compression="none")["removed"]
               for i in range(4)]
    assert removed == [[], [], ["s0"], ["s1"]]
    assert [s["snapshot_id"] for s in list_snapshots(backups, layout.stable)] == ["s2", "s3"]


def test_snapshot_of_another_stable_path_is_refused(app_venv, runner, tmp_path):
    snap = take(runner, Layout(app_venv), str(tmp_path / "b"), compression="none")
    with pytest.raises(Oxzep7Error, match="was taken of"):
        restore(Layout(str(tmp_path / "other" / "venv")), str(tmp_path / "b"), snap["path"])
