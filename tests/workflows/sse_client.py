"""A small SSE reader over the ASGI protocol for tests."""

from __future__ import annotations

import asyncio
import json

from asgiref.sync import sync_to_async
from django.core.asgi import get_asgi_application
from django.test import Client


class Communicator:
    """Runs an ASGI application as a task in the caller's context, like asgiref's
    ApplicationCommunicator but without its fresh context: the app's ORM calls then share
    the test's thread and connections (which the test database teardown needs closed)."""

    def __init__(self, application, scope: dict):
        self.input: asyncio.Queue = asyncio.Queue()
        self.output: asyncio.Queue = asyncio.Queue()
        self.task = asyncio.ensure_future(application(scope, self.input.get, self.output.put))

    async def send_input(self, message: dict) -> None:
        await self.input.put(message)

    async def receive_output(self, timeout: float) -> dict:
        getter = asyncio.ensure_future(self.output.get())
        done, _ = await asyncio.wait({getter, self.task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if getter in done:
            return getter.result()
        getter.cancel()
        if self.task in done:
            self.task.result()  # raise the application's error, if any
            raise AssertionError("the application finished without sending more")
        raise TimeoutError(f"no ASGI message in {timeout}s")

    async def wait(self, timeout: float) -> None:
        await asyncio.wait_for(self.task, timeout)


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


class SSEStream:
    """Open a GET on the Django ASGI application and read its events one by one."""

    def __init__(self, path: str, *, user=None, headers: dict | None = None):
        path, _, query = path.partition("?")
        self.user = user
        self.raw_headers = [(b"host", b"testserver"), (b"accept", b"text/event-stream")]
        for name, value in (headers or {}).items():
            self.raw_headers.append((name.lower().encode(), value.encode()))
        self.scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": self.raw_headers,
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        self.communicator = None
        self.buffer = ""
        self.finished = False
        self.status = None
        self.headers = {}

    async def open(self, timeout: float = 10) -> int:
        if self.user is not None:
            cookie = await sync_to_async(session_cookie)(self.user)
            self.raw_headers.append((b"cookie", f"sessionid={cookie}".encode()))
        self.communicator = Communicator(get_asgi_application(), self.scope)
        await self.communicator.send_input({"type": "http.request", "body": b"", "more_body": False})
        start = await self.communicator.receive_output(timeout)
        assert start["type"] == "http.response.start"
        self.status = start["status"]
        self.headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
        return self.status

    async def body(self, timeout: float = 10) -> str:
        """The whole (finite) body of a non-stream answer."""
        while not self.finished:
            await self._read(timeout)
        return self.buffer

    async def _read(self, timeout: float) -> None:
        message = await self.communicator.receive_output(timeout)
        assert message["type"] == "http.response.body"
        self.buffer += message.get("body", b"").decode()
        if not message.get("more_body", False):
            self.finished = True

    async def next_block(self, timeout: float = 10) -> dict | None:
        """The next frame: {"id", "event", "data"} for events, {"comment": text} for comments;
        None when the stream has ended."""
        while "\n\n" not in self.buffer:
            if self.finished:
                return None
            await self._read(timeout)
        block, self.buffer = self.buffer.split("\n\n", 1)
        frame: dict = {}
        for line in block.split("\n"):
            if line.startswith(":"):
                frame.setdefault("comment", line[1:].strip())
                continue
            name, _, value = line.partition(": ")
            if name == "data":
                frame["data"] = json.loads(value)
            elif name in ("id", "event", "retry"):
                frame[name] = value
        return frame

    async def next_event(self, timeout: float = 10) -> dict | None:
        """The next event, skipping comments."""
        while True:
            frame = await self.next_block(timeout)
            if frame is None or "event" in frame:
                return frame

    async def disconnect(self) -> None:
        await self.communicator.send_input({"type": "http.disconnect"})
        await self.communicator.wait(5)
