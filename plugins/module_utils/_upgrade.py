# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One pass over one venv: decide, lock, snapshot, rebuild, verify and switch (``venv_upgrade``).

The steps are the ones ``venv_snapshot``, ``venv_rebuild``, ``venv_verify`` and ``venv_switch``
take one by one, run in one module process: the live venv is inspected once, the snapshot's
archive is written while the new release is built and verified, and the ledger gets the same
records. What happens after the switch (restart, health, rollback) is the roles' job.
"""

from __future__ import absolute_import, division, print_function

import os
import time

from ansible_collections.oxzep7.python.plugins.module_utils._common import (
    Oxzep7Error, module_runner, module_which, redact)
from ansible_collections.oxzep7.python.plugins.module_utils._installer import module_installer
from ansible_collections.oxzep7.python.plugins.module_utils._layout import Layout, check_release_id, release_id_for
from ansible_collections.oxzep7.python.plugins.module_utils._modules import _record, _stage, held_lock
from ansible_collections.oxzep7.python.plugins.module_utils import _benchmark, _release, _snapshot, _state
from ansible_collections.oxzep7.python.plugins.module_utils._venv import (
    check_target, inspect_python, interpreter_tag, python_of, resolve_interpreter)

__metaclass__ = type


def plan(module, layout, runner):
    """Read what the pass needs before anything is written.

    :returns: dict ``live`` (the live venv's ``inspect_python`` facts), ``interpreter`` (path),
        ``base`` (its ``python`` facts), ``target`` (X.Y or X.Y.Z), ``release_id``, ``on_target``
        (bool) and ``reason`` (str).
    :raises Oxzep7Error: when there is no venv at the path, the target or interpreter is not
        CPython 3.8 or later, or the run id makes no valid release id.
    """
    p = module.params
    target = check_target(p["python_version"]) if p["python_version"] else None
    live = layout.live_path()
    if live is None:
        raise Oxzep7Error("%s holds no venv: nothing to upgrade" % layout.stable)
    facts = inspect_python(runner, python_of(live))
    interpreter = resolve_interpreter(p["interpreter"], p["python_version"], p["pyenv_root"])
    base = inspect_python(runner, interpreter)["python"]
    check_target(base["version"], base["implementation"])
    target = target or base["version"]
    current, reason = _state.on_target(layout, facts["python"]["version"], target,
                                       _state.read_ledger(p["state_dir"], layout.stable))
    if p["force"] and current:
        current, reason = False, reason + "; force is set: it is rebuilt"
    release_id = p["release_id"] or release_id_for(p["run_id"], interpreter_tag(base))
    return dict(live=facts, interpreter=interpreter, base=base, target=target, on_target=current, reason=reason,
                release_id=check_release_id(release_id))


def run_venv_upgrade(module):
    """``venv_upgrade``: see the module's documentation; returns its result dict.

    :raises Oxzep7Error: on bad input (nothing changed), a lock held by another run, or a
        failed stage; the failure's details say ``stage`` and, once the rebuild started, the
        new release was removed and the live one was never touched.
    """
    p = module.params
    started = time.time()
    layout = Layout(p["path"])
    runner = module_runner(module)
    facts = plan(module, layout, runner)
    result = dict(changed=False, stable_path=layout.stable, release_id=facts["release_id"],
                  previous_release=layout.current_release(), current_release=layout.current_release(),
                  from_version=facts["live"]["python"]["version"], python_version=facts["base"]["version"],
                  interpreter=facts["interpreter"], on_target_reason=facts["reason"], snapshot_id=None,
                  lock_path=None, snapshot={}, rebuild={}, gates=[], switch={}, lock={}, seconds={}, benchmark={})
    if facts["on_target"]:
        result.update(outcome="already_current", release_id=layout.current_release(),
                      python_version=result["from_version"])
        return _finish(result, started)
    result["changed"] = True
    if module.check_mode:
        result["outcome"] = "would_upgrade"
        result["diff"] = dict(before="%s -> %s\n" % (layout.stable, result["current_release"]),
                              after="%s -> %s\n" % (layout.stable, facts["release_id"]))
        return _finish(result, started)
    result["lock"] = held_lock(module, layout.stable)
    with _state.WorkLock(p["state_dir"], layout.stable, p["run_id"], "upgrade", wait=p["lock_timeout"]) as work:
        layout.guard = work.check
        _passes(module, layout, runner, work, facts, result)
    if not p["switch"]:
        result["outcome"] = "verified"  # built and verified beside the live release, which is unchanged
        return _finish(result, started)
    result["outcome"] = "upgraded"
    result["diff"] = dict(before="%s -> %s\n" % (layout.stable, result["previous_release"]),
                          after="%s -> %s\n" % (layout.stable, result["current_release"]))
    return _finish(result, started)


def _finish(result, started):
    result["seconds"]["total"] = round(time.time() - started, 3)
    return redact(result)


def _fail(exc, stage, result):
    """Add ``stage`` and what was made so far to the details of ``exc``; return it.

    The pass's own keys win over the failed command's (its ``seconds`` is a number, the pass's a dict).
    """
    details = dict(exc.details)
    details.update(result, outcome="failed", stage=stage, changed=False)
    exc.details = redact(details)
    return exc


def _passes(module, layout, runner, work, facts, result):
    """Snapshot, rebuild, verify and switch, recording each stage; fill ``result`` in place.

    The snapshot's lock and metadata are written first; its archive is written by a writer process
    while the release is built and verified. The switch does not wait for it: the old release stays
    on disk, the rollback target, and a writer still at work when the pass ends finishes on its own
    and records the snapshot in the ledger (``snapshot.state`` ``writing``). ``seconds.snapshot`` is
    what the snapshot added to the pass (the lock and the writer's start); ``seconds.snapshot_archive``
    the archive's own time, when it was complete before the switch.
    """
    p = module.params
    installer = module_installer(module)
    release_id = facts["release_id"]
    stage, pending, rebuilding, before = "benchmark", None, False, None
    try:
        if p["benchmark_command"]:
            before = _measure(module, runner, layout.live_path(), "the live release")
        stage = "snapshot"
        with _stage(module, work, "snapshot", source=layout.current_release()):
            started = time.time()
            pending = _snapshot.begin(runner, layout, p["backup_dir"], compression=p["snapshot_compression"],
                                      keep=p["keep_snapshots"], which=module_which(module), facts=facts["live"],
                                      ledger=_snapshot_ledger(module, layout, started))
            result["seconds"]["snapshot"] = round(time.time() - started, 3)
        stage, rebuilding = "rebuild", True
        with _stage(module, work, "rebuild", source=layout.current_release(), target=release_id):
            built = _release.rebuild(runner, layout, installer, facts["interpreter"], lock_path=pending.lock_path,
                                     upgrades=p["upgrades"], release_id=release_id,
                                     keep_seed_pins=p["keep_seed_pins"],
                                     allow_unreproducible=p["allow_unreproducible"], base=facts["base"])
        result["rebuild"] = built
        result["seconds"]["rebuild"] = built["seconds"]
        _record(module, work, "rebuild", "changed" if built["changed"] else "unchanged",
                time.time() - built["seconds"], source=layout.current_release(), target=release_id)
        stage = "verify"
        _verify(module, layout, runner, work, installer, release_id, result)
        if before is not None:
            stage = "benchmark"
            _compare(module, layout, runner, work, release_id, before, result)
        stage = "snapshot"
        with _stage(module, work, "snapshot", source=layout.current_release()):
            snap = pending.detach()
        result.update(snapshot=snap, snapshot_id=snap["snapshot_id"], lock_path=snap["lock_path"])
        if snap["state"] == "complete":
            result["seconds"]["snapshot_archive"] = snap["seconds"]
            _record(module, work, "snapshot", "changed" if snap["changed"] else "unchanged",
                    time.time() - snap["seconds"], source=snap["release_id"], target=snap["snapshot_id"])
        if p["switch"]:
            stage = "switch"
            _switch(module, layout, work, release_id, result)
    except (Oxzep7Error, OSError, IOError) as exc:
        if not isinstance(exc, Oxzep7Error):
            exc = Oxzep7Error("%s: %s" % (type(exc).__name__, exc))
        try:
            if rebuilding and layout.current_release() != release_id:
                _drop(layout, release_id, "%s failed: %s" % (stage, exc.msg),
                      keep=p["keep_failed_release"] and not isinstance(exc, _state.TakenOver))
        finally:
            if pending is not None:
                pending.abort()
        raise _fail(exc, stage, result)


def _snapshot_ledger(module, layout, started):
    """The ledger callable of ``_snapshot.begin``: a detached writer's ``snapshot`` record, appended
    only when the run has an id and the venv's state directory still exists (never made again by
    a writer that outlived it)."""
    p = module.params
    stable = layout.stable
    source = layout.current_release()

    def record(status):
        if not p.get("run_id") or not os.path.isdir(os.path.dirname(_state.ledger_path(p["state_dir"], stable))):
            return
        entry = dict(run_id=p["run_id"], step="snapshot", result="changed" if status.get("ok") else "failed",
                     seconds=round(time.time() - started, 3), detached=True, **{"from": source})
        entry["to"] = status.get("snapshot_id")
        if not status.get("ok"):
            entry["reason"] = status.get("msg")
        _state.append_ledger(p["state_dir"], stable, entry)

    return record


def _drop(layout, release_id, reason, keep):
    """Remove the failed new release, or with ``keep`` mark it failed and leave it for inspection.

    A release that cannot be marked (the build never made its directory, or another run took the venv
    over) is removed all the same.
    """
    if keep:
        try:
            layout.mark_failed(release_id, reason)
            return
        except Oxzep7Error:
            pass
    layout.remove_release(release_id)
    layout.remove_releases_dir_if_empty()


def _verify(module, layout, runner, work, installer, release_id, result):
    p = module.params
    started = time.time()
    with _stage(module, work, "verify", target=release_id):
        checked = _release.verify(runner, layout, installer, release=release_id, imports=p["imports"],
                                  smoke_commands=p["smoke_commands"], test_command=p["test_command"],
                                  check_dependencies=p["check_dependencies"], compare_lock=True,
                                  environment=p["verify_environment"], chdir=p["chdir"], mark=True,
                                  command_timeout=p["command_timeout"])
    result["gates"] = checked["gates"]
    result["seconds"]["verify"] = round(time.time() - started, 3)
    _record(module, work, "verify", "passed" if checked["passed"] else "failed", started, target=release_id,
            reason=None if checked["passed"] else "failed gates: %s" % ", ".join(checked["failed_gates"]))
    if not checked["passed"]:
        raise Oxzep7Error("release %s failed verification: %s" % (release_id, _release.failure_summary(checked)),
                          gates=checked["gates"], failed_gates=checked["failed_gates"])


def _measure(module, runner, path, what):
    """The app's benchmark against the release at ``path``: ``_benchmark.measure``'s dict."""
    p = module.params
    return _benchmark.measure(runner, _release.command_argv(p["benchmark_command"]),
                              _release.release_env(path, p["verify_environment"]), p["benchmark_runs"],
                              chdir=p["chdir"], timeout=p["command_timeout"], what="the benchmark on %s" % what)


def _compare(module, layout, runner, work, release_id, before, result):
    """Benchmark the new release, record the comparison (``result["benchmark"]``, a ledger line) and fail
    when it is slower than ``max_regression_percent`` allows."""
    p = module.params
    started = time.time()
    after = _measure(module, runner, layout.release_path(release_id), "release %s" % release_id)
    bench = result["benchmark"] = dict(_benchmark.compare(before, after, p["max_regression_percent"]),
                                       command=_release.command_argv(p["benchmark_command"]))
    summary = "median %.3f s against %.3f s on the live release (%+.1f %%), peak RSS %d MiB against %d MiB" % (
        after["median_seconds"], before["median_seconds"], bench["regression_percent"],
        after["peak_rss_bytes"] // 1048576, before["peak_rss_bytes"] // 1048576)
    reason = None if bench["passed"] else "%s: above max_regression_percent %s" % (summary, p["max_regression_percent"])
    _record(module, work, "benchmark", "passed" if bench["passed"] else "failed", started, target=release_id,
            reason=reason or summary)
    if reason:
        raise Oxzep7Error("release %s is slower than the live one on the benchmark: %s" % (release_id, reason),
                          benchmark=bench)


def _switch(module, layout, work, release_id, result):
    started = time.time()
    before = layout.current_release() or (layout.stable if layout.kind() == "plain" else None)
    with _stage(module, work, "switch", source=before, target=release_id):
        switched = layout.switch(release_id)
        switched["removed_releases"] = layout.prune(module.params["keep_releases"]) \
            if module.params["keep_releases"] else []
    result["switch"] = switched
    result.update(previous_release=switched["previous"], current_release=switched["current"])
    result["seconds"]["switch"] = round(time.time() - started, 3)
    _record(module, work, "switch", "changed", started, source=before, target=release_id)
