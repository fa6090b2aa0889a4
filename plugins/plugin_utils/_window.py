# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Maintenance windows, evaluated on the controller (the ``maintenance_window`` action).

A window is a dict: ``days`` (weekday names, ``mon`` .. ``sun``; default every day), ``start``
and ``end`` (``HH:MM`` or ``HH:MM:SS`` local times; an end at or before the start means the window runs
past midnight into the next day) and ``timezone`` (an IANA name read with :mod:`zoneinfo`,
default ``UTC``). ``days`` name the day the window *opens*.
"""

from __future__ import annotations

import datetime
import zoneinfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class WindowError(ValueError):
    """A window definition that cannot be read."""


def _clock(text, what):
    try:
        parts = [int(p) for p in str(text).split(":")]
        if len(parts) not in (2, 3):
            raise ValueError(text)
        return datetime.time(*parts)
    except ValueError:
        raise WindowError("%s must be HH:MM or HH:MM:SS, not %r" % (what, text)) from None


def parse(window):
    """Check one window dict and return ``(days, start, end, tzinfo)``.

    :raises WindowError: on an unknown day, time or time zone.
    """
    days = [str(d).lower()[:3] for d in window.get("days") or DAYS]
    bad = [d for d in days if d not in DAYS]
    if bad:
        raise WindowError("unknown weekday %s (use %s)" % (", ".join(bad), ", ".join(DAYS)))
    try:
        tz = zoneinfo.ZoneInfo(window.get("timezone") or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise WindowError("unknown time zone %r" % window.get("timezone")) from None
    return days, _clock(window.get("start"), "start"), _clock(window.get("end"), "end"), tz


def occurrences(window, now):
    """The openings of ``window`` around ``now`` (an aware datetime): list of ``(open, close)``.

    Covers the day before ``now`` (a window past midnight may still be open) through a week
    after it, in the window's own time zone, so daylight-saving changes are honoured.
    """
    days, start, end, tz = parse(window)
    local = now.astimezone(tz)
    out = []
    for offset in range(-1, 8):
        day = (local + datetime.timedelta(days=offset)).date()
        if DAYS[day.weekday()] not in days:
            continue
        opens = datetime.datetime.combine(day, start, tzinfo=tz)
        closes = datetime.datetime.combine(day + datetime.timedelta(days=1 if end <= start else 0), end, tzinfo=tz)
        out.append((opens, closes))
    return out


def evaluate(windows, now, batch_seconds=0):
    """Whether a batch may start at ``now``.

    :param windows: list of window dicts (see the module docstring); an empty list means
        "always open".
    :param now: an aware datetime.
    :param batch_seconds: the minimum time one batch needs (seconds); a window that closes
        sooner counts as closing, and no batch starts.
    :returns: dict with ``open`` (bool: a batch may start), ``state`` (``open``,
        ``closing`` or ``closed``), ``closes_at`` (ISO 8601, or None), ``seconds_left``
        (int or None), ``next_open`` (ISO 8601 of the next opening long enough, or None)
        and ``reason``.
    :raises WindowError: on a bad window.
    """
    if not windows:
        return dict(open=True, state="open", closes_at=None, seconds_left=None, next_open=None,
                    reason="no maintenance window configured")
    spans = sorted(span for w in windows for span in occurrences(w, now))
    current = [s for s in spans if s[0] <= now < s[1]]
    need = datetime.timedelta(seconds=batch_seconds)
    upcoming = [s for s in spans if s[0] > now and s[1] - s[0] >= need]
    next_open = upcoming[0][0].isoformat() if upcoming else None
    if current:
        closes = max(s[1] for s in current)
        left = int((closes - now).total_seconds())
        if now + need <= closes:
            return dict(open=True, state="open", closes_at=closes.isoformat(), seconds_left=left,
                        next_open=next_open, reason="window open until %s (%d s left)" % (closes.isoformat(), left))
        return dict(open=False, state="closing", closes_at=closes.isoformat(), seconds_left=left, next_open=next_open,
                    reason="window closes at %s, in %d s, before a batch of %d s could finish" % (
                        closes.isoformat(), left, batch_seconds))
    return dict(open=False, state="closed", closes_at=None, seconds_left=None, next_open=next_open,
                reason="outside every maintenance window; next opens %s" % (next_open or "never"))
