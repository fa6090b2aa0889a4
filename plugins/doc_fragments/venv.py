# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """Options shared by the venv modules: the stable path and the ledger."""

    DOCUMENTATION = r"""
options:
  path:
    description:
      - The stable path of the venv, the one services and users reference, for example C(/srv/app/venv).
      - After the first switch it is a symlink to a release under C(.<name>.releases/) beside it.
    type: path
    required: true
    aliases: [stable_path]
  run_id:
    description:
      - Id of the run this step belongs to. When set, the step is appended to the venv's ledger
        C(<state_dir>/<slug>/ledger.jsonl) with its result and seconds; a step that fails is recorded
        too, with result C(failed) and the failure's message as C(reason).
    type: str
  state_dir:
    description:
      - Directory of the per-venv state (ledger). One folder per stable path, named by a readable
        slug plus 8 hex digits of the path's sha256.
    type: path
    default: /var/lib/oxzep7-python
"""

    WORK = r"""
options:
  lock_timeout:
    description:
      - With O(run_id) set (and not in check mode), the module holds the venv's host-side lock
        C(<state_dir>/<slug>/work.lock) (C(flock)) for as long as it works, so two processes never change
        the venv at once, even one left running by a killed C(ansible-playbook) and the next run's.
        This is how many seconds it waits for another holder before failing with that process's id.
      - It also refuses a venv whose run lock (M(oxzep7.python.venv_lock)) names another run, and stops
        before each write (a release marker, the switch, the ledger line) once the run lock no longer says
        what it said when the module started (a new run took over), removing what it made.
    type: int
    default: 300
"""

    BACKUP = r"""
options:
  backup_dir:
    description:
      - Root of the snapshots. Each stable path has a folder C(<backup_dir>/<slug>/), mode 0700.
    type: path
    default: /var/backups/oxzep7-python
"""

    INSTALLER = r"""
options:
  installer:
    description:
      - Which installer creates venvs and installs packages.
      - C(auto) uses uv when it is found (O(uv_path) or on PATH) and pip otherwise.
    type: str
    choices: [auto, uv, pip]
    default: auto
  uv_path:
    description:
      - Path of the uv executable. Default is to look for C(uv) on PATH.
    type: path
  index_url:
    description:
      - Base URL of the package index (PEP 503 simple API), passed as C(--index-url).
      - Credentials in the URL are replaced by C(***) in every result and message; prefer a netrc file.
    type: str
  extra_index_urls:
    description:
      - More index URLs, each passed as C(--extra-index-url).
    type: list
    elements: str
    default: []
  find_links:
    description:
      - Directories (a wheelhouse) or URLs of pages with links to distributions, each passed as C(--find-links).
    type: list
    elements: str
    default: []
  no_index:
    description:
      - Ignore every index and install only from O(find_links), as air-gapped fleets do.
    type: bool
    default: false
  only_binary:
    description:
      - Install wheels only (C(--only-binary :all:)); a package with no wheel for the target fails the
        rebuild instead of compiling on the host.
    type: bool
    default: false
  isolated:
    description:
      - Ignore the installer's configuration files and environment variables (pip C(--isolated),
        uv C(--no-config)), so only the options given here apply.
    type: bool
    default: false
  link_mode:
    description:
      - How uv puts files from its cache into the venv (C(--link-mode)). Ignored by pip.
    type: str
    choices: [clone, copy, hardlink, symlink]
  environment:
    description:
      - Extra environment variables for the installer, for example C(HTTPS_PROXY).
    type: dict
    default: {}
"""

    # The stable path of a check that reads the venv and keeps no ledger (compat_check, venv_preflight).
    STABLE_PATH = r"""
options:
  path:
    description: The stable path of the venv, for example C(/srv/app/venv).
    type: path
    required: true
    aliases: [stable_path]
"""

    # The gates run on a release (venv_verify, venv_upgrade).
    GATES = r"""
options:
  imports:
    description:
      - Module names that must import. Each is imported in its own interpreter process, so each must import on its
        own (as C(python -c "import name") would), not only after an earlier name of the list. Those processes
        run side by side, one per core the module may use and at most 4, while C(pip check) and the lock check
        run, since a first import is mostly compiling bytecode on one core. Together they may take 600 seconds.
    type: list
    elements: str
    default: []
  smoke_commands:
    description:
      - Commands that must exit 0. Each is an argument list, or a string split like a shell would
        split it (no shell runs it). C(python) finds the release's interpreter first on PATH.
    type: list
    elements: raw
    default: []
  test_command:
    description: The application's own test command (argument list or string), run last.
    type: raw
  check_dependencies:
    description: Run C(pip check) (C(uv pip check) when uv is the installer).
    type: bool
    default: true
  verify_environment:
    description: Extra environment variables for the imports, smoke and test commands.
    type: dict
    default: {}
  chdir:
    description: Working directory of the imports, smoke and test commands.
    type: path
  command_timeout:
    description:
      - Seconds each smoke command and the test command may run. One that runs longer is stopped (TERM,
        then KILL 10 seconds later, to its whole process group) and its gate fails saying it timed out.
      - C(pip check) and the imports may run 600 seconds each.
    type: int
    default: 600
"""

    # What a new release is built from besides the lock (venv_rebuild, venv_upgrade).
    BUILD = r"""
options:
  upgrades:
    description:
      - Requirement strings that replace the lock's pin of the same project, for example
        C(numpy==1.26.4) for a pin with no build for the target.
    type: list
    elements: str
    default: []
  keep_seed_pins:
    description: Install the locked versions of pip, setuptools and wheel too.
    type: bool
    default: false
  allow_unreproducible:
    description: Build without local sources that no longer exist instead of failing.
    type: bool
    default: false
"""
