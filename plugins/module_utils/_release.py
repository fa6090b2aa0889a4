# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Building a new release beside the live venv, verifying a release, and switching to one
(the glue of the modules ``venv_rebuild``, ``venv_verify`` and ``venv_switch``).

Neither rebuild nor verify ever touches the live release: a failed build removes only
the directory it created.
"""

from __future__ import absolute_import, division, print_function

import hashlib
import json
import os
import shlex
import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.oxzep7.python.plugins.module_utils._common import (
    TIMEOUT_GATE, CommandTimeout, Oxzep7Error, module_runner)
from ansible_collections.oxzep7.python.plugins.module_utils._installer import explain_failure, module_installer
from ansible_collections.oxzep7.python.plugins.module_utils._layout import (
    STATE_BUILDING, STATE_BUILT, STATE_FAILED, STATE_VERIFIED, apply_owner, check_release_id, make_release_id,
    ownership, pin_release, release_id_for)
from ansible_collections.oxzep7.python.plugins.module_utils._lock import (
    SEED_PACKAGES, apply_upgrades, canonical_name, compare_installed, parse_lock, read_lock, render_lock,
    unreproducible)
from ansible_collections.oxzep7.python.plugins.module_utils._modules import _changes, _diff, _outcome, _record, _stage
from ansible_collections.oxzep7.python.plugins.module_utils._venv import (
    check_target, describe_live, has_pip, inspect_python, interpreter_tag, python_of, resolve_interpreter,
    venv_distributions)

__metaclass__ = type

_TAIL = 4000  # characters of a command's output kept in results
# Import processes at once in the imports gate: a first import is mostly compiling to bytecode,
# which keeps one core busy, so the gate runs one process per name on up to this many cores.
MAX_PARALLEL_IMPORTS = 4

IMPORT_SCRIPT = r"""
import importlib, json, sys, traceback
out = []
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
        out.append(dict(name=name, ok=True, error=None))
    except BaseException as exc:
        out.append(dict(name=name, ok=False, error="%s: %s" % (type(exc).__name__, exc)))
