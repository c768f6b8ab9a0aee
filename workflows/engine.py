"""The engine: start executions, record each node's outcome and advance the graph.

Every function here changes state in one transaction: the node run's outcome, the merge
of its output into the execution context (compare-and-swap on Execution.version), the
node runs that became ready or skipped, and the execution's status. Updates are
published and workers woken only after that transaction commits.
"""
from __future__ import annotations

import json
import logging
import random
import weakref
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import psycopg
from psycopg.types.numeric import Int8BinaryDumper, Int8Dumper
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DataError, OperationalError, connection, transaction
from django.utils import timezone

from . import live, wakeup
from .definition import Graph, advance, build_graph, edge_taken
from .exceptions import InvalidState
from .models import Execution, ExecutionStatus, NodeRun, NodeRunStatus, WorkflowVersion
from .nodes import NodeError, Pause, StepResult, log_entry, registry

logger = logging.getLogger("workflows.engine")

ACTIVE = (NodeRunStatus.RUNNING, NodeRunStatus.PAUSED)
CAS_RETRIES = 20
# PostgreSQL's deadlock_detected and serialization_failure: safe to run the transaction again.
RETRYABLE_SQLSTATES = ("40P01", "40001")


class _Conflict(Exception):
    """Another transaction changed the execution first; redo the work on fresh rows."""


class _LostLease(Exception):
    """The node run is no longer ours (its lease expired and another worker took it)."""


@dataclass
class Claim:
    """A node run this worker holds a lease on, with what it needs to run the step."""

    run_id: int
    execution_id: Any
    node_id: str
    attempt: int
    owner: str
    version_id: Any
    context: dict
    tenant_id: Any
    workflow_id: Any
    run_as_id: int
    is_test: bool = False
    # The execution's CAS counter when `context` was read (None: unknown, read it again).
    execution_version: int | None = None
    started_at: datetime | None = None
    # The node run that waits for this (child) execution, if any.
    parent_run_id: int | None = None


@lru_cache(maxsize=512)
def graph_for_version(version_id) -> Graph:
    """The graph of an immutable version, built once per process."""
    version = WorkflowVersion.objects.only("definition").get(pk=version_id)
    graph = build_graph(version.definition)
    graph.trigger_id = next((n.id for n in graph.nodes.values() if _is_trigger(n.type)), None)
    return graph


def _is_trigger(type_name: str) -> bool:
    node_type = registry.get(type_name)
    return bool(node_type and node_type.is_trigger)


def retry_policy(node_retry: dict | None) -> dict:
    return {**settings.WORKFLOW_DEFAULT_RETRY, **(node_retry or {})}


def backoff_delay(policy: dict, attempt: int) -> float:
    """Seconds to wait before attempt `attempt + 1`: exponential, capped, with jitter."""
    base = policy["initialInterval"] * policy["backoffFactor"] ** max(attempt - 1, 0)
    base = min(base, policy["maxInterval"])
    jitter = policy.get("jitter") or 0
    return max(0.0, base * (1 + random.uniform(-jitter, jitter)))


# --- Starting ------------------------------------------------------------------------


