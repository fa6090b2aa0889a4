"""The package check on real wheels built by ``uv build``, resolved by the venv's real pip."""

import functools
import http.server
import os
import shutil
import subprocess
import threading

from support import build_wheel

from ansible_collections.oxzep7.python.plugins.module_utils import _compat
from ansible_collections.oxzep7.python.plugins.module_utils._lock import parse_lock
from ansible_collections.oxzep7.python.plugins.module_utils._venv import python_of


def _wheel(base, out, old_python, wheelhouse, name, version, dependencies, requires_python=">=3.8"):
    build_wheel(base, out, old_python, wheelhouse, name, version, dependencies, requires_python)


def test_a_conflict_and_a_missing_dependency_together(tmp_path, app_venv, old_python, wheelhouse, runner,
                                                      installer_options):
    """``needy`` requires ``oldpart<1.0`` (only 2.0 exists: a conflict no release settles) and
    ``extra-part`` (not in the lock). The conflict inhibits; what the set would add is left unsaid
    until it resolves (it crashed the check before: an added project without a version)."""
    links = str(tmp_path / "links")
    os.makedirs(links)
    for name, version, dependencies in (("needy", "1.0", ["oldpart<1.0", "extra-part"]), ("oldpart", "2.0", []),
                                        ("extra-part", "1.0", [])):
        _wheel(str(tmp_path), links, old_python, wheelhouse, name, version, dependencies)
    options = dict(installer_options, find_links=installer_options["find_links"] + [links])
    checked = _compat.check(runner, python_of(app_venv), parse_lock("needy==1.0\noldpart==2.0\n"), ["3.12"],
                            options, shutil.which)
    assert checked["can_move"] == {"3.12": False}
    assert [(i["check"], i["name"]) for i in checked["inhibitors"]] == [("conflict", "oldpart")]
    assert "needy==1.0 requires oldpart<1.0" in checked["inhibitors"][0]["message"]
    assert checked["resolution"][0]["added"] == []
    assert "new_dependency" not in [w["check"] for w in checked["cautions"]]

    # without the conflict, pip adds extra-part, and the check says so with pip's release
    shutil.rmtree(str(tmp_path / "src-needy"))
    os.unlink(os.path.join(links, "needy-1.0-py3-none-any.whl"))
    _wheel(str(tmp_path), links, old_python, wheelhouse, "needy", "1.0", ["oldpart>=1.0", "extra-part"])
    checked = _compat.check(runner, python_of(app_venv), parse_lock("needy==1.0\noldpart==2.0\n"), ["3.12"],
                            options, shutil.which)
    assert checked["can_move"] == {"3.12": True}
    assert [(w["name"], w["version"]) for w in checked["cautions"] if w["check"] == "new_dependency"] == [
        ("extra-part", "1.0")]


