# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report of one run, rendered on the controller.

Inputs, all under the run's report directory ``<report_dir>``:

- ``hosts/<host>.json``: written by the ``fleet_report`` callback from the upgrade role's records
  (``{"host", "results": [...]}``, one record per venv as the role's ledger record has it);
- ``preflight/hosts/<host>.json``: written by the preflight role (venvs ``inhibited`` there never
  reach the upgrade).

- ``parts/<name>.json``: one per ``ansible-playbook`` process that reported into the directory, written
  by :func:`render` (:func:`part_name`): the hosts it was given, whether it ended, paused, and the hosts
  Ansible failed or could not reach. The slices of an AWX sliced job (one job per part of the inventory)
  share one run id and one report directory: each writes its part, and every report merges the parts.

Outputs: ``report.json``, ``report.md`` and ``report.html`` (self-contained: a table and a
timeline), of every host of every part. Hosts of the run with no result are ``pending``; the ones Ansible marked failed or
unreachable without a record that says why (``failed``, ``rolled_back`` or ``inhibited``) are
``failed`` / ``unreachable``. A venv record may name ``evidence``, the files of its failure (the
installer's output, the gates' output, the services' journals, see :func:`evidence_files`), and
``installer_log``, relative to ``<report_dir>``.
"""

from __future__ import annotations

import datetime
import fcntl
import hashlib
import html
import json
import os
import re
import time

from ansible_collections.oxzep7.python.plugins.module_utils._common import (
    Oxzep7Error, write_json_atomic, write_text_atomic)

# Worst first: a host's status is the worst of its venvs'.
# would_upgrade: a venv that a run in check mode found ready (nothing was built or switched).
HOST_ORDER = ("failed", "unreachable", "rolled_back", "inhibited", "pending", "would_upgrade", "upgraded",
              "already_current")
VENV_STATUS = dict((s, s) for s in ("upgraded", "already_current", "rolled_back", "failed", "inhibited",
                                    "would_upgrade"))
# Venv statuses that say why Ansible failed the host: the upgrade role fails a host after a
# rollback, and python_upgrade_fail_on_inhibited fails an inhibited one; its row keeps that status.
EXPLAINS_FAILURE = ("failed", "rolled_back", "inhibited")


def _read(path):
    try:
        with open(path) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def _host_files(report_dir):
    """Every ``hosts/<host>.json`` under ``report_dir`` that holds an object with ``host``, by host name."""
    names = sorted(n for n in os.listdir(os.path.join(report_dir, "hosts")) if n.endswith(".json"))
    found = [f for f in (_read(os.path.join(report_dir, "hosts", n)) for n in names)
             if isinstance(f, dict) and "host" in f]
    return sorted(found, key=lambda f: str(f["host"]))


def collect(report_dir, hosts, failed=(), unreachable=()):
    """Per host of ``hosts`` (list of names), its venv records and status.

    :returns: list of dicts ``{host, status, venvs: [record...], reason}`` in ``hosts`` order.
    """
    out = []
    for host in hosts:
        upgraded = _read(os.path.join(report_dir, "hosts", host + ".json")) or {}
        venvs = [dict(r, status=VENV_STATUS.get(r.get("result"), "failed")) for r in upgraded.get("results", [])]
        seen = set(v.get("path") for v in venvs)
        preflight = _read(os.path.join(report_dir, "preflight", "hosts", host + ".json")) or {}
        for v in preflight.get("venvs", []):
            if v.get("status") == "inhibited" and v.get("path") not in seen:
                venvs.append(dict(path=v["path"], status="inhibited", result="inhibited", to=v.get("target"),
                                  reason="; ".join(i.get("message", "") for i in v.get("inhibitors", [])),
                                  seconds={}, **{"from": v.get("from")}))
        statuses = [v["status"] for v in venvs]
        if host in unreachable and not venvs:
            statuses = ["unreachable"]
        elif host in failed and not set(statuses) & set(EXPLAINS_FAILURE):
            statuses.append("failed")
        status = min(statuses, key=HOST_ORDER.index) if statuses else "pending"
        reason = "; ".join(v.get("reason") for v in venvs if v.get("reason"))
        if status == "failed" and not reason:
            reason = "the host failed before a venv was recorded (see the run's output)"
        out.append(dict(host=host, status=status, venvs=venvs, reason=reason))
    return out


def installer_log_name(host, ledger):
    """Where a venv's failed installer output goes, relative to the report directory:
    ``hosts/<host>/<the venv's state folder name>.installer.log`` (``ledger``: the venv's ledger path)."""
    return evidence_name(host, ledger, "installer.log")


def evidence_name(host, ledger, what):
    """A venv's evidence file, relative to the report directory: ``hosts/<host>/<venv folder>.<what>``.

    ``what`` (str) keeps letters, digits, ``.``, ``-``, ``_`` and ``@``; anything else (a ``/`` of a unit name
    read from the host) becomes ``_``, so the file stays inside ``hosts/<host>/``.
    """
    safe = re.sub(r"[^A-Za-z0-9._@-]", "_", what).lstrip(".") or "_"
    return "hosts/%s/%s.%s" % (host, os.path.basename(os.path.dirname(ledger)), safe)


def evidence_files(host, report):
    """The failure evidence a venv's record carries, as report files (the rollback's evidence, issue 15).

    :param report: the record's ``oxzep7_report`` (dict): ``ledger`` (the venv's ledger path on the host)
        and any of ``installer_log`` (str, a failed installer run's output), ``gates`` (list of dicts as
        ``venv_verify`` returns them: ``name``, ``ok``, ``seconds``, and per gate its details, such as
        ``cmd``, ``rc``, ``stdout``, ``stderr`` or ``errors``)
        and ``journals`` (dict: systemd unit -> the end of its journal, str).
    :returns: dict: relative file name (:func:`evidence_name`) -> text; empty without a ledger path.
    """
    ledger = report.get("ledger")
    if not isinstance(ledger, str) or not ledger:
        return {}
    out = {}
    if isinstance(report.get("installer_log"), str) and report["installer_log"]:
        out[installer_log_name(host, ledger)] = report["installer_log"]
    gates = [g for g in report.get("gates") or [] if isinstance(g, dict)]
    if gates:
        out[evidence_name(host, ledger, "verify.log")] = "\n".join(_gate_text(g) for g in gates)
    journals = report.get("journals")
    for unit, text in sorted(journals.items() if isinstance(journals, dict) else []):
        if isinstance(text, str):
            out[evidence_name(host, ledger, "journal.%s.log" % unit)] = text
    return out


def write_host(report_dir, host, run_id, records, logs=None):
    """Write ``hosts/<host>.json`` (``{"host", "run_id", "results": records}``) and the installer logs.

    :param records: the host's venv records (list of dicts, as the upgrade role's ledger record).
    :param logs: relative file name (see :func:`installer_log_name`) -> the log's text (str).
    """
    for name, text in (logs or {}).items():
        os.makedirs(os.path.dirname(os.path.join(report_dir, name)), exist_ok=True)
        write_text_atomic(os.path.join(report_dir, name), text)
    os.makedirs(os.path.join(report_dir, "hosts"), exist_ok=True)
    write_json_atomic(os.path.join(report_dir, "hosts", host + ".json"), dict(host=host, run_id=run_id,
                                                                              results=records))


def part_name(hosts):
    """The file of the part of a run that the host names ``hosts`` (list of str) make, relative to the
    report directory: ``parts/<the first 16 hex digits of the sha256 of the sorted names>.json``. A rerun
    of the same hosts (a resumed run, a relaunched slice) replaces its part; other hosts make another."""
    digest = hashlib.sha256("\n".join(sorted(hosts)).encode("utf-8")).hexdigest()[:16]
    return os.path.join("parts", digest + ".json")


def _host_names(value):
    """Whether ``value`` is a list of host names that are safe as file names (no ``/``, not ``.``/``..``)."""
    return isinstance(value, list) and all(isinstance(h, str) and h and "/" not in h and h not in (".", "..")
                                           for h in value)


_PART_KEYS = {"hosts": _host_names, "failed": _host_names, "unreachable": _host_names,
              "finished": lambda v: isinstance(v, bool), "paused": lambda v: v is None or isinstance(v, dict),
              "started": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
              "updated": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)}


def read_parts(report_dir):
    """Every part under ``<report_dir>/parts`` (see :func:`part_name`), checked.

    :returns: dict: relative file name -> part (dict: ``hosts``, ``failed``, ``unreachable`` (lists of
        host names), ``finished`` (bool), ``paused`` (the window verdict that paused it, or None),
        ``started`` and ``updated`` (epoch seconds)).
    :raises Oxzep7Error: naming the file, when a part is not JSON or not an object of exactly these keys
        and types, or names a host that is not a plain file name.
    """
    top = os.path.join(report_dir, "parts")
    out = {}
    for name in sorted(os.listdir(top)) if os.path.isdir(top) else []:
        if not name.endswith(".json"):
            continue
        path = os.path.join(top, name)
        try:
            with open(path) as fh:
                part = json.load(fh)
        except (OSError, ValueError) as exc:
            raise Oxzep7Error("the fleet report part %s cannot be read (%s); remove it if no run of this run id "
                              "wrote it" % (path, exc))
        if not isinstance(part, dict) or set(part) != set(_PART_KEYS) or \
                not all(check(part[key]) for key, check in _PART_KEYS.items()):
            raise Oxzep7Error("the fleet report part %s is not what the fleet report writes (hosts, failed, "
                              "unreachable, finished, paused, started, updated); remove it if no run of this run id "
                              "wrote it" % path)
        out[os.path.join("parts", name)] = part
    return out


def _merge(report_dir, own):
    """The run's parts: those on disk, with ``own`` (this process's part, see :func:`part_name`) in place of
    the one of the same hosts.

    :returns: ``(name of own, parts)``: parts a list of dicts, by start time (own's start time is the one on
        disk when there is one).
    """
    name = part_name(own["hosts"])
    parts = read_parts(report_dir)
    own["started"] = parts[name]["started"] if name in parts else own["updated"]
    parts[name] = own
    return name, sorted(parts.values(), key=lambda p: (p["started"], p["hosts"]))


def build(report_dir, run_id, hosts, target=None, paused=None, failed=(), unreachable=(), finished=False):
    """The report of the run from the per-host files in ``report_dir``, without writing anything.

    ``hosts``, ``paused``, ``failed``, ``unreachable`` and ``finished`` make this process's part of the run;
    the other parts in ``report_dir`` (the other slices of the run, see :func:`read_parts`) add their hosts
    after, each once. A host is failed or unreachable as the newest part with that host says; the run is
    finished when every part is, and paused when a part is.

    :param hosts: every host of the run, in inventory order.
    :param paused: the maintenance window verdict that paused the run, or None.
    :param failed: the hosts Ansible failed; ``unreachable``: the ones it could not reach.
    :param finished: whether the run has ended (otherwise it is ``running``).
    :returns: the report dict (``run_id``, ``status``, ``target``, ``generated``, ``totals``,
        ``hosts``, ``window``: the verdict that paused it, or None).
    :raises Oxzep7Error: on a part file that is not one (see :func:`read_parts`).
    """
    own = _part(hosts, paused, failed, unreachable, finished)
    return _build(report_dir, run_id, target, _merge(report_dir, own)[1])


def render(report_dir, run_id, hosts, target=None, paused=None, failed=(), unreachable=(), finished=False):
    """Write this process's part, then ``report.json``, ``report.md`` and ``report.html`` of every part into
    ``report_dir`` (the callback does), holding ``<report_dir>/parts/.lock`` (``flock``) meanwhile, so of
    two slices that render at once the later one writes what the other wrote too.

    :params: as for :func:`build`.
    :returns: the report dict :func:`build` returns.
    :raises Oxzep7Error: on a part file that is not one (see :func:`read_parts`).
    """
    own = _part(hosts, paused, failed, unreachable, finished)
    os.makedirs(os.path.join(report_dir, "parts"), exist_ok=True)
    with open(os.path.join(report_dir, "parts", ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        name, parts = _merge(report_dir, own)
        write_json_atomic(os.path.join(report_dir, name), own)
        report = _build(report_dir, run_id, target, parts)
        write_json_atomic(os.path.join(report_dir, "report.json"), report)
        write_text_atomic(os.path.join(report_dir, "report.md"), markdown(report))
        write_text_atomic(os.path.join(report_dir, "report.html"), page(report))
    return report


def _part(hosts, paused, failed, unreachable, finished):
    """This process's part of the run (see :func:`read_parts`); ``started`` is set by :func:`_merge`."""
    return dict(hosts=list(hosts), paused=paused or None, failed=sorted(set(failed) & set(hosts)),
                unreachable=sorted(set(unreachable) & set(hosts)), finished=bool(finished), started=None,
                updated=time.time())


