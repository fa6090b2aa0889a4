"""The fleet report and the ledger after a failed rebuild, on a run limited to one of two hosts."""

import json
import os
import subprocess

from helpers import read_ledger, run_fleet_playbook
from support import UV

from ansible_collections.oxzep7.python.plugins.module_utils._layout import Layout
from ansible_collections.oxzep7.python.plugins.module_utils._archive import tree_manifest


def test_limited_run_reports_the_failed_build_by_name(tmp_path, old_python, pyenv_root, wheelhouse, old_sdists):
    """web-1's venv holds oldext 1.0, a C extension that builds on 3.9 and not on 3.12 (an sdist only):
    the rebuild fails, the venv is rolled back. Only web-1 is in --limit; web-2 is never touched."""
    base = str(tmp_path)
    stable = os.path.join(base, "web-1", "venv")
    subprocess.run([old_python, "-m", "venv", stable], check=True)
    subprocess.run([UV, "pip", "install", "--quiet", "--no-config", "--python", os.path.join(stable, "bin", "python"),
                    "--no-index", "--find-links", wheelhouse, "--find-links", old_sdists, "idna==3.4", "oldext==1.0"],
                   check=True)
    hosts = {}
    for name in ("web-1", "web-2"):
        hosts[name] = dict(upgrade_python_version="3.12", upgrade_pyenv_root=pyenv_root, upgrade_no_index=True,
                           upgrade_find_links=[wheelhouse, old_sdists], upgrade_installer_isolated=True,
                           upgrade_state_dir=os.path.join(base, name, "state"),
                           upgrade_backup_dir=os.path.join(base, name, "backups"), preflight_reference_paths=[],
                           upgrade_venvs=[dict(path=os.path.join(base, name, "venv"), imports=["idna", "oldext"])])
    state = hosts["web-1"]["upgrade_state_dir"]
    before = tree_manifest(stable)
    reports = os.path.join(base, "reports")
    # report-only preflight: should it refuse the sdist, the rebuild must still fail here
    rc, stats, _plays = run_fleet_playbook("upgrade.yml", base, hosts, limit="web-1", extra_vars=dict(
        python_upgrade_report_dir=reports, python_upgrade_run_id="r1", preflight_inhibited_action="report"))
    assert rc != 0 and stats["web-1"]["rescued"] == 1 and "web-2" not in stats, stats
    with open(os.path.join(reports, "r1", "report.json")) as fh:
        report = json.load(fh)
    with open(os.path.join(reports, "r1", "report.md")) as fh:
        markdown = fh.read()
    # only the host it was given, counted as the table shows it
    assert [(h["host"], h["status"]) for h in report["hosts"]] == [("web-1", "rolled_back")], report["hosts"]
    assert report["status"] == "completed_with_failures"
    assert (report["totals"]["rolled_back"], report["totals"]["failed"], report["totals"]["pending"]) == (1, 0, 0)
    assert "1 hosts: 1 rolled back." in markdown and "| web-1 | rolled_back |" in markdown

    # the reason names the package, the target and the compiler's error line, in the report and the ledger
    venv = report["hosts"][0]["venvs"][0]
    named = "Snapshot, rebuild, verify and switch: building oldext==1.0 for cp312 failed: oldext.c:8:"
    assert venv["reason"].startswith(named) and "recursion_depth" in venv["reason"], venv["reason"]
    records = [r for r in read_ledger(state) if r["run_id"] == "r1"]
    # the snapshot's archive, written while the rebuild ran, was dropped with the failed pass
    assert [(r["step"], r["result"]) for r in records][:1] == [("rebuild", "failed")]
    rebuild = records[0]
    assert rebuild["reason"].startswith("building oldext==1.0 for cp312 failed: oldext.c:8:"), rebuild
    assert [r["reason"] for r in records if r["step"] == "upgrade"] == [venv["reason"]]

    # the installer's whole output is kept beside the report
    log = os.path.join(reports, "r1", venv["installer_log"])
    assert os.path.dirname(venv["installer_log"]) == "hosts/web-1"
    with open(log) as fh:
        text = fh.read()
    assert rebuild["reason"].split("failed: ", 1)[1] in text and "uv pip install" in text
    assert "evidence: %s" % venv["installer_log"] in markdown

    # rolled back to the plain venv it was, with nothing left beside it
    layout = Layout(stable)
    assert layout.kind() == "plain" and tree_manifest(stable) == before
    assert not os.path.exists(layout.releases_dir)
    assert not os.path.exists(hosts["web-2"]["upgrade_state_dir"])
