#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: venv_lock
short_description: Hold a venv's lock for one run, so two runs never change it at once
version_added: 0.1.0
description:
  - The lock is the file C(<state_dir>/<slug>/lock), created atomically (complete, under a temporary name,
    then linked into place) and naming the run id and its owner (controller host, C(ansible-playbook)
    process id, user, and in an AWX or AAP job the job, from C(awx_job_id), C(awx_job_template_id) and
    C(AWX_HOST)). The same run of the same owner taking it again is a no-op, so a resumed run goes on;
    the same run id from another controller process is another run.
  - The modules that change the venv refuse it while the lock names another run, and stop when it changes
    under them (see O(oxzep7.python.venv_rebuild#module:lock_timeout)).
  - When another run holds it, the task fails at once with who holds it since when.
  - A lock left behind by a run whose C(ansible-playbook) process is gone (killed, say) is taken over
    when that run was started from the same controller (the action plugin checks that process
    there).
  - A lock left behind by an AWX job is taken over by a later job of the same job template on the same
    AWX (a relaunch, in a new container), since AWX starts a template's job only once its previous job ended,
    unless the template allows concurrent jobs (keep that off). A job of another template, or of another
    AWX, is refused. Runs from another controller must be cleared by hand.
  - O(state=absent) removes the lock if this run of this owner holds it. With O(record) it first appends the
    run's outcome to the venv's ledger, in the same call (the upgrade role ends each venv so); nothing is
    appended while another run holds the lock, since the ledger then belongs to that run.
  - A lock file that is not a JSON object is an error naming the file.
author: oxzep7.python contributors (@oxzep7)
extends_documentation_fragment:
  - oxzep7.python.venv
options:
  run_id:
    description: The run that takes or releases the lock.
    type: str
    required: true
  state:
    description: C(present) takes the lock, C(absent) releases it.
    type: str
    choices: [present, absent]
    default: present
  owner:
    description: Who holds it, stored in the lock file. The action plugin fills it in.
    type: dict
    default: {}
  steal:
    description:
      - What the lock file of a dead holder says; the lock is taken over only while the file still says
        exactly that. The action plugin fills it in.
    type: dict
  record:
    description:
      - With O(state=absent) only, the record to append to the ledger before the lock is released, as
        O(oxzep7.python.venv_ledger#module:record) appends it (O(run_id) fills C(run_id) when it has none).
        The lock is released even when the record cannot be written; the task then fails with that error.
    type: dict
  report:
    description:
      - With O(record), data for the controller's fleet report only, as
        O(oxzep7.python.venv_ledger#module:report); never written on the host.
    type: dict
    default: {}
attributes:
  check_mode:
    support: full
    description: Reports whether it would take or release the lock; writes nothing.
  diff_mode:
    support: full
    description: Shows the run id holding the lock before and after.
  action:
    support: full
    description: The action plugin adds the owner and takes over the lock of a run that is gone (see above).
"""

EXAMPLES = r"""
- name: Lock the venv for this run
  oxzep7.python.venv_lock:
    path: /srv/app/venv
    run_id: "{{ run_id }}"

- name: Release it
  oxzep7.python.venv_lock:
    path: /srv/app/venv
    run_id: "{{ run_id }}"
    state: absent

- name: Record the outcome and release the lock, in one call
  oxzep7.python.venv_lock:
    path: /srv/app/venv
    run_id: "{{ run_id }}"
    state: absent
    record:
      step: upgrade
      result: upgraded
"""

RETURN = r"""
lock_path:
  description: The lock file.
  returned: always
  type: str
held:
  description: What the lock file says now (run_id, owner, acquired as epoch seconds); on failure, the holder.
  returned: always
  type: dict
stolen:
  description: The lock of the run that is gone that was taken over, or null.
  returned: always
  type: dict
recorded:
  description:
    - With O(state=absent), the record appended to the ledger, with time and stable_path added; null when nothing
      was appended (no O(record), check mode, or another run holds the lock).
  returned: when O(state=absent)
  type: dict
oxzep7_report:
  description:
    - For the C(oxzep7.python.fleet_report) callback, when O(record) was appended (or would be, in check mode);
      O(report) plus C(kind) (the record's C(step)), C(record) (what was appended, or would have been) and
      C(ledger) (the ledger's path on the host).
  returned: when O(state=absent) and O(record) is given, unless another run holds the lock
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.oxzep7.python.plugins.module_utils._common import Oxzep7Error
from ansible_collections.oxzep7.python.plugins.module_utils._layout import Layout
from ansible_collections.oxzep7.python.plugins.module_utils._modules import (
    VENV_SPEC, _diff, held_lock, main, record_outcome, spec)
from ansible_collections.oxzep7.python.plugins.module_utils._state import holds, lock_path, read_lock, release_lock


def run_venv_lock(module):
    p = module.params
    stable = Layout(p["path"]).stable
    if p["record"] is not None and p["state"] != "absent":
        raise Oxzep7Error("record goes with state=absent (the outcome is recorded when the lock is released)")
    if p["state"] == "absent":
        held = read_lock(lock_path(p["state_dir"], stable))
        try:
            recorded = record_outcome(module, stable) if p["record"] and (
                held is None or holds(held, p["run_id"], p["owner"])) else dict(recorded=None)
        finally:  # a ledger that cannot be written (a full disk) must not keep the venv locked
            result = release_lock(p["state_dir"], stable, p["run_id"], p["owner"], check_mode=module.check_mode)
        result.update(recorded)
        result.update(stolen=None, diff=_diff("lock", p["run_id"], result["changed"], removed=True))
        return result
    result = held_lock(module, stable)
    result["diff"] = _diff("lock", p["run_id"], result["changed"])
    return result


def run():
    module = AnsibleModule(
        argument_spec=spec(VENV_SPEC,
                           run_id=dict(type="str", required=True),
                           state=dict(type="str", default="present", choices=["present", "absent"]),
                           owner=dict(type="dict", default={}),
                           steal=dict(type="dict"),
                           record=dict(type="dict"),
                           report=dict(type="dict", default={})),
        supports_check_mode=True)
    main(module, run_venv_lock)


if __name__ == "__main__":
    run()
