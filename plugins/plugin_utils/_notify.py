# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Webhook notifications of a fleet run, sent by the ``fleet_report`` callback on the controller.

``python_upgrade_notify`` is a list; each entry is a URL (str), or a dict ``{url, format}`` whose
``format`` is ``json`` (the default), ``slack`` or ``teams``. At each event of the run (:data:`EVENTS`)
every entry gets one HTTP POST of a JSON body, through ansible-core's ``open_url``, with a time limit:

- ``json``: ``event``, ``summary`` (one line of text) and every field of ``report.json`` (``run_id``,
  ``status``, ``target``, ``window``, ``totals``, ``hosts``, ``generated``), plus ``batch`` (batch
  events: ``stage``, ``number``, ``hosts``) or ``rollback`` (the rolled-back venv's record);
- ``slack``: ``{"text": summary}``, what a Slack incoming webhook takes (Slack API docs, "Sending
  messages using incoming webhooks");
- ``teams``: one Adaptive Card in a ``message`` (Microsoft Teams docs, "Create and send messages":
  ``{"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
  "content": <card>}]}``), which Teams incoming webhooks and Workflows webhooks take.

A notification that fails (refused, an HTTP error, no answer in time) is a warning; it never fails the
run. Webhook URLs hold secrets (a Slack or Teams URL *is* its token): no message, warning or report ever
shows more of one than ``scheme://host/…`` (:func:`shown`).
"""

from __future__ import annotations

import json
import socket
import urllib.error
from urllib.parse import parse_qsl, urlsplit

from ansible.module_utils.urls import open_url
from ansible_collections.oxzep7.python.plugins.plugin_utils._report import HOST_ORDER

EVENTS = ("run_start", "canary_done", "batch_done", "pause", "rollback", "run_end")
FORMATS = ("json", "slack", "teams")
DEFAULT_TIMEOUT = 5  # seconds one POST may take


def shown(url):
    """What a message may show of a webhook URL: ``scheme://host[:port]/…`` (str), never the user,
    password, path or query (a Slack webhook's path is its token)."""
    try:
        parts = urlsplit(str(url))
        host = parts.hostname or "?"
        port = parts.port
    except ValueError:
        return "(a URL that cannot be read)"
    return "%s://%s%s/…" % (parts.scheme or "?", host, ":%d" % port if port else "")


def secrets(url):
    """The parts of ``url`` that must never be shown (set of str): the whole URL, its user and
    password, its path and query, each path segment and query value of 8 characters or more."""
    parts = urlsplit(url)
    found = {url, parts.path, parts.query, parts.fragment, parts.username or "", parts.password or ""}
    found.update(s for s in parts.path.split("/") if len(s) >= 8)
    found.update(v for _k, v in parse_qsl(parts.query) if len(v) >= 8)
    return set(s for s in found if s and s != "/")


def scrub(text, url):
    """``text`` (str) with every secret of ``url`` (:func:`secrets`) replaced by ``…``, longest first."""
    for secret in sorted(secrets(url), key=len, reverse=True):
        text = text.replace(secret, "…")
    return text


def targets(value):
    """Read ``python_upgrade_notify``.

    :param value: None, or a list whose entries are a URL (str) or a dict with ``url`` (str) and
        ``format`` (:data:`FORMATS`, default ``json``).
    :returns: ``(targets, problems)``: the usable entries as dicts ``{url, format, shown}`` and, for each
        entry that is not usable, a sentence naming it by its index and :func:`shown` URL (list of str).
    """
    if value in (None, "", []):
        return [], []
    if not isinstance(value, list):
        return [], ["python_upgrade_notify must be a list of webhook URLs or {url, format} dicts, not a %s; "
                    "nothing is sent" % type(value).__name__]
    out, problems = [], []
    for index, entry in enumerate(value):
        where = "python_upgrade_notify[%d]" % index
        entry = dict(url=entry) if isinstance(entry, str) else entry
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            problems.append("%s is neither a URL nor a dict with a url; it is skipped" % where)
            continue
        url, fmt = entry["url"].strip(), entry.get("format") or "json"
        try:
            parts = urlsplit(url)
            usable = parts.scheme in ("http", "https") and bool(parts.hostname) and (parts.port or 1) > 0
        except ValueError:  # a port that is not a number
            usable = False
        if not usable:
            problems.append("%s (%s) is not an http or https URL; it is skipped" % (where, shown(url)))
        elif fmt not in FORMATS:
            problems.append("%s (%s): format %r is not one of %s; it is skipped" % (
                where, shown(url), fmt, ", ".join(FORMATS)))
        elif sorted(set(entry) - {"url", "format"}):
            problems.append("%s (%s): unknown keys %s (use url and format); it is skipped" % (
                where, shown(url), ", ".join(sorted(set(entry) - {"url", "format"}))))
        else:
            out.append(dict(url=url, format=fmt, shown=shown(url)))
    return out, problems


_TITLES = dict(run_start="run started", canary_done="canary done", batch_done="batch done", pause="paused",
               rollback="rollback", run_end="run ended")


def summary(event, report, batch=None, rollback=None):
    """One line of text for people (str): the run, the event and what it is about, and the totals.

    :param event: one of :data:`EVENTS`.
    :param report: the fleet report dict (``_report.build``).
    :param batch: for batch events, ``{stage, number, hosts}``.
    :param rollback: for ``rollback``, the venv record with ``host`` added.
    """
    totals = report["totals"]
    counts = ", ".join("%d %s" % (totals[s], s.replace("_", " ")) for s in HOST_ORDER if totals.get(s))
    text = "Python upgrade run %s (target %s): %s" % (report["run_id"], report.get("target") or "-", _TITLES[event])
    if rollback:
        text += " on %s, %s from %s to %s (%s): %s" % (
            rollback.get("host"), rollback.get("path"), rollback.get("from") or "-", rollback.get("to") or "-",
            str(rollback.get("result", "")).replace("_", " "), rollback.get("reason") or "no reason recorded")
    elif batch:
        text += ", %s %d (%s)" % (batch["stage"], batch["number"], ", ".join(batch["hosts"]) or "no hosts")
    elif event == "pause" and report.get("window"):
        text += ": %s" % report["window"].get("reason")
    return "%s. Status %s; %d hosts: %s." % (text, report["status"], totals["hosts"], counts or "none")


def body(fmt, event, report, batch=None, rollback=None):
    """The JSON body (dict) of one notification in format ``fmt`` (see the module docstring)."""
    text = summary(event, report, batch, rollback)
    if fmt == "slack":
        return dict(text=text)
    if fmt == "teams":
        totals = report["totals"]
        facts = [dict(title=s.replace("_", " "), value=str(totals[s]))
                 for s in ("hosts",) + HOST_ORDER if totals.get(s)]
        card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
                "version": "1.4", "body": [
                    dict(type="TextBlock", size="Medium", weight="Bolder", wrap=True,
                         text="Python upgrade %s: %s" % (report["run_id"], _TITLES[event])),
                    dict(type="TextBlock", wrap=True, text=text),
                    dict(type="FactSet", facts=facts)]}
        return dict(type="message", attachments=[dict(contentType="application/vnd.microsoft.card.adaptive",
                                                      contentUrl=None, content=card)])
    out = dict(report, event=event, summary=text)
    if batch:
        out["batch"] = batch
    if rollback:
        out["rollback"] = rollback
    return out


