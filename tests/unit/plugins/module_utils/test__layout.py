"""Switching under load, ownership, pruning and bad input, on real venvs."""

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import pytest

from ansible_collections.oxzep7.python.plugins.module_utils._common import Oxzep7Error, redact, url_secrets
from ansible_collections.oxzep7.python.plugins.module_utils._installer import Installer
from ansible_collections.oxzep7.python.plugins.module_utils._layout import Layout, check_release_id
from ansible_collections.oxzep7.python.plugins.module_utils._release import rebuild, verify
from ansible_collections.oxzep7.python.plugins.module_utils._state import append_ledger, read_ledger, slug
from support import ROOT


def _built(runner, layout, inst, python, release_id):
    rebuild(runner, layout, inst, python, release_id=release_id)
    assert verify(runner, layout, inst, release=release_id, imports=["idna"])["passed"]


def test_switching_back_and_forth_under_a_probe_never_fails(
        app_venv, runner, installer_options, old_python, new_python):
    layout = Layout(app_venv)
    inst = Installer(installer_options, shutil.which)
    _built(runner, layout, inst, new_python, "b-cp312")
    _built(runner, layout, inst, old_python, "a-cp39")
    failures, runs, stop = [], [0], threading.Event()
    argv = [os.path.join(app_venv, "bin", "python"), "-c", "import idna, urllib3, certifi, charset_normalizer"]

    def probe():
        while not stop.is_set():
            proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                                  check=False)
            runs[0] += 1
            if proc.returncode:
                failures.append(proc.stdout[-300:])

    threads = [threading.Thread(target=probe), threading.Thread(target=probe)]
    for t in threads:
        t.start()
    # The property: no probe ever fails while the stable path switches back and forth. How many runs
    # fit in the time depends on the machine, so the loop goes on until enough have run (a loaded
    # machine gets there later) and the counts asked for are small; speed belongs in make bench.
    switches, deadline = 0, time.time() + 120
    try:
        while (runs[0] < 20 or switches < 50) and time.time() < deadline:
            layout.switch("a-cp39" if switches % 2 else "b-cp312")
            switches += 1
            time.sleep(0.005)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert failures == [], (runs, switches, failures[:3])
    assert runs[0] >= 5 and switches >= 10, (runs, switches)  # the probes ran while it switched


def test_new_release_keeps_owner_and_mode(app_venv, runner, installer_options, new_python):
    nobody = 65534
    for top, dirs, files in os.walk(app_venv):
        for name in dirs + files:
            os.lchown(os.path.join(top, name), nobody, nobody)
    os.lchown(app_venv, nobody, nobody)
    os.chmod(app_venv, 0o750)
    layout = Layout(app_venv)
    inst = Installer(installer_options, shutil.which)
    _built(runner, layout, inst, new_python, "owned")
    layout.switch("owned")
    release = layout.release_path("owned")
    owners = set()
    for top, dirs, files in os.walk(release):
        for name in dirs + files:
            st = os.lstat(os.path.join(top, name))
            owners.add((st.st_uid, st.st_gid))
    assert owners == {(nobody, nobody)}
    assert oct(os.stat(release).st_mode & 0o7777) == oct(0o750)
    assert os.lstat(app_venv).st_uid == nobody and os.stat(layout.releases_dir).st_uid == nobody


