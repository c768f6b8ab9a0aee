"""Reads scoped to the caller's tenants."""

from __future__ import annotations

from django.db.models import QuerySet

from . import inputs
from .models import Execution, Membership, Tenant, Workflow
from .nodes import registry


def tenant_ids_for(user) -> list:
    """The ids of the tenants `user` belongs to (empty for anonymous users)."""
    if not user or not user.is_authenticated:
        return []
    cached = getattr(user, "_tenant_ids", None)
    if cached is None:
        cached = list(Membership.objects.filter(user=user).values_list("tenant_id", flat=True))
        user._tenant_ids = cached
    return cached


def tenants_for(user) -> QuerySet[Tenant]:
    return Tenant.objects.filter(pk__in=tenant_ids_for(user))


def workflows_for(user) -> QuerySet[Workflow]:
    return Workflow.objects.filter(tenant_id__in=tenant_ids_for(user))


def executions_for(user) -> QuerySet[Execution]:
    return Execution.objects.filter(tenant_id__in=tenant_ids_for(user))


def version_input_fields(definition) -> list[dict]:
    """The fields of a version's input schema (its trigger's inputSchema), for forms and pages."""
    return inputs.definition_fields(definition, {t.type for t in registry.all() if t.is_trigger})
