"""The context pipeline of a widget: resolve its templates, then run its type's processor.

Pure apart from reading settings.WIDGET_PROCESSORS once. A failure never raises: it gives
`processedData: None` and a message for the widget's logs, so the widget keeps its last
valid data and the socket stays up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.utils.module_loading import import_string

from workflows import templating

from .processors import DEFAULT_PROCESSORS

logger = logging.getLogger("widgets.processing")


@dataclass(frozen=True)
class Processed:
    data: Any
    error: str | None = None


@lru_cache(maxsize=1)
def processors() -> dict[str, Callable[[Any, dict], Any]]:
    """Processors by widget type: the defaults plus settings.WIDGET_PROCESSORS."""
    from django.conf import settings

    paths = {**DEFAULT_PROCESSORS, **getattr(settings, "WIDGET_PROCESSORS", {})}
    return {widget_type: import_string(path) for widget_type, path in paths.items()}


def template_scope(context: dict) -> dict:
    """Templates see the context as `ctx`, and its node labels directly."""
    return {**(context or {}), "ctx": context or {}}


def resolve_config(widget_config: Any, context: dict) -> Any:
    """`widget_config` with every template resolved; a whole expression keeps its type."""
    return templating.resolve(widget_config, template_scope(context))


def process_context(
    context: dict,
    *,
    widget_type: str | None,
    widget_config: Any,
    workflow_config: Any = None,
    registry: dict | None = None,
) -> Processed:
    """Processed data for one widget, or None with the reason."""
    if not widget_type:
        return Processed(None, "no widgetType")
    table = registry if registry is not None else processors()
    processor = table.get(widget_type)
    if processor is None:
        return Processed(None, f"unknown widget type {widget_type!r}")
    try:
        resolved = resolve_config(widget_config if widget_config is not None else {}, context)
        return Processed(processor(resolved, context or {}))
    except Exception as exc:  # a bad config or context must never reach the socket as a crash
        logger.info("processing %s widget failed: %s", widget_type, exc)
        return Processed(None, f"{type(exc).__name__}: {exc}")
