"""Reads for operators: what the home page shows for one tenant (executions by status, the
latest failures, ready work waiting for a worker, workers alive, and the panels other apps
add through WORKFLOW_HOME_PANELS) and the workers page.

Every count is an aggregate the database computes on an index (execution_tenant_status_idx,
noderun_ready_idx, workerprocess_heartbeat_idx); no row is loaded to be counted.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Min, Q, Sum

from .models import Execution, ExecutionStatus, Membership, NodeRun, NodeRunStatus, Tenant, WorkerProcess

DAY = timedelta(hours=24)
LATEST_FAILURES = 5


@dataclass(frozen=True)
class ExecutionCounts:
    """Production runs of a tenant: running and paused now, failed and succeeded in the last day."""

    running: int
    paused: int
    failed: int
    succeeded: int


@dataclass(frozen=True)
class Backlog:
    """Node runs ready to run that no worker holds, and since when the oldest waits."""

    ready: int
    oldest_since: datetime | None

    def oldest_age(self, now: datetime) -> timedelta | None:
        return max(now - self.oldest_since, timedelta(0)) if self.oldest_since else None


@dataclass(frozen=True)
class WorkerCounts:
    alive: int
    stale: int
    slots: int  # step threads of the live workers
    busy: int  # steps they hold


@dataclass(frozen=True)
class Panel:
    """A card another app adds to the home page: its template and what it renders."""

    template: str
    context: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Dashboard:
    tenant: Tenant
    now: datetime
    executions: ExecutionCounts
    failures: list[Execution]
    backlog: Backlog
    workers: WorkerCounts
    panels: list[Panel]

    @property
    def backlog_age(self) -> timedelta | None:
        return self.backlog.oldest_age(self.now)


def execution_counts(tenant_id, *, now: datetime) -> ExecutionCounts:
    since = now - DAY
    active = (ExecutionStatus.RUNNING, ExecutionStatus.PAUSED)
    ended = (ExecutionStatus.ERROR, ExecutionStatus.SUCCESS)
    row = (
        Execution.objects.filter(tenant_id=tenant_id, is_test=False)
        .filter(Q(status__in=active) | Q(status__in=ended, finished_at__gte=since))
        .aggregate(
            running=Count("pk", filter=Q(status=ExecutionStatus.RUNNING)),
            paused=Count("pk", filter=Q(status=ExecutionStatus.PAUSED)),
            failed=Count("pk", filter=Q(status=ExecutionStatus.ERROR)),
            succeeded=Count("pk", filter=Q(status=ExecutionStatus.SUCCESS)),
        )
    )
    return ExecutionCounts(**row)


def latest_failures(tenant_id, *, limit: int = LATEST_FAILURES) -> list[Execution]:
    """The tenant's production runs that failed last, newest first."""
    return list(
        Execution.objects.filter(tenant_id=tenant_id, is_test=False, status=ExecutionStatus.ERROR)
        .select_related("workflow")
        .defer("input", "context")
        .order_by("-finished_at")[:limit]
    )


def backlog(tenant_id, *, now: datetime) -> Backlog:
    """Ready node runs of the tenant's executions (`running`, due, no live lease: what the
    workers' claim would take next)."""
    row = NodeRun.objects.filter(
        Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now),
        status=NodeRunStatus.RUNNING,
        available_at__lte=now,
        execution__tenant_id=tenant_id,
    ).aggregate(ready=Count("pk"), oldest=Min("available_at"))
    return Backlog(ready=row["ready"], oldest_since=row["oldest"])


def _alive(now: datetime) -> Q:
    return Q(
        stopped_at__isnull=True, last_heartbeat_at__gte=now - timedelta(seconds=settings.WORKFLOW_WORKER_STALE_SECONDS)
    )


def worker_counts(*, now: datetime) -> WorkerCounts:
    alive, stale = _alive(now), Q(stopped_at__isnull=True) & ~_alive(now)
    row = WorkerProcess.objects.aggregate(
        alive=Count("pk", filter=alive),
        stale=Count("pk", filter=stale),
        slots=Sum("concurrency", filter=alive),
        busy=Sum("steps_in_flight", filter=alive),
    )
    return WorkerCounts(alive=row["alive"], stale=row["stale"], slots=row["slots"] or 0, busy=row["busy"] or 0)


def worker_state(worker: WorkerProcess, *, now: datetime) -> str:
    """`alive`, `stopped` (it said so) or `stale` (no heartbeat lately: dead or stuck)."""
    if worker.stopped_at is not None:
        return "stopped"
    if worker.last_heartbeat_at >= now - timedelta(seconds=settings.WORKFLOW_WORKER_STALE_SECONDS):
        return "alive"
    return "stale"


STATE_ORDER = {"alive": 0, "stale": 1, "stopped": 2}


def workers(*, now: datetime) -> list[tuple[WorkerProcess, str]]:
    """Every worker still remembered with its state: alive first, then stale, then stopped."""
    rows = [(w, worker_state(w, now=now)) for w in WorkerProcess.objects.order_by("-last_heartbeat_at")]
    return sorted(rows, key=lambda pair: STATE_ORDER[pair[1]])


def may_see_workers(user) -> bool:
    """Operators: staff, and admins of a tenant. Workers serve every tenant, so their hosts
    and load are not shown to every member."""
    if not user or not user.is_authenticated:
        return False
    return (
        user.is_staff or user.is_superuser or Membership.objects.filter(user=user, role=Membership.Role.ADMIN).exists()
    )


def panels(*, user, tenant: Tenant) -> list[Panel]:
    """The cards the apps named in WORKFLOW_HOME_PANELS add (each `fn(*, user, tenant)`
    returns a Panel, or None to add nothing)."""
    found = []
    for path in getattr(settings, "WORKFLOW_HOME_PANELS", []):
        module_path, _, name = path.rpartition(".")
        panel = getattr(importlib.import_module(module_path), name)(user=user, tenant=tenant)
        if panel is not None:
            found.append(panel)
    return found


def dashboard(*, user, tenant: Tenant, now: datetime) -> Dashboard:
    return Dashboard(
        tenant=tenant,
        now=now,
        executions=execution_counts(tenant.pk, now=now),
        failures=latest_failures(tenant.pk),
        backlog=backlog(tenant.pk, now=now),
        workers=worker_counts(now=now),
        panels=panels(user=user, tenant=tenant),
    )