def start_execution(
    *,
    version: WorkflowVersion,
    run_as,
    input: dict,
    idempotency_key: str | None = None,
    parent_node_run: NodeRun | None = None,
    parent_index: int | None = None,
    is_test: bool = False,
) -> Execution:
    """Create the execution and its node runs in the caller's transaction; the trigger node
    finishes at once with the input, and its successors become ready on commit."""
    graph = graph_for_version(version.pk)
    now = timezone.now()
    with transaction.atomic():
        trigger = graph.nodes[graph.trigger_id]
        context = {"Trigger": input}
        if trigger.label != "Trigger":
            context[trigger.label] = input
        execution = Execution.objects.create(
            tenant_id=version.workflow.tenant_id,
            workflow_id=version.workflow_id,
            workflow_version=version,
            input=input,
            context=context,
            run_as=run_as,
            idempotency_key=idempotency_key,
            parent_execution_id=parent_node_run.execution_id if parent_node_run else None,
            parent_node_run=parent_node_run,
            parent_index=parent_index,
            is_test=is_test,
            started_at=now,
        )
        states = {nid: ("idle", None) for nid in graph.nodes}
        states[trigger.id] = ("success", None)
        ready, skipped = advance(graph, states, [trigger.id])
        runs = []
        for node in graph.nodes.values():
            run = NodeRun(execution=execution, node_id=node.id, node_type=node.type, label=node.label)
            if node.id == trigger.id:
                run.status, run.output, run.attempt = NodeRunStatus.SUCCESS, input, 1
                run.started_at = run.finished_at = now
            elif node.id in ready:
                run.status, run.available_at = NodeRunStatus.RUNNING, now
            elif node.id in skipped:
                run.status, run.finished_at = NodeRunStatus.SKIPPED, now
            runs.append(run)
        NodeRun.objects.bulk_create(runs)
        if not ready:
            execution.status = ExecutionStatus.SUCCESS
            execution.finished_at = now
            execution.save(update_fields=["status", "finished_at"])
        else:
            wakeup.wake_after_commit()
        live.publish_after_commit(execution=execution)
    return execution


# --- Claimed node runs --------------------------------------------------------------


def _retrying(what: str, work):
    """Run `work()` in a transaction (a savepoint inside the caller's), again on a
    compare-and-swap conflict or a database deadlock."""
    for _ in range(CAS_RETRIES):
        try:
            with transaction.atomic():
                return work()
        except _Conflict:
            continue
        except OperationalError as exc:
            if getattr(exc.__cause__, "sqlstate", None) not in RETRYABLE_SQLSTATES:
                raise
            logger.info("retrying %s after %s", what, type(exc.__cause__).__name__)
    raise RuntimeError(f"could not {what}: too many concurrent updates")


def lock_execution(execution_id, *, skip_locked: bool = False) -> Execution | None:
    """Lock an execution row. Every writer locks the execution before its node runs, so
    cancels, decisions, signals, deadlines and workers never wait on each other in a cycle."""
    return Execution.objects.select_for_update(skip_locked=skip_locked).filter(pk=execution_id).first()


def finish_claimed(
    claim: Claim,
    outcome: StepResult | Pause | NodeError,
    *,
    logs: list[dict] = (),
    resolved_config: Any = None,
    handoff: bool = False,
) -> Claim | None:
    """Record the outcome of a step this worker ran. Returns the next node run, already
    leased to this worker, when `handoff` is set and one became ready."""
    if _fast_path_applies(claim, outcome):
        try:
            return _finish_fast(claim, outcome, logs, resolved_config, handoff)
        except _LostLease:
            logger.info("lost the lease on node run %s; its outcome is dropped", claim.run_id)
            return None
        except (_Conflict, OperationalError, DataError):
            # The execution changed since we read it, or the lease is gone: the general path
            # sorts it out, on a new connection if this one died (a server restart, an idle
            # timeout), so the outcome of a step that already ran is not lost.
            reset_broken_connection()

    def work() -> Claim | None:
        execution = lock_execution(claim.execution_id)
        run = (
            NodeRun.objects.select_for_update()
            .filter(pk=claim.run_id, status=NodeRunStatus.RUNNING, lease_owner=claim.owner, attempt=claim.attempt)
            .first()
        )
        if run is None or execution is None:
            logger.info("lost the lease on node run %s; its outcome is dropped", claim.run_id)
            return None
        if resolved_config is not None:
            run.resolved_config = resolved_config
        run.logs = [*run.logs, *logs]
        return _settle(run, execution, outcome, handoff_owner=claim.owner if handoff else None)

    return _retrying(f"record node run {claim.run_id}", work)