def _why(exc, timeout):
    """What went wrong with one POST (str), from the exception ``open_url`` raised."""
    if isinstance(exc, urllib.error.HTTPError):
        return "HTTP %s %s" % (exc.code, exc.reason)
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return "no answer within %g s" % timeout
    return reason if isinstance(reason, str) else "%s: %s" % (type(reason).__name__, reason)


def send(target, data, timeout=DEFAULT_TIMEOUT):
    """POST ``data`` (dict, as JSON) to ``target["url"]`` with ``open_url``; no redirect is followed.

    :param timeout: seconds (int or float) each connect and read may wait.
    :returns: None when the receiver answered 2xx, else why not (str, with no secret of the URL).
    """
    try:
        response = open_url(target["url"], data=json.dumps(data).encode("utf-8"), method="POST",
                            headers={"Content-Type": "application/json"}, timeout=timeout, follow_redirects="none",
                            http_agent="oxzep7.python fleet_report")
        try:
            response.read(65536)
        finally:
            response.close()
    except Exception as exc:  # pylint: disable=broad-except  # any failure is a warning, never the run's
        return scrub(_why(exc, timeout), target["url"])
    return None


def notify(entries, event, report, warn, timeout=DEFAULT_TIMEOUT, batch=None, rollback=None):
    """Send one event to every entry, one after another; warn about each that fails.

    :param entries: :func:`targets`' usable entries.
    :param warn: callable taking one str (``Display.warning``).
    :returns: the number of notifications that failed (int).
    """
    failed = 0
    for target in entries:
        why = send(target, body(target["format"], event, report, batch, rollback), timeout)
        if why:
            failed += 1
            warn("the %s notification to %s failed (%s); the run goes on" % (event, target["shown"], why))
    return failed
