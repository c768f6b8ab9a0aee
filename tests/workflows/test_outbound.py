"""The HTTP Request node's outbound rules: the server's own networks are refused (after DNS,
on every redirect) unless a setting allows them; every attempt carries the step's
idempotency key. Real local servers on 127.0.0.1; no test sends a packet anywhere else."""

from __future__ import annotations

import ipaddress
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import chain
from tests.workflows.conftest import ScriptedServer
from tests.workflows.test_engine import FAST_RETRY, NO_RETRY, http_node, runs, start
from workflows import outbound
from workflows.models import Execution

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """A safety net under the rules being tested: a connection to anything but loopback fails
    the test here, before a packet leaves the machine."""
    real_connect = socket.socket.connect

    def connect(sock, address):
        host = address[0] if isinstance(address, tuple) else address
        if not ipaddress.ip_address(host.split("%")[0]).is_loopback:
            raise AssertionError(f"the test tried to connect to {address}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.fixture
def local_server():
    """A scripted server on loopback that no setting allows."""
    server = ScriptedServer()
    yield server
    server.close()


class Redirector:
    """Answers every request with a redirect to `target`."""

    def __init__(self, target: str):
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(302)
                self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_GET

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def run_http_node(make_workflow, user, worker, url, retry=None, **config):
    wf = make_workflow(chain(http_node(url, retry or NO_RETRY, **config)))
    execution_id = start(wf, user)
    worker.run_until_idle()
    return Execution.objects.get(pk=execution_id), runs(execution_id)["h"]


@pytest.mark.parametrize(
    "address, rule",
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("169.254.169.254", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("169.254.1.1", "link-local"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("100.64.0.1", "reserved"),
        ("93.184.216.34", None),
        ("2606:4700::1111", None),
    ],
)
def test_refusal_names_the_rule(address, rule, settings):
    settings.WORKFLOW_HTTP_ALLOWED_NETWORKS = []
    found = outbound.refusal(ipaddress.ip_address(address))
    assert (found is None) if rule is None else (rule in found)


def test_an_allowed_network_is_not_refused(settings):
    settings.WORKFLOW_HTTP_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert outbound.refusal(ipaddress.ip_address("10.1.2.3")) is None
    assert "private" in outbound.refusal(ipaddress.ip_address("192.168.1.1"))


@pytest.mark.parametrize(
    "url, words",
    [
        ("http://127.0.0.1:{port}/x", "127.0.0.1: it is a loopback address"),
        ("http://[::1]:{port}/x", "::1: it is a loopback address"),
        ("http://localhost:{port}/x", "(localhost resolves to it): it is a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "it is a cloud metadata address"),
        ("http://10.0.0.7:8080/internal", "it is a private address"),
    ],
)
def test_the_node_refuses_the_servers_own_networks(make_workflow, user, worker, local_server, url, words):
    execution, run = run_http_node(
        make_workflow, user, worker, url.format(port=local_server.httpd.server_address[1]), retry=FAST_RETRY
    )
    assert execution.status == "error"
    assert run.status == "error" and run.attempt == 1  # a refusal is not retried
    assert words in run.error["message"] and "WORKFLOW_HTTP_ALLOWED_NETWORKS" in run.error["message"]
    assert local_server.requests == []


def test_a_redirect_to_loopback_is_refused(make_workflow, user, worker, local_server, settings):
    target = f"http://127.0.0.1:{local_server.httpd.server_address[1]}/secret"
    redirector = Redirector(target)
    try:
        settings.WORKFLOW_HTTP_ALLOWED_HOSTS = [f"127.0.0.1:{redirector.port}"]
        _, run = run_http_node(make_workflow, user, worker, f"http://127.0.0.1:{redirector.port}/go", method="GET")
    finally:
        redirector.close()
    assert run.status == "error" and "loopback" in run.error["message"]
    assert local_server.requests == []


def test_allowed_networks_let_a_deployment_call_internal_services(make_workflow, user, worker, local_server, settings):
    settings.WORKFLOW_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
    execution, run = run_http_node(
        make_workflow, user, worker, f"http://localhost:{local_server.httpd.server_address[1]}/ok"
    )
    assert execution.status == "success", run.error
    assert len(local_server.requests) == 1


def test_every_attempt_sends_the_same_idempotency_key(make_workflow, user, worker, run_until, finished, http_server):
    http_server.script = [(503, {}), (500, {}), (200, {"done": True})]
    wf = make_workflow(chain(http_node(http_server.url, FAST_RETRY)))
    execution_id = start(wf, user)
    run_until(finished(execution_id))
    keys = [request["headers"].get("Idempotency-Key") for request in http_server.requests]
    assert len(keys) == 3 and keys[0] and len(set(keys)) == 1
    assert keys[0].startswith(f"{execution_id}:h:")


def test_the_idempotency_header_can_be_renamed_or_turned_off(make_workflow, user, worker, http_server):
    run_http_node(make_workflow, user, worker, http_server.url, idempotencyHeader="X-Request-Key")
    run_http_node(make_workflow, user, worker, http_server.url, idempotencyHeader="")
    renamed, off = http_server.requests
    assert renamed["headers"].get("X-Request-Key") and "Idempotency-Key" not in renamed["headers"]
    assert "Idempotency-Key" not in off["headers"] and "X-Request-Key" not in off["headers"]


def test_a_key_given_in_the_headers_is_kept(make_workflow, user, worker, http_server):
    run_http_node(make_workflow, user, worker, http_server.url, headers={"idempotency-key": "mine"})
    headers = {k.lower(): v for k, v in http_server.requests[0]["headers"].items()}
    assert headers["idempotency-key"] == "mine"


def test_a_response_nested_too_deep_to_parse_is_kept_as_text(make_workflow, user, worker, http_server):
    http_server.script = [(200, None)]
    deep = "[" * 100_000 + "]" * 100_000
    http_server.raw_body = deep.encode()
    execution, run = run_http_node(make_workflow, user, worker, http_server.url)
    assert execution.status == "success", run.error
    assert run.output["body"] == deep and run.attempt == 1
