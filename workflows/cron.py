"""Cron expressions (pure): validation and the next due time, in a schedule's time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadCronError, CroniterBadDateError, croniter


def cron_problem(expression: str, tz: str = "UTC") -> str | None:
    """Why a cron expression or time zone is unusable, or None."""
    if not isinstance(expression, str) or not croniter.is_valid(expression):
        return f"not a valid cron expression: {expression!r} (five fields: minute hour day month weekday)"
    if len(expression.split()) != 5:
        return f"use five cron fields (minute hour day month weekday), got {expression!r}"
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return f"unknown time zone {tz!r}"
    return None


def next_run(expression: str, *, after: datetime, tz: str = "UTC") -> datetime:
    """The first due time strictly after `after`, in UTC; wall-clock times follow `tz`."""
    local = after.astimezone(ZoneInfo(tz))
    try:
        due = croniter(expression, local).get_next(datetime)
    except (CroniterBadCronError, CroniterBadDateError) as exc:
        raise ValueError(str(exc)) from exc
    return due.astimezone(UTC)
