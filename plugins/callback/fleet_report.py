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
  - When M(oxzep7.python.fleet_report) runs (before each batch of C(playbooks/upgrade.yml), and at its end)
    it renders C(report.json), C(report.md) and C(report.html) (of every part of the run, that is the slices of
    an AWX sliced job that share the run id and the report directory, see M(oxzep7.python.fleet_report)); when
    Ansible stops (also when the failure budget or a failure stopped it early) it renders them again with the
    final state of every host, failed and unreachable hosts included, and the run's final status
    (C(completed), C(completed_with_failures), C(paused) or C(stopped); C(running) while another part runs).
  - M(oxzep7.python.venv_drill) returns a venv's restore drill (C(kind) C(drill)); the callback writes the
    drill report, C(hosts/<host>.json), C(drill.json) and C(drill.md), into the report directory the drill
    names (C(playbooks/restore_drill.yml) uses C(<report dir>/<run id>/drill)).
  - "Notifications: when the variable C(python_upgrade_notify) is set (a list of webhook URLs, or of
    C({url, format}) dicts with C(format) C(json), C(slack) or C(teams)), it POSTs JSON to each at the run's
    events: C(run_start) (the first M(oxzep7.python.fleet_report) task), C(canary_done) and C(batch_done)
    (when the next batch starts, or the run ends), C(pause) (the maintenance window stopped the run),
    C(rollback) (each venv record whose result is C(rolled_back) or C(failed), as it arrives) and
    C(run_end). Each C(json) message has C(event), C(summary) and every field of C(report.json)."
  - The variables are read, templated, from the host that runs the first M(oxzep7.python.fleet_report) task
    (inventory, group variables or extra variables; vault values work), never from task results, which
    Ansible prints. Each POST goes through ansible-core's C(open_url) with a limit of
    C(python_upgrade_notify_timeout) seconds (default 5) and follows no redirect. A notification that
    fails is a warning and never fails the run; warnings and reports show a webhook URL only as
    C(scheme://host/…).
  - The collection's playbooks enable it by themselves (a shim beside them). In your own playbooks,
    enable it with C(callbacks_enabled = oxzep7.python.fleet_report) in C(ansible.cfg).
author: oxzep7.python contributors (@oxzep7)
requirements:
  - For the rendered report, a task of the run calls M(oxzep7.python.fleet_report). Host files are written
    for every record whose C(report_dir) is set (the upgrade role's C(upgrade_report_dir)).
"""

from collections.abc import Mapping

from ansible.plugins.callback import CallbackBase
from ansible.template import Templar
from ansible_collections.oxzep7.python.plugins.plugin_utils import _notify
from ansible_collections.oxzep7.python.plugins.plugin_utils._report import (
    build, evidence_files, installer_log_name, render, write_drill, write_host, write_preflight)


def _plain(value):
    """A templated variable as plain JSON-like Python: dicts, lists, str, numbers (vault values decrypted)."""
    if isinstance(value, Mapping):
        return dict((str(k), _plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return str(value)


class CallbackModule(CallbackBase):
    """Write the reports as results arrive, render the fleet report at the end, send the notifications."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "oxzep7.python.fleet_report"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._report_args = None
        self._paused = None
        self._venvs = {}  # (kind, report_dir, host) -> {stable path: record}
        self._play = None
        self._webhooks = None  # {"targets": [...], "timeout": seconds} once the run's first report task ran
        self._batches = 0
        self._batch = None  # the batch that runs now: {stage, number, hosts}

    def v2_playbook_on_play_start(self, play):
        self._play = play

    def v2_runner_on_ok(self, result):
        data = result._result  # pylint: disable=protected-access
        self._take(result)
        if "oxzep7_fleet_report" in data:
            self._report_args = dict(data["oxzep7_fleet_report"])
            report = render(**self._args())
            if not self._report_args.get("finished"):  # the run's end starts no batch
                self._batch_starts(result, report, data.get("oxzep7_batch") or {})
        if data.get("state") in ("closed", "closing") and "next_open" in data and data.get("open") is False:
            first = self._paused is None
            self._paused = dict((k, data.get(k)) for k in ("state", "reason", "closes_at", "next_open", "now"))
            self._batch = None  # it does not start
            if first:
                self._send("pause")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._take(result)

    def v2_runner_item_on_ok(self, result):
        self._take(result)

    v2_runner_item_on_failed = v2_runner_item_on_ok

    def _take(self, result):
        """Collect the ``oxzep7_report`` of a result (a task's, or one loop item's)."""
        report = result._result.get("oxzep7_report")  # pylint: disable=protected-access
        if isinstance(report, dict) and report.get("report_dir"):
            self._collect(result._host.get_name(), report)  # pylint: disable=protected-access

    def _args(self, **extra):
        return dict(self._report_args, paused=self._paused or self._report_args.get("paused"), **extra)

    def _collect(self, host, report):
        """Keep a venv's record and rewrite its host's files (the latest record per venv)."""
        kind, record = report.get("kind"), report.get("record")
        if kind == "preflight" and isinstance(report.get("host_record"), dict):
            verdicts = self._venvs.setdefault(("preflight", report["report_dir"], host), {})
            verdicts[report["host_record"].get("path")] = report["host_record"]
            write_preflight(report["report_dir"], host, report.get("run_id"), report.get("target"),
                            list(verdicts.values()), report.get("remediation"))
            return
        if kind not in ("upgrade", "drill") or not isinstance(record, dict):
            return
        venvs = self._venvs.setdefault((kind, report["report_dir"], host), {})
        if kind == "drill":
            venvs[record.get("path")] = record
            write_drill(report["report_dir"], host, record.get("run_id"), list(venvs.values()))
            return
        record = dict(record)
        logs = evidence_files(host, report)
        if logs:
            record["evidence"] = sorted(logs)
        if report.get("installer_log") and report.get("ledger"):
            record["installer_log"] = installer_log_name(host, report["ledger"])
        venvs[record.get("path")] = record
        write_host(report["report_dir"], host, record.get("run_id"), list(venvs.values()), logs)
        if record.get("result") in ("rolled_back", "failed"):
            self._send("rollback", rollback=dict(record, host=host))

    def _batch_starts(self, result, report, batch):
        """A fleet_report task ran: the run starts, or the batch before this one is done."""
        first = self._webhooks is None
        if first:
            self._webhooks = self._settings(result)
        else:
            self._batch_done(report)
        self._batches += 1
        self._batch = dict(stage=batch.get("stage") or "batch", number=self._batches, hosts=batch.get("hosts") or [])
        if first:
            self._send("run_start", report, batch=self._batch)

    def _batch_done(self, report):
        """Send ``canary_done`` or ``batch_done`` for the batch that ran, if one did."""
        if self._batch is not None:
            self._send("%s_done" % self._batch["stage"], report, batch=self._batch)
            self._batch = None

    def _settings(self, result):
        """``python_upgrade_notify`` and ``python_upgrade_notify_timeout`` of the host that ran the first
        fleet_report task, templated here on the controller (never passed through a task's result)."""
        settings = dict(targets=[], timeout=_notify.DEFAULT_TIMEOUT)
        try:
            play = self._play
            host, task = result._host, result._task  # pylint: disable=protected-access
            variables = play.get_variable_manager().get_vars(play=play, host=host, task=task)
            templar = Templar(loader=play.get_loader(), variables=variables)
            value = _plain(templar.template(variables.get("python_upgrade_notify", [])))
            timeout = float(_plain(templar.template(variables.get("python_upgrade_notify_timeout",
                                                                  _notify.DEFAULT_TIMEOUT))))
        except Exception as exc:  # pylint: disable=broad-except  # a template error may quote the URL
            self._display.warning("python_upgrade_notify or python_upgrade_notify_timeout cannot be read (%s); no "
                                  "notification is sent" % type(exc).__name__)
            return settings
        settings["targets"], problems = _notify.targets(value)
        for problem in problems:
            self._display.warning(problem)
        if timeout > 0:
            settings["timeout"] = timeout
        else:
            self._display.warning("python_upgrade_notify_timeout must be above 0; %d s it is" % settings["timeout"])
        return settings

    def _send(self, event, report=None, **detail):
        if not self._webhooks or not self._webhooks["targets"] or not self._report_args:
            return
        _notify.notify(self._webhooks["targets"], event, report or build(**self._args()), self._display.warning,
                       timeout=self._webhooks["timeout"], **detail)

    def v2_playbook_on_stats(self, stats):
        if not self._report_args:
            return
        args = self._args(finished=True, failed=sorted(h for h, n in stats.failures.items() if n),
                          unreachable=sorted(h for h, n in stats.dark.items() if n))
        report = render(**args)
        self._display.display("Fleet report (%s): %s" % (report["status"], args["report_dir"] + "/report.md"),
                              stderr=True)
        self._batch_done(report)
        self._send("run_end", report)
