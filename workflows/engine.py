"""The engine: start executions and decide how each node's outcome advances its execution.

The decisions are pure functions elsewhere: which nodes become ready or skipped
(`definition.advance`), the execution's status (`definition.execution_status`), the
context after a node (`nodes.merge_output`), retries (`retry_policy`, `backoff_delay`).
This module applies them through workflows.store, which writes each outcome in one
transaction: the node run's outcome, the merge into the context (compare-and-swap on the
execution's revision), the node runs made ready or skipped, and the execution's status.
Updates are published and workers woken only after that transaction commits.

The other apps lock and resume only through the functions here (`locked_run`,
`retrying`, `resume_node_run`, `write_context`, `append_logs`, `named_lock`).
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from functools import lru_cache, update_wrapper
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, DataError, IntegrityError, OperationalError, transaction
from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from . import inputs, live, store, values, wakeup
from .definition import Graph, advance, build_graph, execution_status, successors_wait_only_for
from .exceptions import ExecutionFinished, InvalidState, VersionMismatch, WorkflowError
from .models import Execution, ExecutionStatus, NodeRun, NodeRunStatus, Workflow, WorkflowVersion
from .nodes import NodeError, Pause, StepResult, log_entry, merge_output, registry
from .store import Claim

logger = logging.getLogger("workflows.engine")

# The lock order and the retrying of every writer, for the apps' writes beside the engine's.
locked_run = store.locked_run
retrying = store.retrying
named_lock = store.named_lock

__all__ = [
    "Claim",
    "locked_run",
    "retrying",
    "named_lock",
    "start_execution",
    "finish_claimed",
    "resume_node_run",
    "fire_deadline",
    "cancel_execution",
    "retry_execution",
    "write_context",
    "append_logs",
]


R = TypeVar("R")


class per_version(Generic[R]):  # a decorator, named like lru_cache
    """A read of an immutable version done once per process for each (version, database
    alias): a caller that names `default` and one that leaves it out share one entry."""

    def __init__(self, read: Callable[[Any, str], R]) -> None:
        self._cached = lru_cache(maxsize=512)(read)
        update_wrapper(self, read)

    def __call__(self, version_id, using: str = DEFAULT_DB_ALIAS) -> R:
        return self._cached(version_id, using)

    def cache_clear(self) -> None:
        self._cached.cache_clear()


@per_version
def graph_for_version(version_id, using: str = DEFAULT_DB_ALIAS) -> Graph:
    """The graph of an immutable version, built once per process."""
    version = WorkflowVersion.objects.using(using).only("definition").get(pk=version_id)
    graph = build_graph(version.definition)
    graph.trigger_id = next((n.id for n in graph.nodes.values() if _is_trigger(n.type)), None)
    if graph.trigger_id is not None:
        # Compiled once per version, so checking an input costs one jsonschema pass.
        graph.input_validator = inputs.compile_validator(
            (graph.nodes[graph.trigger_id].config or {}).get("inputSchema")
        )
    return graph


def _is_trigger(type_name: str) -> bool:
    node_type = registry.get(type_name)
    return bool(node_type and node_type.is_trigger)


def retry_policy(node_retry: dict | None) -> dict:
    return {**settings.WORKFLOW_DEFAULT_RETRY, **(node_retry or {})}


# The jitter's random source; a test replaces it to know the delay a failure schedules.
jitter_random: random.Random = random.Random()


def backoff_delay(policy: dict, attempt: int, *, uniform: Callable[[float, float], float] | None = None) -> float:
    """Seconds to wait before attempt `attempt + 1`: exponential, capped, then spread by
    +/- `jitter` (a fraction) drawn from `uniform` (default: `jitter_random.uniform`)."""
    base = policy["initialInterval"] * policy["backoffFactor"] ** max(attempt - 1, 0)
    base = min(base, policy["maxInterval"])
    jitter = policy.get("jitter") or 0
    draw = uniform or jitter_random.uniform
    return max(0.0, base * (1 + draw(-jitter, jitter)))


# --- Starting ------------------------------------------------------------------------


@per_version
def version_owner(version_id, using: str = DEFAULT_DB_ALIAS) -> tuple[Any, Any]:
    """(workflow id, tenant id) of an immutable version, read once per process."""
    versions = WorkflowVersion.objects.using(using)
    return versions.filter(pk=version_id).values_list("workflow_id", "workflow__tenant_id").get()


def start_execution(
    *,
    version_id,
    run_as_id: int,
    input: dict,
    idempotency_key: str | None = None,
    parent_node_run: NodeRun | None = None,
    parent_index: int | None = None,
    is_test: bool = False,
    error_of_id=None,
    execution_id: uuid.UUID | None = None,
    using: str = DEFAULT_DB_ALIAS,
) -> Execution:
    """Create the execution and its node runs (one statement on PostgreSQL), in the caller's
    transaction if there is one; the trigger node finishes at once with the input, and its
    successors become ready on commit. Every way of starting an execution comes here, so the
    input is checked against the version's input schema here (InvalidInput naming the field).
    `execution_id` lets a caller that listens to the execution's live updates choose its id,
    and listen, before it exists. `using` is the database alias whose connection (and
    transaction, if one is open) the execution is written on."""
    graph = graph_for_version(version_id, using)
    if graph.input_validator is not None:
        graph.input_validator.check(input)
    workflow_id, tenant_id = version_owner(version_id, using)
    now = timezone.now()
    assert graph.trigger_id is not None  # a saved version has passed validation
    trigger = graph.nodes[graph.trigger_id]
    context = {"Trigger": input}
    if trigger.label != "Trigger":
        context[trigger.label] = input
    states: dict[str, tuple[str, str | None]] = {nid: ("idle", None) for nid in graph.nodes}
    states[trigger.id] = ("success", None)
    ready, skipped = advance(graph, states, [trigger.id])
    status = execution_status(NodeRunStatus.RUNNING for _ in ready)
    execution = Execution(
        **({"id": execution_id} if execution_id is not None else {}),
        tenant_id=tenant_id,
        workflow_id=workflow_id,
        workflow_version_id=version_id,
        input=input,
        context=context,
        run_as_id=run_as_id,
        idempotency_key=idempotency_key,
        parent_execution_id=parent_node_run.execution_id if parent_node_run else None,
        parent_node_run_id=parent_node_run.pk if parent_node_run else None,
        parent_index=parent_index,
        is_test=is_test,
        error_of_id=error_of_id,
        status=status,
        created_at=now,
        updated_at=now,
        started_at=now,
        finished_at=now if status == ExecutionStatus.SUCCESS else None,
    )
    runs = []
    for node in graph.nodes.values():
        run = store.NewRun(node.id, node.type, node.label)
        if node.id == trigger.id:
            run = run._replace(status=NodeRunStatus.SUCCESS, attempt=1, output=input, started_at=now, finished_at=now)
        elif node.id in ready:
            run = run._replace(status=NodeRunStatus.RUNNING, available_at=now)
        elif node.id in skipped:
            run = run._replace(status=NodeRunStatus.SKIPPED, finished_at=now)
        runs.append(run)
    store.create_execution(execution, runs, notify=status != ExecutionStatus.SUCCESS, using=using)
    if status != ExecutionStatus.SUCCESS:
        transaction.on_commit(wakeup.wake_local, using=using)  # this process's workers
    live.publish_after_commit(execution=execution, using=using)
    return execution


# --- Recording a claimed step's outcome ---------------------------------------------------


def finish_claimed(
    claim: Claim,
    outcome: StepResult | Pause | NodeError,
    *,
    logs: Sequence[dict] = (),
    resolved_config: Any = None,
    handoff: bool = False,
) -> Claim | None:
    """Record the outcome of a step this worker ran. Returns the next node run, already
    leased to this worker, when `handoff` is set and one became ready."""
    outcome, logs = _storable(outcome, logs)
    if isinstance(outcome, StepResult) and _fast_path_applies(claim, outcome):
        try:
            return _finish_fast(claim, outcome, list(logs), resolved_config, handoff)
        except store.LostLease:
            logger.info("lost the lease on node run %s; its outcome is dropped", claim.run_id)
            return None
        except (store.Conflict, OperationalError, DataError):
            # The execution changed since the claim read it, or the connection died (a
            # server restart, an idle timeout): the general path sorts it out, on a new
            # connection if needed, so the outcome of a step that already ran is not lost.
            store.reset_broken_connection()

    def work() -> Claim | None:
        with store.locked_run(claim.run_id, execution_id=claim.execution_id) as locked:
            run = locked.run if locked else None
            if (
                locked is None
                or run is None
                or (run.status, run.lease_owner, run.attempt) != (NodeRunStatus.RUNNING, claim.owner, claim.attempt)
            ):
                logger.info("lost the lease on node run %s; its outcome is dropped", claim.run_id)
                return None
            if resolved_config is not None:
                run.resolved_config = resolved_config
            run.logs = [*run.logs, *logs]
            return _settle(run, locked.execution, outcome, handoff_from=claim if handoff else None)

    return store.retrying(f"record node run {claim.run_id}", work)


def _storable(outcome, logs) -> tuple[StepResult | Pause | NodeError, list[dict]]:
    """An outcome is stored as it is or not at all (workflows.values): an output or pause
    data that cannot be stored fails the node at once, saying why; text about the step (logs,
    error messages and details) is cleaned."""
    logs = values.clean(list(logs))
    if isinstance(outcome, NodeError):
        return NodeError(
            values.clean(outcome.message), retryable=outcome.retryable, details=values.clean(outcome.details)
        ), logs
    what, data = ("output", outcome.output) if isinstance(outcome, StepResult) else ("pause data", outcome.data)
    problem = values.unstorable(data, max_bytes=settings.WORKFLOW_MAX_OUTPUT_BYTES)
    if problem is None:
        return outcome, logs
    return NodeError(f"The step's {what} cannot be stored: {problem}", retryable=False), logs


def _fast_path_applies(claim: Claim, outcome) -> bool:
    """A plain success whose successors each wait only for it needs no reads: the store
    records it in one statement (where the database allows)."""
    if not store.fast_finish_available() or claim.revision is None:
        return False
    if not isinstance(outcome, StepResult) or outcome.persist is not None:
        return False
    return successors_wait_only_for(graph_for_version(claim.version_id), claim.node_id, outcome.branch)


def _finish_fast(claim: Claim, outcome: StepResult, logs: list[dict], resolved_config, handoff: bool) -> Claim | None:
    graph = graph_for_version(claim.version_id)
    node = graph.nodes[claim.node_id]
    now = timezone.now()
    context = merge_output(claim.context, node.label, output=outcome.output)
    targets = list(dict.fromkeys(e.target for e in graph.outgoing.get(claim.node_id, [])))
    handoff_to = targets[0] if handoff and targets else None

    def record() -> store.FastOutcome:
        return store.finish_fast(
            claim,
            context=context,
            output=outcome.output,
            branch=outcome.branch,
            resolved_config=resolved_config,
            logs=logs,
            targets=targets,
            handoff=handoff_to,
            now=now,
        )

    ended = None
    if targets:
        done = record()  # committed on its own: the execution keeps running
    else:
        # The end of a branch: the execution's status is decided from the other active node
        # runs and written in the same transaction (a child's parent resumes in it too).
        with transaction.atomic():
            done = record()
            status = execution_status([NodeRunStatus.SUCCESS, *done.others])
            if status != ExecutionStatus.RUNNING:
                ended = done.execution(claim, context)
                store.set_status(ended, status=status, now=now)
                if status == ExecutionStatus.SUCCESS:
                    _on_execution_finished(ended)
    if len(done.ready) > (1 if handoff_to else 0):
        wakeup.wake_after_commit()
    live.publish_after_commit(
        runs=[
            live.RunUpdate(
                claim.execution_id,
                node.id,
                node.label,
                NodeRunStatus.SUCCESS,
                claim.attempt,
                outcome.output,
                None,
                claim.started_at,
                now,
            ),
            *(
                live.RunUpdate(
                    claim.execution_id,
                    nid,
                    graph.nodes[nid].label,
                    NodeRunStatus.RUNNING,
                    1 if nid == handoff_to else 0,
                    started_at=now if nid == handoff_to else None,
                )
                for nid in done.ready
            ),
        ],
        execution=ended,
    )
    if handoff_to is None:
        return None
    return claim.next(
        run_id=done.ready[handoff_to], node_id=handoff_to, context=context, revision=done.revision, now=now
    )


# --- Resuming paused node runs -----------------------------------------------------------


def resume_node_run(
    node_run_id: int,
    *,
    output: Any = None,
    branch: str | None = None,
    error: str | None = None,
    message: str | None = None,
    accept: Callable[[NodeRun], bool] | None = None,
    locked: store.Locked | None = None,
) -> NodeRun | None:
    """Finish a paused node run with `output` (or fail it with `error`) and advance the
    execution: the one resumer of approvals, events, widgets and sub-workflows. Joins the
    caller's transaction; a caller already holding the rows (`locked_run`) passes them as
    `locked`. With `accept`, a paused run it refuses is left alone (None)."""
    outcome: StepResult | NodeError
    outcome = NodeError(error, retryable=False) if error is not None else StepResult(output=output, branch=branch)

    def resume(held: store.Locked | None) -> NodeRun | None:
        if held is None:
            raise InvalidState(f"Node run {node_run_id} does not exist", field="nodeRun")
        run = held.node_run
        if run.status != NodeRunStatus.PAUSED:
            raise InvalidState(f"Node run {run.label!r} is {run.status}, not paused", field="nodeRun")
        if accept is not None and not accept(run):
            return None
        if message:
            run.logs = [*run.logs, log_entry("info", run.label, message, timezone.now())]
        _settle(run, held.execution, outcome)
        return run

    if locked is not None:
        return resume(locked)

    def work() -> NodeRun | None:
        with store.locked_run(node_run_id) as held:
            return resume(held)

    return store.retrying(f"resume node run {node_run_id}", work)


def fire_deadline(node_run_id: int) -> bool:
    """Run the node type's deadline handler for a paused run whose `wake_at` has passed.
    Returns False when another worker got there first, or the rows are busy."""

    def work() -> bool:
        with store.locked_run(node_run_id, skip_locked=True) as locked:
            run = locked.run if locked else None
            if (
                locked is None
                or run is None
                or run.status != NodeRunStatus.PAUSED
                or not run.wake_at
                or run.wake_at > timezone.now()
            ):
                return False
            node_type = registry.get(run.node_type)
            outcome: StepResult | NodeError
            try:
                result = node_type.on_deadline(run) if node_type and node_type.on_deadline else {}
                outcome = result if isinstance(result, StepResult) else StepResult(output=result)
            except NodeError as exc:
                outcome = NodeError(exc.message, retryable=False, details=exc.details)
            _settle(run, locked.execution, outcome)
            return True

    return store.retrying(f"fire the deadline of node run {node_run_id}", work)


def append_logs(node_run_id: int, entries: list[dict]) -> None:
    """Add entries to a node run's log under the engine's locks (it saves whole rows)."""
    if not entries:
        return
    with store.locked_run(node_run_id) as locked:
        if locked is not None:
            NodeRun.objects.filter(pk=node_run_id).update(logs=[*locked.node_run.logs, *entries])


# --- The general path: settle an outcome on locked rows ------------------------------------


def _settle(run: NodeRun, execution: Execution, outcome, *, handoff_from: Claim | None = None) -> Claim | None:
    """Inside a transaction holding the execution's and `run`'s row locks: store the
    outcome and advance."""
    now = timezone.now()
    if execution.is_finished:
        run.status, run.finished_at = NodeRunStatus.CANCELLED, now
        run.lease_owner = run.lease_expires_at = None
        run.save()
        return None
    graph = graph_for_version(execution.workflow_version_id)
    node = graph.nodes[run.node_id]

    if isinstance(outcome, Pause):
        return _pause(run, execution, outcome, now)
    if isinstance(outcome, NodeError) and outcome.retryable:
        policy = retry_policy(node.retry)
        if run.attempt < policy["maxAttempts"]:
            _retry_later(run, outcome, backoff_delay(policy, run.attempt), now)
            return None

    run.lease_owner = run.lease_expires_at = None
    run.wake_at = None
    run.finished_at = now
    if isinstance(outcome, NodeError):
        run.status = NodeRunStatus.ERROR
        run.error = {"message": outcome.message, "attempt": run.attempt, "details": outcome.details}
        run.logs = [*run.logs, log_entry("error", run.label, outcome.message, now)]
        if not any(e.branch == "error" for e in graph.outgoing.get(run.node_id, [])):
            run.save()
            _fail_execution(execution, run, now)
            return None
        context = merge_output(execution.context, run.label, error=outcome.message)
    else:
        if outcome.persist is not None:
            # A savepoint, so a write that fails half-way leaves nothing behind (as for pauses).
            try:
                with transaction.atomic():
                    outcome.persist(run)
            except Exception as exc:
                return _settle_again(run, execution, _persist_error(exc))
        run.status = NodeRunStatus.SUCCESS
        run.output = outcome.output
        run.branch = outcome.branch
        run.error = None
        context = merge_output(execution.context, run.label, output=outcome.output)
    run.save()
    return _advance(execution, run, context, graph, now, handoff_from)


def _retry_later(run: NodeRun, outcome: NodeError, delay: float, now: datetime) -> None:
    """Leave the node run ready again after `delay`, keeping the failed attempt's error."""
    run.available_at = now + timedelta(seconds=delay)
    run.lease_owner = run.lease_expires_at = None
    run.error = {"message": outcome.message, "attempt": run.attempt, "details": outcome.details}
    message = f"Attempt {run.attempt} failed: {outcome.message}; retrying in {delay:.1f}s"
    run.logs = [*run.logs, log_entry("warning", run.label, message, now)]
    run.save()
    wakeup.wake_after_commit()
    live.publish_after_commit(runs=[run])


