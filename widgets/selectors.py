"""Reads of the widgets app, scoped to the caller's tenants."""

from __future__ import annotations

from django.db.models import QuerySet

from workflows.models import Execution, ExecutionStatus
from workflows.selectors import tenant_ids_for

from .models import Widget
from .processing import process_context


def widgets_for(user) -> QuerySet[Widget]:
    return Widget.objects.filter(tenant_id__in=tenant_ids_for(user)).select_related("workflow", "tenant")


def last_data(widget: Widget) -> tuple[object, str | None]:
    """Processed data of the widget's workflow's latest successful execution (the data a
    dashboard shows before it runs anything), and that execution's id."""
    latest = (
        Execution.objects.filter(
            workflow_id=widget.workflow_id, tenant_id=widget.tenant_id, status=ExecutionStatus.SUCCESS
        )
        .order_by("-finished_at")
        .only("id", "context")
        .first()
    )
    if latest is None:
        return None, None
    processed = process_context(
        latest.context,
        widget_type=widget.widget_type,
        widget_config=widget.config,
        workflow_config=widget.workflow_config,
    )
    return processed.data, str(latest.pk)
