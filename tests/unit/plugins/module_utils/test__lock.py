"""The lock from real installs: pins, a VCS install from a real git repository, editable and local ones."""

import os
import re
import shutil
import subprocess
import time

import pytest

from ansible_collections.oxzep7.python.plugins.module_utils._common import Oxzep7Error
from ansible_collections.oxzep7.python.plugins.module_utils._lock import (
    apply_upgrades, build_lock, compare_installed, line_marker, parse_lock, read_lock, render_lock, unreproducible)
from ansible_collections.oxzep7.python.plugins.module_utils._venv import (
    inspect_python, python_of, venv_distributions)
from support import FIXTURES, UV


def _project(path, name):
    os.makedirs(os.path.join(path, name))
    with open(os.path.join(path, "pyproject.toml"), "w") as fh:
        fh.write('[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
                 '[project]\nname = "%s"\nversion = "0.1"\n' % name)
    with open(os.path.join(path, name, "__init__.py"), "w") as fh:
        fh.write("VALUE = 1\n")
    return path


@pytest.fixture(scope="module")
def mixed_venv(tmp_path_factory, old_python, wheelhouse):
    """A venv with a pin, a git install, an editable install and a local directory install."""
    base = str(tmp_path_factory.mktemp("mixed"))
    venv = os.path.join(base, "venv")
    subprocess.run([UV, "venv", "--no-config", "--python", old_python, venv], check=True,
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    repo = _project(os.path.join(base, "gitpkg"), "gitpkg")
    git = ["git", "-C", repo, "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run(["git", "init", "-q", repo], check=True)
    subprocess.run(git + ["add", "."], check=True)
    subprocess.run(git + ["commit", "-qm", "init"], check=True)
    commit = subprocess.run(git + ["rev-parse", "HEAD"], stdout=subprocess.PIPE, universal_newlines=True,
                            check=True).stdout.strip()
    editable = _project(os.path.join(base, "editpkg"), "editpkg")
    local = _project(os.path.join(base, "localpkg"), "localpkg")
    subprocess.run([UV, "pip", "install", "--no-config", "--python", python_of(venv), "--find-links", wheelhouse,
                    "idna==3.4", "gitpkg @ git+file://%s" % repo, "-e", editable, local],
                   check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return dict(venv=venv, commit=commit, repo=repo, editable=editable, local=local)


def test_lock_names_every_kind_of_install(mixed_venv, runner):
    entries = build_lock(venv_distributions(inspect_python(runner, python_of(mixed_venv["venv"]))))
    by_name = dict((e["name"], e) for e in entries)
    assert by_name["idna"]["line"] == "idna==3.4" and by_name["idna"]["kind"] == "pin"
    assert by_name["gitpkg"]["kind"] == "vcs"
    assert by_name["gitpkg"]["line"] == "gitpkg @ git+file://%s@%s" % (mixed_venv["repo"], mixed_venv["commit"])
    assert by_name["editpkg"]["kind"] == "editable"
    assert by_name["editpkg"]["line"] == "-e file://%s" % mixed_venv["editable"]
    assert by_name["localpkg"]["kind"] == "dir" and by_name["localpkg"]["local_path"] == mixed_venv["local"]

    parsed = parse_lock(render_lock(entries, header=["test"]))
    assert [(e["name"], e["version"], e["kind"], e["line"]) for e in parsed] == \
        [(e["name"], e["version"], e["kind"], e["line"]) for e in entries]
    assert unreproducible(parsed) == []


def test_local_sources_are_found_where_pip_wrote_them(tmp_path, old_python, wheelhouse, mixed_venv, runner):
    """pip writes direct_url.json URLs percent-encoded (PEP 610): a project installed from a directory with a
    space in its path was a source that "no longer exists" (a false inhibitor, a rebuild refused). A VCS
    line of a lock names its repository, without the @revision."""
    venv, source = str(tmp_path / "venv"), _project(str(tmp_path / "my app"), "spaced")
    subprocess.run([UV, "venv", "--no-config", "--python", old_python, venv], check=True, stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE)
    subprocess.run([UV, "pip", "install", "--no-config", "--python", python_of(venv), "--no-index", "--find-links",
                    wheelhouse, source],
                   check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    (entry,) = [e for e in build_lock(venv_distributions(inspect_python(runner, python_of(venv))))
                if e["name"] == "spaced"]
    assert "%20" in entry["line"] and entry["local_path"] == source
    assert unreproducible(parse_lock(entry["line"] + "\n")) == []
    shutil.move(source, source + "-moved")
    assert [e["reason"] for e in unreproducible([entry])] == ["its source %s no longer exists" % source]

    repo = mixed_venv["repo"]
    (vcs,) = parse_lock("gitpkg @ git+file://%s@%s\n" % (repo, mixed_venv["commit"]))
    assert vcs["local_path"] == repo and unreproducible([vcs]) == []
    (branch,) = parse_lock("gitpkg @ git+file://%s@release/1.2\n" % repo)  # pip splits at the last @
    assert branch["local_path"] == repo and unreproducible([branch]) == []
    (gone,) = parse_lock("gitpkg @ git+file://%s-gone@v1\n" % repo)
    assert gone["local_path"] == repo + "-gone" and len(unreproducible([gone])) == 1
    for elsewhere in ("file://fileserver/share/w-1.0-py3-none-any.whl", "file://[::1/w-1.0-py3-none-any.whl",
                      "file:relative/w-1.0-py3-none-any.whl"):  # not a path this host can check
        assert parse_lock("w @ %s\n" % elsewhere)[0]["local_path"] is None
    (here,) = parse_lock("w @ file://localhost/srv/w%2B1-1.0-py3-none-any.whl\n")
    assert here["local_path"] == "/srv/w+1-1.0-py3-none-any.whl"


def test_site_packages_on_sys_path_twice_lock_each_project_once(mixed_venv, runner):
    """Fedora and RHEL venvs have lib64/ (a symlink to lib/) on sys.path too: every project is found twice."""
    venv = mixed_venv["venv"]
    site = inspect_python(runner, python_of(venv))["python"]["purelib"]
    link = os.path.join(venv, "lib64-twin")
    pth = os.path.join(site, "zz-twin.pth")
    os.symlink("lib", link)
    try:
        with open(pth, "w") as fh:
            fh.write(site.replace(os.path.join(venv, "lib"), link, 1) + "\n")
        entries = build_lock(venv_distributions(inspect_python(runner, python_of(venv))))
        names = [e["name"] for e in entries]
        assert len(names) == len(set(names)) and "idna" in names
        assert [e["line"] for e in parse_lock(render_lock(entries))] == [e["line"] for e in entries]
    finally:
        os.unlink(pth)
        os.unlink(link)


def test_missing_local_source_is_named(mixed_venv, runner, tmp_path):
    entries = parse_lock("localpkg @ file://%s  # oxzep7: name=localpkg version=0.1 kind=dir\n"
                         % (tmp_path / "gone"))
    missing = unreproducible(entries)
    assert [m["name"] for m in missing] == ["localpkg"] and "no longer exists" in missing[0]["reason"]


def test_rebuild_reproduces_vcs_and_local_installs(mixed_venv, runner, new_python, wheelhouse):
    from ansible_collections.oxzep7.python.plugins.module_utils._installer import Installer
    from ansible_collections.oxzep7.python.plugins.module_utils._layout import Layout
    from ansible_collections.oxzep7.python.plugins.module_utils._release import rebuild, verify
    layout = Layout(mixed_venv["venv"])
    inst = Installer(dict(installer="uv", uv_path=UV, find_links=[wheelhouse], isolated=True), shutil.which)
    built = rebuild(runner, layout, inst, new_python, release_id="mixed")
    assert built["unreproducible"] == []
    result = verify(runner, layout, inst, release="mixed", imports=["gitpkg", "editpkg", "localpkg", "idna"])
    assert result["passed"], result["gates"]


def test_plain_requirements_and_upgrades():
    entries = parse_lock("# a team's file\nnumpy==1.24.4\nrequests==2.31.0 ; python_version >= '3.8'\n")
    assert [(e["name"], e["version"]) for e in entries] == [("numpy", "1.24.4"), ("requests", "2.31.0")]
    upgraded, names = apply_upgrades(entries, ["NumPy==1.26.4", "pandas>=2.1"])
    assert names == ["numpy", "pandas"]
    assert [e["line"] for e in upgraded] == ["NumPy==1.26.4", "pandas>=2.1", "requests==2.31.0 ; python_version >= '3.8'"]
    # install options choose the index: the collection's installer options do that, so they are passed over
    assert [e["name"] for e in parse_lock("--index-url https://user:secret@example.invalid/simple\nsix==1.16.0\n")] \
        == ["six"]
    with pytest.raises(Oxzep7Error) as err:
        parse_lock("-e https://user:secret@example.invalid/x.zip\n")
    assert "secret" not in err.value.msg


def test_compare_installed_uses_pep440_and_normalized_names():
    entries = parse_lock("Typing_Extensions==4.8\nflask==3.0.0\nmissing==1.0\n")
    dists = [dict(name="typing-extensions", version="4.8.0"), dict(name="Flask", version="3.0.1"),
             dict(name="extra", version="1")]
    diff = compare_installed(entries, dists)
    assert diff == dict(missing=["missing"], extra=["extra"],
                        different=[dict(name="flask", locked="3.0.0", installed="3.0.1")])


def test_lock_of_demo_requirements_round_trips():
    with open(os.path.join(FIXTURES, "demoapp", "requirements.txt")) as fh:
        entries = parse_lock(fh.read())
    assert len(entries) == 21 and all(e["kind"] == "pin" for e in entries)


def test_plan_leaves_out_unreproducible_only_when_allowed(tmp_path):
    from ansible_collections.oxzep7.python.plugins.module_utils._release import plan_install
    entries = parse_lock("idna==3.4\npip==23.0\nlocalpkg @ file://%s  # oxzep7: name=localpkg version=0.1 kind=dir\n"
                         % (tmp_path / "gone"))
    with pytest.raises(Oxzep7Error, match="cannot reproduce localpkg"):
        plan_install(entries, [], keep_seed_pins=False)
    plan = plan_install(entries, ["idna==3.6"], keep_seed_pins=False, allow_unreproducible=True)
    assert [e["line"] for e in plan["entries"]] == ["idna==3.6"]
    assert plan["skipped_seed"] == ["pip"] and [m["name"] for m in plan["unreproducible"]] == ["localpkg"]
    assert plan["upgraded"] == ["idna"] and "idna==3.6" in plan["text"]


# pip-compile --generate-hashes: hashes on continued lines; uv export: a hash on the requirement's line
HASHED = """#
# This file is autogenerated by pip-compile with Python 3.9
#
--index-url https://pypi.example.invalid/simple

six==1.16.0 \\
    --hash=sha256:1e61c37477a1626458e36f7b1d82aa5c9b094fa4802892072e49de9c60c4c926 \\
    --hash=sha256:8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254
    # via -r requirements.in
numpy==1.24.4 --hash=sha256:0a2b9f2b1c4e6d8f0a2b9f2b1c4e6d8f0a2b9f2b1c4e6d8f0a2b9f2b1c4e6d8f
"""


def test_real_lock_formats_parse():
    entries = parse_lock(HASHED, "requirements.txt")
    assert [(e["name"], e["version"], e["line"]) for e in entries] == [
        ("six", "1.16.0", "six==1.16.0"), ("numpy", "1.24.4", "numpy==1.24.4")]
    # a direct URL with a marker and a query: the URL stops before the marker
    url = parse_lock("w @ file:///srv/w-1.0-py3-none-any.whl?x=1 ; sys_platform == 'linux'\n")[0]
    assert url["kind"] == "url" and url["local_path"] == "/srv/w-1.0-py3-none-any.whl"


def test_pip_forms_the_old_parser_missed():
    # a comment line is never continued (pip's join_lines); the same line twice installs once
    assert [e["name"] for e in parse_lock("# see C:\\locks\\\nsix==1.16.0\nidna==3.4\nidna==3.4\n")] == ["six", "idna"]
    # PEP 508 allows "name@url" without spaces, and pip takes "url; marker" without the space before ";"
    entry = parse_lock("w@file:///srv/w-1.0-py3-none-any.whl; python_version < '3.12'\n")[0]
    assert (entry["kind"], entry["local_path"]) == ("url", "/srv/w-1.0-py3-none-any.whl")
    assert line_marker(entry["line"]) == "python_version < '3.12'"


@pytest.mark.parametrize("text,reason", [
    ("numpy~=1.24.4\n", "is not a pin"),
    ("numpy>=1.24\n", "is not a pin"),
    ("numpy\n", "is not a pin"),
    ("numpy==1.24.*\n", "is not a pin of one version"),
    ("numpy==1.24.4\nsix==1.16.0\nNumPy==1.26.0\n", "pins NumPy again (first on line 1)"),
    ("-r base.txt\n", "option line without a project name"),
    ("-c constraints.txt\n", "option line without a project name"),
    ("-e /srv/app\n", "option line without a project name"),
    ("foo==" + "a" * 50000 + "\n", "which is not a version"),
    ("six==1.16.0 ; python_version >> '3'\n", "environment marker that is not valid"),
])
def test_locks_that_pin_nothing_or_twice_are_refused_naming_the_file_and_line(text, reason):
    """A range is resolved at install time and a second pin of a project hides the first: no verdict holds."""
    started = time.process_time()
    with pytest.raises(Oxzep7Error, match="/srv/lock.txt line [0-9]+ .*%s" % re.escape(reason)):
        parse_lock(text, "/srv/lock.txt")
    assert time.process_time() - started < 1.0  # redacting a long line for the message was quadratic


def test_lock_encodings_as_pip_reads_them(tmp_path):
    path = tmp_path / "lock.txt"
    for data in (b"\xef\xbb\xbfsix==1.16.0\n", "six==1.16.0\r\n".encode("utf-16")):  # BOMs: UTF-8, UTF-16
        path.write_bytes(data)
        assert [(e["name"], e["version"]) for e in parse_lock(read_lock(str(path)))] == [("six", "1.16.0")]
    path.write_bytes(b"# caf\xe9 (latin-1)\nsix==1.16.0\n")
    with pytest.raises(Oxzep7Error, match="cannot read lock %s: it is not UTF-8 text" % re.escape(str(path))):
        read_lock(str(path))


def test_a_line_of_spaces_parses_in_linear_time():
    """"\\s+#" backtracked: 40,000 spaces took 8 s; the parse must stay well under a second."""
    started = time.process_time()
    assert parse_lock("six==1.16.0" + " " * 200000 + "# a comment\n")[0]["version"] == "1.16.0"
    with pytest.raises(Oxzep7Error, match="is not a pin"):
        parse_lock("six==1.16.0" + " " * 200000 + "x\n")
    assert time.process_time() - started < 1.0
