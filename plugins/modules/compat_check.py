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
  - The O(upgrades) are judged the same way, each in place of the pin it replaces (a requirement with a
    specifier as the release pip would pick for the target).
  - A pin whose only file for a target is an sdist installs only if that sdist builds. It is proven by a real
    build with the installer the rebuild uses (O(installer)) and the target's interpreter, from the same index
    options, without a cache (C(uv pip install --python <target python> --target <scratch> --no-deps --no-binary
    <name> --no-cache <name>==<version>), or C(<target python> -m pip wheel --no-deps --no-binary <name>
    --no-cache-dir <name>==<version>)), in a scratch directory under the temporary directory, within
    O(proof_timeout). The target's
    interpreter is O(interpreters), else the newest C(X.Y.*) under O(pyenv_root). A passed build is a
    warning with its seconds, a failed one an inhibitor with the build's error line, and without the
    interpreter the pin is unproven (an inhibitor whose message gives the command that proves it). Results
    are cached per project, version, target and platform tag in C(<state_dir>/sdist-proofs.json), so a
    rerun, or another venv on the host, does not build again.
  - Each inhibited pin gets a fix, the lowest release above it that has a wheel for the target or an sdist
    that a build proves, and whether it is a new major version.
  - Then pip's own resolver resolves each target's whole set, the pins with their fixes (C(pip install
    --dry-run --report) with C(--python-version), C(--implementation cp), C(--abi), this host's C(--platform)
    tags and C(--only-binary=:all:)) over the wheels. The requirements among them (each wheel's Requires-Dist,
    markers evaluated for the target) are checked; a pin that a fix's requirements exclude moves to the lowest
    release with a wheel that satisfies them, and the fix lists it under C(moves). A project that a release
    requires on the target and the lock lacks (a dependency only newer Pythons need, such as legacy-cgi for
    WebOb on 3.13) is what the rebuild would add, the newest release with a wheel for the target, or an
    inhibitor when there is none.
  - RV(remediation) gives per target the O(upgrades) that make the lock install, what changes and what no
    release fixes.
  - An inhibitor is a pin that cannot install on a target as locked (no build for it, its sdist does not build
    or is unproven, Requires-Python excludes it, not on the index, a local source that no longer exists, a
    requirement of another pin it breaks, or pip's resolution fails).
  - A warning (returned under RV(cautions)) is a pin that moves but needs a look, such as an sdist that builds,
    a yanked release, a direct URL or VCS requirement, or a pin that moves only through O(upgrades).
  - Inhibitors matched by O(allowlist) are returned under RV(accepted) instead.
  - Changes nothing in the venv; writes only the proof cache (not in check mode). Needs pip in the venv,
    version 22.2 or later (for C(--report)), and coreutils C(timeout) for the builds.
author: oxzep7.python contributors (@oxzep7)
extends_documentation_fragment:
  - oxzep7.python.venv.stable_path
  - oxzep7.python.venv.installer
options:
  targets:
    description:
      - Target CPython versions, C(X.Y) or C(X.Y.Z). Several give a matrix for a stepwise path such as
        3.9, 3.10, 3.11, 3.12.
      - A Requires-Python excludes an C(X.Y) target only when no patch release of it is admitted from the version
        of its installed interpreter on (O(interpreters), else the newest C(X.Y.*) under O(pyenv_root); from
        C(X.Y.0) with none), since the rebuild gets that one or a later one (C(>=3.8.1) admits 3.8). Markers'
        C(python_full_version) is that installed version. An C(X.Y.Z) target is checked as that release.
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
    description: Resolve each target's set (the pins with their fixes) with pip's resolver.
    type: bool
    default: true
  interpreters:
    description:
      - Target C(X.Y) to the path of its interpreter on this host, for the sdist builds.
      - A target without an entry uses the newest C(X.Y.*) under O(pyenv_root). When the interpreter is not there,
        the target's sdist pins are unproven.
    type: dict
    default: {}
  pyenv_root:
    description: The pyenv root where the targets' interpreters are looked up.
    type: path
    default: /opt/pyenv
  state_dir:
    description: The proof cache is C(<state_dir>/sdist-proofs.json).
    type: path
    default: /var/lib/oxzep7-python
  proof_timeout:
    description: Seconds one sdist build may take; a build that takes longer fails and is not cached.
    type: int
    default: 900
attributes:
  check_mode:
    support: full
    description: Runs the same in check mode (the sdist builds too, in a scratch directory), without writing the proof cache.
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
    pyenv_root: /opt/pyenv
    allowlist:
      - name: termcolor
        reason: replaced by the app team in the next release
  register: compat

- name: Stop when the target is inhibited
  ansible.builtin.assert:
    that: compat.can_move['3.12']
    fail_msg: "{{ compat.inhibitors | map(attribute='message') | list }}"

- name: The upgrades that make the lock install on 3.12
  ansible.builtin.debug:
    msg: "{{ compat.remediation['3.12'].upgrades }}"
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
    version: {description: Locked version (or the release an upgrade names)., type: str}
    check:
      description:
        - C(package) (no file installs), C(sdist_build) (the only file is an sdist and its build fails),
          C(sdist_unproven) (an sdist and the target's interpreter is not on the host), C(conflict) (a
          requirement of another pin excludes it), C(new_dependency) (a project a release requires on the
          target, missing from the lock, with no release that has a wheel for the target), C(requires_python)
          (the release the rebuild installs declares a Requires-Python in its own metadata that excludes the
          target, although the index page did not say so), C(unreproducible) or C(resolution).
      type: str
    message: {description: The reason and the fix in one sentence (the build's error line for C(sdist_build))., type: str}
    fix:
      description: Lowest release above the pin that installs on the target, or null.
      type: dict
      contains:
        version: {description: Its version., type: str}
        file: {description: The file that would install., type: str}
        status: {description: "C(wheel), or C(sdist) when a build proved it.", type: str}
        crosses_major: {description: Whether it is a new major version., type: bool}
        proof: {description: "For an sdist, the build's C(seconds) and whether it was C(cached).", type: dict}
        moves:
          description: The other pins this fix forces to move (name, version, move_to, requirement, required_by).
          type: list
          elements: dict
cautions:
  description:
    - The warnings, what moves but needs a look; same keys as RV(inhibitors) without C(fix).
    - C(check) is C(sdist_proven) (an sdist that builds; the message gives the seconds), C(upgrade),
      C(direct_url), C(yanked), C(new_dependency) (the rebuild adds a project the lock lacks; the message names
      the release) or C(seed_dropped) (setuptools is in the venv and the target's venv seeds none, from 3.12).
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
    statuses:
      description: >-
        Target to C(wheel), C(sdist) (builds), C(sdist_fails), C(sdist_unproven), C(source), C(excluded) (the lock
        line's environment marker leaves it out there: pip passes it over, nothing to judge), C(requires_python)
        (the release's own metadata excludes the target) or C(none).
      type: dict
    breaks_at: {description: "First target where it cannot install as locked, or null.", type: str}
packages:
  description: >-
    The verdict per package and target, with the release judged, the chosen file, reason, yanked flag,
    candidate fixes (C(releases)), C(proof) and C(fix).
  returned: always
  type: list
  elements: dict
resolution:
  description: Per target, what pip's resolver said about the wheels of the pins with their fixes.
  returned: always
  type: list
  elements: dict
  contains:
    target: {description: The target version., type: str}
    ok: {description: Whether pip resolved them., type: bool}
    checked: {description: How many pins pip resolved., type: int}
    files: {description: Project name to the file pip chose., type: dict}
    yanked: {description: Projects pip reports yanked (pip 23.1 and later)., type: list}
    moves:
      description: >-
        Pins a requirement of the set excluded, moved to C(move_to) (name, version, requirement, required_by,
        requirer, crosses_major, as_is: both sides locked as they are).
      type: list
    conflicts: {description: Requirements no release with a wheel satisfies (same keys without C(as_is))., type: list}
    added:
      description: >-
        Projects a release requires on the target that the lock lacks (name, requirement, required_by, requirer,
        version: the release the rebuild would add, or null when none has a wheel for the target).
      type: list
    python_excluded:
      description: >-
        Releases of the resolved set, or that pip adds to it, whose own Requires-Python (from their metadata)
        excludes the target (name, version, requires_python); each is a C(requires_python) inhibitor.
      type: list
    rc: {description: pip's exit status when it failed., type: int}
    cmd: {description: pip's command when it failed., type: list}
    stderr: {description: The end of pip's stderr when it failed., type: str}
proofs:
  description: Every sdist build verdict, per pin or candidate fix and target.
  returned: always
  type: list
  elements: dict
  contains:
    name: {description: Project name., type: str}
    version: {description: The release built., type: str}
    target: {description: The target version., type: str}
    platform: {description: This host's platform tag (part of the cache key)., type: str}
    result: {description: "C(passed), C(failed) or C(unproven).", type: str}
    seconds: {description: The build's wall time., type: float}
    error: {description: "The build's last meaningful error line, or why it is unproven.", type: str}
    compiler_error: {description: "The first compiler diagnostic of a failed build, or null.", type: str}
    interpreter: {description: "The target interpreter that built it, or null.", type: str}
    installer: {description: "The installer that built it, C(uv) or C(pip).", type: str}
    at: {description: When it was built (UTC)., type: str}
    cached: {description: Whether the verdict came from the proof cache., type: bool}
    command: {description: "The build command, for a human to run (credentials masked).", type: str}
remediation:
  description: Per target, what makes the lock install there.
  returned: always
  type: dict
  contains:
    upgrades:
      description: >-
        Requirement strings for O(upgrades): every pin that differs from the lock (the upgrades given that
        work, then each fix and forced move as C(name==version)).
      type: list
      elements: str
    changes:
      description: "What moves: name, from, to, crosses_major, why (C(fix) or C(forced)) and forced_by."
      type: list
      elements: dict
    blocked: {description: Inhibitors no upgrade fixes (name and message)., type: list, elements: dict}
    complete: {description: Whether the upgrades clear every package inhibitor of that target., type: bool}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.oxzep7.python.plugins.module_utils._compat import run_compat_check
from ansible_collections.oxzep7.python.plugins.module_utils._installer import INSTALLER_SPEC
from ansible_collections.oxzep7.python.plugins.module_utils._modules import main, spec
from ansible_collections.oxzep7.python.plugins.module_utils._state import DEFAULT_STATE_DIR


def run():
    module = AnsibleModule(
        argument_spec=spec(INSTALLER_SPEC,
                           path=dict(type="path", required=True, aliases=["stable_path"]),
                           targets=dict(type="list", elements="str", required=True),
                           lock=dict(type="path"),
                           upgrades=dict(type="list", elements="str", default=[]),
                           keep_seed_pins=dict(type="bool", default=False),
                           allowlist=dict(type="list", elements="dict", default=[], options=dict(
                               name=dict(type="str", required=True), version=dict(type="str"),
                               target=dict(type="str"), reason=dict(type="str", required=True))),
                           platforms=dict(type="list", elements="str", default=[]),
                           resolve=dict(type="bool", default=True),
                           interpreters=dict(type="dict", default={}),
                           pyenv_root=dict(type="path", default="/opt/pyenv"),
                           state_dir=dict(type="path", default=DEFAULT_STATE_DIR),
                           proof_timeout=dict(type="int", default=900)),
        supports_check_mode=True)
    main(module, run_compat_check)


if __name__ == "__main__":
    run()
