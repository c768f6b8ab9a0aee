"""Every statement the engine runs, and everything that depends on the database vendor.

The engine (workflows.engine) decides; this module reads and writes:
- the lock order of every writer: an execution row, then its node runs (`locked_run`);
- running a write again after a deadlock, a serialization failure, a compare-and-swap
  conflict or a lost connection (`retrying`);
- the compare-and-swap on an execution's `revision` (`cas_update`);
- claiming, renewing and releasing leases, and reading what steps need (`claim`);
- recording a plain success in one statement on PostgreSQL (`finish_fast`);
- the driver tuning (prepared statements on their generic plan, int8 parameters), and
  LISTEN/NOTIFY and advisory locks;
- the workers' heartbeat rows, and the readiness probe's round trip.
No other module names a table, writes SQL or asks which database it runs on.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, NamedTuple, TypeVar

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import (
    DEFAULT_DB_ALIAS,
    DatabaseError,
    InterfaceError,
    OperationalError,
    connection,
    connections,
    transaction,
)
from django.db.models import Min
from django.utils import timezone

from .models import Execution, ExecutionStatus, NodeRun, NodeRunStatus, WorkerProcess

logger = logging.getLogger("workflows.store")

T = TypeVar("T")

# How often `retrying` runs a write again: conflicts and deadlocks at once, a lost
# connection after a growing pause (a database restart takes a few seconds).
RETRIES = 20
RECONNECT_DELAYS = (0.05, 0.2, 0.5, 1.0, 2.0, 4.0)
# deadlock_detected, serialization_failure: the same transaction may simply run again.
RETRYABLE_SQLSTATES = ("40P01", "40001")
# Raised by FINISH_FAST_SQL when a part of it does not apply (see the migration that
# creates workflows_not_applied): the statement then changed nothing.
NOT_APPLIED_SQLSTATE = "WF001"


def is_postgres(using: str = DEFAULT_DB_ALIAS) -> bool:
    return connections[using].vendor == "postgresql"


class Conflict(Exception):
    """Another transaction changed the execution first: redo the work on fresh rows."""


class LostLease(Exception):
    """The node run is no longer this worker's (its lease expired and another took it)."""


# --- Claims ------------------------------------------------------------------------------


@dataclass
class Claim:
    """A node run leased to a worker, with what its step needs."""

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
    # The execution's revision when `context` was read (None: unknown, read it again).
    revision: int | None = None
    started_at: datetime | None = None
    # The node run that waits for this (child) execution, if any.
    parent_run_id: int | None = None
    # Execution.retry_count: with the execution and node, the step's idempotency key.
    retry_count: int = 0

    @property
    def idempotency_key(self) -> str:
        """The same for every attempt of this node run, new after a retry from a node."""
        return f"{self.execution_id}:{self.node_id}:{self.retry_count}"

    def next(self, *, run_id: int, node_id: str, context: dict, revision: int, now: datetime) -> Claim:
        """The claim on a successor handed to the same worker in the same transaction."""
        return replace(
            self, run_id=run_id, node_id=node_id, attempt=1, context=context, revision=revision, started_at=now
        )


# One claiming UPDATE for both databases. The inner SELECT walks noderun_ready_idx
# (available_at WHERE status = 'running'); a live lease means another worker runs it. On
# PostgreSQL, SKIP LOCKED lets any number of workers claim side by side.
CLAIM_SQL = """
UPDATE workflows_noderun
SET lease_owner = %s, lease_expires_at = %s, attempt = attempt + 1, started_at = COALESCE(started_at, %s)
WHERE id IN (
    SELECT id FROM workflows_noderun
    WHERE status = 'running' AND available_at <= %s
      AND (lease_expires_at IS NULL OR lease_expires_at < %s)
    ORDER BY available_at
    LIMIT %s
    {lock}
)
RETURNING id, execution_id, node_id, attempt, started_at"""

