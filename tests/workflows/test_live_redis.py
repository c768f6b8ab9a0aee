"""Live connections on a real Redis channel layer, in the production shape: daphne serving
(no embedded worker) and a separate `runworkflows` process, both on the test database.

Each test runs its own `redis-server` on a spare port, so it can be stopped and started
again without touching the shared service.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from rest_framework.authtoken.models import Token

import tests.conftest as shared
from bench.common import RedisServer
from events.services import create_api_key
from tests.events.conftest import payment_definition
from workflows.models import Execution

pytestmark = [pytest.mark.django_db(transaction=True)]
# channels-redis and redis-py are the [redis] extra: `make test-pg` installs it, `make test` not.
pytest.importorskip("channels_redis", reason="needs the [redis] extra (make test-pg installs it)")

ROOT = Path(__file__).resolve().parents[2]
# Longer than every timeout in play: channels-redis's blocking pop (5 s), the Redis socket
# timeout (REDIS_SOCKET_TIMEOUT, 20 s), the SSE heartbeat (15 s) and daphne's and the
# client's websocket pings (20 s).
QUIET_SECONDS = 22


def _wait_for(predicate, message: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.1)


class Deployment:
    """daphne and one `runworkflows` process sharing a Redis channel layer."""

    def __init__(self, redis: RedisServer):
        env = {"REDIS_URL": redis.url, "WORKFLOW_EMBEDDED_WORKER": "false", "WORKFLOW_POLL_SECONDS": "0.5"}
        self.server = shared.start_daphne(env)
        self.worker_log = ROOT / f".daphne-{self.server.url.rsplit(':', 1)[1]}-worker.log"
        self.worker = subprocess.Popen(
            [sys.executable, "manage.py", "runworkflows", "--concurrency", "2"],
            cwd=ROOT,
            env={
                **os.environ,
                "DATABASE_URL": shared._test_database_url(),
                "DJANGO_SETTINGS_MODULE": "config.settings",
                **env,
            },
            stdout=open(self.worker_log, "w"),
            stderr=subprocess.STDOUT,
        )

    @property
    def server_log(self) -> str:
        return (ROOT / f".daphne-{self.server.url.rsplit(':', 1)[1]}.log").read_text()

    def stop(self) -> None:
        self.worker.terminate()
        try:
            self.worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.worker.kill()
        shared.stop_daphne(self.server)


class Socket:
    """A script's widget socket: an API token and no Origin header."""

    def __init__(self, server, token: str):
        from websockets.sync.client import connect

        self.ws = connect(f"{server.ws_url}/ws/widgets/?token={token}", open_timeout=10)

    def send(self, event: str, data: dict) -> None:
        self.ws.send(json.dumps({"event": event, "data": data}))

    def next(self, timeout: float) -> dict:
        return json.loads(self.ws.recv(timeout=timeout))

    def close_code(self, timeout: float) -> int:
        from websockets.exceptions import ConnectionClosed

        try:
            while True:
                self.ws.recv(timeout=timeout)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None


