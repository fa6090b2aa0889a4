# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The base of the actions that run on the controller alone (``fleet_report``, ``maintenance_window``)."""

from __future__ import annotations

from ansible.plugins.action import ActionBase


class ControllerAction(ActionBase):
    """An action that runs on the controller alone: no connection to the host, no files to transfer.

    A subclass sets ``ARGUMENT_SPEC`` (a dict, written as a module's ``argument_spec``) and implements
    :meth:`act`, which gets the task's arguments already checked against it.
    """

    TRANSFERS_FILES = False
    _requires_connection = False
    ARGUMENT_SPEC = {}

    def run(self, tmp=None, task_vars=None):
        """Check the task's arguments against ``ARGUMENT_SPEC`` and hand them to :meth:`act`.

        :raises AnsibleActionFail: when the arguments do not match ``ARGUMENT_SPEC`` (Ansible fails the task).
        """
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)
        return self.act(result, args, task_vars)

    def act(self, result, args, task_vars):
        """Do the action's work.

        :param result: the result dict that ``ActionBase.run`` started (dict); fill it in and return it.
        :param args: the task's arguments, checked against ``ARGUMENT_SPEC``, with their defaults (dict).
        :param task_vars: the task's variables (dict).
        :returns: ``result`` (dict).
        """
        raise NotImplementedError