# On PostgreSQL the claim also reads what the steps need, in the same round trip; the
# columns are Claim's, in the order of CLAIM_FIELDS.
CLAIM_PG_SQL = f"""
WITH c AS ({CLAIM_SQL.format(lock="FOR UPDATE SKIP LOCKED")})
SELECT c.id, c.execution_id, c.node_id, c.attempt, e.workflow_version_id, e.context, e.tenant_id, e.workflow_id,
       e.run_as_id, e.is_test, e.revision, c.started_at, e.parent_node_run_id, e.retry_count
FROM c JOIN workflows_execution e ON e.id = c.execution_id
"""

# The same columns through the ORM (SQLite reads them after its claiming UPDATE).
CLAIM_FIELDS = (
    "id",
    "execution_id",
    "node_id",
    "attempt",
    "execution__workflow_version_id",
    "execution__context",
    "execution__tenant_id",
    "execution__workflow_id",
    "execution__run_as_id",
    "execution__is_test",
    "execution__revision",
    "started_at",
    "execution__parent_node_run_id",
    "execution__retry_count",
)

RENEW_SQL = (
    "UPDATE workflows_noderun SET lease_expires_at = %s WHERE lease_owner = %s AND status = 'running' AND id IN ({ids})"
)

# A release does not count the interrupted attempt.
RELEASE_SQL = """
UPDATE workflows_noderun SET lease_owner = NULL, lease_expires_at = NULL, attempt = attempt - 1
WHERE lease_owner = %s AND status = 'running' AND id IN ({ids})
"""


def _claim_from_row(owner: str, row) -> Claim:
    (
        run_id,
        execution_id,
        node_id,
        attempt,
        version_id,
        context,
        tenant_id,
        workflow_id,
        run_as_id,
        is_test,
        revision,
        started_at,
        parent_run_id,
        retry_count,
    ) = row
    if isinstance(context, str):  # Django's connections leave jsonb undecoded in raw rows
        context = json.loads(context)
    return Claim(
        run_id=run_id,
        execution_id=execution_id,
        node_id=node_id,
        attempt=attempt,
        owner=owner,
        version_id=version_id,
        context=context,
        tenant_id=tenant_id,
        workflow_id=workflow_id,
        run_as_id=run_as_id,
        is_test=is_test,
        revision=revision,
        started_at=started_at,
        parent_run_id=parent_run_id,
        retry_count=retry_count,
    )


def claim(owner: str, limit: int) -> list[Claim]:
    """Lease up to `limit` ready node runs to `owner`, counting an attempt each."""
    now = timezone.now()
    expires = now + timedelta(seconds=settings.WORKFLOW_LEASE_SECONDS)
    params = [owner, _db_time(expires), _db_time(now), _db_time(now), _db_time(now), limit]
    if is_postgres():
        return [_claim_from_row(owner, row) for row in execute_prepared(CLAIM_PG_SQL, params)]
    with connection.cursor() as cursor:
        cursor.execute(CLAIM_SQL.format(lock=""), params)
        ids = [row[0] for row in cursor.fetchall()]
    if not ids:
        return []
    rows = NodeRun.objects.filter(pk__in=ids, lease_owner=owner).values_list(*CLAIM_FIELDS)
    return [_claim_from_row(owner, row) for row in rows]


def renew_leases(owner: str, run_ids: list[int]) -> None:
    if not run_ids:
        return
    expires = timezone.now() + timedelta(seconds=settings.WORKFLOW_LEASE_SECONDS)
    with connection.cursor() as cursor:
        cursor.execute(RENEW_SQL.format(ids=",".join(["%s"] * len(run_ids))), [_db_time(expires), owner, *run_ids])


def release_leases(owner: str, run_ids: list[int]) -> None:
    """Give node runs back unfinished, without counting the interrupted attempt."""
    if not run_ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(RELEASE_SQL.format(ids=",".join(["%s"] * len(run_ids))), [owner, *run_ids])


def due_deadlines(limit: int = 100) -> list[int]:
    """Paused node runs whose deadline has passed, oldest first (noderun_wake_idx)."""
    return list(
        NodeRun.objects.filter(status=NodeRunStatus.PAUSED, wake_at__lte=timezone.now())
        .order_by("wake_at")
        .values_list("id", flat=True)[:limit]
    )