def _pause(run: NodeRun, execution: Execution, pause: Pause, now: datetime) -> Claim | None:
    run.status = NodeRunStatus.PAUSED
    run.wake_at = pause.until
    run.pause_data = pause.data
    run.lease_owner = run.lease_expires_at = None
    message = f"Paused until {pause.until.isoformat()}" if pause.until else "Paused"
    run.logs = [*run.logs, log_entry("info", run.label, message, now)]
    if pause.persist is not None:
        try:
            with transaction.atomic():
                immediate = pause.persist(run)
        except Exception as exc:
            return _settle_again(run, execution, _persist_error(exc))
        if immediate is not None:
            result = immediate if isinstance(immediate, StepResult) else StepResult(output=immediate)
            return _settle_again(run, execution, result)
    run.save()
    previous = execution.status
    status = execution_status([NodeRunStatus.RUNNING if store.has_running_runs(execution.pk) else NodeRunStatus.PAUSED])
    # Moves the revision even when the execution stays running: every change of a node
    # run's status must, so the one-statement success can trust its snapshot.
    store.cas_update(execution, status=status)
    if pause.until is not None:
        wakeup.wake_after_commit()  # workers recompute their next deadline
    live.publish_after_commit(runs=[run], execution=execution if status != previous else None)
    return None


