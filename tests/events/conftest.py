"""Fixtures of the events tests: API keys, clients that send them, wait workflows."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from events import services
from tests.conftest import chain

SIGNAL_URL = "/api/workflow/events/signal"


def wait_node(key: str = "order-{{Trigger.orderId}}", namespace: str = "payments", **config) -> dict:
    return {
        "id": "wait",
        "type": "events/wait",
        "label": "Wait for Event",
        "config": {"eventNamespace": namespace, "eventKey": key, **config},
    }


def payment_definition(**wait_config) -> dict:
    """Trigger -> Set -> Wait for Event (payments / order-{{Trigger.orderId}}) -> Set reading the payload."""
    return chain(
        {"id": "prepare", "type": "set", "label": "Prepare", "config": {"values": {"orderId": "{{Trigger.orderId}}"}}},
        wait_node(**wait_config),
        {
            "id": "result",
            "type": "set",
            "label": "Payment Result",
            "config": {
                "values": {"amount": "{{Wait for Event.payload.amount}}", "status": "{{Wait for Event.status}}"}
            },
        },
    )


@pytest.fixture
def api_key(tenant, user):
    """(row, raw key) of a key of alice's tenant."""
    return services.create_api_key(tenant=tenant, name="Stripe webhook", user=user)


@pytest.fixture
def key_client(api_key) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key[1]}")
    return client


@pytest.fixture
def signal(key_client):
    """POST a signal with the tenant's key: signal(key, payload=..., namespace=..., idempotency=...)."""

    def send(key, *, payload=None, namespace="payments", idempotency=None, client=None):
        body = {"eventNamespace": namespace, "eventKey": key}
        if payload is not None:
            body["payload"] = payload
        headers = {"HTTP_IDEMPOTENCY_KEY": idempotency} if idempotency else {}
        return (client or key_client).post(SIGNAL_URL, body, format="json", **headers)

    return send


@pytest.fixture
def payment_workflow(make_workflow):
    def make(**wait_config):
        return make_workflow(payment_definition(**wait_config), name="Payment")

    return make
