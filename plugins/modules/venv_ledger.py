#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: venv_ledger
short_description: Read a venv's upgrade ledger, or append a record to it
version_added: 0.1.0
description:
  - The ledger C(<state_dir>/<slug>/ledger.jsonl) holds one JSON line per step of every run, with
    time, run id, step, from, to, result, seconds. It is the upgrade history of the venv and the
    basis for resuming a run.
  - With O(record), appends it in one write (concurrent writers never mix lines). A ledger is a
    log, so appending reports C(changed=false); RV(recorded) tells what was written.
author: oxzep7.python contributors (@oxzep7)
extends_documentation_fragment:
  - oxzep7.python.venv
options:
  record:
    description:
      - The record to append, usually with C(step), C(result), C(from), C(to) and C(reason) keys.
        O(run_id) fills C(run_id) when the record has none.
    type: dict
  report:
    description:
      - Data for the controller's fleet report only (for example C(report_dir) and C(installer_log)); never
        written on the host. With O(record), the result carries RV(oxzep7_report), which the
        C(oxzep7.python.fleet_report) callback collects. Also in check mode, where nothing is appended.
    type: dict
    default: {}
  last:
    description: Return only the last N records. C(0) returns all.
    type: int
    default: 20
attributes:
  check_mode:
    support: full
    description: Reads; appends nothing in check mode.
  diff_mode:
    support: none
    description: A log append has no diff.
"""

EXAMPLES = r"""
- name: Record the outcome of a run
  oxzep7.python.venv_ledger:
    path: /srv/app/venv
    run_id: "{{ run_id }}"
    record:
      step: upgrade
      result: upgraded

- name: Read the history
  oxzep7.python.venv_ledger:
    path: /srv/app/venv
    last: 0
  register: history
"""

RETURN = r"""
ledger:
  description: Path of the ledger file.
  returned: always
  type: str
recorded:
  description: The record appended, with time and stable_path added; null when nothing was appended.
  returned: always
  type: dict
oxzep7_report:
  description:
    - For the C(oxzep7.python.fleet_report) callback, with O(record) only; the callback collects the results that
      carry this key. O(report) plus C(kind) (the record's C(step)), C(record) (what was appended, or in check
      mode what would have been) and C(ledger) (RV(ledger)).
  returned: when O(record) is given
  type: dict
entries:
  description: The ledger's records, oldest first (the last O(last) of them).
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.oxzep7.python.plugins.module_utils._layout import Layout
from ansible_collections.oxzep7.python.plugins.module_utils._modules import VENV_SPEC, main, record_outcome, spec
from ansible_collections.oxzep7.python.plugins.module_utils._state import ledger_path, read_ledger


def run_venv_ledger(module):
    p = module.params
    stable = Layout(p["path"]).stable
    entries = read_ledger(p["state_dir"], stable)
    result = dict(changed=False, ledger=ledger_path(p["state_dir"], stable), recorded=None)
    if p["record"]:
        result.update(record_outcome(module, stable))
        entries.extend([result["recorded"]] if result["recorded"] else [])
    result["entries"] = entries[-p["last"]:] if p["last"] else entries
    return result


def run():
    module = AnsibleModule(
        argument_spec=spec(VENV_SPEC, record=dict(type="dict"), report=dict(type="dict", default={}),
                           last=dict(type="int", default=20)),
        supports_check_mode=True)
    main(module, run_venv_ledger)


if __name__ == "__main__":
    run()
