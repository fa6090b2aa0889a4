# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pyenv and CPython interpreters under a pyenv root: install, build, verify, export, import, remove.

Builds run ``pyenv install`` (python-build) with an explicit environment:
``PYTHON_BUILD_MIRROR_URL``, ``PYTHON_BUILD_CACHE_PATH``, ``PYTHON_CONFIGURE_OPTS``, ``MAKE_OPTS``
and ``PYTHON_BUILD_DEFINITIONS`` (a colon-separated list of directories searched for build
definitions), as python-build documents them. A built interpreter is not relocatable: an export
can only be imported under the same pyenv root path, on the same platform.
"""

from __future__ import absolute_import, division, print_function

import glob
import os
import platform
import re
import time

from ansible_collections.oxzep7.python.plugins.module_utils._archive import (
    ARCHIVE_ERRORS, Packer, extract, load_archive, sha256_file)
from ansible_collections.oxzep7.python.plugins.module_utils._common import (
    TIMEOUT_BUILD, TIMEOUT_GATE, TIMEOUT_INSTALL, Oxzep7Error, module_runner, read_json, remove_tree,
    write_json_atomic)
from ansible_collections.oxzep7.python.plugins.module_utils._layout import Layout
from ansible_collections.oxzep7.python.plugins.module_utils._state import ledger_venvs
from ansible_collections.oxzep7.python.plugins.module_utils._venv import read_pyvenv_cfg

__metaclass__ = type

VERSION = re.compile(r"^\d+\.\d+\.\d+$")
DEFAULT_VERIFY_MODULES = ("ssl", "sqlite3", "ctypes", "bz2", "lzma", "zlib", "venv")

# What CPython's build needs, by the module that would be missing without it: the header
# looked for, then the package that ships it on Debian/Ubuntu and on RHEL-like systems.
BUILD_DEPS = (
    ("ssl", "openssl/ssl.h", "libssl-dev", "openssl-devel"),
    ("ctypes", "ffi.h", "libffi-dev", "libffi-devel"),
    ("sqlite3", "sqlite3.h", "libsqlite3-dev", "sqlite-devel"),
    ("bz2", "bzlib.h", "libbz2-dev", "bzip2-devel"),
    ("lzma", "lzma.h", "liblzma-dev", "xz-devel"),
    ("readline", "readline/readline.h", "libreadline-dev", "readline-devel"),
    ("zlib", "zlib.h", "zlib1g-dev", "zlib-devel"),
    ("uuid", "uuid/uuid.h", "uuid-dev", "libuuid-devel"),
)
BUILD_TOOLS = (("cc", "build-essential", "gcc"), ("make", "make", "make"))
INCLUDE_DIRS = ("/usr/include", "/usr/local/include")


def os_release(path="/etc/os-release"):
    """Return the key-value pairs of os-release(5) as a dict (empty when the file is missing)."""
    out = {}
    try:
        with open(path) as fh:
            for line in fh:
                key, sep, value = line.strip().partition("=")
                if sep:
                    out[key] = value.strip().strip('"')
    except (IOError, OSError):
        pass
    return out


def os_family(release=None):
    """Return ``debian`` or ``redhat`` from os-release ``ID`` and ``ID_LIKE``, else ``unknown``."""
    release = os_release() if release is None else release
    ids = (release.get("ID", "") + " " + release.get("ID_LIKE", "")).split()
    if set(ids) & {"debian", "ubuntu"}:
        return "debian"
    if set(ids) & {"rhel", "fedora", "centos", "rocky", "almalinux"}:
        return "redhat"
    return "unknown"


def platform_id(release=None):
    """Return the platform an interpreter build is tied to, e.g. ``debian-12-x86_64-glibc2.36``.

    Made of os-release ``ID`` and ``VERSION_ID``, the machine architecture and the C
    library with its version (``platform.libc_ver()``).
    """
    release = os_release() if release is None else release
    libc, libc_version = platform.libc_ver()
    return "%s-%s-%s-%s%s" % (release.get("ID", "linux"), release.get("VERSION_ID", "unknown"),
                              platform.machine(), libc or "libc", libc_version)


def missing_build_deps(which, include_dirs=None, family=None):
    """List what a CPython build would lack on this host.

    :param which: callable ``name -> path or None`` to find the compiler and make.
    :param include_dirs: header directories; default ``/usr/include``, ``/usr/local/include``
        and the multiarch directories below ``/usr/include``.
    :returns: list of dicts with ``what`` (module or tool), ``needs`` (header or program) and
        ``package`` (for this host's OS family), in the table's order.
    """
    family = family or os_family()
    column = 3 if family == "redhat" else 2
    if include_dirs is None:
        include_dirs = list(INCLUDE_DIRS) + sorted(glob.glob("/usr/include/*-linux-*"))
    missing = []
    for name, debian, redhat in BUILD_TOOLS:
        if not which(name):
            missing.append(dict(what=name, needs=name, package=redhat if family == "redhat" else debian))
    for row in BUILD_DEPS:
        if not any(os.path.exists(os.path.join(d, row[1])) for d in include_dirs):
            missing.append(dict(what=row[0], needs=row[1], package=row[column]))
    return missing


class Pyenv:
    """A pyenv root.

    :param root: absolute path (str) of the pyenv root, e.g. ``/opt/pyenv``.
    :param runner: ``_common.Runner``.
    """

    def __init__(self, root, runner):
        if not root or not os.path.isabs(root):
            raise Oxzep7Error("pyenv_root must be an absolute path, got %r" % (root,))
        self.root = os.path.normpath(root)
        self.runner = runner

    @property
    def pyenv(self):
        return os.path.join(self.root, "bin", "pyenv")

    def present(self):
        """Tell whether pyenv is installed under the root (bool)."""
        return os.access(self.pyenv, os.X_OK)

    def version_of_pyenv(self):
        """Return pyenv's own version (``2.6.30``), or None when it is absent."""
        if not self.present():
            return None
        out = self.runner.run([self.pyenv, "--version"], env={"PYENV_ROOT": self.root}, what="pyenv --version")
        return out.stdout.strip().split()[-1]

    def install_pyenv(self, git_url=None, git_version=None, archive=None, check_mode=False):
        """Make sure pyenv is under the root: from ``archive`` (tar of a pyenv checkout) or ``git_url``.

        An archive may hold the tree at its top or inside one directory. Existing pyenv is
        left alone.

        :returns: True when pyenv was (or, in check mode, would be) installed.
        :raises Oxzep7Error: when it is absent and neither source is given, or a source fails.
        """
        if self.present():
            return False
        if not (archive or git_url):
            raise Oxzep7Error("pyenv is not installed in %s; give pyenv_archive or pyenv_git_url" % self.root)
        if check_mode:
            return True
        if os.path.isdir(self.root) and os.listdir(self.root) and not os.path.isdir(os.path.join(self.root, "versions")):
            raise Oxzep7Error("%s exists, is not empty and holds no pyenv; refusing to write into it" % self.root)
        if archive:
            self._unpack_pyenv(archive)
        else:
            argv = ["git", "clone", "--quiet", "--depth", "1"]
            if git_version:
                argv += ["--branch", git_version]
            tmp = self.root + ".clone-%d" % os.getpid()
            self.runner.run(argv + [git_url, tmp], what="cloning pyenv", timeout=TIMEOUT_INSTALL)
            self._move_in(tmp)
        if not self.present():
            raise Oxzep7Error("no bin/pyenv in %s after installing it" % self.root)
        return True

    def _unpack_pyenv(self, archive):
        tmp = self.root + ".unpack-%d" % os.getpid()
        with load_archive(archive) as tar:
            remove_tree(tmp, os.path.dirname(tmp))
            os.makedirs(tmp)
            try:
                extract(tar, tmp)
                tops = os.listdir(tmp)
                source = os.path.join(tmp, tops[0]) if len(tops) == 1 and os.path.isdir(
                    os.path.join(tmp, tops[0], "bin")) else tmp
                if not os.path.isfile(os.path.join(source, "bin", "pyenv")):
                    raise Oxzep7Error("pyenv archive %s holds no bin/pyenv" % archive)
                self._move_in(source)
            finally:
                remove_tree(tmp, os.path.dirname(tmp))

    def _move_in(self, source):
        """Move the pyenv tree at ``source`` into the root, keeping a versions/ that is there."""
        if not os.path.isdir(self.root):
            os.makedirs(os.path.dirname(self.root) or "/", exist_ok=True)
            os.rename(source, self.root)
            return
        for name in os.listdir(source):
            target = os.path.join(self.root, name)
            if not os.path.lexists(target):
                os.rename(os.path.join(source, name), target)
        remove_tree(source, os.path.dirname(source))

    # -- interpreters -------------------------------------------------------------------
    @property
    def versions(self):
        """The directory of the installed versions, ``<root>/versions`` (str)."""
        return os.path.join(self.root, "versions")

    def prefix(self, version):
        """Return ``<root>/versions/<version>`` (str)."""
        if not VERSION.match(version or ""):
            raise Oxzep7Error("version must be X.Y.Z, got %r" % (version,))
        return os.path.join(self.versions, version)

    def interpreter(self, version):
        """Return the path of ``python X.Y`` in an installed version (str; may not exist)."""
        return os.path.join(self.prefix(version), "bin", "python" + ".".join(version.split(".")[:2]))

    def installed(self, version):
        """Tell whether the version's interpreter exists (bool)."""
        return os.access(self.interpreter(version), os.X_OK)

    def verify(self, version, modules):
        """Import ``modules`` and check ensurepip's bundled pip with the installed interpreter.

        :returns: the CommandResult.
        :raises Oxzep7Error: naming the modules that failed.
        """
        script = ("import importlib, sys\nbad = []\nfor m in sys.argv[1:]:\n    try:\n"
                  "        importlib.import_module(m)\n    except Exception as e:\n"
                  "        bad.append('%s (%s)' % (m, e))\n"
                  "try:\n    import ensurepip; ensurepip.version()\nexcept Exception as e:\n"
                  "    bad.append('ensurepip (%s)' % e)\n"
                  "print('\\n'.join(bad)); sys.exit(1 if bad else 0)\n")
        res = self.runner.run([self.interpreter(version), "-I", "-B", "-c", script] + list(modules), check=False,
                              what="verifying CPython %s" % version, timeout=TIMEOUT_GATE)
        if res.rc != 0:
            raise Oxzep7Error("CPython %s under %s lacks required modules: %s"
                              % (version, self.root, ", ".join(res.stdout.split("\n")).strip(", ") or res.stderr),
                              **res.as_dict())
        return res

    def build(self, version, env, definition=None, modules=DEFAULT_VERIFY_MODULES):
        """Compile ``version`` with ``pyenv install`` and verify it; remove it if it is not whole.

        :param env: python-build variables (dict), added to ``PYENV_ROOT``.
        :param definition: a build definition file to use instead of the version's own.
        :returns: the CommandResult of ``pyenv install``.
        :raises Oxzep7Error: on a failed build or verification; nothing is left behind.
        """
        environ = dict(env, PYENV_ROOT=self.root)
        argv = [self.pyenv, "install", "--verbose", definition or version]
        try:
            result = self.runner.run(argv, env=environ, what="pyenv install %s" % version, timeout=TIMEOUT_BUILD)
            if definition and not os.path.isdir(self.prefix(version)):
                raise Oxzep7Error("definition %s did not install CPython %s" % (definition, version))
            self.verify(version, modules)
        except BaseException:
            remove_tree(self.prefix(version), self.versions)
            raise
        result.stdout = result.stdout[-4000:]
        return result

    def export(self, version, export_dir):
        """Pack an installed version as ``cpython-<version>-<platform>.tar.gz`` with a ``.json`` beside it.

        The JSON holds ``version``, ``platform``, ``prefix``, ``sha256`` (of the archive) and
        ``created``. An archive already there with a matching sha256 is kept.

        :returns: ``(changed, metadata)`` with ``path`` added to the metadata.
        """
        plat = platform_id()
        path = os.path.join(export_dir, "cpython-%s-%s.tar.gz" % (version, plat))
        meta = archive_meta(path)
        if meta and os.path.isfile(path) and sha256_file(path) == meta.get("sha256") \
                and meta.get("prefix") == self.prefix(version):
            return False, dict(meta, path=path)
        os.makedirs(export_dir, exist_ok=True)
        tmp = path + ".partial"
        try:
            Packer(tmp, [(self.prefix(version), version)], "gz").run()
            os.rename(tmp, path)
        except ARCHIVE_ERRORS as exc:
            if os.path.lexists(tmp):
                os.unlink(tmp)
            raise Oxzep7Error("cannot export CPython %s to %s (the partial file was removed): %s" % (version, path, exc))
        meta = dict(version=version, platform=plat, prefix=self.prefix(version), sha256=sha256_file(path),
                    created=time.time())
        write_json_atomic(path + ".json", meta)
        return True, dict(meta, path=path)

    def import_archive(self, version, archive, sha256=None, modules=DEFAULT_VERIFY_MODULES):
        """Install ``version`` from an exported archive; verify it; remove it if it is not whole.

        :param sha256: expected checksum; default the one in ``<archive>.json``.
        :raises Oxzep7Error: on a wrong checksum, platform, prefix or version, a damaged archive,
            an unsafe member (checked before anything is written, see ``_archive.unsafe_members``),
            or a failed verification.
        """
        meta = archive_meta(archive)
        want = sha256 or meta.get("sha256")
        if not want:
            raise Oxzep7Error("no sha256 for %s: give archive_sha256 or keep its .json beside it" % archive)
        got = sha256_file(archive)
        if got != want:
            raise Oxzep7Error("%s has sha256 %s, expected %s" % (archive, got, want))
        plat = platform_id()
        if meta.get("platform") and meta["platform"] != plat:
            raise Oxzep7Error("%s was built on %s; this host is %s" % (archive, meta["platform"], plat))
        if meta.get("prefix") and meta["prefix"] != self.prefix(version):
            raise Oxzep7Error("%s was built for %s and only works there, not in %s"
                              % (archive, meta["prefix"], self.prefix(version)))
        work = os.path.join(self.versions, ".%s.importing" % version)
        with load_archive(archive, top=version) as tar:
            os.makedirs(self.versions, exist_ok=True)
            remove_tree(work, self.versions)
            os.makedirs(work)
            try:
                extract(tar, work)
                os.rename(os.path.join(work, version), self.prefix(version))
                self.verify(version, modules)
            except BaseException:
                remove_tree(self.prefix(version), self.versions)
                raise
            finally:
                remove_tree(work, self.versions)

    def users(self, version, state_dir):
        """Find the venv releases recorded in ``state_dir`` that run on ``version``.

        Every stable path the ledgers under ``state_dir`` name is looked at
        (``_state.ledger_venvs``); a release uses the version when its pyvenv.cfg ``home`` lies
        inside the version's prefix.

        :returns: ``(users, problems)``: the release paths (sorted list of str), and the ledgers
            that name no venv or cannot be read (list of dicts with ``ledger`` and ``reason``),
            any of which could hide a user.
        """
        prefix = self.prefix(version) + os.sep
        users = []
        stables, problems = ledger_venvs(state_dir)
        for stable in stables:
            layout = Layout(stable)
            paths = [r["path"] for r in layout.releases()]
            if layout.kind() == "plain":
                paths.append(layout.stable)
            for path in paths:
                home = read_pyvenv_cfg(path).get("home", "")
                if (os.path.normpath(home) + os.sep).startswith(prefix):
                    users.append(path)
        return sorted(users), problems

    def remove(self, version):
        """Delete an installed version's directory."""
        remove_tree(self.prefix(version), self.versions)


def archive_meta(archive):
    """Return the metadata beside an exported interpreter archive, ``<archive>.json`` (dict; empty
    when there is none).

    :raises Oxzep7Error: naming the file when it is not JSON or not a JSON object.
    """
    try:
        meta = read_json(archive + ".json", {})
    except ValueError as exc:
        raise Oxzep7Error("%s.json is not JSON: %s" % (archive, exc))
    if not isinstance(meta, dict):
        raise Oxzep7Error("%s.json holds a JSON %s, not an object" % (archive, type(meta).__name__))
    return meta


def build_env(mirror_url=None, cache_path=None, configure_opts=None, make_opts=None, definitions_dirs=None,
              extra=None):
    """Return the python-build environment (dict of str) for the given options; unset ones are left out."""
    env = dict((str(k), str(v)) for k, v in (extra or {}).items())
    for key, value in (("PYTHON_BUILD_MIRROR_URL", mirror_url), ("PYTHON_BUILD_CACHE_PATH", cache_path),
                       ("PYTHON_CONFIGURE_OPTS", configure_opts), ("MAKE_OPTS", make_opts),
                       ("PYTHON_BUILD_DEFINITIONS", ":".join(definitions_dirs or []))):
        if value:
            env[key] = value
    return env


def ensure(pyenv, version, state, which, build_environment=None, definition=None, archive=None,
           archive_sha256=None, export_dir=None, verify_modules=DEFAULT_VERIFY_MODULES, state_dir=None,
           force=False, check_build_deps=True, include_dirs=None, check_mode=False):
    """Bring ``version`` under ``pyenv`` to ``state`` (present or absent).

    present: keep it if installed, else import ``archive`` when given, else build it (after
    checking build dependencies); then export it to ``export_dir`` when given.
    absent: remove it, refused while a venv recorded in ``state_dir`` uses it, or a ledger there
    cannot be read or names no venv (it could hide one), unless ``force``.

    :returns: dict with ``changed``, ``version``, ``prefix``, ``interpreter``, ``obtained``
        (present, built, imported, removed or absent), ``platform``, ``seconds``, ``archive``
        (export metadata or None), ``build`` (the pyenv install command result or None),
        ``users`` (absent: the venvs found), ``unreadable_ledgers`` (absent: list of dicts with
        ``ledger`` and ``reason``).
    :raises Oxzep7Error: on a missing build dependency (naming the packages), a failed build or
        import (leaving nothing behind), or a removal refused.
    """
    started = time.time()
    result = dict(changed=False, version=version, prefix=pyenv.prefix(version),
                  interpreter=pyenv.interpreter(version), platform=platform_id(), archive=None, build=None,
                  users=[], unreadable_ledgers=[])
    if state == "absent":
        if pyenv.installed(version) or os.path.isdir(pyenv.prefix(version)):
            users, problems = pyenv.users(version, state_dir) if state_dir else ([], [])
            result.update(users=users, unreadable_ledgers=problems)
            if users and not force:
                raise Oxzep7Error("refusing to remove CPython %s: used by %s (force=true overrides)"
                                  % (version, ", ".join(users)), users=users)
            if problems and not force:
                raise Oxzep7Error("refusing to remove CPython %s: %s; a venv recorded there could use it. Repair "
                                  "or remove the ledger, or use force=true" % (version, "; ".join(
                                      "ledger %s %s" % (b["ledger"], b["reason"]) for b in problems)),
                                  unreadable_ledgers=problems)
            result.update(changed=True, obtained="removed")
            if not check_mode:
                pyenv.remove(version)
        else:
            result["obtained"] = "absent"
    elif pyenv.installed(version) and not force:
        result["obtained"] = "present"
    else:
        result.update(changed=True, obtained="imported" if archive else "built")
        if not archive and check_build_deps:
            missing = missing_build_deps(which, include_dirs)
            if missing:
                packages = sorted(set(m["package"] for m in missing))
                raise Oxzep7Error("cannot build CPython %s: missing %s; install the packages %s"
                                  % (version, ", ".join("%s (%s)" % (m["what"], m["needs"]) for m in missing),
                                     " ".join(packages)), missing=missing, packages=packages)
        if not check_mode:
            if force and os.path.isdir(pyenv.prefix(version)):
                pyenv.remove(version)
            if archive:
                pyenv.import_archive(version, archive, archive_sha256, verify_modules)
            else:
                result["build"] = pyenv.build(version, build_environment or {}, definition,
                                              verify_modules).as_dict()
    if export_dir and state == "present" and not check_mode:
        exported, result["archive"] = pyenv.export(version, export_dir)
        result["changed"] = result["changed"] or exported
    result["seconds"] = round(time.time() - started, 3)
    return result


def run_pyenv_install(module):
    """The module ``pyenv_install``: pyenv and one CPython version under a pyenv root."""
    p = module.params
    pyenv = Pyenv(p["pyenv_root"], module_runner(module))
    pyenv_changed = False
    if p["state"] == "present":
        pyenv_changed = pyenv.install_pyenv(p["pyenv_git_url"], p["pyenv_git_version"], p["pyenv_archive"],
                                            check_mode=module.check_mode)
    env = build_env(p["mirror_url"], p["cache_path"], p["configure_opts"], p["make_opts"],
                    p["definitions_dirs"], p["build_environment"])
    before = pyenv.installed(p["version"])
    result = ensure(pyenv, p["version"], p["state"], module.get_bin_path,
                    build_environment=env, definition=p["definition"], archive=p["archive"],
                    archive_sha256=p["archive_sha256"], export_dir=p["export_dir"],
                    verify_modules=p["verify_modules"], state_dir=p["state_dir"], force=p["force"],
                    check_build_deps=p["check_build_deps"], check_mode=module.check_mode)
    result.update(changed=result["changed"] or pyenv_changed, pyenv_root=pyenv.root,
                  pyenv_installed=pyenv_changed, pyenv_version=pyenv.version_of_pyenv())
    result["diff"] = dict(before=dict(version=p["version"] if before else None),
                          after=dict(version=p["version"] if p["state"] == "present" else None))
    return result
