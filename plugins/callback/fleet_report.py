# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: fleet_report
type: aggregate
short_description: Write the fleet report once more when the run ends, whatever happened
version_added: 0.1.0
description:
  - The one writer of the fleet report and the preflight report. It collects, from every task result, the
    key C(oxzep7_report). M(oxzep7.python.venv_ledger) returns it for a venv's outcome (the upgrade role's
    record), M(oxzep7.python.venv_preflight) for a venv's verdict. As the results arrive it writes each
    host's file C(hosts/<host>.json) (and a failed venv's evidence, that is the installer's output, the gates'
    output and the end of each service's journal, in C(hosts/<host>/)) into the run's report
    directory on the controller, and for the preflight C(preflight/hosts/<host>.json),
    C(preflight/remediation/<host>.yml), C(preflight/preflight.md) and C(preflight/preflight.json)
    (rendered from the collection's templates).
  - When M(oxzep7.python.fleet_report) runs (before each batch of C(playbooks/upgrade.yml)) it renders
    C(report.json), C(report.md) and C(report.html); when the run ends (also when the failure budget or
    a failure stopped it early) it renders them again with the final state of every host, failed and
    unreachable hosts included, and the run's final status (C(completed), C(completed_with_failures),
    C(paused) or C(stopped)).
  - The collection's playbooks enable it by themselves (a shim beside them). In your own playbooks,
    enable it with C(callbacks_enabled = oxzep7.python.fleet_report) in C(ansible.cfg).
author: oxzep7.python contributors (@oxzep7)
requirements:
  - For the rendered report, a task of the run calls M(oxzep7.python.fleet_report). Host files are written
    for every record whose C(report_dir) is set (the upgrade role's C(upgrade_report_dir)).
"""

from ansible.plugins.callback import CallbackBase
from ansible_collections.oxzep7.python.plugins.plugin_utils._report import (
    evidence_files, installer_log_name, render, write_host, write_preflight)


class CallbackModule(CallbackBase):
    """Render the fleet report at the end of the run."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "oxzep7.python.fleet_report"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._report_args = None
        self._paused = None
        self._venvs = {}  # (report_dir, host) or ("preflight", report_dir, host) -> {stable path: record}

    def v2_runner_on_ok(self, result):
        data = result._result  # pylint: disable=protected-access
        if isinstance(data.get("oxzep7_report"), dict):
            self._collect(result._host.get_name(), data["oxzep7_report"])  # pylint: disable=protected-access
        if "oxzep7_fleet_report" in data:
            self._report_args = dict(data["oxzep7_fleet_report"])
            render(**dict(self._report_args, paused=self._paused or self._report_args.get("paused")))
        if data.get("state") in ("closed", "closing") and "next_open" in data and data.get("open") is False:
            self._paused = dict((k, data.get(k)) for k in ("state", "reason", "closes_at", "next_open", "now"))

    def _collect(self, host, report):
        """Keep a venv's record and rewrite its host's files (the latest record per venv)."""
        if not report.get("report_dir"):
            return
        if report.get("kind") == "preflight" and isinstance(report.get("host_record"), dict):
            verdicts = self._venvs.setdefault(("preflight", report["report_dir"], host), {})
            verdicts[report["host_record"].get("path")] = report["host_record"]
            write_preflight(report["report_dir"], host, report.get("run_id"), report.get("target"),
                            list(verdicts.values()), report.get("remediation"))
            return
        record = report.get("record")
        if report.get("kind") != "upgrade" or not isinstance(record, dict):
            return
        record = dict(record)
        logs = evidence_files(host, report)
        if logs:
            record["evidence"] = sorted(logs)
        if report.get("installer_log") and report.get("ledger"):
            record["installer_log"] = installer_log_name(host, report["ledger"])
        venvs = self._venvs.setdefault((report["report_dir"], host), {})
        venvs[record.get("path")] = record
        write_host(report["report_dir"], host, record.get("run_id"), list(venvs.values()), logs)

    def v2_playbook_on_stats(self, stats):
        if not self._report_args:
            return
        args = dict(self._report_args, finished=True, paused=self._paused or self._report_args.get("paused"),
                    failed=sorted(h for h, n in stats.failures.items() if n),
                    unreachable=sorted(h for h, n in stats.dark.items() if n))
        report = render(**args)
        self._display.display("Fleet report (%s): %s" % (report["status"], args["report_dir"] + "/report.md"),
                              stderr=True)
