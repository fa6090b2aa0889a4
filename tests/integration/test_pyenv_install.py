"""pyenv_install for real: an offline install through pyenv from a mirror, export, import, removal."""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import urllib.request

import pytest

from helpers import ROOT, free_port, run_playbook

from ansible_collections.oxzep7.python.plugins.module_utils._common import Oxzep7Error, Runner
from ansible_collections.oxzep7.python.plugins.module_utils._pyenv import (
    BUILD_DEPS, Pyenv, missing_build_deps, os_family, platform_id)


@pytest.fixture(scope="session")
def sources():
    subprocess.run([os.path.join(ROOT, "scripts", "cpython-sources")], check=True)
    return dict(cache=os.path.join(ROOT, ".cache", "python-build"), pyenv=os.path.join(ROOT, ".cache", "pyenv.tar.gz"))


@pytest.fixture
def prebuilt(tmp_path, pyenv_root):
    """A python-build definition that installs the test pyenv root's newest CPython 3.13 by copying it.

    Compiling CPython is tested once in the suite, by the molecule scenario ``interpreter`` (the
    interpreter role builds 3.13.5 from source in a container with this module and fans it out). This
    test is about the module's cycle around a build, so its "build" is python-build's ``copy`` build
    type (pyenv's own, for prebuilt trees), found first through PYTHON_BUILD_DEFINITIONS by
    ``pyenv install <version>``: the same command, fetch, checksum and install, in seconds. The
    definition's URL cannot resolve (``.invalid``), so the tarball can only come from the mirror.

    :returns: dict with ``version`` (X.Y.Z), ``definition`` (the file's path, named after the version)
        and ``tarball`` (``cpython-<version>-prebuilt.tar.gz``, without CPython's own test suite).
    """
    found = [n for n in os.listdir(os.path.join(pyenv_root, "versions")) if re.match(r"^3\.13\.[0-9]+$", n)]
    assert found, "the test pyenv root %s has no CPython 3.13.x" % pyenv_root
    version = max(found, key=lambda n: tuple(int(x) for x in n.split(".")))
    name = "cpython-%s-prebuilt" % version
    tarball = str(tmp_path / (name + ".tar.gz"))
    with tarfile.open(tarball, "w:gz", compresslevel=1) as tar:
        tar.add(os.path.join(pyenv_root, "versions", version), name,
                filter=lambda m: None if m.name.startswith(name + "/lib/python3.13/test/") else m)
    digest = hashlib.sha256(open(tarball, "rb").read()).hexdigest()
    definitions = tmp_path / "definitions"
    definitions.mkdir()
    definition = definitions / version
    definition.write_text('install_package "%s" "http://mirror-only.invalid/%s.tar.gz#%s" copy\n'
                          % (name, name, digest))
    return dict(version=version, definition=str(definition), tarball=tarball)


@pytest.fixture
def mirror(tmp_path, prebuilt):
    """A python-build mirror on 127.0.0.1: the prebuilt tarball served under its sha256 (python-build's layout)."""
    root = tmp_path / "mirror"
    root.mkdir()
    path = prebuilt["tarball"]
    os.symlink(path, str(root / hashlib.sha256(open(path, "rb").read()).hexdigest()))
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory", str(root),
                               str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _attempt in range(50):
        try:
            urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=1).read()
            break
        except OSError:
            time.sleep(0.1)
    yield "http://127.0.0.1:%d" % port
    server.terminate()
    server.wait(timeout=10)


def test_build_export_import_and_guarded_removal(tmp_path, sources, prebuilt, mirror):
    base = str(tmp_path)
    extra = dict(root=os.path.join(base, "pyenv"), pyenv_archive=sources["pyenv"], mirror_url=mirror,
                 version=prebuilt["version"], definitions=os.path.dirname(prebuilt["definition"]),
                 export_dir=os.path.join(base, "export"), state_dir=os.path.join(base, "state"),
                 venv=os.path.join(base, "app", "venv"))
    playbook = os.path.join(os.path.dirname(os.path.abspath(__file__)), "playbooks", "pyenv.yml")
    rc, stats, plays = run_playbook(playbook, base, {}, extra_vars=extra)
    failed = [(t["task"]["name"], t["hosts"]["app"].get("msg")) for p in plays for t in p["tasks"]
              if t["hosts"].get("app", {}).get("failed")
              and t["task"]["name"] not in ("Remove while the venv uses it", "Import with a module that cannot import")]
    assert rc == 0 and not failed, failed
    minor = ".".join(prebuilt["version"].split(".")[:2])
    assert os.access(os.path.join(extra["root"], "versions", prebuilt["version"], "bin", "python" + minor), os.X_OK)