def _build(report_dir, run_id, target, parts):
    """The report of ``parts`` (list of dicts, see :func:`read_parts`, by start time)."""
    hosts, failed, unreachable = [], set(), set()
    for part in sorted(parts, key=lambda p: p["updated"]):  # the newest part says last
        failed = (failed - set(part["hosts"])) | set(part["failed"])
        unreachable = (unreachable - set(part["hosts"])) | set(part["unreachable"])
    for part in parts:
        hosts += [h for h in part["hosts"] if h not in hosts]
    paused = next((p["paused"] for p in parts if p["paused"]), None)
    rows = collect(report_dir, hosts, failed, unreachable)
    totals = dict((s, sum(1 for r in rows if r["status"] == s)) for s in HOST_ORDER)
    totals["hosts"] = len(rows)
    return dict(run_id=run_id, status=_status(all(p["finished"] for p in parts), paused, totals), target=target,
                window=paused, totals=totals, hosts=rows,
                generated=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))


def _status(finished, paused, totals):
    """The run's status: whether every part has ``finished`` (bool), the window verdict that ``paused`` it
    (or None), and the report's ``totals``."""
    pending = totals["pending"]
    if not finished:
        return "running"
    if paused and pending:
        return "paused"
    if pending:
        return "stopped"
    if totals["failed"] or totals["unreachable"] or totals["rolled_back"]:
        return "completed_with_failures"
    return "completed"


