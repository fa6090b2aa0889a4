"""Snapshots and restores of a real venv: checksums, tampering, unsafe archives, retention."""

import io
import os
import stat
import tarfile

import pytest

from ansible_collections.oxzep7.python.plugins.module_utils._common import Oxzep7Error
from ansible_collections.oxzep7.python.plugins.module_utils._layout import Layout
from ansible_collections.oxzep7.python.plugins.module_utils._snapshot import (
    list_snapshots, restore, take, tree_manifest, unsafe_members)


@pytest.mark.parametrize("compression", ["gz", "xz", "none"])
def test_snapshot_and_restore_are_byte_identical(app_venv, runner, tmp_path, compression):
    layout = Layout(app_venv)
    backups = str(tmp_path / "backups")
    snap = take(runner, layout, backups, compression=compression)
    assert snap["changed"] and snap["archive_bytes"] > 100000
    for name in ("lock.txt", "venv.json", "pip-freeze.txt", "pip-inspect.json", "pyvenv.cfg", "SHA256SUMS",
                 "snapshot.json", os.path.basename(snap["archive"])):
        assert os.path.isfile(os.path.join(snap["path"], name)), name
    assert stat.S_IMODE(os.stat(snap["path"]).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(os.path.dirname(snap["path"])).st_mode) == 0o700
    assert "flask==3.0.0" in open(os.path.join(snap["path"], "pip-freeze.txt")).read().lower()
    assert take(runner, layout, backups, compression=compression)["changed"] is False

    restored = restore(layout, backups, snap["snapshot_id"])
    assert restored["changed"] and tree_manifest(restored["release_path"]) == tree_manifest(app_venv)
    assert restore(layout, backups, snap["snapshot_id"])["changed"] is False
    assert layout.marker(restored["release_id"])["state"] == "built"


def test_tampered_snapshot_is_refused(app_venv, runner, tmp_path):
    layout = Layout(app_venv)
    snap = take(runner, layout, str(tmp_path / "b"))
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
