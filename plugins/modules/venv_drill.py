#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: venv_drill
short_description: Rehearse a restore of a venv's latest snapshot, leaving the venv as it was
version_added: 0.1.0
description:
  - Restores the venv's newest snapshot (or O(snapshot)) into a scratch release C(drill-<snapshot id>) beside
    the live one, as M(oxzep7.python.venv_restore) does (every checksum of C(SHA256SUMS), C(snapshot.json) and
    every archive member checked first), then runs the venv's own gates on it, as M(oxzep7.python.venv_verify)
    does (the dependency check, O(imports), O(smoke_commands), O(test_command)), plus the restored set against
    the lock the snapshot recorded. The scratch release is never marked verified and is removed at the end,
    whether the drill passed or not.
  - Without O(snapshot), a snapshot still being written (the one an upgrade left its writer to finish) is
    waited for first, so the drill takes the newest.
  - The stable path, the live release and the services are never touched, and the scratch release gets no
    bytecode (C(PYTHONDONTWRITEBYTECODE=1)). A scratch release left by a killed drill is removed first.
  - A drill that fails (a damaged snapshot, a missing interpreter, a gate) fails the task with a message
    naming the file or the gates.
  - With O(run_id), one ledger record, step C(drill), result C(passed) or C(failed) (with the reason), from the
    snapshot id to the scratch release id, and the seconds. The result (or the failure) carries
    RV(oxzep7_report), from which the C(oxzep7.python.fleet_report) callback writes the drill report.
  - Smoke commands run with the scratch release's C(bin) first on PATH. A console script of the venv (a file in
    its C(bin)) starts the interpreter its shebang names, the stable path's, so it would test the live release;
    name the module instead (C([python, -m, app.selftest])).
author: oxzep7.python contributors (@oxzep7)
extends_documentation_fragment:
  - oxzep7.python.venv
  - oxzep7.python.venv.work
  - oxzep7.python.venv.backup
  - oxzep7.python.venv.installer
  - oxzep7.python.venv.gates
options:
  snapshot:
    description: Snapshot id under O(backup_dir), or the absolute path of a snapshot directory. Default is the newest.
    type: str
  report:
    description:
      - Data for the controller's drill report only (C(report_dir)); never written on the host. Returned in
        RV(oxzep7_report), also when the drill fails.
    type: dict
    default: {}
attributes:
  check_mode:
    support: partial
    description: Checks the snapshot; see O(ignore:details).
    details: Checks the snapshot (checksums, C(snapshot.json), every archive member) and restores nothing, so no gate runs.
  diff_mode:
    support: none
    description: Nothing stays changed; the ledger is a log.
notes:
  - C(changed) is always false. The scratch release is gone when the module returns, and a ledger record is a log
    line, as with M(oxzep7.python.venv_ledger).
seealso:
  - module: oxzep7.python.venv_restore
  - module: oxzep7.python.venv_verify
"""

EXAMPLES = r"""
- name: Rehearse a restore of the newest snapshot
  oxzep7.python.venv_drill:
    path: /srv/app/venv
    run_id: "{{ run_id }}"
    imports: [myapp, flask]
    smoke_commands:
      - [python, -m, myapp.selftest]
    report:
      report_dir: "{{ playbook_dir }}/reports/{{ run_id }}/drill"
"""

RETURN = r"""
snapshot_id:
  description: Id of the snapshot restored.
  returned: always
  type: str
release_id:
  description: Id of the scratch release (C(drill-<snapshot id>)).
  returned: always
  type: str
release_path:
  description: Directory of the scratch release (removed again).
  returned: always
  type: str
python_version:
  description: Python version of the snapshot's venv.
  returned: always
  type: str
passed:
  description: Whether every gate passed; null in check mode.
  returned: always
  type: bool
gates:
  description: One result per gate, in order, as M(oxzep7.python.venv_verify) returns them.
  returned: always
  type: list
  elements: dict
failed_gates:
  description: Names of the gates that failed.
  returned: always
  type: list
  elements: str
seconds:
  description: Seconds of C(restore), C(verify) and the C(total).
  returned: always
  type: dict
removed:
  description: Whether the scratch release was removed (false in check mode, where none is made).
  returned: always
  type: bool
oxzep7_report:
  description:
    - For the C(oxzep7.python.fleet_report) callback. O(report) plus C(kind) (C(drill)), C(ledger) and C(record)
      (C(step) C(drill), C(path), C(result) C(passed), C(failed) or C(checked) in check mode, C(reason),
      C(snapshot_id), C(release_id), C(python_version), C(failed_gates), C(seconds), C(run_id), C(started)).
  returned: always, also when the drill fails
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.oxzep7.python.plugins.module_utils._drill import run_venv_drill
from ansible_collections.oxzep7.python.plugins.module_utils._installer import INSTALLER_SPEC
from ansible_collections.oxzep7.python.plugins.module_utils._modules import VENV_SPEC, WORK_SPEC, main, spec
from ansible_collections.oxzep7.python.plugins.module_utils._release import GATES_SPEC
from ansible_collections.oxzep7.python.plugins.module_utils._state import DEFAULT_BACKUP_DIR


def run():
    module = AnsibleModule(
        argument_spec=spec(VENV_SPEC, WORK_SPEC, INSTALLER_SPEC, GATES_SPEC,
                           backup_dir=dict(type="path", default=DEFAULT_BACKUP_DIR),
                           snapshot=dict(type="str"),
                           report=dict(type="dict", default={})),
        supports_check_mode=True)
    main(module, run_venv_drill)


if __name__ == "__main__":
    run()
