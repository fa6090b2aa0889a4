#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: venv_upgrade
short_description: Move a venv to a target interpreter in one pass, up to the atomic switch
version_added: 0.1.0
description:
  - "Does in one module call what M(oxzep7.python.venv_snapshot), M(oxzep7.python.venv_rebuild),
    M(oxzep7.python.venv_verify) and M(oxzep7.python.venv_switch) do one by one: takes the venv's run
    lock (as M(oxzep7.python.venv_lock)), snapshots the live release, builds a new release from the
    snapshot's lock for the target interpreter beside it, runs the gates on it and switches the stable
    path to it atomically. The live venv is inspected once."
  - "First it decides whether there is anything to do: a venv whose live interpreter is the target and
    whose current release a run recorded as upgraded, verified and healthy (or that ran the target
    before any run) is left alone (RV(outcome=already_current)), without taking the lock."
  - The release id is O(run_id) plus the base interpreter's tag (C(<run id>-cp312)), so every host of
    a run names its release the same.
  - When a stage fails, the task fails with RV(stage) naming it; the new release is removed (or kept,
    marked failed, with O(keep_failed_release)), the stable
    path still points at the live release, and the run lock stays held for the caller to record the
    outcome and release it (M(oxzep7.python.venv_lock) with O(oxzep7.python.venv_lock#module:state=absent)).
  - Restarting the services, health checks and rolling back after the switch are the
    C(oxzep7.python.upgrade) role's job; RV(previous_release) is what to switch back to.
  - Each stage appends its record to the venv's ledger (C(snapshot), C(rebuild), C(verify), C(switch)),
    a failed one too, with the reason.
  - The snapshot's archive is written by a process of its own while the release is built and verified. The
    switch does not wait for it, because the old release stays on disk as the rollback target. A writer still at
    work when the pass ends finishes the snapshot after the module returned (C(state) C(writing) in RV(snapshot)) and
    appends the C(snapshot) record itself, marked C(detached). It reads the old venv through a handle on its
    directory, so the archive holds the venv that was live even after the switch renamed that directory.
author: oxzep7.python contributors (@oxzep7)
extends_documentation_fragment:
  - oxzep7.python.venv
  - oxzep7.python.venv.work
  - oxzep7.python.venv.backup
  - oxzep7.python.venv.installer
  - oxzep7.python.venv.gates
  - oxzep7.python.venv.build
options:
  run_id:
    description: The run this pass belongs to; it holds the venv's lock and names the new release.
    type: str
    required: true
  python_version:
    description: Target CPython, C(X.Y) (the newest C(X.Y.*) under O(pyenv_root)) or C(X.Y.Z).
    type: str
  interpreter:
    description: Path of the base interpreter instead of O(python_version).
    type: path
  pyenv_root:
    description: Where O(python_version) is looked up (C(<pyenv_root>/versions)).
    type: path
    default: /opt/pyenv
  release_id:
    description: Name of the new release instead of C(<run_id>-<interpreter tag>).
    type: str
  force:
    description: Rebuild even when the venv already runs the target.
    type: bool
    default: false
  snapshot_compression:
    description:
      - Compression of the snapshot's archive (see M(oxzep7.python.venv_snapshot)); C(auto) is zstd when the
        C(zstd) program is on the host, else gzip at level 1.
      - The archive is written while the new release is built and verified; the switch does not wait for it.
    type: str
    default: auto
    choices: [auto, zstd, gz, xz, bz2, none]
  keep_snapshots:
    description: How many snapshots of this stable path to keep.
    type: int
    default: 5
  keep_releases:
    description: Verified releases to keep after the switch (the current one and its rollback target always stay); 0 keeps all.
    type: int
    default: 3
  benchmark_command:
    description:
      - The app's own benchmark, an argument list (or a string split as a shell would, without a shell). It runs
        O(benchmark_runs) times against the live release before the snapshot and as many times against the new
        release after its gates, on this host, with the release's C(bin) first on C(PATH) and C(VIRTUAL_ENV) set,
        in O(chdir), each run limited to O(command_timeout) seconds.
      - RV(benchmark) holds the wall-time median and peak resident set size of both, and their ratio; the ledger
        gets a C(benchmark) line. A run that fails fails the pass (stage C(benchmark)).
    type: raw
  benchmark_runs:
    description: How many times the benchmark runs against each release.
    type: int
    default: 5
  max_regression_percent:
    description:
      - Fail the pass (stage C(benchmark), the new release removed) when the new release's median is more than this
        many percent above the live one's. Unset only records the comparison.
    type: float
  switch:
    description:
      - Switch the stable path to the new release once it is verified.
      - With C(false) the pass stops there (RV(outcome=verified)). The new release is verified beside the
        live one, the run lock stays held, and M(oxzep7.python.venv_switch) switches later (the
        C(oxzep7.python.upgrade) role does so to run its C(before_switch) hooks in between).
    type: bool
    default: true
  keep_failed_release:
    description:
      - When a stage fails, keep the new release for inspection, marked C(failed) (never switched to; the next
        switch's retention removes it), instead of removing it.
    type: bool
    default: false
  owner:
    description: Who holds the run lock, stored in the lock file. The action plugin fills it in.
    type: dict
    default: {}
  steal:
    description: What the lock file of a dead holder says; the action plugin fills it in (see M(oxzep7.python.venv_lock)).
    type: dict
attributes:
  check_mode:
    support: full
    description: Decides and reports RV(outcome=would_upgrade) or RV(outcome=already_current); writes nothing.
  diff_mode:
    support: full
    description: Shows where the stable path points before and after.
  action:
    support: full
    description: The action plugin adds the lock's owner and takes over the lock of a run that is gone (see M(oxzep7.python.venv_lock)).
seealso:
  - module: oxzep7.python.venv_info
  - module: oxzep7.python.venv_switch
"""

EXAMPLES = r"""
- name: Move /srv/app/venv to Python 3.12, up to the switch
  oxzep7.python.venv_upgrade:
    path: /srv/app/venv
    run_id: "{{ run_id }}"
    python_version: "3.12"
    find_links: [/srv/wheelhouse]
    no_index: true
    imports: [app]
  register: upgraded

- name: Restart the app on the new release
  ansible.builtin.systemd_service:
    name: app
    state: restarted
  when: upgraded is changed
"""

RETURN = r"""
outcome:
  description:
    - C(upgraded) (switched to the new release), C(verified) (built and verified, not switched, with O(switch=false)),
      C(already_current) or, in check mode, C(would_upgrade); C(failed) in a failure result.
  returned: always
  type: str
stage:
  description: The stage that failed (C(benchmark), C(snapshot), C(rebuild), C(verify) or C(switch)).
  returned: failure
  type: str
stable_path:
  description: The venv's stable path.
  returned: always
  type: str
on_target_reason:
  description: Why the venv is, or is not, already on the target.
  returned: always
  type: str
from_version:
  description: The live interpreter's version before the pass.
  returned: always
  type: str
python_version:
  description: The new release's interpreter version (the live one when already current).
  returned: always
  type: str
interpreter:
  description: The base interpreter the new release is built with.
  returned: always
  type: str
release_id:
  description: The new release (the current one when already current).
  returned: always
  type: str
previous_release:
  description: The release that was live before the switch (the adopted release id of a plain venv); switch back to it to roll back.
  returned: always
  type: str
current_release:
  description: The release the stable path points at now.
  returned: always
  type: str
snapshot_id:
  description: The snapshot taken of the live release.
  returned: always
  type: str
lock_path:
  description: The snapshot's lock file the release was built from.
  returned: always
  type: str
snapshot:
  description:
    - What M(oxzep7.python.venv_snapshot) returns for the snapshot. Its C(state) is C(complete), or C(writing)
      when the archive was still being written as the pass ended; C(archive_bytes) is then null, and the snapshot
      directory (with the C(lock_path) file) appears once it is whole.
  returned: always
  type: dict
rebuild:
  description: What M(oxzep7.python.venv_rebuild) returns for the new release.
  returned: always
  type: dict
gates:
  description: The gates run on the new release (name, ok, seconds, and the command's details), as M(oxzep7.python.venv_verify) returns them.
  returned: always
  type: list
  elements: dict
benchmark:
  description: With O(benchmark_command), the comparison of the live release (C(before)) and the new one (C(after)).
  returned: always (empty without O(benchmark_command))
  type: dict
  contains:
    command: {description: The benchmark command., type: list, elements: str}
    before:
      description: "The live release: C(seconds) (wall time of each run), C(median_seconds), C(peak_rss_bytes)."
      type: dict
    after: {description: "The new release, as C(before).", type: dict}
    ratio: {description: After's median over before's (below 1 is faster)., type: float}
    rss_ratio: {description: After's peak RSS over before's., type: float}
    regression_percent: {description: How much slower the new release is in percent (negative when faster)., type: float}
    max_regression_percent: {description: O(max_regression_percent)., type: float}
    passed: {description: Whether the regression is within O(max_regression_percent)., type: bool}
failed_gates:
  description: Names of the gates that failed.
  returned: failure of the verify stage
  type: list
  elements: str
switch:
  description: What the switch did (changed, previous, current, converted, removed_releases).
  returned: always
  type: dict
lock:
  description: The run lock taken (changed, lock_path, held).
  returned: always
  type: dict
seconds:
  description:
    - Seconds per stage (C(rebuild), C(verify), C(switch)) and C(total). C(snapshot) is what the snapshot added
      to the pass (writing the lock and starting the archive's writer); C(snapshot_archive) is the archive's own
      time, only when it was complete before the switch.
  returned: always
  type: dict
installer_log:
  description: The installer's whole output when the rebuild's install failed.
  returned: failure of the rebuild stage
  type: str
held:
  description: What the lock file says when another run holds the lock.
  returned: failure
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.oxzep7.python.plugins.module_utils._installer import INSTALLER_SPEC
from ansible_collections.oxzep7.python.plugins.module_utils._modules import VENV_SPEC, WORK_SPEC, main, spec
from ansible_collections.oxzep7.python.plugins.module_utils._release import BUILD_SPEC, GATES_SPEC
from ansible_collections.oxzep7.python.plugins.module_utils._upgrade import run_venv_upgrade


def run():
    module = AnsibleModule(
        argument_spec=spec(
            VENV_SPEC, WORK_SPEC, INSTALLER_SPEC, GATES_SPEC, BUILD_SPEC,
            run_id=dict(type="str", required=True),
            python_version=dict(type="str"), interpreter=dict(type="path"),
            pyenv_root=dict(type="path", default="/opt/pyenv"), release_id=dict(type="str"),
            force=dict(type="bool", default=False), switch=dict(type="bool", default=True),
            keep_failed_release=dict(type="bool", default=False), benchmark_command=dict(type="raw"),
            benchmark_runs=dict(type="int", default=5), max_regression_percent=dict(type="float"),
            backup_dir=dict(type="path", default="/var/backups/oxzep7-python"),
            snapshot_compression=dict(type="str", default="auto", choices=["auto", "zstd", "gz", "xz", "bz2", "none"]),
            keep_snapshots=dict(type="int", default=5), keep_releases=dict(type="int", default=3),
            owner=dict(type="dict", default={}), steal=dict(type="dict")),
        required_one_of=[("python_version", "interpreter")],
        mutually_exclusive=[("python_version", "interpreter")],
        supports_check_mode=True)
    main(module, run_venv_upgrade)


if __name__ == "__main__":
    run()
