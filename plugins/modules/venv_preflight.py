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
    otherwise an inhibitor. The lists of every minor version between the venv's and the newest target
    are read, so a module removed on the way is found without O(stepwise). A target the installed
    stdlib-list has no list for is a C(code_removed_unknown) inhibitor (what it removed was not checked).
    vermin and stdlib-list are installed with the venv's pip from the
    configured index or wheelhouse into a temporary directory, removed afterwards.
  - References. Lines in the files under O(reference_paths) that name the old base interpreter's
    prefix, C(pythonX.Y) of the old version, or the live release directory instead of the stable
    path, with file and line (warnings).
  - Disk. Free space on the venv's file system for one more release the size of the live one, and in
    O(backup_dir) for one more snapshot the size of the newest one (inhibitor when short).
  - Packages. Unless O(packages) is given, the package check of M(oxzep7.python.compat_check) runs in this
    module's process for the same targets, on the live venv's installed set, with O(upgrades),
    O(interpreters), O(pyenv_root), O(state_dir), O(proof_timeout) and the installer options.
  - Verdict. The package findings join these, and an inhibitor of any kind that a rule of O(allowlist)
    accepts is returned under RV(allowlisted) and does not inhibit. RV(verdict) is the venv's final verdict
    for O(target), the one the preflight role reports.
  - No venv at O(path) is the verdict C(absent), and a venv already on O(target) (its interpreter is the
    target and its live release is known good, as M(oxzep7.python.venv_info) says C(on_target)) is
    C(already_current); neither is checked.
  - Reuse. With O(run_id) (and not in check mode), the result is kept in C(<state_dir>/<venv slug>/preflight.json)
    and a later call with the same lock (the sha256 of the live venv's lock), the same options and the same
    O(run_id) returns it with RV(reused) instead of checking again. The file is checked fully; a file that is
    not exactly what this module writes is ignored and the venv checked again.
author: oxzep7.python contributors (@oxzep7)
extends_documentation_fragment:
  - oxzep7.python.venv.stable_path
  - oxzep7.python.venv.backup
  - oxzep7.python.venv.installer
options:
  target:
    description:
      - The run's target CPython version, C(X.Y) or C(X.Y.Z), the only one whose findings inhibit in RV(verdict).
      - Default is the newest of O(targets); one of them is required.
      - Requires-Python is checked as M(oxzep7.python.compat_check) checks its O(oxzep7.python.compat_check#module:targets)
        (an C(X.Y) target stands for its patch releases from the newest one installed on).
    type: str
  targets:
    description:
      - More CPython versions to check, C(X.Y) or C(X.Y.Z) (a matrix for the report). They never inhibit in
        RV(verdict). Without O(target), these are the versions checked.
    type: list
    elements: str
    default: []
  stepwise:
    description: Check each minor version between the venv's and O(target) too (at most six), for the stepwise path.
    type: bool
    default: false
  stepwise_when:
    description:
      - When O(stepwise) checks the minor versions between. V(always) checks them for every venv.
      - V(inhibited) checks them only for a venv that O(target) inhibits (an sdist left for the proofs with
        O(unproven=defer) does not count), after a first check of O(target) and the O(targets) matrix; everything
        is then checked again, the steps included, so an inhibited venv costs one resolution more. A venv that can
        move straight to O(target) gets no stepwise path beyond it, and costs one resolution per checked version
        instead of one per minor version too.
      - Has no effect with O(packages), which already holds the package check of every version.
    type: str
    choices: [always, inhibited]
    default: always
  force:
    description: Check a venv that is already on O(target) too.
    type: bool
    default: false
  unproven:
    description:
      - What an unproven sdist of O(target) (the target's interpreter is not on the host yet) is in RV(verdict).
        C(inhibit) makes it an inhibitor, C(defer) lists it under C(deferred), for a second call once the
        interpreter is installed.
    type: str
    choices: [inhibit, defer]
    default: inhibit
  run_id:
    description: The run's id. With it, the result is kept and reused within the run (see the description).
    type: str
  state_dir:
    description: The state directory (the verdict cache, the ledger read for RV(verdict.status), the sdist proof cache).
    type: path
    default: /var/lib/oxzep7-python
  upgrades:
    description: Requirement strings that replace lock pins of the same name, for the package check.
    type: list
    elements: str
    default: []
  interpreters:
    description: Target C(X.Y) to the path of its interpreter on this host, for the sdist builds of the package check.
    type: dict
    default: {}
  pyenv_root:
    description: The pyenv root where the targets' interpreters are looked up for the sdist builds.
    type: path
    default: /opt/pyenv
  proof_timeout:
    description: Seconds one sdist build of the package check may take.
    type: int
    default: 900
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
  report:
    description:
      - Data for the controller's preflight report only (C(report_dir), C(run_id), C(target), C(remediation));
        never used on the host. The result carries it in RV(oxzep7_report) for the C(oxzep7.python.fleet_report)
        callback, which writes the report; an empty C(report_dir) writes nothing.
    type: dict
    default: {}
  packages:
    description:
      - The registered result of M(oxzep7.python.compat_check) for the same venv, instead of the package check
        this module runs. Its C(inhibitors), C(cautions) and C(accepted) for the checked targets join this
        module's findings (its other targets are left out).
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
    description: Runs the same in check mode, without writing the verdict cache or the sdist proof cache.
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

- name: The verdict for 3.12, packages included, with the stepwise path and accepted findings
  oxzep7.python.venv_preflight:
    path: /srv/app/venv
    target: "3.12"
    stepwise: true
    run_id: "20261121T020000Z"  # a second call in the same run reuses the verdict
    code_paths: [/srv/app/src]
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
  register: checked

- name: Stop when it cannot move
  ansible.builtin.assert:
    that: checked.verdict.status in ['ready', 'already_current']
    fail_msg: "{{ checked.verdict.inhibitors | map(attribute='message') | list }}"
"""

RETURN = r"""
verdict:
  description: The venv's final verdict for O(target), as the preflight role reports it.
  returned: always
  type: dict
  contains:
    path: {description: The stable path (O(path))., type: str}
    status: {description: "C(ready), C(inhibited), C(already_current) or C(absent).", type: str}
    from: {description: "The venv's Python version, or null when there is no venv.", type: str}
    target: {description: The target (O(target))., type: str}
    inhibitors:
      description: >-
        What keeps the venv from moving to the target, of every kind (C(venv) when there is no venv);
        deferred and allowlisted ones are left out.
      type: list
      elements: dict
    warnings: {description: The target's cautions., type: list, elements: dict}
    allowlisted: {description: "Accepted inhibitors, every target's, with C(allowlist_reason).", type: list, elements: dict}
    deferred:
      description: The target's unproven sdists with O(unproven=defer), waiting for the target's interpreter.
      type: list
      elements: dict
    matrix: {description: "Per package its status at each checked target (see M(oxzep7.python.compat_check)).", type: list}
    remediation:
      description: The target's step of RV(verdict.steps) (the upgrades that make it move), or null.
      type: dict
    reaches: {description: "The furthest checked target the venv moves to today, or null.", type: str}
    steps:
      description: >-
        Per checked target above the venv's version (and always the target): C(target), C(can_move),
        C(upgrades), C(changes), C(blocked) and C(complete).
      type: list
      elements: dict
    disk: {description: "The disk check (see RV(disk)), or null.", type: dict}
    code_minimum: {description: "The minimum Python version of the code (vermin), or null.", type: str}
oxzep7_report:
  description:
    - What the C(oxzep7.python.fleet_report) callback collects from this result, O(report) plus C(kind=preflight)
      and C(host_record) (RV(verdict)).
  returned: always
  type: dict
reused:
  description: Whether the result is the one kept for the same lock, options and O(run_id) earlier in the run.
  returned: always
  type: bool
targets:
  description: The targets checked, sorted (empty when the venv was not checked).
  returned: always
  type: list
  elements: str
python_version:
  description: The venv's current Python version, or null when there is no venv.
  returned: always
  type: str
size_bytes:
  description: Size of the live release in bytes, or null when the venv was not checked.
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
    check: {description: "C(code_minimum), C(removed_module), C(code_removed_unknown) or C(disk) (or a package check).", type: str}
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
  description: The code scan, or null without O(code_paths) (or when the venv was not checked).
  returned: always
  type: dict
  contains:
    files: {description: Python files scanned., type: int}
    minimum: {description: "Minimum Python version vermin computed, or null.", type: str}
    minimum_detail: {description: "vermin's lines (C(file:line:col:py2:py3:feature)) that set the minimum.", type: list}
    removed: {description: "Imports of removed modules: file, line, module, target (the first version without it), guarded.", type: list}
    syntax_errors: {description: "Files that do not parse, with the error.", type: list}
references:
  description: "Hard-coded references: file, line, kind (C(base_interpreter), C(versioned_name), C(release_path)), text."
  returned: always
  type: list
  elements: dict
disk:
  description: The disk check, or null when O(check_disk=false) (or when the venv was not checked).
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
from ansible_collections.oxzep7.python.plugins.module_utils._preflight import ALLOWLIST_KEYS, DEFAULT_REFERENCE_PATHS, TOOLS
from ansible_collections.oxzep7.python.plugins.module_utils._state import DEFAULT_BACKUP_DIR, DEFAULT_STATE_DIR
from ansible_collections.oxzep7.python.plugins.module_utils._verdict import run_venv_preflight


def run():
    module = AnsibleModule(
        argument_spec=spec(INSTALLER_SPEC,
                           path=dict(type="path", required=True, aliases=["stable_path"]),
                           target=dict(type="str"),
                           targets=dict(type="list", elements="str", default=[]),
                           stepwise=dict(type="bool", default=False),
                           stepwise_when=dict(type="str", default="always", choices=["always", "inhibited"]),
                           force=dict(type="bool", default=False),
                           unproven=dict(type="str", default="inhibit", choices=["inhibit", "defer"]),
                           run_id=dict(type="str"),
                           state_dir=dict(type="path", default=DEFAULT_STATE_DIR),
                           upgrades=dict(type="list", elements="str", default=[]),
                           interpreters=dict(type="dict", default={}),
                           pyenv_root=dict(type="path", default="/opt/pyenv"),
                           proof_timeout=dict(type="int", default=900),
                           code_paths=dict(type="list", elements="path", default=[]),
                           reference_paths=dict(type="list", elements="path", default=list(DEFAULT_REFERENCE_PATHS)),
                           tools=dict(type="list", elements="str", default=list(TOOLS)),
                           backup_dir=dict(type="path", default=DEFAULT_BACKUP_DIR),
                           check_disk=dict(type="bool", default=True),
                           packages=dict(type="dict"), report=dict(type="dict", default={}),
                           # every kind of finding, chosen by any of ALLOWLIST_KEYS
                           allowlist=dict(type="list", elements="dict", default=[],
                                          required_one_of=[("check", "name", "module", "file")],
                                          options=dict([(key, dict(type="str")) for key in ALLOWLIST_KEYS]
                                                       + [("reason", dict(type="str", required=True))]))),
        supports_check_mode=True)
    main(module, run_venv_preflight)


if __name__ == "__main__":
    run()
