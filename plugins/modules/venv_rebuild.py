#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: venv_rebuild
short_description: Build a new venv release for a target interpreter from a lock, beside the live one
version_added: 0.1.0
description:
  - Creates C(<releases_dir>/<release_id>) with the target interpreter (uv or the stdlib venv module)
    and installs the lock into it, plus any O(upgrades), from the configured index, extra indexes,
    find-links or wheelhouse. The live release is never touched.
  - The requirements the release was built from are kept beside it as C(<release_id>.lock.txt) and
    its state in C(<release_id>.release.json) (C(built); M(oxzep7.python.venv_verify) marks it verified).
  - pip, setuptools and wheel are left at the versions the new venv is seeded with, because old pins
    of them often do not support a newer interpreter; set O(keep_seed_pins) to install the locked ones.
  - Local sources (C(file://) directories, archives, editable checkouts) that no longer exist cannot
    be reproduced; the module fails naming them, unless O(allow_unreproducible).
  - A release with the same id, interpreter version and requirements that is already built is left
    alone. On any failure the partial release is removed, and the releases directory too when it is
    left empty beside a plain (never converted) venv.
  - "When the installer fails, the message names the package and the error line read from pip's or uv's
    output: C(building NAME==VERSION for cpXY failed: LINE) for a build that failed (LINE is the compiler's
    first error, else the build's last exception) or C(no build of NAME==VERSION for cpXY: LINE) when no
    file of the pin installs on the target (LINE is pip's or uv's resolver line). The failure result holds
    the installer's whole output (RV(installer_log))."
  - With a O(run_id), a C(rebuild) record goes into the ledger, also when the rebuild fails (C(failed),
    with the message as C(reason)).
  - O(state=absent) removes a release that is not current (a failed or abandoned build), and then the
    releases directory when that leaves it empty (beside a plain venv whose first upgrade failed).
  - O(state=failed) keeps a release that is not current for inspection and marks it C(failed), with
    O(reason). A failed release is never switched to, and the next switch's retention removes it like
    any release that is not verified.
author: oxzep7.python contributors (@oxzep7)
extends_documentation_fragment:
  - oxzep7.python.venv
  - oxzep7.python.venv.work
  - oxzep7.python.venv.installer
  - oxzep7.python.venv.build
options:
  interpreter:
    description:
      - Path of the target base interpreter. Mutually exclusive with O(python_version).
    type: path
  python_version:
    description:
      - Target version under O(pyenv_root), C(X.Y.Z) exactly or C(X.Y) for the newest installed C(X.Y.*).
    type: str
  pyenv_root:
    description: pyenv root holding C(versions/<version>). Used with O(python_version).
    type: path
    default: /opt/pyenv
  lock:
    description:
      - Lock file (requirements with exact pins) to build from, for example the C(lock_path) of
        M(oxzep7.python.venv_snapshot). Default is the installed set of the live venv.
    type: path
  release_id:
    description:
      - Id of the new release. Default C(<run_id>-<interpreter tag>) (for example
        C(20261121T020000Z-3f9a1c2b-cp312)), so every host of a run names it the same; without O(run_id),
        C(<UTC timestamp>-<interpreter tag>).
      - Required with O(state=absent) and O(state=failed).
    type: str
  state:
    description: C(present) builds the release, C(absent) removes it, C(failed) marks it failed and keeps it.
    type: str
    choices: [present, absent, failed]
    default: present
  reason:
    description: Why the release failed, kept in its marker and the ledger record. Used with O(state=failed).
    type: str
    default: marked failed
attributes:
  check_mode:
    support: full
    description: Resolves the interpreter and reads the lock, then reports whether it would build.
  diff_mode:
    support: full
    description: Shows the release before and after.
"""

EXAMPLES = r"""
- name: Build a 3.12 release from the snapshot's lock, from a local wheelhouse only
  oxzep7.python.venv_rebuild:
    path: /srv/app/venv
    python_version: "3.12"
    pyenv_root: /opt/pyenv
    lock: "{{ snapshot.lock_path }}"
    release_id: 20261121T020000Z-cp312
    no_index: true
    find_links: [/srv/wheelhouse]

- name: Same with a private index and an upgrade for a pin that has no 3.12 wheel
  oxzep7.python.venv_rebuild:
    path: /srv/app/venv
    interpreter: /opt/pyenv/versions/3.12.7/bin/python3.12
    index_url: https://pypi.internal.example/simple
    upgrades: ["numpy==1.26.4"]
"""

RETURN = r"""
release_id:
  description: Id of the release.
  returned: always
  type: str
release_path:
  description: Directory of the release.
  returned: always
  type: str
interpreter:
  description: The base interpreter used.
  returned: state=present
  type: str
python_version:
  description: Version of the target interpreter.
  returned: state=present
  type: str
installer:
  description: C(uv) or C(pip), the installer used.
  returned: state=present
  type: str
upgraded:
  description: Normalized names of the projects whose pins O(upgrades) replaced.
  returned: state=present
  type: list
  elements: str
skipped_seed:
  description: Locked seed packages (pip, setuptools, wheel) left to the new venv's seed.
  returned: state=present
  type: list
  elements: str
unreproducible:
  description: Lock entries that could not be reinstalled, with the reason.
  returned: state=present
  type: list
  elements: dict
  contains:
    name: {description: Project name., type: str}
    line: {description: The lock line., type: str}
    reason: {description: Why it cannot be reinstalled., type: str}
install:
  description: The install command (credentials redacted) with rc, stdout, stderr and seconds; null when nothing was installed.
  returned: state=present
  type: dict
seconds:
  description: Wall time spent, in seconds.
  returned: state=present
  type: float
installer_log:
  description: >-
    The failed installer run: its command, exit status, stdout and stderr as one text (credentials
    redacted). The upgrade role keeps it in the run's report directory.
  returned: failure of the installer
  type: str
installer_failure:
  description: What the installer's output says failed, or null when it names no package.
  returned: failure of the installer
  type: dict
  contains:
    kind: {description: "C(build) (the package's build failed) or C(no_build) (no file of the pin installs).", type: str}
    name: {description: The package., type: str}
    version: {description: Its pinned version (null when unknown)., type: str}
    line: {description: The error line., type: str}
    reason: {description: The failure's message., type: str}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.oxzep7.python.plugins.module_utils._installer import INSTALLER_SPEC
from ansible_collections.oxzep7.python.plugins.module_utils._modules import VENV_SPEC, WORK_SPEC, main, spec
from ansible_collections.oxzep7.python.plugins.module_utils._release import BUILD_SPEC, run_venv_rebuild


def run():
    module = AnsibleModule(
        argument_spec=spec(VENV_SPEC, WORK_SPEC, INSTALLER_SPEC, BUILD_SPEC,
                           interpreter=dict(type="path"),
                           python_version=dict(type="str"),
                           pyenv_root=dict(type="path", default="/opt/pyenv"),
                           lock=dict(type="path"),
                           release_id=dict(type="str"),
                           state=dict(type="str", default="present", choices=["present", "absent", "failed"]),
                           reason=dict(type="str", default="marked failed")),
        mutually_exclusive=[("interpreter", "python_version")],
        required_if=[("state", "absent", ["release_id"]), ("state", "failed", ["release_id"]),
                     ("state", "present", ["interpreter", "python_version"], True)],
        supports_check_mode=True)
    main(module, run_venv_rebuild)


if __name__ == "__main__":
    run()
