"""Cron expressions of the scheduled jobs, checked when the configuration loads.

Five fields (minute hour day month day-of-week) as in crontab, or six with seconds first.
Days of the week are given by name (`mon-fri`, `sat,sun`): APScheduler counts them from
Monday = 0 while crontab counts from Sunday = 0, so a number there would silently mean another
day; it is refused instead. So is restricting both the day of the month and the day of the
week, which crontab reads as either and APScheduler as both.
"""
from __future__ import annotations

import datetime as dt
import re
import zoneinfo

from apscheduler.triggers.cron import CronTrigger

FIELDS_5 = ("minute", "hour", "day", "month", "day_of_week")
FIELDS_6 = ("second", *FIELDS_5)
DAY_NUMBER = re.compile(r"(?<![*/])\d")  # a digit that is not a step such as */2


class CronError(ValueError):
    """The expression or time zone is not valid; the message says why in plain words."""


def time_zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise CronError(f"unknown time zone {name!r}; use an IANA name such as UTC or "
                        "Europe/Berlin") from None


def parse_cron(expression: str, timezone: str = "UTC") -> CronTrigger:
    """The trigger for `expression` in `timezone`; raises CronError naming what is wrong."""
    parts = expression.split()
    if len(parts) not in (5, 6):
        raise CronError(f"{expression!r} has {len(parts)} fields; a cron expression has 5 "
                        "(minute hour day month day-of-week) or 6 (seconds first)")
    fields = dict(zip(FIELDS_6 if len(parts) == 6 else FIELDS_5, parts))
    if DAY_NUMBER.search(fields["day_of_week"]):
        raise CronError(f"day of week {fields['day_of_week']!r}: use day names (mon, tue, ... sun, "
                        "ranges such as mon-fri); numbers mean different days to different "
                        "cron implementations")
    if fields["day"] not in ("*", "?") and fields["day_of_week"] not in ("*", "?"):
        raise CronError(f"{expression!r} restricts both the day of the month and the day of the "
                        "week; give one of them (cron implementations disagree on whether "
                        "both must match)")
    try:
        return CronTrigger(**fields, timezone=time_zone(timezone))
    except ValueError as exc:
        raise CronError(f"{expression!r}: {exc}") from None


def latest_fire(trigger: CronTrigger, now: dt.datetime, *, within: dt.timedelta) -> dt.datetime | None:
    """The newest fire time of `trigger` at or before `now`, looking back at most `within`.

    Every worker computes the same instant for the same fire, which is what makes the instant
    usable as the claim key of that fire.
    """
    fire = trigger.get_next_fire_time(None, now - within)
    latest = None
    while fire is not None and fire <= now:
        latest = fire
        fire = trigger.get_next_fire_time(fire, fire + dt.timedelta(microseconds=1))
    return latest
