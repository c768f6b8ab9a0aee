"""What operators do to executions (cancel, retry, run again), each recorded with who, when,
what and why; and bulk operations, which apply one of them to a filtered set in batches."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from . import engine, services
from .exceptions import InvalidInput, InvalidState, WorkflowError
from .models import (
    BulkOperation,
    BulkOperationStatus,
    Execution,
    ExecutionStatus,
    OperatorAction,
    OperatorActionKind,
)

logger = logging.getLogger(__name__)

REASON_MAX = 2000
# How many errors a bulk operation keeps to show (the counts cover them all).
BULK_ERRORS_KEPT = 20


def record(*, execution: Execution, user, action: str, reason: str = "", details: dict | None = None) -> OperatorAction:
    """Write the audit record of one operator action."""
    return OperatorAction.objects.create(
        tenant_id=execution.tenant_id,
        execution=execution,
        user=user if getattr(user, "pk", None) else None,
        username=user.get_username() if user is not None else "system",
        action=action,
        reason=(reason or "").strip()[:REASON_MAX],
        details=details or {},
    )


def cancel(execution: Execution, *, user, reason: str = "", details: dict | None = None) -> Execution:
    """Cancel a running or paused execution and record why (the reason is its error message)."""
    reason = (reason or "").strip()
    message = f"Cancelled by {user.get_username()}" + (f": {reason}" if reason else "")
    with transaction.atomic():
        cancelled = engine.cancel_execution(execution.pk, reason=message)
        record(execution=execution, user=user, action=OperatorActionKind.CANCEL, reason=reason, details=details)
    return cancelled


def retry(
    execution: Execution,
    *,
    user,
    from_node: str | None = None,
    version: str | int | None = None,
    reason: str = "",
    details: dict | None = None,
) -> Execution:
    """Run again from `from_node` (default: the failed or cancelled nodes) and record it."""
    with transaction.atomic():
        retried = services.retry_execution(execution, from_node=from_node, version=version)
        extra = {"fromNode": from_node} if from_node else {}
        record(
            execution=execution,
            user=user,
            action=OperatorActionKind.RETRY,
            reason=reason,
            details={**extra, **(details or {})},
        )
    return retried


def run_again(
    execution: Execution, *, user, input: Any = None, version: str | int | None = None, reason: str = ""
) -> Execution:
    """Start a new execution of the same workflow with the same input (or `input`, an edited
    copy) on the same version (or `version`), run as `user`; recorded on the original."""
    if input is None:
        input = execution.input
    if not isinstance(input, dict):
        raise InvalidInput("input must be a JSON object", field="input")
    with transaction.atomic():
        result = services.trigger_workflow(
            workflow_id=execution.workflow_id,
            user_name=user.get_username(),
            input=input,
            version=version if version not in (None, "") else execution.workflow_version.number,
            is_test=execution.is_test,
            tenant_ids=[execution.tenant_id],
        )
        details = {"newExecutionId": str(result.execution_id), "inputEdited": input != execution.input}
        record(execution=execution, user=user, action=OperatorActionKind.RUN_AGAIN, reason=reason, details=details)
    return Execution.objects.get(pk=result.execution_id)


def actions_of(execution: Execution) -> QuerySet[OperatorAction]:
    return OperatorAction.objects.filter(execution_id=execution.pk, tenant_id=execution.tenant_id).order_by(
        "created_at", "id"
    )


# --- Bulk operations ------------------------------------------------------------------------

BULK_ACTIONS: dict[str, tuple[str, ...]] = {
    OperatorActionKind.CANCEL: (ExecutionStatus.RUNNING, ExecutionStatus.PAUSED),
    OperatorActionKind.RETRY: (ExecutionStatus.ERROR,),
}


def bulk_targets(queryset: QuerySet[Execution], action: str) -> QuerySet[Execution]:
    """The executions of a filtered set that `action` applies to (cancel: running or paused;
    retry: failed)."""
    return queryset.filter(status__in=BULK_ACTIONS[action])


def bulk_limit() -> int:
    return getattr(settings, "WORKFLOW_BULK_MAX", 10_000)


def start_bulk(*, tenant, user, action: str, reason: str, targets: QuerySet[Execution], filters: dict) -> BulkOperation:
    """Fix the set of executions (ids, at most WORKFLOW_BULK_MAX) and queue the operation for
    the workers, which act on it in batches (run_bulk_batches)."""
    if action not in BULK_ACTIONS:
        raise InvalidInput(f"use one of {', '.join(BULK_ACTIONS)}", field="action")
    limit = bulk_limit()
    ids = [str(pk) for pk in targets.values_list("pk", flat=True)[: limit + 1]]
    if len(ids) > limit:
        raise InvalidInput(f"more than {limit} executions match; narrow the filters", field="filters")
    return BulkOperation.objects.create(
        tenant=tenant,
        user=user,
        username=user.get_username(),
        action=action,
        reason=(reason or "").strip()[:REASON_MAX],
        filters=filters,
        execution_ids=ids,
        total=len(ids),
        status=BulkOperationStatus.DONE if not ids else BulkOperationStatus.RUNNING,
        finished_at=timezone.now() if not ids else None,
    )


def run_bulk_batch(operation_id, *, size: int | None = None) -> int:
    """Act on the next batch of one bulk operation; returns how many executions it handled.
    The operation row is locked (SKIP LOCKED), so workers share operations, never a batch."""
    size = size or int(getattr(settings, "WORKFLOW_BULK_BATCH", 100))
    with transaction.atomic():
        op = (
            BulkOperation.objects.select_for_update(skip_locked=True)
            .filter(pk=operation_id, status=BulkOperationStatus.RUNNING)
            .first()
        )
        if op is None:
            return 0
        batch = op.execution_ids[op.processed : op.processed + size]
        executions = {str(e.pk): e for e in Execution.objects.filter(tenant_id=op.tenant_id, pk__in=batch)}
        succeeded, errors = 0, []
        for pk in batch:
            execution = executions.get(pk)
            try:
                if execution is None:
                    raise InvalidState("Execution no longer exists")
                with transaction.atomic():  # one execution's failure leaves the others' work
                    _apply(op, execution)
                succeeded += 1
            except WorkflowError as exc:
                errors.append({"executionId": pk, "message": exc.message})
        room = max(0, BULK_ERRORS_KEPT - len(op.errors))
        op.errors = [*op.errors, *errors[:room]]
        op.processed += len(batch)
        op.succeeded += succeeded
        op.failed += len(errors)
        if op.processed >= op.total:
            op.status, op.finished_at = BulkOperationStatus.DONE, timezone.now()
        op.save(update_fields=["errors", "processed", "succeeded", "failed", "status", "finished_at"])
        return len(batch)


def _apply(op: BulkOperation, execution: Execution) -> None:
    user = op.user
    if user is None:
        raise InvalidState("The operator's account no longer exists")
    details = {"bulkOperationId": str(op.pk)}
    if op.action == OperatorActionKind.CANCEL:
        cancel(execution, user=user, reason=op.reason, details=details)
    else:
        retry(execution, user=user, reason=op.reason, details=details)


def run_bulk_batches(budget: int | None = None) -> int:
    """Worker duty: batches of the running bulk operations, oldest first, up to `budget`
    executions a tick; returns how many were handled."""
    budget = budget or int(getattr(settings, "WORKFLOW_BULK_PER_TICK", 500))
    handled = 0
    for pk in (
        BulkOperation.objects.filter(status=BulkOperationStatus.RUNNING)
        .order_by("created_at")
        .values_list("pk", flat=True)[:10]
    ):
        while handled < budget:
            try:
                done = run_bulk_batch(pk)
            except Exception:
                logger.exception("bulk operation %s: batch failed", pk)
                break
            if not done:
                break
            handled += done
    return handled


__all__ = ["cancel", "record", "retry", "run_again", "run_bulk_batch", "run_bulk_batches", "start_bulk"]
