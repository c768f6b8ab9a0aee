"""Steps per second: the engine with 2 `runworkflows` processes (starts included or not),
DBOS's queue on the same server, and the engine against a growing number of paused executions.

Starts included means what a user pays: the clock starts before the first
`trigger_workflow` call and stops at the last execution's end, with `starters` threads
triggering one execution per transaction meanwhile (the peer enqueues the same way).
"""

from __future__ import annotations

import importlib
import statistics
import threading
import time
from dataclasses import dataclass

from .common import CpuMeter, Proc
from .fixtures import STEPS, Fixtures

POLL = 0.02


@dataclass
class Throughput:
    steps_per_s: float
    seconds: float
    worker_cpu_ms_per_step: float
    pg_cpu_ms_per_step: float


def _in_threads(count: int, starters: int, start_one) -> list:
    """Call start_one(i) for i in range(count) from `starters` threads; the ids, in no order."""
    from django.db import connection

    ids: list = []
    errors: list[BaseException] = []

    def run(indexes):
        try:
            for i in indexes:
                ids.append(start_one(i))
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(range(s, count, starters),)) for s in range(starters)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return ids


def _wait_engine(ids: list, timeout: float) -> float:
    """Wait until every execution succeeded; the time.time() of the last one's end."""
    from django.db.models import Count, Max

    from workflows.models import Execution

    deadline = time.monotonic() + timeout
    while True:
        rows = Execution.objects.filter(pk__in=ids).values("status").annotate(n=Count("pk"), last=Max("finished_at"))
        by_status = {row["status"]: row for row in rows}
        failed = {s: r["n"] for s, r in by_status.items() if s in ("error", "cancelled")}
        if failed:
            raise RuntimeError(f"benchmark executions failed: {failed}")
        done = by_status.get("success")
        if done and done["n"] == len(ids):
            return done["last"].timestamp()
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"executions did not finish in {timeout:.0f}s: {dict((s, r['n']) for s, r in by_status.items())}"
            )
        time.sleep(POLL)


def _measure(run, *, workers: list[Proc], pg_conn, datname: str, steps: int) -> Throughput:
    cpu = CpuMeter([w.pid for w in workers])
    pg = CpuMeter(pg_conn=pg_conn, datname=datname)
    cpu.start()
    pg.start()
    started, ended = run()
    seconds = ended - started
    return Throughput(
        steps_per_s=steps / seconds,
        seconds=seconds,
        worker_cpu_ms_per_step=1000 * cpu.stop() / steps,
        pg_cpu_ms_per_step=1000 * pg.stop() / steps,
    )


def engine(
    fixtures: Fixtures,
    workflow,
    *,
    executions: int,
    starters: int,
    workers: list[Proc],
    pg_conn,
    datname: str,
    starts_included: bool = True,
    timeout: float = 600,
) -> Throughput:
    """The engine's steps/s over `executions` chains of STEPS no-op steps."""
    from django.db import transaction

    from workflows.services import trigger_workflow

    def start_one(_i):
        return trigger_workflow(workflow_id=workflow.pk, user_name=fixtures.user.username).execution_id

    def with_starts():
        started = time.time()
        ids = _in_threads(executions, starters, start_one)
        return started, _wait_engine(ids, timeout)

    def steps_only():
        # Every execution is created in one transaction; the clock starts at its commit.
        with transaction.atomic():
            ids = [start_one(i) for i in range(executions)]
        started = time.time()
        return started, _wait_engine(ids, timeout)

    return _measure(
        with_starts if starts_included else steps_only,
        workers=workers,
        pg_conn=pg_conn,
        datname=datname,
        steps=executions * STEPS,
    )


def dbos(
    peer, *, executions: int, starters: int, workers: list[Proc], pg_conn, datname: str, timeout: float = 600
) -> Throughput:
    """DBOS's steps/s over the same number of chains, enqueued while the clock runs."""

    def run():
        started = time.time()
        ids = _in_threads(executions, starters, peer.enqueue)
        return started, peer.wait(ids, timeout)

    return _measure(run, workers=workers, pg_conn=pg_conn, datname=datname, steps=executions * STEPS)


# --- Paused executions ----------------------------------------------------------------------


def add_paused(fixtures: Fixtures, workflow, *, count: int, offset: int, starters: int, timeout: float = 3600) -> None:
    """Start `count` executions that pause on a wait nobody signals, and wait until they have."""
    from django.db import transaction

    from workflows.models import Execution
    from workflows.services import trigger_workflow

    batch = 50

    def start_batch(b):
        with transaction.atomic():
            for i in range(b * batch, min(count, (b + 1) * batch)):
                trigger_workflow(
                    workflow_id=workflow.pk, user_name=fixtures.user.username, input={"key": f"p{offset + i}"}
                )
        return b

    _in_threads((count + batch - 1) // batch, starters, start_batch)
    target = offset + count
    deadline = time.monotonic() + timeout
    while Execution.objects.filter(workflow=workflow, status="paused").count() < target:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{target} executions did not pause in {timeout:.0f}s")
        time.sleep(0.5)


def duty_costs(repeats: int = 3) -> dict[str, float]:
    """Milliseconds one call of each worker duty and timer check takes (median of `repeats`)."""
    from django.conf import settings

    paths = list(getattr(settings, "WORKFLOW_WORKER_DUTIES", {}))
    paths += ["workflows.worker.fire_due_deadlines", "workflows.store.next_due"]
    costs = {}
    for path in paths:
        module, _, name = path.rpartition(".")
        try:
            fn = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
        timings = []
        for _ in range(repeats):
            started = time.perf_counter()
            fn()
            timings.append(1000 * (time.perf_counter() - started))
        costs[path] = round(statistics.median(timings), 2)
    return costs