def _persist_error(exc: Exception) -> NodeError:
    """A write of the step that failed in the recording transaction (rolled back to its
    savepoint): a NodeError keeps its own retry choice; anything else is a bug of the
    node's config or data, so retrying cannot help."""
    if isinstance(exc, NodeError):
        return NodeError(exc.message, retryable=exc.retryable, details=exc.details)
    if isinstance(exc, OperationalError):
        raise exc  # a deadlock or lost connection: the whole transaction is retried
    logger.warning("a step's write failed", exc_info=True)
    return NodeError(f"{type(exc).__name__}: {exc}", retryable=False)


def _settle_again(run: NodeRun, execution: Execution, outcome) -> Claim | None:
    run.status = NodeRunStatus.RUNNING
    return _settle(run, execution, outcome)


def _advance(
    execution: Execution, run: NodeRun, context: dict, graph: Graph, now: datetime, handoff_from: Claim | None
) -> Claim | None:
    rows = store.node_states(execution.pk)
    states = {node_id: (status, branch) for node_id, (_, status, branch) in rows.items()}
    states[run.node_id] = (run.status, run.branch)
    ready, skipped = advance(graph, states, [run.node_id])
    store.mark_skipped([rows[n][0] for n in skipped], now)
    handed = ready[0] if handoff_from is not None and ready else None
    if handed is not None and handoff_from is not None:
        store.hand_off(rows[handed][0], owner=handoff_from.owner, now=now)
    waiting = [rows[n][0] for n in ready if n != handed]
    store.mark_ready(waiting, now)
    if waiting:
        wakeup.wake_after_commit()
    for node_id in ready:
        states[node_id] = (NodeRunStatus.RUNNING, None)

    previous = execution.status
    status = execution_status(s for s, _ in states.values())
    changes: dict[str, Any] = {"context": context, "status": status}
    if status == ExecutionStatus.SUCCESS:
        changes["finished_at"] = now
    store.cas_update(execution, **changes)
    changed = [
        live.RunUpdate(
            execution.pk, nid, graph.nodes[nid].label, states[nid][0], finished_at=now if nid in skipped else None
        )
        for nid in [*ready, *skipped]
    ]
    live.publish_after_commit(runs=[run, *changed], execution=execution if status != previous else None)
    if status == ExecutionStatus.SUCCESS:
        _on_execution_finished(execution)
    if handed is None or handoff_from is None:
        return None
    return handoff_from.next(
        run_id=rows[handed][0], node_id=handed, context=context, revision=execution.revision, now=now
    )


