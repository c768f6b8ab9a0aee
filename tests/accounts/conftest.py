"""Fixtures for the login pages: an approver who is a member but not staff, and a request for them."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from approvals.models import ApprovalRequest
from tests.approvals.conftest import approval_definition
from workflows.models import Execution
from workflows.services import trigger_workflow

PASSWORD = "pw-for-tests"


@pytest.fixture
def fiona(make_user, tenant):
    """A member of the tenant in the `finance` group; not staff, so the admin shuts her out."""
    user = make_user("fiona", tenant=tenant)
    user.groups.add(Group.objects.create(name="finance"))
    assert not user.is_staff
    return user


@pytest.fixture
def finance_request(make_workflow, user, worker, fiona):
    """A pending request for the `finance` role; returns (execution, request)."""
    workflow = make_workflow(approval_definition({"title": "Invoice {{Trigger.orderId}}", "approverRoles": "finance"}))
    result = trigger_workflow(workflow_id=workflow.pk, user_name=user.username, input={"orderId": "INV-7"})
    worker.run_until_idle()
    execution = Execution.objects.get(pk=result.execution_id)
    return execution, ApprovalRequest.objects.get(execution=execution)