def next_due() -> datetime | None:
    """The earliest moment a pause ends or a delayed (retrying) node run becomes ready."""
    now = timezone.now()
    wake = NodeRun.objects.filter(status=NodeRunStatus.PAUSED, wake_at__isnull=False).aggregate(m=Min("wake_at"))["m"]
    ready = NodeRun.objects.filter(status=NodeRunStatus.RUNNING, available_at__gt=now).aggregate(m=Min("available_at"))[
        "m"
    ]
    moments = [m for m in (wake, ready) if m is not None]
    return min(moments) if moments else None


# --- Locks, retries, compare-and-swap ---------------------------------------------------------


def retrying(what: str, work: Callable[[], T]) -> T:
    """Run `work()` in a transaction (a savepoint inside the caller's), again on a
    compare-and-swap conflict, a deadlock or serialization failure, and (when this is the
    outermost transaction) on a lost connection, after reconnecting."""
    lost = 0
    for _ in range(RETRIES):
        try:
            with transaction.atomic():
                return work()
        except Conflict:
            continue
        except (OperationalError, InterfaceError) as exc:
            if getattr(exc.__cause__, "sqlstate", None) in RETRYABLE_SQLSTATES:
                logger.info("retrying %s after %s", what, type(exc.__cause__).__name__)
                continue
            if connection.in_atomic_block or not connection_lost(exc) or lost >= len(RECONNECT_DELAYS):
                raise
            logger.warning("lost the database connection during %s; reconnecting (%s)", what, exc)
            connection.close()
            time.sleep(RECONNECT_DELAYS[lost])
            lost += 1
    raise RuntimeError(f"could not {what}: too many concurrent updates")


# SQLSTATEs of a session that is gone: connection exceptions (08...), and the server
# ending it (admin_shutdown, crash_shutdown, cannot_connect_now).
LOST_SQLSTATES = ("57P01", "57P02", "57P03")


def connection_lost(exc: Exception) -> bool:
    """Whether a database error means this thread's session is gone (a server restart, a
    terminated backend, a network fault), so the work may run again on a new one."""
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    if sqlstate is None:  # raised by the driver itself: a closed or broken connection
        return True
    return sqlstate.startswith("08") or sqlstate in LOST_SQLSTATES


def reset_broken_connection(*, probe: bool = False) -> None:
    """Drop this thread's connection if it died, so the next query reconnects: one known to
    be closed after a failed query, or with `probe` one that no longer answers. Outside a
    transaction only: inside one the caller's atomic block must fail."""
    raw = connection.connection
    if raw is None or connection.in_atomic_block:
        return
    if getattr(raw, "closed", False) or getattr(raw, "broken", False) or (probe and not connection.is_usable()):
        connection.close()


def lock_execution(execution_id, *, skip_locked: bool = False) -> Execution | None:
    """Lock an execution row (None when it is gone, or busy with `skip_locked`)."""
    return _one(Execution.objects.select_for_update(skip_locked=skip_locked).filter(pk=execution_id))


def _one(queryset):
    """The row a primary-key filter finds, or None (no ORDER BY, unlike first())."""
    return next(iter(queryset), None)


@dataclass
class Locked:
    execution: Execution
    run: NodeRun | None

    @property
    def node_run(self) -> NodeRun:
        """The locked node run, for a lock taken on one (locked_run(node_run_id))."""
        if self.run is None:
            raise LookupError("this lock holds no node run")
        return self.run