class EventStream:
    """A real HTTP server-sent-event client: a thread reads frames into a queue."""

    def __init__(self, server, path: str, token: str, last_event_id: str | None = None):
        import http.client

        host, port = server.url.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=60)
        headers = {"Authorization": f"Token {token}", "Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        self.conn.request("GET", path, headers=headers)
        self.response = self.conn.getresponse()
        assert self.response.status == 200, self.response.read()
        self.frames: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        block: dict = {}
        try:
            for raw in self.response:
                line = raw.decode().rstrip("\n")
                if not line:
                    if block:
                        self.frames.put(block)
                    block = {}
                elif line.startswith(":"):
                    block.setdefault("comment", line[1:].strip())
                else:
                    name, _, value = line.partition(": ")
                    block[name] = json.loads(value) if name == "data" else value
        except OSError:
            pass
        self.frames.put(None)  # the stream ended

    def next(self, timeout: float) -> dict | None:
        return self.frames.get(timeout=timeout)

    def next_event(self, timeout: float) -> dict | None:
        deadline = time.monotonic() + timeout
        while True:
            frame = self.next(max(0.01, deadline - time.monotonic()))
            if frame is None or "event" in frame:
                return frame

    def events_until_end(self, timeout: float) -> list[dict]:
        events = []
        while (frame := self.next_event(timeout)) is not None:
            events.append(frame)
        return events

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def redis_server():
    if shutil.which("redis-server") is None:
        pytest.skip("needs the redis-server program (the Redis service's package)")
    redis = RedisServer()
    redis.start()
    yield redis
    if redis.process.poll() is None:
        redis.stop()


@pytest.fixture
def deployment(redis_server, django_db_setup, django_db_blocker):
    running = Deployment(redis_server)
    yield running
    running.stop()


@pytest.fixture
def paused_payment(make_workflow, user, tenant):
    """A payment execution paused on its Wait for Event node, a user token and a signal key."""
    from workflows.services import trigger_workflow

    wf = make_workflow(payment_definition())
    result = trigger_workflow(workflow_id=wf.pk, user_name=user.username, input={"orderId": 7})
    _wait_for(
        lambda: Execution.objects.get(pk=result.execution_id).status == "paused",
        "the worker process did not run the execution to its wait",
    )
    return result.execution_id, Token.objects.create(user=user).key, create_api_key(tenant=tenant, name="payments")[1]


def send_signal(server, api_key: str) -> None:
    import urllib.request

    request = urllib.request.Request(
        f"{server.url}/api/workflow/events/signal",
        method="POST",
        data=json.dumps({"eventNamespace": "payments", "eventKey": "order-7", "payload": {"amount": 42}}).encode(),
        headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert json.loads(answer.read())["workflowResumed"] is True


def test_quiet_socket_and_stream_stay_open_until_the_execution_resumes(deployment, paused_payment):
    execution_id, token, api_key = paused_payment
    server = deployment.server
    socket = Socket(server, token)
    socket.send("workflow_run_join", {"runId": str(execution_id)})
    snapshot = socket.next(timeout=10)
    assert snapshot["event"] == "workflow_status_update" and snapshot["data"]["status"] == "paused"
    stream = EventStream(server, f"/api/executions/{execution_id}/events/", token)
    assert stream.next_event(timeout=10)["event"] == "snapshot"

    # Nothing happens for longer than any timeout: both stay open and silent.
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        socket.next(timeout=QUIET_SECONDS)
    comments = []
    while time.monotonic() - started < QUIET_SECONDS + 1:
        try:
            frame = stream.next(timeout=0.5)
        except queue.Empty:
            continue
        assert frame is not None and "event" not in frame, f"the stream was not quiet: {frame}"
        comments.append(frame["comment"])
    assert comments and set(comments) == {"heartbeat"}

    send_signal(server, api_key)
    frames = [socket.next(timeout=20)]
    while not (frames[-1]["event"] == "workflow_status_update" and frames[-1]["data"]["status"] == "success"):
        frames.append(socket.next(timeout=20))
    assert frames[-1]["data"]["contextData"]["Payment Result"]["amount"] == 42
    events = stream.events_until_end(timeout=20)
    assert [e["data"]["status"] for e in events if e["event"] == "status"][-1] == "success"
    assert events[-1]["event"] == "end" and events[-1]["data"]["status"] == "success"
    socket.ws.close()
    stream.close()
    assert "Traceback" not in deployment.server_log
    assert "Traceback" not in deployment.worker_log.read_text()


def test_a_redis_restart_leaves_the_servers_up_and_clients_reconnect(deployment, redis_server, paused_payment):
    execution_id, token, api_key = paused_payment
    server = deployment.server
    socket = Socket(server, token)
    socket.send("workflow_run_join", {"runId": str(execution_id)})
    assert socket.next(timeout=10)["data"]["status"] == "paused"
    stream = EventStream(server, f"/api/executions/{execution_id}/events/", token)
    first = stream.next_event(timeout=10)
    assert first["event"] == "snapshot"

    redis_server.stop()
    # Both clients are told to reconnect: the socket closes with the reconnect code, the
    # event stream ends (an EventSource then reconnects by itself).
    assert socket.close_code(timeout=15) == 4503
    assert stream.next_event(timeout=15) is None
    # The web process serves on; the worker process is alive.
    import urllib.request

    request = urllib.request.Request(
        f"{server.url}/api/executions/{execution_id}/", headers={"Authorization": f"Token {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert json.loads(answer.read())["status"] == "paused"
    assert server.process.poll() is None and deployment.worker.poll() is None

    redis_server.start()
    socket = Socket(server, token)
    socket.send("workflow_run_join", {"runId": str(execution_id)})
    assert socket.next(timeout=10)["data"]["status"] == "paused"
    stream = EventStream(server, f"/api/executions/{execution_id}/events/", token, last_event_id=first["id"])
    again = stream.next_event(timeout=10)
    assert again["event"] == "snapshot" and int(again["id"]) > int(first["id"])

    send_signal(server, api_key)
    frame = socket.next(timeout=20)
    while not (frame["event"] == "workflow_status_update" and frame["data"]["status"] == "success"):
        frame = socket.next(timeout=20)
    events = stream.events_until_end(timeout=20)
    assert events[-1]["event"] == "end" and events[-1]["data"]["status"] == "success"
    assert server.process.poll() is None and deployment.worker.poll() is None
    socket.ws.close()
    stream.close()
    assert "Traceback" not in deployment.server_log
