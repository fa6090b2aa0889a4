# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The stepwise path of a venv and the "Remediation" section of the preflight report, on the controller.

``stepwise`` (``module_utils._verdict.stepwise``, which ``venv_preflight`` runs on the host)
joins the two preflight checks' results for one venv into the path leapp-style upgrades take:
the furthest target the venv moves to today, and for each minor version up to the target what
must change. :func:`markdown` renders those paths for the fleet; the preflight role's
``preflight.md`` calls it through the ``oxzep7.python.remediation_markdown`` filter.
"""

from __future__ import annotations


def _cell(text):
    """``text`` fit for one Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _upgrade(requirement, changes):
    """One upgrade of a step, with what it changes: ``PyYAML==6.0.1`` (from 5.4.1, a new major version)."""
    change = next((c for c in changes if requirement == "%s==%s" % (c["name"], c["to"])), None)
    if not change:
        return "`%s`" % requirement
    notes = ["from %s" % change["from"]] if change["from"] else []
    notes += ["a new major version"] if change["crosses_major"] else []
    notes += ["forced: %s" % "; ".join(change["forced_by"])] if change["forced_by"] else []
    return "`%s` (%s)" % (requirement, ", ".join(notes)) if notes else "`%s`" % requirement


def markdown(fleet):
    """The "Remediation" section of ``preflight.md`` (str, Markdown).

    :param fleet: the host reports (``hosts/<host>.json``): dicts with ``host`` and ``venvs``,
        each venv with ``path``, ``from``, ``target``, ``reaches`` and ``steps`` (see :func:`stepwise`).
    :returns: per host with a checked venv, a table of its steps: the target, whether it moves
        today, the upgrades it needs (each change with its old version, a new major version and
        what forced it) and what stays blocked; and the host's remediation file.
    """
    out = ["## Remediation", ""]
    for host in fleet:
        venvs = [v for v in host.get("venvs") or [] if v.get("steps")]
        if not venvs:
            continue
        out += ["### %s" % host["host"], "",
                "Remediation file: `remediation/%s.yml` (drop it into `host_vars/%s/` and run preflight again)."
                % (host["host"], host["host"]), ""]
        for v in venvs:
            reaches = v.get("reaches") or "no newer version"
            out += ["`%s` (Python %s) moves to %s today." % (v["path"], v.get("from") or "?", reaches), "",
                    "| to | moves today | upgrades it needs | still blocked |", "| --- | --- | --- | --- |"]
            for step in v["steps"]:
                upgrades = ", ".join(_upgrade(u, step["changes"]) for u in step["upgrades"]) or "-"
                blocked = "; ".join("%s: %s" % (b["name"], b["message"]) for b in step["blocked"]) or "-"
                out.append("| %s | %s | %s | %s |" % (step["target"], "yes" if step["can_move"] else "no",
                                                      _cell(upgrades), _cell(blocked)))
            out.append("")
    if len(out) == 2:
        out += ["None.", ""]
    return "\n".join(out)