def as_ended(report, report_dir, hosts):
    """``report`` (from :func:`build` for ``hosts``) as it stands should this process's part end now: its
    status as if that part had finished, the other parts in ``report_dir`` as they are on disk. Reads the
    part files only, not the hosts' files again.

    :returns: a report dict (a copy; ``report`` is unchanged).
    :raises Oxzep7Error: on a part file that is not one (see :func:`read_parts`).
    """
    own = part_name(hosts)
    others = [part for name, part in read_parts(report_dir).items() if name != own]
    return dict(report, status=_status(all(p["finished"] for p in others), report["window"], report["totals"]))


def summary(report, report_dir):
    """The run in a few fields, for ``set_stats``: AWX keeps them as the job's artifacts and gives them
    to the next nodes of a workflow as extra variables.

    :param report: the report dict (:func:`build`).
    :param report_dir: the run's report directory (str).
    :returns: dict: ``run_id``, ``status``, ``target``, ``totals`` (hosts per status, and ``hosts``),
        ``paused`` (bool), ``window`` (why it paused, str, or None), ``report_dir`` and ``reports``
        (``json``, ``md``, ``html``: the report files' paths).
    """
    paused = report["status"] == "paused"
    return dict(run_id=report["run_id"], status=report["status"], target=report["target"],
                totals=dict(report["totals"]), paused=paused,
                window=(report["window"] or {}).get("reason") if paused else None, report_dir=report_dir,
                reports=dict((ext, os.path.join(report_dir, "report." + ext)) for ext in ("json", "md", "html")))


