# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The preflight verdict of one venv, and its reuse within a run (the ``venv_preflight`` module).

- :func:`check_targets_for` gives the targets to check: the run's target, the matrix versions
  and, for the stepwise path, each minor version between the venv's and the target;
- :func:`stepwise` joins the package check (``_compat.check``) and the other findings into
  the furthest target the venv moves to today and, per minor version, what must change;
- :func:`compose` makes the verdict the preflight role and its reports read (status,
  inhibitors, warnings, remediation...);
- :func:`preflight` runs it all for one venv, inspecting the live venv once;
- :func:`read_cached` and :func:`write_cached` keep the last verdict of a venv in
  ``<state_dir>/<venv slug>/preflight.json``, reused only for the same key (the lock's sha256,
  the options and the run id). The file is untrusted: anything that is not exactly what
  :func:`write_cached` writes is ignored, and the verdict is computed again.
"""

from __future__ import absolute_import, division, print_function

import hashlib
import json
import os

from ansible_collections.oxzep7.python.plugins.module_utils._common import (
    Oxzep7Error, module_runner, module_which, redact, write_json_atomic)
from ansible_collections.oxzep7.python.plugins.module_utils import _compat, _preflight, _state
from ansible_collections.oxzep7.python.plugins.module_utils._installer import installer_options
from ansible_collections.oxzep7.python.plugins.module_utils._layout import Layout
from ansible_collections.oxzep7.python.plugins.module_utils._state import slug, venv_dir
from ansible_collections.oxzep7.python.plugins.module_utils._venv import (
    describe_live, inspect_python, installed_versions, python_of)

__metaclass__ = type

# What compat_check finds; venv_preflight passes them on, and they count once.
PACKAGE_CHECKS = ("package", "sdist_build", "sdist_unproven", "conflict", "new_dependency", "unreproducible",
                  "resolution", "requires_python")
STATUSES = ("absent", "already_current", "inhibited", "ready")
# The verdict's keys and their JSON types (None: null is allowed too).
VERDICT_KEYS = {"path": (str,), "status": (str,), "from": (str, None), "target": (str,), "inhibitors": (list,),
                "warnings": (list,), "allowlisted": (list,), "deferred": (list,), "matrix": (list,),
                "remediation": (dict, None), "reaches": (str, None), "steps": (list,), "disk": (dict, None),
                "code_minimum": (str, None)}
CACHE_FILE = "preflight.json"
CACHE_VERSION = 1
MAX_STEPS = 6  # the stepwise path checks at most the six minor versions next to the venv's


def _key(version):
    return tuple(int(p) for p in str(version).split(".")[:2])


def check_targets_for(current, target, matrix=(), stepwise_path=True):
    """The targets one venv is checked for, in this order and without duplicates (list of str).

    :param current: the venv's Python version, "X.Y.Z".
    :param target: the run's target, "X.Y" or "X.Y.Z"; the only one that can inhibit.
    :param matrix: more versions for the report's matrix.
    :param stepwise_path: add each minor version above the venv's and below the target's (at most
        :data:`MAX_STEPS` minors above the venv's): 3.10 and 3.11 from 3.9 to 3.12.
    """
    major, minor = _key(current)
    steps = ["%d.%d" % (major, m) for m in range(minor + 1, min(_key(target)[1], minor + MAX_STEPS + 1))] \
        if stepwise_path else []
    out = []
    for t in [str(target)] + [str(m) for m in matrix] + steps:
        if t not in out:
            out.append(t)
    return out


def _finding_key(finding):
    return (finding.get("target"), finding.get("check"), finding.get("name") or finding.get("module"),
            finding.get("message"))


def stepwise(compat, checks, current, target):
    """The stepwise path of one venv.

    :param compat: the ``compat_check`` result (``targets``, ``inhibitors``, ``remediation``).
    :param checks: the ``venv_preflight`` findings (its ``inhibitors`` and ``allowlisted``: a package
        inhibitor the allowlist accepted neither stops a step nor is listed as blocking it), or a
        skipped result.
    :param current: the venv's Python version, "X.Y.Z".
    :param target: the run's target, "X.Y" or "X.Y.Z".
    :returns: dict with ``reaches`` (the newest checked target above ``current`` that has no
        inhibitor, or None) and ``steps``: per checked target above ``current`` (and always
        ``target``), ascending, a dict with ``target``, ``can_move`` (no inhibitor of either
        module), ``upgrades``, ``changes`` (see ``_fixes.remediation``), ``blocked`` (what no
        upgrade fixes: the packages' and the code, reference and disk inhibitors; dicts with
        name and message) and ``complete`` (the upgrades clear every inhibitor of the step).
    """
    accepted = set(_finding_key(a) for a in (checks or {}).get("allowlisted") or [])
    accepted_blocks = set((k[0], k[2], k[3]) for k in accepted)
    found = [i for i in list(compat.get("inhibitors") or []) + list((checks or {}).get("inhibitors") or [])
             if _finding_key(i) not in accepted]
    steps = []
    for step in sorted(compat["targets"], key=_key):
        if _key(step) <= _key(current) and step != target:
            continue
        remedy = compat["remediation"][step]
        others = [dict(name=i.get("module") or i["check"], message=i["message"])
                  for i in (checks or {}).get("inhibitors") or []
                  if i["target"] == step and i["check"] not in PACKAGE_CHECKS]
        kept = [b for b in remedy["blocked"] if (step, b["name"], b["message"]) not in accepted_blocks]
        # the remedy is complete when nothing but what the allowlist accepted blocked it, and pip resolved the set
        resolved = not any(i["target"] == step and i["check"] == "resolution" for i in found)
        complete = not kept and not others and (remedy["complete"] or resolved)
        steps.append(dict(target=step, can_move=not any(i["target"] == step for i in found),
                          upgrades=remedy["upgrades"], changes=remedy["changes"], blocked=kept + others,
                          complete=complete))
    reaching = [s["target"] for s in steps if s["can_move"]]
    return dict(reaches=max(reaching, key=_key) if reaching else None, steps=steps)


def compose(path, target, current, found=None, compat=None, unproven="inhibit", on_target=False):
    """The verdict on one venv for ``target``, as the preflight role and its reports read it.

    :param path: the venv's stable path (str).
    :param target: the run's target, "X.Y" or "X.Y.Z"; only its findings inhibit.
    :param current: the venv's Python version (str), or None when there is no venv.
    :param found: the venv's sorted findings for every target: dict with ``inhibitors``,
        ``cautions`` and ``allowlisted`` (``_preflight.sort_findings``), ``disk`` and ``code``;
        None when the venv was not checked (none there, or already on target).
    :param compat: the package check (``_compat.check`` or a ``compat_check`` result), or None.
    :param unproven: ``defer``: an unproven sdist of the target waits for the sdist proofs after
        the interpreter stage (listed under ``deferred``, not an inhibitor); ``inhibit``: it inhibits.
    :param on_target: whether the venv needs no move (``_state.on_target``).
    :returns: dict with the keys of :data:`VERDICT_KEYS`: ``status`` (``absent``, ``already_current``,
        ``inhibited`` or ``ready``), ``from``, ``target``, ``inhibitors`` and ``warnings`` (the target's),
        ``allowlisted``, ``deferred``, ``matrix``, ``remediation`` (the target's step of
        :func:`stepwise`), ``reaches``, ``steps``, ``disk`` and ``code_minimum``.
    """
    target = str(target)
    found = found or {}
    compat = compat or {}
    of_target = [i for i in found.get("inhibitors") or [] if i["target"] == target]
    deferred = [i for i in of_target if i["check"] == "sdist_unproven"] if unproven == "defer" else []
    inhibitors = [i for i in of_target if i not in deferred]
    path_ = stepwise(compat, found, current, target) if "remediation" in compat else None
    if current is None:
        status = "absent"
        inhibitors = [dict(target=target, check="venv", message="%s holds no venv" % path)]
    else:
        status = "already_current" if on_target else "inhibited" if inhibitors else "ready"
    return {"path": path, "status": status, "from": current, "target": target, "inhibitors": inhibitors,
            "warnings": [w for w in found.get("cautions") or [] if w["target"] == target],
            "allowlisted": list(found.get("allowlisted") or []), "deferred": deferred,
            "matrix": list(compat.get("matrix") or []),
            "remediation": next((s for s in path_["steps"] if s["target"] == target), None) if path_ else None,
            "reaches": path_["reaches"] if path_ else None, "steps": path_["steps"] if path_ else [],
            "disk": found.get("disk"), "code_minimum": (found.get("code") or {}).get("minimum")}


def cache_key(lock_sha256, params, installed=()):
    """The key a cached verdict must carry to be reused (str, sha256 hex).

    :param lock_sha256: sha256 of the venv's lock text.
    :param params: the module's parameters (dict; the run id among them), JSON-serializable.
        Only their hash is kept, never the values (they may hold index credentials).
    :param installed: the versions installed under the pyenv root (list of str): a verdict
        checked against 3.12.1 is not reused once 3.12.8 is there (``_venv.installed_versions``).
    """
    text = json.dumps(dict(lock=lock_sha256, params=params, installed=sorted(installed)), sort_keys=True,
                      default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cache_path(state_dir, stable):
    """``<state_dir>/<slug of stable>/preflight.json``."""
    return os.path.join(state_dir, slug(stable), CACHE_FILE)


def _valid_verdict(verdict):
    if not isinstance(verdict, dict) or set(verdict) != set(VERDICT_KEYS):
        return False
    for key, kinds in VERDICT_KEYS.items():
        value = verdict[key]
        if not (value is None and None in kinds) and not isinstance(value, tuple(k for k in kinds if k)):
            return False
    lists = ("inhibitors", "warnings", "allowlisted", "deferred", "matrix", "steps")
    return verdict["status"] in STATUSES and all(isinstance(i, dict) for k in lists for i in verdict[k]) \
        and all(isinstance(i.get("message"), str) and isinstance(i.get("check"), str)
                for k in ("inhibitors", "warnings", "deferred") for i in verdict[k])


def read_cached(state_dir, stable, key, result_keys):
    """The result cached for ``key``, or None (no file, another key, or anything in doubt).

    :param result_keys: the keys the module's result has (a cached result must have exactly these,
        with a ``verdict`` that has the keys and types of :data:`VERDICT_KEYS`).
    :returns: the cached result (dict) or None; never raises on a bad file.
    """
    try:
        with open(cache_path(state_dir, stable)) as fh:
            data = json.load(fh)
    except (IOError, OSError, ValueError):
        return None
    if not isinstance(data, dict) or set(data) != {"version", "key", "result"} or data["version"] != CACHE_VERSION \
            or data["key"] != key or not isinstance(data["result"], dict):
        return None
    result = data["result"]
    if set(result) != set(result_keys) or not _valid_verdict(result.get("verdict")):
        return None
    return result


def write_cached(state_dir, stable, key, result):
    """Keep ``result`` for ``key`` in ``<state_dir>/<slug>/preflight.json`` (atomic, mode 0600)."""
    venv_dir(state_dir, stable)
    write_json_atomic(cache_path(state_dir, stable), dict(version=CACHE_VERSION, key=key, result=result), mode=0o600)


def preflight(runner, params, installer_options, which, check_mode=False):
    """Check one venv and decide: the ``venv_preflight`` module.

    The live venv is inspected once. No venv at ``params["path"]`` gives the ``absent`` verdict; a
    venv already on the target (``_state.on_target``, unless ``force``) gives ``already_current``
    and is not checked. Otherwise the packages (``_compat.check`` in this process, unless
    ``params["packages"]`` holds a ``compat_check`` result), the code, the references and the disk are
    checked for the targets of :func:`check_targets_for` (or ``targets`` without a ``target``), the
    allowlist applied (``_preflight.check_venv``) and the verdict composed (:func:`compose`). With
    ``stepwise_when`` ``inhibited``, the minor versions of the stepwise path are checked only when
    ``target`` itself is inhibited (everything is then checked again, the steps included): a venv
    that moves straight to the target costs one resolution, not one per step.

    With a ``run_id``, the result is kept in ``<state_dir>/<slug>/preflight.json`` (not in check mode)
    and a later call with the same lock (its sha256), the same parameters and the same run id
    returns it with ``reused`` true instead of checking again.

    :param params: the module's parameters (dict).
    :param installer_options: the installer and index options (see ``_installer``).
    :param which: callable name -> path or None.
    :returns: dict: ``changed`` (False), ``reused``, ``targets``, ``python_version``, ``size_bytes``,
        ``code``, ``references``, ``disk``, ``inhibitors``, ``cautions``, ``allowlisted``, ``inhibited``
        (every target's findings), ``verdict`` (see :func:`compose`) and ``oxzep7_report``
        (``{kind: preflight, host_record: verdict}``).
    :raises Oxzep7Error: on bad targets, a failed check or an unreadable index.
    """
    layout = Layout(params["path"])
    result = dict(changed=False, reused=False, targets=[], python_version=None, size_bytes=None, code=None,
                  references=[], disk=None, inhibitors=[], cautions=[], allowlisted=[], inhibited=False)
    if not params["target"] and not params["targets"]:
        raise Oxzep7Error("give the target (target) or the targets to check (targets)")
    target = str(params["target"] or _compat.check_targets(params["targets"])[-1])
    live = layout.live_path()
    if live is None:
        return _finish(result, compose(params["path"], target, None))
    facts = inspect_python(runner, python_of(live))
    version = facts["python"]["version"]
    if not params["force"] and _state.on_target(layout, version, target,
                                                _state.read_ledger(params["state_dir"], layout.stable))[0]:
        result["python_version"] = version
        return _finish(result, compose(params["path"], target, version, on_target=True))
    described = describe_live(runner, layout, facts)
    key = cache_key(described["lock_sha256"], params, installed_versions(params["pyenv_root"])) \
        if params["run_id"] else None
    cached = read_cached(params["state_dir"], layout.stable, key, list(result) + ["verdict", "oxzep7_report"]) \
        if key else None
    if cached is not None:
        return dict(cached, reused=True)

    def check(targets):
        compat = params["packages"]
        if compat is None:
            compat = _compat.check(runner, python_of(live), described["entries"], targets, installer_options, which,
                                   upgrades=params["upgrades"], interpreters=params["interpreters"],
                                   pyenv_root=params["pyenv_root"], state_dir=params["state_dir"],
                                   proof_timeout=params["proof_timeout"], check_mode=check_mode)
        found = _preflight.check_venv(runner, layout, python_of(live), facts["python"], targets, params,
                                      installer_options, which, compat)
        return targets, compat, found

    if params["target"]:
        full = _compat.check_targets(check_targets_for(version, target, params["targets"], params["stepwise"]))
        first = _compat.check_targets(check_targets_for(version, target, params["targets"], False)) \
            if params["stepwise_when"] == "inhibited" and params["packages"] is None else full
    else:
        full = first = _compat.check_targets(params["targets"])
    targets, compat, found = check(first)
    if first != full and any(i["target"] == target and not (params["unproven"] == "defer" and
                                                            i["check"] == "sdist_unproven")
                             for i in found["inhibitors"]):
        targets, compat, found = check(full)  # the stepwise path of an inhibited target
    result.update(found, targets=targets, python_version=version, inhibited=bool(found["inhibitors"]))
    result = redact(_finish(result, compose(params["path"], target, version, found, compat, params["unproven"])))
    if key and not check_mode:
        write_cached(params["state_dir"], layout.stable, key, result)
    return result


def _finish(result, verdict):
    result.update(verdict=verdict, oxzep7_report=dict(kind="preflight", host_record=verdict))
    return result


def run_venv_preflight(module):
    """The ``venv_preflight`` module: :func:`preflight`, and its ``oxzep7_report`` with the module's
    ``report`` (what only the controller's report gets: ``report_dir``, ``run_id``, ``target``,
    ``remediation``), also for a verdict reused from the cache."""
    result = preflight(module_runner(module), module.params, installer_options(module), module_which(module),
                       check_mode=module.check_mode)
    result["oxzep7_report"] = dict(module.params["report"], kind="preflight", host_record=result["verdict"])
    return result
