# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Facts about interpreters and venvs, read by running their own Python.

The inspection script runs inside the venv's interpreter (``python -I``), so it
sees exactly what the application sees and needs no pip. It supports Python 3.6
and later: ``importlib.metadata`` from 3.8, ``pkg_resources`` before that.
"""

from __future__ import absolute_import, division, print_function

import hashlib
import os
import re

from ansible_collections.oxzep7.python.plugins.module_utils._common import Oxzep7Error
from ansible_collections.oxzep7.python.plugins.module_utils._lock import build_lock, render_lock

__metaclass__ = type

# Kept compatible with Python 3.6: it runs in the *venv's* interpreter.
INSPECT_SCRIPT = r"""
import json, os, re, sys, sysconfig

def _read(d, name):
    try:
        return d.read_text(name)
    except Exception:
        return None

def _dists():
    out, seen = [], set()
    try:
        from importlib import metadata
    except ImportError:
        metadata = None
    if metadata is not None:
        for d in metadata.distributions():
            name = d.metadata["Name"]
            if not name:
                continue
            location = os.path.normpath(str(d.locate_file("")))
            # once per project, the first on sys.path (the one imported, and what pip freeze lists):
            # Fedora and RHEL put lib64/ and its symlink target lib/ both on sys.path
            key = re.sub(r"[-_.]+", "-", name).lower()
            if key in seen:
                continue
            seen.add(key)
            direct_url = _read(d, "direct_url.json")
            out.append(dict(
                name=name, version=d.version, location=location,
                requires_python=d.metadata.get("Requires-Python"),
                installer=(_read(d, "INSTALLER") or "").strip() or None,
                direct_url=json.loads(direct_url) if direct_url else None))
        return out
    import pkg_resources
    for d in pkg_resources.working_set:
        direct_url = None
        if d.has_metadata("direct_url.json"):
            direct_url = json.loads(d.get_metadata("direct_url.json"))
        out.append(dict(
            name=d.project_name, version=d.version, location=os.path.normpath(d.location),
            requires_python=None, installer=None, direct_url=direct_url))
    return out

paths = sysconfig.get_paths()
print(json.dumps(dict(
    python=dict(
        version="%d.%d.%d" % tuple(sys.version_info[:3]),
        releaselevel=sys.version_info[3],
        implementation=sys.implementation.name,
        cache_tag=sys.implementation.cache_tag,
        executable=sys.executable,
        base_executable=getattr(sys, "_base_executable", None),
        prefix=sys.prefix,
        base_prefix=getattr(sys, "base_prefix", sys.prefix),
        purelib=paths["purelib"], platlib=paths["platlib"],
        soabi=sysconfig.get_config_var("SOABI")),
    distributions=_dists())))