@contextlib.contextmanager
def locked_run(
    node_run_id: int | None = None, *, execution_id=None, skip_locked: bool = False
) -> Iterator[Locked | None]:
    """Inside a transaction, lock an execution row and then one of its node runs: the order
    every writer (workers, cancels, decisions, signals, deadlines, widget input, children)
    takes, so none waits on another in a cycle. Yields None when a row is gone, or busy
    and `skip_locked` is set."""
    with transaction.atomic(savepoint=False):  # a transaction is needed, a savepoint is not
        if execution_id is None and node_run_id is not None:
            execution_id = NodeRun.objects.filter(pk=node_run_id).values_list("execution_id", flat=True).first()
        execution = lock_execution(execution_id, skip_locked=skip_locked) if execution_id is not None else None
        run = None
        if execution is not None and node_run_id is not None:
            run = _one(NodeRun.objects.select_for_update(skip_locked=skip_locked).filter(pk=node_run_id))
        if execution is None or (node_run_id is not None and run is None):
            yield None
        else:
            yield Locked(execution, run)


def lock_active_runs(execution: Execution) -> list[NodeRun]:
    """The running and paused node runs of a locked execution, locked."""
    return list(
        NodeRun.objects.select_for_update().filter(
            execution_id=execution.pk, status__in=(NodeRunStatus.RUNNING, NodeRunStatus.PAUSED)
        )
    )


def named_lock(name: str) -> None:
    """Hold a lock on `name` until the current transaction ends (serialises writers of one
    key that has no row yet, such as a signal's key)."""
    if not is_postgres():
        return  # SQLite runs one writing transaction at a time (BEGIN IMMEDIATE)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [name])


def cas_update(execution: Execution, **changes) -> None:
    """Write `changes` to the execution if nobody else did since it was read (its revision)."""
    updated = Execution.objects.filter(pk=execution.pk, revision=execution.revision).update(
        revision=execution.revision + 1, updated_at=timezone.now(), **changes
    )
    if not updated:
        raise Conflict()
    execution.revision += 1
    for key, value in changes.items():
        setattr(execution, key, value)


# --- Starting an execution ---------------------------------------------------------------------

# The execution and all its node runs in one statement (PostgreSQL): the node runs come
# from parallel arrays, one element per node.
CREATE_EXECUTION_SQL = """
WITH e AS (
    INSERT INTO workflows_execution (
        id, tenant_id, workflow_id, workflow_version_id, status, input, context, revision, retry_count, run_as_id,
        parent_execution_id, parent_node_run_id, parent_index, idempotency_key, is_test, error_of_id,
        created_at, updated_at, started_at, finished_at)
    VALUES (
        %(id)s, %(tenant)s, %(workflow)s, %(version)s, %(status)s, %(input)s::jsonb, %(context)s::jsonb, 0, 0,
        %(run_as)s, %(parent)s, %(parent_run)s, %(parent_index)s, %(idempotency_key)s, %(is_test)s, %(error_of)s,
        %(now)s, %(now)s, %(now)s, %(finished)s)
), wake AS (
    SELECT pg_notify(%(channel)s, '') WHERE %(notify)s
)
INSERT INTO workflows_noderun (
    execution_id, node_id, node_type, label, status, attempt, output, logs, available_at, started_at, finished_at, created_at)
SELECT %(id)s, n.node_id, n.node_type, n.label, n.status, n.attempt, n.output, '[]'::jsonb,
       n.available_at, n.started_at, n.finished_at, %(now)s
FROM unnest(%(node_ids)s::varchar[], %(types)s::varchar[], %(labels)s::varchar[], %(statuses)s::varchar[],
            %(attempts)s::int8[], %(outputs)s::jsonb[], %(available)s::timestamptz[], %(started)s::timestamptz[],
            %(finished_at)s::timestamptz[])
     AS n(node_id, node_type, label, status, attempt, output, available_at, started_at, finished_at)
WHERE (SELECT count(*) FROM wake) >= 0  -- evaluates the wake-up once
"""


class NewRun(NamedTuple):
    """A node run of an execution being created."""

    node_id: str
    node_type: str
    label: str
    status: str = NodeRunStatus.IDLE
    attempt: int = 0
    output: Any = None
    available_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


