"""Benchmark of the approvals app: how long one decision takes (lock, policy, resume, commit),
and simultaneous decisions on one `all` request.

Run against a scratch, migrated database (it creates and deletes its own tenant):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/wt_approvals python bench/approvals_bench.py [DECISIONS]
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

from approvals import services  # noqa: E402
from approvals.models import ApprovalRequest  # noqa: E402
from workflows.models import Execution, Membership, Tenant  # noqa: E402
from workflows.services import create_workflow, trigger_workflow  # noqa: E402
from workflows.worker import Worker  # noqa: E402


def definition(**config) -> dict:
    return {
        "nodes": [
            {"id": "t", "type": "trigger", "label": "Trigger", "config": {}},
            {
                "id": "a",
                "type": "approvals/request",
                "label": "Request Approval",
                "config": {"title": "Bench", **config},
            },
            {"id": "s", "type": "set", "label": "After", "config": {"values": {"d": "{{Request Approval.decision}}"}}},
        ],
        "edges": [{"source": "t", "target": "a"}, {"source": "a", "target": "s"}],
    }


def paused_requests(workflow, user, count: int, worker: Worker) -> list[ApprovalRequest]:
    ids = [
        trigger_workflow(workflow_id=workflow.pk, user_name=user.username, input={}).execution_id for _ in range(count)
    ]
    worker.run_until_idle()
    return list(ApprovalRequest.objects.filter(execution_id__in=ids))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main(count: int = 100, approvers: int = 8) -> None:
    suffix = uuid.uuid4().hex[:6]
    tenant = Tenant.objects.create(name=f"bench-{suffix}", slug=f"bench-{suffix}")
    users = [get_user_model().objects.create_user(username=f"b{i}-{suffix}", password="x") for i in range(approvers)]
    for u in users:
        Membership.objects.create(tenant=tenant, user=u)
    worker = Worker(concurrency=1, name=f"bench-{suffix}", poll_seconds=5.0)
    try:
        single = create_workflow(
            tenant=tenant, name="single", definition=definition(approvers=users[0].username), user=users[0]
        )
        requests = paused_requests(single, users[0], count, worker)
        timings = []
        for request in requests:
            start = time.perf_counter()
            services.decide(request_id=request.pk, user=users[0], decision="approved", channel="api")
            timings.append((time.perf_counter() - start) * 1000)
        print(
            f"{connection.vendor}: one settling decision (lock, policy, resume, commit) over {count}: "
            f"p50 {statistics.median(timings):.1f} ms, p95 {percentile(timings, 0.95):.1f} ms"
        )

        names = ",".join(u.username for u in users)
        everyone = create_workflow(
            tenant=tenant, name="all", definition=definition(approvers=names, approvalType="all"), user=users[0]
        )
        rounds, walls = 10, []
        for request in paused_requests(everyone, users[0], rounds, worker):
            barrier = threading.Barrier(approvers)

            def vote(user, request=request, barrier=barrier):
                barrier.wait()
                services.decide(request_id=request.pk, user=user, decision="approved", channel="api")
                connection.close()

            threads = [threading.Thread(target=vote, args=(u,)) for u in users]
            start = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            walls.append((time.perf_counter() - start) * 1000)
            request.refresh_from_db()
            assert request.status == "approved" and request.decisions.count() == approvers
        print(
            f"{connection.vendor}: {approvers} simultaneous approvals on one `all` request, {rounds} rounds: "
            f"median {statistics.median(walls):.1f} ms for all {approvers} (they serialize on the row lock)"
        )
    finally:
        Execution.objects.filter(tenant=tenant).delete()
        tenant.delete()
        get_user_model().objects.filter(username__endswith=f"-{suffix}").delete()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
