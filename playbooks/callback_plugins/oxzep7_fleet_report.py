# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's fleet_report callback, enabled for the playbooks in this directory.

Ansible loads callback plugins found beside a playbook; this one needs no configuration,
so ``ansible-playbook playbooks/upgrade.yml`` always ends with the fleet report written.
"""

from __future__ import annotations

from ansible_collections.oxzep7.python.plugins.callback.fleet_report import CallbackModule as _FleetReport


class CallbackModule(_FleetReport):
    """Same as ``oxzep7.python.fleet_report``, enabled without configuration."""

    CALLBACK_NAME = "oxzep7_fleet_report"
    CALLBACK_NEEDS_ENABLED = False
