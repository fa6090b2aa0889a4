# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The glue between the modules' parameters and the domain code.

Each ``<module>_spec`` is that module's argument spec; each ``run_<module>(module)``
takes an ``AnsibleModule`` and returns the result dict. :func:`main` runs one of
them and turns :class:`Oxzep7Error` into ``fail_json`` with rc, stdout, stderr and cmd.
"""

from __future__ import absolute_import, division, print_function

import contextlib
import grp
import os
import pwd
import time

from ansible_collections.oxzep7.python.plugins.module_utils._common import (
    Oxzep7Error, module_runner, redact, remove_tree, url_secrets)
from ansible_collections.oxzep7.python.plugins.module_utils._installer import (
    INSTALLER_OPTION_NAMES, Installer, has_pip)
from ansible_collections.oxzep7.python.plugins.module_utils._layout import Layout, ownership
from ansible_collections.oxzep7.python.plugins.module_utils import (
    _compat, _preflight, _pyenv, _release, _snapshot, _state, _verdict)
from ansible_collections.oxzep7.python.plugins.module_utils._venv import (
    check_target, inspect_python, python_of, read_pyvenv_cfg, resolve_interpreter, tree_size, venv_distributions)

__metaclass__ = type

VENV_SPEC = dict(
    path=dict(type="path", required=True, aliases=["stable_path"]),
    run_id=dict(type="str"),
    state_dir=dict(type="path", default=_state.DEFAULT_STATE_DIR),
)
# The modules that change a venv (snapshot, restore, rebuild, verify, switch).
WORK_SPEC = dict(
    lock_timeout=dict(type="int", default=_state.WORK_LOCK_WAIT),
)
INSTALLER_SPEC = dict(
    installer=dict(type="str", default="auto", choices=["auto", "uv", "pip"]),
    uv_path=dict(type="path"),
    index_url=dict(type="str"),
    extra_index_urls=dict(type="list", elements="str", default=[]),
    find_links=dict(type="list", elements="str", default=[]),
    no_index=dict(type="bool", default=False),
    only_binary=dict(type="bool", default=False),
    isolated=dict(type="bool", default=False),
    link_mode=dict(type="str", choices=["clone", "copy", "hardlink", "symlink"]),
    environment=dict(type="dict", default={}),
)


def spec(*parts, **own):
    """Merge argument spec dicts: the shared ``parts`` and the module's ``own`` options."""
    merged = {}
    for part in parts:
        merged.update(part)
    merged.update(own)
    return merged


def _installer_options(module):
    """The installer options of ``module``."""
    return dict((k, module.params.get(k)) for k in INSTALLER_OPTION_NAMES)


def _mask_url_credentials(module):
    """Add the credentials of every URL option of ``module`` to ``no_log_values``, whatever branch runs."""
    urls = []
    for key in ("index_url", "extra_index_urls", "find_links", "mirror_url", "pyenv_git_url"):
        value = module.params.get(key)
        urls += value if isinstance(value, list) else [value] if value else []
    module.no_log_values.update(url_secrets(urls))


def _which(module):
    return lambda name: module.get_bin_path(name, required=False)


def _installer(module):
    return Installer(_installer_options(module), _which(module))


def _changes(step, validate=None):
    """Decorate ``run_<module>(module, layout, work)`` of a module that changes the venv.

    ``validate(params)`` first checks the input (raising :class:`Oxzep7Error`) before anything
    is written. Then, with a run id (and not in check mode), it runs holding the venv's
    host-side work lock (``_state.WorkLock``, waiting up to ``lock_timeout`` seconds), and the
    layout's guard is the lock's check, so no marker or switch is written once another run took
    the venv over. The decorated function takes just the module, like every ``run_<module>``.
    """
    def decorate(run):
        def run_locked(module):
            p = module.params
            if validate is not None:
                validate(p)
            layout = Layout(p["path"])
            run_id = None if module.check_mode else p.get("run_id")
            with _state.WorkLock(p["state_dir"], layout.stable, run_id, step, wait=p["lock_timeout"]) as work:
                layout.guard = work.check
                return run(module, layout, work)
        return run_locked
    return decorate


