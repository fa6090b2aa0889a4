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
  - Remembers the arguments of the last M(oxzep7.python.fleet_report) and M(oxzep7.python.maintenance_window)
    results of the run, and when the run ends (also when the failure budget or a failure stopped it
    early) writes the report again with the final state of every host, failed and unreachable hosts
    included, and the run's final status (C(completed), C(completed_with_failures), C(paused) or C(stopped)).
  - The collection's playbooks enable it by themselves (a copy beside them). In your own playbooks,
    enable it with C(callbacks_enabled = oxzep7.python.fleet_report) in C(ansible.cfg).
author: oxzep7.python contributors (@oxzep7)
requirements:
  - A task of the run calls M(oxzep7.python.fleet_report); without one, this callback does nothing.
"""

from ansible.plugins.callback import CallbackBase
from ansible_collections.oxzep7.python.plugins.plugin_utils._report import render


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

    def v2_runner_on_ok(self, result):
        data = result._result  # pylint: disable=protected-access
        if "oxzep7_fleet_report" in data:
            self._report_args = dict(data["oxzep7_fleet_report"])
        if data.get("state") in ("closed", "closing") and "next_open" in data and data.get("open") is False:
            self._paused = dict((k, data.get(k)) for k in ("state", "reason", "closes_at", "next_open", "now"))

    def v2_playbook_on_stats(self, stats):
        if not self._report_args:
            return
        args = dict(self._report_args, finished=True, paused=self._paused or self._report_args.get("paused"),
                    failed=sorted(h for h, n in stats.failures.items() if n),
                    unreachable=sorted(h for h, n in stats.dark.items() if n))
        report = render(**args)
        self._display.display("Fleet report (%s): %s" % (report["status"], args["report_dir"] + "/report.md"),
                              stderr=True)