def _fail_execution(execution: Execution, failed: NodeRun, now: datetime) -> None:
    error = {"message": (failed.error or {}).get("message"), "nodeId": failed.node_id, "label": failed.label}
    _stop_active_runs(execution, now)
    handler = _start_error_workflow(execution, failed)
    if handler:
        error["errorWorkflow"] = handler
    store.cas_update(execution, status=ExecutionStatus.ERROR, error=error, finished_at=now)
    live.publish_after_commit(runs=[failed], execution=execution)
    _on_execution_finished(execution)


def _start_error_workflow(execution: Execution, failed: NodeRun) -> dict | None:
    """In the transaction that fails `execution`: start its workflow's error workflow, so a
    crash cannot lose it (it commits with the failure, or neither does). Returns what the
    failed execution records about it: {"workflowId", "executionId"}, or {"workflowId",
    "error"} when the error workflow refused to start (inactive, its input schema...).

    Never for test runs, and never for an execution that is itself an error handler: an error
    workflow's failure starts nothing, so no chain of handlers can loop."""
    if execution.is_test or execution.error_of_id is not None:
        return None
    row = (
        Workflow.objects.filter(pk=execution.workflow_id, error_workflow__isnull=False)
        .values("name", "tenant_id", "error_workflow_id", "error_workflow__tenant_id", "error_workflow__is_active")
        .first()
    )
    if row is None:
        return None
    target = str(row["error_workflow_id"])
    try:
        if row["error_workflow__tenant_id"] != row["tenant_id"]:
            raise InvalidState("The error workflow belongs to another tenant", field="errorWorkflow")
        if not row["error_workflow__is_active"]:
            raise InvalidState("The error workflow is inactive", field="errorWorkflow")
        version_id = (
            WorkflowVersion.objects.filter(workflow_id=target).order_by("-number").values_list("pk", flat=True).first()
        )
        if version_id is None:
            raise InvalidState("The error workflow has no version", field="errorWorkflow")
        from .services import cached_version, run_trigger_checks  # services builds on this module

        run_trigger_checks(
            version=cached_version(version_id),
            user=SimpleLazyObject(lambda: get_user_model().objects.get(pk=execution.run_as_id)),
        )
        with transaction.atomic():  # a savepoint: a refused start leaves the failure intact
            handler = start_execution(
                version_id=version_id,
                run_as_id=execution.run_as_id,
                input=error_workflow_input(execution, failed, row["name"]),
                idempotency_key=f"error-of:{execution.pk}:{execution.retry_count}",
                error_of_id=execution.pk,
            )
    except WorkflowError as exc:
        logger.warning(
            "execution %s failed and its error workflow %s did not start: %s", execution.pk, target, exc.message
        )
        return {"workflowId": target, "error": exc.message}
    except IntegrityError:  # already started for this failure (its idempotency key)
        existing = Execution.objects.filter(
            workflow_id=target, idempotency_key=f"error-of:{execution.pk}:{execution.retry_count}"
        ).first()
        if existing is None:
            raise
        handler = existing
    return {"workflowId": target, "executionId": str(handler.pk)}


