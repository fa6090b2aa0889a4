#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: venv_snapshot
short_description: Snapshot a live venv (lock, archive and checksums), or remove a snapshot
version_added: 0.1.0
description:
  - Writes into C(<backup_dir>/<slug>/<snapshot_id>/) (mode 0700) the lock (exact pins), the
    inspection facts (C(venv.json)), pyvenv.cfg, an archive of the live release and a C(SHA256SUMS)
    file covering all of them.
  - The snapshot is written under a C(.partial) name and renamed when complete; on any failure (a full
    disk) the partial copy is removed and the error names the snapshot directory.
  - A snapshot of the same id still being written (by the writer a M(oxzep7.python.venv_upgrade) pass left) is
    waited for, then found whole (not changed).
  - Refuses a venv holding a member M(oxzep7.python.venv_restore) would refuse (a setuid file, a device),
    so that every snapshot taken can be restored.
  - A complete snapshot with the same id and intact checksums is left alone (no change).
  - Keeps the O(keep) newest snapshots of the stable path and removes older ones.
author: oxzep7.python contributors (@oxzep7)
extends_documentation_fragment:
  - oxzep7.python.venv
  - oxzep7.python.venv.work
  - oxzep7.python.venv.backup
options:
  snapshot_id:
    description:
      - Name of the snapshot. Default is C(<current release id or plain>-<12 hex digits of the lock's
        sha256>), so the same live venv always gives the same snapshot.
      - Required with O(state=absent). Letters, digits, C(.), C(_) and C(-) only, never a path.
    type: str
  compression:
    description:
      - Compression of the archive.
      - C(zstd) pipes the tar stream through the C(zstd) program (C(zstd -3 -T0), all cores), which must
        be on the host; C(auto) uses it when it is there and C(gz) at level 1 otherwise; C(gz) is gzip
        level 6, the default before.
      - M(oxzep7.python.venv_restore) and O(state=absent) take any of them, whatever this is now.
    type: str
    choices: [auto, zstd, gz, xz, bz2, none]
    default: auto
  keep:
    description: How many snapshots of this stable path to keep.
    type: int
    default: 5
  state:
    description: C(present) takes the snapshot, C(absent) removes the one named by O(snapshot_id).
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode:
    support: full
    description: Reports whether a snapshot would be taken or removed; writes nothing.
  diff_mode:
    support: full
    description: Shows the snapshot path before and after.
"""

EXAMPLES = r"""
- name: Snapshot the app venv before touching it
  oxzep7.python.venv_snapshot:
    path: /srv/app/venv
  register: snapshot

- name: Remove an old snapshot
  oxzep7.python.venv_snapshot:
    path: /srv/app/venv
    snapshot_id: plain-0123456789ab
    state: absent
"""

RETURN = r"""
snapshot_id:
  description: Name of the snapshot.
  returned: always
  type: str
path:
  description: Directory of the snapshot.
  returned: always
  type: str
release_id:
  description: Release id of the live venv when it was taken; null for a plain venv.
  returned: state=present
  type: str
lock_path:
  description: The lock file inside the snapshot, usable as the C(lock) of venv_rebuild.
  returned: state=present
  type: str
archive:
  description: The archive of the release.
  returned: state=present
  type: str
archive_bytes:
  description: Size of the archive in bytes; null in check mode before a snapshot exists.
  returned: state=present
  type: int
removed:
  description: Ids of older snapshots removed by the retention.
  returned: state=present
  type: list
  elements: str
retention_error:
  description:
    - Why the retention (O(keep)) removed nothing after the snapshot was made whole, for example another run
      holding the snapshot directory; null when it ran. The snapshot itself is complete either way.
  returned: state=present
  type: str
state:
  description:
    - C(complete); this module always waits for the archive. M(oxzep7.python.venv_upgrade) returns the same
      dict with C(writing) when the archive was still being written as its pass ended.
  returned: state=present
  type: str
seconds:
  description: Wall time spent, in seconds.
  returned: state=present
  type: float
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.oxzep7.python.plugins.module_utils._modules import VENV_SPEC, WORK_SPEC, main, spec
from ansible_collections.oxzep7.python.plugins.module_utils._snapshot import run_venv_snapshot


def run():
    module = AnsibleModule(
        argument_spec=spec(VENV_SPEC, WORK_SPEC,
                           backup_dir=dict(type="path", default="/var/backups/oxzep7-python"),
                           snapshot_id=dict(type="str"),
                           compression=dict(type="str", default="auto", choices=["auto", "zstd", "gz", "xz", "bz2", "none"]),
                           keep=dict(type="int", default=5),
                           state=dict(type="str", default="present", choices=["present", "absent"])),
        required_if=[("state", "absent", ["snapshot_id"])],
        supports_check_mode=True)
    main(module, run_venv_snapshot)


if __name__ == "__main__":
    run()
