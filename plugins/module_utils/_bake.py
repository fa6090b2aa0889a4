# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bake: watch a host with a probe for a while after its upgrade (``bake_probe``).

A probe is one or more checks, run in this order, each under a time limit:

- a command (argument list, no shell) that must exit 0;
- a URL that must answer 2xx (or one of the given statuses);
- a metrics URL whose value must stay at or below a ceiling: the Prometheus text exposition format
  (a metric name, optional labels) or JSON (a key path).

The Prometheus text format is read by :func:`parse_prometheus`, a small parser of the format as its
specification gives it ("Exposition formats", text-based format:
https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format). The hosts have only
the standard library, so no client library is assumed. Runs on host Python 3.8+.
"""

from __future__ import absolute_import, division, print_function

import json
import math
import re
import threading
import time

from ansible_collections.oxzep7.python.plugins.module_utils._common import (
    CommandTimeout, Oxzep7Error, module_runner, redact, url_secrets)

__metaclass__ = type

MAX_BODY = 8 * 1024 * 1024  # bytes of a response read at most; a larger one fails the probe
_TAIL = 2000                # characters of a command's output kept in a sample
KEEP_SAMPLES = 20           # samples returned: the last ones (the failing one among them)

# Prometheus text format, "Line format": metric and label names.
_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_BLANKS = " \t"
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}


class ProbeFailed(Exception):
    """One check of a probe failed; ``msg`` (str) says why, ``details`` (dict) holds what it saw."""

    def __init__(self, msg, **details):
        super(ProbeFailed, self).__init__(msg)
        self.msg = redact(msg)
        self.details = redact(details)


# --- the Prometheus text format -------------------------------------------------------------------

def parse_prometheus(text):
    """Parse the Prometheus text exposition format (version 0.0.4) into samples.

    As the specification says: lines are separated by ``\\n``; empty lines and lines whose first
    non-blank character is ``#`` (``HELP``, ``TYPE``, other comments, OpenMetrics' ``# EOF``) carry no
    sample; leading and trailing blanks (spaces, tabs) are ignored, and tokens are separated by blanks.
    A sample line is::

        metric_name [ "{" label_name "=" '"' label_value '"' { "," label_name "=" '"' label_value '"' } [ "," ] "}" ]
            value [ timestamp ]

    Label values escape ``\\``, ``"`` and the line feed as ``\\\\``, ``\\"`` and ``\\n``. The value is a
    float, ``NaN``, ``+Inf`` or ``-Inf``; the timestamp an integer (milliseconds since the epoch).
    Also read: a quoted metric name inside the braces and quoted label names (the UTF-8 names of
    Prometheus 3, ``{"my.metric", "my.label"="x"}``), and an OpenMetrics exemplar after the value
    (``# {trace_id="..."} 0.5``), which is ignored.

    :param text: the exposition (str).
    :returns: list of ``(name, labels, value)``: str, dict str -> str, float; in the order of the text.
    :raises ValueError: naming the line number and the line, on a line that is not of that grammar.
    """
    samples = []
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.strip(_BLANKS + "\r")
        if not line or line.startswith("#"):
            continue
        try:
            samples.append(_sample(line))
        except (ValueError, IndexError) as exc:
            why = exc if isinstance(exc, ValueError) else "it ends inside the labels"
            raise ValueError("line %d is not in the Prometheus text format (%s): %s" % (number, why, raw[:200]))
    return samples


def _skip(line, pos):
    while pos < len(line) and line[pos] in _BLANKS:
        pos += 1
    return pos


def _quoted(line, pos):
    """The string that starts with the ``"`` at ``pos``, unescaped, and the position after its closing quote."""
    if line[pos] != '"':
        raise ValueError("a quoted string was expected at column %d" % (pos + 1))
    out, pos = [], pos + 1
    while line[pos] != '"':
        if line[pos] == "\\":
            pos += 1
            out.append(_ESCAPES.get(line[pos], "\\" + line[pos]))
        else:
            out.append(line[pos])
        pos += 1
    return "".join(out), pos + 1


def _name(line, pos, pattern):
    """A bare name matching ``pattern`` or a quoted one at ``pos``, and the position after it."""
    if line[pos] == '"':
        return _quoted(line, pos)
    match = pattern.match(line, pos)
    if not match:
        raise ValueError("a name was expected at column %d" % (pos + 1))
    return match.group(0), match.end()


def _sample(line):
    name, labels, pos = None, {}, 0
    if line[0] != "{":
        name, pos = _name(line, 0, _METRIC_NAME)
        pos = _skip(line, pos)
    if pos < len(line) and line[pos] == "{":
        pos = _skip(line, pos + 1)
        while line[pos] != "}":
            key, pos = _name(line, pos, _LABEL_NAME)
            pos = _skip(line, pos)
            if line[pos] == "=":
                value, pos = _quoted(line, _skip(line, pos + 1))
                if key in labels:
                    raise ValueError("label %s appears twice" % key)
                labels[key] = value
            elif name is None:  # a quoted metric name inside the braces
                name = key
            else:
                raise ValueError("'=' was expected at column %d" % (pos + 1))
            pos = _skip(line, pos)
            if line[pos] == ",":
                pos = _skip(line, pos + 1)
            elif line[pos] != "}":
                raise ValueError("',' or '}' was expected at column %d" % (pos + 1))
        pos += 1
    if name is None:
        raise ValueError("no metric name")
    tokens = line[pos:].split()
    if not tokens:
        raise ValueError("no value")
    value = float(tokens[0])  # also NaN, +Inf, -Inf
    rest = tokens[1:]
    if rest and not rest[0].startswith("#"):
        int(rest[0])  # the timestamp
        rest = rest[1:]
    if rest and not rest[0].startswith("#"):
        raise ValueError("unexpected %r after the value" % rest[0])
    return name, labels, value


def prometheus_values(text, name, labels=None):
    """The values of the samples of metric ``name`` whose labels include ``labels``.

    :param text: a Prometheus text exposition (str), see :func:`parse_prometheus`.
    :param labels: dict label name -> value that a sample must have (others may be there too); None: any.
    :returns: list of ``(labels, value)`` (dict, float), in the order of the text; empty when none matches.
    :raises ValueError: when the text is not in the format.
    """
    want = dict((str(k), str(v)) for k, v in (labels or {}).items())
    return [(have, value) for sample, have, value in parse_prometheus(text)
            if sample == name and all(have.get(k) == v for k, v in want.items())]


# --- JSON ----------------------------------------------------------------------------------------

def key_path(key):
    """The segments of a JSON key path: a list as it is, or a str split at dots (``data.result.0.value.1``).

    A list is for keys that hold dots themselves (``[gauges, jvm.memory.heap.usage, value]``).
    :raises ValueError: on an empty path.
    """
    parts = [str(p) for p in key] if isinstance(key, (list, tuple)) else str(key).split(".")
    if not parts or "" in parts:
        raise ValueError("the key path %r is empty or has an empty segment" % (key,))
    return parts


def json_value(document, key):
    """The number at ``key`` in a JSON document.

    Each segment names a key of an object, or an index (0-based, negative from the end) of an array.
    A number is an int or a float (not a boolean), or a string that holds one (the Prometheus HTTP
    API returns sample values as strings: ``"0.015"``).

    :param document: the parsed JSON (dict, list...).
    :param key: the key path, see :func:`key_path`.
    :returns: float.
    :raises ValueError: when the path does not lead to anything, or to something that is not a number.
    """
    node = document
    for depth, part in enumerate(key_path(key)):
        where = ".".join(key_path(key)[:depth + 1])
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and re.match(r"^-?[0-9]+$", part) and -len(node) <= int(part) < len(node):
            node = node[int(part)]
        else:
            raise ValueError("%s is not in the document" % where)
    if isinstance(node, bool) or not isinstance(node, (int, float, str)):
        raise ValueError("%s is %s, not a number" % (".".join(key_path(key)), json.dumps(node)[:100]))
    return float(node)


def over_ceiling(value, maximum):
    """Whether ``value`` (float) breaks the ceiling ``maximum`` (float): above it, or NaN (unknown is not good)."""
    return math.isnan(value) or value > float(maximum)


# --- the checks --------------------------------------------------------------------------------

def fetch(url, timeout, accept="*/*"):
    """GET ``url`` with Ansible's ``open_url`` (proxies, CA bundle; credentials in the URL become Basic auth).

    The whole request, the name lookup and the body included, runs in a worker thread that gets ``timeout``
    seconds: ``open_url``'s own timeout bounds each socket operation only, so a server that trickles its
    answer, or a lookup that hangs, would hold the caller without end. A request past its time is left
    to its daemon thread, which ends with the module's process.

    :param timeout: seconds the request may take in all (int).
    :returns: ``(status, text)``: the HTTP status (int) and the body decoded (str), also for a 4xx or 5xx.
    :raises ProbeFailed: when no answer came in time (refused, timed out, TLS, a body over :data:`MAX_BODY`
        bytes), with the URL's credentials masked.
    """
    answer = {}
    worker = threading.Thread(target=_get, args=(url, timeout, accept, answer), name="oxzep7 GET")
    worker.daemon = True
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise ProbeFailed("%s did not answer within %s s" % (url, timeout))
    if "error" in answer:
        raise ProbeFailed("%s did not answer: %s" % (url, answer["error"]))
    status, body, charset = answer["status"], answer["body"], answer["charset"]
    if len(body) > MAX_BODY:
        raise ProbeFailed("%s answered more than %d bytes" % (url, MAX_BODY), status=status)
    return status, body.decode(charset, "replace")


def _get(url, timeout, accept, answer):
    """:func:`fetch`'s worker: fill ``answer`` (dict) with ``status``, ``body`` (bytes) and ``charset``, or ``error``."""
    from ansible.module_utils.urls import open_url
    from ansible.module_utils.six.moves.urllib.error import HTTPError
    try:
        try:
            response = open_url(url, headers={"Accept": accept}, timeout=timeout, follow_redirects="safe")
        except HTTPError as exc:
            response = exc
        answer.update(status=response.getcode(), body=response.read(MAX_BODY + 1),
                      charset=response.headers.get_content_charset() or "utf-8")
    except Exception as exc:  # any failure to get an answer is the probe's failure, whatever raised it
        answer["error"] = exc


def check_command(runner, argv, timeout):
    """Run ``argv`` (list of str) with ``runner`` (a ``_common.Runner``) under ``timeout`` seconds; it must exit 0.

    :returns: dict ``rc``.
    :raises ProbeFailed: on a non-zero exit status or a timeout, with ``cmd``, ``rc``, ``stdout``, ``stderr``.
    """
    try:
        result = runner.run(argv, check=False, what="the probe command", timeout=timeout)
    except CommandTimeout as exc:
        raise ProbeFailed(exc.msg, **exc.details)
    if result.rc != 0:
        raise ProbeFailed("%s exited with %s: %s" % (" ".join(argv), result.rc, (result.stderr or result.stdout)
                                                     .strip()[-300:]),
                          cmd=list(argv), rc=result.rc, stdout=result.stdout[-_TAIL:], stderr=result.stderr[-_TAIL:])
    return dict(rc=0)


def check_url(url, timeout, status_code=None, get=fetch):
    """``url`` must answer with one of ``status_code`` (list of int), or any 2xx when it is empty.

    :returns: dict ``status``.
    :raises ProbeFailed: otherwise.
    """
    status, _text = get(url, timeout)
    if (status not in status_code) if status_code else not 200 <= status < 300:
        raise ProbeFailed("%s answered HTTP %s, not %s" % (url, status, "/".join(str(s) for s in status_code)
                                                           if status_code else "2xx"), status=status)
    return dict(status=status)


def check_metrics(metrics, timeout, get=fetch):
    """Read ``metrics["url"]`` and hold its value against the ceiling ``metrics["max"]``.

    :param metrics: dict ``url``, ``format`` (``prometheus`` or ``json``), ``max`` (float), and for
        ``prometheus`` ``name`` and ``labels`` (dict; every sample that matches must be at or below the
        ceiling, and one must match), for ``json`` ``key`` (see :func:`json_value`).
    :returns: dict ``metric_values`` (list of floats, at most 10; not ``values``, which Jinja reads as
        the dict method).
    :raises ProbeFailed: on a status other than 2xx, a body not in the format, no such metric or key,
        or a value above the ceiling (or NaN).
    """
    url, maximum = metrics["url"], float(metrics["max"])
    prometheus = metrics.get("format", "prometheus") == "prometheus"
    status, text = get(url, timeout, "text/plain; version=0.0.4" if prometheus else "application/json")
    if not 200 <= status < 300:
        raise ProbeFailed("%s answered HTTP %s, not 2xx" % (url, status), status=status)
    try:
        if prometheus:
            found = prometheus_values(text, metrics["name"], metrics.get("labels"))
            what = "%s%s" % (metrics["name"], _selector(metrics.get("labels")))
            if not found:
                raise ValueError("no sample of %s" % what)
            samples = [("%s%s" % (metrics["name"], _selector(have)), value) for have, value in found]
        else:
            what = ".".join(key_path(metrics["key"]))
            samples = [(what, json_value(json.loads(text), metrics["key"]))]
    except ValueError as exc:  # json.JSONDecodeError is a ValueError too
        raise ProbeFailed("%s: %s" % (url, exc), status=status)
    values = [value for _name, value in samples]
    bad = [(name, value) for name, value in samples if over_ceiling(value, maximum)]
    if bad:
        raise ProbeFailed("%s: %s is %s, above the ceiling %s" % (url, bad[0][0], _number(bad[0][1]), _number(maximum)),
                          status=status, metric_values=values[:10])
    return dict(metric_values=values[:10])


def _selector(labels):
    return "{%s}" % ",".join('%s="%s"' % (k, v) for k, v in sorted((labels or {}).items())) if labels else ""


def _number(value):
    return "%g" % value


def probe(spec, runner, get=fetch):
    """Run the checks of ``spec`` once, in order: command, URL, metrics; stop at the first that fails.

    :param spec: dict with any of ``command`` (list of str), ``url`` (str), ``status_code`` (list of int),
        ``metrics`` (dict, see :func:`check_metrics`), and ``timeout`` (seconds, int) for each check.
    :param runner: a ``_common.Runner`` for the command.
    :returns: dict ``ok`` (bool), ``seconds`` (float), ``error`` (str or None), and what the checks saw
        (``rc``, ``status``, ``metric_values``; on a failed command also ``cmd``, ``stdout``, ``stderr``).
    """
    started = time.monotonic()
    sample = dict(ok=True, error=None)
    try:
        if spec.get("command"):
            sample.update(check_command(runner, spec["command"], spec["timeout"]))
        if spec.get("url"):
            sample.update(check_url(spec["url"], spec["timeout"], spec.get("status_code"), get))
        if spec.get("metrics"):
            sample.update(check_metrics(spec["metrics"], spec["timeout"], get))
    except ProbeFailed as exc:
        sample.update(exc.details, ok=False, error=exc.msg)
    sample["seconds"] = round(time.monotonic() - started, 3)
    return sample


def bake(spec, seconds, interval, runner, get=fetch, check_mode=False, clock=time.monotonic, sleep=time.sleep):
    """Probe every ``interval`` seconds for ``seconds`` seconds; stop at the first failed probe.

    The first probe runs at once, each next one ``interval`` seconds after the previous one ended, and
    the last one when ``seconds`` are over (``seconds=0``: one probe). In check mode one probe runs and
    nothing waits; a command is not run then (it may change something), only the URLs are read.

    :param spec: the checks, see :func:`probe`.
    :returns: dict ``passed`` (bool), ``probes`` (int, how many ran), ``seconds`` (float, how long it
        watched), ``failure`` (the failed probe's error, or None) and ``samples`` (the last
        :data:`KEEP_SAMPLES` probes, each with ``at``, seconds since the bake started).
    """
    if check_mode:
        spec = dict(spec, command=None)
        seconds = 0
    started = clock()
    samples, count = [], 0
    while True:
        sample = probe(spec, runner, get)
        count += 1
        sample["at"] = round(max(clock() - started - sample["seconds"], 0.0), 3)
        samples = (samples + [sample])[-KEEP_SAMPLES:]
        left = started + seconds - clock()
        if not sample["ok"] or left <= 0:
            break
        sleep(min(interval, left))
    return dict(passed=sample["ok"], probes=count, seconds=round(clock() - started, 3), samples=samples,
                failure=sample["error"])


def run_bake_probe(module):
    """``bake_probe``: :func:`bake` with the module's options.

    :raises Oxzep7Error: when the probe failed, with ``msg`` naming the probe and why, ``rc``, ``stdout``,
        ``stderr`` and ``cmd`` of a failed command (None and empty otherwise) and the bake's result.
    """
    p = module.params
    module.no_log_values.update(url_secrets([p.get("url"), (p.get("metrics") or {}).get("url")]))
    if p["seconds"] < 0 or p["interval"] < 1 or p["timeout"] < 1:
        raise Oxzep7Error("seconds must be 0 or more, interval and timeout 1 or more (got %s, %s, %s); nothing was "
                          "probed" % (p["seconds"], p["interval"], p["timeout"]))
    if p["command"] is not None and not p["command"]:
        raise Oxzep7Error("command is an empty list; nothing was probed")
    spec = dict(command=p["command"], url=p["url"], status_code=p["status_code"], metrics=p["metrics"],
                timeout=p["timeout"])
    result = bake(spec, p["seconds"], p["interval"], module_runner(module), check_mode=module.check_mode)
    result.update(changed=False, skipped_command=bool(module.check_mode and p["command"]))
    if not result["passed"]:
        last = result["samples"][-1]
        raise Oxzep7Error("the probe failed after %.1f s of %d s (probe %d): %s" % (
            result["seconds"], p["seconds"], result["probes"], result["failure"]),
            rc=last.get("rc"), stdout=last.get("stdout", ""), stderr=last.get("stderr", ""), cmd=last.get("cmd"),
            **result)
    return result
