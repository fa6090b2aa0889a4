#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: pyenv_install
short_description: pyenv and a CPython version under a pyenv root, built offline, exported and imported
version_added: 0.1.0
description:
  - Makes sure pyenv is installed under O(pyenv_root), from O(pyenv_archive) (a tar of a pyenv checkout,
    for hosts without internet) or O(pyenv_git_url). An existing pyenv is left as it is.
  - Makes sure CPython O(version) is installed side by side with what is there, by importing O(archive)
    (an export of the same version built on a host of the same platform under the same root) or by
    compiling it with C(pyenv install), run without a shell and with an explicit environment
    (O(mirror_url), O(cache_path), O(configure_opts), O(make_opts), O(definitions_dirs)).
  - Before compiling, checks the compiler, make and the headers CPython needs for ssl, ctypes, sqlite3,
    bz2, lzma, readline, zlib and uuid; a missing one is an error naming the OS packages to install.
  - Every new interpreter is verified (O(verify_modules) import and ensurepip works). A build or import
    that fails verification is removed, so nothing is left half-installed.
  - With O(export_dir), packs the version into C(cpython-<version>-<platform>.tar.gz) with a C(.json)
    holding its sha256, platform and prefix, for other hosts of the same platform.
  - O(state=absent) removes the version, refusing while a venv recorded in O(state_dir) uses it, and while a
    ledger there cannot be read or names no venv (garbled), since it could hide one.
author: oxzep7.python contributors (@oxzep7)
options:
  pyenv_root:
    description: The pyenv root, for example C(/opt/pyenv) system-wide or a user's C(~/.pyenv).
    type: path
    default: /opt/pyenv
  version:
    description: CPython version, C(X.Y.Z).
    type: str
    required: true
  state:
    description: C(present) or C(absent).
    type: str
    choices: [present, absent]
    default: present
  pyenv_archive:
    description: A tar archive on the host of a pyenv checkout (tree at the top or in one directory).
    type: path
  pyenv_git_url:
    description: Git URL to clone pyenv from when it is absent and O(pyenv_archive) is not given.
    type: str
  pyenv_git_version:
    description: Branch or tag to clone.
    type: str
  mirror_url:
    description: C(PYTHON_BUILD_MIRROR_URL), a mirror of source tarballs named by their sha256.
    type: str
  cache_path:
    description: C(PYTHON_BUILD_CACHE_PATH), a directory holding C(Python-X.Y.Z.tar.xz) (or C(.tgz)).
    type: path
  configure_opts:
    description: C(PYTHON_CONFIGURE_OPTS), for example C(--enable-optimizations --with-lto).
    type: str
  make_opts:
    description: C(MAKE_OPTS), for example C(-j4).
    type: str
  definitions_dirs:
    description: C(PYTHON_BUILD_DEFINITIONS), directories searched for build definitions pyenv lacks.
    type: list
    elements: path
    default: []
  definition:
    description: A build definition file to build from instead of the version's own definition.
    type: path
  build_environment:
    description: More environment variables for the build, for example C(_PYTHON_BUILD_FORCE_SKIP_XZ).
    type: dict
    default: {}
  check_build_deps:
    description: Check the compiler, make and headers before compiling.
    type: bool
    default: true
  verify_modules:
    description: Modules a new interpreter must import.
    type: list
    elements: str
    default: [ssl, sqlite3, ctypes, bz2, lzma, zlib, venv]
  archive:
    description: An exported interpreter archive on the host to import instead of compiling.
    type: path
  archive_sha256:
    description: Expected sha256 of O(archive); default the one in C(<archive>.json).
    type: str
  export_dir:
    description: Directory to export the installed version to, as an archive plus its C(.json).
    type: path
  state_dir:
    description: State directory of oxzep7.python; its ledgers name the venvs checked before a removal.
    type: path
    default: /var/lib/oxzep7-python
  force:
    description: Rebuild or re-import a version that is installed; remove a version that venvs use.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Reports whether pyenv would be installed and the version built, imported or removed, and checks build dependencies.
  diff_mode:
    support: full
    description: Shows the version before and after.
