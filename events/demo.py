"""A demo workflow that waits for a payment event; seed_demo calls ensure_payment_demo()."""

from __future__ import annotations

from typing import Any

from workflows import services
from workflows.models import Tenant, Workflow

PAYMENT_DEMO_NAME = "Payment (wait for event)"

PAYMENT_DEMO: dict[str, Any] = {
    "description": (
        "Waits up to 24 hours for payments / order-<orderId>. Signal it with "
        "POST /api/workflow/events/signal or `manage.py signal_event payments order-1 --payload '{\"amount\": 20}'`."
    ),
    "definition": {
        "nodes": [
            {"id": "trigger", "type": "trigger", "label": "Trigger", "config": {}, "position": {"x": 0, "y": 120}},
            {
                "id": "prepare",
                "type": "set",
                "label": "Prepare Order",
                "position": {"x": 220, "y": 120},
                "config": {"values": {"orderId": "{{Trigger.orderId}}", "expected": "{{Trigger.amount}}"}},
            },
            {
                "id": "wait",
                "type": "events/wait",
                "label": "Wait for Event",
                "position": {"x": 440, "y": 120},
                "config": {
                    "eventNamespace": "payments",
                    "eventKey": "order-{{Trigger.orderId}}",
                    "title": "Payment for order {{Trigger.orderId}}",
                    "expiresIn": "24h",
                    "onExpiration": "continue",
                    "contextData": {"orderId": "{{Trigger.orderId}}"},
                },
            },
            {
                "id": "paid",
                "type": "condition",
                "label": "Paid",
                "position": {"x": 660, "y": 120},
                "config": {"left": "{{Wait for Event.status}}", "operator": "equals", "right": "received"},
            },
            {
                "id": "fulfil",
                "type": "set",
                "label": "Fulfil Order",
                "position": {"x": 880, "y": 40},
                "config": {
                    "values": {
                        "amount": "{{Wait for Event.payload.amount}}",
                        "transactionId": "{{Wait for Event.payload.transactionId}}",
                        "paidVia": "{{Wait for Event.receivedFrom}}",
                    }
                },
            },
            {
                "id": "unpaid",
                "type": "set",
                "label": "Cancel Order",
                "position": {"x": 880, "y": 200},
                "config": {"values": {"reason": "No payment for order {{Trigger.orderId}} within 24 hours"}},
            },
        ],
        "edges": [
            {"source": "trigger", "target": "prepare"},
            {"source": "prepare", "target": "wait"},
            {"source": "wait", "target": "paid"},
            {"source": "paid", "target": "fulfil", "branch": "true"},
            {"source": "paid", "target": "unpaid", "branch": "false"},
        ],
    },
}


def ensure_payment_demo(*, tenant: Tenant, user) -> Workflow:
    """Create the payment demo workflow in `tenant` unless it exists; returns it."""
    existing = Workflow.objects.filter(tenant=tenant, name=PAYMENT_DEMO_NAME).first()
    if existing is not None:
        return existing
    return services.create_workflow(
        tenant=tenant,
        name=PAYMENT_DEMO_NAME,
        description=PAYMENT_DEMO["description"],
        definition=PAYMENT_DEMO["definition"],
        user=user,
    )