"""

# PEP 425 short names of the implementations the release ids can name.
_IMPL_SHORT = {"cpython": "cp", "pypy": "pp", "ironpython": "ip", "jython": "jy"}
_VERSION_DIR = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
# A target as users write it: X.Y or X.Y.Z, plain numbers without leading zeros.
_TARGET = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))?$")
MIN_TARGET = (3, 8)


def python_of(venv):
    """Return the path of ``bin/python`` inside ``venv`` (str); it may not exist."""
    return os.path.join(venv, "bin", "python")


def read_pyvenv_cfg(venv):
    """Parse ``venv/pyvenv.cfg`` into a dict of str to str.

    The format is ``key = value`` lines (PEP 405). A missing file gives ``{}``.
    """
    cfg = {}
    try:
        with open(os.path.join(venv, "pyvenv.cfg")) as fh:
            for line in fh:
                if "=" in line:
                    key, value = line.split("=", 1)
                    cfg[key.strip()] = value.strip()
    except (IOError, OSError):
        return {}
    return cfg


def inspect_python(runner, python):
    """Run the inspection script with ``python`` and return its facts.

    :param runner: a ``_common.Runner``.
    :param python: path of an interpreter, a venv's ``bin/python`` or a base one.
    :returns: dict with ``python`` (version, implementation, executable, prefix,
        base_prefix, purelib, platlib, soabi, cache_tag) and ``distributions``
        (list of dicts: name, version, location, requires_python, installer,
        direct_url as defined by PEP 610 or None).
    :raises Oxzep7Error: when the interpreter is missing or the script fails.
    """
    if not os.access(python, os.X_OK):
        raise Oxzep7Error("interpreter %s does not exist or is not executable" % python)
    facts = runner.run_json([python, "-I", "-B", "-c", INSPECT_SCRIPT], what="inspecting %s" % python,
                            env={"PYTHONDONTWRITEBYTECODE": "1"})
    return facts


def venv_distributions(facts):
    """Keep the distributions installed inside the venv itself (not system site-packages).

    :param facts: the dict :func:`inspect_python` returned for a venv's python.
    :returns: list of distribution dicts sorted by lower-cased name.
    """
    prefix = os.path.normpath(facts["python"]["prefix"])
    inside = [d for d in facts["distributions"]
              if os.path.normpath(d["location"]).startswith(prefix + os.sep)]
    return sorted(inside, key=lambda d: d["name"].lower())


def has_pip(runner, python):
    """Tell whether ``python -m pip`` works in that venv (bool)."""
    return runner.run([python, "-I", "-B", "-c", "import pip"], check=False,
                      env={"PYTHONDONTWRITEBYTECODE": "1"}).rc == 0


def describe_live(runner, layout, facts=None):
    """Inspect the live venv of ``layout`` and render its lock.

    :param runner: ``_common.Runner``.
    :param layout: ``_layout.Layout`` of the stable path.
    :param facts: what :func:`inspect_python` already returned for the live venv, to not run it twice.
    :returns: dict with ``path`` (the live directory), ``facts``, ``entries`` (``_lock.build_lock``),
        ``lock_text`` and ``lock_sha256`` (hex sha256 of the UTF-8 lock text).
    :raises Oxzep7Error: when there is no venv at the stable path.
    """
    live = layout.live_path()
    if live is None:
        raise Oxzep7Error("there is no venv at %s" % layout.stable)
    facts = facts or inspect_python(runner, python_of(live))
    entries = build_lock(venv_distributions(facts))
    text = render_lock(entries, header=["lock of %s, Python %s (%s)" % (
        layout.stable, facts["python"]["version"], facts["python"]["implementation"])])
    return dict(path=live, facts=facts, entries=entries, lock_text=text,
                lock_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest())


def interpreter_tag(python_facts):
    """Return the PEP 425 style tag of an interpreter, e.g. ``cp312``.

    :param python_facts: the ``python`` dict of :func:`inspect_python`.
    """
    impl = python_facts["implementation"]
    short = _IMPL_SHORT.get(impl, impl[:2])
    major, minor = python_facts["version"].split(".")[:2]
    return "%s%s%s" % (short, major, minor)


def _version_key(text):
    match = _VERSION_DIR.match(text)
    return tuple(int(p) for p in match.groups()) if match else None


def check_target(version, implementation="cpython"):
    """Return ``version`` (str) when it is a supported target: CPython 3.8 or later, ``X.Y`` or ``X.Y.Z``.

    The written form is checked strictly (``3.12``, ``3.12.4``; not ``3``, ``3.12.x``, ``3.12rc1``
    or ``v3.12``, which PEP 440 parsers accept or normalize), then compared as numbers. It runs in
    the module process on the host, whose Python may lack ``packaging``.

    :param version: the target (any value; it is made a str).
    :param implementation: ``sys.implementation.name`` of an interpreter already found.
    :raises Oxzep7Error: on anything else, naming the value.
    """
    version = str(version)
    match = _TARGET.match(version)
    if implementation != "cpython" or not match or (int(match.group(1)), int(match.group(2))) < MIN_TARGET:
        raise Oxzep7Error("%r is not a supported target: CPython %d.%d or later, written X.Y or X.Y.Z (3.12, 3.12.4)"
                          % (version if implementation == "cpython" else "%s %s" % (implementation, version),
                             MIN_TARGET[0], MIN_TARGET[1]))
    return version


def installed_versions(pyenv_root):
    """The versions installed under ``<pyenv_root>/versions`` (list of ``X.Y.Z`` str, oldest first); the names
    that are not a version are left out, and the list is empty when the directory cannot be listed."""
    try:
        return sorted((v for v in os.listdir(os.path.join(pyenv_root, "versions")) if _version_key(v)),
                      key=_version_key) if pyenv_root else []
    except OSError:
        return []


def resolve_interpreter(interpreter=None, python_version=None, pyenv_root=None):
    """Find the base interpreter a new release is built with.

    Either ``interpreter`` (a path) or ``python_version`` with ``pyenv_root``.
    ``python_version`` ``X.Y.Z`` picks that exact pyenv version; ``X.Y`` picks the
    newest ``X.Y.*`` final release installed under ``pyenv_root/versions``.

    :returns: the absolute path of the interpreter (str).
    :raises Oxzep7Error: on a ``python_version`` that :func:`check_target` refuses, or when
        nothing matches; the message lists what is installed.
    """
    if interpreter:
        path = os.path.abspath(interpreter)
        if not os.access(path, os.X_OK) or os.path.isdir(path):
            raise Oxzep7Error("interpreter %s does not exist or is not executable; install it "
                              "first (oxzep7.python.interpreter role)" % path)
        return path
    if not (python_version and pyenv_root):
        raise Oxzep7Error("give either interpreter or python_version with pyenv_root")
    installed = installed_versions(pyenv_root)
    wanted = check_target(python_version)
    if _version_key(wanted):
        matches = [v for v in installed if v == wanted]
    else:
        matches = [v for v in installed if v.startswith(wanted + ".")]
    if not matches:
        raise Oxzep7Error("CPython %s is not installed under %s (installed: %s); install it first "
                          "(oxzep7.python.interpreter role)"
                          % (wanted, pyenv_root, ", ".join(installed) or "none"))
    version = matches[-1]
    prefix = os.path.join(pyenv_root, "versions", version)
    major_minor = ".".join(version.split(".")[:2])
    for name in ("python" + major_minor, "python3", "python"):
        path = os.path.join(prefix, "bin", name)
        if os.access(path, os.X_OK):
            return path
    raise Oxzep7Error("%s has no python executable in bin/" % prefix)


def tree_size(path):
    """Return the bytes used by the files under ``path`` (int); links are not followed."""
    total = 0
    for top, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(top, name)).st_size
            except OSError:
                pass
    return total