"""

EXAMPLES = r"""
- name: CPython 3.13.5 under /opt/pyenv, offline from a source cache, exported for the other hosts
  oxzep7.python.pyenv_install:
    pyenv_root: /opt/pyenv
    pyenv_archive: /var/tmp/pyenv.tar.gz
    version: 3.13.5
    cache_path: /var/cache/python-build
    make_opts: -j2
    export_dir: /var/tmp/interpreters

- name: The same version on a host of the same platform, without compiling
  oxzep7.python.pyenv_install:
    pyenv_root: /opt/pyenv
    pyenv_archive: /var/tmp/pyenv.tar.gz
    version: 3.13.5
    archive: /var/tmp/cpython-3.13.5-debian-12-x86_64-glibc2.36.tar.gz
"""

RETURN = r"""
pyenv_root:
  description: The pyenv root.
  returned: always
  type: str
pyenv_version:
  description: pyenv's own version; null when it is not installed (check mode).
  returned: always
  type: str
  sample: 2.6.30
pyenv_installed:
  description: Whether pyenv itself was installed by this call.
  returned: always
  type: bool
version:
  description: The CPython version.
  returned: always
  type: str
prefix:
  description: Its directory, C(<pyenv_root>/versions/<version>).
  returned: always
  type: str
interpreter:
  description: Path of its C(pythonX.Y).
  returned: always
  type: str
obtained:
  description: C(present) (already there), C(built), C(imported), C(removed) or C(absent).
  returned: always
  type: str
platform:
  description: This host's platform, as archives record it.
  returned: always
  type: str
  sample: debian-12-x86_64-glibc2.36
archive:
  description: The export (path, sha256, platform, prefix, version, created); null without O(export_dir).
  returned: always
  type: dict
build:
  description: The C(pyenv install) command with rc, the end of its output and seconds; null when nothing was built.
  returned: always
  type: dict
users:
  description: Venv releases found using the version (state=absent).
  returned: always
  type: list
  elements: str
unreadable_ledgers:
  description: Ledgers in O(state_dir) that cannot be read or name no venv (state=absent).
  returned: always
  type: list
  elements: dict
  contains:
    ledger: {description: The ledger file., type: str}
    reason: {description: What is wrong with it., type: str}
seconds:
  description: Wall time spent on the version, in seconds.
  returned: always
  type: float
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.oxzep7.python.plugins.module_utils._modules import main
from ansible_collections.oxzep7.python.plugins.module_utils._pyenv import DEFAULT_VERIFY_MODULES, run_pyenv_install
from ansible_collections.oxzep7.python.plugins.module_utils._state import DEFAULT_STATE_DIR


def run():
    module = AnsibleModule(argument_spec=dict(
        pyenv_root=dict(type="path", default="/opt/pyenv"),
        version=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        pyenv_archive=dict(type="path"),
        pyenv_git_url=dict(type="str"),
        pyenv_git_version=dict(type="str"),
        mirror_url=dict(type="str"),
        cache_path=dict(type="path"),
        configure_opts=dict(type="str"),
        make_opts=dict(type="str"),
        definitions_dirs=dict(type="list", elements="path", default=[]),
        definition=dict(type="path"),
        build_environment=dict(type="dict", default={}),
        check_build_deps=dict(type="bool", default=True),
        verify_modules=dict(type="list", elements="str", default=list(DEFAULT_VERIFY_MODULES)),
        archive=dict(type="path"),
        archive_sha256=dict(type="str"),
        export_dir=dict(type="path"),
        state_dir=dict(type="path", default=DEFAULT_STATE_DIR),
        force=dict(type="bool", default=False),
    ), supports_check_mode=True, mutually_exclusive=[("pyenv_archive", "pyenv_git_url"), ("archive", "definition")])
    main(module, run_pyenv_install)


if __name__ == "__main__":
    run()
