"""The app's own benchmark before and after (issue 15): measured on both releases, compared, a regression rolled back."""

import json
import os

from helpers import read_ledger, run_playbook

from ansible_collections.oxzep7.python.plugins.module_utils._archive import tree_manifest
from ansible_collections.oxzep7.python.plugins.module_utils._layout import Layout

SELFTEST = "import runpy; runpy.run_module('demoapp.selftest', run_name='__main__', alter_sys=True)"
# a request handler's work, 0.5 s on the new interpreter against 0.05 s on the old: a regression only the new
# release has (a lighter command than the selftest, whose time is mostly compiling the live venv's modules:
# the live venv has no bytecode and is never written to, the new release got its bytecode from the gates)
SLOWER = "import sys, time; time.sleep(0.5 if sys.version_info >= (3, 12) else 0.05)"


def test_benchmark_regression_rolls_back_then_a_fair_release_goes_live(app, pyenv_root, wheelhouse):
    before = tree_manifest(app.stable)
    reports = os.path.join(app.base, "reports")
    slow = app.venv_entry(benchmark_command=["python", "-c", SLOWER], benchmark_runs=3, max_regression_percent=50)
    rc, stats, _plays = run_playbook("upgrade.yml", app.base, app.host_vars(pyenv_root, wheelhouse, upgrade_venvs=[slow]),
                                     extra_vars=dict(python_upgrade_run_id="b1", python_upgrade_report_dir=reports))
    assert rc != 0 and stats["rescued"] == 1, stats
    layout = Layout(app.stable)
    assert layout.kind() == "plain" and tree_manifest(app.stable) == before  # never switched, old venv untouched
    assert not os.path.exists(layout.releases_dir)  # the slow release is gone
    [bench] = [r for r in read_ledger(app.state_dir) if r["step"] == "benchmark"]
    assert bench["result"] == "failed" and "above max_regression_percent 50" in bench["reason"], bench
    [upgrade] = [r for r in read_ledger(app.state_dir) if r["step"] == "upgrade"]
    assert upgrade["result"] == "rolled_back" and "slower than the live one" in upgrade["reason"], upgrade
    b = upgrade["benchmark"]
    assert len(b["before"]["seconds"]) == len(b["after"]["seconds"]) == 3
    assert b["after"]["median_seconds"] - b["before"]["median_seconds"] > 0.4 and b["regression_percent"] > 50, b
    assert b["passed"] is False

    fair = app.venv_entry(benchmark_command=["python", "-c", SELFTEST], benchmark_runs=3, max_regression_percent=200)
    rc, stats, _plays = run_playbook("upgrade.yml", app.base, app.host_vars(pyenv_root, wheelhouse, upgrade_venvs=[fair]),
                                     extra_vars=dict(python_upgrade_run_id="b2", python_upgrade_report_dir=reports))
    assert rc == 0, stats
    assert layout.current_release() == "b2-cp312"
    upgrade = [r for r in read_ledger(app.state_dir) if r["step"] == "upgrade"][-1]
    b = upgrade["benchmark"]
    assert upgrade["result"] == "upgraded" and b["passed"] is True, upgrade
    # the selftest imports Flask, SQLAlchemy and pydantic: tens of MiB resident, on both releases
    assert b["before"]["peak_rss_bytes"] > 20 * 1048576 and b["after"]["peak_rss_bytes"] > 20 * 1048576, b
    assert b["ratio"] == round(b["after"]["median_seconds"] / b["before"]["median_seconds"], 3)
    with open(os.path.join(reports, "b2", "report.md")) as fh:
        text = fh.read()
    assert "## App benchmark, before and after" in text and "| app | `%s` |" % app.stable in text, text
    with open(os.path.join(reports, "b2", "report.json")) as fh:
        venv = json.load(fh)["hosts"][0]["venvs"][0]
    assert venv["benchmark"]["after"]["median_seconds"] == b["after"]["median_seconds"]