def create_execution(execution: Execution, runs: list[NewRun], *, notify: bool, using: str = DEFAULT_DB_ALIAS) -> None:
    """Insert a new execution (a model instance, not yet saved) and its node runs on the
    connection `using`, and with `notify` tell the workers of other processes at commit.
    One statement on PostgreSQL."""
    if not is_postgres(using):
        with transaction.atomic(using=using, savepoint=False):
            execution.save(force_insert=True, using=using)
            NodeRun.objects.using(using).bulk_create(
                NodeRun(execution_id=execution.pk, created_at=execution.created_at, **run._asdict()) for run in runs
            )
        return
    execute_prepared(
        CREATE_EXECUTION_SQL,
        {
            "channel": WAKEUP_CHANNEL,
            "notify": notify,
            "id": Execution._meta.pk.get_db_prep_value(execution.pk, connections[using]),
            "tenant": execution.tenant_id,
            "workflow": execution.workflow_id,
            "version": execution.workflow_version_id,
            "status": execution.status,
            "input": _json(execution.input),
            "context": _json(execution.context),
            "run_as": execution.run_as_id,
            "parent": execution.parent_execution_id,
            "parent_run": execution.parent_node_run_id,
            "parent_index": execution.parent_index,
            "idempotency_key": execution.idempotency_key,
            "is_test": execution.is_test,
            "error_of": execution.error_of_id,
            "now": _db_time(execution.created_at),
            "finished": _db_time(execution.finished_at) if execution.finished_at else None,
            "node_ids": [r.node_id for r in runs],
            "types": [r.node_type for r in runs],
            "labels": [r.label for r in runs],
            "statuses": [r.status for r in runs],
            "attempts": [r.attempt for r in runs],
            "outputs": [None if r.output is None else _json(r.output) for r in runs],
            "available": [_db_time(r.available_at) if r.available_at else None for r in runs],
            "started": [_db_time(r.started_at) if r.started_at else None for r in runs],
            "finished_at": [_db_time(r.finished_at) if r.finished_at else None for r in runs],
        },
        fetch=False,
        using=using,
    )
    execution._state.adding = False
    execution._state.db = using


# Everything a start checks, in one query: the workflow, its latest version, and the id of
# the run-as user if a member of the workflow's tenant.
START_FACTS_SQL = """
SELECT w.tenant_id, w.is_active,
       (SELECT v.id FROM workflows_workflowversion v WHERE v.workflow_id = w.id ORDER BY v.number DESC LIMIT 1),
       (SELECT m.user_id FROM workflows_membership m JOIN {users} u ON u.id = m.user_id
        WHERE m.tenant_id = w.tenant_id AND u.username = %s LIMIT 1)
FROM workflows_workflow w
WHERE w.id = %s
"""


def start_facts(workflow_id, user_name: str, *, using: str = DEFAULT_DB_ALIAS) -> tuple | None:
    """(tenant id, is active, latest version id, run-as user id or None) of a workflow."""
    from django.contrib.auth import get_user_model

    db = connections[using]
    sql = START_FACTS_SQL.format(users=get_user_model()._meta.db_table)
    params = [user_name, Execution._meta.get_field("workflow").target_field.get_db_prep_value(workflow_id, db)]
    if is_postgres(using):
        rows = execute_prepared(sql, params, using=using)
    else:
        with db.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
    if not rows:
        return None
    tenant_id, is_active, version_id, user_id = rows[0]
    uuid_of = Execution._meta.pk.to_python
    return uuid_of(tenant_id), bool(is_active), uuid_of(version_id) if version_id else None, user_id


# --- The general path's reads and writes (inside a transaction holding the locks) ------------


def node_states(execution_id) -> dict[str, tuple[int, str, str | None]]:
    """node_id -> (node run id, status, branch) for every node run of an execution."""
    rows = NodeRun.objects.filter(execution_id=execution_id).values_list("node_id", "id", "status", "branch")
    return {node_id: (pk, status, branch) for node_id, pk, status, branch in rows}


def has_running_runs(execution_id) -> bool:
    return NodeRun.objects.filter(execution_id=execution_id, status=NodeRunStatus.RUNNING).exists()


def mark_skipped(run_ids: list[int], now: datetime) -> None:
    if run_ids:
        NodeRun.objects.filter(pk__in=run_ids).update(status=NodeRunStatus.SKIPPED, finished_at=now)


