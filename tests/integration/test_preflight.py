"""compat_check and venv_preflight against a real index, and the preflight role on a fleet.

The index (scripts/make-index) holds real releases from the package index: numpy 1.24.4
(wheels for cp38 to cp311 only), 1.25.2, 1.26.0 (cp312), 2.1.0 (cp313); scipy 1.10.1
(Requires-Python <3.12), 1.11.1, 1.11.2 (cp312), 1.14.1 (cp313); termcolor 1.1.0 (sdist
only) and 2.4.0; requests 2.32.0 (yanked) and 2.32.3; six 1.16.0.
"""

import json
import os
import subprocess

from helpers import failed_tasks, run_fleet_playbook, run_playbook, task_results
from support import FIXTURES, WHEELHOUSE, make_app_venv

from ansible_collections.oxzep7.python.plugins.module_utils._snapshot import tree_manifest
from ansible_collections.oxzep7.python.plugins.module_utils._venv import resolve_interpreter

HERE = os.path.dirname(os.path.abspath(__file__))
LOCK = """numpy==1.24.4
scipy==1.10.1
termcolor==1.1.0
six==1.16.0
requests==2.32.0
demoapp @ file://{wheelhouse}/demoapp-1.0.0-py3-none-any.whl
tool @ git+https://git.example.com/tool.git@1a2b3c
"""


def by(items, **match):
    return [i for i in items if all(i.get(k) == v for k, v in match.items())]


def test_compat_check_and_venv_preflight(tmp_path, pyenv_root, compat_index):
    base = str(tmp_path)
    stable = os.path.join(base, "venv")
    subprocess.run([resolve_interpreter(python_version="3.8", pyenv_root=pyenv_root), "-m", "venv", stable], check=True)
    with open(os.path.join(base, "lock.txt"), "w") as fh:
        fh.write(LOCK.format(wheelhouse=WHEELHOUSE))
    code = os.path.join(base, "src")
    os.makedirs(code)
    with open(os.path.join(code, "report.py"), "w") as fh:
        fh.write("import os\nimport imp\ntry:\n    import distutils.core\nexcept ImportError:\n    pass\n")
    refs = os.path.join(base, "etc")
    os.makedirs(refs)
    base_python = os.path.realpath(resolve_interpreter(python_version="3.8", pyenv_root=pyenv_root))
    with open(os.path.join(refs, "app.service"), "w") as fh:
        fh.write("[Service]\nExecStart=%s -m app\n" % base_python)
    with open(os.path.join(refs, "app.cron"), "w") as fh:
        fh.write("# nightly\n0 3 * * * app /usr/bin/python3.8 /srv/app/report.py\n")
    before = tree_manifest(stable)
    rc, stats, plays = run_playbook(os.path.join(HERE, "playbooks", "compat.yml"), base, {}, extra_vars=dict(
        stable=stable, lock=os.path.join(base, "lock.txt"), index_url=compat_index, code_dir=code,
        reference_dir=refs, backup_dir=os.path.join(base, "backups")))
    failed = failed_tasks(plays)
    assert rc == 0 and not failed, failed
    assert tree_manifest(stable) == before  # nothing written into the venv

    full = task_results(plays, "Packages along a stepwise path")[0]
    assert not full["changed"] and full["python_version"].startswith("3.8.")
    assert full["can_move"] == {"3.9": True, "3.10": True, "3.11": True, "3.12": False, "3.13": False}
    breaks = dict((row["name"], row["breaks_at"]) for row in full["matrix"])
    assert breaks == {"numpy": "3.12", "scipy": "3.12", "termcolor": None, "six": None, "requests": None,
                      "demoapp": None, "tool": None}
    inhibitors = dict(((i["name"], i["target"]), i) for i in full["inhibitors"])
    assert sorted(inhibitors) == [("numpy", "3.12"), ("numpy", "3.13"), ("scipy", "3.12"), ("scipy", "3.13")]
    numpy12, numpy13 = inhibitors[("numpy", "3.12")], inhibitors[("numpy", "3.13")]
    assert (numpy12["fix"]["version"], numpy12["fix"]["crosses_major"]) == ("1.26.0", False)
    assert "no wheel for CPython 3.12" in numpy12["message"] and "1.26.0" in numpy12["message"]
    assert (numpy13["fix"]["version"], numpy13["fix"]["crosses_major"]) == ("2.1.0", True)
    assert "new major version" in numpy13["message"]
    scipy12 = inhibitors[("scipy", "3.12")]
    assert "Requires-Python <3.12,>=3.8 excludes 3.12" in scipy12["message"]
    assert scipy12["fix"]["version"] == "1.11.2"  # 1.11.1 has no cp312 wheel
    assert inhibitors[("scipy", "3.13")]["fix"]["version"] == "1.14.1"
    warnings12 = by(full["cautions"], target="3.12")
    assert sorted((w["name"], w["check"]) for w in warnings12) == [
        ("requests", "yanked"), ("termcolor", "sdist"), ("tool", "direct_url")]
    assert "CVE-2024-35195" in by(warnings12, name="requests")[0]["message"]
    assert "termcolor-1.1.0.tar.gz" in by(warnings12, name="termcolor")[0]["message"]
    # pip's own resolver agrees at every target, on the wheels it chose
    assert all(r["ok"] for r in full["resolution"])
    resolved12 = by(full["resolution"], target="3.12")[0]
    assert resolved12["files"]["six"] == "six-1.16.0-py2.py3-none-any.whl" and "numpy" not in resolved12["files"]
    assert by(full["resolution"], target="3.11")[0]["files"]["numpy"].startswith("numpy-1.24.4-cp311-cp311-manylinux")
    assert any(p.startswith("manylinux_2_") for p in full["platforms"])

    checked = task_results(plays, "Packages in check mode")[0]
    assert checked["inhibited"] and sorted(i["name"] for i in checked["inhibitors"]) == ["numpy", "scipy"]

    eased = task_results(plays, "Packages with an allowlist and an upgrade")[0]
    assert eased["inhibitors"] == [] and eased["can_move"] == {"3.12": True}
    assert [(a["name"], a["allowlist_reason"]) for a in eased["accepted"]] == [
        ("scipy", "replaced by the app team next sprint")]
    assert "1.24.4 -> 1.26.0" in by(eased["cautions"], name="numpy", check="upgrade")[0]["message"]

    strict = task_results(plays, "Packages with builds from source forbidden")[0]
    assert "only an sdist" in by(strict["inhibitors"], name="termcolor")[0]["message"]

    pre = task_results(plays, "Code, references and disk")[0]
    assert not pre["changed"]
    assert [(i["check"], i["module"], i["line"], i["target"]) for i in pre["inhibitors"]] == [
        ("removed_module", "imp", 2, "3.12")]
    guarded = by(pre["cautions"], check="removed_module")
    assert [(w["module"], w["line"], w["target"]) for w in guarded] == [("distutils", 4, "3.12")]
    assert pre["code"]["files"] == 1 and pre["code"]["minimum"]
    refs_found = sorted((os.path.basename(r["file"]), r["line"], r["kind"]) for r in pre["references"])
    assert refs_found == [("app.cron", 2, "versioned_name"), ("app.service", 2, "base_interpreter")]
    assert pre["disk"]["ok"] and pre["disk"]["release_bytes"] == pre["size_bytes"] > 0

    bad = task_results(plays, "A bad target")[0]  # failed_when inverts the failure
    assert not bad.get("failed") and "twelve" in bad["msg"]


