#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: bake_probe
short_description: Watch a host with a probe for a while, and fail at the first probe that fails
version_added: 0.1.0
description:
  - Runs a probe on the host at once, then every O(interval) seconds until O(seconds) are over, the last
    one at the end. The task fails at the first probe that fails, saying why; it passes when every probe
    passed.
  - "A probe is one or more checks, run in this order: O(command) must exit 0; O(url) must answer 2xx (or one
    of O(status_code)); the value read from O(metrics) must be at or below O(metrics.max). Every command and
    request runs under O(timeout)."
  - O(metrics.format=prometheus) reads the Prometheus text exposition format
    (U(https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format)) with a parser of the
    collection's own (the hosts need only the Python standard library). Every sample of O(metrics.name) that
    has the labels of O(metrics.labels) must be at or below the ceiling, and at least one must be there.
  - O(metrics.format=json) reads a JSON document and the number at O(metrics.key). For a rate (errors per
    second over the last minutes, a latency quantile), ask your Prometheus server's HTTP API
    (C(/api/v1/query?query=...)) and take C(data.result.0.value.1).
  - The C(oxzep7.python.upgrade) role runs it after every host of a batch upgraded (the bake,
    C(upgrade_bake_seconds)), and after a venv's health checks for the venv's C(soak_seconds).
  - Changes nothing on the host.
author: oxzep7.python contributors (@oxzep7)
options:
  seconds:
    description: How long to watch, in seconds. C(0) runs one probe.
    type: int
    default: 0
  interval:
    description: Seconds between the end of one probe and the start of the next.
    type: int
    default: 10
  timeout:
    description: Seconds each command or request may take; one that overstays fails the probe.
    type: int
    default: 10
  command:
    description:
      - A command (argument list, run without a shell) that must exit 0. Its output is returned when it fails.
    type: list
    elements: str
  url:
    description:
      - A URL that must answer with a 2xx status (or one of O(status_code)), fetched from the host. Credentials
        in it (C(https://user:password@host/...)) are sent as Basic auth and masked in every result.
    type: str
  status_code:
    description: The statuses O(url) may answer with; empty means any 2xx.
    type: list
    elements: int
    default: []
  metrics:
    description: A metrics URL, fetched from the host, and the ceiling its value must stay under.
    type: dict
    suboptions:
      url:
        description: The URL; it must answer 2xx. Credentials in it are masked as for O(url).
        type: str
        required: true
      format:
        description: C(prometheus) (the text exposition format) or C(json).
        type: str
        choices: [prometheus, json]
        default: prometheus
      name:
        description: The metric's name (C(prometheus)), for example C(http_errors_per_second).
        type: str
      labels:
        description: Labels a sample must have (C(prometheus)); a sample may have more.
        type: dict
        default: {}
      key:
        description:
          - The path to the number (C(json)), segments separated by dots (C(errors.rate), C(data.result.0.value.1));
            a segment that is an integer indexes an array. A list of segments is for keys with dots in them.
          - A number is a JSON number or a string that holds one (the Prometheus HTTP API's values).
        type: raw
      max:
        description: The ceiling. A value above it, or C(NaN), fails the probe.
        type: float
        required: true
attributes:
  check_mode:
    support: partial
    description: One probe, without waiting.
    details: One probe runs and nothing waits. O(url) and O(metrics) are read (a GET changes nothing); O(command) is not run.
  diff_mode:
    support: none
    description: Changes nothing.
"""

EXAMPLES = r"""
- name: Watch the app's error rate for 10 minutes after the upgrade
  oxzep7.python.bake_probe:
    seconds: 600
    interval: 15
    metrics:
      url: http://127.0.0.1:8080/metrics
      name: http_request_error_ratio
      labels: {handler: /checkout}
      max: 0.01

- name: The 99th percentile latency from the Prometheus server, at most 250 ms
  oxzep7.python.bake_probe:
    seconds: 300
    metrics:
      url: "http://prometheus.internal:9090/api/v1/query?query={{ latency | urlencode }}"
      format: json
      key: data.result.0.value.1
      max: 0.25
  vars:
    latency: >-
      histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{instance="{{ inventory_hostname }}:8080"}[1m])))

- name: A command of the app's own, and its health URL
  oxzep7.python.bake_probe:
    seconds: 120
    command: [/srv/shop/venv/bin/python, -m, shop.selftest, --quick]
    url: "http://{{ inventory_hostname }}:8080/health"
"""

RETURN = r"""
passed:
  description: Whether every probe passed.
  returned: always
  type: bool
probes:
  description: How many probes ran.
  returned: always
  type: int
seconds:
  description: How long it watched, in seconds.
  returned: always
  type: float
failure:
  description: Why the failed probe failed; null when every probe passed.
  returned: always
  type: str
skipped_command:
  description: Whether O(command) was left out (check mode).
  returned: always
  type: bool
samples:
  description: The last 20 probes, oldest first (the failed one last).
  returned: always
  type: list
  elements: dict
  contains:
    ok:
      description: Whether the probe passed.
      type: bool
    at:
      description: When it started, in seconds after the first one.
      type: float
    seconds:
      description: How long it took.
      type: float
    error:
      description: Why it failed; null when it passed.
      type: str
    rc:
      description: The command's exit status.
      type: int
    status:
      description: The HTTP status of O(url) or O(metrics.url).
      type: int
    metric_values:
      description: The values read from O(metrics.url) (at most 10).
      type: list
    cmd:
      description: The command, when it failed.
      type: list
    stdout:
      description: The end of the command's stdout, when it failed.
      type: str
    stderr:
      description: The end of the command's stderr, when it failed.
      type: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.oxzep7.python.plugins.module_utils._bake import run_bake_probe
from ansible_collections.oxzep7.python.plugins.module_utils._modules import main


def run():
    module = AnsibleModule(
        argument_spec=dict(
            seconds=dict(type="int", default=0),
            interval=dict(type="int", default=10),
            timeout=dict(type="int", default=10),
            command=dict(type="list", elements="str"),
            url=dict(type="str"),
            status_code=dict(type="list", elements="int", default=[]),
            metrics=dict(type="dict", options=dict(
                url=dict(type="str", required=True),
                format=dict(type="str", choices=["prometheus", "json"], default="prometheus"),
                name=dict(type="str"),
                labels=dict(type="dict", default={}),
                key=dict(type="raw", no_log=False),
                max=dict(type="float", required=True)),
                required_if=[("format", "prometheus", ["name"]), ("format", "json", ["key"])])),
        required_one_of=[("command", "url", "metrics")],
        supports_check_mode=True)
    main(module, run_bake_probe)


if __name__ == "__main__":
    run()
