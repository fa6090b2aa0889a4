#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This module is an action plugin only (plugins/action/fleet_report.py); this file holds its documentation.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: fleet_report
short_description: Render the fleet report of an upgrade run on the controller
version_added: 0.1.0
description:
  - Runs on the controller only. Reads the per-host results under O(report_dir) (C(hosts/<host>.json) and
    C(preflight/hosts/<host>.json), which the C(oxzep7.python.fleet_report) callback writes from the roles'
    results) and returns the run's status and totals. The callback, the one writer of the report, then
    writes C(report.json), C(report.md) and C(report.html) (a table and a timeline) there; without the
    callback enabled nothing is written.
  - Per host, the venvs with from and to version, status (C(upgraded), C(already_current),
    C(rolled_back) with the reason, C(inhibited), C(failed), C(pending), or C(would_upgrade) in check
    mode), the seconds of each stage, and where the log of a failed installer run is; totals (one
    status per host, the worst of its venvs'); the run's status.
  - C(playbooks/upgrade.yml) runs it before each batch, and the callback renders the report once more when
    the run ends, whatever happened (also when the failure budget stopped the run).
  - Each call but a O(finished) one also marks the start of a batch for the callback's notifications
    (C(python_upgrade_notify)). The first call of a run sends C(run_start), each later one C(canary_done) or
    C(batch_done) for the batch before it (see the C(oxzep7.python.fleet_report) callback).
  - "Slices: several C(ansible-playbook) processes may report into one report directory under one run id,
    each for its own hosts, as the jobs of an AWX sliced job template do. Each process's part of the run
    (its hosts, whether it ended or paused, the hosts Ansible failed) is C(parts/<name>.json) there, and the
    report merges every part: each host once, the run finished when every part is. A rerun of the same
    hosts replaces its part. A part file that is not what the callback writes is an error naming the file."
author: oxzep7.python contributors (@oxzep7)
options:
  report_dir:
    description: The run's report directory on the controller.
    type: path
    required: true
  run_id:
    description: The run id shown in the report.
    type: str
    required: true
  hosts:
    description:
      - Every host of the run, in order; hosts without a result are C(pending).
      - Hosts that the run's C(--limit) leaves out (C(ansible_limit), with Ansible's own pattern rules) are
        left out of the report, so a limited run that finished every host it was given is C(completed).
    type: list
    elements: str
    required: true
  target:
    description: The target Python version shown in the report.
    type: str
  paused:
    description: The M(oxzep7.python.maintenance_window) result that paused the run, if it did.
    type: dict
  finished:
    description: Whether the run has ended; otherwise its status is C(running).
    type: bool
    default: false
  failed:
    description:
      - The hosts of O(hosts) that Ansible failed before this call, for the status of a O(finished) call
        (C(playbooks/upgrade.yml) passes the hosts its last play lost). A host whose record says why it failed
        keeps its status.
    type: list
    elements: str
    default: []
  stage:
    description: Whether the batch that starts now is the C(canary) or a C(batch) of the main play (for notifications).
    type: str
    choices: [canary, batch]
    default: batch
  batch:
    description: The hosts of the batch that starts now (C(ansible_play_batch)), for notifications.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
    description: The report is written in check mode too; it is the controller's, not the hosts'.
  diff_mode:
    support: none
    description: Shows nothing.
  action:
    support: full
    description: An action plugin; it never runs on the managed hosts.
seealso:
  - module: oxzep7.python.maintenance_window
"""

EXAMPLES = r"""
- name: Write the fleet report
  oxzep7.python.fleet_report:
    report_dir: "{{ playbook_dir }}/reports/{{ run_id }}"
    run_id: "{{ run_id }}"
    hosts: "{{ ansible_play_hosts_all }}"
    target: "3.12"
    batch: "{{ ansible_play_batch }}"
  run_once: true
"""

RETURN = r"""
status:
  description: C(running), C(paused), C(stopped), C(completed_with_failures) or C(completed).
  returned: success
  type: str
totals:
  description: Number of hosts per status, and C(hosts).
  returned: success
  type: dict
files:
  description: The report's files, which the callback writes.
  returned: success
  type: list
  elements: str
summary:
  description:
    - The run as it stands should it end now (its last batch done, or never started), in the fields a workflow
      needs; C(playbooks/upgrade.yml) publishes it with M(ansible.builtin.set_stats).
    - With other parts of the run still running (slices), its status is C(running).
  returned: success
  type: dict
  contains:
    run_id:
      description: The run id.
      type: str
    status:
      description: C(completed), C(completed_with_failures), C(paused), C(stopped), or C(running).
      type: str
    target:
      description: The target Python version.
      type: str
    totals:
      description: Hosts per status (as RV(totals)).
      type: dict
    paused:
      description: Whether the maintenance window paused the run.
      type: bool
    window:
      description: Why the window paused it, or null.
      type: str
    report_dir:
      description: The run's report directory.
      type: str
    reports:
      description: The report's files, C(json), C(md) and C(html).
      type: dict
oxzep7_fleet_report:
  description: For the callback, the arguments it renders the report with (every option but O(stage) and O(batch)).
  returned: success
  type: dict
oxzep7_batch:
  description: For the callback's notifications, the batch that starts now, C(stage) and C(hosts).
  returned: success
  type: dict
"""