_SUMMARY = {
    "running": "running",
    "paused": "paused by the maintenance window: run the same command again in an open window to go on",
    "stopped": "stopped before every host was done (failure budget, or interrupted): fix and run it again",
    "completed_with_failures": "completed; some hosts failed or were rolled back",
    "completed": "completed",
}


def _stage(seconds, key):
    value = (seconds or {}).get(key)
    return "-" if value in (None, "") else "%.1f" % float(value)


def markdown(report):
    """The report as Markdown (str)."""
    t = report["totals"]
    counts = ", ".join("%d %s" % (t[s], s.replace("_", " ")) for s in HOST_ORDER if t[s])
    lines = ["# Python upgrade run %s" % report["run_id"], "",
             "Target: Python %s. Status: **%s**, %s." % (report["target"] or "-", report["status"],
                                                         _SUMMARY[report["status"]]), "",
             "%d hosts: %s." % (t["hosts"], counts), ""]
    if report.get("window"):
        lines += ["Maintenance window: %s" % report["window"].get("reason"), ""]
    lines += ["| host | status | venv | from | to | snapshot s | rebuild s | verify s | total s | reason |",
              "| --- | --- | --- | --- | --- | ---: | ---: | ---: | ---: | --- |"]
    for row in report["hosts"]:
        for v in row["venvs"] or [dict(path="-", seconds={})]:
            s = v.get("seconds") or {}
            lines.append("| %s | %s | `%s` | %s | %s | %s | %s | %s | %s | %s |" % (
                row["host"], v.get("status", row["status"]), v.get("path"), v.get("from") or "-",
                v.get("to") or "-", _stage(s, "snapshot"), _stage(s, "rebuild"), _stage(s, "verify"),
                _stage(s, "total"), (_reason(v) or (row["reason"] if not row["venvs"] else "")).replace("|", "/")))
    return "\n".join(lines + _benchmarks(report)) + "\n"


