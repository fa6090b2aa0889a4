#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This module is an action plugin only (plugins/action/maintenance_window.py); this file holds its documentation.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: maintenance_window
short_description: Tell on the controller whether a batch may start in a maintenance window
version_added: 0.1.0
description:
  - Runs on the controller only. Returns whether now is inside one of O(windows) with at least
    O(batch_seconds) left before it closes.
  - With neither O(windows) nor O(windows_file), it is always open.
  - C(playbooks/upgrade.yml) runs it before each batch; when it says closed or closing, the run starts
    no new batch and ends as paused (the batch that runs finishes first).
  - Changes nothing.
author: oxzep7.python contributors (@oxzep7)
options:
  windows:
    description:
      - The maintenance windows. An empty list means always open.
    type: list
    elements: dict
    default: []
    suboptions:
      days:
        description: Weekdays the window opens on (C(mon) .. C(sun)); default every day.
        type: list
        elements: str
      start:
        description: Local opening time, C(HH:MM) or C(HH:MM:SS).
        type: str
        required: true
      end:
        description: Local closing time, C(HH:MM) or C(HH:MM:SS); at or before O(windows[].start) it is on the next day.
        type: str
        required: true
      timezone:
        description: IANA time zone of O(windows[].start) and O(windows[].end), for example C(Europe/Berlin).
        type: str
        default: UTC
  windows_file:
    description:
      - A YAML or JSON file on the controller with more windows (a list of dicts like O(windows)), read
        each time the task runs. Edit it during a run to move the window, or to close it so the run
        stops cleanly after the current batch.
    type: path
  batch_seconds:
    description: The minimum time one batch needs, in seconds; a window closing sooner counts as closing.
    type: int
    default: 0
attributes:
  check_mode:
    support: full
    description: Runs the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing.
  action:
    support: full
    description: An action plugin; it never runs on the managed hosts.
"""

EXAMPLES = r"""
- name: Gate the batch on the window
  oxzep7.python.maintenance_window:
    windows:
      - {days: [mon, tue, wed, thu], start: "22:00", end: "05:00", timezone: Europe/Berlin}
      - {days: [sat, sun], start: "00:00", end: "23:59", timezone: Europe/Berlin}
    batch_seconds: 900
  register: window
  run_once: true

- name: Stop starting batches when it closes
  ansible.builtin.meta: end_play
  when: not window.open
"""

RETURN = r"""
open:
  description: Whether a batch may start now.
  returned: always
  type: bool
state:
  description: C(open), C(closing) (open, but too short for a batch) or C(closed).
  returned: always
  type: str
closes_at:
  description: When the current window closes (ISO 8601), or null.
  returned: always
  type: str
seconds_left:
  description: Seconds until it closes, or null.
  returned: always
  type: int
next_open:
  description: The next opening long enough for a batch (ISO 8601), or null.
  returned: always
  type: str
now:
  description: The controller's time that was judged (ISO 8601, UTC).
  returned: always
  type: str
reason:
  description: One sentence saying why.
  returned: always
  type: str
"""
