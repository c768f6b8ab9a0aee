"""Writes: save workflows (a new version per definition change), trigger, cancel, retry."""
from __future__ import annotations

import importlib
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from . import engine
from .definition import validate_definition
from .exceptions import (
    ExecutionNotFound,
    InvalidInput,
    InvalidState,
    StaleVersion,
    UserNotFound,
    UserNotInTenant,
    WorkflowInactive,
    WorkflowNotFound,
)
from .models import Execution, Membership, Tenant, Workflow, WorkflowVersion
from .nodes import registry


@dataclass(frozen=True)
class TriggerResult:
    execution_id: uuid.UUID
    status: str = "running"


def as_uuid(value: Any) -> uuid.UUID | None:
    """`value` as a UUID, or None when it is not one (ids from URLs, bodies and sockets)."""
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        return None


def create_workflow(
    *, tenant: Tenant, name: str, definition: dict, description: str = "", is_active: bool = True, user=None
) -> Workflow:
    """Validate the definition, then create the workflow and its version 1."""
    validate_definition(definition, registry)
    with transaction.atomic():
        workflow = Workflow.objects.create(
            tenant=tenant, name=name, description=description, is_active=is_active, created_by=user
        )
        WorkflowVersion.objects.create(workflow=workflow, number=1, definition=definition, created_by=user)
    return workflow


def update_workflow(
    workflow: Workflow, *, user=None, definition: dict | None = None, base_version: int | None = None, **fields: Any
) -> Workflow:
    """Change name/description/active; a changed definition becomes a new version.

    With `base_version` (the version the editor started from) a changed definition is
    refused with StaleVersion when another version was saved since: nobody overwrites a
    colleague's work without knowing it."""
    if definition is not None:
        validate_definition(definition, registry)
    with transaction.atomic():
        for key, value in fields.items():
            setattr(workflow, key, value)
        workflow.save()
        latest = Workflow.objects.select_for_update().get(pk=workflow.pk).latest_version
        changed = definition is not None and (latest is None or latest.definition != definition)
        if changed and base_version is not None and latest is not None and base_version != latest.number:
            if base_version > latest.number:
                raise InvalidInput(f"Workflow has no version {base_version}", field="baseVersion")
            raise StaleVersion(base=base_version, latest=latest)
        if changed:
            WorkflowVersion.objects.create(
                workflow=workflow, number=(latest.number if latest else 0) + 1, definition=definition, created_by=user
            )
    return workflow


def restore_version(workflow: Workflow, *, number: int, user=None, base_version: int | None = None) -> bool:
    """Save version `number`'s definition as a new version; False when it already is the latest."""
    version = workflow.versions.filter(number=number).first()
    if version is None:
        raise InvalidInput(f"Workflow has no version {number}", field="number")
    before = workflow.latest_version.number
    update_workflow(workflow, user=user, definition=version.definition, base_version=base_version)
    return Workflow.objects.get(pk=workflow.pk).latest_version.number != before


def resolve_version(workflow: Workflow, version: int | str | None) -> WorkflowVersion:
    """The version to run: the latest by default, or the given number."""
    if version in (None, "", "latest"):
        found = workflow.latest_version
    else:
        try:
            number = int(version)
        except (TypeError, ValueError):
            raise InvalidInput(f"version must be a number or 'latest', got {version!r}", field="version") from None
        found = workflow.versions.filter(number=number).first()
    if found is None:
        raise InvalidInput(f"Workflow has no version {version}", field="version")
    return found


def run_trigger_checks(*, version: WorkflowVersion, user) -> None:
    """Checks every trigger passes (settings.WORKFLOW_TRIGGER_CHECKS); each may raise a WorkflowError."""
    for path in getattr(settings, "WORKFLOW_TRIGGER_CHECKS", []):
        module_path, _, name = path.rpartition(".")
        getattr(importlib.import_module(module_path), name)(version=version, user=user)


def trigger_workflow(
    *,
    workflow_id: Any,
    user_name: str,
    input: dict | None = None,
    version: int | str | None = None,
    idempotency_key: str | None = None,
    is_test: bool = False,
    tenant_ids: list | None = None,
) -> TriggerResult:
    """Start an execution; inside transaction.atomic() it joins that transaction, and the
    worker is woken only when it commits. A repeated idempotency key returns the first
    execution. `tenant_ids` limits the lookup to the caller's tenants."""
    if input is None:
        input = {}
    if not isinstance(input, dict):
        raise InvalidInput("input must be a JSON object", field="input")
    pk = as_uuid(workflow_id)
    workflows = Workflow.objects.all() if tenant_ids is None else Workflow.objects.filter(tenant_id__in=tenant_ids)
    workflow = workflows.filter(pk=pk).first() if pk else None
    if workflow is None:
        raise WorkflowNotFound(workflow_id)
    user = get_user_model().objects.filter(username=user_name).first()
    if user is None:
        raise UserNotFound(user_name)
    if not Membership.objects.filter(tenant_id=workflow.tenant_id, user=user).exists():
        raise UserNotInTenant(user_name)
    if not workflow.is_active:
        raise WorkflowInactive(workflow.pk)
    if idempotency_key is not None and (not isinstance(idempotency_key, str) or len(idempotency_key) > 255):
        raise InvalidInput("idempotencyKey must be a string of at most 255 characters", field="idempotencyKey")
    if idempotency_key:
        existing = Execution.objects.filter(workflow=workflow, idempotency_key=idempotency_key).first()
        if existing:
            return TriggerResult(execution_id=existing.pk, status=existing.status)
    chosen = resolve_version(workflow, version)
    run_trigger_checks(version=chosen, user=user)
    try:
        with transaction.atomic():
            execution = engine.start_execution(
                version=chosen, run_as=user, input=input, idempotency_key=idempotency_key or None, is_test=is_test
            )
    except IntegrityError:
        existing = Execution.objects.filter(workflow=workflow, idempotency_key=idempotency_key).first()
        if not idempotency_key or existing is None:
            raise
        return TriggerResult(execution_id=existing.pk, status=existing.status)
    return TriggerResult(execution_id=execution.pk, status="running")


def cancel_execution(execution: Execution, *, user=None) -> Execution:
    who = f" by {user.get_username()}" if user is not None else ""
    return engine.cancel_execution(execution.pk, reason=f"Cancelled{who}")


def retry_execution(execution: Execution, *, from_node: str | None = None, version: str | int | None = None) -> Execution:
    """Retry on the pinned version, or with version="latest" (or a number) on another one."""
    target = None
    if version is not None:
        target = resolve_version(execution.workflow, version)
    return engine.retry_execution(execution.pk, from_node=from_node, version=target)


def get_execution(execution_id: Any, *, tenant_ids: list | None = None) -> Execution:
    pk = as_uuid(execution_id)
    qs = Execution.objects.all() if tenant_ids is None else Execution.objects.filter(tenant_id__in=tenant_ids)
    execution = qs.filter(pk=pk).first() if pk else None
    if execution is None:
        raise ExecutionNotFound(execution_id)
    return execution


__all__ = [
    "TriggerResult",
    "trigger_workflow",
    "create_workflow",
    "update_workflow",
    "restore_version",
    "cancel_execution",
    "retry_execution",
    "InvalidState",
]
