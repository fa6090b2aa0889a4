"""Shared fixtures: real interpreters, the real local wheelhouse, real app venvs.

Interpreters come from a pyenv root (``OXZEP7_TEST_PYENV_ROOT``, else ``pyenv root``,
else ``~/.pyenv``): the old one is the newest 3.9, the target the newest 3.12.
Machines of this project's kind ship both prebuilt; elsewhere install them with
pyenv first. A missing one is an error, never a skip.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from support import FIXTURES, INDEX, OLD_VERSION, TARGET_VERSION, UV, WHEELHOUSE, make_app_venv, pyenv_root_path

from ansible_collections.oxzep7.python.plugins.module_utils._common import Runner
from ansible_collections.oxzep7.python.plugins.module_utils._venv import resolve_interpreter


@pytest.fixture(scope="session")
def pyenv_root():
    return pyenv_root_path()


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


@pytest.fixture
def app_venv(tmp_path, old_python, wheelhouse):
    """A live app venv on the old interpreter at ``<tmp>/srv/app/venv`` (a plain directory)."""
    os.makedirs(str(tmp_path / "srv" / "app"))
    return make_app_venv(str(tmp_path / "srv" / "app" / "venv"), old_python, wheelhouse)


@pytest.fixture(scope="session")
def compat_index():
    """The compatibility test index (scripts/make-index) served on 127.0.0.1; yields its simple/ URL."""
    site = os.path.join(INDEX, "site")
    assert os.path.exists(os.path.join(INDEX, ".stamp")), "run scripts/make-index first (make test does)"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "-d", site],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = "http://127.0.0.1:%d/simple/" % port
    for attempt in range(100):
        try:
            urllib.request.urlopen(url + "six/", timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    yield url
    server.terminate()
    server.wait()


@pytest.fixture(scope="session")
def old_sdists(tmp_path_factory, old_python, wheelhouse):
    """A find-links directory with the sdists of tests/fixtures/sdists (built by ``uv build``): each
    builds on the old interpreter and fails to build on the target."""
    out, work = str(tmp_path_factory.mktemp("sdists")), str(tmp_path_factory.mktemp("sdist-sources"))
    for name in ("oldext", "oldsetup"):
        source = shutil.copytree(os.path.join(FIXTURES, "sdists", name), os.path.join(work, name))  # builds write egg-info
        subprocess.run([UV, "build", "--sdist", "--no-config", "--python", old_python, "--no-index",
                        "--find-links", wheelhouse, "--out-dir", out, source],
                       check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return out
