"""Clients that watch executions live and must end with the final data, whatever happens to
Redis meanwhile: widget sockets (subscribe) and SSE viewers (Last-Event-ID). Each runs in a
thread, reconnects with a short backoff, and stops at its execution's final status."""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from dataclasses import dataclass

FINAL = {"success", "error", "cancelled"}


@dataclass
class Outcome:
    kind: str
    execution_id: str
    status: str | None = None  # the final status the client saw
    final_done: bool = False  # the final data carries the last node's output
    reconnects: int = 0


class LiveClient(threading.Thread):
    def __init__(self, *, kind: str, port: int, token: str, execution_id: str, deadline: float):
        super().__init__(daemon=True, name=f"{kind}-{execution_id[:8]}")
        self.port, self.token, self.deadline = port, token, deadline
        self.outcome = Outcome(kind=kind, execution_id=execution_id)

    def run(self) -> None:
        delay = 0.5
        while self.outcome.status is None and time.monotonic() < self.deadline:
            began = time.monotonic()
            try:
                self.watch()
            except Exception:  # noqa: BLE001, S110 - any failure means: reconnect
                pass
            if self.outcome.status is None:
                self.outcome.reconnects += 1
                # Backoff as the browser clients do: doubling up to 8 s, with jitter; a
                # connection that lived a while starts again from the shortest delay.
                delay = 0.5 if time.monotonic() - began > 10 else min(delay * 2, 8.0)
                time.sleep(delay * random.uniform(0.8, 1.2))

    def remaining(self) -> float:
        return max(0.5, self.deadline - time.monotonic())


class WidgetSocketClient(LiveClient):
    """A script's widget socket (API token, no Origin) subscribed to one execution."""

    def __init__(self, **kwargs):
        super().__init__(kind="widget socket", **kwargs)

    def watch(self) -> None:
        from websockets.sync.client import connect

        url = f"ws://127.0.0.1:{self.port}/ws/widgets/?token={self.token}"
        with connect(url, open_timeout=30, close_timeout=2) as ws:
            ws.send(
                json.dumps(
                    {
                        "event": "widget_workflow_connect",
                        "data": {
                            "widgetID": f"w-{self.outcome.execution_id}",
                            "mode": "subscribe",
                            "instanceID": self.outcome.execution_id,
                        },
                    }
                )
            )
            while time.monotonic() < self.deadline:
                frame = json.loads(ws.recv(timeout=min(30.0, self.remaining())))
                data = frame.get("data") or {}
                # The engine's status: `status` is the reference's (COMPLETED, FAILED).
                if frame.get("event") == "widget_workflow_status" and data.get("executionStatus") in FINAL:
                    context = data.get("finalContext") or {}
                    self.outcome.final_done = (context.get("Done") or {}).get("done") is True
                    self.outcome.status = data["executionStatus"]
                    return
                if frame.get("event") == "widget_workflow_error":
                    raise RuntimeError(data)


class SSEViewer(LiveClient):
    """`GET /api/executions/{id}/events/`, resumed with Last-Event-ID after each disconnect."""

    def __init__(self, **kwargs):
        super().__init__(kind="SSE viewer", **kwargs)
        self.last_id: str | None = None
        self.done_seen = False

    def watch(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=min(30.0, self.remaining()))
        headers = {"Authorization": f"Token {self.token}", "Accept": "text/event-stream"}
        if self.last_id is not None:
            headers["Last-Event-ID"] = self.last_id
        try:
            conn.request("GET", f"/api/executions/{self.outcome.execution_id}/events/", headers=headers)
            response = conn.getresponse()
            if response.status != 200:
                raise RuntimeError(f"status {response.status}")
            event, data = None, None
            while time.monotonic() < self.deadline:
                line = response.readline()
                if not line:
                    return  # the stream ended: reconnect
                line = line.decode().rstrip("\n")
                if line.startswith("id: "):
                    self.last_id = line[4:]
                elif line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    data = json.loads(line[6:])
                elif not line and event:
                    self.handle(event, data or {})
                    if self.outcome.status is not None:
                        return
                    event, data = None, None
        finally:
            conn.close()

    def handle(self, event: str, data: dict) -> None:
        if event == "snapshot":
            context = (data.get("execution") or {}).get("context") or {}
            self.done_seen = (context.get("Done") or {}).get("done") is True
        elif (
            event == "node" and (data.get("nodeId") or data.get("nodeID")) == "done" and data.get("status") == "success"
        ):
            self.done_seen = True
        elif event == "end":
            self.outcome.status = data.get("status")
            self.outcome.final_done = self.done_seen


def watch_all(clients: list[LiveClient]) -> list[Outcome]:
    for client in clients:
        client.start()
    for client in clients:
        client.join(timeout=max(0.1, client.deadline - time.monotonic() + 5))
    return [client.outcome for client in clients]
