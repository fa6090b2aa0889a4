"""compat_check and venv_preflight against a real index, and the preflight role on a fleet.

The index (scripts/make-index) holds real releases from the package index: numpy 1.24.4
(wheels for cp38 to cp311 only), 1.25.2, 1.26.0 (cp312), 2.1.0 (cp313); scipy 1.10.1
(Requires-Python <3.12), 1.11.1, 1.11.2 (cp312), 1.14.1 (cp313); termcolor 1.1.0 (sdist
only, pure Python: it builds) and 2.4.0; requests 2.32.0 (yanked) and 2.32.3; six 1.16.0;
PyYAML 5.4.1 (sdist, cp39 wheel) and 6.0 (sdist), whose sdists fail with Cython 3, and 6.0.1
(cp310 to cp312); frozenlist 1.3.3 (sdist, cp39 to cp311), whose C does not compile on 3.12,
and 1.4.1 (cp312); pandas 2.1.1 (cp312, requires python-dateutil>=2.8.2), python-dateutil
2.8.1 and 2.8.2, pytz and tzdata; setuptools, wheel and Cython for the isolated builds; what
requests requires (certifi, idna, urllib3, charset-normalizer); WebOb 1.8.9, which requires
legacy-cgi on 3.13 only, and no legacy-cgi.
"""

import json
import os
import shutil
import subprocess

import yaml

from helpers import failed_tasks, run_fleet_playbook, run_playbook, task_results
from support import FIXTURES, UV, WHEELHOUSE, make_app_venv