def error_workflow_input(execution: Execution, failed: NodeRun, workflow_name: str) -> dict:
    """What an error workflow starts with: the failed execution, its workflow, node, error and input."""
    number = WorkflowVersion.objects.filter(pk=execution.workflow_version_id).values_list("number", flat=True).first()
    error = failed.error or {}
    return {
        "executionId": str(execution.pk),
        "executionUrl": f"{settings.SITE_URL.rstrip('/')}/workflows/executions/{execution.pk}/",
        "workflow": {"id": str(execution.workflow_id), "name": workflow_name, "version": number},
        "failedNode": {"id": failed.node_id, "label": failed.label, "type": failed.node_type},
        "error": {"message": error.get("message"), "attempt": error.get("attempt"), "details": error.get("details")},
        "input": execution.input,
        "retryCount": execution.retry_count,
    }


def _stop_active_runs(execution: Execution, now: datetime) -> list[NodeRun]:
    """Cancel the running and paused node runs of a locked execution, calling on_cancel hooks."""
    runs = store.lock_active_runs(execution)
    for run in runs:
        was_paused = run.status == NodeRunStatus.PAUSED
        run.status = NodeRunStatus.CANCELLED
        run.finished_at = now
        run.lease_owner = run.lease_expires_at = None
        run.wake_at = None
        run.logs = [*run.logs, log_entry("warning", run.label, "Cancelled", now)]
        run.save()
        node_type = registry.get(run.node_type)
        if was_paused and node_type and node_type.on_cancel:
            node_type.on_cancel(run)
    live.publish_after_commit(runs=runs)
    return runs


