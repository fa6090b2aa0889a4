"""The upgrade end to end on the oldest and the newest ansible-core line the collection claims
(tests/ansible-core-matrix.txt; the tool venv's own line runs every other test). One real app venv
per line, upgraded from 3.9 to 3.12 by playbooks/upgrade.yml run with that line's ansible-playbook,
then run again: nothing changes."""

import json
import os
import subprocess

import pytest

from helpers import ROOT, http_json, read_ledger, run_playbook

from ansible_collections.oxzep7.python.plugins.module_utils._layout import Layout

MATRIX = os.path.join(ROOT, "tests", "ansible-core-matrix.txt")


def _lines():
    with open(MATRIX) as fh:
        rows = [line.split() for line in fh if line.strip() and not line.startswith("#")]
    return dict((name, core) for name, core, _controller in rows)


@pytest.fixture(scope="session")
def matrix_venvs():
    """name -> the ``bin`` directory of that line's venv (made by ``scripts/matrix --venvs``)."""
    subprocess.run([os.path.join(ROOT, "scripts", "matrix"), "--venvs"], check=True, timeout=900)
    return dict((name, os.path.join(ROOT, ".cache", "matrix", name, "bin")) for name in _lines())


@pytest.mark.parametrize("line", sorted(_lines()))
def test_upgrade_on_the_line(line, matrix_venvs, app, pyenv_root, wheelhouse):
    bin_dir = matrix_venvs[line]
    version = subprocess.run([os.path.join(bin_dir, "python"), "-c",
                              "from ansible.release import __version__; print(__version__)"],
                             stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout.strip()
    assert version == _lines()[line]
    host_vars = app.host_vars(pyenv_root, wheelhouse)
    reports = os.path.join(app.base, "reports")
    extra = dict(python_upgrade_report_dir=reports, python_upgrade_run_id="matrix-" + line)

    rc, stats, _plays = run_playbook("upgrade.yml", app.base, host_vars, extra_vars=extra, bin_dir=bin_dir)
    assert rc == 0 and stats["failures"] == 0 and stats["changed"] > 0, stats
    layout = Layout(app.stable)
    current = layout.current_release()
    assert current.endswith("-cp312") and layout.marker(current)["state"] == "verified", current
    assert http_json("http://127.0.0.1:%d/health" % app.port)["python"].startswith("3.12.")
    with open(os.path.join(reports, "matrix-" + line, "report.json")) as fh:
        report = json.load(fh)
    assert report["status"] == "completed" and [(h["host"], h["status"]) for h in report["hosts"]] == [
        ("app", "upgraded")], report

    rc, stats, _plays = run_playbook("upgrade.yml", app.base, host_vars, bin_dir=bin_dir,
                                     extra_vars=dict(extra, python_upgrade_run_id="matrix-%s-again" % line))
    assert rc == 0 and stats["changed"] == 0, stats
    assert [r["result"] for r in read_ledger(app.state_dir) if r["step"] == "upgrade"] == [
        "upgraded", "already_current"]
    assert layout.current_release() == current
