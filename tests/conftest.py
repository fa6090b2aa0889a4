"""Shared fixtures: real interpreters, the real local wheelhouse, real app venvs.

Interpreters come from a pyenv root (``OXZEP7_TEST_PYENV_ROOT``, else ``pyenv root``):
the old one is the newest 3.9, the target the newest 3.12. Machines of this project's
kind ship both prebuilt; elsewhere install them with pyenv first. A missing one is an
error, never a skip.
"""

import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, ".cache", "collections"))

from ansible_collections.oxzep7.python.plugins.module_utils._common import Runner  # noqa: E402
from ansible_collections.oxzep7.python.plugins.module_utils._venv import resolve_interpreter  # noqa: E402

WHEELHOUSE = os.environ.get("OXZEP7_WHEELHOUSE", os.path.join(ROOT, ".cache", "wheelhouse"))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
OLD_VERSION, TARGET_VERSION = "3.9", "3.12"
# uv comes with the tool venv (tests/requirements-tools.txt)
UV = shutil.which("uv") or os.path.join(os.path.dirname(sys.executable), "uv")


def _pyenv_root():
    root = os.environ.get("OXZEP7_TEST_PYENV_ROOT")
    if not root and shutil.which("pyenv"):
        root = subprocess.run(["pyenv", "root"], stdout=subprocess.PIPE, universal_newlines=True,
                              check=True).stdout.strip()
    if not root:
        raise RuntimeError("tests need a pyenv root with CPython %s and %s: set OXZEP7_TEST_PYENV_ROOT"
                           % (OLD_VERSION, TARGET_VERSION))
    return root


@pytest.fixture(scope="session")
def pyenv_root():
    return _pyenv_root()


@pytest.fixture(scope="session")
def old_python(pyenv_root):
    return resolve_interpreter(python_version=OLD_VERSION, pyenv_root=pyenv_root)


@pytest.fixture(scope="session")
def new_python(pyenv_root):
    return resolve_interpreter(python_version=TARGET_VERSION, pyenv_root=pyenv_root)


@pytest.fixture(scope="session")
def wheelhouse():
    assert os.path.exists(os.path.join(WHEELHOUSE, ".stamp")), \
        "run scripts/make-wheelhouse first (make test does)"
    return WHEELHOUSE


@pytest.fixture(scope="session")
def installer_options(wheelhouse):
    """Air-gapped installs: no index, only the local wheelhouse, no user configuration."""
    return dict(installer="uv", uv_path=UV, no_index=True, find_links=[wheelhouse],
                isolated=True, only_binary=True)


@pytest.fixture
def runner():
    return Runner()


def make_app_venv(path, python, wheelhouse, requirements="requirements.txt"):
    """Create a stdlib venv (with pip) at ``path`` and install the demo app's pinned set."""
    subprocess.run([python, "-m", "venv", path], check=True)
    subprocess.run([UV, "pip", "install", "--no-config", "--python",
                    os.path.join(path, "bin", "python"), "--no-index", "--find-links", wheelhouse,
                    "-r", os.path.join(FIXTURES, "demoapp", requirements)],
                   check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return path


@pytest.fixture
def app_venv(tmp_path, old_python, wheelhouse):
    """A live app venv on the old interpreter at ``<tmp>/srv/app/venv`` (a plain directory)."""
    os.makedirs(str(tmp_path / "srv" / "app"))
    return make_app_venv(str(tmp_path / "srv" / "app" / "venv"), old_python, wheelhouse)
