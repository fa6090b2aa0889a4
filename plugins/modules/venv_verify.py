#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: venv_verify
short_description: Run the verification gates on a venv release and mark it verified
version_added: 0.1.0
description:
  - Runs, in order, the dependency check (C(uv pip check --python <release python>) when uv is the
    installer, else C(<release python> -m pip check)), the imports, the
    installed set against the lock the release was built from, each smoke command and the test
    command. Commands run without a shell, with C(VIRTUAL_ENV) set and the release's C(bin) first
    on PATH.
  - A new release that was built and never verified, and is not the live one, gets the bytecode its
    gates compile (C(__pycache__), given the release's owner), so its first start is faster. Every other
    release (the live one, a plain venv, a verified one) is verified with C(PYTHONDONTWRITEBYTECODE=1), so
    verifying never writes into it.
  - When every gate passes, the release's marker says C(verified) (the only state
    M(oxzep7.python.venv_switch) accepts). When a gate fails the task fails and returns every result.
  - A plain venv that was never converted (O(release=current)) can be verified; it has no marker.
author: oxzep7.python contributors (@oxzep7)
extends_documentation_fragment:
  - oxzep7.python.venv
  - oxzep7.python.venv.work
  - oxzep7.python.venv.installer
  - oxzep7.python.venv.gates
options:
  release:
    description: Release id to verify, or C(current) for the live venv.
    type: str
    default: current
  compare_lock:
    description: Compare the installed set with the lock the release was built from (missing or different versions fail).
    type: bool
    default: true
  mark_verified:
    description: Record the release as verified when every gate passes.
    type: bool
    default: true
attributes:
  check_mode:
    support: partial
    description: Runs the read-only gates; see O(ignore:details).
    details: Runs the read-only gates (pip check, imports, lock); skips smoke and test commands and marks nothing.
  diff_mode:
    support: none
    description: Only the marker changes; C(changed) says so.
"""

EXAMPLES = r"""
- name: Verify a new release
  oxzep7.python.venv_verify:
    path: /srv/app/venv
    release: 20261121T020000Z-cp312
    imports: [myapp, flask, sqlalchemy]
    smoke_commands:
      - [python, -m, myapp.selftest]
    test_command: python -m pytest -q /srv/app/src/tests
    chdir: /srv/app/src
"""

RETURN = r"""
passed:
  description: Whether every gate passed.
  returned: always
  type: bool
release_id:
  description: Id of the release verified; null for a plain venv.
  returned: always
  type: str
release_path:
  description: Directory verified.
  returned: always
  type: str
gates:
  description: One result per gate, in order.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: "C(pip check) (the dependency check, with pip or uv), C(imports), C(lock), C(smoke: <command>) or C(tests)."
      type: str
    problems:
      description: >-
        The broken requirements the dependency check printed, each with C(name) (the distribution whose
        requirement is broken), C(requirement) (or null) and C(message) (the tool's line).
      type: list
    ok: {description: Whether it passed., type: bool}
    seconds: {description: Wall time in seconds., type: float}
    rc: {description: Exit status of a command gate., type: int}
    cmd: {description: The command of a command gate., type: list}
    stdout: {description: Last 4000 characters of its stdout., type: str}
    stderr: {description: Last 4000 characters of its stderr., type: str}
    errors: {description: "Imports that failed, each with name and error.", type: list}
    checked: {description: Module names the imports gate tried., type: list}
    missing: {description: Locked projects not installed (lock gate)., type: list}
    extra: {description: Installed projects not in the lock (lock gate; not a failure)., type: list}
    different: {description: Projects installed at another version than locked (lock gate)., type: list}
    skipped: {description: Why a command gate was not run (check mode)., type: str}
    error: {description: "Why a command gate failed without an exit status of its own: it timed out.", type: str}
failed_gates:
  description: Names of the gates that failed.
  returned: always
  type: list
  elements: str
wrote_bytecode:
  description: Whether the gates could write bytecode into the release (a new release before its switch).
  returned: always
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.oxzep7.python.plugins.module_utils._installer import INSTALLER_SPEC
from ansible_collections.oxzep7.python.plugins.module_utils._modules import VENV_SPEC, WORK_SPEC, main, spec
from ansible_collections.oxzep7.python.plugins.module_utils._release import GATES_SPEC, run_venv_verify


def run():
    module = AnsibleModule(
        argument_spec=spec(VENV_SPEC, WORK_SPEC, INSTALLER_SPEC, GATES_SPEC,
                           release=dict(type="str", default="current"),
                           compare_lock=dict(type="bool", default=True),
                           mark_verified=dict(type="bool", default=True)),
        supports_check_mode=True)
    main(module, run_venv_verify)


if __name__ == "__main__":
    run()
