# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The app's own benchmark, run against the live release and against the new one (``venv_upgrade``).

Each run goes through a small wrapper run by the host's Python: it starts the command, waits for it, and
prints the wall time and the peak resident set size of the command and everything it started
(``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``, kibibytes on Linux: getrusage(2)).
"""

from __future__ import absolute_import, division, print_function

import json
import statistics
import sys

from ansible_collections.oxzep7.python.plugins.module_utils._common import CommandTimeout, Oxzep7Error

__metaclass__ = type

_TAIL = 2000

# argv: the command. Prints one JSON line: rc, seconds (wall, monotonic), maxrss_kib, stdout and stderr tails.
WRAPPER = r"""
import json, resource, subprocess, sys, time
started = time.monotonic()
proc = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
seconds = time.monotonic() - started
print(json.dumps(dict(rc=proc.returncode, seconds=seconds, stdout=proc.stdout[-%d:], stderr=proc.stderr[-%d:],
                      maxrss_kib=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)))
""" % (_TAIL, _TAIL)


def measure(runner, argv, env, runs, chdir=None, timeout=600, what="the benchmark"):
    """Run ``argv`` ``runs`` times, one after another, and summarise.

    :param argv: the command (list of str); no shell runs it.
    :param env: variables added to its environment (dict), e.g. the release's ``VIRTUAL_ENV`` and ``PATH``.
    :param runs: how many times (int, at least 1).
    :param timeout: seconds each run may take (int).
    :returns: dict ``seconds`` (list of floats, wall time per run), ``median_seconds`` (float),
        ``peak_rss_bytes`` (int, the largest over the runs).
    :raises Oxzep7Error: when a run fails (non-zero exit status), times out, or the wrapper prints no
        result; the details hold the run's ``cmd``, ``rc``, ``stdout`` and ``stderr``.
    """
    seconds, peak = [], 0
    while len(seconds) < max(int(runs), 1):
        try:
            res = runner.run([sys.executable, "-c", WRAPPER] + list(argv), env=env, cwd=chdir, check=False,
                             what=what, timeout=timeout)
        except CommandTimeout as exc:
            raise Oxzep7Error("%s timed out after %s s: %s" % (what, timeout, " ".join(argv)), **exc.details)
        try:
            out = json.loads(res.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise Oxzep7Error("%s printed no result: %s" % (what, " ".join(argv)), **res.as_dict())
        if out["rc"] != 0:
            raise Oxzep7Error("%s failed (rc=%s): %s" % (what, out["rc"], " ".join(argv)), cmd=list(argv),
                              rc=out["rc"], stdout=out["stdout"], stderr=out["stderr"])
        seconds.append(round(float(out["seconds"]), 4))
        peak = max(peak, int(out["maxrss_kib"]) * 1024)
    return dict(seconds=seconds, median_seconds=round(statistics.median(seconds), 4), peak_rss_bytes=peak)


def compare(before, after, max_regression_percent=None):
    """Compare two :func:`measure` results of the same command.

    :returns: dict ``before``, ``after``, ``ratio`` (after's median over before's, float), ``regression_percent``
        (how much slower the new release is, float; negative when faster), ``rss_ratio`` (float),
        ``max_regression_percent`` and ``passed`` (False when the regression is above the maximum).
    """
    ratio = after["median_seconds"] / before["median_seconds"] if before["median_seconds"] > 0 else 1.0
    rss = after["peak_rss_bytes"] / before["peak_rss_bytes"] if before["peak_rss_bytes"] > 0 else 1.0
    regression = round((ratio - 1.0) * 100.0, 1)
    passed = max_regression_percent is None or regression <= float(max_regression_percent)
    return dict(before=before, after=after, ratio=round(ratio, 3), rss_ratio=round(rss, 3),
                regression_percent=regression, max_regression_percent=max_regression_percent, passed=passed)
