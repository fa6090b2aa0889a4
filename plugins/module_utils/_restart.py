# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restart a venv's services and wait until they are healthy (``venv_restart``).

One module call after a switch, instead of one task per kind of restart and per health check:
the systemd units are restarted with ``systemctl restart``, then the restart commands run, then the
health command and the health URL are tried (``_bake.probe``, command first) until one try passes
both, at most ``retries`` more times after the first, ``delay`` seconds apart. Every command and
request runs under a time limit. Runs on host Python 3.8+.
"""

from __future__ import absolute_import, division, print_function

import time

from ansible_collections.oxzep7.python.plugins.module_utils._common import (
    Oxzep7Error, module_runner, url_secrets)
from ansible_collections.oxzep7.python.plugins.module_utils import _bake

__metaclass__ = type


def wait_healthy(spec, retries, delay, runner, get=_bake.fetch, clock=time.monotonic, sleep=time.sleep):
    """Try the checks of ``spec`` until one try passes, at most ``1 + retries`` tries, ``delay`` seconds apart.

    The same count as Ansible's ``until``/``retries``/``delay`` on a task: the first try, then up to
    ``retries`` more.

    :param spec: the checks, see ``_bake.probe`` (``command``, ``url``, ``status_code``, ``timeout``).
    :param retries: int, 0 or more.
    :param delay: seconds (int) between the end of one try and the start of the next.
    :returns: dict ``passed`` (bool), ``tries`` (int), ``seconds`` (float, from the first try's start to
        the last one's end), ``failure`` (the last try's error, or None) and ``samples`` (the last
        ``_bake.KEEP_SAMPLES`` tries, each with ``at``, seconds after the first started).
    """
    started = clock()
    samples, tries = [], 0
    while True:
        sample = _bake.probe(spec, runner, get)
        tries += 1
        sample["at"] = round(max(clock() - started - sample["seconds"], 0.0), 3)
        samples = (samples + [sample])[-_bake.KEEP_SAMPLES:]
        if sample["ok"] or tries > retries:
            break
        sleep(delay)
    return dict(passed=sample["ok"], tries=tries, seconds=round(clock() - started, 3), failure=sample["error"],
                samples=samples)


def _argv(value, what):
    """``value`` as an argument list (list of non-empty str; numbers become str), or :class:`Oxzep7Error` naming ``what``."""
    if not isinstance(value, list) or not value:
        raise Oxzep7Error("%s must be a non-empty argument list, not %r; nothing was restarted" % (what, value))
    argv = []
    for arg in value:
        if isinstance(arg, bool) or not isinstance(arg, (str, int, float)) or arg == "":
            raise Oxzep7Error("%s has %r among its arguments: each must be a non-empty string; nothing was "
                              "restarted" % (what, arg))
        argv.append(str(arg))
    return argv


def restart(module, runner, commands):
    """Restart the units (``systemctl restart``, one call each) and run the restart ``commands`` (lists of str),
    in order.

    :returns: list of dicts ``unit`` or ``cmd``, and ``seconds``, one per restart that ran.
    :raises Oxzep7Error: at the first that fails or overstays ``restart_timeout`` seconds, naming it,
        with its ``cmd``, ``rc``, ``stdout`` and ``stderr``, and ``restarted``, those that ran before it;
        the later ones did not run.
    """
    p = module.params
    systemctl = module.get_bin_path("systemctl") if p["services"] else None
    if p["services"] and not systemctl:
        raise Oxzep7Error("services %s are listed but systemctl is not on the host's PATH; nothing was restarted"
                          % ", ".join(p["services"]))
    steps = [(dict(unit=unit), [systemctl, "restart", unit], "the restart of systemd unit %s of %s" % (
        unit, p["path"])) for unit in p["services"]]
    steps += [(dict(cmd=argv), argv, "restart command %d of %s" % (number, p["path"]))
              for number, argv in enumerate(commands, 1)]
    done = []
    for item, argv, what in steps:
        try:
            ran = runner.run(argv, what=what, timeout=p["restart_timeout"])
        except Oxzep7Error as exc:
            exc.details.update(restarted=done, changed=bool(done))
            raise
        done.append(dict(item, seconds=round(ran.seconds, 3)))
    return done


def run_venv_restart(module):
    """``venv_restart``: see the module's documentation; returns its result dict.

    :raises Oxzep7Error: on bad options (nothing restarted), a restart that failed or overstayed, or
        health checks that never passed (``msg`` names the venv, the check that failed last and why;
        ``rc``, ``stdout``, ``stderr`` and ``cmd`` are the health command's when it failed, None and empty
        otherwise).
    """
    p = module.params
    module.no_log_values.update(url_secrets([p["health_url"]]))
    if p["retries"] < 0 or p["delay"] < 0 or p["timeout"] < 1 or p["restart_timeout"] < 1:
        raise Oxzep7Error("retries and delay must be 0 or more, timeout and restart_timeout 1 or more (got %s, %s, "
                          "%s, %s); nothing was restarted" % (p["retries"], p["delay"], p["timeout"],
                                                              p["restart_timeout"]))
    commands = [_argv(argv, "restart command %d" % number) for number, argv in enumerate(p["restart_commands"], 1)]
    health_command = _argv(p["health_command"], "health_command") if p["health_command"] is not None else None
    result = dict(changed=bool(p["services"] or commands), restarted=[], health={}, seconds=0.0)
    if module.check_mode:
        return result
    runner = module_runner(module)
    started = time.monotonic()
    result["restarted"] = restart(module, runner, commands)
    if health_command or p["health_url"]:
        spec = dict(command=health_command, url=p["health_url"], status_code=[p["health_status"]],
                    timeout=p["timeout"])
        result["health"] = wait_healthy(spec, p["retries"], p["delay"], runner)
    result["seconds"] = round(time.monotonic() - started, 3)
    health = result["health"]
    if health and not health["passed"]:
        last = health["samples"][-1]
        command_failed = "cmd" in last  # a failed health command leaves its cmd in the sample
        raise Oxzep7Error("%s: %s still failed after %d tries over %.1f s: %s" % (
            p["path"], "the health command" if command_failed else "the health URL", health["tries"],
            health["seconds"], health["failure"]),
            rc=last.get("rc") if command_failed else None, stdout=last.get("stdout", ""),
            stderr=last.get("stderr", ""), cmd=last.get("cmd"), **result)
    return result
