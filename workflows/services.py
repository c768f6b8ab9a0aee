"""Writes: save workflows (a new version per definition change), trigger, cancel, retry."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils.connection import ConnectionDoesNotExist
from django.utils.functional import SimpleLazyObject
from django.utils.module_loading import import_string

from . import engine, store
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
from .ids import as_uuid
from .models import Execution, Tenant, Workflow, WorkflowVersion
from .nodes import registry


@dataclass(frozen=True)
class TriggerResult:
    execution_id: uuid.UUID
    status: str = "running"


def create_workflow(
    *,
    tenant: Tenant,
    name: str,
    definition: dict,
    description: str = "",
    is_active: bool = True,
    user=None,
    error_workflow_id: Any = None,
) -> Workflow:
    """Validate the definition, then create the workflow and its version 1."""
    validate_definition(definition, registry)
    workflow = Workflow(
        tenant=tenant,
        name=name,
        description=description,
        is_active=is_active,
        created_by=user,
        error_workflow_id=error_workflow_id,
    )
    check_error_workflow(workflow)
    with transaction.atomic():
        workflow.save(force_insert=True)
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
        if "error_workflow_id" in fields:
            check_error_workflow(workflow)
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


def check_error_workflow(workflow: Workflow) -> None:
    """Refuse an error workflow that is not another real workflow of the same tenant
    (InvalidInput on `errorWorkflow`); another tenant's workflow is simply not found."""
    if workflow.error_workflow_id is None:
        return
    pk = as_uuid(workflow.error_workflow_id)
    other = Workflow.objects.filter(pk=pk, tenant_id=workflow.tenant_id).first() if pk else None
    if other is None:
        raise InvalidInput(f"No workflow {workflow.error_workflow_id} in this workflow's tenant", field="errorWorkflow")
    workflow.error_workflow = other
    problem = workflow.error_workflow_problem()
    if problem:
        raise InvalidInput(problem, field="errorWorkflow")


def restore_version(workflow: Workflow, *, number: int, user=None, base_version: int | None = None) -> bool:
    """Save version `number`'s definition as a new version; False when it already is the latest."""
    version = workflow.versions.filter(number=number).first()
    if version is None:
        raise InvalidInput(f"Workflow has no version {number}", field="number")
    before = _latest_number(workflow)
    update_workflow(workflow, user=user, definition=version.definition, base_version=base_version)
    return _latest_number(Workflow.objects.get(pk=workflow.pk)) != before


def _latest_number(workflow: Workflow) -> int | None:
    latest = workflow.latest_version
    return latest.number if latest else None


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
        import_string(path)(version=version, user=user)


def trigger_workflow(
    *,
    workflow_id: Any,
    user_name: str,
    input: dict | None = None,
    version: int | str | None = None,
    idempotency_key: str | None = None,
    is_test: bool = False,
    tenant_ids: list | None = None,
    execution_id: uuid.UUID | None = None,
    using: str | BaseDatabaseWrapper | None = None,
) -> TriggerResult:
    """Start an execution; inside transaction.atomic() it joins that transaction, and the
    worker is woken only when it commits. A repeated idempotency key returns the first
    execution. `tenant_ids` limits the lookup to the caller's tenants. `using` (a database
    alias, or this thread's connection object for one) is the connection whose transaction
    the start joins; the default is the default alias, as for transaction.atomic()."""
    alias = database_alias(using)
    if input is None:
        input = {}
    if not isinstance(input, dict):
        raise InvalidInput("input must be a JSON object", field="input")
    if idempotency_key is not None and (not isinstance(idempotency_key, str) or len(idempotency_key) > 255):
        raise InvalidInput("idempotencyKey must be a string of at most 255 characters", field="idempotencyKey")
    facts = _start_facts(workflow_id, user_name, tenant_ids, using=alias)
    executions = Execution.objects.using(alias)
    if idempotency_key:
        existing = executions.filter(workflow_id=facts.workflow_id, idempotency_key=idempotency_key).first()
        if existing:
            return TriggerResult(execution_id=existing.pk, status=existing.status)
    if version in (None, "", "latest"):
        version_id = facts.latest_version_id
    else:
        workflow = Workflow(pk=facts.workflow_id)
        workflow._state.db = alias  # its versions are read on the same connection
        version_id = resolve_version(workflow, version).pk
    run_trigger_checks(
        version=cached_version(version_id, alias),
        user=SimpleLazyObject(lambda: get_user_model().objects.using(alias).get(pk=facts.run_as_id)),
    )
    try:
        # Inside the caller's transaction, a savepoint keeps it usable after a duplicate key;
        # on its own, the start is one statement and needs no transaction.
        joining = transaction.get_connection(alias).in_atomic_block
        with transaction.atomic(using=alias) if joining else contextlib.nullcontext():
            execution = engine.start_execution(
                version_id=version_id,
                run_as_id=facts.run_as_id,
                input=input,
                idempotency_key=idempotency_key or None,
                is_test=is_test,
                execution_id=execution_id,
                using=alias,
            )
    except IntegrityError:
        existing = executions.filter(workflow_id=facts.workflow_id, idempotency_key=idempotency_key).first()
        if not idempotency_key or existing is None:
            raise
        return TriggerResult(execution_id=existing.pk, status=existing.status)
    return TriggerResult(execution_id=execution.pk, status="running")