# --- Child executions finishing their parent node --------------------------------------------

FOR_EACH = "for-each"


def _on_execution_finished(execution: Execution) -> None:
    if execution.parent_node_run_id:
        _resume_parent(execution)


def _resume_parent(child: Execution) -> None:
    """In the transaction that finishes a child: resume the parent node when every sibling
    is done (the parent's row lock serialises siblings finishing together)."""
    with store.locked_run(child.parent_node_run_id) as locked:
        parent_run = locked.run if locked else None
        if parent_run is None or parent_run.status != NodeRunStatus.PAUSED:
            return
        # Only the children this attempt started: a retried node keeps its row, and the
        # children of earlier attempts stay linked to it.
        current = (parent_run.pause_data or {}).get("childExecutionIds") or []
        siblings = list(
            Execution.objects.filter(parent_node_run_id=parent_run.pk, pk__in=current)
            .order_by("parent_index")
            .values("id", "status", "context", "error")
        )
        failed = [s for s in siblings if s["status"] in (ExecutionStatus.ERROR, ExecutionStatus.CANCELLED)]
        if failed:
            first = failed[0]
            message = (first["error"] or {}).get("message", first["status"])
            # Resume first: the siblings cancelled below then find the parent no longer paused.
            resume_node_run(parent_run.pk, error=f"Child execution {first['id']} {first['status']}: {message}")
            for sibling in siblings:
                if sibling["status"] in (ExecutionStatus.RUNNING, ExecutionStatus.PAUSED):
                    cancel_if_active(sibling["id"], reason="A sibling execution failed")
            return
        if any(s["status"] != ExecutionStatus.SUCCESS for s in siblings):
            return
        if parent_run.node_type == FOR_EACH:
            output = {"results": [s["context"] for s in siblings], "count": len(siblings)}
        else:
            output = siblings[0]["context"]
        resume_node_run(parent_run.pk, output=output, message=f"{len(siblings)} child execution(s) finished")


