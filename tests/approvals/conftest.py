"""Fixtures for the approvals tests: approvers, a role, and a running approval workflow."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from approvals.models import ApprovalRequest
from tests.conftest import chain
from workflows.models import Execution
from workflows.services import trigger_workflow


def approval_definition(config: dict, *, after: dict | None = None) -> dict:
    """Trigger → Request Approval → Set (which copies the decision into the context)."""
    set_node = after or {
        "id": "after",
        "type": "set",
        "label": "After",
        "config": {"values": {"decision": "{{Request Approval.decision}}", "order": "{{Trigger.orderId}}"}},
    }
    return chain(
        {"id": "approval", "type": "approvals/request", "label": "Request Approval", "config": config}, set_node
    )


@pytest.fixture
def approvers(make_user, tenant):
    """bob, carol and dave: members of the tenant with e-mail addresses."""
    return {name: make_user(name, tenant=tenant) for name in ("bob", "carol", "dave")}


@pytest.fixture
def managers(make_user, tenant):
    """The role `managers` (a Django group) with erin and frank in the tenant."""
    group = Group.objects.create(name="managers")
    members = [make_user(name, tenant=tenant) for name in ("erin", "frank")]
    for member in members:
        member.groups.add(group)
    return members


@pytest.fixture
def start_approval(make_workflow, user, worker):
    """Run a workflow up to its Request Approval node; returns (execution, request)."""

    def start(config: dict, *, input: dict | None = None, run_as=None, after: dict | None = None):
        workflow = make_workflow(approval_definition(config, after=after))
        result = trigger_workflow(
            workflow_id=workflow.pk, user_name=(run_as or user).username, input=input or {"orderId": "A-1"}
        )
        worker.run_until_idle()
        execution = Execution.objects.get(pk=result.execution_id)
        return execution, ApprovalRequest.objects.filter(execution=execution).first()

    return start
