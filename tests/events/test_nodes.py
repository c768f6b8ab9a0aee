"""The Wait for Event node in the engine: pause, delivery, uniqueness, expiry, cancel, buffering."""

from datetime import timedelta

import pytest
from django.utils import timezone

from events import services
from events.models import BufferedSignal, WaitEvent
from tests.conftest import chain
from tests.events.conftest import payment_definition, wait_node
from workflows.exceptions import InvalidDefinition
from workflows.models import Execution, NodeRun
from workflows.services import request_cancellation, trigger_workflow

pytestmark = pytest.mark.django_db


def start(workflow, user, order_id="42"):
    result = trigger_workflow(workflow_id=workflow.pk, user_name=user.username, input={"orderId": order_id})
    return Execution.objects.get(pk=result.execution_id)


def wait_run(execution) -> NodeRun:
    return NodeRun.objects.get(execution=execution, node_id="wait")


def deliver(tenant, key="order-42", payload=None, **kwargs):
    return services.signal_event(
        tenant_id=tenant.pk, namespace="payments", key=key, payload=payload or {}, source="tests", **kwargs
    )


def test_wait_pauses_the_execution_on_the_resolved_key(payment_workflow, user, tenant, worker):
    execution = start(payment_workflow(title="Payment of {{Trigger.orderId}}"), user)
    worker.run_until_idle()
    execution.refresh_from_db()
    wait = WaitEvent.objects.get(execution=execution)
    assert execution.status == "paused"
    assert (wait.tenant_id, wait.namespace, wait.key, wait.status) == (tenant.pk, "payments", "order-42", "waiting")
    assert wait.title == "Payment of 42"
    run = wait_run(execution)
    assert run.status == "paused" and run.pause_data["waitEventId"] == str(wait.pk)


def test_signal_completes_the_node_and_downstream_reads_the_payload(payment_workflow, user, tenant, worker):
    execution = start(payment_workflow(), user)
    worker.run_until_idle()
    result = deliver(tenant, payload={"amount": 99.99, "transactionId": "txn_1"})
    assert result.resumed and result.execution_id == execution.pk
    worker.run_until_idle()
    execution.refresh_from_db()
    assert execution.status == "success"
    output = execution.context["Wait for Event"]
    assert output["status"] == "received" and output["payload"]["transactionId"] == "txn_1"
    assert output["eventNamespace"] == "payments" and output["eventKey"] == "order-42"
    assert output["waitEventId"] == str(result.wait_event_id) and output["receivedFrom"] == "tests"
    assert output["receivedAt"]
    assert execution.context["Payment Result"] == {"amount": 99.99, "status": "received"}
    assert WaitEvent.objects.get(pk=result.wait_event_id).status == "received"


def test_second_execution_waiting_on_an_awaited_key_fails_naming_the_holder(payment_workflow, user, worker):
    workflow = payment_workflow()
    first = start(workflow, user)
    worker.run_until_idle()
    second = start(workflow, user)
    worker.run_until_idle()
    second.refresh_from_db()
    assert second.status == "error"
    message = wait_run(second).error["message"]
    assert "order-42" in message and "payments" in message and str(first.pk) in message
    assert WaitEvent.objects.filter(status="waiting").count() == 1


def test_expiry_fails_the_node_by_default(payment_workflow, user, run_until, finished):
    execution = start(payment_workflow(expiresIn="50ms"), user)
    run_until(finished(execution.pk))
    execution.refresh_from_db()
    assert execution.status == "error"
    assert "order-42" in execution.error["message"] and "arrived before" in execution.error["message"]
    assert WaitEvent.objects.get(execution=execution).status == "expired"


def test_expiry_with_continue_proceeds_with_status_expired(payment_workflow, user, run_until, finished):
    execution = start(payment_workflow(expiresIn="50ms", onExpiration="continue"), user)
    run_until(finished(execution.pk))
    execution.refresh_from_db()
    assert execution.status == "success"
    assert execution.context["Wait for Event"]["status"] == "expired"
    assert execution.context["Wait for Event"]["payload"] is None
    assert execution.context["Payment Result"]["status"] == "expired"


