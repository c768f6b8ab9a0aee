"""Helpers shared by the plugin, integration, data-source and trigger tests (imported by them)."""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from workflows import plugins
from workflows.nodes import registry

ECHO_PLUGINS = ["plugins.sms.PLUGIN", "tests.workflows.sample_plugins.ECHO"]


@pytest.fixture
def echo_plugins(settings):
    """The sample echo plugin beside the SMS one, with its lazy step module not imported yet."""
    from tests.workflows import sample_plugins

    settings.WORKFLOW_PLUGINS = ECHO_PLUGINS
    sys.modules.pop("tests.workflows.sample_plugins.echo_steps", None)
    sample_plugins.IMPORTED.clear()
    plugins._steps.clear()
    registry.reset()
    yield sample_plugins
    registry.reset()
    plugins._steps.clear()


def node(node_id: str, type_: str, label: str, **config) -> dict:
    return {"id": node_id, "type": type_, "label": label, "config": config}


class Recorder(BaseHTTPRequestHandler):
    """Answers POSTs with the status and body the test set, and keeps what it received."""

    def do_POST(self):  # noqa: N802 (http.server's name)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        self.server.received.append(
            {"path": self.path, "headers": dict(self.headers), "body": json.loads(body or b"null")}
        )
        # `answers`, when set, are given one per request before falling back to `answer`.
        status, answer = self.server.answers.pop(0) if self.server.answers else self.server.answer
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def provider():
    """A local HTTP server in a thread standing in for the SMS provider."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    server.received = []
    server.answer = (200, {"id": "msg-1"})
    server.answers = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}/send"
    yield server
    server.shutdown()
    server.server_close()