def _record(module, work, step, outcome, started, source=None, target=None, undo=None, reason=None):
    """Append the step to the ledger when the module got a run id (not in check mode).

    Before that, ``work.check()``: when another run took the venv over, ``undo()`` removes
    what the step made and :class:`_state.TakenOver` is raised instead.

    :param outcome: ``changed``, ``unchanged``, ``passed`` or ``failed``.
    :param undo: callable removing what the step created, or None.
    :param reason: why it failed (str), kept in the record's ``reason``.
    """
    if not module.params.get("run_id") or module.check_mode:
        return
    try:
        work.check()
    except _state.TakenOver:
        if undo is not None:
            undo()
        raise
    record = dict(run_id=module.params["run_id"], step=step, result=outcome,
                  seconds=round(time.time() - started, 3), **{"from": source, "to": target})
    if reason:
        record["reason"] = reason
    _state.append_ledger(module.params["state_dir"], Layout(module.params["path"]).stable, record)


@contextlib.contextmanager
def _stage(module, work, step, source=None, target=None):
    """Run the block as stage ``step``; when it fails, append a ``failed`` record with the reason first
    (not when another run took the venv over: the ledger is that run's now)."""
    started = time.time()
    try:
        yield
    except _state.TakenOver:
        raise
    except (Oxzep7Error, OSError, IOError) as exc:
        try:
            _record(module, work, step, "failed", started, source, target,
                    reason=exc.msg if isinstance(exc, Oxzep7Error) else "%s: %s" % (type(exc).__name__, exc))
        except (OSError, IOError, _state.TakenOver):
            pass  # a ledger that cannot be written must not hide why the stage failed
        raise


def _outcome(result):
    return "changed" if result.get("changed") else "unchanged"


def _diff(key, value, changed, removed=False):
    """The diff of something created (``removed=False``) or removed: ``{before: {key: ...}, after: {key: ...}}``."""
    if removed:
        return dict(before={key: value if changed else None}, after={key: None})
    return dict(before={key: None if changed else value}, after={key: value})


def run_venv_info(module):
    p = module.params
    target = check_target(p["target"]) if p["target"] else None
    layout = Layout(p["path"])
    runner = module_runner(module)
    kind = layout.kind()
    result = dict(changed=False, stable_path=layout.stable, exists=kind != "absent", layout=kind,
                  current_release=layout.current_release(), releases=layout.releases(),
                  releases_dir=layout.releases_dir, release_path=layout.live_path())
    if target:
        result.update(on_target=False, on_target_reason="there is no venv at %s" % layout.stable)
    if kind == "absent":
        return result
    live = layout.live_path()
    facts = inspect_python(runner, python_of(live))
    if target:
        result["on_target"], result["on_target_reason"] = _state.on_target(
            layout, facts["python"]["version"], target, _state.read_ledger(p["state_dir"], layout.stable))
    dists = venv_distributions(facts)
    uid, gid, mode = ownership(live)
    cfg = read_pyvenv_cfg(live)
    described = _snapshot.describe_live(runner, layout, facts) if module.params["include_lock"] else None
    result.update(
        interpreter=dict(facts["python"], path=python_of(live), home=cfg.get("home")),
        pyvenv_cfg=cfg, has_pip=has_pip(runner, python_of(live)),
        distributions=[dict(name=d["name"], version=d["version"], requires_python=d["requires_python"],
                            installer=d["installer"], direct_url=d["direct_url"],
                            editable=bool((d["direct_url"] or {}).get("dir_info", {}).get("editable")))
                       for d in dists],
        size_bytes=tree_size(live), owner=_user_name(uid), group=_group_name(gid), uid=uid, gid=gid,
        mode="%04o" % mode,
        lock=described["lock_text"] if described else None,
        lock_sha256=described["lock_sha256"] if described else None)
    result["direct_url_installs"] = [d["name"] for d in result["distributions"] if d["direct_url"]]
    return redact(result)


def _user_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group_name(gid):
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


@_changes("snapshot")
def run_venv_snapshot(module, layout, work):
    started = time.time()
    p = module.params
    if p["state"] == "absent":
        result = _snapshot.remove(p["backup_dir"], layout.stable, p["snapshot_id"], check_mode=module.check_mode)
        result["diff"] = _diff("snapshot", result["path"], result["changed"], removed=True)
        return result
    with _stage(module, work, "snapshot", source=layout.current_release(), target=p["snapshot_id"]):
        result = _snapshot.take(module_runner(module), layout, p["backup_dir"], snapshot_id=p["snapshot_id"],
                                compression=p["compression"], keep=p["keep"], check_mode=module.check_mode)
    result["diff"] = _diff("snapshot", result["path"], result["changed"])
    root = _snapshot.snapshot_root(p["backup_dir"], layout.stable)
    _record(module, work, "snapshot", _outcome(result), started, source=result["release_id"],
            target=result["snapshot_id"], undo=lambda: result["changed"] and remove_tree(result["path"], root))
    return result


