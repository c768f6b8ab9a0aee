"""Workflow health: counts, failure rate, p50/p95 duration and the nodes that fail or retry most.

Everything is computed by the database with aggregate queries; no execution row is loaded
into Python. Percentiles use the nearest-rank definition read with ordered OFFSET queries
(`ORDER BY finished_at - started_at LIMIT 1 OFFSET k`), which give the same answer on SQLite
and PostgreSQL (PostgreSQL's percentile_cont would interpolate and SQLite has no equivalent).
Production runs only: test runs are left out.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.utils import timezone

from .models import Execution, ExecutionStatus, NodeRun, NodeRunStatus

WINDOWS = {"15m": timedelta(minutes=15), "1h": timedelta(hours=1), "1d": timedelta(days=1)}
PERCENTILES = (50, 95)
TOP_NODES = 5

DURATION = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
FINISHED_TIMED = (ExecutionStatus.SUCCESS, ExecutionStatus.ERROR)


def nearest_rank(count: int, percentile: float) -> int:
    """Zero-based offset of the nearest-rank percentile in `count` sorted values."""
    return max(0, math.ceil(percentile / 100 * count) - 1)


def _percentiles(executions, count: int) -> dict[str, float | None]:
    ordered = executions.filter(status__in=FINISHED_TIMED, started_at__isnull=False, finished_at__isnull=False)
    ordered = ordered.annotate(duration=DURATION).order_by("duration").values_list("duration", flat=True)
    result: dict[str, float | None] = {}
    for p in PERCENTILES:
        # The count was taken by another query: a row may have left the set since (a retry).
        offset = nearest_rank(count, p)
        value = next(iter(ordered[offset : offset + 1]), None) if count else None
        result[f"p{p}Seconds"] = round(value.total_seconds(), 3) if value is not None else None
    return result


def _window_counts(executions, starts: dict[str, datetime]) -> dict:
    aggregates = {}
    for name, since in starts.items():
        in_window = Q(created_at__gte=since)
        aggregates[f"{name}_total"] = Count("id", filter=in_window)
        aggregates[f"{name}_success"] = Count("id", filter=in_window & Q(status=ExecutionStatus.SUCCESS))
        aggregates[f"{name}_error"] = Count("id", filter=in_window & Q(status=ExecutionStatus.ERROR))
        aggregates[f"{name}_cancelled"] = Count("id", filter=in_window & Q(status=ExecutionStatus.CANCELLED))
        aggregates[f"{name}_timed"] = Count(
            "id", filter=in_window & Q(status__in=FINISHED_TIMED, started_at__isnull=False, finished_at__isnull=False)
        )
    return executions.aggregate(**aggregates)


def top_nodes(workflow_id, *, since: datetime, limit: int = TOP_NODES) -> list[dict]:
    """The nodes with the most failures and retries among production runs since `since`."""
    rows = (
        NodeRun.objects.filter(
            execution__workflow_id=workflow_id, execution__is_test=False, execution__created_at__gte=since
        )
        .values("node_id", "label")
        .annotate(
            failures=Count("id", filter=Q(status=NodeRunStatus.ERROR)),
            retries=Sum(F("attempt") - 1, filter=Q(attempt__gt=1)),
            runs=Count("id", filter=Q(attempt__gt=0)),
        )
        .filter(Q(failures__gt=0) | Q(retries__gt=0))
        .order_by("-failures", "-retries", "label")[:limit]
    )
    return [
        {
            "nodeId": r["node_id"],
            "label": r["label"],
            "failures": r["failures"],
            "retries": r["retries"] or 0,
            "runs": r["runs"],
        }
        for r in rows
    ]


def workflow_health(workflow_id, *, now: datetime | None = None) -> dict:
    """Health of one workflow's production runs for the last 15 minutes, hour and day."""
    now = now or timezone.now()
    starts = {name: now - span for name, span in WINDOWS.items()}
    executions = Execution.objects.filter(workflow_id=workflow_id, is_test=False, created_at__gte=starts["1d"])
    counts = _window_counts(executions, starts)
    windows = {}
    for name, since in starts.items():
        success, error = counts[f"{name}_success"], counts[f"{name}_error"]
        decided = success + error
        windows[name] = {
            "since": since.isoformat(),
            "executions": counts[f"{name}_total"],
            "successes": success,
            "failures": error,
            "cancelled": counts[f"{name}_cancelled"],
            "inFlight": counts[f"{name}_total"] - decided - counts[f"{name}_cancelled"],
            "failureRate": round(error / decided, 4) if decided else None,
            **_percentiles(executions.filter(created_at__gte=since), counts[f"{name}_timed"]),
        }
    return {
        "workflowId": str(workflow_id),
        "generatedAt": now.isoformat(),
        "windows": windows,
        "topFailingNodes": top_nodes(workflow_id, since=starts["1d"]),
    }


def day_summaries(workflow_ids: list, *, now: datetime | None = None) -> dict:
    """Last-day health of many workflows: one grouped count query, then two percentile reads
    per workflow that has finished runs (for the workflow list)."""
    now = now or timezone.now()
    since = now - WINDOWS["1d"]
    executions = Execution.objects.filter(workflow_id__in=workflow_ids, is_test=False, created_at__gte=since)
    rows = (
        executions.values("workflow_id")
        .annotate(
            total=Count("id"),
            success=Count("id", filter=Q(status=ExecutionStatus.SUCCESS)),
            error=Count("id", filter=Q(status=ExecutionStatus.ERROR)),
            timed=Count("id", filter=Q(status__in=FINISHED_TIMED, started_at__isnull=False, finished_at__isnull=False)),
        )
        .order_by()
    )
    summaries = {}
    for row in rows:
        decided = row["success"] + row["error"]
        summaries[row["workflow_id"]] = {
            "executions": row["total"],
            "successes": row["success"],
            "failures": row["error"],
            "failureRate": round(row["error"] / decided, 4) if decided else None,
            **_percentiles(executions.filter(workflow_id=row["workflow_id"]), row["timed"]),
        }
    return summaries
