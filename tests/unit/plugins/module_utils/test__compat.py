"""The package check on real wheels built by ``uv build``, resolved by the venv's real pip."""

import os
import shutil
import subprocess

from support import UV

from ansible_collections.oxzep7.python.plugins.module_utils import _compat
from ansible_collections.oxzep7.python.plugins.module_utils._lock import parse_lock
from ansible_collections.oxzep7.python.plugins.module_utils._venv import python_of

PYPROJECT = """[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "%s"
version = "%s"
dependencies = %r
"""


def _wheel(base, out, old_python, wheelhouse, name, version, dependencies):
    source = os.path.join(base, "src-" + name)
    os.makedirs(source)
    with open(os.path.join(source, "pyproject.toml"), "w") as fh:
        fh.write(PYPROJECT % (name, version, dependencies))
    with open(os.path.join(source, name.replace("-", "_") + ".py"), "w") as fh:
        fh.write("VALUE = 1\n")
    subprocess.run([UV, "build", "--wheel", "--no-config", "--python", old_python, "--no-index", "--find-links",
                    wheelhouse, "--out-dir", out, source], check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_a_conflict_and_a_missing_dependency_together(tmp_path, app_venv, old_python, wheelhouse, runner,
                                                      installer_options):
    """``needy`` requires ``oldpart<1.0`` (only 2.0 exists: a conflict no release settles) and
    ``extra-part`` (not in the lock). The conflict inhibits; what the set would add is left unsaid
    until it resolves (it crashed the check before: an added project without a version)."""
    links = str(tmp_path / "links")
    os.makedirs(links)
    for name, version, dependencies in (("needy", "1.0", ["oldpart<1.0", "extra-part"]), ("oldpart", "2.0", []),
                                        ("extra-part", "1.0", [])):
        _wheel(str(tmp_path), links, old_python, wheelhouse, name, version, dependencies)
    options = dict(installer_options, find_links=installer_options["find_links"] + [links])
    checked = _compat.check(runner, python_of(app_venv), parse_lock("needy==1.0\noldpart==2.0\n"), ["3.12"],
                            options, shutil.which)
    assert checked["can_move"] == {"3.12": False}
    assert [(i["check"], i["name"]) for i in checked["inhibitors"]] == [("conflict", "oldpart")]
    assert "needy==1.0 requires oldpart<1.0" in checked["inhibitors"][0]["message"]
    assert checked["resolution"][0]["added"] == []
    assert "new_dependency" not in [w["check"] for w in checked["cautions"]]

    # without the conflict, pip adds extra-part, and the check says so with pip's release
    shutil.rmtree(str(tmp_path / "src-needy"))
    os.unlink(os.path.join(links, "needy-1.0-py3-none-any.whl"))
    _wheel(str(tmp_path), links, old_python, wheelhouse, "needy", "1.0", ["oldpart>=1.0", "extra-part"])
    checked = _compat.check(runner, python_of(app_venv), parse_lock("needy==1.0\noldpart==2.0\n"), ["3.12"],
                            options, shutil.which)
    assert checked["can_move"] == {"3.12": True}
    assert [(w["name"], w["version"]) for w in checked["cautions"] if w["check"] == "new_dependency"] == [
        ("extra-part", "1.0")]
