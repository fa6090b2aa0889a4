# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixes that install: the lowest release that works, the set resolved as a whole, the remediation.

For one target, after ``_probe`` judged every pin and ``_proof`` built the sdists:

- :func:`choose_fix`: the lowest release above a pin that cannot install that has a wheel for
  the target, or an sdist that a build proves;
- :func:`resolve`: the whole lock with its fixes, resolved at once by pip's resolver for the
  target (``_compat.pip_resolves``); the dependencies among the set (each wheel's
  Requires-Dist from pip's report, markers evaluated for the target) are then checked, and
  a pin that a fix's requirements exclude moves to the lowest release that satisfies them
  (a forced move), round after round;
- :func:`remediation`: the ``upgrades`` that make the lock install on the target, what changes
  (with new major versions and forced moves) and what stays blocked.
"""

from __future__ import absolute_import, division, print_function

import re

from ansible_collections.oxzep7.python.plugins.module_utils._lock import canonical_name, requirement_name

__metaclass__ = type

MAX_FIX_BUILDS = 1  # sdist releases built per pin and target while looking for a fix
MAX_ROUNDS = 3  # resolutions per target while forced moves settle
ADMIT_ROUNDS = 5  # rounds of caps on the projects pip adds (admitted)


def installable(verdict):
    """Whether a probe verdict (with its ``proof``) installs as it is: a wheel, or a proven sdist."""
    return verdict["status"] == "wheel" or (
        verdict["status"] == "sdist" and (verdict.get("proof") or {}).get("result") == "passed")


def choose_fix(name, releases, target, prover):
    """The lowest of ``releases`` (``_probe.candidates``, ascending) that installs on ``target``.

    A release with a wheel is taken as it is; one with only an sdist is taken when a build
    proves it (at most ``MAX_FIX_BUILDS`` new builds; cached proofs are free).

    :param prover: ``_proof.Prover``.
    :returns: the candidate dict (version, file, status, crosses_major) plus ``proof``
        (the proof's ``seconds`` and ``cached``, or None for a wheel) and ``moves`` (empty
        here; :func:`resolve` adds the pins it forces to move), or None.
    """
    builds = 0
    for candidate in releases:
        if candidate["status"] == "wheel":
            return dict(candidate, proof=None, moves=[])
        if builds >= MAX_FIX_BUILDS:
            continue
        proof = prover.prove(name, candidate["version"], target)
        builds += not proof["cached"] and proof["result"] != "unproven"
        if proof["result"] == "passed":
            return dict(candidate, proof=dict(seconds=proof["seconds"], cached=proof["cached"]), moves=[])
    return None


def planned(packages, target):
    """What the rebuild would install for ``target``: canonical name -> dict with ``name``,
    ``version``, ``status`` (``wheel`` or ``sdist``) and ``source`` (``as_is`` or ``fix``),
    for every pin that installs as judged or has a fix."""
    plan = {}
    for pkg in packages:
        verdict = pkg["targets"][target]
        if pkg["kind"] != "pin":
            continue
        if installable(verdict):
            plan[canonical_name(pkg["name"])] = dict(name=pkg["name"], version=verdict["version"],
                                                     status=verdict["status"], source="as_is")
        elif verdict.get("fix"):
            plan[canonical_name(pkg["name"])] = dict(name=pkg["name"], version=verdict["fix"]["version"],
                                                     status=verdict["fix"]["status"], source="fix")
    return plan


def resolve(resolve_wheels, check_requirements, plan):
    """Resolve the planned set for a target, moving the pins that the set's requirements exclude,
    for at most ``MAX_ROUNDS`` resolutions (a move can bring requirements of its own).

    :param resolve_wheels: callable ``(pins, deps=False, constraints=()) -> outcome`` (``_compat.pip_resolves``
        for this target): pins are ``name==version`` strings of the wheels; the outcome has ``ok`` and
        ``requires`` (list of dicts name, version, requires, requires_python); ``deps`` resolves what the
        pins lack too, ``constraints`` narrow it (see :func:`admitted`).
    :param check_requirements: callable ``(items, versions) -> dict`` with ``conflicts``,
        ``added`` and ``python_excluded`` (the probe's ``requirements`` command for this target).
    :param plan: :func:`planned`; changed in place: moved pins get their new version and
        ``source`` ``move``.
    :returns: the last outcome of ``resolve_wheels`` without ``requires``, plus ``moves``
        (the probe's conflicts that a move settled, each with ``as_is``: true when both sides
        are locked as they are, so the lock itself breaks), ``conflicts`` (those no
        release settles) and ``added`` (projects the set lacks that a release requires on the
        target, from the probe's ``requirements``, and what those bring in turn: each with the
        ``version`` pip adds, or None and pip's ``error`` when it cannot; see :func:`settle_added`), and
        ``python_excluded`` (the releases of the resolved set, and of what pip adds to it, whose own
        Requires-Python excludes the target).
    """
    moves, conflicts, added, excluded = [], [], [], []
    for _round in range(MAX_ROUNDS):
        pins = sorted("%s==%s" % (p["name"], p["version"]) for p in plan.values() if p["status"] == "wheel")
        excluded = []  # of this round's set only: a round that fails leaves its own inhibitor
        outcome = resolve_wheels(pins)
        if not outcome["ok"]:
            break
        checked = check_requirements(outcome.pop("requires"), dict((k, p["version"]) for k, p in plan.items()))
        conflicts, added, excluded = checked["conflicts"], checked["added"], checked["python_excluded"]
        movable = [c for c in conflicts if c["move_to"]]
        conflicts = [c for c in conflicts if not c["move_to"]]
        if not movable:
            break
        for c in movable:
            c["as_is"] = plan[c["name"]]["source"] == "as_is" and plan[c["requirer"]]["source"] == "as_is"
        for c in movable:
            plan[c["name"]].update(version=c["move_to"], status="wheel", source="move")
        moves += movable
    outcome.pop("requires", None)
    if outcome["ok"] and not conflicts and added:
        # named explicitly: pip evaluates a Requires-Dist marker for the interpreter it runs on
        wanted = sorted(set(a["wanted"] for a in added))
        # what pip adds has a Requires-Python of its own (pip ran with --ignore-requires-python)
        full, full_excluded = admitted(resolve_wheels, check_requirements, pins + wanted, set(plan),
                                       resolve_wheels(pins + wanted, deps=True))
        seen = set((x["name"], x["version"]) for x in excluded)
        excluded += [x for x in full_excluded if (x["name"], x["version"]) not in seen]
        added = settle_added(added, set(plan), full)
    elif not outcome["ok"] or conflicts:
        # the set does not resolve on this target (an inhibitor already): what it would add is known
        # only once it does, so nothing is said of it now
        added = []
    outcome.update(moves=moves, conflicts=conflicts, added=added, python_excluded=excluded)
    return outcome


def admitted(resolve_wheels, check_requirements, requirements, planned_names, full):
    """Steer pip's choice of the releases it adds below those whose Requires-Python excludes the target.

    pip resolves with ``--ignore-requires-python`` (see ``_compat.pip_resolves``), so it takes the newest
    release of a project the set lacks even when that release's own Requires-Python excludes the target,
    where the rebuild's pip, on the target interpreter, takes the newest release that admits it. So each
    such project (one pip added: not of ``planned_names``) is capped below the excluded release's
    ``X.Y`` series with a pip constraint (``numpy<2.3`` for numpy 2.3.1: projects raise their
    Requires-Python floor at a minor or major release), one project at a time, and the set resolved again;
    a cap under which the set no longer resolves is dropped, and that project's exclusion is the verdict.
    At most :data:`ADMIT_ROUNDS` rounds; a cap may skip a patch release of the series that admits the
    target, which only makes the reported release older than the rebuild's.

    :param resolve_wheels: callable ``(pins, deps=False, constraints=()) -> outcome``.
    :param requirements: the requirement strings ``full`` was resolved from (list of str).
    :param planned_names: canonical names of the planned set, whose versions are the lock's or a fix's.
    :param full: ``resolve_wheels(requirements, deps=True)``.
    :returns: ``(outcome, excluded)``: the outcome with the caps that resolve, in which every release pip
        adds admits the target but those of projects no cap could move; and the ``python_excluded`` of
        ``check_requirements`` for that outcome (every release it holds that excludes the target, the planned
        ones too), or [] when it did not resolve.
    """
    caps, settled, rounds = {}, set(), 0
    while full["ok"]:
        excluded = check_requirements(full["requires"], {})["python_excluded"]
        movable = [x for x in excluded if canonical_name(x["name"]) not in planned_names | settled]
        if not movable or rounds == ADMIT_ROUNDS:
            return full, excluded
        rounds += 1
        for x in movable:
            name, series = canonical_name(x["name"]), re.match(r"[0-9]+(\.[0-9]+)?", x["version"])
            settled.add(name)  # capped below this series now, or for good when no cap can move it
            if series is None or "!" in x["version"]:
                continue
            trial = dict(caps, **{name: "%s<%s" % (name, series.group(0))})
            capped = resolve_wheels(requirements, deps=True, constraints=sorted(trial.values()))
            if capped["ok"]:
                caps, full = trial, capped
                settled.discard(name)  # its next release down may be excluded too
    return full, []


def settle_added(added, planned_names, full):
    """What the rebuild adds beyond the pins, as pip's resolver decides it with the dependencies.

    :param added: the probe's ``added`` (name, requirement, required_by, requirer).
    :param planned_names: the canonical names of the planned set (what the rebuild installs anyway).
    :param full: ``resolve_wheels(pins + the added ones' requirements, deps=True)``.
    :returns: when pip resolved: each of ``added`` with the ``version`` pip installs, then
        each further project pip installs (what the added ones require in turn), with the release
        that requires it (``required_by``, ``requirer``; ``requirement`` its Requires-Dist line).
        When pip failed: ``added`` with ``version`` None and ``error`` (pip's last stderr line).
    """
    if not full["ok"]:
        error = ((full.get("stderr") or "").strip().splitlines() or ["pip's resolver failed"])[-1]
        return [dict(a, version=None, error=error) for a in added]
    chosen = dict((canonical_name(r["name"]), r) for r in full["requires"]
                  if canonical_name(r["name"]) not in planned_names)
    out = [dict(a, version=chosen[a["name"]]["version"]) for a in added if a["name"] in chosen]
    for key in sorted(set(chosen) - set(a["name"] for a in added)):
        by, text = next(((r, t) for r in full["requires"] for t in r["requires"] if requirement_name(t) == key),
                        (None, None))
        out.append(dict(name=key, version=chosen[key]["version"], requirement=text,
                        required_by="%s==%s" % (by["name"], by["version"]) if by else "(a dependency)",
                        requirer=canonical_name(by["name"]) if by else None))
    return out


def added_failure(added, target):
    """The sentence of a project the rebuild would have to add on ``target`` and pip cannot (str):
    an ``added`` item of :func:`settle_added` with ``version`` None."""
    return "%s requires %s on %s, which the lock does not install there, and pip cannot add it: %s" % (
        added["required_by"], added["requirement"], target, added["error"])


def remediation(packages, target, plan, outcome, original, upgrade_lines, blocked):
    """What makes the lock install on ``target``.

    :param plan: :func:`planned` after :func:`resolve`.
    :param outcome: :func:`resolve`'s result for the target.
    :param original: canonical name -> the locked version (before upgrades).
    :param upgrade_lines: canonical name -> the requirement string an upgrade gave.
    :param blocked: the target's inhibitors that no release fixes (dicts with name, message).
    :returns: dict with ``upgrades`` (requirement strings, sorted by name: every pin that
        differs from the lock: the upgrades that work as given, then fixes and forced moves
        as ``name==version``; applied on top of the lock they make it install), ``changes``
        (dicts name, ``from``, ``to``, crosses_major, ``why`` ``fix`` or ``forced``,
        ``forced_by``: requirement and who requires it) and ``blocked``, and ``complete``
        (bool: nothing is blocked and pip resolved the set).
    """
    upgrades, changes = [], []
    forced = {}
    for move in outcome.get("moves", []):
        forced.setdefault(move["name"], []).append("%s requires %s" % (move["required_by"], move["requirement"]))
    majors = dict((canonical_name(p["name"]), (p["targets"][target].get("fix") or {}).get("crosses_major"))
                  for p in packages)
    majors.update((m["name"], m["crosses_major"]) for m in outcome.get("moves", []))
    for key in sorted(plan):
        item = plan[key]
        if item["source"] == "as_is":
            if key in upgrade_lines:
                upgrades.append(upgrade_lines[key])
            continue
        upgrades.append("%s==%s" % (item["name"], item["version"]))
        changes.append(dict(name=item["name"], to=item["version"], crosses_major=bool(majors.get(key)),
                            why="forced" if key in forced else "fix", forced_by=forced.get(key, []),
                            **{"from": original.get(key)}))
    unsettled = [dict(name=c["name"], message="%s requires %s; no release of %s with a wheel for %s satisfies it"
                      % (c["required_by"], c["requirement"], c["name"], target)) for c in outcome.get("conflicts", [])]
    unsettled += [dict(name=a["name"], message=added_failure(a, target))
                  for a in outcome.get("added", []) if not a["version"]]
    blocked = list(blocked) + unsettled
    return dict(upgrades=upgrades, changes=changes, blocked=blocked,
                complete=not blocked and outcome.get("ok", True))