from ansible_collections.oxzep7.python.plugins.module_utils._lock import apply_upgrades, parse_lock
from ansible_collections.oxzep7.python.plugins.module_utils._archive import tree_manifest
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
    with open(os.path.join(base, "webob.txt"), "w") as fh:
        fh.write("WebOb==1.8.9\nsix==1.16.0\n")
    with open(os.path.join(base, "excluded.txt"), "w") as fh:
        fh.write('pandas==2.1.1\nnumpy==1.26.0\npython-dateutil==2.8.2 ; python_version < "3.12"\nsix==1.16.0\n'
                 'pytz==2023.3\ntzdata==2023.3\n')
    with open(os.path.join(base, "markers.txt"), "w") as fh:
        fh.write('numpy==1.24.4 ; python_version < "3.12"\nscipy==1.10.1 ; sys_platform == "win32"\nsix==1.16.0\n')
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
        reference_dir=refs, backup_dir=os.path.join(base, "backups"), pyenv_root=pyenv_root,
        state_dir=os.path.join(base, "state"), webob_lock=os.path.join(base, "webob.txt"),
        markers_lock=os.path.join(base, "markers.txt"), excluded_lock=os.path.join(base, "excluded.txt")))
    failed = failed_tasks(plays)
    assert rc == 0 and not failed, failed
    assert tree_manifest(stable) == before  # nothing written into the venv

    full = task_results(plays, "Packages along a stepwise path")[0]
    assert not full["changed"] and full["python_version"].startswith("3.8.")
    assert full["can_move"] == {"3.9": True, "3.10": True, "3.11": True, "3.12": False, "3.13": False}
    breaks = dict((row["name"], row["breaks_at"]) for row in full["matrix"])
    assert breaks == {"numpy": "3.12", "scipy": "3.12", "termcolor": None, "six": None, "requests": None,
                      "demoapp": None, "tool": None, "pip": None}  # pip: what uv venv --seed installs
    inhibitors = dict(((i["name"], i["target"]), i) for i in full["inhibitors"])
    assert sorted(inhibitors) == [("numpy", "3.12"), ("numpy", "3.13"), ("scipy", "3.12"), ("scipy", "3.13")]
    numpy12, numpy13 = inhibitors[("numpy", "3.12")], inhibitors[("numpy", "3.13")]
    assert (numpy12["fix"]["version"], numpy12["fix"]["crosses_major"]) == ("1.26.0", False)
    assert "no wheel for CPython 3.12" in numpy12["message"] and "1.26.0" in numpy12["message"]
    assert (numpy13["fix"]["version"], numpy13["fix"]["crosses_major"]) == ("2.1.0", True)
    assert "new major version" in numpy13["message"]
    scipy12 = inhibitors[("scipy", "3.12")]
    assert "Requires-Python <3.12,>=3.8 excludes 3.12 from 3.12." in scipy12["message"]
    assert scipy12["fix"]["version"] == "1.11.2"  # 1.11.1 has no cp312 wheel
    assert inhibitors[("scipy", "3.13")]["fix"]["version"] == "1.14.1"
    warnings12 = by(full["cautions"], target="3.12")
    # the lock leaves out what requests requires: the rebuild adds it, each named with its release
    assert sorted((w["name"], w["check"]) for w in warnings12) == [
        ("certifi", "new_dependency"), ("charset-normalizer", "new_dependency"), ("idna", "new_dependency"),
        ("requests", "yanked"), ("termcolor", "sdist_proven"), ("tool", "direct_url"), ("urllib3", "new_dependency")]
    assert "requests==2.32.0 requires idna<4,>=2.5 on 3.12, which the lock does not install there: the rebuild " \
        "adds idna 3.10" in by(warnings12, name="idna")[0]["message"]
    assert "CVE-2024-35195" in by(warnings12, name="requests")[0]["message"]
    assert "termcolor-1.1.0.tar.gz builds with" in by(warnings12, name="termcolor")[0]["message"]
    # pip's own resolver agrees at every target, on the wheels it chose
    assert all(r["ok"] for r in full["resolution"])
    resolved12 = by(full["resolution"], target="3.12")[0]
    assert resolved12["files"]["six"] == "six-1.16.0-py2.py3-none-any.whl"
    assert resolved12["files"]["numpy"].startswith("numpy-1.26.0-cp312")  # resolved with its fix
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

    # WebOb 1.8.9 needs legacy-cgi on 3.13 only; pip's --no-deps resolution alone would call 3.13 ready
    webob = task_results(plays, "A dependency that only the target needs, missing from the index")[0]
    assert webob["can_move"] == {"3.12": True, "3.13": False}
    assert [(i["check"], i["name"], i["target"]) for i in webob["inhibitors"]] == [
        ("new_dependency", "legacy-cgi", "3.13")]
    assert "WebOb==1.8.9 requires legacy-cgi>=2.6" in webob["inhibitors"][0]["message"]
    assert [b["name"] for b in webob["remediation"]["3.13"]["blocked"]] == ["legacy-cgi"]
    assert not webob["remediation"]["3.13"]["complete"] and webob["remediation"]["3.12"]["complete"]

    # a line whose marker excludes a target is not installed there, so it cannot keep the venv from moving
    marked = task_results(plays, "A lock with environment markers")[0]
    assert marked["can_move"] == {"3.11": True, "3.12": True} and marked["inhibitors"] == []
    statuses = dict((row["name"], row["statuses"]) for row in marked["matrix"])
    assert statuses["numpy"] == {"3.11": "wheel", "3.12": "excluded"}
    assert statuses["scipy"] == {"3.11": "excluded", "3.12": "excluded"}
    assert by(marked["resolution"], target="3.12")[0]["files"].keys() >= {"six"}
    assert "numpy" not in by(marked["resolution"], target="3.12")[0]["files"]

    # the marker leaves python-dateutil out on 3.12, but pandas needs it there: pip adds it, and says which
    excluded = task_results(plays, "A lock line a marker leaves out that another release needs")[0]
    assert excluded["can_move"] == {"3.12": True}
    assert [(w["name"], w["version"]) for w in excluded["cautions"] if w["check"] == "new_dependency"] == [
        ("python-dateutil", "2.8.2")]
    assert by(excluded["resolution"], target="3.12")[0]["added"][0]["required_by"] == "pandas==2.1.1"

    # stdlib-list 0.10 (the newest for 3.8) ends at 3.12: imp, removed in 3.12, is still found
    # for 3.13 without the stepwise path, and what 3.13 itself removed cannot be checked, so it inhibits
    unknown = task_results(plays, "Code for a target the venv's stdlib-list has no list for")[0]
    assert [(i["check"], i.get("module"), i["target"]) for i in unknown["inhibitors"]] == [
        ("removed_module", "imp", "3.13"), ("code_removed_unknown", None, "3.13")]
    assert "no module list for 3.13" in unknown["inhibitors"][1]["message"]
    assert unknown["verdict"]["status"] == "inhibited" and unknown["code"]["removed"][0]["target"] == "3.12"

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
    # the stepwise path from 3.9: the wheelhouse has cp39 and cp312 wheels only, so 3.10 and 3.11 are
    # blocked for both; the blocked venv's numpy has no wheel for any of them, and at 3.12 its code too
    ready_venv = [h for h in fleet["hosts"] if h["host"] == "ready"][0]["venvs"][0]
    assert ready_venv["reaches"] == "3.12" and venv["reaches"] is None
    assert [(s["target"], s["can_move"]) for s in ready_venv["steps"]] == [
        ("3.10", False), ("3.11", False), ("3.12", True)]
    assert [(s["target"], "numpy" in [b["name"] for b in s["blocked"]], "imp" in [b["name"] for b in s["blocked"]])
            for s in venv["steps"]] == [("3.10", True, False), ("3.11", True, False), ("3.12", True, True)]
    assert "| 3.12 | no | - | numpy: numpy 1.24.4 cannot install on 3.12" in markdown

    rc, stats, plays = run_fleet_playbook("oxzep7.python.upgrade", base, hosts, extra_vars=dict(
        python_upgrade_target="3.12", python_upgrade_run_id="up1", python_upgrade_report_dir=reports,
        python_upgrade_serial=["100%"]))
    assert rc == 0, failed_tasks(plays)
    assert tree_manifest(blocked) == before and not os.path.islink(blocked)
    assert not os.path.exists(os.path.join(base, "blocked", ".venv.releases"))
    assert os.path.islink(ready)
    done = task_results(plays, "Record the outcome and release the venv's lock", host="ready")
    assert done and done[-1]["oxzep7_report"]["record"]["result"] == "upgraded"
    # a venv with no services, restart commands or health checks makes no venv_restart call
    restart = task_results(plays, "Restart and check the services of " + ready, host="ready")
    assert restart and all(r.get("skipped") for r in restart), restart
    assert not task_results(plays, "Record the outcome and release the venv's lock", host="blocked")


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


