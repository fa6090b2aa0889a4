"""Maintenance windows: open, closing, closed, past midnight, time zones and daylight saving."""

import datetime

import pytest

from ansible_collections.oxzep7.python.plugins.plugin_utils._window import WindowError, evaluate

UTC = datetime.timezone.utc


def at(text):
    return datetime.datetime.fromisoformat(text).astimezone(UTC)


NIGHTS = [{"days": ["mon", "tue", "wed", "thu"], "start": "22:00", "end": "05:00", "timezone": "Europe/Berlin"}]


def test_no_window_is_always_open():
    assert evaluate([], at("2026-11-21T12:00:00+00:00"))["open"]


def test_open_inside_a_window_past_midnight():
    # Tuesday 03:00 in Berlin belongs to Monday night's window
    verdict = evaluate(NIGHTS, at("2026-11-24T03:00:00+01:00"), batch_seconds=900)
    assert verdict["open"] and verdict["seconds_left"] == 7200
    assert verdict["closes_at"] == "2026-11-24T05:00:00+01:00"


def test_closing_when_a_batch_would_outlast_the_window():
    verdict = evaluate(NIGHTS, at("2026-11-24T04:50:00+01:00"), batch_seconds=900)
    assert not verdict["open"] and verdict["state"] == "closing" and verdict["seconds_left"] == 600
    assert verdict["next_open"] == "2026-11-24T22:00:00+01:00"


def test_closed_on_a_day_without_a_window():
    # Friday 23:00: Friday opens no window; the next one is Monday 22:00
    verdict = evaluate(NIGHTS, at("2026-11-27T23:00:00+01:00"))
    assert verdict["state"] == "closed" and verdict["next_open"] == "2026-11-30T22:00:00+01:00"


def test_several_windows_and_seconds():
    windows = NIGHTS + [{"start": "12:00:00", "end": "12:00:30", "timezone": "UTC"}]
    assert evaluate(windows, at("2026-11-27T12:00:10+00:00"), batch_seconds=10)["open"]
    assert not evaluate(windows, at("2026-11-27T12:00:25+00:00"), batch_seconds=10)["open"]


def test_daylight_saving_is_honoured():
    # 29 March 2026: Berlin moves from +01:00 to +02:00; Sunday 01:00-04:00 is two real hours
    windows = [{"days": ["sun"], "start": "01:00", "end": "04:00", "timezone": "Europe/Berlin"}]
    verdict = evaluate(windows, at("2026-03-29T01:00:00+01:00"))
    assert verdict["open"] and verdict["seconds_left"] == 7200


@pytest.mark.parametrize("window", [{"start": "25:00", "end": "01:00"}, {"start": "1", "end": "02:00"},
                                    {"start": "01:00", "end": "02:00", "days": ["someday"]},
                                    {"start": "01:00", "end": "02:00", "timezone": "Mars/Olympus"}])
def test_bad_windows_are_refused(window):
    with pytest.raises(WindowError):
        evaluate([window], at("2026-11-21T12:00:00+00:00"))
