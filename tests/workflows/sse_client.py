"""A small SSE reader over the ASGI protocol (channels' ApplicationCommunicator) for tests."""
from __future__ import annotations

import json

from asgiref.sync import sync_to_async
from channels.testing import ApplicationCommunicator
from django.core.asgi import get_asgi_application
from django.test import Client


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
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
            "path": path, "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
            "headers": self.raw_headers, "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
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
        self.communicator = ApplicationCommunicator(get_asgi_application(), self.scope)
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