# --- Cancel, retry, context writes ---------------------------------------------------


def cancel_execution(execution_id, *, reason: str = "Cancelled") -> Execution:
    """Stop an execution: its running and paused node runs are cancelled, and its children."""

    def work() -> Execution:
        with store.locked_run(execution_id=execution_id) as locked:
            if locked is None:
                raise InvalidState(f"Execution {execution_id} does not exist", field="executionId")
            execution = locked.execution
            if execution.is_finished:
                raise InvalidState(f"Execution is already {execution.status}", field="status")
            now = timezone.now()
            _stop_active_runs(execution, now)
            store.cas_update(execution, status=ExecutionStatus.CANCELLED, error={"message": reason}, finished_at=now)
            live.publish_after_commit(execution=execution)
            for child_id in Execution.objects.filter(
                parent_execution_id=execution.pk, status__in=[ExecutionStatus.RUNNING, ExecutionStatus.PAUSED]
            ).values_list("id", flat=True):
                cancel_execution(child_id, reason="Parent execution cancelled")
            _on_execution_finished(execution)
            return execution

    return store.retrying(f"cancel execution {execution_id}", work)


def cancel_if_active(execution_id, *, reason: str) -> None:
    """Cancel an execution unless it has finished meanwhile."""
    try:
        cancel_execution(execution_id, reason=reason)
    except InvalidState:
        pass


