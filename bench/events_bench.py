"""Benchmark of the events app: how late expiries fire, and how fast signals resume executions.

Run against a scratch, migrated database (it creates and deletes its own tenant):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/wt_events python bench/events_bench.py
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("WORKFLOW_EMBEDDED_WORKER", "false")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402

from events import services  # noqa: E402
from events.models import WaitEvent  # noqa: E402
from workflows.models import Execution, Membership, NodeRun, Tenant  # noqa: E402
from workflows.services import create_workflow, trigger_workflow  # noqa: E402
from workflows.worker import Worker  # noqa: E402


def definition(**wait_config) -> dict:
    return {
        "nodes": [
            {"id": "t", "type": "trigger", "label": "Trigger", "config": {}},
            {
                "id": "wait",
                "type": "events/wait",
                "label": "Wait for Event",
                "config": {"eventNamespace": "bench", "eventKey": "k-{{Trigger.n}}", **wait_config},
            },
        ],
        "edges": [{"source": "t", "target": "wait"}],
    }


def wait_for(predicate, limit: float = 120.0) -> None:
    stop = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > stop:
            raise SystemExit("benchmark did not converge")
        time.sleep(0.05)


def main(count: int = 50) -> None:
    suffix = uuid.uuid4().hex[:6]
    tenant = Tenant.objects.create(name=f"bench-{suffix}", slug=f"bench-{suffix}")
    user = get_user_model().objects.create_user(username=f"bench-{suffix}", password="x")
    Membership.objects.create(tenant=tenant, user=user)
    worker = Worker(concurrency=4, name=f"bench-{suffix}", poll_seconds=5.0)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        # 1. Expiry lateness: waits of 2s; the worker's poll interval is 5s, so only its timer can be on time.
        wf = create_workflow(
            tenant=tenant, name="expiring", definition=definition(expiresIn="2s", onExpiration="continue"), user=user
        )
        ids = [
            trigger_workflow(workflow_id=wf.pk, user_name=user.username, input={"n": f"e{i}"}).execution_id
            for i in range(count)
        ]
        wait_for(lambda: Execution.objects.filter(pk__in=ids, status="success").count() == count)
        late = []
        for wait in WaitEvent.objects.filter(execution_id__in=ids):
            run = NodeRun.objects.get(pk=wait.node_run_id)
            late.append((run.finished_at - wait.expires_at).total_seconds() * 1000)
        print(f"expiry lateness over {count} waits: median {statistics.median(late):.0f} ms, max {max(late):.0f} ms")

        # 2. Signals: sequential, then from 10 threads, each resuming one waiting execution.
        wf2 = create_workflow(tenant=tenant, name="signalled", definition=definition(), user=user)
        keys = [f"s{i}" for i in range(2 * count)]
        ids = [trigger_workflow(workflow_id=wf2.pk, user_name=user.username, input={"n": k}).execution_id for k in keys]
        wait_for(lambda: WaitEvent.objects.filter(execution_id__in=ids, status="waiting").count() == len(ids))
        started = time.perf_counter()
        for key in keys[:count]:
            services.signal_event(tenant_id=tenant.pk, namespace="bench", key=f"k-{key}", source="bench")
        elapsed = time.perf_counter() - started
        print(
            f"sequential signals: {count} in {elapsed:.2f}s ({count / elapsed:.0f}/s, {1000 * elapsed / count:.1f} ms each)"
        )

        def send(chunk):
            try:
                for key in chunk:
                    services.signal_event(tenant_id=tenant.pk, namespace="bench", key=f"k-{key}", source="bench")
            finally:
                connection.close()

        rest = keys[count:]
        chunks = [rest[i::10] for i in range(10)]
        threads = [threading.Thread(target=send, args=(c,)) for c in chunks]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        print(f"concurrent signals (10 threads): {len(rest)} in {elapsed:.2f}s ({len(rest) / elapsed:.0f}/s)")
        wait_for(lambda: Execution.objects.filter(pk__in=ids, status="success").count() == len(ids))
        print("all signalled executions finished")
    finally:
        worker.stop()
        thread.join(timeout=30)
        Execution.objects.filter(tenant=tenant).delete()
        tenant.delete()
        user.delete()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50)
