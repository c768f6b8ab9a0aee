"""GET /api/workflow/events/waits/: what a stuck order is waiting for."""

import pytest

from events import services
from tests.conftest import documented_properties, error_fields
from tests.events.conftest import payment_definition
from workflows.services import trigger_workflow

pytestmark = pytest.mark.django_db

WAITS_URL = "/api/workflow/events/waits/"


@pytest.fixture
def waits(make_workflow, user, worker, tenant):
    workflow = make_workflow(payment_definition(expiresIn="7d", title="Payment {{Trigger.orderId}}"))
    ids = [
        trigger_workflow(workflow_id=workflow.pk, user_name=user.username, input={"orderId": n}).execution_id
        for n in (1, 2)
    ]
    other = make_workflow(payment_definition(namespace="shipping"), name="Shipping")
    trigger_workflow(workflow_id=other.pk, user_name=user.username, input={"orderId": 3})
    worker.run_until_idle()
    services.signal_event(tenant_id=tenant.pk, namespace="payments", key="order-2", source="tests")
    worker.run_until_idle()
    return ids


def test_lists_the_open_waits_with_what_they_wait_for(api, waits):
    response = api.get(WAITS_URL, {"status": "waiting", "namespace": "payments"})
    assert response.status_code == 200
    body = response.json()
    [wait] = body["results"]
    assert wait["namespace"] == "payments" and wait["key"] == "order-1" and wait["status"] == "waiting"
    assert wait["executionId"] == str(waits[0]) and wait["title"] == "Payment 1"
    assert wait["since"] and wait["deadline"] and wait["workflowName"] == "Test workflow"
    assert wait["nodeLabel"] == "Wait for Event"


def test_the_answer_is_what_the_schema_documents(api, waits, tenant):
    services.signal_event(tenant_id=tenant.pk, namespace="payments", key="order-99", source="tests")
    body = api.get(WAITS_URL, {"status": "all"}).json()
    assert set(body) == documented_properties(api, WAITS_URL, "get", "200")
    assert body["results"] and body["bufferedSignals"]
    schema = api.get("/api/schema/?format=json").json()["components"]["schemas"]
    assert set(body["results"][0]) == set(schema["Wait"]["properties"])
    assert set(body["bufferedSignals"][0]) == set(schema["PendingSignal"]["properties"])


def test_default_is_the_open_waits_of_every_namespace(api, waits):
    keys = {w["key"] for w in api.get(WAITS_URL).json()["results"]}
    assert keys == {"order-1", "order-3"}


def test_status_filter_takes_several_values_and_all(api, waits):
    assert {w["status"] for w in api.get(WAITS_URL, {"status": "received"}).json()["results"]} == {"received"}
    assert len(api.get(WAITS_URL, {"status": "all"}).json()["results"]) == 3
    assert len(api.get(WAITS_URL, {"status": "waiting,received"}).json()["results"]) == 3


def test_a_bad_status_answers_400_naming_the_field(api, waits):
    response = api.get(WAITS_URL, {"status": "stuck"})
    assert response.status_code == 400 and "status" in error_fields(response)


def test_buffered_signals_are_listed_too(api, tenant):
    services.signal_event(tenant_id=tenant.pk, namespace="payments", key="order-9", payload={"a": 1}, source="Stripe")
    [signal] = api.get(WAITS_URL).json()["bufferedSignals"]
    assert signal["key"] == "order-9" and signal["receivedFrom"] == "Stripe" and signal["expiresAt"]


def test_other_tenants_waits_are_not_shown(waits, other_user, other_tenant):
    from rest_framework.test import APIClient

    services.signal_event(tenant_id=other_tenant.pk, namespace="payments", key="order-1", source="theirs")
    client = APIClient()
    client.force_authenticate(other_user)
    body = client.get(WAITS_URL, {"status": "all"}).json()
    assert body["results"] == [] and [s["key"] for s in body["bufferedSignals"]] == ["order-1"]


def test_anonymous_users_are_refused(client, waits):
    assert client.get(WAITS_URL).status_code in (401, 403)


def test_execution_filter_narrows_and_checks_the_id(api, waits):
    [wait] = api.get(WAITS_URL, {"execution": str(waits[0])}).json()["results"]
    assert wait["executionId"] == str(waits[0])
    response = api.get(WAITS_URL, {"execution": "nope"})
    assert response.status_code == 400 and "execution" in error_fields(response)