@dataclass(frozen=True)
class _StartFacts:
    workflow_id: Any
    latest_version_id: Any
    run_as_id: int


def database_alias(using: str | BaseDatabaseWrapper | None) -> str:
    """The alias `using` names: an alias, or this thread's connection object for one. The
    workers read the executions through the default alias, so another alias must reach the
    same database (a second connection to it, with a transaction of its own)."""
    if using is None:
        return DEFAULT_DB_ALIAS
    alias = using.alias if isinstance(using, BaseDatabaseWrapper) else using
    try:
        connection = connections[alias] if isinstance(alias, str) else None
    except ConnectionDoesNotExist:
        connection = None
    if connection is None:
        raise InvalidInput(f"using must be a database alias or connection, got {using!r}", field="using")
    if isinstance(using, BaseDatabaseWrapper) and connection is not using:
        # Only the thread's own connection for an alias has the transaction atomic() opened.
        raise InvalidInput(f"using is not this thread's connection for the alias {alias!r}", field="using")
    if alias != DEFAULT_DB_ALIAS:
        mine, workers = connection.settings_dict, connections[DEFAULT_DB_ALIAS].settings_dict
        if (mine["ENGINE"], mine["NAME"]) != (workers["ENGINE"], workers["NAME"]):
            raise InvalidInput(
                f"the database alias {alias!r} is not the database the workflow workers use ({DEFAULT_DB_ALIAS!r})",
                field="using",
            )
    return alias


def _start_facts(workflow_id: Any, user_name: str, tenant_ids: list | None, *, using: str) -> _StartFacts:
    """Everything a start checks, in one query: the workflow (in the caller's tenants), its
    latest version and the run-as user as a member of its tenant. The errors read more only
    to say which is missing."""
    pk = as_uuid(workflow_id)
    row = store.start_facts(pk, user_name, using=using) if pk else None
    if row is not None and tenant_ids is not None and row[0] not in tenant_ids:
        row = None
    if row is None:
        raise WorkflowNotFound(workflow_id)
    _, is_active, latest_version_id, run_as_id = row
    if run_as_id is None:
        if not get_user_model().objects.using(using).filter(username=user_name).exists():
            raise UserNotFound(user_name)
        raise UserNotInTenant(user_name)
    if not is_active:
        raise WorkflowInactive(pk)
    if latest_version_id is None:
        raise InvalidInput("Workflow has no version latest", field="version")
    return _StartFacts(workflow_id=pk, latest_version_id=latest_version_id, run_as_id=run_as_id)


@engine.per_version
def cached_version(version_id, using: str = DEFAULT_DB_ALIAS) -> WorkflowVersion:
    """An immutable version, read once per process (trigger checks read its definition)."""
    return WorkflowVersion.objects.using(using).select_related("workflow").get(pk=version_id)


def request_cancellation(execution: Execution, *, user=None) -> Execution:
    """A person's cancel: the engine's cancel_execution, with who asked as its reason."""
    who = f" by {user.get_username()}" if user is not None else ""
    return engine.cancel_execution(execution.pk, reason=f"Cancelled{who}")


def retry_execution(
    execution: Execution, *, from_node: str | None = None, version: str | int | None = None
) -> Execution:
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
    "request_cancellation",
    "retry_execution",
    "InvalidState",
]