def mark_ready(run_ids: list[int], now: datetime) -> None:
    if run_ids:
        NodeRun.objects.filter(pk__in=run_ids).update(status=NodeRunStatus.RUNNING, available_at=now)


def hand_off(run_id: int, *, owner: str, now: datetime) -> None:
    """Make a node run ready and leased to `owner` at once (its first attempt)."""
    NodeRun.objects.filter(pk=run_id).update(
        status=NodeRunStatus.RUNNING,
        available_at=now,
        lease_owner=owner,
        attempt=1,
        started_at=now,
        lease_expires_at=now + timedelta(seconds=settings.WORKFLOW_LEASE_SECONDS),
    )


def leased_run(claim: Claim) -> NodeRun | None:
    """The claimed node run, locked, if the lease is still this attempt's."""
    return (
        NodeRun.objects.select_for_update()
        .filter(pk=claim.run_id, status=NodeRunStatus.RUNNING, lease_owner=claim.owner, attempt=claim.attempt)
        .first()
    )


# --- The fast path: a plain success in one statement (PostgreSQL) -------------------------------
#
# Most steps of most workflows are a success whose successors each wait only for it. The
# claim carries the context and its revision, so nothing needs reading: one statement,
# committed on its own, writes the context with compare-and-swap (which locks the execution
# row first, the lock order of every writer), finishes the node run if the lease is still
# ours, and makes the successors ready, handing the first to the same worker. At the end of
# a branch it also returns the statuses of the node runs still active, from which the
# engine decides the execution's status (in the same transaction). Reading them in the
# statement's snapshot is safe: every change of a node run's status moves the execution's
# revision, so a concurrent change makes the compare-and-swap fail. When any part does not
# apply, workflows_not_applied() raises and the statement changes nothing.
FINISH_FAST_SQL = """
WITH exe AS (
    UPDATE workflows_execution e
    SET context = %(context)s::jsonb, revision = e.revision + 1, updated_at = %(now)s
    WHERE e.id = %(execution)s AND e.revision = %(revision)s
    RETURNING e.revision, e.tenant_id, e.workflow_id, e.is_test, e.parent_execution_id, e.parent_node_run_id
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
), others AS (
    SELECT DISTINCT status FROM workflows_noderun
    WHERE %(ends)s AND execution_id = %(execution)s AND id <> %(run)s AND status IN ('running', 'paused')
)
SELECT
    (SELECT json_build_array(revision, tenant_id, workflow_id, is_test, parent_execution_id, parent_node_run_id) FROM exe),
    (SELECT json_agg(json_build_array(node_id, id)) FROM ready),
    (SELECT json_agg(status) FROM others),
    CASE
        WHEN NOT EXISTS (SELECT 1 FROM exe) THEN workflows_not_applied('conflict')
        WHEN NOT EXISTS (SELECT 1 FROM fin) THEN workflows_not_applied('lost lease')
        WHEN (SELECT count(*) FROM ready) <> %(count)s THEN workflows_not_applied('conflict')
        ELSE 0
    END
"""


@dataclass
class FastOutcome:
    """What the one-statement success changed."""

    revision: int  # the execution's revision as now stored
    ready: dict[str, int]  # node_id -> node run id, in the order of the targets given
    others: list[str]  # statuses of the other active node runs (at the end of a branch)
    execution_row: tuple  # (tenant, workflow, is_test, parent execution, parent node run)

    def execution(self, claim: Claim, context: dict) -> Execution:
        """The execution as now stored (for the end of a branch: status, parents, publishing)."""
        tenant_id, workflow_id, is_test, parent_execution_id, parent_run_id = self.execution_row
        return Execution(
            id=claim.execution_id,
            revision=self.revision,
            tenant_id=tenant_id,
            workflow_id=workflow_id,
            is_test=is_test,
            context=context,
            status=ExecutionStatus.RUNNING,
            workflow_version_id=claim.version_id,
            parent_execution_id=parent_execution_id,
            parent_node_run_id=parent_run_id,
        )


