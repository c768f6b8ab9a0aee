"""The mixed workflow every execution of the fault suite runs, and its tenants.

trigger ─┬─ route (condition) ─ true: left / false: right ─ join ─ effect (HTTP to the receiver) ─┐
         ├─ nap (sleep) ──────────────────────────────────────────────────────────────────────────┤
         ├─ wait (Wait for Event, resolved by a signal) ──────────────────────────────────────────┼─ done
         └─ approve (Request Approval, decided through the API) ──────────────────────────────────┘

Every node may retry (a `kill -9` costs the attempt it interrupted), the effect's first
delivery fails for some runs (a real retry), and `done` joins four parallel branches.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench import fixtures

RETRY = {"maxAttempts": 10, "initialInterval": 0.2, "backoffFactor": 1.5, "maxInterval": 2}
NAMESPACE = "reliability"


def definition(*, receiver_url: str, approver: str, nap: str) -> dict:
    def node(node_id, node_type, label, config):
        return {"id": node_id, "type": node_type, "label": label, "config": config, "retry": RETRY}

    nodes = [
        {"id": "trigger", "type": "trigger", "label": "Trigger", "config": {}},
        node("route", "condition", "Route", {"left": "{{Trigger.branch}}", "operator": "equals", "right": "left"}),
        node("left", "set", "Left", {"values": {"side": "left", "run": "{{Trigger.run}}"}}),
        node("right", "set", "Right", {"values": {"side": "right", "run": "{{Trigger.run}}"}}),
        node("join", "set", "Join", {"values": {"joined": True}}),
        node(
            "effect",
            "http-request",
            "Effect",
            {
                "method": "POST",
                "url": receiver_url,
                "timeout": 10,
                "body": {
                    "run": "{{Trigger.run}}",
                    "node": "effect",
                    "flaky": "{{Trigger.flaky}}",
                    "slow": "{{Trigger.slow}}",
                },
            },
        ),
        node("nap", "sleep", "Nap", {"duration": nap}),
        node("wait", "events/wait", "Wait", {"eventNamespace": NAMESPACE, "eventKey": "{{Trigger.run}}"}),
        node(
            "approve", "approvals/request", "Approve", {"title": "Reliability {{Trigger.run}}", "approvers": approver}
        ),
        node("done", "set", "Done", {"values": {"done": True, "signalled": "{{Wait.payload.run}}"}}),
    ]
    edges = [
        {"source": "trigger", "target": "route"},
        {"source": "route", "target": "left", "branch": "true"},
        {"source": "route", "target": "right", "branch": "false"},
        {"source": "left", "target": "join"},
        {"source": "right", "target": "join"},
        {"source": "join", "target": "effect"},
        {"source": "trigger", "target": "nap"},
        {"source": "trigger", "target": "wait"},
        {"source": "trigger", "target": "approve"},
        *({"source": s, "target": "done"} for s in ("effect", "nap", "wait", "approve")),
    ]
    return {"nodes": nodes, "edges": edges}


@dataclass
class Tenants:
    a: fixtures.Fixtures  # the tenant that runs the load
    b: fixtures.Fixtures  # a second tenant, whose credentials probe tenant A's objects
    workflow_id: str
    b_workflow_id: str


def create(*, receiver_url: str, nap: str) -> Tenants:
    """Two tenants with a user, token and API key each, and the mixed workflow in each."""
    a, b = fixtures.create(), fixtures.create()
    wf = fixtures.workflow(
        a, "reliability mixed", definition(receiver_url=receiver_url, approver=a.user.username, nap=nap)
    )
    wf_b = fixtures.workflow(b, "reliability other tenant", fixtures.chain(2))
    return Tenants(a=a, b=b, workflow_id=str(wf.pk), b_workflow_id=str(wf_b.pk))
