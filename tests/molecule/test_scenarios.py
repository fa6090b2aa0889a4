"""Every molecule scenario, run for real on podman containers (create, converge, verify, destroy).

scripts/molecule sets up the test bed (podman, the image, containers.podman) and the environment;
a failing scenario fails this test with the end of molecule's output.
"""

import os
import subprocess

import pytest

from support import ROOT

SCENARIOS = sorted(d for d in os.listdir(os.path.join(ROOT, "molecule"))
                   if os.path.isfile(os.path.join(ROOT, "molecule", d, "molecule.yml")))
# The fleet scenario is driven run by run by test_fleet_runs.py.
DRIVEN = ["fleet"]


def test_scenarios_are_found():
    assert SCENARIOS == ["default", "fleet", "interpreter", "rollback"]


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s not in DRIVEN])
def test_scenario(scenario, pyenv_root):
    env = dict(os.environ, OXZEP7_PYENV_ROOT=pyenv_root, ANSIBLE_NOCOLOR="1", NO_COLOR="1")
    proc = subprocess.run([os.path.join(ROOT, "scripts", "molecule"), "test", "-s", scenario], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert "Executed: Failed" not in proc.stdout
    assert " passed" in proc.stdout  # the testinfra verifier ran and passed
