# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of ``oxzep7.python.venv_lock`` (and ``venv_upgrade``, which takes the same lock):
the owner, and dead runs of this controller."""

from __future__ import annotations

import getpass
import os
import socket

from ansible.plugins.action import ActionBase


def _alive(pid):
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, TypeError):
        return True  # someone else's process, or no pid recorded: assume it runs
    return True


class ActionModule(ActionBase):
    """Add the owner (this controller, its ansible-playbook pid, user) and take over dead locks."""

    MODULE = "oxzep7.python.venv_lock"

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        # Workers are forked from the ansible-playbook process: its pid is our parent's.
        me = dict(controller=socket.gethostname(), pid=os.getppid(), user=getpass.getuser())
        args.setdefault("owner", me)
        answer = self._execute_module(module_name=self.MODULE, module_args=args, task_vars=task_vars)
        held = answer.get("held") or {}
        owner = held.get("owner") if isinstance(held.get("owner"), dict) else {}
        if answer.get("failed") and held and owner.get("controller") == me["controller"] \
                and not _alive(owner.get("pid")):
            args["steal"] = held
            answer = self._execute_module(module_name=self.MODULE, module_args=args,
                                          task_vars=task_vars)
        result.update(answer)
        return result
