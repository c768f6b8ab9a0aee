"""Chunked request bodies (Transfer-Encoding: chunked, no Content-Length) sent to a real
daphne server are read, with the same size limit as any other body."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

import pytest
from rest_framework.authtoken.models import Token

from events.services import create_api_key
from tests.conftest import chain, start_daphne, stop_daphne
from tests.events.conftest import SIGNAL_URL, payment_definition
from workflows.models import Execution

pytestmark = [pytest.mark.django_db(transaction=True)]


def send_chunked(server_url: str, path: str, body: bytes, *, authorization: str, chunk: int = 64 * 1024):
    """POST `body` in chunks over a raw socket; (status, parsed JSON answer)."""
    address = urlsplit(server_url)
    with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {address.netloc}\r\nAuthorization: {authorization}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )
        sock.sendall(head.encode())
        try:
            for start in range(0, len(body), chunk):
                piece = body[start : start + chunk]
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer 413 and close before the whole body is sent
        answer = b""
        while data := sock.recv(65536):
            answer += data
    head, _, content = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in head.lower():
        content = _unchunk(content)
    return status, json.loads(content or b"null")


def _unchunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out, data = out + data[:size], data[size + 2 :]
    return out


@pytest.fixture(scope="module")
def daphne_server(django_db_setup, django_db_blocker):
    """A daphne process on the test database without its embedded worker: these tests read
    what the API stored, and a worker's row locks would race the tables' flush after each."""
    server = start_daphne({"WORKFLOW_EMBEDDED_WORKER": "false"})
    yield server
    stop_daphne(server)


@pytest.fixture
def token(user):
    return Token.objects.create(user=user).key


def test_a_chunked_trigger_body_is_stored(daphne_server, make_workflow, token):
    wf = make_workflow(chain({"id": "a", "type": "set", "label": "A", "config": {"values": {}}}))
    body = json.dumps({"input": {"orderId": 42, "note": "chunked"}}).encode()
    status, answer = send_chunked(
        daphne_server.url, f"/api/workflows/{wf.pk}/trigger/", body, authorization=f"Token {token}", chunk=7
    )
    assert status == 202, answer
    assert Execution.objects.get(pk=answer["executionId"]).input == {"orderId": 42, "note": "chunked"}


def test_a_chunked_body_past_the_limit_answers_413(daphne_server, make_workflow, token):
    wf = make_workflow(chain({"id": "a", "type": "set", "label": "A", "config": {"values": {}}}))
    body = json.dumps({"input": {"blob": "x" * 10_000_000}}).encode()
    status, answer = send_chunked(
        daphne_server.url, f"/api/workflows/{wf.pk}/trigger/", body, authorization=f"Token {token}"
    )
    assert status == 413, answer
    assert answer["field"] == "body"
    assert not Execution.objects.filter(workflow=wf).exists()


def test_a_chunked_signal_is_read(daphne_server, make_workflow, tenant, user):
    make_workflow(payment_definition())
    raw_key = create_api_key(tenant=tenant, name="chunked", user=user)[1]
    body = json.dumps({"eventNamespace": "payments", "eventKey": "order-7", "payload": {"amount": 5}}).encode()
    status, answer = send_chunked(daphne_server.url, SIGNAL_URL, body, authorization=f"Bearer {raw_key}", chunk=10)
    assert status == 202, answer
    assert answer["buffered"] is True