def test_missing_build_dependencies_are_named(tmp_path):
    missing = missing_build_deps(shutil.which, include_dirs=[str(tmp_path)], family="debian")
    assert [m["what"] for m in missing] == [row[0] for row in BUILD_DEPS]
    assert [m["package"] for m in missing][:2] == ["libssl-dev", "libffi-dev"]
    redhat = missing_build_deps(lambda name: None, include_dirs=[str(tmp_path)], family="redhat")
    assert redhat[0] == dict(what="cc", needs="cc", package="gcc") and "openssl-devel" in [m["package"] for m in redhat]
    assert os_family({"ID": "ubuntu", "ID_LIKE": "debian"}) == "debian"
    assert os_family({"ID": "rocky", "ID_LIKE": "rhel centos fedora"}) == "redhat"


def test_missing_dependency_fails_before_anything_is_written(tmp_path, sources, monkeypatch):
    from ansible_collections.oxzep7.python.plugins.module_utils import _pyenv
    monkeypatch.setattr(_pyenv, "INCLUDE_DIRS", (str(tmp_path / "empty"),))
    monkeypatch.setattr(_pyenv.glob, "glob", lambda pattern: [])
    pyenv = Pyenv(str(tmp_path / "root"), Runner())
    pyenv.install_pyenv(archive=sources["pyenv"])
    with pytest.raises(Oxzep7Error) as err:
        _pyenv.ensure(pyenv, "3.13.5", "present", shutil.which, build_environment={"PYTHON_BUILD_CACHE_PATH": sources["cache"]})
    assert "libssl-dev" in err.value.msg and "install the packages" in err.value.msg
    assert not os.path.exists(str(tmp_path / "root" / "versions" / "3.13.5"))


def _fake_export(tmp_path, version, prefix, plat):
    src = tmp_path / "tree" / version / "bin"
    src.mkdir(parents=True)
    (src / "python3.13").write_text("#!/bin/sh\n")
    archive = str(tmp_path / "cpython.tar.gz")
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(str(tmp_path / "tree" / version), arcname=version)
    digest = hashlib.sha256(open(archive, "rb").read()).hexdigest()
    with open(archive + ".json", "w") as fh:
        json.dump(dict(version=version, platform=plat, prefix=prefix, sha256=digest), fh)
    return archive


@pytest.mark.parametrize("problem", ["checksum", "platform", "prefix"])
def test_import_refuses_wrong_archives(tmp_path, problem):
    pyenv = Pyenv(str(tmp_path / "root"), Runner())
    prefix = pyenv.prefix("3.13.5") if problem != "prefix" else "/elsewhere/versions/3.13.5"
    plat = platform_id() if problem != "platform" else "alpine-3.20-x86_64-musl1.2"
    archive = _fake_export(tmp_path, "3.13.5", prefix, plat)
    sha = "0" * 64 if problem == "checksum" else None
    with pytest.raises(Oxzep7Error, match={"checksum": "expected", "platform": "was built on",
                                           "prefix": "only works there"}[problem]):
        pyenv.import_archive("3.13.5", archive, sha)
    assert not os.path.exists(pyenv.prefix("3.13.5"))


def test_pyenv_from_a_git_url(tmp_path, sources):
    repo = tmp_path / "pyenv-git"
    repo.mkdir()
    with tarfile.open(sources["pyenv"]) as tar:
        tar.extractall(str(repo))
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(git + ["add", "-A"], check=True)
    subprocess.run(git + ["commit", "-qm", "pyenv"], check=True)
    pyenv = Pyenv(str(tmp_path / "root"), Runner())
    assert pyenv.install_pyenv(git_url="file://%s" % repo, check_mode=True) and not pyenv.present()
    assert pyenv.install_pyenv(git_url="file://%s" % repo) is True
    assert pyenv.version_of_pyenv().startswith("2.")
    assert pyenv.install_pyenv(git_url="file://%s" % repo) is False
    with pytest.raises(Oxzep7Error, match="give pyenv_archive or pyenv_git_url"):
        Pyenv(str(tmp_path / "other"), Runner()).install_pyenv()