def resume_node_run(
    node_run_id: int,
    *,
    output: Any = None,
    branch: str | None = None,
    error: str | None = None,
    message: str | None = None,
) -> NodeRun:
    """Finish a paused node run with `output` (or fail it with `error`) and advance the
    execution. The one resumer used by approvals, events, widgets and sub-workflows;
    joins the caller's transaction."""
    outcome: StepResult | NodeError
    outcome = NodeError(error, retryable=False) if error is not None else StepResult(output=output, branch=branch)
    execution_id = NodeRun.objects.filter(pk=node_run_id).values_list("execution_id", flat=True).first()
    if execution_id is None:
        raise InvalidState(f"Node run {node_run_id} does not exist", field="nodeRun")

    def work() -> NodeRun:
        execution = lock_execution(execution_id)
        run = NodeRun.objects.select_for_update().get(pk=node_run_id)
        if run.status != NodeRunStatus.PAUSED:
            raise InvalidState(f"Node run {run.label!r} is {run.status}, not paused", field="nodeRun")
        if message:
            run.logs = [*run.logs, log_entry("info", run.label, message, timezone.now())]
        _settle(run, execution, outcome)
        return run

    return _retrying(f"resume node run {node_run_id}", work)


def fire_deadline(node_run_id: int) -> bool:
    """Run the node type's deadline handler for a paused run whose `wake_at` has passed.
    Returns False when another worker got there first."""
    execution_id = NodeRun.objects.filter(pk=node_run_id).values_list("execution_id", flat=True).first()

    def work() -> bool:
        execution = lock_execution(execution_id, skip_locked=True)
        if execution is None:
            return False  # busy elsewhere: the next timer tick tries again
        run = (
            NodeRun.objects.select_for_update()
            .filter(pk=node_run_id, status=NodeRunStatus.PAUSED, wake_at__lte=timezone.now())
            .first()
        )
        if run is None:
            return False
        node_type = registry.get(run.node_type)
        try:
            result = node_type.on_deadline(run) if node_type and node_type.on_deadline else {}
            outcome = result if isinstance(result, StepResult) else StepResult(output=result)
        except NodeError as exc:
            outcome = NodeError(exc.message, retryable=False, details=exc.details)
        _settle(run, execution, outcome)
        return True

    return execution_id is not None and _retrying(f"fire the deadline of node run {node_run_id}", work)


# --- The fast path: a plain success whose successors each wait only for it ---------------
#
# Most steps of most workflows are this case. It needs no row reads: the claim carries the
# context and its CAS counter, so the context is written with compare-and-swap (which also
# locks the execution row, first, as every writer does), the node run is finished by a
# conditional UPDATE (which is the lease check), and the successors are made ready by one
# UPDATE ... RETURNING each. Anything else takes the general path.

FINISH_RUN_SQL = """
UPDATE workflows_noderun
SET status = 'success', output = %s, branch = %s, error = NULL, resolved_config = %s, logs = {logs},
    lease_owner = NULL, lease_expires_at = NULL, wake_at = NULL, finished_at = %s
WHERE id = %s AND status = 'running' AND lease_owner = %s AND attempt = %s
"""

READY_SQL = """
UPDATE workflows_noderun SET status = 'running', available_at = %s
WHERE execution_id = %s AND node_id = %s AND status = 'idle'
RETURNING id
"""

CAS_SQL = "UPDATE workflows_execution SET context = %s, version = %s, updated_at = %s WHERE id = %s AND version = %s"

STATUS_SQL = "UPDATE workflows_execution SET status = %s, finished_at = %s WHERE id = %s"

