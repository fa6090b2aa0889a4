"""Failed installs named by package: the real output of pip 23.2 (CPython 3.12's ensurepip), pip 26 and
uv, building sdists that fail on CPython 3.12 the way old releases do (tests/fixtures/sdists)."""

import os
import shutil
import subprocess

import pytest

from support import UV

from ansible_collections.oxzep7.python.plugins.module_utils._common import Oxzep7Error
from ansible_collections.oxzep7.python.plugins.module_utils._installer import Installer, explain_failure
from ansible_collections.oxzep7.python.plugins.module_utils._layout import Layout
from ansible_collections.oxzep7.python.plugins.module_utils._release import rebuild
from ansible_collections.oxzep7.python.plugins.module_utils._venv import python_of

# What each failing build says, as pip and uv print it (the compiler's quotes follow the locale).
ERRORS = {
    "oldext": ("building oldext==1.0 for cp312 failed: oldext.c:8:", "has no member named",
               "recursion_depth"),
    "oldsetup": ("building oldsetup==1.0 for cp312 failed: ModuleNotFoundError: No module named 'imp'",),
}
PINS = [dict(name="idna", version="3.4"), dict(name="oldext", version="1.0"), dict(name="oldsetup", version="1.0")]


def _says(reason, parts):
    assert reason.startswith(parts[0]) and all(p in reason for p in parts[1:]), reason


# pip 23.2 names no package when the build fails before the wheel (oldsetup): the parser takes the one
# it was processing. Its wheel build failure (oldext) reads like pip 26's, tested below.
@pytest.mark.parametrize("installer,package", [("uv", "oldext"), ("uv", "oldsetup"), ("pip", "oldsetup")])
def test_failed_rebuild_names_the_package_and_its_error(tmp_path, runner, old_python, new_python, wheelhouse,
                                                        old_sdists, installer, package):
    stable = str(tmp_path / "venv")
    subprocess.run([old_python, "-m", "venv", stable], check=True)
    lock = tmp_path / "lock.txt"
    lock.write_text("idna==3.4\n%s==1.0\n" % package)
    inst = Installer(dict(installer=installer, uv_path=UV, no_index=True, find_links=[wheelhouse, old_sdists],
                          isolated=True), shutil.which)
    layout = Layout(stable)
    with pytest.raises(Oxzep7Error) as err:
        rebuild(runner, layout, inst, new_python, lock_path=str(lock), release_id="r-cp312")
    _says(err.value.msg, ERRORS[package])
    failure = err.value.details["installer_failure"]
    assert (failure["kind"], failure["name"], failure["version"]) == ("build", package, "1.0")
    log = err.value.details["installer_log"]
    assert failure["line"] in log and log.startswith("$ ") and "# exit status 1" in log
    # nothing left beside the plain venv: no release, no empty releases directory
    assert layout.kind() == "plain" and not os.path.exists(layout.releases_dir)


@pytest.fixture(scope="module")
def pip26(tmp_path_factory, new_python, wheelhouse):
    """A CPython 3.12 venv whose pip is 26, from the wheelhouse."""
    venv = str(tmp_path_factory.mktemp("pip26") / "venv")
    subprocess.run([UV, "venv", "--quiet", "--no-config", "--python", new_python, venv], check=True)
    subprocess.run([UV, "pip", "install", "--quiet", "--no-config", "--python", python_of(venv), "--no-index",
                    "--find-links", wheelhouse, "pip==26.3"], check=True)
    return python_of(venv)


@pytest.mark.parametrize("package", sorted(ERRORS))
def test_pip_26_names_the_package_too(tmp_path, runner, pip26, wheelhouse, old_sdists, package):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("idna==3.4\n%s==1.0\n" % package)
    inst = Installer(dict(installer="pip", no_index=True, find_links=[wheelhouse, old_sdists], isolated=True),
                     shutil.which)
    with pytest.raises(Oxzep7Error) as err:
        inst.install(runner, pip26, str(requirements))
    assert "pip 26." in runner.run([pip26, "-m", "pip", "--version"]).stdout
    details = err.value.details
    _says(explain_failure(details["stdout"], details["stderr"], PINS, "cp312")["reason"], ERRORS[package])


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_a_pin_with_no_build_for_the_target_is_named(tmp_path, runner, new_python, wheelhouse, installer):
    """numpy 1.24.4 has wheels up to cp311 only; with wheels only, neither installer finds one."""
    venv = str(tmp_path / "venv")
    subprocess.run([new_python, "-m", "venv", venv], check=True)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("idna==3.4\nnumpy==1.24.4\n")
    inst = Installer(dict(installer=installer, uv_path=UV, no_index=True, find_links=[wheelhouse], isolated=True,
                          only_binary=True), shutil.which)
    with pytest.raises(Oxzep7Error) as err:
        inst.install(runner, python_of(venv), str(requirements))
    details = err.value.details
    failure = explain_failure(details["stdout"], details["stderr"], [dict(name="numpy", version="1.24.4")], "cp312")
    expected = {"pip": "no build of numpy==1.24.4 for cp312: Could not find a version that satisfies the requirement "
                       "numpy==1.24.4 (from versions: none)",
                "uv": "no build of numpy==1.24.4 for cp312: Because numpy==1.24.4 has no wheels with a matching "
                      "Python ABI tag (e.g., `cp312`) and you require numpy==1.24.4, we can conclude that your "
                      "requirements are unsatisfiable."}
    assert failure["reason"] == expected[installer] and failure["kind"] == "no_build"


def test_an_index_that_does_not_answer_is_no_missing_build(tmp_path, runner, pip26):
    """pip says "No matching distribution" when it could not read the index at all (after its retries, which
    it reports): that names no build."""
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("idna==3.4\n")
    inst = Installer(dict(installer="pip", index_url="http://127.0.0.1:9/simple", isolated=True), shutil.which)
    with pytest.raises(Oxzep7Error) as err:
        inst.install(runner, pip26, str(requirements))
    details = err.value.details
    assert "No matching distribution found for idna==3.4" in details["stderr"] and "Retrying" in details["stderr"]
    assert explain_failure(details["stdout"], details["stderr"], PINS, "cp312") is None
