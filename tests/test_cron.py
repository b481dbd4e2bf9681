"""Cron expressions: what is accepted, what stops start-up, and the fire instant workers share."""
import datetime as dt

import pytest
from click.testing import CliRunner

from registry.cli import main
from registry.cron import CronError, latest_fire, parse_cron

UTC = dt.timezone.utc


@pytest.mark.parametrize("expression, after, expected", [
    ("0 7 * * mon", dt.datetime(2026, 11, 28, tzinfo=UTC), dt.datetime(2026, 11, 30, 7, tzinfo=UTC)),
    ("30 3 * * *", dt.datetime(2026, 11, 28, 4, tzinfo=UTC), dt.datetime(2026, 11, 29, 3, 30, tzinfo=UTC)),
    ("0 9 * * mon-fri", dt.datetime(2026, 11, 28, tzinfo=UTC), dt.datetime(2026, 11, 30, 9, tzinfo=UTC)),
    ("0 12 * * sat,sun", dt.datetime(2026, 11, 28, 13, tzinfo=UTC), dt.datetime(2026, 11, 29, 12, tzinfo=UTC)),
    ("0 6 1 * *", dt.datetime(2026, 11, 28, tzinfo=UTC), dt.datetime(2026, 12, 1, 6, tzinfo=UTC)),
    ("*/15 * * * *", dt.datetime(2026, 11, 28, 8, 1, tzinfo=UTC), dt.datetime(2026, 11, 28, 8, 15, tzinfo=UTC)),
    ("*/5 * * * * *", dt.datetime(2026, 11, 28, 8, 0, 1, tzinfo=UTC), dt.datetime(2026, 11, 28, 8, 0, 5, tzinfo=UTC)),
])
def test_expressions_with_day_names_and_seconds(expression, after, expected):
    assert parse_cron(expression).get_next_fire_time(None, after) == expected


def test_the_time_zone_applies():
    trigger = parse_cron("0 7 * * mon", "Europe/Berlin")
    fire = trigger.get_next_fire_time(None, dt.datetime(2026, 11, 28, tzinfo=UTC))
    assert fire.astimezone(UTC) == dt.datetime(2026, 11, 30, 6, tzinfo=UTC)


@pytest.mark.parametrize("expression, words", [
    ("0 7 * * 1", "day names"),  # crontab's Monday, APScheduler's Tuesday: refused
    ("0 7 * * 0-4", "day names"),
    ("* * *", "has 3 fields"),
    ("61 * * * *", "higher than the maximum"),
    ("0 25 * * *", "higher than the maximum"),
    ("0 7 * * funday", "funday"),
    ("1 2 3 4 5 6 7", "has 7 fields"),
    ("0 12 1 * sat,sun", "both the day of the month and the day of the week"),
])
def test_invalid_expressions_say_why(expression, words):
    with pytest.raises(CronError, match=words):
        parse_cron(expression)


def test_every_worker_computes_the_same_fire_instant():
    trigger = parse_cron("* * * * * *")
    fire = dt.datetime(2026, 11, 28, 8, 0, 5, tzinfo=UTC)
    for late_ms in (0, 3, 250, 999):
        now = fire + dt.timedelta(milliseconds=late_ms)
        assert latest_fire(trigger, now, within=dt.timedelta(seconds=30)) == fire
    weekly = parse_cron("0 7 * * mon")
    monday = dt.datetime(2026, 11, 30, 7, tzinfo=UTC)
    assert latest_fire(weekly, monday + dt.timedelta(seconds=40), within=dt.timedelta(minutes=5)) == monday
    assert latest_fire(weekly, monday + dt.timedelta(minutes=6), within=dt.timedelta(minutes=5)) is None


def test_a_bad_schedule_stops_the_worker_before_it_starts(monkeypatch, tmp_path):
    monkeypatch.setenv("MODELYARD_SERVER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MODELYARD_SCHEDULE_REPORT", "0 7 * * 1")
    result = CliRunner().invoke(main, ["worker"])
    assert result.exit_code == 2
    assert "config key 'schedule.report'" in result.output and "day names" in result.output
