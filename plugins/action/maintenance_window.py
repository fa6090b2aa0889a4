# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

# The documentation is in plugins/modules/maintenance_window.py.
import datetime

from ansible_collections.oxzep7.python.plugins.plugin_utils._action import ControllerAction
from ansible_collections.oxzep7.python.plugins.plugin_utils._window import WindowError, evaluate


def _read_windows(path):
    """The list of windows in a YAML or JSON file (read anew before each batch)."""
    import yaml
    with open(path) as fh:
        data = yaml.safe_load(fh) or []
    if not isinstance(data, list) or not all(isinstance(w, dict) for w in data):
        raise WindowError("%s must hold a list of windows" % path)
    return data


class ActionModule(ControllerAction):
    """Evaluate the maintenance windows on the controller."""

    ARGUMENT_SPEC = dict(
        windows=dict(type="list", elements="dict", default=[], options=dict(
            days=dict(type="list", elements="str"), start=dict(type="str", required=True),
            end=dict(type="str", required=True), timezone=dict(type="str", default="UTC"))),
        windows_file=dict(type="path"),
        batch_seconds=dict(type="int", default=0),
    )

    def act(self, result, args, task_vars):
        now = datetime.datetime.now(datetime.timezone.utc)
        try:
            windows = list(args["windows"]) + (_read_windows(args["windows_file"]) if args["windows_file"] else [])
            verdict = evaluate(windows, now, args["batch_seconds"])
        except (WindowError, OSError, ValueError) as exc:
            result.update(failed=True, msg="bad maintenance window: %s" % exc)
            return result
        result.update(verdict, changed=False, now=now.isoformat())
        return result
