"""A real local HTTP server whose answers a test scripts, for the HTTP Request node."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class ScriptedServer:
    """Answers each request with the next scripted (status, body); the last one repeats."""

    def __init__(self):
        self.script: list[tuple[int, object]] = [(200, {"ok": True})]
        self.requests: list[dict] = []
        self.raw_body: bytes | None = None  # answered instead of the script's JSON when set
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                with server._lock:
                    server.requests.append(
                        {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
                    )
                    status, payload = server.script.pop(0) if len(server.script) > 1 else server.script[0]
                data = server.raw_body if server.raw_body is not None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def http_server(settings):
    """The scripted server, which the HTTP Request node may reach: the outbound rules refuse
    loopback, so this one address is allowed explicitly."""
    server = ScriptedServer()
    settings.WORKFLOW_HTTP_ALLOWED_HOSTS = [f"127.0.0.1:{server.httpd.server_address[1]}"]
    yield server
    server.close()


@pytest.fixture
def recording_nodes(settings):
    """Adds the `test/record` node type for the duration of a test."""
    from workflows.nodes import registry

    from . import recording_nodes as module

    settings.WORKFLOW_NODE_MODULES = [*settings.WORKFLOW_NODE_MODULES, "tests.workflows.recording_nodes"]
    registry.reset()
    module.RECORDED.clear()
    module.SESSIONS.clear()
    module.KEYS.clear()
    yield module
    registry.reset()