@_changes("restore")
def run_venv_restore(module, layout, work):
    started = time.time()
    p = module.params
    with _stage(module, work, "restore", source=p["snapshot"], target=p["release_id"]):
        result = _snapshot.restore(layout, p["backup_dir"], p["snapshot"], release_id=p["release_id"],
                                   check_mode=module.check_mode)
    result["diff"] = _diff("release", result["release_id"], result["changed"])
    _record(module, work, "restore", _outcome(result), started, source=result["snapshot_id"],
            target=result["release_id"], undo=lambda: result["changed"] and layout.remove_release(result["release_id"]))
    return result


@_changes("rebuild", validate=lambda p: p["python_version"] and check_target(p["python_version"]))
def run_venv_rebuild(module, layout, work):
    started = time.time()
    p = module.params
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
        result = _release.rebuild(module_runner(module), layout, _installer(module), interpreter,
                                  lock_path=p["lock"], upgrades=p["upgrades"], release_id=p["release_id"],
                                  keep_seed_pins=p["keep_seed_pins"], allow_unreproducible=p["allow_unreproducible"],
                                  check_mode=module.check_mode)
    result["interpreter"] = interpreter
    result["diff"] = _diff("release", result["release_id"], result["changed"])
    _record(module, work, "rebuild", _outcome(result), started, source=layout.current_release(),
            target=result["release_id"], undo=lambda: result["changed"] and layout.remove_release(result["release_id"]))
    return result


@_changes("verify")
def run_venv_verify(module, layout, work):
    started = time.time()
    p = module.params
    with _stage(module, work, "verify", target=p["release"]):
        result = _release.verify(module_runner(module), layout, _installer(module), release=p["release"],
                                 imports=p["imports"], smoke_commands=p["smoke_commands"],
                                 test_command=p["test_command"], check_dependencies=p["check_dependencies"],
                                 compare_lock=p["compare_lock"], environment=p["verify_environment"],
                                 chdir=p["chdir"], mark=p["mark_verified"], command_timeout=p["command_timeout"],
                                 check_mode=module.check_mode)
    _record(module, work, "verify", "passed" if result["passed"] else "failed", started, target=result["release_id"])
    if not result["passed"]:
        raise Oxzep7Error("release %s failed verification: %s" % (
            result["release_id"] or layout.stable, _release.failure_summary(result)), **result)
    return result


@_changes("switch")
def run_venv_switch(module, layout, work):
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


def run_venv_ledger(module):
    p = module.params
    stable = Layout(p["path"]).stable
    entries = _state.read_ledger(p["state_dir"], stable)
    result = dict(changed=False, ledger=os.path.join(p["state_dir"], _state.slug(stable), "ledger.jsonl"),
                  recorded=None)
    if p["record"] and not module.check_mode:
        record = dict(p["record"])
        record.setdefault("run_id", p["run_id"])
        result["recorded"] = _state.append_ledger(p["state_dir"], stable, record)
        entries.append(result["recorded"])
    result["entries"] = entries[-p["last"]:] if p["last"] else entries
    return result


PYENV_SPEC = dict(
    pyenv_root=dict(type="path", default="/opt/pyenv"),
    version=dict(type="str", required=True),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    pyenv_archive=dict(type="path"),
    pyenv_git_url=dict(type="str"),
    pyenv_git_version=dict(type="str"),
    mirror_url=dict(type="str"),
    cache_path=dict(type="path"),
    configure_opts=dict(type="str"),
    make_opts=dict(type="str"),
    definitions_dirs=dict(type="list", elements="path", default=[]),
    definition=dict(type="path"),
    build_environment=dict(type="dict", default={}),
    check_build_deps=dict(type="bool", default=True),
    verify_modules=dict(type="list", elements="str", default=list(_pyenv.DEFAULT_VERIFY_MODULES)),
    archive=dict(type="path"),
    archive_sha256=dict(type="str"),
    export_dir=dict(type="path"),
    state_dir=dict(type="path", default=_state.DEFAULT_STATE_DIR),
    force=dict(type="bool", default=False),
)


