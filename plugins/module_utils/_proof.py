# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Proof that an sdist builds with the target interpreter, and the cache of such proofs.

A pin whose only file for the target is an sdist installs only if that sdist builds. The
only proof is a build, by the installer the rebuild uses, with the target interpreter, from
the configured index: ``uv pip install --python <target python> --target <scratch>
--no-deps --no-binary <name> <name>==<version>``, or ``<target python> -m pip wheel
--no-deps --no-binary <name> <name>==<version>``; in a scratch directory (``TMPDIR``
points into it, so the build trees land there too) removed afterwards, under the
runner's time limit; index credentials reach the installer as for a rebuild (a private
netrc). Build isolation fetches the sdist's build requirements (PEP 517/518) from the
same index, as the rebuild will.

Results are cached per (project, version, target X.Y, platform tag) in
``<state_dir>/sdist-proofs.json``, so a fleet's canary builds each sdist once per platform
and a rerun reuses the verdict. The cache is read as untrusted input: a file that does
not have exactly the expected shape is refused with a message that names it.
"""

from __future__ import absolute_import, division, print_function

import json
import os
import re
import shlex
import tempfile
import time

from ansible_collections.oxzep7.python.plugins.module_utils._common import (
    CommandTimeout, Oxzep7Error, redact, remove_tree, write_json_atomic)
from ansible_collections.oxzep7.python.plugins.module_utils._lock import canonical_name
from ansible_collections.oxzep7.python.plugins.module_utils._venv import resolve_interpreter

__metaclass__ = type

CACHE_FILE = "sdist-proofs.json"
CACHE_VERSION = 1
_RECORD_KEYS = {"name": str, "version": str, "target": str, "platform": str, "result": str, "seconds": (int, float),
                "error": (str, type(None)), "compiler_error": (str, type(None)), "interpreter": str,
                "installer": str, "at": str}
_MAX_LINE = 300  # characters kept of an error line
# pip's own summary lines, which never say what went wrong
_GENERIC = re.compile(r"subprocess-exited-with-error|metadata-generation-failed|Failed (?:building wheel|to build)"
                      r"|Could not build wheels|originates from a subprocess|See above for output|^\[notice\]")
# a Python traceback's last line, a distutils/setuptools "error: ...", pip's "ERROR: ...",
# and a compiler diagnostic "file.c:12:3: error: ..."
_ERROR = re.compile(r"^(?:error: |ERROR: |fatal error: |cause: |[A-Za-z_][\w.]*(?:Error|Exception|Exit)(?::|$))")
_COMPILER = re.compile(r"^\S+:\d+(?::\d+)?: (?:fatal )?error: ")
# the argument list setuptools prints of a failed command: ['gcc', '-O3', ...] -> gcc ...
_ARGV = re.compile(r"\['([^']+)'(?:, '[^']*')+\]")


def proof_key(name, version, target, platform):
    """The cache key of one proof: ``<canonical name>==<version> cp<XY> <platform tag>``."""
    return "%s==%s cp%s %s" % (canonical_name(name), version, "".join(target.split(".")[:2]), platform)


def read_cache(path):
    """The proofs in the cache file ``path``: dict key -> record; ``{}`` when it does not exist.

    :returns: the records, each a dict with the keys and types of ``_RECORD_KEYS``,
        ``result`` ``passed`` or ``failed``, stored under its own :func:`proof_key`.
    :raises Oxzep7Error: naming the file, when it cannot be read or has another shape.
    """
    try:
        with open(path) as fh:
            data = json.load(fh)
    except (IOError, OSError) as exc:
        if not os.path.exists(path):
            return {}
        raise Oxzep7Error("cannot read the sdist proof cache %s: %s" % (path, exc))
    except ValueError as exc:
        raise Oxzep7Error("the sdist proof cache %s is not JSON (%s); remove it to build the proofs again" % (path, exc))
    problem = None
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION or not isinstance(data.get("proofs"), dict):
        problem = "it is not {\"version\": %d, \"proofs\": {...}}" % CACHE_VERSION
    else:
        for key, record in data["proofs"].items():
            problem = _record_problem(key, record)
            if problem:
                break
    if problem:
        raise Oxzep7Error("the sdist proof cache %s is not valid: %s; remove it to build the proofs again"
                          % (path, problem))
    return data["proofs"]


def _record_problem(key, record):
    if not isinstance(record, dict) or set(record) != set(_RECORD_KEYS):
        return "entry %r does not have the keys %s" % (key, ", ".join(sorted(_RECORD_KEYS)))
    bad = [k for k, kind in _RECORD_KEYS.items() if not isinstance(record[k], kind) or isinstance(record[k], bool)]
    if bad:
        return "entry %r has a bad %s" % (key, ", ".join(sorted(bad)))
    if record["result"] not in ("passed", "failed") or record["seconds"] < 0:
        return "entry %r has a bad result or seconds" % key
    if key != proof_key(record["name"], record["version"], record["target"], record["platform"]):
        return "entry %r is stored under another key" % key
    return None


def error_lines(output):
    """What went wrong in a failed build's output (str, pip's stdout and stderr).

    :returns: ``(error, compiler_error)``: the last meaningful error line (a traceback's
        last line, ``error: Command 'gcc ...' returned non-zero exit status 1.`` with the
        command's arguments left out, pip's ``ERROR: ...`` or uv's ``cause: ...`` when it could
        not get the build requirements), and the first compiler diagnostic
        (``file.c:12:3: error: ...``) or None; each at most 300 characters.
    """
    lines = [ln.strip() for ln in output.splitlines()]
    meaningful = [ln for ln in lines if (_ERROR.match(ln) or _COMPILER.match(ln)) and not _GENERIC.search(ln)]
    compiler = next((ln for ln in lines if _COMPILER.match(ln)), None)
    last = meaningful[-1] if meaningful else next((ln for ln in reversed(lines) if ln), "no output")
    return _ARGV.sub(r"\1 ...", last)[:_MAX_LINE], compiler[:_MAX_LINE] if compiler else None


def proof_argv(installer, interpreter, name, version, scratch, pep517=False):
    """The build of the sdist of ``name==version`` with ``interpreter``, by ``installer``, from its index.

    uv: ``uv pip install --python <interpreter> --target <scratch>/target --no-deps --no-binary
    <name> --no-cache``; pip: ``<interpreter> -m pip wheel --no-deps --no-binary <name>
    --no-cache-dir --wheel-dir <scratch>/wheels``. No cache, so a wheel built earlier is no proof.

    :param installer: an ``_installer.Installer`` (uv or pip, its index and isolation options).
    :param pep517: add ``--use-pep517``, which pip before 23.1 needs to build a project without
        ``pyproject.toml`` in an isolated build environment as later pip and uv always do (pip
        documentation, "Build System Interface"); pip 25.3 removed the option.
    """
    if installer.name == "uv":
        argv = [installer.uv, "pip", "install", "--python", interpreter, "--target", os.path.join(scratch, "target"),
                "--no-deps", "--no-binary", name, "--no-cache"]
    else:
        argv = [interpreter, "-m", "pip", "wheel", "--no-deps", "--no-binary", name, "--no-cache-dir",
                "--wheel-dir", os.path.join(scratch, "wheels")] + (["--use-pep517"] if pep517 else [])
    return argv + installer.index_args() + ["%s==%s" % (name, version)]


class Prover:
    """Builds sdists with each target's interpreter, once per (project, version, target, platform).

    :param runner: ``_common.Runner``.
    :param installer: ``_installer.Installer`` the rebuild would use (uv or pip), with the run's index options.
    :param interpreters: dict target "X.Y" -> interpreter path; other targets are looked up as
        the newest ``X.Y.*`` under ``pyenv_root`` (``_venv.resolve_interpreter``).
    :param pyenv_root: str or None.
    :param cache_path: the cache file, or None for no cache.
    :param platform: the host's most specific platform tag (part of the cache key); may be set
        on the instance later, before the first :meth:`prove`.
    :param timeout: seconds one build may take.
    """

    def __init__(self, runner, installer, interpreters, pyenv_root, cache_path, platform, timeout):
        self.runner, self.installer = runner, installer
        self.interpreters, self.pyenv_root = dict(interpreters or {}), pyenv_root
        self.cache_path, self.platform = cache_path, platform
        self.timeout = int(timeout)
        self.cache = read_cache(cache_path) if cache_path else {}
        self.added = 0
        self.pep517 = {}  # interpreter -> whether its pip takes --use-pep517
        self.proofs = []  # every verdict prove() gave, in order

    def interpreter(self, target):
        """The interpreter of ``target`` on this host (str), or None when it is not installed (yet)."""
        try:
            if self.interpreters.get(target):
                return resolve_interpreter(self.interpreters[target])
            return resolve_interpreter(python_version=target, pyenv_root=self.pyenv_root) if self.pyenv_root else None
        except Oxzep7Error:
            return None

    def prove(self, name, version, target):
        """Build the sdist of ``name==version`` with the interpreter of ``target`` (or reuse the cache).

        :returns: dict with ``name``, ``version``, ``target``, ``platform``, ``result``
            (``passed``, ``failed`` or ``unproven``), ``seconds`` (float, the build's wall
            time), ``error`` and ``compiler_error`` (see :func:`error_lines`; for
            ``unproven``, why), ``interpreter``, ``installer`` (uv or pip), ``at`` (UTC time of the build), ``cached``
            (bool) and ``command`` (the build command, for a human to run).
        """
        key = proof_key(name, version, target, self.platform)
        interpreter = self.interpreter(target)
        command = proof_argv(self.installer, interpreter or "python%s" % ".".join(target.split(".")[:2]), name,
                             version, "/tmp/oxzep7-proof")
        record = dict(self.cache[key], cached=True) if key in self.cache else None
        if record is None and interpreter is None:
            record = dict(result="unproven", seconds=0, compiler_error=None, interpreter=None, at=None, cached=False,
                          installer=self.installer.name,
                          error="Python %s is not installed on this host (install it with the oxzep7.python."
                                "interpreter role, then run preflight again)" % target)
        if record is None:
            record = self._build(interpreter, name, version, target)
        record.update(name=name, version=version, target=target, platform=self.platform,
                      command=redact(" ".join(shlex.quote(a) for a in command)))
        self.proofs.append(record)
        return record

    def _build(self, interpreter, name, version, target):
        if self.installer.name == "pip" and interpreter not in self.pep517:
            usage = self.runner.run([interpreter, "-m", "pip", "wheel", "--help"], check=False,
                                    env={"PYTHONDONTWRITEBYTECODE": "1"})
            self.pep517[interpreter] = "--use-pep517" in usage.stdout
        scratch = tempfile.mkdtemp(prefix="oxzep7-proof-")
        try:
            argv = proof_argv(self.installer, interpreter, name, version, scratch, self.pep517.get(interpreter))
            result = self.installer.run(self.runner, argv, cwd=scratch, check=False, timeout=self.timeout,
                                        what="building %s==%s for %s" % (name, version, target),
                                        env=dict(TMPDIR=scratch, PYTHONDONTWRITEBYTECODE="1"))
        except CommandTimeout as exc:  # the build ran out of time: not cached, a rerun may finish
            return dict(name=name, version=version, target=target, platform=self.platform, interpreter=interpreter,
                        installer=self.installer.name, seconds=float(self.timeout), result="failed", cached=False,
                        at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), compiler_error=None,
                        error="the build did not finish within %d seconds (%s)" % (self.timeout, exc.msg))
        finally:
            remove_tree(scratch, os.path.dirname(scratch))
        record = dict(name=name, version=version, target=target, platform=self.platform, interpreter=interpreter,
                      installer=self.installer.name, seconds=round(result.seconds, 1), at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                      error=None, compiler_error=None, result="passed" if result.rc == 0 else "failed")
        if result.rc != 0:
            error, compiler = error_lines(redact(result.stdout + "\n" + result.stderr))
            record.update(error=error, compiler_error=compiler)
        self.cache[proof_key(name, version, target, self.platform)] = record
        self.added += 1
        return dict(record, cached=False)

    def save(self):
        """Write the cache when a build added to it (atomically; the state directory is made 0755)."""
        if self.cache_path and self.added:
            directory = os.path.dirname(self.cache_path)
            if not os.path.isdir(directory):
                os.makedirs(directory, 0o755)
            write_json_atomic(self.cache_path, dict(version=CACHE_VERSION, proofs=self.cache))
