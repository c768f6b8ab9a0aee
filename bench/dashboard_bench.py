"""Home page benchmark: the dashboard's reads with a million executions (PostgreSQL).

Seeds `--rows` executions over 50 tenants (a tenth of them running or paused, a tenth failed,
one in twenty a test run) with one INSERT ... SELECT, then times each read the home page makes
for one tenant (median and p95 of `--repeat` runs) and prints the plan of the counts' query.
Figures are printed, never asserted. The database is written to: its name must contain
"bench", and it must be migrated.

    createdb dashboard_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dashboard_bench python manage.py migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dashboard_bench python bench/dashboard_bench.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

TENANTS = 50

SEED_SQL = """
INSERT INTO workflows_execution (id, tenant_id, workflow_id, workflow_version_id, status, input, context,
    revision, retry_count, run_as_id, is_test, created_at, started_at, finished_at, updated_at, error)
SELECT gen_random_uuid(), (%s::uuid[])[1 + i %% 50], %s, %s,
       (ARRAY['success','success','success','success','success','success','error','cancelled','running','paused'])[1 + (i / 50) %% 10],
       '{}', '{}', 0, 0, %s, i %% 20 = 0, now() - i * interval '2 second', now() - i * interval '2 second',
       CASE WHEN (i / 50) %% 10 IN (8, 9) THEN NULL ELSE now() - i * interval '2 second' + interval '1 second' END, now(),
       CASE WHEN (i / 50) %% 10 = 6 THEN '{"message": "boom", "label": "A", "nodeId": "a"}'::jsonb END
FROM generate_series(1, %s) AS i
"""


def timed(fn, repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[max(0, int(0.95 * len(samples)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from tests.conftest import chain
    from workflows import dashboard, services
    from workflows.models import Execution, Membership, Tenant

    if connection.vendor != "postgresql" or "bench" not in connection.settings_dict["NAME"]:
        sys.exit("needs a PostgreSQL database whose name contains 'bench' (it is written to)")
    user, _ = get_user_model().objects.get_or_create(username="dashboard-bench")
    tenants = []
    for i in range(TENANTS):
        tenant, _ = Tenant.objects.get_or_create(slug=f"dashboard-bench-{i}", defaults={"name": f"Tenant {i}"})
        Membership.objects.get_or_create(tenant=tenant, user=user)
        tenants.append(tenant)
    missing = args.rows - Execution.objects.count()
    if missing > 0:
        workflow = services.create_workflow(
            tenant=tenants[0],
            name="Bench",
            user=user,
            definition=chain({"id": "a", "type": "set", "label": "A", "config": {"values": {}}}),
        )
        started = time.monotonic()
        with connection.cursor() as cursor:
            cursor.execute(
                SEED_SQL, [[str(t.pk) for t in tenants], workflow.pk, workflow.versions.get().pk, user.pk, missing]
            )
            cursor.execute("ANALYZE workflows_execution")
        print(f"seeded {missing:,} executions in {time.monotonic() - started:.1f} s")
    print(
        f"{Execution.objects.count():,} executions over {TENANTS} tenants; figures for one tenant, {args.repeat} runs each"
    )

    tenant, now = tenants[1], timezone.now()
    reads = [
        ("counts by status (one aggregate)", lambda: dashboard.execution_counts(tenant.pk, now=now)),
        ("latest failures", lambda: dashboard.latest_failures(tenant.pk)),
        ("ready work", lambda: dashboard.backlog(tenant.pk, now=now)),
        ("workers alive", lambda: dashboard.worker_counts(now=now)),
        (
            "the whole dashboard, approvals card included",
            lambda: dashboard.dashboard(user=user, tenant=tenant, now=now),
        ),
    ]
    for name, read in reads:
        p50, p95 = timed(read, args.repeat)
        print(f"{name:<48} p50 {p50:7.2f} ms   p95 {p95:7.2f} ms")
    with CaptureQueriesContext(connection) as queries:
        dashboard.execution_counts(tenant.pk, now=now)
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + queries.captured_queries[0]["sql"])
        print("\n".join(row[0] for row in cursor.fetchall()))


if __name__ == "__main__":
    main()
