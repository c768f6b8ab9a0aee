"""The shared widget registry: which widget, on which socket, watches which execution.

Rows live in the database that every daphne process and worker already shares, so
diagnostics and cleanup see all processes. Delivery never reads it: each consumer keeps
its own widgets in memory and joins the execution groups of the channel layer.
"""

from __future__ import annotations

import os
import socket
from datetime import timedelta
from typing import Any

from django.db.models import Count, QuerySet
from django.utils import timezone

from .models import WidgetConnection

SERVER = f"{socket.gethostname()}:{os.getpid()}"


def register(
    *,
    channel_name: str,
    widget_id: str,
    execution,
    user,
    mode: str,
    widget_type: str = "",
    widget_config: Any = None,
    workflow_config: Any = None,
) -> WidgetConnection:
    """Record the widget on this socket; a widget already there moves to the new execution."""
    row, _ = WidgetConnection.objects.update_or_create(
        channel_name=channel_name,
        widget_id=widget_id,
        defaults={
            "execution_id": execution.pk,
            "tenant_id": execution.tenant_id,
            "user": user if getattr(user, "is_authenticated", False) else None,
            "mode": mode,
            "widget_type": widget_type or "",
            "widget_config": widget_config,
            "workflow_config": workflow_config,
            "server": SERVER,
            "connected_at": timezone.now(),
        },
    )
    return row


def unregister(*, channel_name: str, widget_id: str | None = None) -> int:
    """Forget one widget of a socket, or all of them; returns how many rows went."""
    rows = WidgetConnection.objects.filter(channel_name=channel_name)
    if widget_id is not None:
        rows = rows.filter(widget_id=widget_id)
    return rows.delete()[0]


def touch_server(server: str = SERVER) -> int:
    """Mark every registration of this process's sockets as seen; returns how many."""
    return WidgetConnection.objects.filter(server=server).update(last_seen_at=timezone.now())


# Reads take `tenant_ids`, the caller's tenants (None: every tenant, for superusers only),
# so no answer names another tenant's widget or instance.


def _rows(tenant_ids: list | None) -> QuerySet[WidgetConnection]:
    rows = WidgetConnection.objects.all()
    return rows if tenant_ids is None else rows.filter(tenant_id__in=tenant_ids)


def widgets_for_instance(execution_id, *, tenant_ids: list | None) -> list[str]:
    """The widgetIDs registered on the execution, once each (getWidgetsForInstance)."""
    rows = _rows(tenant_ids).filter(execution_id=execution_id)
    return list(rows.order_by("widget_id").values_list("widget_id", flat=True).distinct())


def widget_connection(widget_id: str, *, tenant_ids: list | None) -> dict | None:
    """The newest registration of the widget as connection metadata, with how many sockets
    hold it (the same widgetID in two tabs is two registrations); None when it has none
    (getWidgetConnection)."""
    rows = _rows(tenant_ids).filter(widget_id=widget_id)
    row = rows.select_related("user").order_by("-connected_at", "-pk").first()
    if row is None:
        return None
    return {
        **_summary(row),
        "widgetConfig": row.widget_config,
        "workflowConfig": row.workflow_config,
        "registrations": rows.count(),
    }


def _summary(row: WidgetConnection) -> dict:
    return {
        "widgetID": row.widget_id,
        "instanceID": str(row.execution_id),
        "tenantID": str(row.tenant_id),
        "mode": row.mode,
        "widgetType": row.widget_type,
        "userName": row.user.get_username() if row.user else None,
        "server": row.server,
        "connectedAt": row.connected_at.isoformat(),
        "lastSeenAt": row.last_seen_at.isoformat(),
    }


def stats(*, tenant_ids: list | None = None) -> dict:
    """Connection counts and one summary per connection (getStats of the reference)."""
    rows = _rows(tenant_ids).select_related("user").order_by("connected_at")
    by_type = dict(rows.values_list("widget_type").annotate(n=Count("id")).order_by())
    connections = [_summary(row) for row in rows[:1000]]
    return {
        "totalWidgets": rows.count(),
        "totalInstances": rows.values("execution_id").distinct().count(),
        "totalSockets": rows.values("channel_name").distinct().count(),
        "byWidgetType": by_type,
        "connections": connections,
    }


def cleanup_stale(*, max_age_seconds: float | None = None) -> int:
    """Delete registrations not seen for `max_age_seconds` (default WIDGET_STALE_SECONDS)."""
    from django.conf import settings

    age = max_age_seconds if max_age_seconds is not None else settings.WIDGET_STALE_SECONDS
    cutoff = timezone.now() - timedelta(seconds=age)
    return WidgetConnection.objects.filter(last_seen_at__lt=cutoff).delete()[0]
