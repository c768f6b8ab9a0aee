"""Template helpers for the operator pages (home dashboard, workers)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import template

register = template.Library()


@register.filter
def age(value, now: datetime | None = None) -> str:
    """A short age: `12 s`, `4 min`, `2 h 03 min`, `3 d 4 h`, from a timedelta, or from a
    datetime to `now`."""
    if isinstance(value, datetime):
        if now is None:
            return ""
        value = now - value
    if not isinstance(value, timedelta):
        return ""
    seconds = max(0, int(value.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86_400:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    return f"{seconds // 86_400} d {seconds % 86_400 // 3600} h"
