"""Snapshots and restores of a real venv: checksums, tampering, unsafe archives, retention,
compressions (zstd through the zstd program), and a snapshot written while the caller works."""

import fcntl
import io
import json
import os
import shutil
import signal
import stat
import subprocess
import tarfile
import time

import pytest

from ansible_collections.oxzep7.python.plugins.module_utils._archive import check_sums, tree_manifest, unsafe_members, write_sums
from ansible_collections.oxzep7.python.plugins.module_utils._common import Oxzep7Error
from ansible_collections.oxzep7.python.plugins.module_utils._drill import latest_snapshot
from ansible_collections.oxzep7.python.plugins.module_utils import _snapshot as snapshot_module
from ansible_collections.oxzep7.python.plugins.module_utils._layout import Layout
from ansible_collections.oxzep7.python.plugins.module_utils._snapshot import (
    begin, being_written, list_snapshots, prune, remove, restore, snapshot_root, take, wait_written)


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


def _status_to(path):
    """A ``ledger`` callable for begin(): the writer, a process of its own, writes its status to ``path``."""
    def ledger(status):
        with open(path, "w") as fh:
            json.dump(status, fh)
    return ledger


def test_a_detached_snapshot_holds_the_venv_that_was_live_and_outlives_a_switch(app_venv, runner, tmp_path):
    """The switch of a plain venv renames its directory and puts the new release at the stable path while
    the writer still works: the archive still holds the old venv, and the writer finishes on its own,
    protected from retention, and records its outcome."""
    layout = Layout(app_venv)
    backups = str(tmp_path / "b")
    before = tree_manifest(app_venv)
    status = str(tmp_path / "status.json")
    pending = begin(runner, layout, backups, snapshot_id="s1", compression="bz2", ledger=_status_to(status))
    partial = os.path.join(snapshot_root(backups, layout.stable), "s1.partial")
    # what a switch does to a plain venv: the directory moves away, something else answers at its path
    os.rename(app_venv, app_venv + "-adopted")
    os.mkdir(app_venv)
    with open(os.path.join(app_venv, "pyvenv.cfg"), "w") as fh:
        fh.write("home = /nowhere\n")
    result = pending.detach()
    assert result["state"] == "writing" and result["archive_bytes"] is None, "bz2 of the app venv took < 1 s?"
    assert pending.detach() is result and being_written(partial)
    assert prune(backups, layout.stable, keep=1) == [] and os.path.isdir(partial)  # a held .partial is left alone
    assert wait_written(partial, 300) and not os.path.exists(partial) and check_sums(result["path"]) == []
    with open(status) as fh:
        recorded = json.load(fh)
    assert recorded["ok"] and recorded["snapshot_id"] == "s1" and recorded["archive_bytes"] > 100000
    os.rename(app_venv, app_venv + "-other")
    os.rename(app_venv + "-adopted", app_venv)
    restored = restore(layout, backups, "s1")
    assert tree_manifest(restored["release_path"]) == before


def test_a_detached_writer_that_fails_records_why_and_leaves_nothing(app_venv, runner, tmp_path):
    """A member a restore would refuse, met by the writer after the caller left: no .partial, the
    backup directory it made removed, and the reason in its status."""
    layout = Layout(app_venv)
    backups = str(tmp_path / "b")
    bad = os.path.join(app_venv, "zz-last", "tool")
    os.makedirs(os.path.dirname(bad))
    with open(bad, "w") as fh:
        fh.write("#!/bin/sh\n")
    os.chmod(bad, 0o4755)
    status = str(tmp_path / "status.json")
    pending = begin(runner, layout, backups, snapshot_id="s1", compression="bz2", ledger=_status_to(status))
    partial = os.path.join(snapshot_root(backups, layout.stable), "s1.partial")
    assert pending.detach()["state"] == "writing"
    assert wait_written(partial, 300)
    deadline = time.time() + 30
    while not os.path.exists(status) and time.time() < deadline:
        time.sleep(0.1)
    with open(status) as fh:
        recorded = json.load(fh)
    assert not recorded["ok"] and recorded["msg"] == (
        "cannot snapshot %s: %s: mode 4755 has the setuid, setgid or sticky bit, which a restore refuses; fix it "
        "in the venv first" % (app_venv, bad))
    assert not os.path.exists(backups)