def _benchmarks(report):
    """Markdown lines of the app benchmarks before and after (the venvs with a ``benchmark_command``)."""
    rows = []
    for row in report["hosts"]:
        for v in row["venvs"]:
            b = v.get("benchmark")
            if isinstance(b, dict) and isinstance(b.get("before"), dict) and isinstance(b.get("after"), dict):
                rows.append("| %s | `%s` | %.3f | %.3f | %.2f | %d | %d | %s |" % (
                    row["host"], v.get("path"), b["before"].get("median_seconds", 0), b["after"].get("median_seconds", 0),
                    b.get("ratio", 0), b["before"].get("peak_rss_bytes", 0) // 1048576,
                    b["after"].get("peak_rss_bytes", 0) // 1048576, "passed" if b.get("passed") else "**too slow**"))
    if not rows:
        return []
    return ["", "## App benchmark, before and after", "",
            "| host | venv | before median s | after median s | ratio | before peak RSS MiB | after peak RSS MiB | verdict |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |"] + rows


def _gate_text(gate):
    """One gate's result as text: a heading, its details as JSON, then its output as it was printed."""
    text = "## %s: %s (%s s)\n" % (gate.get("name"), "passed" if gate.get("ok") else "FAILED", gate.get("seconds"))
    details = dict((k, v) for k, v in gate.items() if k not in ("name", "ok", "seconds", "stdout", "stderr"))
    text += json.dumps(details, indent=2, sort_keys=True, default=str) + "\n"
    for stream in ("stdout", "stderr"):
        if gate.get(stream):
            text += "--- %s\n%s\n" % (stream, gate[stream])
    return text


def _reason(venv):
    """A venv's reason, with where its evidence files (or its installer log) are when it has them."""
    files = venv.get("evidence") or ([venv["installer_log"]] if venv.get("installer_log") else [])
    return "%s%s" % (venv.get("reason") or "", " (evidence: %s)" % ", ".join(files) if files else "")


def page(report):
    """The report as one self-contained HTML page: a summary, a table and a timeline."""
    esc = html.escape
    starts = [float(v["started"]) for r in report["hosts"] for v in r["venvs"] if v.get("started")]
    ends = [float(v["started"]) + float((v.get("seconds") or {}).get("total") or 0)
            for r in report["hosts"] for v in r["venvs"] if v.get("started")]
    t0, span = (min(starts), max(max(ends) - min(starts), 1.0)) if starts else (0.0, 1.0)
    rows, bars = [], []
    for r in report["hosts"]:
        for v in r["venvs"] or [dict(path="-", seconds={}, status=r["status"])]:
            s = v.get("seconds") or {}
            rows.append("<tr class='%s'><td>%s</td><td>%s</td><td><code>%s</code></td><td>%s</td><td>%s</td>"
                        "<td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>" % (
                            esc(v.get("status", r["status"])), esc(r["host"]), esc(v.get("status", r["status"])),
                            esc(str(v.get("path"))), esc(str(v.get("from") or "-")), esc(str(v.get("to") or "-")),
                            _stage(s, "snapshot"), _stage(s, "rebuild"), _stage(s, "verify"), _stage(s, "total"),
                            esc(_reason(v))))
            if v.get("started"):
                left = 100.0 * (float(v["started"]) - t0) / span
                width = max(100.0 * float(s.get("total") or 0) / span, 0.5)
                bars.append("<div class='lane'><span class='label'>%s</span><div class='track'><div class='bar %s' "
                            "style='left:%.2f%%;width:%.2f%%' title='%s s'></div></div></div>" % (
                                esc(r["host"]), esc(v["status"]), left, width, _stage(s, "total")))
    return """<!doctype html>
<html><head><meta charset="utf-8"><title>Python upgrade run %(run)s</title>
<style>
body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em}
tr.upgraded td:nth-child(2),.bar.upgraded{background:#cfc}tr.rolled_back td:nth-child(2),.bar.rolled_back{background:#fdb}
tr.failed td:nth-child(2),.bar.failed{background:#f99}tr.inhibited td:nth-child(2){background:#fe9}
tr.pending td:nth-child(2){background:#ddd}.bar.already_current{background:#eee}
tr.would_upgrade td:nth-child(2),.bar.would_upgrade{background:#def}
.lane{display:flex;align-items:center;margin:2px 0}.label{width:10em}.track{position:relative;flex:1;height:1em;background:#f6f6f6}
.bar{position:absolute;top:0;height:1em;border:1px solid #888;box-sizing:border-box}
</style></head><body>
<h1>Python upgrade run %(run)s</h1>
<p>Target Python %(target)s. Status: <b>%(status)s</b>, %(summary)s. %(totals)s</p>
<table><tr><th>host</th><th>status</th><th>venv</th><th>from</th><th>to</th><th>snapshot s</th><th>rebuild s</th>
<th>verify s</th><th>total s</th><th>reason</th></tr>
%(rows)s
</table>
<h2>Timeline</h2><p>%(span).0f s from the first start to the last end.</p>
%(bars)s
</body></html>
""" % dict(run=esc(str(report["run_id"])), target=esc(str(report["target"])), status=esc(report["status"]),
           summary=esc(_SUMMARY[report["status"]]), rows="\n".join(rows), bars="\n".join(bars), span=span,
           totals=esc(", ".join("%d %s" % (report["totals"][k], k.replace("_", " ")) for k in HOST_ORDER
                                if report["totals"][k])))


# --- the preflight report ---------------------------------------------------------------------
# Its templates are the collection's, in roles/_common/templates (preflight.md.j2, preflight.json.j2,
# remediation.yml.j2), rendered with Jinja2 and Ansible's own filters.
TEMPLATES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                         "roles", "_common", "templates")


def _environment():
    """A Jinja2 environment with Ansible's filters (``to_nice_json``, ``flatten``, ``zip``...) and the
    collection's ``oxzep7.python.remediation_markdown``, set like Ansible's template module (trim_blocks)."""
    import jinja2  # ansible-core's own dependency
    from ansible.plugins.filter.core import FilterModule as Core
    from ansible.plugins.filter.mathstuff import FilterModule as Math
    from ansible_collections.oxzep7.python.plugins.plugin_utils._remediation import markdown as remediation_markdown
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), trim_blocks=True, keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined, autoescape=False)
    env.filters.update(Core().filters())
    env.filters.update(Math().filters())
    env.filters["oxzep7.python.remediation_markdown"] = remediation_markdown
    return env