# On PostgreSQL, in autocommit mode, the whole fast outcome is one statement committed on its
# own: one round trip. At the end of a branch (no successors) the execution becomes paused or
# finished when no other node run is running. Reading the other node runs in the statement's
# snapshot is safe because every change of a node run's status also bumps the execution's CAS
# counter, so a concurrent change makes the compare-and-swap fail. Every part must apply, or a
# division by zero undoes the whole statement and the general path takes over. The SELECT
# names `exe` first, so the execution row is locked before any node run, the lock order of
# every writer.
FAST_PG_SQL = """
WITH ended AS (
    SELECT CASE
        WHEN NOT %(ends)s OR bool_or(status = 'running') THEN NULL
        WHEN bool_or(status = 'paused') THEN 'paused'
        ELSE 'success'
    END AS status
    FROM workflows_noderun
    WHERE %(ends)s AND execution_id = %(execution)s AND id <> %(run)s AND status IN ('running', 'paused')
), exe AS (
    UPDATE workflows_execution e
    SET context = %(context)s::jsonb, version = e.version + 1, updated_at = %(now)s,
        status = COALESCE(ended.status, e.status),
        finished_at = CASE WHEN ended.status = 'success' THEN %(now)s ELSE e.finished_at END
    FROM ended
    WHERE e.id = %(execution)s AND e.version = %(version)s
    RETURNING e.status, e.tenant_id, e.workflow_id, e.is_test, e.error
), fin AS (
    UPDATE workflows_noderun
    SET status = 'success', output = %(output)s::jsonb, branch = %(branch)s, error = NULL,
        resolved_config = %(config)s::jsonb, logs = logs || %(logs)s::jsonb,
        lease_owner = NULL, lease_expires_at = NULL, wake_at = NULL, finished_at = %(now)s
    WHERE id = %(run)s AND status = 'running' AND lease_owner = %(owner)s AND attempt = %(attempt)s
    RETURNING id
), ready AS (
    UPDATE workflows_noderun
    SET status = 'running', available_at = %(now)s,
        lease_owner = CASE WHEN node_id = %(handoff)s THEN %(owner)s ELSE lease_owner END,
        lease_expires_at = CASE WHEN node_id = %(handoff)s THEN %(lease)s ELSE lease_expires_at END,
        attempt = CASE WHEN node_id = %(handoff)s THEN 1 ELSE attempt END,
        started_at = CASE WHEN node_id = %(handoff)s THEN %(now)s ELSE started_at END
    WHERE execution_id = %(execution)s AND node_id = ANY(%(targets)s::varchar[]) AND status = 'idle'
    RETURNING node_id, id
)
SELECT
    (SELECT json_build_array(status, tenant_id, workflow_id, is_test, error) FROM exe) AS execution,
    (SELECT json_agg(json_build_array(node_id, id)) FROM ready) AS ready,
    1 / ((SELECT count(*) FROM exe) * (SELECT count(*) FROM fin)
         * CASE WHEN (SELECT count(*) FROM ready) = %(count)s THEN 1 ELSE 0 END) AS all_applied
"""

OTHERS_ACTIVE_SQL = """
SELECT DISTINCT status FROM workflows_noderun
WHERE execution_id = %s AND id <> %s AND status IN ('running', 'paused')
"""

HANDOFF_SQL = """
UPDATE workflows_noderun
SET status = 'running', available_at = %s, lease_owner = %s, lease_expires_at = %s, attempt = 1, started_at = %s
WHERE execution_id = %s AND node_id = %s AND status = 'idle'
RETURNING id
"""


def _fast_path_applies(claim: Claim, outcome) -> bool:
    if not isinstance(outcome, StepResult) or outcome.persist is not None or claim.execution_version is None:
        return False
    graph = graph_for_version(claim.version_id)
    return all(
        len(graph.incoming[e.target]) == 1 and edge_taken(e, "success", outcome.branch)
        for e in graph.outgoing.get(claim.node_id, [])
    )


def _append_logs_sql(count: int) -> str:
    """SQL that appends `count` JSON entries (one parameter each) to the logs column."""
    if count == 0:
        return "logs"
    if connection.vendor == "postgresql":
        return "logs || " + " || ".join(["jsonb_build_array(%s::jsonb)"] * count)
    expression = "logs"
    for _ in range(count):
        expression = f"json_insert({expression}, '$[#]', json(%s))"
    return expression


def _json(value: Any) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder)


