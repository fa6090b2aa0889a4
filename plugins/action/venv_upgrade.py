# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of ``oxzep7.python.venv_upgrade``: the run lock's owner, as for ``venv_lock``."""

from __future__ import annotations

from ansible_collections.oxzep7.python.plugins.action.venv_lock import ActionModule as _LockAction


class ActionModule(_LockAction):
    """Add the lock's owner and take over the lock of a run that is gone (see ``venv_lock``)."""

    MODULE = "oxzep7.python.venv_upgrade"