def remediation_file(venvs, remediation=None):
    """The ``upgrade_remediation`` a host's remediation file sets: ``remediation`` (what the host had,
    stable path -> list of requirement strings) with the upgrades each checked venv needs for the target;
    paths with no upgrade are left out.

    :param venvs: the host's preflight verdicts (``venv_preflight``'s ``verdict``), each with ``path`` and
        ``remediation`` (None, or a dict with ``upgrades``).
    :returns: ``{"upgrade_remediation": {path: [requirement, ...]}}``.
    """
    merged = dict(remediation or {})
    for venv in venvs:
        if venv.get("remediation"):
            merged[venv["path"]] = venv["remediation"].get("upgrades") or []
    return {"upgrade_remediation": dict((k, v) for k, v in merged.items() if v)}


def write_preflight(report_dir, host, run_id, target, venvs, remediation=None):
    """Write a host's preflight results and render the fleet's preflight report, all under ``report_dir``
    (the run's ``<report dir>/preflight``): ``hosts/<host>.json``, ``remediation/<host>.yml``, then
    ``preflight.json`` and ``preflight.md`` from every host file there (so the batches of one run add up).

    :param venvs: the host's verdicts (list of dicts), in the order of its venvs.
    :param remediation: the ``upgrade_remediation`` the host had (dict), kept in its remediation file.
    :returns: the host's report dict (``host``, ``run_id``, ``target``, ``checked_at``, ``can_move``, ``venvs``).
    :raises jinja2.TemplateError: on a template that does not render (a bug, not input).
    """
    env = _environment()
    report = dict(host=host, run_id=run_id, target=target, venvs=venvs,
                  checked_at=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                  can_move=not [v for v in venvs if v.get("status") in ("inhibited", "absent")])
    for sub in ("hosts", "remediation"):
        os.makedirs(os.path.join(report_dir, sub), exist_ok=True)
    write_text_atomic(os.path.join(report_dir, "hosts", host + ".json"), json.dumps(report, indent=4, sort_keys=True)
                      + "\n")
    write_text_atomic(os.path.join(report_dir, "remediation", host + ".yml"), env.get_template(
        "remediation.yml.j2").render(host=host, run_id=run_id, target=target, venvs=venvs,
                                     remediation_file=remediation_file(venvs, remediation)))
    fleet = _host_files(report_dir)
    for name in ("preflight.json", "preflight.md"):
        write_text_atomic(os.path.join(report_dir, name),
                          env.get_template(name + ".j2").render(fleet=fleet, target=target, run_id=run_id))
    return report