def _finish_fast(claim: Claim, outcome: StepResult, logs, resolved_config, handoff: bool) -> Claim | None:
    graph = graph_for_version(claim.version_id)
    node = graph.nodes[claim.node_id]
    now = timezone.now()
    context = {**claim.context, node.label: outcome.output}
    targets = list(dict.fromkeys(e.target for e in graph.outgoing.get(claim.node_id, [])))
    params = {
        "context": _json(context), "version": claim.execution_version, "now": connection.ops.adapt_datetimefield_value(now),
        "execution": Execution._meta.pk.get_db_prep_value(claim.execution_id, connection),
        "run": claim.run_id, "owner": claim.owner, "attempt": claim.attempt,
        "output": _json(outcome.output), "branch": outcome.branch, "config": _json(resolved_config),
        "lease": connection.ops.adapt_datetimefield_value(now + timedelta(seconds=settings.WORKFLOW_LEASE_SECONDS)),
        "handoff": targets[0] if handoff and targets else None, "targets": targets,
    }
    # One statement needs PostgreSQL in autocommit mode (no caller's transaction to join),
    # and not the last step of a child execution, whose parent resumes in the same transaction.
    if connection.vendor == "postgresql" and connection.get_autocommit() and (targets or claim.parent_run_id is None):
        ended, ready_ids = _fast_statement_postgres(params, logs)
        execution = None
        if ended is not None:
            status, tenant_id, workflow_id, is_test, error = ended
            execution = Execution(
                id=claim.execution_id, tenant_id=tenant_id, workflow_id=workflow_id, status=status, context=context,
                error=error, is_test=is_test, finished_at=now if status == ExecutionStatus.SUCCESS else None,
            )
        return _after_fast(claim, node, graph, ready_ids, context, now, handoff, execution)
    with transaction.atomic():
        status, ready_ids = _fast_statements(params, logs)
        execution = None
        if status != ExecutionStatus.RUNNING:
            execution = Execution.objects.get(pk=claim.execution_id)
            if status == ExecutionStatus.SUCCESS:
                _on_execution_finished(execution)
        return _after_fast(claim, node, graph, ready_ids, context, now, handoff, execution)


def _after_fast(claim: Claim, node, graph: Graph, ready_ids, context, now, handoff, ended) -> Claim | None:
    """Wake and publish after a fast outcome; returns the hand-off. `ended` is the execution
    when this step paused or finished it."""
    first = next(iter(ready_ids)) if handoff and ready_ids else None
    if len(ready_ids) > (1 if first else 0):
        wakeup.wake_after_commit()
    live.publish_after_commit(
        runs=[
            live.RunUpdate(claim.execution_id, node.id, node.label, NodeRunStatus.SUCCESS, claim.attempt,
                           context[node.label], None, claim.started_at, now),
            *(live.RunUpdate(claim.execution_id, nid, graph.nodes[nid].label, NodeRunStatus.RUNNING,
                             1 if nid == first else 0, started_at=now if nid == first else None)
              for nid in ready_ids),
        ],
        execution=ended,
    )
    if first is None:
        return None
    return replace(
        claim, run_id=ready_ids[first], node_id=first, attempt=1, context=context,
        execution_version=claim.execution_version + 1, started_at=now,
    )


def _fast_statement_postgres(params: dict, logs: list[dict]) -> tuple[list | None, dict[str, int]]:
    """The fast path as one statement, committed on its own. Returns the execution's
    (status, tenant, workflow, is_test, error) when the step paused or finished it, and the
    node runs it made ready, in the order of the graph's edges."""
    ((execution, ready, _),) = execute_prepared(
        FAST_PG_SQL, {**params, "ends": not params["targets"], "logs": _json(logs), "count": len(params["targets"])}
    )
    got = dict(ready or [])
    ended = execution if execution[0] != ExecutionStatus.RUNNING else None
    return ended, {target: got[target] for target in params["targets"]}


# The connections already told to run prepared statements on their generic plan.
_generic_plans: weakref.WeakSet = weakref.WeakSet()