def fast_finish_available() -> bool:
    """The one-statement success needs PostgreSQL (elsewhere the general path runs)."""
    return is_postgres()


def finish_fast(
    claim: Claim,
    *,
    context: dict,
    output: Any,
    branch: str | None,
    resolved_config: Any,
    logs: list[dict],
    targets: list[str],
    handoff: str | None,
    now: datetime,
) -> FastOutcome:
    """Record a plain success of `claim` and make `targets` ready (see FINISH_FAST_SQL).
    Raises Conflict or LostLease, having changed nothing."""
    params = {
        "context": _json(context),
        "revision": claim.revision,
        "now": _db_time(now),
        "execution": Execution._meta.pk.get_db_prep_value(claim.execution_id, connection),
        "run": claim.run_id,
        "owner": claim.owner,
        "attempt": claim.attempt,
        "output": _json(output),
        "branch": branch,
        "config": _json(resolved_config),
        "logs": _json(logs),
        "lease": _db_time(now + timedelta(seconds=settings.WORKFLOW_LEASE_SECONDS)),
        "handoff": handoff,
        "targets": targets,
        "count": len(targets),
        "ends": not targets,
    }
    try:
        ((execution, ready, others, _),) = execute_prepared(FINISH_FAST_SQL, params)
    except DatabaseError as exc:
        if getattr(exc.__cause__, "sqlstate", None) == NOT_APPLIED_SQLSTATE:
            raise LostLease() if "lost lease" in str(exc.__cause__) else Conflict() from None
        raise
    got = dict(ready or [])
    return FastOutcome(
        revision=execution[0],
        ready={target: got[target] for target in targets},
        others=others or [],
        execution_row=tuple(execution[1:]),
    )


# The end of a branch, after FINISH_FAST_SQL in the same transaction: the status the engine
# decided (the row is locked by then, so the compare-and-swap cannot miss).
SET_STATUS_SQL = """
UPDATE workflows_execution
SET status = %(status)s, finished_at = COALESCE(%(finished)s, finished_at), revision = revision + 1, updated_at = %(now)s
WHERE id = %(execution)s AND revision = %(revision)s
RETURNING revision
"""


def set_status(execution: Execution, *, status: str, now: datetime) -> None:
    """Change the status of an execution this transaction has just written with finish_fast."""
    finished = now if status in (ExecutionStatus.SUCCESS, ExecutionStatus.ERROR, ExecutionStatus.CANCELLED) else None
    rows = execute_prepared(
        SET_STATUS_SQL,
        {
            "status": status,
            "finished": _db_time(finished) if finished else None,
            "now": _db_time(now),
            "execution": Execution._meta.pk.get_db_prep_value(execution.pk, connection),
            "revision": execution.revision,
        },
    )
    if not rows:
        raise Conflict()
    execution.revision, execution.status = rows[0][0], status
    if finished:
        execution.finished_at = finished


# --- PostgreSQL driver details ------------------------------------------------------------------

# The connections already told to run prepared statements on their generic plan.
_generic_plans: weakref.WeakSet = weakref.WeakSet()


def execute_prepared(sql: str, params, *, fetch: bool = True, using: str = DEFAULT_DB_ALIAS) -> list[tuple]:
    """Run a hot PostgreSQL statement with server-side binding, prepared once per connection
    (DATABASE_PREPARED_STATEMENTS in the settings), so the server parses and plans it once
    rather than at every step. Not seen by Django's query logging."""
    db = connections[using]
    db.ensure_connection()
    raw = db.connection
    with db.wrap_database_errors:
        if raw.prepare_threshold is not None and raw not in _generic_plans and not db.in_atomic_block:
            # The planner thinks each custom plan cheaper than the generic one, so it would
            # plan these statements at every execution. Only prepared statements are
            # affected, and only the engine prepares any. Outside a transaction, so no
            # rollback undoes it.
            raw.execute("SET plan_cache_mode = force_generic_plan")
            _generic_plans.add(raw)
        with _psycopg().Cursor(raw) as cursor:
            # Every integer as int8: psycopg picks int2/int4/int8 by value, and each choice
            # would be prepared as a statement of its own.
            cursor.adapters.register_dumper(int, _INT8[0])
            cursor.adapters.register_dumper(int, _INT8[1])
            cursor.execute(sql, params, prepare=True)
            return cursor.fetchall() if fetch else []


