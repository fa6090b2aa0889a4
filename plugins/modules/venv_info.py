#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: venv_info
short_description: Facts about an application venv, its releases and its interpreter
version_added: 0.1.0
description:
  - Reads the venv at a stable path by running its own interpreter (no pip needed) and returns
    the interpreter, every installed distribution with its version, Requires-Python and PEP 610
    direct-URL data, the lock, size, owner and the release layout.
  - With O(target), also tells whether the venv is already on that target (RV(on_target)).
  - Never changes anything.
author: oxzep7.python contributors (@oxzep7)
extends_documentation_fragment:
  - oxzep7.python.venv
options:
  include_lock:
    description:
      - Also render the lock (exact pins of everything installed) and its sha256.
    type: bool
    default: true
  target:
    description:
      - A target Python, C(X.Y) or C(X.Y.Z), CPython 3.8 or later (anything else is an error).
      - The venv is on target when its interpreter runs that version and it is known good - the live
        release is one a run upgraded to (a ledger record C(step=upgrade), C(result=upgraded) for that
        release, written only after it was verified, switched to and found healthy) and it is marked
        verified, or the venv ran that version before any run of this collection (a plain venv directory,
        or the adopted release that was one). A release left live by an interrupted run is not on target.
    type: str
attributes:
  check_mode:
    support: full
    description: Read-only; runs the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing, so there is no diff.
"""

EXAMPLES = r"""
- name: Read the app venv
  oxzep7.python.venv_info:
    path: /srv/app/venv
  register: app_venv

- name: Show its interpreter
  ansible.builtin.debug:
    msg: "{{ app_venv.interpreter.version }} ({{ app_venv.layout }})"
"""

RETURN = r"""
stable_path:
  description: The stable path, absolute and normalized.
  returned: always
  type: str
  sample: /srv/app/venv
exists:
  description: Whether there is a venv at the stable path.
  returned: always
  type: bool
layout:
  description: C(absent), C(plain) (a venv directory not yet converted) or C(release) (a symlink to a release).
  returned: always
  type: str
  sample: release
current_release:
  description: Id of the release the stable path points at; null for a plain or absent venv.
  returned: always
  type: str
  sample: 20261121T020000Z-cp312
release_path:
  description: The real directory of the live venv.
  returned: always
  type: str
releases_dir:
  description: Directory holding the releases of this stable path.
  returned: always
  type: str
  sample: /srv/app/.venv.releases
releases:
  description: Every release, oldest first.
  returned: always
  type: list
  elements: dict
  contains:
    id: {description: "Release id.", type: str}
    path: {description: "Release directory.", type: str}
    state: {description: "C(verified), C(built), C(building) or C(unknown).", type: str}
    verified: {description: "Whether the release passed verification (or was the adopted live venv).", type: bool}
    created: {description: "Creation time, seconds since the epoch.", type: float}
    current: {description: "Whether the stable path points at it.", type: bool}
    python_version: {description: "Python version of the release.", type: str}
    origin: {description: "C(adopted), C(snapshot:<id>) or null for a rebuilt release.", type: str}
interpreter:
  description: The venv's interpreter as it reports itself.
  returned: when exists
  type: dict
  contains:
    path: {description: "The venv's C(bin/python).", type: str}
    home: {description: "The C(home) of pyvenv.cfg (the base interpreter's directory).", type: str}
    version: {description: "Version C(X.Y.Z).", type: str}
    releaselevel: {description: "C(final), C(candidate) and so on.", type: str}
    implementation: {description: "C(cpython), C(pypy) and so on.", type: str}
    cache_tag: {description: "Bytecode cache tag such as C(cpython-312).", type: str}
    executable: {description: "C(sys.executable).", type: str}
    base_executable: {description: "The base interpreter's executable when Python reports it.", type: str}
    prefix: {description: "C(sys.prefix).", type: str}
    base_prefix: {description: "C(sys.base_prefix).", type: str}
    purelib: {description: "Directory of pure Python packages.", type: str}
    platlib: {description: "Directory of platform-specific packages.", type: str}
    soabi: {description: "The C(SOABI) config variable.", type: str}
pyvenv_cfg:
  description: The key-value pairs of pyvenv.cfg.
  returned: when exists
  type: dict
has_pip:
  description: Whether C(python -m pip) works in the venv.
  returned: when exists
  type: bool
distributions:
  description: Distributions installed inside the venv, sorted by name.
  returned: when exists
  type: list
  elements: dict
  contains:
    name: {description: "Project name.", type: str}
    version: {description: "Installed version.", type: str}
    requires_python: {description: "Its Requires-Python metadata, or null.", type: str}
    installer: {description: "What installed it (C(pip), C(uv)) from the INSTALLER file.", type: str}
    direct_url: {description: "The PEP 610 direct_url.json data for URL, VCS and local installs, or null.", type: dict}
    editable: {description: "Whether it is an editable install.", type: bool}
direct_url_installs:
  description: Names of distributions installed from a URL, VCS or local path.
  returned: when exists
  type: list
  elements: str
size_bytes:
  description: Bytes of the files of the live venv.
  returned: when exists
  type: int
owner:
  description: Owner name of the live venv directory.
  returned: when exists
  type: str
group:
  description: Group name of the live venv directory.
  returned: when exists
  type: str
uid:
  description: Owner uid.
  returned: when exists
  type: int
gid:
  description: Group gid.
  returned: when exists
  type: int
mode:
  description: Mode of the live venv directory, octal.
  returned: when exists
  type: str
  sample: "0755"
lock:
  description: The lock text (requirements file with one exact pin per line).
  returned: when exists and include_lock
  type: str
lock_sha256:
  description: sha256 of the lock text.
  returned: when exists and include_lock
  type: str
on_target:
  description: Whether the venv is already on O(target), see there.
  returned: when target is set
  type: bool
on_target_reason:
  description: Why it is or is not on target.
  returned: when target is set
  type: str
  sample: release 20261121T020000Z-3f9a1c2b-cp312 runs Python 3.12.7; run 20261121T020000Z-3f9a1c2b upgraded to it, verified and healthy
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.oxzep7.python.plugins.module_utils._modules import VENV_SPEC, main, spec
from ansible_collections.oxzep7.python.plugins.module_utils._state import run_venv_info


def run():
    module = AnsibleModule(argument_spec=spec(VENV_SPEC, include_lock=dict(type="bool", default=True),
                                              target=dict(type="str")),
                           supports_check_mode=True)
    main(module, run_venv_info)


if __name__ == "__main__":
    run()