def test_requires_python_of_the_release_itself_when_the_index_does_not_say(
        tmp_path, app_venv, old_python, new_python, wheelhouse, runner, installer_options):
    """``newpy`` 1.0 declares Requires-Python >=3.13 in its METADATA only: served as find-links by a plain
    directory listing (no ``data-requires-python``), the probe cannot see it, and pip runs with
    ``--ignore-requires-python``. The Requires-Python of the release pip chose inhibits 3.12 (it was a false
    ready before), and 3.13 stays free of it. ``patchpin`` 1.0 declares >=3.12.N+1, N the patch level of the
    3.12 installed here (as flake8 6 declares >=3.8.1): with no 3.12 interpreter known, the target 3.12 stands
    for its series and admits it (it was a false inhibitor before), and so does 3.12 with 3.12.N installed (the
    interpreter stage may install a later patch release); the exact target 3.12.0 does not. ``oldpatch`` 1.0
    declares <3.12.N: the series admits it, but not once 3.12.N is installed, since the rebuild gets 3.12.N or
    a later patch release."""
    installed = subprocess.run([new_python, "-c", "import platform; print(platform.python_version())"], check=True,
                               stdout=subprocess.PIPE, universal_newlines=True).stdout.strip()
    assert installed.startswith("3.12.") and installed != "3.12.0"
    links = str(tmp_path / "links")
    os.makedirs(links)
    _wheel(str(tmp_path), links, old_python, wheelhouse, "newpy", "1.0", [], requires_python=">=3.13")
    # and a dependency the lock lacks, which pip adds: its Requires-Python is checked too
    _wheel(str(tmp_path), links, old_python, wheelhouse, "usesnew", "1.0", ["newdep"])
    _wheel(str(tmp_path), links, old_python, wheelhouse, "newdep", "1.0", [], requires_python=">=3.13")
    above = "3.12.%d" % (int(installed.split(".")[2]) + 1)
    _wheel(str(tmp_path), links, old_python, wheelhouse, "patchpin", "1.0", [], requires_python=">=" + above)
    _wheel(str(tmp_path), links, old_python, wheelhouse, "oldpatch", "1.0", [], requires_python="<" + installed)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=links)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = "http://127.0.0.1:%d/" % server.server_address[1]
        options = dict(installer_options, find_links=installer_options["find_links"] + [url])
        checked = _compat.check(runner, python_of(app_venv), parse_lock("newpy==1.0\nusesnew==1.0\npatchpin==1.0\n"),
                                ["3.12", "3.13", "3.12.0"], options, shutil.which)
        known = _compat.check(runner, python_of(app_venv), parse_lock("patchpin==1.0\noldpatch==1.0\n"), ["3.12"],
                              options, shutil.which, interpreters={"3.12": new_python})
    finally:
        server.shutdown()
        server.server_close()
    assert checked["can_move"] == {"3.12": False, "3.13": True, "3.12.0": False}, checked["inhibitors"]
    assert sorted((i["check"], i["name"], i["target"]) for i in checked["inhibitors"]) == [
        ("requires_python", "newdep", "3.12"), ("requires_python", "newdep", "3.12.0"),
        ("requires_python", "newpy", "3.12"), ("requires_python", "newpy", "3.12.0"),
        ("requires_python", "patchpin", "3.12.0")]
    assert "newpy 1.0, the release the rebuild installs, declares Requires-Python >=3.13 in its metadata, which " \
        "excludes every 3.12 release" in " ".join(i["message"] for i in checked["inhibitors"])
    assert sorted(b["name"] for b in checked["remediation"]["3.12"]["blocked"]) == ["newdep", "newpy"]
    row = [r for r in checked["matrix"] if r["name"] == "newpy"][0]
    assert row["statuses"] == {"3.12": "requires_python", "3.13": "wheel", "3.12.0": "requires_python"}
    assert row["breaks_at"] == "3.12"
    row = [r for r in checked["matrix"] if r["name"] == "patchpin"][0]
    assert row["statuses"] == {"3.12": "wheel", "3.13": "wheel", "3.12.0": "requires_python"}
    assert sorted((w["name"], w["target"]) for w in checked["cautions"] if w["check"] == "new_dependency") == [
        ("newdep", "3.12"), ("newdep", "3.12.0"), ("newdep", "3.13")]
    assert [(i["check"], i["name"], i["target"]) for i in known["inhibitors"]] == [("requires_python", "oldpatch", "3.12")]
    assert known["inhibitors"][0]["message"].endswith(
        "declares Requires-Python <%s in its metadata, which excludes 3.12 from %s on (the newest 3.12 installed)" % (
            installed, installed)), known["inhibitors"][0]["message"]


def test_an_added_dependency_takes_its_newest_release_that_admits_the_target(
        tmp_path, app_venv, old_python, wheelhouse, runner, installer_options):
    """``usestwo`` requires ``twoline`` and ``onlynew``, which the lock lacks. ``twoline`` 1.0 admits 3.8 and
    later; 2.0, 2.1 and 3.0 only 3.13 and later. ``onlynew`` has one release, for 3.13 and later. Each says so
    in its METADATA only (a plain directory listing, no ``data-requires-python``). The rebuild's pip installs
    twoline 1.0 on 3.12, so the caution names 1.0, and onlynew alone inhibits 3.12. Before, pip resolved the
    added dependencies ignoring Requires-Python and took twoline 3.0: a false ``requires_python`` inhibitor."""
    links = str(tmp_path / "links")
    os.makedirs(links)
    _wheel(str(tmp_path), links, old_python, wheelhouse, "usestwo", "1.0", ["twoline", "onlynew"])
    _wheel(str(tmp_path), links, old_python, wheelhouse, "onlynew", "1.0", [], requires_python=">=3.13")
    for version, requires_python in (("1.0", ">=3.8"), ("2.0", ">=3.13"), ("2.1", ">=3.13"), ("3.0", ">=3.13")):
        shutil.rmtree(str(tmp_path / "src-twoline"), ignore_errors=True)
        _wheel(str(tmp_path), links, old_python, wheelhouse, "twoline", version, [], requires_python=requires_python)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=links)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        options = dict(installer_options, find_links=installer_options["find_links"] + [
            "http://127.0.0.1:%d/" % server.server_address[1]])
        checked = _compat.check(runner, python_of(app_venv), parse_lock("usestwo==1.0\n"), ["3.12", "3.13"],
                                options, shutil.which)
    finally:
        server.shutdown()
        server.server_close()
    assert checked["can_move"] == {"3.12": False, "3.13": True}, checked["inhibitors"]
    assert [(i["check"], i["name"], i["version"], i["target"]) for i in checked["inhibitors"]] == [
        ("requires_python", "onlynew", "1.0", "3.12")]
    assert sorted((w["name"], w["version"], w["target"]) for w in checked["cautions"]
                  if w["check"] == "new_dependency") == [
        ("onlynew", "1.0", "3.12"), ("onlynew", "1.0", "3.13"), ("twoline", "1.0", "3.12"), ("twoline", "3.0", "3.13")]
