"""Every molecule scenario, run for real on podman containers (create, converge, verify, destroy).

scripts/testbed installs podman and builds the image first; a failing scenario fails this test
with the end of molecule's output.
"""

import os
import subprocess
import sys

import pytest

from support import ROOT, pyenv_root_path

BIN = os.path.dirname(sys.executable)
SCENARIOS = sorted(d for d in os.listdir(os.path.join(ROOT, "molecule"))
                   if os.path.isfile(os.path.join(ROOT, "molecule", d, "molecule.yml")))


@pytest.fixture(scope="session")
def testbed_env(wheelhouse):
    image = subprocess.run([os.path.join(ROOT, "scripts", "testbed")], stdout=subprocess.PIPE, check=True,
                           universal_newlines=True).stdout.strip().splitlines()[-1]
    return dict(os.environ, OXZEP7_TEST_IMAGE=image, OXZEP7_PYENV_ROOT=pyenv_root_path(),
                CONTAINERS_CONF=os.path.join(ROOT, "tests", "testbed", "containers.conf"),
                ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".cache", "collections"), ANSIBLE_NOCOLOR="1",
                NO_COLOR="1", PATH=BIN + os.pathsep + os.environ.get("PATH", ""))


def test_scenarios_are_found():
    assert SCENARIOS == ["default", "fleet", "rollback"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario(scenario, testbed_env):
    proc = subprocess.run([os.path.join(BIN, "molecule"), "test", "-s", scenario], cwd=ROOT, env=testbed_env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert "Executed: Failed" not in proc.stdout
    assert " passed" in proc.stdout  # the testinfra verifier ran and passed