# --- the restore drill report -------------------------------------------------------------------
DRILL_ORDER = ("failed", "checked", "passed")  # worst first, as HOST_ORDER


def write_drill(report_dir, host, run_id, records):
    """Write a host's restore drills and render the drill report of every host there, all under
    ``report_dir`` (``playbooks/restore_drill.yml``: ``<report dir>/<run id>/drill``): ``hosts/<host>.json``
    (as :func:`write_host`), ``drill.json`` and ``drill.md``.

    :param records: the host's drill records (list of dicts, ``venv_drill``'s ``oxzep7_report.record``:
        ``path``, ``result`` (``passed``, ``failed``, or ``checked`` in check mode), ``snapshot_id``,
        ``release_id`` (the scratch release), ``python_version``, ``seconds`` (``restore``, ``verify``,
        ``total``) and ``reason``).
    :returns: the drill report (dict: ``run_id``, ``status``, ``generated``, ``totals``, ``hosts``, each
        ``{host, status, venvs}``).
    """
    write_host(report_dir, host, run_id, records)
    rows = []
    for found in _host_files(report_dir):
        venvs = [r for r in found.get("results") or [] if isinstance(r, dict)]
        statuses = [r.get("result") if r.get("result") in DRILL_ORDER else "failed" for r in venvs] or ["failed"]
        rows.append(dict(host=found["host"], status=min(statuses, key=DRILL_ORDER.index), venvs=venvs))
    totals = dict((s, sum(1 for r in rows for v in r["venvs"] if v.get("result") == s)) for s in DRILL_ORDER)
    totals.update(hosts=len(rows), venvs=sum(len(r["venvs"]) for r in rows))
    status = min([r["status"] for r in rows], key=DRILL_ORDER.index)
    report = dict(run_id=run_id, status=status, totals=totals, hosts=rows,
                  generated=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
    write_json_atomic(os.path.join(report_dir, "drill.json"), report)
    write_text_atomic(os.path.join(report_dir, "drill.md"), drill_markdown(report))
    return report


def drill_markdown(report):
    """The drill report as Markdown (str): one row per venv drilled."""
    t = report["totals"]
    lines = ["# Restore drill %s" % report["run_id"], "",
             "Status: **%s**. %d venvs on %d hosts: %d passed, %d failed%s." % (
                 report["status"], t["venvs"], t["hosts"], t["passed"], t["failed"],
                 ", %d checked (check mode)" % t["checked"] if t["checked"] else ""), "",
             "| host | venv | snapshot | Python | result | restore s | verify s | total s | reason |",
             "| --- | --- | --- | --- | --- | ---: | ---: | ---: | --- |"]
    for row in report["hosts"]:
        for v in row["venvs"]:
            s = v.get("seconds") or {}
            lines.append("| %s | `%s` | %s | %s | %s | %s | %s | %s | %s |" % (
                row["host"], v.get("path"), v.get("snapshot_id") or "-", v.get("python_version") or "-",
                v.get("result"), _stage(s, "restore"), _stage(s, "verify"), _stage(s, "total"),
                (v.get("reason") or "").replace("|", "/").replace("\n", " ")))
    return "\n".join(lines) + "\n"
