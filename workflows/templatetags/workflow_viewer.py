"""Template helpers for the execution viewer partial and the executions tables."""

from __future__ import annotations

from django import template

from ..viewer import STATUS_ICONS, duration_seconds, format_duration, page_data

register = template.Library()


@register.simple_tag(takes_context=True)
def viewer_data(context, execution, dom_prefix: str = "") -> dict:
    """The data the viewer partial renders for `execution` (permissions from the request user);
    `dom_prefix` keeps element ids unique when one page shows an execution twice."""
    request = context.get("request")
    return page_data(execution, request.user if request is not None else None, dom_prefix=dom_prefix or "")


@register.filter
def status_icon(status: str) -> str:
    return STATUS_ICONS.get(status, "•")


@register.filter
def run_duration(execution) -> str:
    """How long an execution ran (paused time included), empty while it runs."""
    return format_duration(duration_seconds(execution.started_at, execution.finished_at))


@register.filter
def seconds(value) -> str:
    return format_duration(value) if isinstance(value, (int, float)) else "—"


@register.filter
def percent(value) -> str:
    return f"{value * 100:.1f} %" if isinstance(value, (int, float)) else "—"
