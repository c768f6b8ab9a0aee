"""The payment example over real HTTP against a live daphne with its embedded worker.

Trigger -> Set -> Wait for Event (payments / order-{{Trigger.orderId}}) -> Set reading the
payload: the key is created through the real URL, the workflow started by its webhook,
and the signal sent to the real signal URL.
"""

import json
import time
import urllib.error
import urllib.request

import pytest
from rest_framework.authtoken.models import Token

from tests.events.conftest import payment_definition

pytestmark = pytest.mark.django_db(transaction=True)


def call(base: str, method: str, path: str, *, body=None, auth: str | None = None, headers=None):
    """One HTTP request; returns (status, parsed JSON body)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if auth:
        request.add_header("Authorization", auth)
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def eventually(fetch, predicate, what: str, limit: float = 20.0):
    """Poll `fetch()` until `predicate(value)`; the limit only guards against a hang."""
    stop = time.monotonic() + limit
    while True:
        value = fetch()
        if predicate(value):
            return value
        assert time.monotonic() < stop, f"{what} did not happen; last seen: {value}"
        time.sleep(0.1)


def test_payment_example_end_to_end_over_http(daphne_server, user, make_workflow):
    base = daphne_server.url
    token = f"Token {Token.objects.create(user=user).key}"
    workflow = {"id": str(make_workflow(payment_definition(), name="Payment").pk)}

    status, created = call(base, "POST", "/api/api-keys/create", auth=token, body={"name": "Stripe Webhook Key"})
    assert status == 201 and created["key"].startswith(created["keyPrefix"])
    bearer = f"Bearer {created['key']}"

    status, started = call(
        base,
        "POST",
        f"/api/workflows/{workflow['id']}/webhook/",
        auth=bearer,
        body={"orderId": "A-17"},
        headers={"Idempotency-Key": "order-A-17-created"},
    )
    assert status == 202 and started["status"] == "running"
    execution_id = started["executionId"]

    waits = eventually(
        lambda: call(base, "GET", "/api/workflow/events/waits/?status=waiting&namespace=payments", auth=token)[1],
        lambda body: body["results"],
        "the execution reaching its wait",
    )
    assert waits["results"][0]["key"] == "order-A-17" and waits["results"][0]["executionId"] == execution_id

    payload = {"transactionId": "txn_abc123", "amount": 99.99, "currency": "eur"}
    status, answer = call(
        base,
        "POST",
        "/api/workflow/events/signal",
        auth=bearer,
        body={"eventNamespace": "payments", "eventKey": "order-A-17", "payload": payload},
    )
    assert status == 200, answer
    assert answer["success"] is True and answer["workflowResumed"] is True and answer["executionId"] == execution_id

    execution = eventually(
        lambda: call(base, "GET", f"/api/executions/{execution_id}/", auth=token)[1],
        lambda body: body["status"] in ("success", "error", "cancelled"),
        "the execution finishing",
    )
    assert execution["status"] == "success"
    assert execution["context"]["Wait for Event"]["payload"] == payload
    assert execution["context"]["Wait for Event"]["receivedFrom"] == "Stripe Webhook Key"
    assert execution["context"]["Payment Result"] == {"amount": 99.99, "status": "received"}

    status, again = call(
        base,
        "POST",
        "/api/workflow/events/signal",
        auth=bearer,
        body={"eventNamespace": "payments", "eventKey": "order-A-17", "payload": payload},
    )
    assert status == 409 and "already received" in again["detail"]
    status, _ = call(
        base,
        "POST",
        "/api/workflow/events/signal",
        auth="Bearer wfb_nope",
        body={"eventNamespace": "payments", "eventKey": "order-A-17"},
    )
    assert status == 401
    status, keys = call(base, "GET", "/api/api-keys/", auth=token)
    assert keys["results"][0]["lastUsedAt"] is not None and "key" not in keys["results"][0]


def test_expiry_is_fired_by_the_live_workers_timer(daphne_server, user, make_workflow):
    base = daphne_server.url
    token = f"Token {Token.objects.create(user=user).key}"
    definition = payment_definition(expiresIn="1s", onExpiration="continue")
    workflow = {"id": str(make_workflow(definition, name="Expiring").pk)}
    status, started = call(
        base, "POST", f"/api/workflows/{workflow['id']}/trigger/", auth=token, body={"input": {"orderId": "B-1"}}
    )
    assert status == 202
    execution = eventually(
        lambda: call(base, "GET", f"/api/executions/{started['executionId']}/", auth=token)[1],
        lambda body: body["status"] in ("success", "error", "cancelled"),
        "the wait expiring",
    )
    assert execution["status"] == "success"
    assert execution["context"]["Wait for Event"]["status"] == "expired"
