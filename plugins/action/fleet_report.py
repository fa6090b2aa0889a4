# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

# The documentation is in plugins/modules/fleet_report.py.
import os

from ansible.inventory.manager import InventoryManager
from ansible_collections.oxzep7.python.plugins.module_utils._common import Oxzep7Error
from ansible_collections.oxzep7.python.plugins.plugin_utils._action import ControllerAction
from ansible_collections.oxzep7.python.plugins.plugin_utils._report import as_ended, build, summary


class ActionModule(ControllerAction):
    """Read the fleet report's state from the per-host files; the fleet_report callback writes the report."""

    ARGUMENT_SPEC = dict(
        report_dir=dict(type="path", required=True),
        run_id=dict(type="str", required=True),
        hosts=dict(type="list", elements="str", required=True),
        target=dict(type="str"),
        paused=dict(type="dict"),
        finished=dict(type="bool", default=False),
        failed=dict(type="list", elements="str", default=[]),
        stage=dict(type="str", choices=["canary", "batch"], default="batch"),
        batch=dict(type="list", elements="str", default=[]),
    )

    def act(self, result, args, task_vars):
        batch = dict(stage=args.pop("stage"), hosts=args.pop("batch"))
        args["hosts"] = self._within_limit(args["hosts"], task_vars)
        try:
            report = build(**args)
            # the run as it stands should it end now, for set_stats: it may stop before the next call
            ending = report if args["finished"] else as_ended(report, args["report_dir"], args["hosts"])
        except Oxzep7Error as exc:
            result.update(failed=True, msg=exc.msg)
            return result
        result.update(changed=False, status=report["status"], totals=report["totals"],
                      files=[os.path.join(args["report_dir"], n) for n in ("report.json", "report.md", "report.html")],
                      summary=summary(ending, args["report_dir"]), oxzep7_fleet_report=args, oxzep7_batch=batch)
        return result

    def _within_limit(self, hosts, task_vars):
        """``hosts`` without the ones the run's ``--limit`` (``ansible_limit``) leaves out.

        The limit is read with Ansible's ``InventoryManager.subset`` over the inventory's groups,
        as the ``inventory_hostnames`` lookup reads a pattern: names, groups, globs, regexes,
        ``!`` and ``&``, and ``@file``.
        """
        if not task_vars.get("ansible_limit"):
            return hosts
        inventory = InventoryManager(self._loader, parse=False)
        for group, members in task_vars["groups"].items():
            inventory.add_group(group)
            for host in members:
                inventory.add_host(host, group=group)
        inventory.subset(task_vars["ansible_limit"])
        allowed = set(h.name for h in inventory.get_hosts("all"))
        return [h for h in hosts if h in allowed]
