"""Fixtures for the widgets tests: a websocket client on the real consumer and workflows."""

from __future__ import annotations

import asyncio
import contextlib
import threading

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from tests.conftest import chain
from workflows.worker import Worker

# Sockets go through the production ASGI application: the session and Origin checks, the
# routes, and the loop capture that makes the engine publish on the test's event loop.
ORIGIN = [(b"host", b"testserver"), (b"origin", b"http://testserver")]


def asgi_application():
    from config.asgi import application

    return application


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


class Socket:
    """A widget-protocol client on WebsocketCommunicator that buffers every frame it gets."""

    def __init__(self, communicator: WebsocketCommunicator):
        self.communicator = communicator
        self.frames: list[dict] = []
        self._seen = 0

    async def send(self, event: str, data: dict) -> None:
        await self.communicator.send_json_to({"event": event, "data": data})

    async def next(self, event: str, timeout: float = 10.0, **match) -> dict:
        """The next unread frame of `event` whose data has the `match` items (earlier
        frames stay readable in self.frames)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for i in range(self._seen, len(self.frames)):
                frame = self.frames[i]
                if frame["event"] == event and all(frame["data"].get(k) == v for k, v in match.items()):
                    self._seen = i + 1
                    return frame["data"]
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"no {event} {match} in {[f['event'] for f in self.frames]}")
            try:
                self.frames.append(await self.communicator.receive_json_from(timeout=remaining))
            except TimeoutError:
                raise AssertionError(f"no {event} {match} in {self.summary()}") from None

    async def drain(self, quiet: float = 0.3) -> list[dict]:
        """Read until nothing arrives for `quiet` seconds; returns all frames so far."""
        while not await self.communicator.receive_nothing(timeout=quiet):
            self.frames.append(await self.communicator.receive_json_from(timeout=1))
        return self.frames

    def summary(self) -> list[tuple]:
        return [
            (
                f["event"],
                f["data"].get("widgetID"),
                (f["data"].get("instanceID") or "")[:8],
                f["data"].get("nodeID") or f["data"].get("status"),
            )
            for f in self.frames
        ]

    def events(self, name: str) -> list[dict]:
        return [f["data"] for f in self.frames if f["event"] == name]

    async def close(self) -> None:
        if self.communicator in _open:
            _open.remove(self.communicator)
        await self.communicator.disconnect()


# The sockets of the running scenario that it has not closed: `run` closes them on the
# scenario's own loop, so their consumers' disconnect runs however the scenario ended, and
# nothing of theirs is left for the loop's shutdown to cancel.
_open: list[WebsocketCommunicator] = []


def run(scenario):
    """Run an async scenario on its own event loop; its result, once its sockets are closed."""

    async def scenario_then_close():
        try:
            return await scenario()
        finally:
            while _open:
                with contextlib.suppress(Exception):
                    await _open.pop().disconnect()

    return async_to_sync(scenario_then_close)()


async def open_socket(user, *, path: str = "/ws/widgets/?protocol=2") -> Socket:
    """A browser's socket: this site's Origin and the user's session cookie, speaking the
    current protocol version."""
    headers = list(ORIGIN)
    if user is not None:
        headers.append((b"cookie", await database_sync_to_async(session_cookie)(user)))
    communicator = WebsocketCommunicator(asgi_application(), path, headers=headers)
    _open.append(communicator)
    connected, _ = await communicator.connect()
    assert connected, "the socket was refused"
    return Socket(communicator)


CHART = {
    "mark": "line",
    "data": {"values": "{{ctx.Points.values}}"},
    "encoding": {"x": {"field": "x", "type": "quantitative"}, "y": {"field": "y", "type": "quantitative"}},
}


def three_steps() -> dict:
    """Trigger -> A -> B -> Points: each step adds to the context."""
    return chain(
        {"id": "a", "type": "set", "label": "A", "config": {"values": {"n": 1}}},
        {"id": "b", "type": "set", "label": "B", "config": {"values": {"n": 2}}},
        {
            "id": "p",
            "type": "set",
            "label": "Points",
            "config": {"values": {"values": [{"x": 1, "y": "{{A.n}}"}, {"x": 2, "y": "{{B.n}}"}]}},
        },
    )


def waits_for_input() -> dict:
    """Trigger -> A -> Wait (widget-input) -> Check (branches on __widgetInput) -> Yes / No."""
    return {
        "nodes": [
            {"id": "trigger", "type": "trigger", "label": "Trigger", "config": {}},
            {"id": "a", "type": "set", "label": "A", "config": {"values": {"rows": [{"x": 1, "y": 5}]}}},
            {"id": "wait", "type": "widget-input", "label": "Wait", "config": {"inputType": "filter"}},
            {
                "id": "check",
                "type": "condition",
                "label": "Check",
                "config": {"left": "{{__widgetInput.data.go}}", "operator": "equals", "right": True},
            },
            {"id": "yes", "type": "set", "label": "Yes", "config": {"values": {"went": "{{Wait.data.go}}"}}},
            {"id": "no", "type": "set", "label": "No", "config": {"values": {"went": False}}},
        ],
        "edges": [
            {"source": "trigger", "target": "a"},
            {"source": "a", "target": "wait"},
            {"source": "wait", "target": "check"},
            {"source": "check", "target": "yes", "branch": "true"},
            {"source": "check", "target": "no", "branch": "false"},
        ],
    }


@pytest.fixture
def worker_thread():
    """A real Worker loop in a thread (claims as soon as a commit wakes it)."""
    started: list[tuple[Worker, threading.Thread]] = []

    def start() -> Worker:
        w = Worker(concurrency=2, name=f"widgets-test-{len(started)}", poll_seconds=0.05)
        thread = threading.Thread(target=w.run, daemon=True)
        thread.start()
        started.append((w, thread))
        return w

    yield start
    for w, thread in started:
        w.stop()
        thread.join(timeout=15)
