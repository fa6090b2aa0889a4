"""Commands that cannot start fail the module with a clear message, from any thread, and change nothing."""

import os
import stat

import pytest
from helpers import run_module

from ansible_collections.oxzep7.python.plugins.module_utils._common import Oxzep7Error, Runner
from ansible_collections.oxzep7.python.plugins.module_utils._archive import tree_manifest


def test_a_missing_working_directory_fails_the_gates_instead_of_running_elsewhere(app_venv, tmp_path):
    """ansible's run_command runs a command in the module's own directory when ``cwd`` is not one;
    the imports gate (in its worker threads) and the smoke commands must fail instead."""
    before = tree_manifest(app_venv)
    missing = str(tmp_path / "gone")
    proc = run_module("venv_verify", dict(path=app_venv, imports=["demoapp"], smoke_commands=[["python", "-V"]],
                                          chdir=missing, state_dir=str(tmp_path / "state")))
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert "working directory %s is not a directory" % missing in proc.stdout, proc.stdout[-3000:]
    assert tree_manifest(app_venv) == before


def test_a_command_that_cannot_start_is_an_oxzep7_error(tmp_path):
    """An OSError from starting the process (here: a ``timeout`` program that is not executable)
    becomes the collection's error naming the step, not a traceback."""
    fake = tmp_path / "timeout"
    fake.write_text("not a program\n")
    fake.chmod(stat.S_IRUSR)
    runner = Runner(timeout_bin=str(fake))
    with pytest.raises(Oxzep7Error, match="cannot run the probe: .*Permission denied"):
        runner.run(["true"], what="the probe")
    assert os.path.exists(str(fake))