def execute_prepared(sql: str, params) -> list[tuple]:
    """Run a hot PostgreSQL statement with server-side binding, prepared once per
    connection (see DATABASE_PREPARED_STATEMENTS in the settings), so the server parses
    and plans it once rather than at every step. Not seen by Django's query logging."""
    connection.ensure_connection()
    raw = connection.connection
    with connection.wrap_database_errors:
        if raw.prepare_threshold is not None and raw not in _generic_plans and not connection.in_atomic_block:
            # The planner thinks each custom plan cheaper than the generic one, so it would
            # plan these statements at every execution. Only prepared statements are
            # affected, and only the engine prepares any. Outside a transaction, so no
            # rollback undoes it.
            raw.execute("SET plan_cache_mode = force_generic_plan")
            _generic_plans.add(raw)
        with psycopg.Cursor(raw) as cursor:
            # Every integer as int8: psycopg picks int2/int4/int8 by value, and each choice
            # would be prepared as a statement of its own.
            cursor.adapters.register_dumper(int, Int8Dumper)
            cursor.adapters.register_dumper(int, Int8BinaryDumper)
            cursor.execute(sql, params, prepare=True)
            return cursor.fetchall()


def reset_broken_connection(*, probe: bool = False) -> None:
    """Drop this thread's database connection if it died, so the next query reconnects:
    one known to be closed after a failed query, or with `probe` one that no longer
    answers. Outside a transaction only: inside one the caller's atomic block must fail."""
    raw = connection.connection
    if raw is None or connection.in_atomic_block:
        return
    if getattr(raw, "closed", False) or (probe and not connection.is_usable()):
        connection.close()


def _fast_statements(params: dict, logs: list[dict]) -> tuple[str, dict[str, int]]:
    """The fast path as plain statements in the caller's transaction (SQLite, or inside atomic())."""
    p = params
    ready_ids: dict[str, int] = {}
    status = ExecutionStatus.RUNNING
    with connection.cursor() as cursor:
        # The compare-and-swap comes first: it also takes the execution's row lock.
        cursor.execute(CAS_SQL, [p["context"], p["version"] + 1, p["now"], p["execution"], p["version"]])
        if cursor.rowcount != 1:
            raise _Conflict()
        cursor.execute(
            FINISH_RUN_SQL.format(logs=_append_logs_sql(len(logs))),
            [p["output"], p["branch"], p["config"], *[_json(e) for e in logs], p["now"], p["run"], p["owner"], p["attempt"]],
        )
        if cursor.rowcount != 1:
            raise _LostLease()
        for target in p["targets"]:
            if target == p["handoff"]:
                cursor.execute(HANDOFF_SQL, [p["now"], p["owner"], p["lease"], p["now"], p["execution"], target])
            else:
                cursor.execute(READY_SQL, [p["now"], p["execution"], target])
            row = cursor.fetchone()
            if row is None:
                raise _Conflict()  # the successor was not idle: let the general path sort it out
            ready_ids[target] = row[0]
        if not p["targets"]:  # the end of a branch: the execution may now be paused or finished
            cursor.execute(OTHERS_ACTIVE_SQL, [p["execution"], p["run"]])
            others = {row[0] for row in cursor.fetchall()}
            if "running" not in others:
                status = ExecutionStatus.PAUSED if others else ExecutionStatus.SUCCESS
                finished_at = p["now"] if status == ExecutionStatus.SUCCESS else None
                cursor.execute(STATUS_SQL, [status, finished_at, p["execution"]])
    return status, ready_ids


# --- The core transition -------------------------------------------------------------


