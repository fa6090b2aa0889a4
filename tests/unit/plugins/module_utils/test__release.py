"""Rebuild, verify, switch and prune against real venvs and real interpreters."""

import os
import shutil
import subprocess

import pytest
from support import UV

from ansible_collections.oxzep7.python.plugins.module_utils._common import Oxzep7Error
from ansible_collections.oxzep7.python.plugins.module_utils._installer import Installer
from ansible_collections.oxzep7.python.plugins.module_utils._layout import Layout
from ansible_collections.oxzep7.python.plugins.module_utils._release import failure_summary, import_workers, rebuild, verify
from ansible_collections.oxzep7.python.plugins.module_utils._archive import tree_manifest


def _app_works(stable):
    out = subprocess.run([os.path.join(stable, "bin", "python"), "-m", "demoapp.selftest"], check=False,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    assert out.returncode == 0, out.stdout
    return out.stdout


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_rebuild_verify_switch_moves_app_to_target(app_venv, runner, installer_options, new_python, installer):
    layout = Layout(app_venv)
    before = tree_manifest(app_venv)
    inst = Installer(dict(installer_options, installer=installer), shutil.which)
    built = rebuild(runner, layout, inst, new_python, release_id="r1-cp312")
    assert built["changed"] and built["python_version"].startswith("3.12.")
    assert built["skipped_seed"] == ["pip", "setuptools"]
    assert tree_manifest(app_venv) == before, "the live venv must not change during a rebuild"
    assert layout.kind() == "plain"

    checked = verify(runner, layout, inst, release="r1-cp312", imports=["demoapp", "flask", "sqlalchemy"],
                     smoke_commands=[["python", "-m", "demoapp.selftest"]])
    assert checked["passed"], checked["gates"]
    assert [g["name"] for g in checked["gates"]] == ["pip check", "imports", "lock",
                                                     "smoke: python -m demoapp.selftest"]
    assert layout.marker("r1-cp312")["state"] == "verified"

    switched = layout.switch("r1-cp312")
    assert switched["changed"] and switched["converted"].endswith("-py3.9.18-adopted") or \
        switched["converted"].startswith("20")
    assert os.path.islink(app_venv) and layout.current_release() == "r1-cp312"
    assert "on Python 3.12" in _app_works(app_venv)
    # the adopted old venv is byte-identical and is the rollback target
    adopted = layout.release_path(switched["converted"])
    assert tree_manifest(adopted) == before
    assert layout.previous_verified() == switched["converted"]
    assert layout.switch("r1-cp312")["changed"] is False

    back = layout.switch(layout.previous_verified())
    assert back["previous"] == "r1-cp312"
    assert "on Python 3.9" in _app_works(app_venv)


def test_rebuild_is_idempotent_and_check_mode_changes_nothing(app_venv, runner, installer_options, new_python):
    layout = Layout(app_venv)
    inst = Installer(installer_options, shutil.which)
    planned = rebuild(runner, layout, inst, new_python, release_id="r2", check_mode=True)
    assert planned["changed"] and not os.path.exists(layout.releases_dir)
    assert rebuild(runner, layout, inst, new_python, release_id="r2")["changed"]
    again = rebuild(runner, layout, inst, new_python, release_id="r2")
    assert again["changed"] is False


def test_failed_rebuild_leaves_live_venv_and_no_release(tmp_path, old_python, new_python, wheelhouse,
                                                        runner, installer_options):
    from support import make_app_venv
    os.makedirs(str(tmp_path / "app"))
    stable = make_app_venv(str(tmp_path / "app" / "venv"), old_python, wheelhouse, "requirements-broken.txt")
    layout = Layout(stable)
    before = tree_manifest(stable)
    with pytest.raises(Oxzep7Error) as err:
        rebuild(runner, layout, Installer(installer_options, shutil.which), new_python, release_id="bad")
    assert "numpy" in err.value.details["stderr"]
    assert err.value.details["rc"] != 0 and err.value.details["cmd"][0].endswith("uv")
    assert err.value.msg.startswith("no build of numpy==1.24.4 for cp312: Because numpy==1.24.4 has no wheels")
    assert not os.path.exists(layout.release_path("bad"))
    assert not os.path.exists(layout.marker_path("bad"))
    assert not os.path.exists(layout.releases_dir), "an empty releases directory beside the plain venv"
    assert tree_manifest(stable) == before


def test_verify_fails_on_import_broken_by_target(app_venv, runner, installer_options, new_python):
    layout = Layout(app_venv)
    inst = Installer(installer_options, shutil.which)
    rebuild(runner, layout, inst, new_python, release_id="r3")
    result = verify(runner, layout, inst, release="r3", imports=["demoapp", "demoapp.legacy"])
    assert not result["passed"] and result["failed_gates"] == ["imports"]
    errors = [g for g in result["gates"] if g["name"] == "imports"][0]["errors"]
    assert errors[0]["name"] == "demoapp.legacy" and "imp" in errors[0]["error"]
    assert layout.marker("r3")["state"] == "built"
    with pytest.raises(Oxzep7Error, match="not verified"):
        layout.switch("r3")


# Two modules that each wait for the other to have started: they import only side by side.
_MEET = """
import os, time
open(os.path.join(os.getcwd(), "%s.started"), "w").close()
deadline = time.time() + 20
while not os.path.exists(os.path.join(os.getcwd(), "%s.started")):
    if time.time() > deadline:
        raise RuntimeError("imported alone")
    time.sleep(0.05)
"""


def test_imports_run_side_by_side_each_in_its_own_process(app_venv, runner, installer_options, new_python,
                                                          tmp_path):
    layout = Layout(app_venv)
    inst = Installer(installer_options, shutil.which)
    rebuild(runner, layout, inst, new_python, release_id="r4")
    (tmp_path / "meet_a.py").write_text(_MEET % ("a", "b"))
    (tmp_path / "meet_b.py").write_text(_MEET % ("b", "a"))
    (tmp_path / "dies.py").write_text("import os\nos._exit(3)\n")
    (tmp_path / "dies_at_exit.py").write_text("import atexit, os\natexit.register(os._exit, 5)\n")
    names = ["meet_a", "meet_b", "dies", "dies_at_exit", "demoapp"]
    assert import_workers(len(names)) >= 2, "the test machine has at least 2 cores"
    result = verify(runner, layout, inst, release="r4", imports=names, chdir=str(tmp_path))
    gate = [g for g in result["gates"] if g["name"] == "imports"][0]
    assert gate["checked"] == names
    errors = dict((e["name"], e["error"]) for e in gate["errors"])
    assert sorted(errors) == ["dies", "dies_at_exit"], errors
    assert errors["dies"] == "no result (rc 3)"
    assert errors["dies_at_exit"].startswith("exited with rc 5 after the import")
    assert result["failed_gates"] == ["imports"] and layout.marker("r4")["state"] == "built"


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_gates_compile_into_new_release_only_and_name_broken_requirement(
        app_venv, runner, installer_options, new_python, installer, monkeypatch):
    """The gates write bytecode into a new release (not yet live) and never into the live venv, even when
    the module's own environment says PYTHONDONTWRITEBYTECODE; the dependency check is uv's when uv is
    the installer, pip's otherwise, and both name the distribution whose requirement is broken."""
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    layout = Layout(app_venv)
    inst = Installer(dict(installer_options, installer=installer), shutil.which)
    rebuild(runner, layout, inst, new_python, release_id="r4")
    release = layout.release_path("r4")
    cache = os.path.join(release, "lib", "python3.12", "site-packages", "demoapp", "__pycache__")
    shutil.rmtree(cache, ignore_errors=True)  # pip compiles at install, uv does not
    live_before = tree_manifest(app_venv)

    live = verify(runner, layout, inst, release="current", imports=["demoapp", "flask"])
    assert live["passed"] and not live["wrote_bytecode"]
    assert tree_manifest(app_venv) == live_before, "the gates wrote into the live venv"

    new = verify(runner, layout, inst, release="r4", imports=["demoapp", "flask"], mark=False)
    assert new["passed"] and new["wrote_bytecode"], new["gates"]
    assert [n for n in os.listdir(cache) if n.endswith(".cpython-312.pyc")]
    check = new["gates"][0]
    assert check["name"] == "pip check" and check["problems"] == []
    assert check["cmd"][:3] == ([inst.uv, "pip", "check"] if installer == "uv" else [os.path.join(release, "bin", "python"), "-m", "pip"])

    subprocess.run([UV, "pip", "uninstall", "--no-config", "--python", os.path.join(release, "bin", "python"), "click"],
                   check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    broken = verify(runner, layout, inst, release="r4", compare_lock=False)
    assert broken["failed_gates"] == ["pip check"]
    assert [(p["name"].lower(), p["requirement"].split(">")[0]) for p in broken["gates"][0]["problems"]] == [("flask", "click")]
    assert "flask" in failure_summary(broken) and "click" in failure_summary(broken)
    assert tree_manifest(app_venv) == live_before
