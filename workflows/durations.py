"""Parse durations such as `30s`, `15m`, `24h`, `7d` (pure)."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# Far past any real pause, and well inside what a datetime can add without overflowing.
MAX_DURATION = timedelta(days=36500)
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)", re.IGNORECASE)


def parse_duration(text: str | float) -> timedelta:
    """Return the timedelta for `text`; a bare number means seconds. Raises ValueError, also
    for a duration longer than MAX_DURATION (100 years)."""
    try:
        seconds = _seconds(text)
    except OverflowError:
        seconds = float("inf")
    if not seconds <= MAX_DURATION.total_seconds():  # also refuses NaN
        raise ValueError(f"not a duration: {text!r} (at most {MAX_DURATION.days} days)")
    return timedelta(seconds=seconds)


def _seconds(text: str | float) -> float:
    if isinstance(text, bool):
        raise ValueError(f"not a duration: {text!r}")  # noqa: TRY004 - callers catch ValueError
    if isinstance(text, (int, float)):
        if text < 0:
            raise ValueError("a duration cannot be negative")
        return float(text)
    value = str(text).strip().replace(" ", "")
    if not value:
        raise ValueError("empty duration")
    if re.fullmatch(r"\d+(?:\.\d+)?", value):
        return float(value)
    pos, seconds = 0, 0.0
    for match in _PART.finditer(value):
        if match.start() != pos:
            break
        seconds += float(match.group(1)) * _UNITS[match.group(2).lower()]
        pos = match.end()
    if pos != len(value):
        raise ValueError(f"not a duration: {text!r} (use forms like 30s, 15m, 24h, 7d)")
    return seconds
