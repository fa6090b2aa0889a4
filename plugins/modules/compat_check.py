#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: compat_check
short_description: Tell whether a venv's locked packages can move to target Python versions
version_added: 0.1.0
description:
  - Runs with the venv's own (old) interpreter; the target interpreter need not be installed.
  - For each locked package and each target, reads what the index, extra indexes and find-links hold
    (the PEP 503 or PEP 691 simple API, with Requires-Python and yanked flags) and judges every file
    with C(packaging), pip's vendored copy when C(packaging) is not installed. It tells apart a wheel whose tags
    CPython X.Y accepts on this host's platform (its manylinux or musllinux level), only an sdist
    that would compile, or nothing.
  - Then asks pip's own resolver to confirm each target (C(pip install --dry-run --report) with
    C(--python-version), C(--implementation cp), C(--abi), this host's C(--platform) tags and
    C(--only-binary=:all:)) over the pins that have wheels.
  - An inhibitor is a pin that cannot install on a target as locked (no build for it, Requires-Python
    excludes it, not on the index, a local source that no longer exists, or pip's resolution fails).
    Each package inhibitor names the lowest release above the pin that supports the target and
    whether it is a new major version.
  - A warning (returned under RV(cautions)) is a pin that moves but needs a look, such as an sdist that would compile, a yanked
    release, a direct URL or VCS requirement, or a pin that moves only through O(upgrades).
  - Inhibitors matched by O(allowlist) are returned under RV(accepted) instead.
  - Changes nothing. Needs pip in the venv, version 21.1 or later.
author: oxzep7.python contributors (@oxzep7)
extends_documentation_fragment:
  - oxzep7.python.venv.installer
options:
  path:
    description: The stable path of the venv, for example C(/srv/app/venv).
    type: path
    required: true
    aliases: [stable_path]
  targets:
    description:
      - Target CPython versions, C(X.Y) or C(X.Y.Z). Several give a matrix for a stepwise path such as
        3.9, 3.10, 3.11, 3.12.
    type: list
    elements: str
    required: true
  lock:
    description:
      - A lock file (as M(oxzep7.python.venv_snapshot) writes, or a plain C(name==version) file).
        Default is the live venv's installed set.
    type: path
  upgrades:
    description: Requirement strings that replace the lock pins of the same name, as for M(oxzep7.python.venv_rebuild).
    type: list
    elements: str
    default: []
  keep_seed_pins:
    description: Check the locked pip, setuptools and wheel pins too (the rebuild leaves them to the new venv by default).
    type: bool
    default: false
  allowlist:
    description: Known inhibitors that are accepted; they are returned under RV(accepted) and do not inhibit.
    type: list
    elements: dict
    default: []
    suboptions:
      name: {description: Project name., type: str, required: true}
      version: {description: Only this locked version; default any., type: str}
      target: {description: Only this target; default any., type: str}
      reason: {description: Why it is accepted (shown in reports)., type: str, required: true}
  platforms:
    description: Platform tags to judge wheels for. Default is this host's (C(packaging.tags.platform_tags())).
    type: list
    elements: str
    default: []
  resolve:
    description: Confirm each target with pip's resolver.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Reads only; runs the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing, so there is nothing to show.
notes:
  - The wheels are judged for CPython only.
seealso:
  - module: oxzep7.python.venv_preflight
  - name: PEP 503
    link: https://peps.python.org/pep-0503/
    description: The simple repository api.
  - name: PEP 592
    link: https://peps.python.org/pep-0592/
    description: Yanked files.
"""

EXAMPLES = r"""
- name: Which packages keep the venv from moving, along a stepwise path
  oxzep7.python.compat_check:
    path: /srv/app/venv
    targets: ["3.10", "3.11", "3.12"]
    index_url: https://mirror.example.com/simple/
    allowlist:
      - name: termcolor
        reason: replaced by the app team in the next release
  register: compat

- name: Stop when the target is inhibited
  ansible.builtin.assert:
    that: compat.can_move['3.12']
    fail_msg: "{{ compat.inhibitors | map(attribute='message') | list }}"
"""

RETURN = r"""
targets:
  description: The targets checked, sorted.
  returned: always
  type: list
  elements: str
python_version:
  description: The venv's current Python version.
  returned: always
  type: str
platforms:
  description: The platform tags wheels were judged for, most specific first.
  returned: always
  type: list
  elements: str
inhibited:
  description: Whether any target has an inhibitor.
  returned: always
  type: bool
can_move:
  description: Per target, whether it has no inhibitor.
  returned: always
  type: dict
inhibitors:
  description: What keeps the lock from moving, one per package and target.
  returned: always
  type: list
  elements: dict
  contains:
    target: {description: The target version., type: str}
    name: {description: Project name (C((resolution)) for a failed pip resolution)., type: str}
    version: {description: Locked version., type: str}
    check: {description: "C(package), C(unreproducible) or C(resolution).", type: str}
    message: {description: The reason and the fix in one sentence., type: str}
    fix:
      description: Lowest release above the pin that installs on the target, or null.
      type: dict
      contains:
        version: {description: Its version., type: str}
        file: {description: The file that would install., type: str}
        status: {description: "C(wheel) or C(sdist).", type: str}
        crosses_major: {description: Whether it is a new major version., type: bool}
cautions:
  description:
    - The warnings, what moves but needs a look; same keys as RV(inhibitors) without C(fix).
    - Named so because Ansible reserves C(warnings) in module results.
  returned: always
  type: list
  elements: dict
accepted:
  description: Inhibitors matched by O(allowlist), each with its C(allowlist_reason).
  returned: always
  type: list
  elements: dict
matrix:
  description: Per package its status at each target and the first target where it breaks.
  returned: always
  type: list
  elements: dict
  contains:
    name: {description: Project name., type: str}
    version: {description: Locked version., type: str}
    statuses: {description: "Target to C(wheel), C(sdist), C(source) or C(none).", type: dict}
    breaks_at: {description: "First target with C(none), or null.", type: str}
packages:
  description: The verdict per package and target, with the chosen file, reason, yanked flag and fix.
  returned: always
  type: list
  elements: dict
resolution:
  description: Per target, what pip's resolver said about the pins with wheels.
  returned: always
  type: list
  elements: dict
  contains:
    target: {description: The target version., type: str}
    ok: {description: Whether pip resolved them., type: bool}
    checked: {description: How many pins pip resolved., type: int}
    files: {description: Project name to the file pip chose., type: dict}
    yanked: {description: Projects pip reports yanked (pip 23.1 and later)., type: list}
    rc: {description: pip's exit status when it failed., type: int}
    cmd: {description: pip's command when it failed., type: list}
    stderr: {description: The end of pip's stderr when it failed., type: str}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.oxzep7.python.plugins.module_utils._modules import (
    ALLOWLIST_SPEC, INSTALLER_SPEC, main, run_compat_check, spec)


def run():
    module = AnsibleModule(
        argument_spec=spec(INSTALLER_SPEC,
                           path=dict(type="path", required=True, aliases=["stable_path"]),
                           targets=dict(type="list", elements="str", required=True),
                           lock=dict(type="path"),
                           upgrades=dict(type="list", elements="str", default=[]),
                           keep_seed_pins=dict(type="bool", default=False),
                           allowlist=ALLOWLIST_SPEC,
                           platforms=dict(type="list", elements="str", default=[]),
                           resolve=dict(type="bool", default=True)),
        supports_check_mode=True)
    main(module, run_compat_check)


if __name__ == "__main__":
    run()