print(json.dumps(out))
"""


# The options of the gates (venv_verify, venv_upgrade; the doc fragment oxzep7.python.venv.gates).
GATES_SPEC = dict(
    imports=dict(type="list", elements="str", default=[]),
    smoke_commands=dict(type="list", elements="raw", default=[]),
    test_command=dict(type="raw"),
    check_dependencies=dict(type="bool", default=True),
    verify_environment=dict(type="dict", default={}),
    chdir=dict(type="path"),
    command_timeout=dict(type="int", default=TIMEOUT_GATE),
)
# What a release is built from besides the lock (venv_rebuild, venv_upgrade; oxzep7.python.venv.build).
BUILD_SPEC = dict(
    upgrades=dict(type="list", elements="str", default=[]),
    keep_seed_pins=dict(type="bool", default=False),
    allow_unreproducible=dict(type="bool", default=False),
)


def read_lock_entries(runner, layout, lock_path):
    """Return the lock entries from ``lock_path``, or of the live venv when it is None."""
    if lock_path:
        return parse_lock(read_lock(lock_path), lock_path)
    return describe_live(runner, layout)["entries"]


def plan_install(entries, upgrades, keep_seed_pins, allow_unreproducible=False):
    """Decide what a rebuild installs.

    :returns: dict with ``entries`` (to install), ``upgraded`` (canonical names),
        ``skipped_seed`` (names left to the new venv's own seed), ``unreproducible``
        (dicts with name, line, reason: left out), ``text`` (the requirements file)
        and ``sha256`` (of that text).
    :raises Oxzep7Error: on entries that cannot be reinstalled, unless ``allow_unreproducible``.
    """
    entries, upgraded = apply_upgrades(entries, upgrades)
    skipped = [e["name"] for e in entries
               if e["seed"] and not keep_seed_pins and canonical_name(e["name"]) not in upgraded]
    chosen = [e for e in entries if e["name"] not in skipped]
    missing = [dict(name=e["name"], line=e["line"], reason=e["reason"]) for e in unreproducible(chosen)]
    if missing and not allow_unreproducible:
        raise Oxzep7Error("cannot reproduce %s: %s" % (
            ", ".join(m["name"] for m in missing), "; ".join(m["reason"] for m in missing)),
            unreproducible=missing)
    gone = set(m["name"] for m in missing)
    chosen = [e for e in chosen if e["name"] not in gone]
    text = render_lock(chosen, header=["requirements of a release built by oxzep7.python"])
    return dict(entries=chosen, upgraded=upgraded, skipped_seed=skipped, unreproducible=missing, text=text,
                sha256=hashlib.sha256(text.encode("utf-8")).hexdigest())


def rebuild(runner, layout, installer, interpreter, lock_path=None, upgrades=None, release_id=None,
            keep_seed_pins=False, allow_unreproducible=False, check_mode=False, run_id=None, base=None):
    """Build release ``release_id`` for ``interpreter`` from a lock, beside the live venv.

    :param runner: ``_common.Runner``.
    :param layout: ``_layout.Layout`` of the stable path.
    :param installer: ``_installer.Installer``.
    :param interpreter: path of the base interpreter (str).
    :param lock_path: lock file; None reads the live venv's installed set.
    :param upgrades: requirement strings that replace lock pins of the same name.
    :param release_id: default ``<run_id>-<interpreter tag>`` (``...-cp312``), or without a run id
        ``<UTC now>-<interpreter tag>``.
    :param run_id: the run the release is built for (str), which names it; None for none.
    :param base: the ``python`` dict of ``inspect_python`` for ``interpreter`` when the caller has it
        (``venv_upgrade`` inspected it already); None inspects it.
    :param keep_seed_pins: install the locked pip/setuptools/wheel pins too; by
        default the new venv keeps the seed versions that match its interpreter.
    :param allow_unreproducible: build without local sources that no longer exist
        instead of failing.
    :returns: dict with ``changed``, ``release_id``, ``release_path``, ``python_version``,
        ``installer``, ``upgraded``, ``skipped_seed``, ``unreproducible`` (list of
        dicts with name, line, reason), ``seconds``, ``install`` (command result or None).
    :raises Oxzep7Error: on an interpreter that is not CPython 3.8 or later, unreproducible
        entries (unless allowed), a failed create/install (see :func:`installer_error` for the
        install), a release whose contents do not check out (:func:`check_built`) or a write the
        layout's guard stops; the partial release is removed first.
    """
    started = time.time()
    if check_mode and lock_path and not os.path.exists(lock_path):
        lock_path = None  # the snapshot holding it was not written in check mode
    base = base or inspect_python(runner, interpreter)["python"]
    check_target(base["version"], base["implementation"])
    tag = interpreter_tag(base)
    release_id = check_release_id(release_id or (release_id_for(run_id, tag) if run_id else make_release_id(tag)))
    plan = plan_install(read_lock_entries(runner, layout, lock_path), upgrades, keep_seed_pins,
                        allow_unreproducible)
    missing = plan["unreproducible"]
    dest = layout.release_path(release_id)
    result = dict(changed=False, release_id=release_id, release_path=dest, python_version=base["version"],
                  installer=installer.name, upgraded=plan["upgraded"], skipped_seed=plan["skipped_seed"],
                  unreproducible=missing, install=None)
    marker = layout.marker(release_id)
    if os.access(python_of(dest), os.X_OK) and marker.get("state") in (STATE_BUILT, STATE_VERIFIED) \
            and marker.get("python_version") == base["version"] and marker.get("lock_sha256") == plan["sha256"]:
        result["seconds"] = round(time.time() - started, 3)
        return result
    if release_id == layout.current_release():
        raise Oxzep7Error("release %s is the live release and does not match the lock; "
                          "choose a new release id" % release_id)
    result["changed"] = True
    if check_mode:
        result["seconds"] = round(time.time() - started, 3)
        return result
    live = layout.live_path()
    owner = ownership(live if live else layout.parent)
    seed = has_pip(runner, python_of(live)) if live else True
    layout.remove_release(release_id)  # an unfinished or stale build of the same id
    made_releases_dir = layout.ensure_releases_dir(owner)
    layout.write_marker(release_id, state=STATE_BUILDING, created=time.time(), python_version=base["version"])
    try:
        installer.create_venv(runner, interpreter, dest, seed=seed)
        with open(layout.lock_path(release_id), "w") as fh:
            fh.write(plan["text"])
        if plan["entries"]:
            try:
                result["install"] = installer.install(runner, python_of(dest), layout.lock_path(release_id)).as_dict()
            except Oxzep7Error as exc:
                raise installer_error(exc, plan["entries"], interpreter_tag(base))
        pin_release(dest)
        apply_owner(dest, owner)
        check_built(runner, dest, base["version"], plan["entries"])
        layout.write_marker(release_id, state=STATE_BUILT, interpreter=interpreter, installer=installer.name,
                            lock_sha256=plan["sha256"], upgraded=plan["upgraded"],
                            unreproducible=[m["name"] for m in missing],
                            built_seconds=round(time.time() - started, 3))
    except BaseException:
        layout.remove_release(release_id)
        if made_releases_dir:
            layout.remove_releases_dir_if_empty()
        raise
    result["seconds"] = round(time.time() - started, 3)
    return result


def installer_error(error, entries, tag):
    """The error of a failed installer run, told the way a person looks for it.

    :param error: the :class:`Oxzep7Error` of ``Runner.run`` (details cmd, rc, stdout, stderr).
    :param entries: the lock entries being installed.
    :param tag: the target's interpreter tag, e.g. ``cp312``.
    :returns: a new :class:`Oxzep7Error` whose message is the reason of
        ``_installer.explain_failure`` when the output names the package (else the old
        message), with two more details: ``installer_log`` (the command, its exit status,
        stdout and stderr, as one text) and ``installer_failure`` (what ``explain_failure``
        returned, or None).
    """
    details = dict(error.details)
    stdout, stderr = details.get("stdout") or "", details.get("stderr") or ""
    failure = explain_failure(stdout, stderr, entries, tag)
    details.update(installer_failure=failure, installer_log="$ %s\n# exit status %s\n--- stdout\n%s\n--- stderr\n%s\n" % (
        " ".join(details.get("cmd") or []), details.get("rc"), stdout, stderr))
    return Oxzep7Error(failure["reason"] if failure else error.msg, **details)


def check_built(runner, release_dir, version, entries):
    """Check a release's contents before it is marked built.

    Its ``bin/python`` must run and report ``version``, and every entry of the requirements it
    was built from must be installed in it at the pinned version (:func:`_lock.compare_installed`;
    other distributions, dependencies of upgrades say, may be there too).

    :param release_dir: the release directory (str).
    :param version: the target interpreter's version (str, ``X.Y.Z``).
    :param entries: the lock entries installed (``plan_install()["entries"]``).
    :raises Oxzep7Error: naming what is wrong.
    """
    facts = inspect_python(runner, python_of(release_dir))
    found = facts["python"]["version"]
    if found != version:
        raise Oxzep7Error("the new release %s runs Python %s, not %s" % (release_dir, found, version))
    diff = compare_installed(entries, venv_distributions(facts))
    if diff["missing"] or diff["different"]:
        raise Oxzep7Error("the new release %s lacks what it was built from: missing %s; different %s" % (
            release_dir, ", ".join(diff["missing"]) or "none",
            ", ".join("%s %s (locked %s)" % (d["name"], d["installed"], d["locked"]) for d in diff["different"])
            or "none"), **diff)


def command_argv(command):
    """A command of a venv entry as an argv list: a list as it is (each item a str), a str split as a POSIX
    shell would split it (``shlex.split``), never run by a shell."""
    return shlex.split(command) if isinstance(command, str) else [str(a) for a in command]


def import_workers(count):
    """How many import processes the imports gate runs at once for ``count`` names (int, at least 1):
    one per name, at most one per core this process may run on (its CPU affinity, which a container's
    cpuset limits) and at most ``MAX_PARALLEL_IMPORTS``."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(count, MAX_PARALLEL_IMPORTS, cores or 1))


def _import(runner, python, name, env, chdir, deadline):
    """Import ``name`` in its own process of ``python``; return ``dict(name, ok, error)``.

    A process that prints no result, or exits non-zero after the import (a crash at exit), fails
    the name with the end of its stderr. All the gate's processes share ``TIMEOUT_GATE`` seconds:
    each may run until ``deadline`` (epoch seconds).
    """
    res = runner.run([python, "-c", IMPORT_SCRIPT, name], env=env, check=False, cwd=chdir,
                     what="the import of %s" % name, timeout=max(1, int(deadline - time.time())))
    try:
        (result,) = json.loads(res.stdout)
        ok = result["ok"] is True
    except (ValueError, TypeError, KeyError):
        return dict(name=name, ok=False, error=res.stderr[-_TAIL:] or "no result (rc %s)" % res.rc)
    if ok and res.rc != 0:
        return dict(name=name, ok=False, error="exited with rc %s after the import: %s" % (res.rc, res.stderr[-_TAIL:]))
    return dict(name=name, ok=ok, error=result.get("error"))


def _lock_gate(runner, layout, python, release_id):
    """The ``lock`` gate: the installed set of the release against its lock, or None when it has no lock."""
    lock_file = layout.lock_path(release_id) if release_id else None
    if not lock_file or not os.path.exists(lock_file):
        return None
    started = time.time()
    marker = layout.marker(release_id)
    entries = parse_lock(read_lock(lock_file), lock_file)
    dists = venv_distributions(inspect_python(runner, python))
    ignore = set(SEED_PACKAGES) | set(marker.get("upgraded") or []) | set(
        canonical_name(n) for n in marker.get("unreproducible") or [])
    diff = compare_installed(entries, dists, ignore=ignore)
    return _gate("lock", not diff["missing"] and not diff["different"], time.time() - started, **diff)


def _gate(name, ok, seconds=0.0, **extra):
    gate = dict(name=name, ok=ok, seconds=round(seconds, 3))
    gate.update(extra)
    return gate


def _run_gate(runner, name, argv, env, cwd, timeout):
    try:
        res = runner.run(argv, env=env, cwd=cwd, check=False, what=name, timeout=timeout)
    except CommandTimeout as exc:
        return _gate(name, False, timeout, error=exc.msg, rc=exc.details.get("rc"), cmd=exc.details.get("cmd"),
                     stdout=exc.details.get("stdout", "")[-_TAIL:], stderr=exc.details.get("stderr", "")[-_TAIL:])
    return _gate(name, res.rc == 0, res.seconds, rc=res.rc, cmd=res.cmd,
                 stdout=res.stdout[-_TAIL:], stderr=res.stderr[-_TAIL:])


def failure_summary(result):
    """The failed gates of a :func:`verify` result in one line (str): each gate's name, and for the
    dependency check the lines that name the broken requirements."""
    return ", ".join("%s (%s)" % (g["name"], "; ".join(p["message"] for p in g["problems"])) if g.get("problems")
                     else g["name"] for g in result["gates"] if not g["ok"])


def writes_bytecode(layout, release_id):
    """Whether the gates may write ``__pycache__`` into release ``release_id`` (bool).

    Only into a release this collection built (no ``origin`` in its marker) and never verified, and
    that is not the live one: it is not live yet, and its first start gets faster. Never into the live
    release, a plain venv (``release_id`` None), a verified release (one that was, or may become
    again, the live one) or a release restored from a snapshot (it stays byte-identical to the venv
    the snapshot was taken of): the old release is never written to.
    """
    if not release_id or release_id == layout.current_release():
        return False
    marker = layout.marker(release_id)
    return marker.get("state") == STATE_BUILT and not marker.get("origin")


def release_env(path, environment=None, bytecode=False):
    """The environment a command runs in against the release at ``path`` (str): ``environment`` (dict, the
    venv entry's), ``VIRTUAL_ENV``, the release's ``bin`` first on ``PATH``, and ``PYTHONDONTWRITEBYTECODE``.

    :param bytecode: whether the command may write bytecode into the release (bool, :func:`writes_bytecode`).
    :returns: dict str -> str.
    """
    env = dict((str(k), str(v)) for k, v in (environment or {}).items())
    # Python writes no bytecode when PYTHONDONTWRITEBYTECODE is a non-empty string (Python docs, "Command
    # line and environment"): the empty string lifts a value the module's own environment may have
    env.update(PYTHONDONTWRITEBYTECODE="" if bytecode else "1", VIRTUAL_ENV=path,
               PATH=os.path.join(path, "bin") + os.pathsep + os.environ.get("PATH", os.defpath))
    return env


def verify(runner, layout, installer, release="current", imports=None, smoke_commands=None,
           test_command=None, check_dependencies=True, compare_lock=True, environment=None,
           chdir=None, mark=True, command_timeout=TIMEOUT_GATE, check_mode=False):
    """Run the gates on a release and, when all pass, mark it verified.

    Gates, in order: ``pip check`` (or ``uv pip check``), the imports, the installed
    set against the release's lock, each smoke command, then the test command. Each name of
    ``imports`` is imported in its own process (so each must import on its own, as
    ``python -c "import name"`` would); those processes run side by side (at most
    :func:`import_workers` at once) while the dependency and lock checks run, and share
    ``TIMEOUT_GATE`` seconds.
    Commands run with ``VIRTUAL_ENV`` set and the release's ``bin`` first on PATH, and with
    ``PYTHONDONTWRITEBYTECODE=1`` unless :func:`writes_bytecode` allows the gates to write
    bytecode into the release (a new release before its switch; the files get the release's owner).
    In check mode the smoke and test commands are not run and nothing is marked.

    :param release: a release id, or ``current`` (also a plain, unconverted venv).
    :param smoke_commands: list of commands, each an argv list or a string split
        like a shell would (no shell runs it).
    :param command_timeout: seconds each smoke command and the test command may run (int);
        one that runs longer is killed and its gate fails with ``error`` saying so.
    :returns: dict with ``changed`` (marker written), ``passed`` (bool), ``release_id``,
        ``release_path``, ``gates`` (list of dicts: name, ok, seconds, and rc/cmd/stdout/
        stderr, errors or differences; ``problems`` of the dependency check, see
        ``_installer.check_problems``; ``error`` when a command timed out), ``failed_gates`` (names)
        and ``wrote_bytecode`` (bool).
    :raises Oxzep7Error: when the release does not exist.
    """
    release_id = layout.current_release() if release == "current" else check_release_id(release)
    path = layout.release_path(release_id) if release_id else layout.live_path()
    if not path or not os.path.isdir(path):
        raise Oxzep7Error("release %s does not exist at %s" % (release, layout.stable))
    python = python_of(path)
    bytecode = writes_bytecode(layout, release_id)
    env = release_env(path, environment, bytecode)
    no_bytecode = {"PYTHONDONTWRITEBYTECODE": env["PYTHONDONTWRITEBYTECODE"]}
    gates, started = [], time.time()
    names = list(dict.fromkeys(imports or []))  # once each, in the order given
    with ThreadPoolExecutor(max_workers=import_workers(len(names))) as pool:
        imported = [pool.submit(_import, runner, python, name, env, chdir, started + TIMEOUT_GATE)
                    for name in names]
        try:
            if check_dependencies:
                res, problems = installer.check(runner, python, env=no_bytecode)
                gates.append(_gate("pip check", res.rc == 0 and not problems, res.seconds, rc=res.rc, cmd=res.cmd,
                                   problems=problems, stdout=res.stdout[-_TAIL:], stderr=res.stderr[-_TAIL:]))
            lock_gate = _lock_gate(runner, layout, python, release_id) if compare_lock else None
        except BaseException:
            for future in imported:  # the imports not started yet never start; running ones end first
                future.cancel()
            raise
        if imported:
            results = [future.result() for future in imported]
            bad = [r for r in results if not r["ok"]]
            gates.append(_gate("imports", not bad, time.time() - started, errors=bad, checked=names))
    if lock_gate:
        gates.append(lock_gate)
    commands = [("smoke: %s" % " ".join(command_argv(c)), command_argv(c)) for c in smoke_commands or []]
    if test_command:
        commands.append(("tests", command_argv(test_command)))
    for name, argv in commands:
        if check_mode:
            gates.append(_gate(name, True, skipped="check mode"))
        else:
            gates.append(_run_gate(runner, name, argv, env, chdir, command_timeout))
    if bytecode and not check_mode:
        apply_owner(path, ownership(path))  # the __pycache__ the gates wrote, as root, belong to the release's owner
    failed = [g["name"] for g in gates if not g["ok"]]
    result = dict(changed=False, passed=not failed, release_id=release_id, release_path=path,
                  gates=gates, failed_gates=failed, wrote_bytecode=bytecode)
    if release_id and mark and not failed and layout.marker(release_id).get("state") != STATE_VERIFIED:
        result["changed"] = True
        if not check_mode:
            layout.write_marker(release_id, state=STATE_VERIFIED, verified_at=time.time(),
                                gates=[g["name"] for g in gates])
    return result


@_changes("rebuild", validate=lambda p: p["python_version"] and check_target(p["python_version"]))
def run_venv_rebuild(module, layout, work):
    """The module ``venv_rebuild``: build a release (``state=present``) or remove one."""
    started = time.time()
    p = module.params
    if p["state"] == "failed":
        return _mark_failed(module, layout, work, started)
    if p["state"] == "absent":
        exists = os.path.lexists(layout.release_path(p["release_id"])) or \
            os.path.lexists(layout.marker_path(p["release_id"]))
        result = dict(changed=exists, release_id=p["release_id"], release_path=layout.release_path(p["release_id"]))
        if exists and not module.check_mode:
            layout.remove_release(p["release_id"])
            layout.remove_releases_dir_if_empty()  # beside a plain venv, when that was its only release
        result["diff"] = _diff("release", p["release_id"], exists, removed=True)
        _record(module, work, "remove release", _outcome(result), started, source=p["release_id"])
        return result
    with _stage(module, work, "rebuild", source=layout.current_release(), target=p["release_id"]):
        interpreter = resolve_interpreter(p["interpreter"], p["python_version"], p["pyenv_root"])
        result = rebuild(module_runner(module), layout, module_installer(module), interpreter,
                         lock_path=p["lock"], upgrades=p["upgrades"], release_id=p["release_id"], run_id=p["run_id"],
                         keep_seed_pins=p["keep_seed_pins"], allow_unreproducible=p["allow_unreproducible"],
                         check_mode=module.check_mode)
    result["interpreter"] = interpreter
    result["diff"] = _diff("release", result["release_id"], result["changed"])
    _record(module, work, "rebuild", _outcome(result), started, source=layout.current_release(),
            target=result["release_id"], undo=lambda: result["changed"] and layout.remove_release(result["release_id"]))
    return result


def _mark_failed(module, layout, work, started):
    """``venv_rebuild`` with ``state=failed``: keep a release for inspection, marked so it is never switched to."""
    p = module.params
    changed = layout.mark_failed(p["release_id"], p["reason"], check_mode=module.check_mode)
    before = dict(state=None if changed else STATE_FAILED)
    result = dict(changed=changed, release_id=p["release_id"], release_path=layout.release_path(p["release_id"]),
                  diff=dict(before=dict(before, release=p["release_id"]),
                            after=dict(release=p["release_id"], state=STATE_FAILED)))
    _record(module, work, "mark release failed", _outcome(result), started, source=p["release_id"], reason=p["reason"])
    return result


@_changes("verify")
def run_venv_verify(module, layout, work):
    """The module ``venv_verify``: run the gates on a release and mark it verified."""
    started = time.time()
    p = module.params
    with _stage(module, work, "verify", target=p["release"]):
        result = verify(module_runner(module), layout, module_installer(module), release=p["release"],
                        imports=p["imports"], smoke_commands=p["smoke_commands"],
                        test_command=p["test_command"], check_dependencies=p["check_dependencies"],
                        compare_lock=p["compare_lock"], environment=p["verify_environment"],
                        chdir=p["chdir"], mark=p["mark_verified"], command_timeout=p["command_timeout"],
                        check_mode=module.check_mode)
    _record(module, work, "verify", "passed" if result["passed"] else "failed", started, target=result["release_id"])
    if not result["passed"]:
        raise Oxzep7Error("release %s failed verification: %s" % (
            result["release_id"] or layout.stable, failure_summary(result)), **result)
    return result


@_changes("switch")
def run_venv_switch(module, layout, work):
    """The module ``venv_switch``: point the stable path at a release, then apply the retention."""
    started = time.time()
    p = module.params
    release = p["release"]
    if release == "previous":
        release = layout.previous_verified()
        if not release:
            raise Oxzep7Error("%s has no previous verified release to switch to" % layout.stable)
    before = layout.current_release() or (layout.stable if layout.kind() == "plain" else None)
    with _stage(module, work, "switch", source=before, target=release):
        result = layout.switch(release, check_mode=module.check_mode)
        result["removed_releases"] = layout.prune(p["keep_releases"], check_mode=module.check_mode) \
            if p["keep_releases"] else []
    result["changed"] = result["changed"] or bool(result["removed_releases"])
    result.update(previous_release=result.pop("previous"), current_release=result.pop("current"),
                  converted_release=result.pop("converted"), release_path=layout.release_path(release))
    result["diff"] = dict(before="%s -> %s\n" % (layout.stable, before),
                          after="%s -> %s\n" % (layout.stable, result["current_release"]))
    _record(module, work, "switch", _outcome(result), started, source=before, target=result["current_release"])
    return result