def run_pyenv_install(module):
    p = module.params
    pyenv = _pyenv.Pyenv(p["pyenv_root"], module_runner(module))
    pyenv_changed = False
    if p["state"] == "present":
        pyenv_changed = pyenv.install_pyenv(p["pyenv_git_url"], p["pyenv_git_version"], p["pyenv_archive"],
                                            check_mode=module.check_mode)
    env = _pyenv.build_env(p["mirror_url"], p["cache_path"], p["configure_opts"], p["make_opts"],
                           p["definitions_dirs"], p["build_environment"])
    before = pyenv.installed(p["version"])
    result = _pyenv.ensure(pyenv, p["version"], p["state"], module.get_bin_path,
                           build_environment=env, definition=p["definition"], archive=p["archive"],
                           archive_sha256=p["archive_sha256"], export_dir=p["export_dir"],
                           verify_modules=p["verify_modules"], state_dir=p["state_dir"], force=p["force"],
                           check_build_deps=p["check_build_deps"], check_mode=module.check_mode)
    result.update(changed=result["changed"] or pyenv_changed, pyenv_root=pyenv.root,
                  pyenv_installed=pyenv_changed, pyenv_version=pyenv.version_of_pyenv())
    result["diff"] = dict(before=dict(version=p["version"] if before else None),
                          after=dict(version=p["version"] if p["state"] == "present" else None))
    return result


ALLOWLIST_SPEC = dict(type="list", elements="dict", default=[], options=dict(
    name=dict(type="str", required=True), version=dict(type="str"), target=dict(type="str"),
    reason=dict(type="str", required=True)))
# venv_preflight's allowlist: every kind of finding, chosen by any of _preflight.ALLOWLIST_KEYS.
FINDINGS_ALLOWLIST_SPEC = dict(
    type="list", elements="dict", default=[], required_one_of=[("check", "name", "module", "file")],
    options=dict([(key, dict(type="str")) for key in _preflight.ALLOWLIST_KEYS]
                 + [("reason", dict(type="str", required=True))]))


def _live_venv(module):
    """``(layout, runner, python, facts)`` of the live venv at the module's ``path``.

    :raises Oxzep7Error: when there is no venv there.
    """
    layout = Layout(module.params["path"])
    live = layout.live_path()
    if live is None:
        raise Oxzep7Error("there is no venv at %s" % layout.stable)
    runner = module_runner(module)
    return layout, runner, python_of(live), inspect_python(runner, python_of(live))


def run_compat_check(module):
    p = module.params
    layout, runner, python, facts = _live_venv(module)
    entries = (_release.read_lock_entries(runner, layout, p["lock"]) if p["lock"]
               else _snapshot.describe_live(runner, layout, facts)["entries"])
    result = _compat.check(runner, python, entries, p["targets"], _installer_options(module), _which(module),
                           upgrades=p["upgrades"], allowlist=p["allowlist"], keep_seed_pins=p["keep_seed_pins"],
                           platforms=p["platforms"] or None, resolve=p["resolve"], interpreters=p["interpreters"],
                           pyenv_root=p["pyenv_root"], state_dir=p["state_dir"], proof_timeout=p["proof_timeout"],
                           check_mode=module.check_mode)
    result.update(changed=False, python_version=facts["python"]["version"], inhibited=bool(result["inhibitors"]))
    return redact(result)


def run_venv_preflight(module):
    return redact(_verdict.preflight(module_runner(module), module.params, _installer_options(module), _which(module),
                                     check_mode=module.check_mode))


def run_venv_lock(module):
    p = module.params
    stable = Layout(p["path"]).stable
    if p["state"] == "absent":
        result = _state.release_lock(p["state_dir"], stable, p["run_id"], p["owner"], check_mode=module.check_mode)
        result.update(stolen=None, diff=_diff("lock", p["run_id"], result["changed"], removed=True))
        return result
    try:
        result = _state.acquire_lock(p["state_dir"], stable, p["run_id"], p["owner"], steal=p["steal"],
                                     check_mode=module.check_mode)
    except _state.LockHeld as exc:
        raise Oxzep7Error("%s is locked by %s: another run is changing it; wait for it, or remove %s if that "
                          "run is gone" % (stable, _state.describe_lock(exc.held),
                                           _state.lock_path(p["state_dir"], stable)), held=exc.held)
    result["diff"] = _diff("lock", p["run_id"], result["changed"])
    return result


def main(module, run):
    """Run ``run(module)`` and exit the module with its result or a clean failure."""
    _mask_url_credentials(module)
    try:
        result = run(module)
    except Oxzep7Error as exc:
        details = dict(exc.details)
        details.setdefault("rc", None)
        details.setdefault("stdout", "")
        details.setdefault("stderr", "")
        details.setdefault("cmd", None)
        module.fail_json(msg=exc.msg, **details)
    except (OSError, IOError) as exc:
        module.fail_json(msg="%s: %s" % (type(exc).__name__, exc), rc=None, stdout="", stderr="", cmd=None)
    module.exit_json(**result)
