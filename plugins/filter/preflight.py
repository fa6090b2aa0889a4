# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

# The documentation is in preflight_path.yml and remediation_markdown.yml beside this file.
# The stepwise path is composed on the host, by venv_preflight; the filter preflight_path gives the same.
from ansible_collections.oxzep7.python.plugins.module_utils._verdict import stepwise
from ansible_collections.oxzep7.python.plugins.plugin_utils._remediation import markdown


class FilterModule:
    """The preflight role's stepwise path and the Remediation section of its report."""

    def filters(self):
        return {"preflight_path": stepwise, "remediation_markdown": markdown}
