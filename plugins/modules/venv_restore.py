#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: venv_restore
short_description: Restore a venv snapshot into a new release directory
version_added: 0.1.0
description:
  - Checks the snapshot as untrusted input before anything is written. C(SHA256SUMS) must list every
    file of the snapshot directory exactly once, one C(<sha256>  <name>) line each, and every sha256
    must match; C(snapshot.json) must be the object M(oxzep7.python.venv_snapshot) writes.
  - Refuses unsafe archive members on every Python, with tarfile's C(data) filter as a second check
    where the host Python has it. Refused are absolute names and C(..); devices, FIFOs and other types;
    a member that appears twice, or is or lies below an earlier symbolic link; hard links other than
    to an earlier regular file, or through a symbolic link; setuid files and directories, setgid or
    sticky files, world-writable directories. Symbolic links may point anywhere (a venv's
    C(bin/python3.X) points at its interpreter). World-writable files are kept (uv makes C(.lock) 0666).
  - Unpacks the archive into a new release beside the live one, with the owners and modes of the
    archive; a damaged archive fails with a message naming it and leaves nothing behind.
  - The new release is marked C(built), not verified, and is not switched to; run
    M(oxzep7.python.venv_verify) and M(oxzep7.python.venv_switch) next.
  - Refuses a snapshot taken of another stable path (its scripts name that path) and one whose
    interpreter directory is missing.
author: oxzep7.python contributors (@oxzep7)
extends_documentation_fragment:
  - oxzep7.python.venv
  - oxzep7.python.venv.work
  - oxzep7.python.venv.backup
options:
  snapshot:
    description: Snapshot id under O(backup_dir), or the absolute path of a snapshot directory.
    type: str
    required: true
  release_id:
    description: Id of the new release. Default C(restored-<snapshot id>).
    type: str
attributes:
  check_mode:
    support: full
    description: Checks the snapshot and its members and reports whether it would restore; writes nothing.
  diff_mode:
    support: full
    description: Shows the release before and after.
"""

EXAMPLES = r"""
- name: Restore a snapshot after the old release was deleted
  oxzep7.python.venv_restore:
    path: /srv/app/venv
    snapshot: plain-0123456789ab
  register: restored

- name: Verify and switch to it
  oxzep7.python.venv_verify:
    path: /srv/app/venv
    release: "{{ restored.release_id }}"
"""

RETURN = r"""
release_id:
  description: Id of the restored release.
  returned: always
  type: str
release_path:
  description: Directory of the restored release.
  returned: always
  type: str
snapshot_id:
  description: Id of the snapshot restored.
  returned: always
  type: str
python_version:
  description: Python version of the snapshot's venv.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.oxzep7.python.plugins.module_utils._modules import VENV_SPEC, WORK_SPEC, main, spec
from ansible_collections.oxzep7.python.plugins.module_utils._snapshot import run_venv_restore


def run():
    module = AnsibleModule(
        argument_spec=spec(VENV_SPEC, WORK_SPEC,
                           backup_dir=dict(type="path", default="/var/backups/oxzep7-python"),
                           snapshot=dict(type="str", required=True),
                           release_id=dict(type="str")),
        supports_check_mode=True)
    main(module, run_venv_restore)


if __name__ == "__main__":
    run()
