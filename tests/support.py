"""Shared test support: paths, the real wheelhouse and real app venvs."""

import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, ".cache", "collections"))
WHEELHOUSE = os.environ.get("OXZEP7_WHEELHOUSE", os.path.join(ROOT, ".cache", "wheelhouse"))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
INDEX = os.environ.get("OXZEP7_INDEX", os.path.join(ROOT, ".cache", "index"))
OLD_VERSION, TARGET_VERSION = "3.9", "3.12"
# the tool venv's commands (tests/requirements-tools.txt): ansible-galaxy, galaxy-importer, ansible-builder
BIN = os.path.dirname(sys.executable)
# uv comes with the tool venv
UV = shutil.which("uv") or os.path.join(BIN, "uv")


def pyenv_root_path():
    """Return the pyenv root that holds the test interpreters; raise when there is none."""
    root = os.environ.get("OXZEP7_TEST_PYENV_ROOT")
    if not root and shutil.which("pyenv"):
        root = subprocess.run(["pyenv", "root"], stdout=subprocess.PIPE, universal_newlines=True,
                              check=True).stdout.strip()
    if not root and os.path.isdir(os.path.expanduser("~/.pyenv/versions")):
        root = os.path.expanduser("~/.pyenv")
    if not root:
        raise RuntimeError("tests need a pyenv root with CPython %s and %s: set OXZEP7_TEST_PYENV_ROOT"
                           % (OLD_VERSION, TARGET_VERSION))
    return root


def make_app_venv(path, python, wheelhouse, requirements="requirements.txt"):
    """Create a stdlib venv (with pip) at ``path`` and install the demo app's pinned set."""
    subprocess.run([python, "-m", "venv", path], check=True)
    subprocess.run([UV, "pip", "install", "--no-config", "--python",
                    os.path.join(path, "bin", "python"), "--no-index", "--find-links", wheelhouse,
                    "-r", os.path.join(FIXTURES, "demoapp", requirements)],
                   check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return path
