# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

# The documentation is in plugins/modules/fleet_report.py.
import os

from ansible.plugins.action import ActionBase
from ansible_collections.oxzep7.python.plugins.plugin_utils._report import render

ARGUMENT_SPEC = dict(
    report_dir=dict(type="path", required=True),
    run_id=dict(type="str", required=True),
    hosts=dict(type="list", elements="str", required=True),
    target=dict(type="str"),
    paused=dict(type="dict"),
    finished=dict(type="bool", default=False),
)


class ActionModule(ActionBase):
    """Render the fleet report from the per-host results."""

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        report = render(**args)
        result.update(changed=False, status=report["status"], totals=report["totals"],
                      files=[os.path.join(args["report_dir"], n) for n in ("report.json", "report.md", "report.html")],
                      oxzep7_fleet_report=args)
        return result
