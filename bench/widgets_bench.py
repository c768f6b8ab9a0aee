"""Widget fan-out across processes: every widget gets every update, and how late.

Starts two daphne processes (each with its embedded worker) on one Redis channel layer,
opens W websocket clients spread over both, has one start an execution of a chain of N
steps (execute mode) and the others subscribe to it, then reports how many
widget_context_update frames arrived (expected W x N) and the delay from each node's
finishedAt to the frame's arrival (median, p95, max).

Run against a scratch, migrated database (it creates its own tenant):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/wt_widgets REDIS_URL=redis://127.0.0.1:6379/0 \\
        python bench/widgets_bench.py --widgets 20 --steps 20
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

from tests.conftest import start_daphne, stop_daphne  # noqa: E402
from workflows.models import Membership, Tenant  # noqa: E402
from workflows.services import create_workflow  # noqa: E402


def setup(steps: int):
    suffix = uuid.uuid4().hex[:6]
    tenant = Tenant.objects.create(name=f"Bench {suffix}", slug=f"bench-{suffix}")
    user = get_user_model().objects.create_user(f"bench-{suffix}", password="x")
    Membership.objects.create(tenant=tenant, user=user)
    nodes = [
        {"id": "trigger", "type": "trigger", "label": "Trigger", "config": {}},
        {"id": "go", "type": "widget-input", "label": "Go", "config": {}},
    ]
    nodes += [{"id": f"s{i}", "type": "set", "label": f"S{i}", "config": {"values": {"i": i}}} for i in range(steps)]
    edges = [{"source": a["id"], "target": b["id"]} for a, b in zip(nodes, nodes[1:])]
    workflow = create_workflow(tenant=tenant, name="Widget bench", definition={"nodes": nodes, "edges": edges})
    return tenant, Token.objects.create(user=user).key, workflow


def listen(ws, delays: list, done: threading.Event, counts: dict, key: int, finished: set) -> None:
    while not done.is_set():
        try:
            frame = json.loads(ws.recv(timeout=30))
        except TimeoutError:
            return
        arrived = time.time()
        if frame["event"] == "widget_context_update":
            counts[key] = counts.get(key, 0) + 1
            update = frame["data"]["update"]
            if update.get("status") == "success" and update.get("finishedAt"):
                delays.append(arrived - datetime.fromisoformat(update["finishedAt"]).timestamp())
        elif frame["event"] == "widget_workflow_status":
            finished.add(key)
            return


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--widgets", type=int, default=20)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    if not settings.REDIS_URL or not settings.USES_POSTGRES:
        sys.exit("needs DATABASE_URL (PostgreSQL) and REDIS_URL")
    tenant, token, workflow = setup(args.steps)
    servers = [start_daphne(), start_daphne()]
    try:
        sockets = [
            connect(f"{servers[i % 2].ws_url}/ws/widgets/?token={token}", origin=servers[i % 2].url)
            for i in range(args.widgets)
        ]
        frame = {
            "widgetID": "bench",
            "workflowID": str(workflow.pk),
            "mode": "execute",
            "widgetType": "metric",
            "widgetConfig": {"value": "{{ctx.S0.i}}"},
        }
        # The chain waits on a widget-input node first, so every subscriber is attached
        # before any step runs; the input from socket 0 then releases it.
        sockets[0].send(json.dumps({"event": "widget_workflow_connect", "data": frame}))
        instance = None
        while instance is None:
            reply = json.loads(sockets[0].recv(timeout=10))
            if reply["event"] == "widget_workflow_connected":
                instance = reply["data"]["instanceID"]
        for ws in sockets[1:]:
            ws.send(
                json.dumps(
                    {"event": "widget_workflow_connect", "data": {**frame, "mode": "subscribe", "instanceID": instance}}
                )
            )
            while json.loads(ws.recv(timeout=10))["event"] != "widget_workflow_connected":
                pass
        delays: list[float] = []
        counts: dict[int, int] = {}
        finished: set[int] = set()
        done = threading.Event()
        threads = [
            threading.Thread(target=listen, args=(ws, delays, done, counts, i, finished))
            for i, ws in enumerate(sockets)
        ]
        for t in threads:
            t.start()
        started = time.monotonic()
        sockets[0].send(
            json.dumps({"event": "widget_send_input", "data": {"widgetID": "bench", "inputType": "go", "data": True}})
        )
        for t in threads:
            t.join(timeout=120)
        elapsed = time.monotonic() - started
        done.set()
        delays.sort()
        print(f"widgets={args.widgets} steps={args.steps} servers=2 elapsed={elapsed:.2f}s")
        # One frame per widget per step: every node but the last, whose update is the final status.
        expected = args.widgets * args.steps
        print(
            f"widget_context_update frames: {sum(counts.values())} of {expected} "
            f"(every widget, every node before the last); final statuses: {len(finished)} of {args.widgets}; "
            f"node updates timed: {len(delays)}"
        )
        if delays:
            p95 = delays[int(len(delays) * 0.95) - 1] if len(delays) >= 20 else delays[-1]
            print(
                f"delay finishedAt -> frame: median {statistics.median(delays) * 1000:.1f} ms, "
                f"p95 {p95 * 1000:.1f} ms, max {delays[-1] * 1000:.1f} ms"
            )
        for ws in sockets:
            ws.close()
    finally:
        for server in servers:
            stop_daphne(server)
        from workflows.models import Execution

        Execution.objects.filter(tenant=tenant).delete()
        tenant.delete()


if __name__ == "__main__":
    main()