def _settle(run: NodeRun, execution: Execution, outcome, *, handoff_owner: str | None = None) -> Claim | None:
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
            delay = backoff_delay(policy, run.attempt)
            run.available_at = now + timedelta(seconds=delay)
            run.lease_owner = run.lease_expires_at = None
            run.error = {"message": outcome.message, "attempt": run.attempt, "details": outcome.details}
            run.logs = [
                *run.logs,
                log_entry("warning", run.label, f"Attempt {run.attempt} failed: {outcome.message}; retrying in {delay:.1f}s", now),
            ]
            run.save()
            wakeup.wake_after_commit()
            live.publish_after_commit(runs=[run])
            return None

    run.lease_owner = run.lease_expires_at = None
    run.wake_at = None
    run.finished_at = now
    context = dict(execution.context)
    if isinstance(outcome, NodeError):
        run.status = NodeRunStatus.ERROR
        run.error = {"message": outcome.message, "attempt": run.attempt, "details": outcome.details}
        run.logs = [*run.logs, log_entry("error", run.label, outcome.message, now)]
        routed = any(e.branch == "error" for e in graph.outgoing.get(run.node_id, []))
        if not routed:
            run.save()
            _fail_execution(execution, run, now)
            return None
        context[run.label] = {"error": outcome.message}
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
        context[run.label] = outcome.output
    run.save()
    return _advance(execution, run, context, graph, now, handoff_owner)


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
    still_running = NodeRun.objects.filter(execution_id=execution.pk, status=NodeRunStatus.RUNNING).exists()
    # Moves the CAS counter even when the execution stays running: every change of a node
    # run's status must, so the one-statement fast path can trust its snapshot.
    _cas_update(execution, **({} if still_running else {"status": ExecutionStatus.PAUSED}))
    if pause.until is not None:
        wakeup.wake_after_commit()  # workers recompute their next deadline
    live.publish_after_commit(runs=[run], execution=execution if not still_running else None)
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
    execution: Execution, run: NodeRun, context: dict, graph: Graph, now: datetime, handoff_owner: str | None
) -> Claim | None:
    rows = NodeRun.objects.filter(execution_id=execution.pk).values_list("id", "node_id", "status", "branch")
    ids = {node_id: pk for pk, node_id, _, _ in rows}
    states = {node_id: (status, branch) for _, node_id, status, branch in rows}
    states[run.node_id] = (run.status, run.branch)
    ready, skipped = advance(graph, states, [run.node_id])
    if skipped:
        NodeRun.objects.filter(pk__in=[ids[n] for n in skipped]).update(status=NodeRunStatus.SKIPPED, finished_at=now)
    handoff: NodeRun | None = None
    if ready:
        ready_ids = [ids[n] for n in ready]
        if handoff_owner:
            first = ready_ids.pop(0)
            NodeRun.objects.filter(pk=first).update(
                status=NodeRunStatus.RUNNING,
                available_at=now,
                lease_owner=handoff_owner,
                lease_expires_at=now + timedelta(seconds=settings.WORKFLOW_LEASE_SECONDS),
                attempt=1,
                started_at=now,
            )
            handoff = NodeRun(pk=first, node_id=ready[0], attempt=1)
        if ready_ids:
            NodeRun.objects.filter(pk__in=ready_ids).update(status=NodeRunStatus.RUNNING, available_at=now)
            wakeup.wake_after_commit()
        for node_id in ready:
            states[node_id] = ("running", None)

    previous_status = execution.status
    statuses = {status for status, _ in states.values()}
    if "running" in statuses:
        status = ExecutionStatus.RUNNING
    elif "paused" in statuses:
        status = ExecutionStatus.PAUSED
    else:
        status = ExecutionStatus.SUCCESS
    finished = status == ExecutionStatus.SUCCESS
    _cas_update(execution, context=context, status=status, finished_at=now if finished else None)
    changed = [
        live.RunUpdate(execution.pk, nid, graph.nodes[nid].label, states[nid][0], finished_at=now if nid in skipped else None)
        for nid in [*ready, *skipped]
    ]
    live.publish_after_commit(runs=[run, *changed], execution=execution if status != previous_status else None)
    if finished:
        _on_execution_finished(execution)
    if handoff is None:
        return None
    return Claim(
        run_id=handoff.pk,
        execution_id=execution.pk,
        node_id=handoff.node_id,
        attempt=1,
        owner=handoff_owner,
        version_id=execution.workflow_version_id,
        context=context,
        tenant_id=execution.tenant_id,
        workflow_id=execution.workflow_id,
        run_as_id=execution.run_as_id,
        is_test=execution.is_test,
        execution_version=execution.version,
        started_at=now,
        parent_run_id=execution.parent_node_run_id,
    )