def write_context(execution_id, key: str, value: Any, *, unless_finished: bool = False) -> Execution:
    """Set one top-level context key with compare-and-swap, retrying on conflict. With
    `unless_finished`, a finished execution is refused (ExecutionFinished)."""

    def work() -> Execution:
        execution = Execution.objects.get(pk=execution_id)
        if unless_finished and execution.is_finished:
            raise ExecutionFinished(execution.status)
        store.cas_update(execution, context={**execution.context, key: value})
        return execution

    return store.retrying(f"write the context of execution {execution_id}", work)


def retry_execution(execution_id, *, from_node: str | None = None, version: WorkflowVersion | None = None) -> Execution:
    """Run an execution again from a node (default: its failed or cancelled nodes), keeping
    the outputs of everything before it, optionally on another version of the workflow."""
    with transaction.atomic():
        execution = store.lock_execution(execution_id)
        if execution is None:
            raise InvalidState(f"Execution {execution_id} does not exist", field="executionId")
        if execution.status not in (ExecutionStatus.ERROR, ExecutionStatus.CANCELLED) and from_node is None:
            raise InvalidState(
                f"Execution is {execution.status}; retry needs a failed or cancelled execution or a fromNode",
                field="status",
            )
        if execution.status in (ExecutionStatus.RUNNING, ExecutionStatus.PAUSED):
            raise InvalidState(f"Execution is still {execution.status}; cancel it first", field="status")
        target_version = version or execution.workflow_version
        graph = graph_for_version(target_version.pk)
        runs = {run.node_id: run for run in NodeRun.objects.select_for_update().filter(execution_id=execution.pk)}
        if from_node is not None:
            if from_node not in graph.nodes:
                raise InvalidState(f"Node {from_node!r} is not in the workflow", field="fromNode")
            if from_node == graph.trigger_id:
                raise InvalidState("Cannot retry from the trigger node; trigger the workflow again", field="fromNode")
            starts = {from_node}
        else:
            starts = {nid for nid, run in runs.items() if run.status in (NodeRunStatus.ERROR, NodeRunStatus.CANCELLED)}
            starts &= set(graph.nodes)
            if not starts:
                raise InvalidState("No failed or cancelled node to retry from", field="fromNode")
        reset = graph.descendants(starts)
        kept = set(graph.nodes) - reset
        old_graph = graph_for_version(execution.workflow_version_id)
        misfits = [
            nid for nid in kept if nid not in old_graph.nodes or old_graph.nodes[nid].label != graph.nodes[nid].label
        ]
        if misfits:
            raise VersionMismatch(
                "The chosen version does not fit this execution: nodes before the retry point differ: "
                + ", ".join(sorted(misfits)),
                field="version",
            )
        now = timezone.now()
        reset_labels = {old_graph.nodes[n].label for n in reset if n in old_graph.nodes}
        context = {k: v for k, v in execution.context.items() if k not in reset_labels}
        for node_id in set(runs) - set(graph.nodes):
            runs.pop(node_id).delete()
        for node_id in reset:
            node = graph.nodes[node_id]
            run = runs.get(node_id) or NodeRun(execution=execution, node_id=node_id)
            run.node_type, run.label = node.type, node.label
            run.status = NodeRunStatus.RUNNING if node_id in starts else NodeRunStatus.IDLE
            run.available_at = now if node_id in starts else None
            run.attempt = 0
            run.output = run.error = run.pause_data = run.branch = None
            run.started_at = run.finished_at = run.wake_at = None
            run.lease_owner = run.lease_expires_at = None
            run.logs = [*run.logs, log_entry("info", node.label, "Reset for retry", now)] if run.pk else []
            run.save()
        store.cas_update(
            execution,
            status=ExecutionStatus.RUNNING,
            context=context,
            error=None,
            workflow_version=target_version,
            finished_at=None,
            retry_count=execution.retry_count + 1,
        )
        wakeup.wake_after_commit()
        live.publish_after_commit(execution=execution)
    return execution