def test_a_snapshot_being_written_is_waited_for_and_named(app_venv, runner, tmp_path):
    """restore() and begin() of the same id wait for the writer, then find the snapshot whole."""
    layout = Layout(app_venv)
    backups = str(tmp_path / "b")
    before = tree_manifest(app_venv)
    first = begin(runner, layout, backups, snapshot_id="s1", compression="bz2").detach()
    assert first["state"] == "writing" and being_written(first["path"] + ".partial")
    restored = restore(layout, backups, "s1")  # a rollback right after the upgrade waits for the snapshot
    assert tree_manifest(restored["release_path"]) == before
    second = begin(runner, layout, backups, snapshot_id="s1", compression="bz2")
    assert second.wait()["changed"] is False and check_sums(first["path"]) == []


def test_a_drill_waits_for_the_snapshot_being_written(app_venv, runner, tmp_path):
    """The newest snapshot a drill takes is the one an upgrade left its writer to finish, not an older one."""
    layout = Layout(app_venv)
    backups = str(tmp_path / "b")
    take(runner, layout, backups, snapshot_id="older", compression="none")
    assert begin(runner, layout, backups, snapshot_id="s1", compression="bz2").detach()["state"] == "writing"
    assert latest_snapshot(backups, layout.stable) == "s1"


def test_an_abort_after_the_archive_is_written_still_leaves_nothing(app_venv, runner, tmp_path):
    """The writer makes a snapshot whole only when told to: a pass that fails after the archive was written
    (its SHA256SUMS is there) leaves no snapshot, and the retention it would have applied removed nothing."""
    layout = Layout(app_venv)
    backups = str(tmp_path / "b")
    older = take(runner, layout, backups, snapshot_id="old", compression="none")
    pending = begin(runner, layout, backups, snapshot_id="s1", compression="none", keep=1)
    partial = os.path.join(snapshot_root(backups, layout.stable), "s1.partial")
    deadline = time.time() + 120
    while not os.path.exists(os.path.join(partial, "SHA256SUMS")) and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    assert being_written(partial)  # written, and waiting for the decision
    pending.abort()
    assert not os.path.exists(partial) and not os.path.exists(os.path.join(os.path.dirname(partial), "s1"))
    assert [s["snapshot_id"] for s in list_snapshots(backups, layout.stable)] == ["old"]
    assert check_sums(older["path"]) == []


def test_a_writer_killed_from_outside_leaves_nothing_and_is_named(app_venv, runner, tmp_path):
    """The OOM killer or a kill -9 on the writer: the pass's wait() removes the partial copy and the backup
    directories it made, and says which snapshot."""
    layout = Layout(app_venv)
    backups = str(tmp_path / "b")
    pending = begin(runner, layout, backups, snapshot_id="s1", compression="bz2")
    os.kill(pending._writer.pid, signal.SIGKILL)
    with pytest.raises(Oxzep7Error) as err:
        pending.wait()
    assert err.value.msg == ("cannot write snapshot %s (the partial copy was removed): its writer ended without "
                             "reporting (was it killed?)" % os.path.join(snapshot_root(backups, layout.stable), "s1"))
    assert not os.path.exists(backups)


def test_a_retention_that_fails_leaves_the_snapshot_whole(app_venv, runner, tmp_path, monkeypatch):
    """The retention after the rename cannot lock the snapshot directory (another run holds it): the snapshot is
    whole all the same, and the result says why nothing was removed."""
    layout = Layout(app_venv)
    backups = str(tmp_path / "b")
    take(runner, layout, backups, snapshot_id="old", compression="none")
    monkeypatch.setattr(snapshot_module, "ROOT_LOCK_TIMEOUT", 0.5)  # the writer is forked after this
    pending = begin(runner, layout, backups, snapshot_id="s1", compression="none", keep=1)
    root = snapshot_root(backups, layout.stable)
    held = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(held, fcntl.LOCK_EX)
    try:
        result = pending.wait()
    finally:
        os.close(held)
    assert check_sums(result["path"]) == [] and result["removed"] == []
    assert result["retention_error"] == ("the retention of %s failed: cannot lock %s: another snapshot holds it "
                                         "after 0.5 s" % (root, root))
    assert sorted(s["snapshot_id"] for s in list_snapshots(backups, layout.stable)) == ["old", "s1"]


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
