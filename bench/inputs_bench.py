"""Benchmark of input schemas on the start path: trigger_workflow with and without a schema,
interleaved call by call so load hits both alike, and the schema check alone.

Run against a scratch, migrated database (it creates and deletes its own tenant):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/wt_inputs python bench/inputs_bench.py [STARTS]
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("WORKFLOW_EMBEDDED_WORKER", "false")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402

from workflows import engine  # noqa: E402
from workflows.models import Execution, Membership, Tenant  # noqa: E402
from workflows.services import create_workflow, trigger_workflow  # noqa: E402

SCHEMA = [
    {"name": "orderId", "type": "integer", "required": True},
    {"name": "priority", "type": "string", "enum": ["low", "high"]},
    {"name": "express", "type": "boolean"},
]
INPUT = {"orderId": 42, "priority": "high", "express": True, "note": "kept"}


def definition(schema) -> dict:
    trigger = {"id": "t", "type": "trigger", "label": "Trigger", "config": {"inputSchema": schema} if schema else {}}
    return {
        "nodes": [trigger, {"id": "n", "type": "set", "label": "N", "config": {"values": {"a": 1}}}],
        "edges": [{"source": "t", "target": "n"}],
    }


def ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000


def main(starts: int = 500) -> None:
    suffix = uuid.uuid4().hex[:6]
    tenant = Tenant.objects.create(name=f"bench-{suffix}", slug=f"bench-{suffix}")
    user = get_user_model().objects.create_user(username=f"bench-{suffix}", password="x")
    Membership.objects.create(tenant=tenant, user=user)
    try:
        workflows = {
            "without": create_workflow(tenant=tenant, name="plain", definition=definition(None)),
            "with": create_workflow(tenant=tenant, name="schema", definition=definition(SCHEMA)),
        }
        times: dict[str, list[float]] = {"without": [], "with": []}
        for index in range(starts + 20):
            order = ("without", "with") if index % 2 else ("with", "without")
            for name in order:
                began = time.perf_counter()
                trigger_workflow(workflow_id=workflows[name].pk, user_name=user.username, input=INPUT)
                if index >= 20:  # the first calls warm caches and connections
                    times[name].append(time.perf_counter() - began)
        for name in ("without", "with"):
            print(
                f"trigger_workflow {name} an input schema: median {statistics.median(times[name]) * 1000:.3f} ms, "
                f"p95 {ms(times[name], 0.95):.3f} ms ({starts} starts, interleaved)"
            )
        check = engine.graph_for_version(workflows["with"].latest_version.pk).input_validator.check
        rounds = 20_000
        began = time.perf_counter()
        for _ in range(rounds):
            check(INPUT)
        print(f"the schema check alone (3 fields): {(time.perf_counter() - began) / rounds * 1e6:.1f} us")
    finally:
        Execution.objects.filter(tenant=tenant).delete()  # versions and users are protected while they run
        tenant.delete()
        user.delete()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
