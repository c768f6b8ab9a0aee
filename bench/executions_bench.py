"""Benchmark of the executions list: the filtered first page of `GET /api/executions/` with a
large table, through the real URL conf, middleware, authentication and DRF view.

It makes a database of its own (`<DATABASE_URL's name>_executions`, copied from the
harness's migrated template), fills it with one INSERT ... SELECT generate_series per chunk
(two tenants, ten workflows, statuses as a production table has them, an `orderId` in every
input), runs ANALYZE, then times first pages filtered by status, by workflow, by a value in
the input, and by workflow and status together. Prints p50 and p95 per filter and, last, one
JSON line for bench/results.json. Target: p95 under 50 ms at 1,000,000 executions.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/workflows_bench python bench/executions_bench.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("WORKFLOW_EMBEDDED_WORKER", "false")

from bench.common import (  # noqa: E402  (after the path and settings above)
    database_name,
    migrated_template,
    percentile,
    recreate_database,
    with_database,
)

WORKFLOWS = 10
CHUNK = 200_000
TARGET_P95_MS = 50.0

# One statement per chunk: the rows are made in the server, never sent over the wire. Of
# every 1,000 executions 930 succeed, 40 fail, 20 are cancelled, 5 run and 5 wait; one in
# 50 is a test run; one in ten belongs to the other tenant (its own workflow, the last).
FILL = """
INSERT INTO workflows_execution (
    id, tenant_id, workflow_id, workflow_version_id, status, input, context, revision, retry_count,
    run_as_id, error, is_test, created_at, started_at, finished_at, updated_at)
SELECT gen_random_uuid(),
       CASE WHEN mod(i, 10) = 9 THEN %(other_tenant)s::uuid ELSE %(tenant)s::uuid END,
       (%(workflows)s::uuid[])[1 + mod(i, %(n)s)], (%(versions)s::uuid[])[1 + mod(i, %(n)s)],
       CASE WHEN mod(i, 1000) < 930 THEN 'success' WHEN mod(i, 1000) < 970 THEN 'error'
            WHEN mod(i, 1000) < 990 THEN 'cancelled' WHEN mod(i, 1000) < 995 THEN 'running' ELSE 'paused' END,
       jsonb_build_object('orderId', i, 'customer', 'c' || (mod(i, 5000)), 'amount', mod(i, 997)),
       '{}'::jsonb, 0, 0, %(user)s,
       CASE WHEN mod(i, 1000) BETWEEN 930 AND 969 THEN '{"message": "failed"}'::jsonb END,
       mod(i, 50) = 0,
       now() - make_interval(secs => %(rows)s - i), now() - make_interval(secs => %(rows)s - i),
       CASE WHEN mod(i, 1000) < 990 THEN now() - make_interval(secs => %(rows)s - i) + interval '2 seconds' END,
       now()
FROM generate_series(%(start)s, %(stop)s) AS i
"""


def options(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="executions in the table")
    parser.add_argument("--samples", type=int, default=100, help="requests per filter")
    return parser.parse_args(argv)


def prepare_database() -> str:
    """Point this process at a fresh copy of the migrated schema; returns its URL."""
    url = os.environ["DATABASE_URL"]
    own = with_database(url, f"{database_name(url)}_executions")
    recreate_database(own, template=migrated_template(url, dict(os.environ)))
    os.environ["DATABASE_URL"] = own
    return own


def fill(rows: int):
    from django.contrib.auth import get_user_model
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from workflows.models import Membership, Tenant
    from workflows.services import create_workflow

    tenant = Tenant.objects.create(name="Bench", slug="bench-executions")
    other = Tenant.objects.create(name="Other", slug="bench-executions-other")
    user = get_user_model().objects.create_user(username="operator", password="x")
    Membership.objects.create(tenant=tenant, user=user)
    definition = {
        "nodes": [
            {"id": "t", "type": "trigger", "label": "Trigger", "config": {}},
            {"id": "s", "type": "set", "label": "Set", "config": {"values": {}}},
        ],
        "edges": [{"source": "t", "target": "s"}],
    }
    workflows = [
        create_workflow(tenant=tenant if i < WORKFLOWS - 1 else other, name=f"wf {i}", definition=definition, user=user)
        for i in range(WORKFLOWS)
    ]
    versions = [str(w.latest_version.pk) for w in workflows]
    started = time.monotonic()
    with connection.cursor() as cursor:
        for start in range(1, rows + 1, CHUNK):
            cursor.execute(
                FILL,
                {
                    "tenant": str(tenant.pk),
                    "other_tenant": str(other.pk),
                    "workflows": [str(w.pk) for w in workflows],
                    "versions": versions,
                    "n": WORKFLOWS,
                    "user": user.pk,
                    "rows": rows,
                    "start": start,
                    "stop": min(rows, start + CHUNK - 1),
                },
            )
            print(f"executions: {min(rows, start + CHUNK - 1):,} ({time.monotonic() - started:.0f}s)", flush=True)
        cursor.execute("VACUUM ANALYZE workflows_execution")
    return Token.objects.create(user=user).key, workflows[:-1], time.monotonic() - started


def measure(token: str, workflows, rows: int, samples: int) -> dict:
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Token {token}", HTTP_ACCEPT="application/json")
    rng = random.Random(14)
    kinds = {
        "status": lambda: f"status={rng.choice(['error', 'cancelled', 'running', 'paused', 'success'])}",
        "workflow": lambda: f"workflow={rng.choice(workflows).pk}",
        "input": lambda: f"input=orderId:{rng.randrange(1, rows + 1)}",
        "workflow_and_status": lambda: f"workflow={rng.choice(workflows).pk}&status={rng.choice(['error', 'running'])}",
    }
    figures = {}
    for kind, query in kinds.items():
        for _ in range(5):  # warm: imports, plans, caches
            client.get(f"/api/executions/?{query()}")
        times = []
        for _ in range(samples):
            url = f"/api/executions/?{query()}"
            begun = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - begun) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"{url}: {response.status_code} {response.content[:300]!r}")
        figures[kind] = {"p50_ms": round(percentile(times, 0.5), 2), "p95_ms": round(percentile(times, 0.95), 2)}
        print(f"  {kind:<20} p50 {figures[kind]['p50_ms']:6.1f} ms   p95 {figures[kind]['p95_ms']:6.1f} ms", flush=True)
    return figures


def main(argv=None) -> int:
    args = options(argv)
    prepare_database()
    import django

    django.setup()
    token, workflows, fill_seconds = fill(args.rows)
    print(
        f"filled {args.rows:,} executions in {fill_seconds:.0f}s; first page (50 rows) of GET /api/executions/:",
        flush=True,
    )
    figures = measure(token, workflows, args.rows, args.samples)
    worst = max(f["p95_ms"] for f in figures.values())
    verdict = "within" if worst < TARGET_P95_MS else "OVER"
    print(f"worst p95 {worst:.1f} ms: {verdict} the {TARGET_P95_MS:.0f} ms target", flush=True)
    print(
        json.dumps(
            {
                "executions_list": {
                    "rows": args.rows,
                    "fill_seconds": round(fill_seconds, 1),
                    "target_p95_ms": TARGET_P95_MS,
                    "worst_p95_ms": worst,
                    "filters": figures,
                }
            }
        )
    )
    from django.db import connections

    connections.close_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
