"""Bad stable paths, read-only directories and an unreachable index: a clear message, and not a byte
changes on the host (sha256 manifests of the whole test tree before and after)."""

import os
import subprocess

import pytest

from helpers import run_playbook, task_results

from ansible_collections.oxzep7.python.plugins.module_utils._archive import tree_manifest

PLAYBOOK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "playbooks", "bad_paths.yml")


@pytest.fixture
def read_only_dir(tmp_path):
    """An empty read-only filesystem (tmpfs mounted ro): even root cannot write there."""
    path = tmp_path / "ro"
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(path)], check=True)
    yield str(path)
    subprocess.run(["umount", str(path)], check=True)


def test_bad_paths_and_directories_change_nothing(app_venv, pyenv_root, tmp_path, read_only_dir):
    base = str(tmp_path)
    (tmp_path / "not-a-venv").mkdir()
    (tmp_path / "not-a-venv" / "data.txt").write_text("keep me\n")
    (tmp_path / "a-file").write_text("keep me too\n")
    os.symlink("/etc", str(tmp_path / "elsewhere"))
    bad = {
        "relative": "srv/app/venv",
        "the root directory": "/",
        "a directory that is no venv": str(tmp_path / "not-a-venv"),
        "a regular file": str(tmp_path / "a-file"),
        "a symlink out of the release layout": str(tmp_path / "elsewhere"),
        "missing": str(tmp_path / "nothing-here"),
    }
    state_dir, backup_dir = os.path.join(base, "state"), os.path.join(base, "backups")
    before = tree_manifest(base)
    rc, _stats, plays = run_playbook(PLAYBOOK, base, {}, extra_vars=dict(
        bad_paths=bad, stable=app_venv, pyenv_root=pyenv_root, state_dir=state_dir, backup_dir=backup_dir,
        read_only=read_only_dir))
    assert rc == 0, plays
    got = task_results(plays, "Hand the results to the test")[0]["msg"]
    assert got["not_failed"] == [], got
    snapshot = dict(zip(bad, got["snapshot"]))
    assert snapshot["relative"] == "stable path must be an absolute path, got 'srv/app/venv'"
    assert snapshot["the root directory"] == "stable path '/' has no final component"
    assert snapshot["a directory that is no venv"] == \
        "interpreter %s/not-a-venv/bin/python does not exist or is not executable" % base
    assert snapshot["a regular file"] == "%s/a-file exists but is neither a venv directory nor a symlink" % base
    assert snapshot["a symlink out of the release layout"] == (
        "%s/elsewhere points at /etc, outside %s/.elsewhere.releases: it was not made by oxzep7.python" % (base, base))
    assert snapshot["missing"] == "there is no venv at %s/nothing-here" % base
    switch = dict(zip(bad, got["switch"]))
    assert switch["missing"] == "%s/nothing-here has no previous verified release to switch to" % base
    assert switch["a directory that is no venv"] == \
        "%s/not-a-venv has no previous verified release to switch to" % base
    assert "Read-only file system" in got["snapshot_read_only"] and read_only_dir in got["snapshot_read_only"]
    assert "Read-only file system" in got["lock_read_only"] and read_only_dir in got["lock_read_only"]
    assert got["rebuild_unreachable"].startswith("installing the lock with pip failed"), got
    # nothing was created, changed or left behind anywhere in the tree (the failed rebuild's
    # release is gone; the state and backup directories stay absent)
    after = dict((k, v) for k, v in tree_manifest(base).items() if not k.startswith("inventory-"))  # the test's own
    assert after == before
