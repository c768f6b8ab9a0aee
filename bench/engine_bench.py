"""Engine throughput on PostgreSQL against the floor of single-row commits.

Runs N executions of a chain of 10 no-op steps with 1 and then 2 worker processes
(`manage.py runworkflows`), and in the same run measures single-row INSERT+COMMIT round
trips on one psycopg connection. Prints steps/s, commits/s and the ratio: the cost of one
step in single-row commits (target: at most 3).

    make bench                      # DATABASE_URL defaults to the local PostgreSQL
    python bench/engine_bench.py --executions 400 --concurrency 2
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/workflows")
# Measure what production runs: no per-query debug bookkeeping.
os.environ.setdefault("DEBUG", "false")

import django  # noqa: E402

django.setup()

import psycopg  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

STEPS = 10


def ensure_database() -> None:
    """Create the benchmark database if the server does not have it yet."""
    params = connection.get_connection_params()
    base = {k: v for k, v in params.items() if k in ("user", "password", "host", "port")}
    with psycopg.connect(psycopg.conninfo.make_conninfo(dbname="postgres", **base), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (params["dbname"],)).fetchone():
            conn.execute(f'CREATE DATABASE "{params["dbname"]}"')


def commit_floor(seconds: float = 3.0, *, durable: bool = False) -> float:
    """Single-row INSERT+COMMIT round trips per second on one connection: into a temporary
    table (the floor: a commit without a WAL flush to wait for), or with `durable` into a
    logged table, whose every commit waits for the WAL to reach the disk as the engine's do."""
    params = connection.get_connection_params()
    conninfo = psycopg.conninfo.make_conninfo(
        **{k: v for k, v in params.items() if k in ("dbname", "user", "password", "host", "port")}
    )
    table = "bench_floor_durable" if durable else "bench_floor"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f"CREATE {'' if durable else 'TEMP '}TABLE {table} (id bigserial primary key, v int)")
        try:
            count, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds:
                with conn.transaction():
                    conn.execute(f"INSERT INTO {table} (v) VALUES (%s)", (count,))
                count += 1
            return count / (time.perf_counter() - start)
        finally:
            conn.execute(f"DROP TABLE {table}")


def setup_workflow():
    from django.contrib.auth import get_user_model

    from workflows import services
    from workflows.models import Membership, Tenant

    tenant, _ = Tenant.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    user = get_user_model().objects.filter(username="bench").first() or get_user_model().objects.create_user("bench")
    Membership.objects.get_or_create(tenant=tenant, user=user)
    nodes = [{"id": "trigger", "type": "trigger", "label": "Trigger", "config": {}}]
    nodes += [{"id": f"s{i}", "type": "set", "label": f"Step {i}", "config": {"values": {}}} for i in range(STEPS)]
    edges = [{"source": a["id"], "target": b["id"]} for a, b in zip(nodes, nodes[1:])]
    workflow = services.create_workflow(tenant=tenant, name=f"bench-{time.time()}", definition={"nodes": nodes, "edges": edges})
    return workflow, user


def run_engine(workflow, user, *, executions: int, workers: int, concurrency: int) -> float:
    """Start idle worker processes, trigger every execution in one commit, time until all finish."""
    from workflows.models import Execution
    from workflows.services import trigger_workflow

    env = {**os.environ, "WORKFLOW_POLL_SECONDS": "1", "WORKFLOW_LOG_LEVEL": "WARNING"}
    procs = [
        subprocess.Popen(
            [sys.executable, "manage.py", "runworkflows", "--concurrency", str(concurrency), "--name", f"bench-{i}"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for i in range(workers)
    ]
    time.sleep(3)  # let them start and wait on LISTEN
    try:
        with transaction.atomic():
            ids = [trigger_workflow(workflow_id=workflow.pk, user_name=user.username).execution_id for _ in range(executions)]
        start = time.perf_counter()
        while Execution.objects.filter(pk__in=ids).exclude(status="success").exists():
            if time.perf_counter() - start > 600:
                raise SystemExit("benchmark did not finish in 10 minutes")
            time.sleep(0.05)
        elapsed = time.perf_counter() - start
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=60)
    return executions * STEPS / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=settings.WORKFLOW_WORKER_CONCURRENCY, help="step threads per worker process")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("the benchmark runs on PostgreSQL: set DATABASE_URL")
    ensure_database()
    call_command("migrate", verbosity=0)
    workflow, user = setup_workflow()
    floor = commit_floor()
    durable = commit_floor(durable=True)
    print(f"floor: single-row INSERT+COMMIT on one connection: {floor:,.0f} commits/s")
    print(f"  (the same into a logged table, waiting for each WAL flush: {durable:,.0f} commits/s)")
    for workers in (1, 2):
        rate = run_engine(workflow, user, executions=args.executions, workers=workers, concurrency=args.concurrency)
        print(
            f"engine: {args.executions} executions x {STEPS} no-op steps, {workers} worker(s) x {args.concurrency} threads: "
            f"{rate:,.0f} steps/s; cost per step = {floor / rate:.2f} single-row commits (target <= 3), "
            f"{durable / rate:.2f} durable ones"
        )
    again = commit_floor()
    print(f"floor again after the runs: {again:,.0f} commits/s")


if __name__ == "__main__":
    main()