VERDICT_LOCK = """PyYAML==5.4.1
frozenlist==1.3.3
termcolor==1.1.0
numpy==1.24.4
pandas==1.5.3
python-dateutil==2.8.1
pytz==2023.3
six==1.16.0
"""
CYTHON3 = "AttributeError: 'build_ext' object has no attribute 'cython_sources'"
GCC = "error: Command 'gcc ...' returned non-zero exit status 1."


def test_sdist_verdicts_fixes_and_upgrades(tmp_path, old_python, new_python, pyenv_root, compat_index):
    """An old 3.9 lock moving to 3.12: sdists proven by real builds, fixes that install, upgrades checked."""
    base = str(tmp_path)
    stable = os.path.join(base, "venv")
    subprocess.run([old_python, "-m", "venv", stable], check=True)
    lock = os.path.join(base, "lock.txt")
    with open(lock, "w") as fh:
        fh.write(VERDICT_LOCK)
    bad = os.path.join(base, "bad-state")
    os.makedirs(bad)
    with open(os.path.join(bad, "sdist-proofs.json"), "w") as fh:
        json.dump({"version": 1, "proofs": {"termcolor==1.1.0 cp312 linux": {"result": "passed"}}}, fh)
    os.makedirs(os.path.join(base, "no-python", "versions"))
    rc, stats, plays = run_playbook(os.path.join(HERE, "playbooks", "verdicts.yml"), base, {}, extra_vars=dict(
        stable=stable, lock=lock, index_url=compat_index, pyenv_root=pyenv_root, state_dir=os.path.join(base, "state"),
        no_python=os.path.join(base, "no-python"), bad_state_dir=bad))
    failed = failed_tasks(plays)
    assert rc == 0 and not failed, failed

    default = task_results(plays, "The default verdict")[0]
    inhibitors = dict((i["name"], i) for i in default["inhibitors"])
    assert sorted(inhibitors) == ["PyYAML", "frozenlist", "numpy", "pandas"] and not default["can_move"]["3.12"]
    pyyaml, frozen = inhibitors["PyYAML"], inhibitors["frozenlist"]
    # only an sdist for 3.12, and a real build with 3.12 fails: the inhibitor carries its error line
    assert pyyaml["check"] == frozen["check"] == "sdist_build"
    assert CYTHON3 in pyyaml["message"]
    assert GCC in frozen["message"] and "has no member named" in frozen["message"]
    # the fix is the lowest release that installs: PyYAML 6.0 has only an sdist, and its build fails too
    assert (pyyaml["fix"]["version"], pyyaml["fix"]["status"], pyyaml["fix"]["crosses_major"]) == ("6.0.1", "wheel", True)
    assert [(p["version"], p["result"]) for p in by(default["proofs"], name="PyYAML")] == [
        ("5.4.1", "failed"), ("6.0", "failed")]
    assert (frozen["fix"]["version"], frozen["fix"]["crosses_major"]) == ("1.4.1", False)
    # the fix of pandas forces python-dateutil to move (pandas 2.1.1 requires python-dateutil>=2.8.2)
    pandas = inhibitors["pandas"]
    assert (pandas["fix"]["version"], pandas["fix"]["crosses_major"]) == ("2.1.1", True)
    assert [(m["name"], m["version"], m["move_to"]) for m in pandas["fix"]["moves"]] == [
        ("python-dateutil", "2.8.1", "2.8.2")]
    assert "it moves python-dateutil 2.8.1 -> 2.8.2" in pandas["message"]
    # the pure-Python sdist is proven by its build
    assert [w["check"] for w in by(default["cautions"], name="termcolor")] == ["sdist_proven"]
    proof = by(default["proofs"], name="termcolor")[0]
    assert proof["result"] == "passed" and proof["seconds"] > 0 and not proof["cached"]
    remedy = default["remediation"]["3.12"]
    assert remedy["upgrades"] == ["frozenlist==1.4.1", "numpy==1.26.0", "pandas==2.1.1", "python-dateutil==2.8.2",
                                  "PyYAML==6.0.1"]
    assert by(remedy["changes"], name="python-dateutil")[0]["forced_by"] == [
        "pandas==2.1.1 requires python-dateutil>=2.8.2"]
    assert remedy["complete"] and remedy["blocked"] == []

    # the lock with those upgrades installs for real on 3.12 from the index, with the installer the
    # rebuild uses (uv, as PATH has it); PyYAML as locked fails there with the verdict's error line
    target = os.path.join(base, "target")
    subprocess.run([UV, "venv", "-q", "--no-config", "--python", new_python, target], check=True)
    pip = [UV, "pip", "install", "--no-config", "--no-cache", "--python", os.path.join(target, "bin", "python"),
           "--index-url", compat_index]
    fixed = [e["line"] for e in apply_upgrades(parse_lock(VERDICT_LOCK), remedy["upgrades"])[0]]
    subprocess.run(pip + fixed, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    imported = subprocess.run([os.path.join(target, "bin", "python"), "-c", "import yaml, frozenlist, pandas, "
                               "termcolor, dateutil; print(yaml.__version__, pandas.__version__)"],
                              stdout=subprocess.PIPE, universal_newlines=True, check=True)
    assert imported.stdout.split() == ["6.0.1", "2.1.1"]
    as_locked = subprocess.run(pip + ["PyYAML==5.4.1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               universal_newlines=True, check=False)
    assert as_locked.returncode != 0 and CYTHON3 in as_locked.stdout

    # upgrades are checked like pins: a wrong fix is an inhibitor, the proposed ones pass
    wrong = by(task_results(plays, "A wrong fix in upgrades")[0]["inhibitors"], name="PyYAML")
    assert [(i["version"], i["check"], i["fix"]["version"]) for i in wrong] == [("6.0", "sdist_build", "6.0.1")]
    assert CYTHON3 in wrong[0]["message"]
    right = task_results(plays, "The fixes it proposed, in upgrades")[0]
    assert right["inhibitors"] == [] and right["can_move"] == {"3.12": True}
    assert right["remediation"]["3.12"]["upgrades"] == remedy["upgrades"]
    assert by(right["proofs"], name="termcolor")[0]["cached"]  # built once, then read from the cache

    # without the target interpreter, sdist-only pins are unproven, with the command that proves them
    bare = task_results(plays, "No target interpreter on the host")[0]
    unproven = dict((i["name"], i) for i in bare["inhibitors"] if i["check"] == "sdist_unproven")
    assert sorted(unproven) == ["PyYAML", "frozenlist", "termcolor"]
    # uv is on PATH, so the rebuild and the proofs use it
    assert "pip install --python python3.12 --target /tmp/oxzep7-proof/target --no-deps --no-binary termcolor " \
        "--no-cache" in unproven["termcolor"]["message"]
    assert " termcolor==1.1.0`." in unproven["termcolor"]["message"]
    assert unproven["termcolor"]["fix"]["version"] == "2.4.0"

    tampered = task_results(plays, "A tampered proof cache")[0]
    assert os.path.join(bad, "sdist-proofs.json") in tampered["msg"] and "not valid" in tampered["msg"]


def index_venv(path, python, index, requirements):
    """A venv of ``python`` at ``path`` with ``requirements`` installed from the test index."""
    subprocess.run([python, "-m", "venv", path], check=True)
    subprocess.run([os.path.join(path, "bin", "python"), "-m", "pip", "install", "-q", "--isolated", "--no-cache-dir",
                    "--index-url", index] + requirements, check=True, stdout=subprocess.DEVNULL)
    return path


def test_remediation_turns_host_green_and_upgrade_moves_it(tmp_path, old_python, pyenv_root, compat_index):
    """preflight.yml writes a remediation file; in host_vars it turns the host green, and upgrade.yml moves it.

    Host app: frozenlist 1.3.3 (cp39 to cp311 wheels; its 3.12 sdist does not build) and termcolor
    1.1.0 (an sdist that builds). Host later: termcolor, and its pyenv root holds no 3.12, so the
    sdist stays unproven, and upgrade.yml never upgrades it.
    """
    base = str(tmp_path)
    app = index_venv(os.path.join(base, "app", "venv"), old_python, compat_index,
                     ["frozenlist==1.3.3", "termcolor==1.1.0", "six==1.16.0"])
    later = index_venv(os.path.join(base, "later", "venv"), old_python, compat_index, ["termcolor==1.1.0"])
    os.makedirs(os.path.join(base, "no-python", "versions"))
    common = dict(upgrade_pyenv_root=pyenv_root, upgrade_index_url=compat_index, upgrade_installer_isolated=True,
                  upgrade_backup_dir=os.path.join(base, "backups"), preflight_reference_paths=[])
    hosts = {"app": dict(common, upgrade_state_dir=os.path.join(base, "state-app"),
                         upgrade_venvs=[dict(path=app, imports=["frozenlist", "termcolor", "six"])]),
             "later": dict(common, upgrade_state_dir=os.path.join(base, "state-later"),
                           preflight_pyenv_root=os.path.join(base, "no-python"),
                           upgrade_venvs=[dict(path=later, imports=["termcolor"])])}
    reports = os.path.join(base, "reports")
    later_before = tree_manifest(later)

    def preflight(run_id):
        rc, _stats, plays = run_fleet_playbook("oxzep7.python.preflight", base, hosts, extra_vars=dict(
            python_upgrade_target="3.12", python_upgrade_run_id=run_id, python_upgrade_report_dir=reports))
        assert rc == 0, failed_tasks(plays)
        folder = os.path.join(reports, run_id, "preflight")
        with open(os.path.join(folder, "preflight.json")) as fh:
            fleet = dict((h["host"], h["venvs"][0]) for h in json.load(fh)["hosts"])
        with open(os.path.join(folder, "preflight.md")) as fh:
            return folder, fleet, fh.read()

    folder, fleet, markdown = preflight("pre1")
    blocked = fleet["app"]
    assert blocked["status"] == "inhibited"
    assert [(i["name"], i["check"]) for i in blocked["inhibitors"]] == [("frozenlist", "sdist_build")]
    assert GCC in blocked["inhibitors"][0]["message"]
    assert [w["check"] for w in blocked["warnings"] if w.get("name") == "termcolor"] == ["sdist_proven"]
    # the stepwise path: frozenlist 1.3.3 has wheels up to cp311, so the venv reaches 3.11 today
    assert blocked["reaches"] == "3.11"
    assert [(s["target"], s["can_move"], s["upgrades"]) for s in blocked["steps"]] == [
        ("3.10", True, []), ("3.11", True, []), ("3.12", False, ["frozenlist==1.4.1"])]
    assert blocked["remediation"]["changes"] == [dict(name="frozenlist", to="1.4.1", crosses_major=False, why="fix",
                                                      forced_by=[], **{"from": "1.3.3"})]
    unproven = fleet["later"]
    assert [(i["name"], i["check"]) for i in unproven["inhibitors"]] == [("termcolor", "sdist_unproven")]
    with open(os.path.join(folder, "remediation", "app.yml")) as fh:
        remedy = yaml.safe_load(fh)
    assert remedy == {"upgrade_remediation": {app: ["frozenlist==1.4.1"]}}
    with open(os.path.join(folder, "remediation", "later.yml")) as fh:
        assert yaml.safe_load(fh) == {"upgrade_remediation": {later: ["termcolor==2.4.0"]}}
    assert "## Remediation" in markdown and "| 3.12 | no | `frozenlist==1.4.1` (from 1.3.3) | - |" in markdown

    # drop app's remediation file into its host_vars: preflight is green, and writes the same file
    os.makedirs(os.path.join(base, "host_vars"))
    shutil.copy(os.path.join(folder, "remediation", "app.yml"), os.path.join(base, "host_vars", "app.yml"))
    folder, fleet, markdown = preflight("pre2")
    assert fleet["app"]["status"] == "ready" and fleet["app"]["inhibitors"] == [] and fleet["app"]["reaches"] == "3.12"
    assert "2 hosts, 1 can move, 1 cannot" in markdown
    with open(os.path.join(folder, "remediation", "app.yml")) as fh:
        assert yaml.safe_load(fh) == remedy

    rc, _stats, plays = run_fleet_playbook("oxzep7.python.upgrade", base, hosts, extra_vars=dict(
        python_upgrade_target="3.12", python_upgrade_run_id="up1", python_upgrade_report_dir=reports,
        python_upgrade_serial=["100%"]))
    assert rc == 0, failed_tasks(plays)
    assert os.path.islink(app)
    moved = subprocess.run([os.path.join(app, "bin", "python"), "-c", "import sys, frozenlist, termcolor\n"
                            "from importlib.metadata import version\nprint('%d.%d' % sys.version_info[:2], "
                            "version('frozenlist'), version('termcolor'))"],
                           stdout=subprocess.PIPE, universal_newlines=True, check=True)
    assert moved.stdout.split() == ["3.12", "1.4.1", "1.1.0"]
    # later: the sdist waited for the prove stage after the interpreter stage, stayed unproven, and the
    # host ended there untouched
    assert tree_manifest(later) == later_before and not os.path.islink(later)
    with open(os.path.join(reports, "up1", "preflight", "hosts", "later.json")) as fh:
        ended = json.load(fh)["venvs"][0]
    assert ended["status"] == "inhibited" and [i["check"] for i in ended["inhibitors"]] == ["sdist_unproven"]
    # its venv checked twice: by the preflight, then by the prove stage, which builds the sdist
    checks = task_results(plays, "Check and decide on each venv", host="later")
    assert [c["results"][0]["verdict"]["status"] for c in checks] == ["ready", "inhibited"], checks
    assert not task_results(plays, "Record the outcome and release the venv's lock", host="later")


def test_preflight_results_hold_only_this_runs_verdicts(tmp_path, old_python, wheelhouse, pyenv_root):
    """The role run twice on one host: the second run, with no venvs, neither keeps nor acts on the first run's
    inhibited verdict. The prove entry point on a host the main one never ran on does nothing."""
    base = str(tmp_path)
    blocked, absent = os.path.join(base, "blocked", "venv"), os.path.join(base, "none", "venv")
    subprocess.run([old_python, "-m", "venv", blocked], check=True)  # with pip, which the package check runs
    subprocess.run([UV, "pip", "install", "--no-config", "-q", "--python", os.path.join(blocked, "bin", "python"),
                    "--no-index", "--find-links", wheelhouse, "numpy==1.24.4"], check=True)
    common = dict(preflight_python_version="3.12", preflight_pyenv_root=pyenv_root, preflight_no_index=True,
                  preflight_find_links=[wheelhouse], preflight_reference_paths=[], preflight_check_disk=False,
                  preflight_state_dir=os.path.join(base, "state"))
    role = "oxzep7.python.preflight"
    playbook = os.path.join(base, "twice.yml")
    with open(playbook, "w") as fh:
        json.dump([dict(name="Twice", hosts="app", gather_facts=False, tasks=[
            {"ansible.builtin.include_role": dict(name=role), "vars": dict(
                preflight_venvs=[dict(path=blocked), dict(path=absent)], preflight_inhibited_action="report")},
            {"name": "First", "ansible.builtin.set_fact": dict(first="{{ preflight_results }}")},
            {"ansible.builtin.include_role": dict(name=role), "vars": dict(
                preflight_venvs=[], preflight_inhibited_action="fail")},
            {"name": "Second", "ansible.builtin.set_fact": dict(second="{{ preflight_results }}")}]),
            dict(name="Prove alone", hosts="fresh", gather_facts=False, tasks=[
                {"ansible.builtin.include_role": dict(name=role, tasks_from="prove"),
                 "vars": dict(preflight_venvs=[dict(path=absent)])},
                {"name": "Nothing", "ansible.builtin.set_fact": dict(left="{{ preflight_results is defined }}")}])],
            fh)
    rc, _stats, plays = run_fleet_playbook(playbook, base, dict(app=common, fresh=common))
    assert rc == 0, failed_tasks(plays)
    first = task_results(plays, "First")[0]["ansible_facts"]["first"]
    assert [(v["path"], v["status"]) for v in first] == [(blocked, "inhibited"), (absent, "absent")]
    assert task_results(plays, "Second")[0]["ansible_facts"]["second"] == []
    assert task_results(plays, "Nothing", host="fresh")[0]["ansible_facts"]["left"] is False


def test_prove_finds_the_deferred_venv_by_index(tmp_path, old_python, pyenv_root, compat_index):
    """The prove entry point after a main pass in which one venv's check failed (ignore_errors): that venv has no
    verdict, so preflight_results is shorter than preflight_venvs. The venv whose sdist was deferred (no target
    interpreter under the first pyenv root) is the one proven, with the real 3.12, and turns ready; before, the
    positions in preflight_results were taken for indexes and the failed venv was checked in its place."""
    base = str(tmp_path)
    broken = os.path.join(base, "broken")
    with open(broken, "w") as fh:  # a file where a venv should be: its check fails
        fh.write("not a venv\n")
    sdist = index_venv(os.path.join(base, "app", "venv"), old_python, compat_index, ["termcolor==1.1.0"])
    os.makedirs(os.path.join(base, "no-python", "versions"))
    common = dict(preflight_python_version="3.12", preflight_index_url=compat_index, preflight_reference_paths=[],
                  preflight_check_disk=False, preflight_state_dir=os.path.join(base, "state"),
                  preflight_venvs=[dict(path=broken), dict(path=sdist)], preflight_unproven="defer",
                  preflight_stepwise=False, preflight_inhibited_action="report")
    role = "oxzep7.python.preflight"
    playbook = os.path.join(base, "prove.yml")
    with open(playbook, "w") as fh:
        json.dump([dict(name="Check, then prove", hosts="app", gather_facts=False, tasks=[
            {"ansible.builtin.import_role": dict(name=role), "ignore_errors": True,
             "vars": dict(preflight_pyenv_root=os.path.join(base, "no-python"))},
            {"name": "Checked", "ansible.builtin.set_fact": dict(checked="{{ preflight_results }}")},
            {"ansible.builtin.import_role": dict(name=role, tasks_from="prove"), "vars": dict(
                preflight_pyenv_root=pyenv_root)},
            {"name": "Proven", "ansible.builtin.set_fact": dict(proven="{{ preflight_results }}")}])], fh)
    rc, _stats, plays = run_fleet_playbook(playbook, base, dict(app=common))
    assert rc == 0, failed_tasks(plays)
    [main, prove] = task_results(plays, "Check and decide on each venv")
    assert [(r["__preflight_venv_index"], bool(r.get("failed"))) for r in main["results"]] == [(0, True), (1, False)]
    assert [r["__preflight_venv_index"] for r in prove["results"]] == [1]  # the deferred venv, not the failed one
    checked = task_results(plays, "Checked")[0]["ansible_facts"]["checked"]
    assert [(v["path"], [d["name"] for d in v["deferred"]]) for v in checked] == [(sdist, ["termcolor"])]
    proven = task_results(plays, "Proven")[0]["ansible_facts"]["proven"]
    assert [(v["path"], v["status"], v["deferred"]) for v in proven] == [(sdist, "ready", [])], proven
    assert [w["check"] for w in proven[0]["warnings"] if w["name"] == "termcolor"] == ["sdist_proven"]
    assert "builds with %s/versions/3.12." % pyenv_root in proven[0]["warnings"][0]["message"]
