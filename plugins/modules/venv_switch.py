#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: venv_switch
short_description: Point a venv's stable path at a verified release, atomically
version_added: 0.1.0
description:
  - Makes the stable path a symlink to C(<releases_dir>/<release>) by creating the symlink under a
    temporary name and renaming it over the stable path, so every process sees either the old or
    the new release, never neither.
  - The first time, a plain venv directory is converted; it becomes an adopted, verified release and
    the stable path a symlink to it, both in one C(renameat2(RENAME_EXCHANGE)) (Linux 3.15 and later).
    Its scripts keep working because they name the stable path.
  - Only verified releases are switched to. O(release=previous) picks the newest verified release
    other than the current one, so a switch back is one call.
  - Afterwards removes unverified releases and old verified ones beyond O(keep_releases); the current
    release and the rollback target are always kept.
author: oxzep7.python contributors (@oxzep7)
extends_documentation_fragment:
  - oxzep7.python.venv
  - oxzep7.python.venv.work
options:
  release:
    description: Release id to switch to, or C(previous).
    type: str
    required: true
  keep_releases:
    description:
      - Verified releases to keep, the current one included. C(0) removes nothing.
      - The rollback target (newest verified before the current) is kept whatever the number.
    type: int
    default: 3
attributes:
  check_mode:
    support: full
    description: Reports the switch, the conversion and the removals it would make.
  diff_mode:
    support: full
    description: Shows the symlink target before and after.
"""

EXAMPLES = r"""
- name: Switch to the new release
  oxzep7.python.venv_switch:
    path: /srv/app/venv
    release: 20261121T020000Z-cp312
  register: switched

- name: Switch back
  oxzep7.python.venv_switch:
    path: /srv/app/venv
    release: previous
"""

RETURN = r"""
previous_release:
  description: Release id the stable path pointed at before (the adopted id on a conversion).
  returned: always
  type: str
current_release:
  description: Release id it points at now.
  returned: always
  type: str
converted_release:
  description: Id given to the plain venv directory adopted as a release on the first switch; null otherwise.
  returned: always
  type: str
release_path:
  description: Directory of the current release.
  returned: always
  type: str
removed_releases:
  description: Ids of releases removed by the retention.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.oxzep7.python.plugins.module_utils._modules import VENV_SPEC, WORK_SPEC, main, spec
from ansible_collections.oxzep7.python.plugins.module_utils._release import run_venv_switch


def run():
    module = AnsibleModule(
        argument_spec=spec(VENV_SPEC, WORK_SPEC,
                           release=dict(type="str", required=True),
                           keep_releases=dict(type="int", default=3)),
        supports_check_mode=True)
    main(module, run_venv_switch)


if __name__ == "__main__":
    run()