def _cas_update(execution: Execution, **changes) -> None:
    """Write `changes` to the execution if nobody else did since we read it."""
    changes = {k: v for k, v in changes.items() if not (k == "finished_at" and v is None)}
    updated = Execution.objects.filter(pk=execution.pk, version=execution.version).update(
        version=execution.version + 1, updated_at=timezone.now(), **changes
    )
    if not updated:
        raise _Conflict()
    execution.version += 1
    for key, value in changes.items():
        setattr(execution, key, value)


def _fail_execution(execution: Execution, failed: NodeRun, now: datetime) -> None:
    error = {"message": failed.error["message"], "nodeId": failed.node_id, "label": failed.label}
    _stop_active_runs(execution, now)
    _cas_update(execution, status=ExecutionStatus.ERROR, error=error, finished_at=now)
    live.publish_after_commit(runs=[failed], execution=execution)
    _on_execution_finished(execution)


def _stop_active_runs(execution: Execution, now: datetime) -> list[NodeRun]:
    """Cancel the running and paused node runs of an execution, calling on_cancel hooks."""
    runs = list(NodeRun.objects.select_for_update().filter(execution_id=execution.pk, status__in=ACTIVE))
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


def _on_execution_finished(execution: Execution) -> None:
    if execution.parent_node_run_id:
        from .children import child_finished

        child_finished(execution)


# --- Cancel, retry, context writes ---------------------------------------------------


def cancel_execution(execution_id, *, reason: str = "Cancelled") -> Execution:
    """Stop an execution: its running and paused node runs are cancelled, and its children."""

    def work() -> Execution:
        execution = lock_execution(execution_id)
        if execution is None:
            raise InvalidState(f"Execution {execution_id} does not exist", field="executionId")
        if execution.is_finished:
            raise InvalidState(f"Execution is already {execution.status}", field="status")
        now = timezone.now()
        _stop_active_runs(execution, now)
        _cas_update(execution, status=ExecutionStatus.CANCELLED, error={"message": reason}, finished_at=now)
        live.publish_after_commit(execution=execution)
        for child_id in Execution.objects.filter(
            parent_execution_id=execution.pk, status__in=[ExecutionStatus.RUNNING, ExecutionStatus.PAUSED]
        ).values_list("id", flat=True):
            cancel_execution(child_id, reason="Parent execution cancelled")
        _on_execution_finished(execution)
        return execution

    return _retrying(f"cancel execution {execution_id}", work)


def write_context(execution_id, key: str, value: Any) -> Execution:
    """Set one top-level context key with compare-and-swap, retrying on conflict."""

    def work() -> Execution:
        execution = Execution.objects.get(pk=execution_id)
        _cas_update(execution, context={**execution.context, key: value})
        return execution

    return _retrying(f"write the context of execution {execution_id}", work)


def retry_execution(execution_id, *, from_node: str | None = None, version: WorkflowVersion | None = None) -> Execution:
    """Run an execution again from a node (default: its failed or cancelled nodes), keeping
    the outputs of everything before it, optionally on another version of the workflow."""
    from .exceptions import VersionMismatch

    with transaction.atomic():
        execution = Execution.objects.select_for_update().get(pk=execution_id)
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
            nid for nid in kept
            if nid not in old_graph.nodes or old_graph.nodes[nid].label != graph.nodes[nid].label
        ]
        if misfits:
            raise VersionMismatch(
                "The chosen version does not fit this execution: nodes before the retry point differ: "
                + ", ".join(sorted(misfits)),
                field="version",
            )
        now = timezone.now()
        context = {k: v for k, v in execution.context.items() if k not in {old_graph.nodes[n].label for n in reset if n in old_graph.nodes}}
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
        _cas_update(
            execution,
            status=ExecutionStatus.RUNNING,
            context=context,
            error=None,
            workflow_version=target_version,
        )
        Execution.objects.filter(pk=execution.pk).update(finished_at=None)
        execution.finished_at = None
        wakeup.wake_after_commit()
        live.publish_after_commit(execution=execution)
    return execution