def test_preflight_playbook_reports_and_upgrade_refuses(tmp_path, old_python, wheelhouse, pyenv_root):
    """Two hosts: one moves to 3.12, one cannot (numpy 1.24.4 has no cp312 wheel here, code imports imp)."""
    base = str(tmp_path)
    ready, blocked = os.path.join(base, "ready", "venv"), os.path.join(base, "blocked", "venv")
    make_app_venv(ready, old_python, wheelhouse)
    make_app_venv(blocked, old_python, wheelhouse)
    subprocess.run([os.path.join(blocked, "bin", "python"), "-m", "pip", "install", "-q", "--isolated", "--no-index",
                    "--find-links", wheelhouse, "numpy==1.24.4"], check=True)
    common = dict(upgrade_pyenv_root=pyenv_root, upgrade_no_index=True, upgrade_find_links=[wheelhouse],
                  upgrade_installer_isolated=True, upgrade_state_dir=os.path.join(base, "state"),
                  upgrade_backup_dir=os.path.join(base, "backups"), preflight_reference_paths=[])
    hosts = {"ready": dict(common, upgrade_venvs=[dict(path=ready, imports=["demoapp"])]),
             "blocked": dict(common, upgrade_venvs=[dict(path=blocked, imports=["demoapp"],
                                                         code_paths=[os.path.join(FIXTURES, "demoapp", "src")])])}
    before = tree_manifest(blocked)
    reports = os.path.join(base, "reports")
    rc, stats, plays = run_fleet_playbook("oxzep7.python.preflight", base, hosts, check=True, extra_vars=dict(
        python_upgrade_target="3.12", python_upgrade_run_id="pre1", python_upgrade_report_dir=reports))
    assert rc == 0, failed_tasks(plays)
    changed = set(t["task"]["name"].split(" : ")[-1] for p in plays for t in p["tasks"]
                  if any(r.get("changed") for r in t["hosts"].values()))
    assert changed <= {"Make the report directory on the controller", "Write this host's preflight JSON on the "
                       "controller", "Write the fleet report on the controller"}, changed
    assert not os.path.exists(os.path.join(base, "state")) and not os.path.exists(os.path.join(base, "backups"))
    folder = os.path.join(reports, "pre1", "preflight")
    with open(os.path.join(folder, "preflight.json")) as fh:
        fleet = json.load(fh)
    assert (fleet["can_move"], fleet["cannot_move"]) == (["ready"], ["blocked"])
    venv = [h for h in fleet["hosts"] if h["host"] == "blocked"][0]["venvs"][0]
    assert venv["status"] == "inhibited" and venv["from"].startswith("3.9.")
    assert sorted((i["check"], i.get("name") or i.get("module")) for i in venv["inhibitors"]) == [
        ("package", "numpy"), ("removed_module", "imp")]
    with open(os.path.join(folder, "preflight.md")) as fh:
        markdown = fh.read()
    assert "2 hosts, 1 can move, 1 cannot" in markdown
    assert "numpy 1.24.4 cannot install on 3.12" in markdown and "legacy.py:3 imports imp" in markdown
    assert os.path.exists(os.path.join(folder, "hosts", "ready.json"))

    rc, stats, plays = run_fleet_playbook("oxzep7.python.upgrade", base, hosts, extra_vars=dict(
        python_upgrade_target="3.12", python_upgrade_run_id="up1", python_upgrade_report_dir=reports,
        python_upgrade_serial=["100%"]))
    assert rc == 0, failed_tasks(plays)
    assert tree_manifest(blocked) == before and not os.path.islink(blocked)
    assert not os.path.exists(os.path.join(base, "blocked", ".venv.releases"))
    assert os.path.islink(ready)
    done = task_results(plays, "Add the outcome to upgrade_results", host="ready")
    assert done and done[-1]["ansible_facts"]["upgrade_results"][0]["result"] == "upgraded"
    assert not task_results(plays, "Add the outcome to upgrade_results", host="blocked")