_INT8: tuple = ()
_PSYCOPG = None


def _psycopg():
    """psycopg, imported on first use: the embedded default (SQLite) does not need it."""
    global _INT8, _PSYCOPG
    if _PSYCOPG is None:
        import psycopg
        from psycopg.types.numeric import Int8BinaryDumper, Int8Dumper

        _INT8, _PSYCOPG = (Int8Dumper, Int8BinaryDumper), psycopg
    return _PSYCOPG


def _json(value: Any) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder)


def _db_time(value: datetime):
    return connection.ops.adapt_datetimefield_value(value)


# --- Worker heartbeats and the readiness probe ----------------------------------------------------


@dataclass(frozen=True)
class WorkerInfo:
    """What a worker tells about itself when it starts."""

    name: str
    host: str
    pid: int
    version: str
    concurrency: int
    embedded: bool = False


def register_worker(info: WorkerInfo, *, started_at: datetime, now: datetime) -> None:
    """Write (or take over, for a reused name) the worker's heartbeat row."""
    WorkerProcess.objects.update_or_create(
        name=info.name,
        defaults={
            "host": info.host,
            "pid": info.pid,
            "version": info.version,
            "concurrency": info.concurrency,
            "embedded": info.embedded,
            "steps_in_flight": 0,
            "steps_done": 0,
            "started_at": started_at,
            "last_heartbeat_at": now,
            "stopped_at": None,
        },
    )


def heartbeat(name: str, *, in_flight: int, done: int, now: datetime) -> bool:
    """One UPDATE: the worker is alive with these counts. False when its row is gone
    (forgotten after a long pause): the caller registers again."""
    return bool(
        WorkerProcess.objects.filter(name=name).update(
            last_heartbeat_at=now,
            steps_in_flight=in_flight,
            steps_done=done,
            stopped_at=None,
        )
    )


def worker_stopped(name: str, *, done: int, now: datetime) -> None:
    WorkerProcess.objects.filter(name=name).update(
        last_heartbeat_at=now, steps_in_flight=0, steps_done=done, stopped_at=now
    )


def forget_workers(*, before: datetime) -> int:
    """Delete the rows of workers not heard from since `before`; returns how many."""
    deleted, _ = WorkerProcess.objects.filter(last_heartbeat_at__lt=before).delete()
    return deleted


def ping_database() -> None:
    """One round trip on this thread's connection; raises the driver's error when the
    database cannot be reached."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


# --- Waking workers ----------------------------------------------------------------------------

WAKEUP_CHANNEL = "workflows_wakeup"


def notify_workers() -> None:
    """Tell the workers of every process to look for work when this transaction commits
    (PostgreSQL delivers NOTIFY at commit; elsewhere there are no other processes to tell)."""
    if is_postgres():
        with connection.cursor() as cursor:
            cursor.execute(f"NOTIFY {WAKEUP_CHANNEL}")


def listens() -> bool:
    """Whether workers of other processes can wake this one (LISTEN/NOTIFY)."""
    return is_postgres()


def wait_for_notifications(stop, on_notify: Callable[[], None]) -> None:
    """LISTEN on this thread's connection and call `on_notify` for each wake-up, until
    `stop` is set; reconnects after a failure."""
    while not stop.is_set():
        try:
            connection.ensure_connection()
            raw = connection.connection
            raw.execute(f"LISTEN {WAKEUP_CHANNEL}")
            while not stop.is_set():
                for _ in raw.notifies(timeout=1.0, stop_after=1):
                    on_notify()
        except Exception:
            logger.exception("listening for notifications failed; reconnecting")
            connection.close()
            stop.wait(1.0)
    connection.close()
