"""Reads of the events app, scoped to the caller's tenants."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from workflows.selectors import tenant_ids_for

from .models import BufferedSignal, WaitEvent, WorkflowApiKey


def api_keys_for(user) -> QuerySet[WorkflowApiKey]:
    return WorkflowApiKey.objects.filter(tenant_id__in=tenant_ids_for(user)).select_related("tenant", "created_by")


def waits_for(user) -> QuerySet[WaitEvent]:
    return WaitEvent.objects.filter(tenant_id__in=tenant_ids_for(user)).select_related(
        "execution__workflow", "node_run"
    )


def pending_signals_for(user) -> QuerySet[BufferedSignal]:
    """Buffered signals no wait has consumed yet and that have not expired."""
    return BufferedSignal.objects.filter(
        tenant_id__in=tenant_ids_for(user), status=BufferedSignal.Status.PENDING, expires_at__gt=timezone.now()
    )