def test_prune_keeps_current_and_rollback_target(app_venv, runner, installer_options, new_python):
    layout = Layout(app_venv)
    inst = Installer(installer_options, shutil.which)
    for release_id in ("r1", "r2", "r3"):
        _built(runner, layout, inst, new_python, release_id)
        layout.switch(release_id)
    rebuild(runner, layout, inst, new_python, release_id="unverified")
    adopted = [r["id"] for r in layout.releases() if r["origin"] == "adopted"][0]
    held = os.open(layout.release_path(adopted), os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(held, fcntl.LOCK_SH)  # as a snapshot writer still reading the venv that was live holds it
    try:
        assert sorted(layout.prune(2)) == sorted(["r1", "unverified"])
    finally:
        os.close(held)
    removed = layout.prune(2)
    assert removed == [adopted]
    assert [r["id"] for r in layout.releases()] == ["r2", "r3"] and layout.previous_verified() == "r2"
    with pytest.raises(Oxzep7Error, match="current release"):
        layout.remove_release("r3")


@pytest.mark.parametrize("bad", ["", "../x", "a/b", ".hidden", "x" * 129, "r.release.json"])
def test_bad_release_ids_are_refused(bad):
    with pytest.raises(Oxzep7Error):
        check_release_id(bad)


def test_stable_path_must_be_absolute_and_a_venv_or_symlink(tmp_path):
    with pytest.raises(Oxzep7Error, match="absolute"):
        Layout("relative/venv")
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(Oxzep7Error, match="neither a venv directory"):
        Layout(str(target)).kind()
    os.symlink("/etc", str(tmp_path / "venv"))
    with pytest.raises(Oxzep7Error, match="not made by oxzep7.python"):
        Layout(str(tmp_path / "venv")).current_release()


def test_credentials_never_leave_a_failed_install(app_venv, runner, new_python):
    layout = Layout(app_venv)
    inst = Installer(dict(installer="pip", index_url="http://ci-user:s3cret@127.0.0.1:9/simple", isolated=True,
                          environment={"PIP_RETRIES": "0", "PIP_TIMEOUT": "1"}), shutil.which)
    with pytest.raises(Oxzep7Error) as err:
        rebuild(runner, layout, inst, new_python, release_id="creds")
    text = repr((err.value.msg, err.value.details))
    # the command line never had them: pip got them in a netrc file
    assert "s3cret" not in text and "ci-user" not in text and "http://127.0.0.1:9/simple" in text
    assert not os.path.exists(layout.release_path("creds"))
    assert redact({"u": ["https://a:b@h/x"]}) == {"u": ["https://***@h/x"]}
    # a raw "@" in the password: urllib takes the user information up to the last "@" before the path
    assert redact("http://bob:Pa@Sw0rd@h/x http://c:d@h2/") == "http://***@h/x http://***@h2/"
    assert url_secrets(["http://bob:Pa@Sw0rd@h/x"]) == {"bob:Pa@Sw0rd", "Pa@Sw0rd"}


def test_ledger_appends_and_skips_torn_lines(tmp_path):
    state = str(tmp_path / "state")
    append_ledger(state, "/srv/app/venv", dict(run_id="r", step="switch", result="changed"))
    with open(os.path.join(state, slug("/srv/app/venv"), "ledger.jsonl"), "a") as fh:
        fh.write('{"torn": ')
    append_ledger(state, "/srv/app/venv", dict(run_id="r", step="upgrade", result="upgraded"))
    assert [r["step"] for r in read_ledger(state, "/srv/app/venv")] == ["switch", "upgrade"]
    assert slug("/srv/app/venv").startswith("srv-app-venv-")


def test_rebuild_and_switch_as_the_app_user(tmp_path_factory, wheelhouse):
    """Run the domain code as an unprivileged user (nobody) on that user's own venv."""
    system_python = "/usr/bin/python3"
    base = tempfile.mkdtemp(prefix="oxzep7-asuser-", dir="/tmp")
    try:
        os.chmod(base, 0o755)
        os.chown(base, 65534, 65534)
        venv = os.path.join(base, "venv")
        as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
        env = dict(os.environ, HOME=base, PIP_NO_CACHE_DIR="1")
        subprocess.run(as_nobody + [system_python, "-m", "venv", venv], check=True, env=env)
        script = (
            "import shutil, sys; sys.path.insert(0, %r)\n"
            "from ansible_collections.oxzep7.python.plugins.module_utils._common import Runner\n"
            "from ansible_collections.oxzep7.python.plugins.module_utils._installer import Installer\n"
            "from ansible_collections.oxzep7.python.plugins.module_utils._layout import Layout\n"
            "from ansible_collections.oxzep7.python.plugins.module_utils._release import rebuild, verify\n"
            "layout, runner = Layout(%r), Runner()\n"
            "inst = Installer(dict(installer='pip', no_index=True, find_links=[%r], isolated=True), shutil.which)\n"
            "rebuild(runner, layout, inst, %r, lock_path=None, upgrades=['idna==3.4'], release_id='mine')\n"
            "assert verify(runner, layout, inst, release='mine', imports=['idna'])['passed']\n"
            "print(layout.switch('mine'))\n"
        ) % (os.path.join(ROOT, ".cache", "collections"), venv, wheelhouse, system_python)
        proc = subprocess.run(as_nobody + [sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, check=False,
                              stderr=subprocess.STDOUT, universal_newlines=True)
        assert proc.returncode == 0, proc.stdout
        layout = Layout(venv)
        assert layout.current_release() == "mine"
        for top, dirs, files in os.walk(layout.releases_dir):
            for name in dirs + files:
                assert os.lstat(os.path.join(top, name)).st_uid == 65534
        out = subprocess.run(as_nobody + [os.path.join(venv, "bin", "python"), "-c", "import idna"], env=env,
                             check=False)
        assert out.returncode == 0
    finally:
        shutil.rmtree(base, ignore_errors=True)