def test_allowlist_and_fail_on_inhibited(tmp_path, old_python, wheelhouse, pyenv_root):
    """Two hosts whose code imports imp (removed in 3.12): one allowlists that finding by module and file,
    so it can move; the other cannot. With python_upgrade_fail_on_inhibited, preflight.yml and upgrade.yml
    exit non-zero for the inhibited host (the defaults exit 0: see the test above). A third host of the
    inventory is outside --limit: it is not in the reports."""
    base = str(tmp_path)
    code = os.path.join(FIXTURES, "demoapp", "src")
    hosts = {}
    for name in ("allowed", "blocked", "elsewhere"):
        stable = os.path.join(base, name, "venv")
        subprocess.run([old_python, "-m", "venv", stable], check=True)
        hosts[name] = dict(upgrade_pyenv_root=pyenv_root, upgrade_no_index=True, upgrade_find_links=[wheelhouse],
                           upgrade_installer_isolated=True, upgrade_state_dir=os.path.join(base, name, "state"),
                           upgrade_backup_dir=os.path.join(base, name, "backups"), preflight_reference_paths=[],
                           upgrade_venvs=[dict(path=stable, code_paths=[code])])
    rule = dict(module="imp", file="*/demoapp/legacy.py", reason="legacy.py is never imported on 3.12")
    hosts["allowed"]["upgrade_venvs"][0]["allowlist"] = [rule]
    reports = os.path.join(base, "reports")
    run = dict(python_upgrade_target="3.12", python_upgrade_report_dir=reports, python_upgrade_fail_on_inhibited=True)

    rc, stats, plays = run_fleet_playbook("preflight.yml", base, hosts, limit="allowed,blocked",
                                          extra_vars=dict(run, python_upgrade_run_id="pre"))
    assert rc != 0 and (stats["allowed"]["failures"], stats["blocked"]["failures"]) == (0, 1), stats
    assert "blocked cannot move to Python 3.12" in task_results(plays, "Refuse the inhibited host", host="blocked")[0]["msg"]
    with open(os.path.join(reports, "pre", "preflight", "preflight.json")) as fh:
        fleet = json.load(fh)  # written before the inhibited host fails
    assert (fleet["can_move"], fleet["cannot_move"]) == (["allowed"], ["blocked"])
    venvs = dict((h["host"], h["venvs"][0]) for h in fleet["hosts"])
    assert [(i["check"], i["module"], i["line"]) for i in venvs["blocked"]["inhibitors"]] == [("removed_module", "imp", 3)]
    assert venvs["allowed"]["status"] == "ready" and venvs["allowed"]["inhibitors"] == []
    assert [(a["module"], a["allowlist_reason"]) for a in venvs["allowed"]["allowlisted"]] == [("imp", rule["reason"])]
    with open(os.path.join(reports, "pre", "preflight", "preflight.md")) as fh:
        assert "allowlisted removed_module (legacy.py is never imported on 3.12)" in fh.read()

    # upgrade.yml ends the inhibited host untouched, lets the others go on, and fails it at the end
    rc, stats, plays = run_fleet_playbook("upgrade.yml", base, hosts, check=True, limit="allowed,blocked", extra_vars=dict(
        run, python_upgrade_run_id="up", python_upgrade_canary_count=0, python_upgrade_serial=["100%"]))
    assert rc != 0 and (stats["allowed"]["failures"], stats["blocked"]["failures"]) == (0, 1), stats
    with open(os.path.join(reports, "up", "report.json")) as fh:
        report = json.load(fh)
    # the inhibited host's failure is its inhibition, and the host outside --limit is not pending
    statuses = [(h["host"], h["status"]) for h in report["hosts"]]
    assert statuses == [("allowed", "would_upgrade"), ("blocked", "inhibited")], statuses
    assert report["totals"]["failed"] == report["totals"]["pending"] == 0 and report["status"] == "completed"
