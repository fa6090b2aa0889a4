#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: venv_preflight
short_description: Check a venv's app code, hard-coded interpreter references and free disk before an upgrade
version_added: 0.1.0
description:
  - The checks besides the packages (see M(oxzep7.python.compat_check)), all read-only.
  - Code. For the source files and directories in O(code_paths), C(vermin) computes the minimum Python
    version the code needs, and every import (read with Python's C(ast)) of a standard library module
    that the current interpreter has and a target's standard library lacks is reported with file and
    line (module lists from C(stdlib-list); for example C(imp) and C(distutils) are gone in 3.12,
    the PEP 594 modules in 3.13). An import inside a C(try) that catches ImportError is a warning,
    otherwise an inhibitor. vermin and stdlib-list are installed with the venv's pip from the
    configured index or wheelhouse into a temporary directory, removed afterwards.
  - References. Lines in the files under O(reference_paths) that name the old base interpreter's
    prefix, C(pythonX.Y) of the old version, or the live release directory instead of the stable
    path, with file and line (warnings).
  - Disk. Free space on the venv's file system for one more release the size of the live one, and in
    O(backup_dir) for one more snapshot the size of the newest one (inhibitor when short).
  - Verdict. With O(packages), the package findings of M(oxzep7.python.compat_check) for O(targets) join
    these, so RV(inhibitors), RV(cautions) and RV(allowlisted) are the venv's whole verdict. An inhibitor of
    any kind that a rule of O(allowlist) accepts is returned under RV(allowlisted) and does not inhibit.
author: oxzep7.python contributors (@oxzep7)
extends_documentation_fragment:
  - oxzep7.python.venv.backup
  - oxzep7.python.venv.installer
options:
  path:
    description: The stable path of the venv, for example C(/srv/app/venv).
    type: path
    required: true
    aliases: [stable_path]
  targets:
    description: Target CPython versions, C(X.Y) or C(X.Y.Z).
    type: list
    elements: str
    required: true
  code_paths:
    description: The app's source files or directories. Empty skips the code check.
    type: list
    elements: path
    default: []
  reference_paths:
    description: Files or directories scanned for hard-coded references. Missing ones are skipped.
    type: list
    elements: path
    default: [/etc/systemd/system, /etc/cron.d, /etc/crontab, /var/spool/cron/crontabs, /etc/default,
              /etc/sysconfig, /etc/environment, /etc/supervisor/conf.d]
  tools:
    description: Requirement strings of the code-scan tools, installed with C(--only-binary=:all:).
    type: list
    elements: str
    default: [vermin, stdlib-list]
  check_disk:
    description: Check the free disk.
    type: bool
    default: true
  packages:
    description:
      - The registered result of M(oxzep7.python.compat_check) for the same venv. Its C(inhibitors),
        C(cautions) and C(accepted) for O(targets) join this module's findings (its other targets are left out).
    type: dict
  allowlist:
    description:
      - Accepted inhibitors of every kind. A rule accepts an inhibitor when every key it sets matches;
        keys it leaves out match anything. It must set at least one of O(allowlist[].check),
        O(allowlist[].name), O(allowlist[].module) or O(allowlist[].file).
    type: list
    elements: dict
    default: []
    suboptions:
      check:
        description:
          - The kind of finding, for example C(package), C(resolution), C(unreproducible) (packages),
            C(removed_module), C(code_minimum) (code) or C(disk).
        type: str
      name:
        description: Project name of a package finding (compared normalized).
        type: str
      version:
        description: Only this locked version of O(allowlist[].name).
        type: str
      target:
        description: Only this target.
        type: str
      module:
        description: A removed standard library module, by its top-level name (C(imp), C(distutils)).
        type: str
      file:
        description:
          - Glob of the file of a code finding, matched against its absolute path with C(fnmatch)
            (C(*) also matches C(/)), for example C(*/legacy/*.py). A C(code_minimum) finding is accepted
            when every file that sets the minimum matches.
        type: str
      reason: {description: Why it is accepted (shown in reports)., type: str, required: true}
attributes:
  check_mode:
    support: full
    description: Reads only; runs the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing, so there is nothing to show.
seealso:
  - module: oxzep7.python.compat_check
  - name: PEP 594
    link: https://peps.python.org/pep-0594/
    description: Removing dead batteries.
  - name: PEP 632
    link: https://peps.python.org/pep-0632/
    description: Deprecate distutils.
"""

EXAMPLES = r"""
- name: Check the app before moving it to 3.12
  oxzep7.python.venv_preflight:
    path: /srv/app/venv
    targets: ["3.12"]
    code_paths: [/srv/app/src]
    reference_paths: [/etc/systemd/system, /etc/cron.d, /srv/app/bin]
    no_index: true
    find_links: [/srv/wheelhouse]
  register: preflight

- name: The whole verdict, packages included, with accepted findings
  oxzep7.python.venv_preflight:
    path: /srv/app/venv
    targets: ["3.12"]
    code_paths: [/srv/app/src]
    packages: "{{ compat }}"  # registered from oxzep7.python.compat_check
    allowlist:
      - module: imp
        file: "*/src/app/legacy/*.py"
        reason: legacy importer, deleted before the 3.12 move; never imported at runtime
      - check: code_minimum
        file: "*/src/app/tools/*"
        reason: maintenance scripts, run with their own interpreter
      - name: scipy
        version: 1.10.1
        reason: replaced by the app team in the same change window
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
size_bytes:
  description: Size of the live release in bytes.
  returned: always
  type: int
inhibited:
  description: Whether there is any inhibitor (allowlisted ones do not count).
  returned: always
  type: bool
inhibitors:
  description: What keeps the venv from moving, per target (with O(packages), the package inhibitors too).
  returned: always
  type: list
  elements: dict
  contains:
    target: {description: The target version., type: str}
    check: {description: "C(code_minimum), C(removed_module) or C(disk) (or a package check).", type: str}
    message: {description: One sentence with file and line where there are some., type: str}
    file: {description: The file of a code finding., type: str}
    files: {description: "The files that set the minimum, for C(code_minimum).", type: list}
    line: {description: The line of a code finding., type: int}
    module: {description: The removed module of a C(removed_module) finding., type: str}
cautions:
  description: >-
    Findings that need a look, per target; C(check) is C(removed_module) (a guarded import),
    C(code_syntax) or C(reference) (with O(packages), the package warnings too).
  returned: always
  type: list
  elements: dict
allowlisted:
  description: >-
    Inhibitors that O(allowlist) accepts (and the C(accepted) of O(packages)): the finding with
    C(allowlist_reason), the rule's reason. They do not inhibit.
  returned: always
  type: list
  elements: dict
code:
  description: The code scan, or null without O(code_paths).
  returned: always
  type: dict
  contains:
    files: {description: Python files scanned., type: int}
    minimum: {description: "Minimum Python version vermin computed, or null.", type: str}
    minimum_detail: {description: "vermin's lines (C(file:line:col:py2:py3:feature)) that set the minimum.", type: list}
    removed: {description: "Imports of removed modules: file, line, module, target, guarded.", type: list}
    syntax_errors: {description: "Files that do not parse, with the error.", type: list}
references:
  description: "Hard-coded references: file, line, kind (C(base_interpreter), C(versioned_name), C(release_path)), text."
  returned: always
  type: list
  elements: dict
disk:
  description: The disk check, or null when O(check_disk=false).
  returned: always
  type: dict
  contains:
    ok: {description: Whether there is room., type: bool}
    release_bytes: {description: Bytes one more release needs., type: int}
    snapshot_bytes: {description: Bytes one more snapshot needs., type: int}
    free_bytes: {description: Directory to free bytes., type: dict}
    needed_bytes: {description: Directory to needed bytes (both add up on one file system)., type: dict}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.oxzep7.python.plugins.module_utils._installer import INSTALLER_SPEC
from ansible_collections.oxzep7.python.plugins.module_utils._modules import main, spec
from ansible_collections.oxzep7.python.plugins.module_utils._preflight import ALLOWLIST_KEYS, DEFAULT_REFERENCE_PATHS, TOOLS, run_venv_preflight
from ansible_collections.oxzep7.python.plugins.module_utils._state import DEFAULT_BACKUP_DIR


def run():
    module = AnsibleModule(
        argument_spec=spec(INSTALLER_SPEC,
                           path=dict(type="path", required=True, aliases=["stable_path"]),
                           targets=dict(type="list", elements="str", required=True),
                           code_paths=dict(type="list", elements="path", default=[]),
                           reference_paths=dict(type="list", elements="path", default=list(DEFAULT_REFERENCE_PATHS)),
                           tools=dict(type="list", elements="str", default=list(TOOLS)),
                           backup_dir=dict(type="path", default=DEFAULT_BACKUP_DIR),
                           check_disk=dict(type="bool", default=True),
                           packages=dict(type="dict"),
                           # every kind of finding, chosen by any of ALLOWLIST_KEYS
                           allowlist=dict(type="list", elements="dict", default=[],
                                          required_one_of=[("check", "name", "module", "file")],
                                          options=dict([(key, dict(type="str")) for key in ALLOWLIST_KEYS]
                                                       + [("reason", dict(type="str", required=True))]))),
        supports_check_mode=True)
    main(module, run_venv_preflight)


if __name__ == "__main__":
    run()
