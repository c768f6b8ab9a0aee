"""The demo approval workflow runs to a pending request and finishes once approved."""

import pytest

from approvals import services
from approvals.demo import DEMO_NAME, seed_approval_demo
from approvals.models import ApprovalRequest
from workflows.models import Execution, Workflow

pytestmark = pytest.mark.django_db(transaction=True)


def test_demo_is_seeded_once_and_runs(tenant, make_user, worker):
    user = make_user("demo", tenant=tenant)
    workflow = seed_approval_demo(tenant=tenant, user=user)
    assert seed_approval_demo(tenant=tenant, user=user) == workflow
    assert Workflow.objects.filter(tenant=tenant, name=DEMO_NAME).count() == 1
    assert Execution.objects.filter(workflow=workflow).count() == 1
    worker.run_until_idle()
    request = ApprovalRequest.objects.get(workflow=workflow)
    assert request.title == "Expense EXP-1001: 240 EUR"
    services.decide(request_id=request.pk, user=user, decision="approved", form_values={"costCenter": "Sales"})
    worker.run_until_idle()
    execution = Execution.objects.get(workflow=workflow)
    assert execution.status == "success"
    assert execution.context["Record Decision"]["decision"] == "approved"