def test_expiry_is_the_pause_deadline_fired_by_the_timer(payment_workflow, user, worker):
    execution = start(payment_workflow(expiresIn="7d"), user)
    worker.run_until_idle()
    wait = WaitEvent.objects.get(execution=execution)
    assert wait_run(execution).wake_at == wait.expires_at
    assert timedelta(days=7) - (wait.expires_at - timezone.now()) < timedelta(minutes=1)


def test_signal_after_expiry_is_buffered_not_delivered(payment_workflow, user, tenant, run_until, finished):
    execution = start(payment_workflow(expiresIn="50ms"), user)
    run_until(finished(execution.pk))
    result = deliver(tenant)
    assert not result.resumed and BufferedSignal.objects.filter(key="order-42", status="pending").exists()


def test_cancelling_the_execution_cancels_its_wait(payment_workflow, user, tenant, worker):
    execution = start(payment_workflow(), user)
    worker.run_until_idle()
    request_cancellation(execution)
    assert WaitEvent.objects.get(execution=execution).status == "cancelled"
    assert not deliver(tenant).resumed  # the key is free again: the signal is buffered


def test_a_buffered_signal_is_consumed_at_once_by_the_first_wait(payment_workflow, user, tenant, worker):
    buffered = deliver(tenant, payload={"amount": 5})
    assert not buffered.resumed
    execution = start(payment_workflow(), user)
    worker.run_until_idle()
    execution.refresh_from_db()
    assert execution.status == "success"
    assert execution.context["Payment Result"]["amount"] == 5
    signal = BufferedSignal.objects.get(pk=buffered.signal_id)
    wait = WaitEvent.objects.get(execution=execution)
    assert signal.status == "consumed" and signal.wait_event_id == wait.pk and wait.status == "received"


def test_a_key_can_be_awaited_again_after_it_was_received(payment_workflow, user, tenant, worker):
    workflow = payment_workflow()
    first = start(workflow, user)
    worker.run_until_idle()
    deliver(tenant)
    worker.run_until_idle()
    second = start(workflow, user)
    worker.run_until_idle()
    assert wait_run(second).status == "paused"
    assert deliver(tenant).execution_id == second.pk
    assert first.pk != second.pk


def test_keys_are_scoped_by_tenant(make_workflow, make_user, user, tenant, other_tenant, worker):
    make_user("bob", tenant=other_tenant)
    ours = start(make_workflow(payment_definition()), user)
    theirs = start(make_workflow(payment_definition(), on_tenant=other_tenant), make_user("carol", tenant=other_tenant))
    worker.run_until_idle()
    assert wait_run(ours).status == "paused" and wait_run(theirs).status == "paused"
    assert deliver(other_tenant).execution_id == theirs.pk
    assert wait_run(ours).status == "paused"


def test_context_data_is_stored_for_operators(make_workflow, user, worker):
    node = wait_node(contextData='{"customer": "{{Trigger.orderId}}"}')
    execution = start(make_workflow(chain(node)), user)
    worker.run_until_idle()
    assert WaitEvent.objects.get(execution=execution).context_data == {"customer": "42"}


def test_a_key_resolving_to_nothing_fails_the_node(make_workflow, user, worker):
    execution = start(make_workflow(chain(wait_node(key="{{Trigger.missing}}"))), user)
    worker.run_until_idle()
    execution.refresh_from_db()
    assert execution.status == "error" and "eventKey" in execution.error["message"]


@pytest.mark.parametrize(
    "config, field",
    [
        ({"eventNamespace": "payments"}, "eventKey"),
        ({"eventKey": "k"}, "eventNamespace"),
        ({"eventNamespace": "p", "eventKey": "k", "expiresIn": "soon"}, "expiresIn"),
        ({"eventNamespace": "p", "eventKey": "k", "onExpiration": "retry"}, "onExpiration"),
        ({"eventNamespace": "p", "eventKey": "k", "contextData": "[1, 2]"}, "contextData"),
    ],
)
def test_bad_config_is_refused_when_saved_naming_the_field(make_workflow, config, field):
    node = {"id": "wait", "type": "events/wait", "label": "Wait for Event", "config": config}
    with pytest.raises(InvalidDefinition) as caught:
        make_workflow(chain(node))
    assert any(e.get("field") == f"config.{field}" for e in caught.value.errors), caught.value.errors
