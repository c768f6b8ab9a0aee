"""The payment demo workflow is valid, idempotent to create, and runs both ways."""

import pytest

from events import services
from events.demo import ensure_payment_demo
from workflows.models import Execution, Workflow
from workflows.services import trigger_workflow

pytestmark = pytest.mark.django_db


def test_demo_is_created_once(tenant, user):
    first = ensure_payment_demo(tenant=tenant, user=user)
    assert ensure_payment_demo(tenant=tenant, user=user).pk == first.pk
    assert Workflow.objects.filter(tenant=tenant).count() == 1


def test_demo_fulfils_the_order_when_the_payment_arrives(tenant, user, worker):
    workflow = ensure_payment_demo(tenant=tenant, user=user)
    result = trigger_workflow(workflow_id=workflow.pk, user_name=user.username, input={"orderId": 1, "amount": 20})
    worker.run_until_idle()
    services.signal_event(
        tenant_id=tenant.pk,
        namespace="payments",
        key="order-1",
        payload={"amount": 20, "transactionId": "txn_1"},
        source="demo",
    )
    worker.run_until_idle()
    execution = Execution.objects.get(pk=result.execution_id)
    assert execution.status == "success"
    assert execution.context["Fulfil Order"] == {"amount": 20, "transactionId": "txn_1", "paidVia": "demo"}
    assert "Cancel Order" not in execution.context
