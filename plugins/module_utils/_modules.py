# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The base every module builds on: the shared options, the work lock, the ledger record, the diff.

Each module file owns its argument spec (built with :func:`spec` from :data:`VENV_SPEC`,
:data:`WORK_SPEC` and the option groups of the domain files, e.g. ``_installer.INSTALLER_SPEC``)
and calls :func:`main` with its ``run_<module>(module)``, which lives in the domain file it
drives (``_snapshot``, ``_release``, ``_pyenv``, ``_compat``, ``_preflight``, ``_state``), or
in the module file when it is a few lines (``venv_ledger``, ``venv_lock``).
:func:`main` turns :class:`Oxzep7Error` into ``fail_json`` with rc, stdout, stderr and cmd.
This file imports no domain file but ``_layout`` and ``_state``, so a module ships only what it drives.
"""

from __future__ import absolute_import, division, print_function

import contextlib
import re
import time

from ansible_collections.oxzep7.python.plugins.module_utils._common import Oxzep7Error, url_secrets
from ansible_collections.oxzep7.python.plugins.module_utils._layout import Layout
from ansible_collections.oxzep7.python.plugins.module_utils import _state

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


def spec(*parts, **own):
    """Merge argument spec dicts: the shared ``parts`` and the module's ``own`` options."""
    merged = {}
    for part in parts:
        merged.update(part)
    merged.update(own)
    return merged


# Options that set environment variables for the commands a module runs, and the names of variables
# whose whole value is a secret (UV_INDEX_<NAME>_PASSWORD, GITHUB_TOKEN; PIP_CLIENT_CERT is a path).
ENVIRONMENT_OPTIONS = ("environment", "build_environment", "verify_environment")
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|TOKEN|SECRET|CREDENTIAL|API_?KEY", re.IGNORECASE)
# Values too short or too common to mask: Ansible masks every occurrence of the text in the output.
NOT_SECRET = ("true", "false", "yes", "no", "none", "null")


def _mask_url_credentials(module):
    """Add the credentials of every URL option of ``module``, and those in the values of its
    environment options (:data:`ENVIRONMENT_OPTIONS`) plus the whole value of each variable named
    like a secret (:data:`SECRET_NAME`; values of 4 characters or more, not :data:`NOT_SECRET`),
    to ``no_log_values``, whatever branch runs: Ansible then masks them in the ``invocation``, the
    results and every message."""
    urls, secrets = [], set()
    for key in ("index_url", "extra_index_urls", "find_links", "mirror_url", "pyenv_git_url"):
        value = module.params.get(key)
        urls += value if isinstance(value, list) else [value] if value else []
    for key in ENVIRONMENT_OPTIONS:
        for name, value in (module.params.get(key) or {}).items():
            urls.append(str(value))
            if SECRET_NAME.search(str(name)) and len(str(value)) >= 4 and str(value).lower() not in NOT_SECRET:
                secrets.add(str(value))
    module.no_log_values.update(url_secrets(urls) | secrets)


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


def record_outcome(module, stable):
    """Append the module's ``record`` to the ledger of ``stable`` (str), not in check mode.

    ``record`` (dict) gets the module's ``run_id`` when it names none; ``append_ledger`` adds ``time``
    and ``stable_path``. The ``report`` option goes to the controller only.

    :returns: dict with ``recorded`` (the line written, or None in check mode) and ``oxzep7_report``
        (``report`` plus ``kind``, the record's ``step``; ``record``, what was or would be written;
        ``ledger``, the ledger's path), which the ``fleet_report`` callback collects.
    """
    p = module.params
    record, recorded = dict(p["record"], run_id=p["record"].get("run_id", p["run_id"])), None
    if not module.check_mode:
        record = recorded = _state.append_ledger(p["state_dir"], stable, record)
    ledger = _state.ledger_path(p["state_dir"], stable)
    return dict(recorded=recorded, oxzep7_report=dict(p["report"], kind=record.get("step"), record=record,
                                                      ledger=ledger))


def held_lock(module, stable):
    """Take the run lock of ``stable`` (str) for the module's ``run_id`` and ``owner``, or keep it when
    this run holds it already (``steal``: the dead run's lock the action plugin takes over).

    :returns: ``_state.acquire_lock``'s dict (``changed``, ``lock_path``, ``held``, ``stolen``).
    :raises Oxzep7Error: when another run holds it, naming that run and the lock file (``held``: what it says).
    """
    p = module.params
    try:
        return _state.acquire_lock(p["state_dir"], stable, p["run_id"], p["owner"], steal=p["steal"],
                                   check_mode=module.check_mode)
    except _state.LockHeld as exc:
        raise Oxzep7Error("%s is locked by %s: another run is changing it; wait for it, or remove %s if that "
                          "run is gone" % (stable, _state.describe_lock(exc.held),
                                           _state.lock_path(p["state_dir"], stable)), held=exc.held)


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
