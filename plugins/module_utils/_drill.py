# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restore drills (the module ``venv_drill``): is the newest snapshot of a venv good for a restore?

A drill restores the snapshot (``_snapshot.restore``: every checksum and archive member checked)
into a scratch release ``drill-<snapshot id>`` beside the live one, runs the venv's own gates on it
(``_release.verify``: dependency check, imports, smoke and test commands, and the restored set against
the snapshot's lock), never marks it verified, and removes it, passed or not. The stable path, the
live release and the services are never touched; the ledger gets one ``drill`` record.
"""

from __future__ import absolute_import, division, print_function

import os
import shutil
import time

from ansible_collections.oxzep7.python.plugins.module_utils._common import Oxzep7Error, module_runner, module_which
from ansible_collections.oxzep7.python.plugins.module_utils._installer import module_installer
from ansible_collections.oxzep7.python.plugins.module_utils._layout import STATE_VERIFIED, Layout, check_release_id
from ansible_collections.oxzep7.python.plugins.module_utils._modules import _changes, _record, _stage
from ansible_collections.oxzep7.python.plugins.module_utils._release import failure_summary, verify
from ansible_collections.oxzep7.python.plugins.module_utils._snapshot import (
    list_snapshots, restore, snapshot_root, wait_for_writers)
from ansible_collections.oxzep7.python.plugins.module_utils._state import ledger_path

__metaclass__ = type

SCRATCH_PREFIX = "drill-"
GATE_OPTIONS = ("imports", "smoke_commands", "test_command", "check_dependencies", "chdir", "command_timeout")


def latest_snapshot(backup_dir, stable_path):
    """The id of the newest complete snapshot of ``stable_path`` (str), as ``_snapshot.list_snapshots``
    orders them (by ``created``), once no writer is still at one (an upgrade's snapshot finishing after it).

    :raises Oxzep7Error: when there is none, naming the directory looked in, or one is still being written
        after ``_snapshot.wait_for_writers``'s time limit.
    """
    wait_for_writers(backup_dir, stable_path)
    snapshots = list_snapshots(backup_dir, stable_path)
    if not snapshots:
        raise Oxzep7Error("%s holds no snapshot of %s: there is nothing to drill (an upgrade or venv_snapshot "
                          "takes one)" % (snapshot_root(backup_dir, stable_path), stable_path))
    return snapshots[-1]["snapshot_id"]


def scratch_id(snapshot):
    """The scratch release id of a drill of ``snapshot`` (an id or a snapshot directory): ``drill-<id>``."""
    return check_release_id((SCRATCH_PREFIX + os.path.basename(os.path.normpath(snapshot)))[:128])


def clear_scratch(layout, release_id):
    """Remove what a killed drill left under the scratch release's name (the release, its marker and lock).

    :returns: True when something was removed.
    :raises Oxzep7Error: when that name is the live release or a verified one (not a drill's), naming it.
    """
    if not layout.has_releases_dir() or not any(os.path.lexists(p) for p in (
            layout.release_path(release_id), layout.marker_path(release_id), layout.lock_path(release_id))):
        return False
    if release_id == layout.current_release() or layout.marker(release_id).get("state") == STATE_VERIFIED:
        raise Oxzep7Error("release %s is live or verified, so it is no drill's scratch release: the drill changed "
                          "nothing; remove or rename it" % layout.release_path(release_id))
    layout.remove_release(release_id)
    return True


def drill(runner, layout, installer, backup_dir, snapshot, gates=None, environment=None, which=shutil.which,
          check_mode=False):
    """Restore ``snapshot`` into the scratch release, verify it, remove it.

    :param runner: ``_common.Runner``.
    :param layout: ``_layout.Layout`` of the stable path.
    :param installer: ``_installer.Installer`` (its dependency check).
    :param snapshot: a snapshot id under ``backup_dir``, or the absolute path of one.
    :param gates: dict of the gates' options (:data:`GATE_OPTIONS`), as ``_release.verify`` takes them.
    :param environment: extra environment of the imports, smoke and test commands (dict).
    :param which: callable ``name -> path or None`` finding ``zstd``.
    :param check_mode: check the snapshot (checksums, snapshot.json, every archive member) and restore nothing.
    :returns: dict with ``changed`` (always False: the scratch release is gone again), ``snapshot_id``,
        ``release_id`` and ``release_path`` (the scratch release), ``python_version``, ``passed`` (bool; None
        in check mode), ``gates`` and ``failed_gates`` (``_release.verify``'s), ``seconds`` (``restore``,
        ``verify``, ``total``; float) and ``removed`` (the scratch release was removed).
    :raises Oxzep7Error: naming the snapshot's file at fault (a checksum, an unsafe member, a damaged
        archive, a missing interpreter), or the failed gates; the details hold this result so far. The
        scratch release (and the releases directory, when the drill made it) is removed first.
    """
    started = time.time()
    release_id = scratch_id(snapshot)
    result = dict(changed=False, snapshot_id=os.path.basename(os.path.normpath(snapshot)), release_id=release_id,
                  release_path=layout.release_path(release_id), python_version=None, passed=None, gates=[],
                  failed_gates=[], seconds={}, removed=False)
    had_releases_dir = layout.has_releases_dir()
    if not check_mode:
        clear_scratch(layout, release_id)
    try:
        restored = restore(layout, backup_dir, snapshot, release_id=release_id, which=which, check_mode=check_mode)
        result.update(snapshot_id=restored["snapshot_id"], python_version=restored["python_version"])
        result["seconds"]["restore"] = round(time.time() - started, 3)
        if check_mode:
            return _finish(result, started)
        # the lock the snapshot recorded, beside the scratch release: the lock gate checks the restored set
        root = snapshot_root(backup_dir, layout.stable)
        source = snapshot if os.path.isabs(snapshot) else os.path.join(root, snapshot)
        shutil.copyfile(os.path.join(source, "lock.txt"), layout.lock_path(release_id))
        verifying = time.time()
        checked = verify(runner, layout, installer, release=release_id, compare_lock=True, mark=False,
                         environment=environment, **(gates or {}))
        result.update(passed=checked["passed"], gates=checked["gates"], failed_gates=checked["failed_gates"])
        result["seconds"]["verify"] = round(time.time() - verifying, 3)
    except BaseException as exc:
        _remove_scratch(layout, release_id, had_releases_dir, result)
        if isinstance(exc, Oxzep7Error):
            exc.details = dict(exc.details, **_finish(result, started))
        raise
    _remove_scratch(layout, release_id, had_releases_dir, result)
    _finish(result, started)
    if not result["passed"]:
        raise Oxzep7Error("the release restored from snapshot %s failed its gates: %s (the scratch release %s was "
                          "removed)" % (result["snapshot_id"], failure_summary(result), release_id), **result)
    return result


def _remove_scratch(layout, release_id, had_releases_dir, result):
    if layout.has_releases_dir():
        layout.remove_release(release_id)
        if not had_releases_dir:
            layout.remove_releases_dir_if_empty()
    result["removed"] = not os.path.lexists(layout.release_path(release_id))


def _finish(result, started):
    result["seconds"]["total"] = round(time.time() - started, 3)
    return result


@_changes("drill")
def _drill_locked(module, layout, work):
    """Find the snapshot, drill it and record the drill, holding the venv's work lock (with a run id)."""
    p = module.params
    started = time.time()
    with _stage(module, work, "drill", source=p["snapshot"]):
        snapshot = p["snapshot"] or latest_snapshot(p["backup_dir"], layout.stable)
    snapshot_id = os.path.basename(os.path.normpath(snapshot))
    with _stage(module, work, "drill", source=snapshot_id, target=scratch_id(snapshot)):
        result = drill(module_runner(module), layout, module_installer(module), p["backup_dir"], snapshot,
                       gates=dict((k, p[k]) for k in GATE_OPTIONS), environment=p["verify_environment"],
                       which=module_which(module), check_mode=module.check_mode)
    _record(module, work, "drill", "passed", started, source=result["snapshot_id"], target=result["release_id"])
    return result


def run_venv_drill(module):
    """The module ``venv_drill``: see its documentation. The result (or the failure's details) carries
    ``oxzep7_report``, the drill's record for the ``fleet_report`` callback's drill report.

    :raises Oxzep7Error: see :func:`drill`; also when no snapshot exists or another run holds the venv.
    """
    p = module.params
    started = time.time()
    try:
        result = _drill_locked(module)
    except (Oxzep7Error, OSError, IOError) as exc:
        if not isinstance(exc, Oxzep7Error):
            exc = Oxzep7Error("%s: %s" % (type(exc).__name__, exc))
        exc.details["oxzep7_report"] = _report(p, exc.details, started, "failed", exc.msg)
        raise exc
    result["oxzep7_report"] = _report(p, result, started, "checked" if module.check_mode else "passed")
    return result


def _report(params, result, started, outcome, reason=""):
    """``oxzep7_report``: the module's ``report`` option plus ``kind`` (``drill``), ``ledger`` and ``record``."""
    stable = Layout(params["path"]).stable
    seconds = dict(result.get("seconds") or {}) if isinstance(result.get("seconds"), dict) else {}
    seconds.setdefault("total", round(time.time() - started, 3))
    record = dict(step="drill", run_id=params["run_id"], path=stable, result=outcome, reason=reason,
                  snapshot_id=result.get("snapshot_id"), release_id=result.get("release_id"),
                  python_version=result.get("python_version"), failed_gates=result.get("failed_gates") or [],
                  seconds=seconds, started=started)
    return dict(params["report"], kind="drill", record=record, ledger=ledger_path(params["state_dir"], stable))
