"""The benchmark's tenant, user, credentials and workflows, made through the services."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

STEPS = 10


@dataclass
class Fixtures:
    tenant: object
    user: object
    token: str  # DRF token (Authorization: Token ...)
    api_key: str  # workflow API key (Authorization: Bearer ...), for the signal API


def chain(steps: int = STEPS, *, prefix: str = "s") -> dict:
    """trigger -> `steps` no-op set nodes."""
    nodes = [{"id": "trigger", "type": "trigger", "label": "Trigger", "config": {}}]
    nodes += [
        {"id": f"{prefix}{i}", "type": "set", "label": f"Step {i}", "config": {"values": {}}} for i in range(steps)
    ]
    return {"nodes": nodes, "edges": _edges(nodes)}


def _edges(nodes: list[dict]) -> list[dict]:
    return [{"source": a["id"], "target": b["id"]} for a, b in zip(nodes, nodes[1:])]


def _then_mark(pause: dict | None) -> dict:
    """trigger -> [pause] -> mark: the node whose commit the latency figures wait for."""
    nodes = [{"id": "trigger", "type": "trigger", "label": "Trigger", "config": {}}]
    if pause:
        nodes.append(pause)
    nodes.append({"id": "mark", "type": "set", "label": "Mark", "config": {"values": {"done": True}}})
    return {"nodes": nodes, "edges": _edges(nodes)}


def trigger_then_mark() -> dict:
    return _then_mark(None)


def signal_then_mark() -> dict:
    return _then_mark(
        {
            "id": "wait",
            "type": "events/wait",
            "label": "Wait",
            "config": {"eventNamespace": "bench", "eventKey": "{{Trigger.key}}"},
        }
    )


def decision_then_mark(approver: str) -> dict:
    return _then_mark(
        {
            "id": "approve",
            "type": "approvals/request",
            "label": "Approve",
            "config": {"title": "Bench", "approvers": approver},
        }
    )


def paused_forever() -> dict:
    """An execution that waits for a signal nobody sends, with a deadline a month away."""
    return {
        "nodes": [
            {"id": "trigger", "type": "trigger", "label": "Trigger", "config": {}},
            {
                "id": "wait",
                "type": "events/wait",
                "label": "Wait",
                "config": {
                    "eventNamespace": "bench-paused",
                    "eventKey": "{{Trigger.key}}",
                    "expiresIn": "30d",
                    "onExpiration": "continue",
                },
            },
        ],
        "edges": [{"source": "trigger", "target": "wait"}],
    }


def widget_segments(segments: int, steps: int) -> dict:
    """trigger -> (widget input go<r> -> `steps` set nodes) x segments: each round of the fan-out
    releases one segment, so the same subscribed sockets watch every round."""
    nodes = [{"id": "trigger", "type": "trigger", "label": "Trigger", "config": {}}]
    for r in range(segments):
        nodes.append({"id": f"go{r}", "type": "widget-input", "label": f"Go {r}", "config": {"inputType": f"go{r}"}})
        nodes += [
            {"id": f"mark_{r}_{i}", "type": "set", "label": f"R{r} S{i}", "config": {"values": {"i": i, "r": r}}}
            for i in range(steps)
        ]
    return {"nodes": nodes, "edges": _edges(nodes)}


def create() -> Fixtures:
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from events.services import create_api_key
    from workflows.models import Membership, Tenant

    suffix = uuid.uuid4().hex[:6]
    tenant = Tenant.objects.create(name=f"Bench {suffix}", slug=f"bench-{suffix}")
    user = get_user_model().objects.create_user(f"bench-{suffix}", password=uuid.uuid4().hex)
    Membership.objects.create(tenant=tenant, user=user)
    token = Token.objects.create(user=user).key
    _, api_key = create_api_key(tenant=tenant, name="bench", user=user)
    return Fixtures(tenant=tenant, user=user, token=token, api_key=api_key)


def workflow(fixtures: Fixtures, name: str, definition: dict):
    from workflows.services import create_workflow

    return create_workflow(tenant=fixtures.tenant, name=name, definition=definition, user=fixtures.user)
