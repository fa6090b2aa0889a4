#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: venv_restart
short_description: Restart the services of a venv and wait until they are healthy
version_added: 0.2.0
description:
  - Restarts the venv's systemd units (C(systemctl restart), one unit after the other), then runs its
    restart commands (argument lists, no shell), in order. The first restart that fails or overstays
    O(restart_timeout) fails the task, and the later ones do not run.
  - Then tries the health checks until one try passes them all. O(health_command) must exit 0 and
    O(health_url) must answer O(health_status). A try runs the command first, then fetches the URL.
    After the first try, at most O(retries) more follow, O(delay) seconds apart, the count of Ansible's
    C(until) and C(retries) on a task.
  - Every command runs under coreutils C(timeout), which sends TERM to the command's process group
    when its limit is over and KILL 10 seconds later. Every request, its name lookup and its body
    included, gets O(timeout) seconds in all.
  - Arguments are passed as written, without a shell. Unlike M(ansible.builtin.command), C($HOME) and
    C(~) in them are not expanded.
  - The C(oxzep7.python.upgrade) and C(oxzep7.python.rollback) roles run it after each switch, and the
    upgrade role's rescue runs it after the switch back.
author: oxzep7.python contributors (@oxzep7)
options:
  path:
    description: The venv's stable path. It names the venv in messages; nothing is read from it.
    type: path
    required: true
    aliases: [stable_path]
  services:
    description: The systemd units to restart.
    type: list
    elements: str
    default: []
  restart_commands:
    description:
      - Commands that restart services not under systemd, each an argument list of non-empty strings (numbers
        are turned into strings). A command that is not a list is refused before anything restarts.
    type: list
    elements: raw
    default: []
  restart_timeout:
    description: Seconds each unit's restart and each restart command may take.
    type: int
    default: 120
  health_command:
    description: A command (argument list of non-empty strings) that must exit 0 once the services are up.
    type: list
    elements: raw
  health_url:
    description:
      - A URL, fetched from the host, that must answer O(health_status). Credentials in it
        (C(https://user:password@host/...)) are sent as Basic auth and masked in every result.
    type: str
  health_status:
    description: The HTTP status O(health_url) must answer with.
    type: int
    default: 200
  retries:
    description: How many more tries follow a failed first try of the health checks.
    type: int
    default: 10
  delay:
    description: Seconds between the end of one try and the start of the next.
    type: int
    default: 3
  timeout:
    description: Seconds the health command and the request to the health URL may each take, per try.
    type: int
    default: 30
attributes:
  check_mode:
    support: full
    description: Restarts nothing and checks nothing; C(changed) says whether anything would be restarted.
  diff_mode:
    support: none
    description: A restart changes no file.
notes:
  - C(changed) is true when a unit was restarted or a restart command ran, also when a later restart or the
    health checks failed. A restart has no state to compare.
"""

EXAMPLES = r"""
- name: Restart the app's unit and wait until its health URL answers 200
  oxzep7.python.venv_restart:
    path: /srv/shop/venv
    services: [shop.service]
    health_url: http://127.0.0.1:8080/health
    retries: 20
    delay: 3

- name: A service under supervisord, checked with a command of its own
  oxzep7.python.venv_restart:
    path: /srv/worker/venv
    restart_commands:
      - [supervisorctl, restart, worker]
    health_command: [/srv/worker/venv/bin/python, -m, worker.ping]
"""

RETURN = r"""
restarted:
  description: The restarts that ran, in order, each with C(unit) or C(cmd) and its C(seconds).
  returned: always
  type: list
  elements: dict
  sample: [{unit: shop.service, seconds: 0.41}]
health:
  description: The health checks; empty when the venv has none, or in check mode.
  returned: always
  type: dict
  contains:
    passed:
      description: Whether a try passed.
      type: bool
    tries:
      description: How many tries ran.
      type: int
    seconds:
      description: Seconds from the start of the first try to the end of the last.
      type: float
    failure:
      description: Why the last try failed; null when it passed.
      type: str
    samples:
      description:
        - The last 20 tries, oldest first. Each has C(ok), C(at) (seconds after the first try started),
          C(seconds), C(error), and what the checks saw, C(rc) and C(status). A failed command
          adds C(cmd), C(stdout) and C(stderr).
      type: list
      elements: dict
seconds:
  description: Seconds the restarts and the health checks took together, also when the checks failed; 0 in check mode.
  returned: always
  type: float
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.oxzep7.python.plugins.module_utils._modules import main
from ansible_collections.oxzep7.python.plugins.module_utils._restart import run_venv_restart


def run():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True, aliases=["stable_path"]),
            services=dict(type="list", elements="str", default=[]),
            restart_commands=dict(type="list", elements="raw", default=[]),
            restart_timeout=dict(type="int", default=120),
            health_command=dict(type="list", elements="raw"),
            health_url=dict(type="str"),
            health_status=dict(type="int", default=200),
            retries=dict(type="int", default=10),
            delay=dict(type="int", default=3),
            timeout=dict(type="int", default=30)),
        supports_check_mode=True)
    main(module, run_venv_restart)


if __name__ == "__main__":
    run()
