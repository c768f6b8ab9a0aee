"""What the execution viewer shows about a paused Wait for Event node, and the operators'
send-signal endpoint behind its dialog."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from events.models import BufferedSignal, WaitEvent, WaitStatus
from tests.conftest import error_fields
from workflows.models import Execution, Membership
from workflows.services import trigger_workflow

pytestmark = pytest.mark.django_db(transaction=True)


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def wait_run(client, execution_id) -> dict:
    answer = client.get(f"/api/executions/{execution_id}/")
    assert answer.status_code == 200
    return next(run for run in answer.json()["nodeRuns"] if run["nodeId"] == "wait")


def signal_url(wait_id) -> str:
    return f"/api/workflow/events/waits/{wait_id}/signal/"


@pytest.fixture
def operator(make_user, tenant):
    return make_user("olga", tenant=tenant, is_staff=True)


@pytest.fixture
def waiting(payment_workflow, user, worker):
    """An execution paused on payments / order-7 (expires in 1 h); returns (execution, wait)."""
    workflow = payment_workflow(expiresIn="1h", title="Payment of order {{Trigger.orderId}}")
    execution_id = trigger_workflow(workflow_id=workflow.pk, user_name=user.username, input={"orderId": 7}).execution_id
    worker.run_until_idle()
    return Execution.objects.get(pk=execution_id), WaitEvent.objects.get(execution_id=execution_id)


def test_a_paused_wait_shows_namespace_key_deadline_and_how_to_signal(waiting, api):
    execution, wait = waiting
    run = wait_run(api, execution.pk)
    details = run["waitingFor"]
    assert details["kind"] == "event" and details["waitEventId"] == str(wait.pk) and details["status"] == "waiting"
    assert (details["namespace"], details["key"], details["title"]) == ("payments", "order-7", "Payment of order 7")
    assert details["deadline"] and details["onExpiration"] == "error"
    assert details["signalUrl"] == signal_url(wait.pk)
    curl = details["curl"]
    assert curl.startswith("curl -X POST") and "/api/workflow/events/signal" in curl
    assert '"Authorization: Bearer $WORKFLOW_API_KEY"' in curl and '"eventKey": "order-7"' in curl
    assert run["resolvedConfig"]["eventKey"] == "order-7"


def test_buffered_signals_of_the_same_key_and_tenant_are_listed(waiting, api, other_tenant, tenant):
    execution, _ = waiting
    later = timezone.now() + timedelta(hours=1)
    mine = BufferedSignal.objects.create(
        tenant=tenant,
        namespace="payments",
        key="order-7",
        payload={"amount": 3},
        received_from="Stripe",
        expires_at=later,
    )
    BufferedSignal.objects.create(tenant=tenant, namespace="payments", key="order-8", expires_at=later)
    BufferedSignal.objects.create(tenant=other_tenant, namespace="payments", key="order-7", expires_at=later)
    signals = wait_run(api, execution.pk)["waitingFor"]["bufferedSignals"]
    assert [(s["id"], s["payload"], s["receivedFrom"]) for s in signals] == [(str(mine.pk), {"amount": 3}, "Stripe")]


def test_only_operators_are_offered_the_signal(waiting, api, operator, make_user, tenant):
    execution, _ = waiting
    assert wait_run(api, execution.pk)["waitingFor"]["canSignal"] is False  # alice: a plain member
    assert wait_run(api_for(operator), execution.pk)["waitingFor"]["canSignal"] is True
    admin = make_user("adam")
    Membership.objects.create(tenant=tenant, user=admin, role=Membership.Role.ADMIN)
    assert wait_run(api_for(admin), execution.pk)["waitingFor"]["canSignal"] is True


def test_an_operator_signal_resumes_the_execution(waiting, operator, worker):
    execution, wait = waiting
    answer = api_for(operator).post(signal_url(wait.pk), {"payload": {"amount": 42}}, format="json")
    assert answer.status_code == 200
    assert answer.json() == {
        "success": True,
        "waitEventId": str(wait.pk),
        "executionId": str(execution.pk),
        "workflowResumed": True,
    }
    worker.run_until_idle()
    execution.refresh_from_db()
    wait.refresh_from_db()
    assert execution.status == "success" and execution.context["Payment Result"]["amount"] == 42
    assert wait.status == WaitStatus.RECEIVED and wait.received_from == "olga (operator)"


def test_the_signal_endpoint_works_with_a_session_and_its_csrf_token(waiting, operator):
    _, wait = waiting
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    refused = client.post(signal_url(wait.pk), {"payload": {}}, content_type="application/json")
    assert refused.status_code == 403  # no CSRF token
    client.get("/workflows/")  # sets the csrftoken cookie
    token = client.cookies["csrftoken"].value
    answer = client.post(signal_url(wait.pk), {"payload": {}}, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert answer.status_code == 200


def test_a_plain_member_may_not_send_the_signal(waiting, api):
    _, wait = waiting
    refused = api.post(signal_url(wait.pk), {"payload": {}}, format="json")
    assert refused.status_code == 403 and refused.json()["field"] == "waitEventId"
    wait.refresh_from_db()
    assert wait.status == WaitStatus.WAITING


def test_another_tenants_operator_gets_404(waiting, make_user, other_tenant):
    _, wait = waiting
    outsider = make_user("root", tenant=other_tenant, is_staff=True, is_superuser=True)
    assert api_for(outsider).post(signal_url(wait.pk), {"payload": {}}, format="json").status_code == 404
    assert APIClient().post(signal_url(wait.pk), {"payload": {}}, format="json").status_code in (401, 403)
    wait.refresh_from_db()
    assert wait.status == WaitStatus.WAITING


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"payload": [1, 2]}, "payload"),
        ({"payload": "yes"}, "payload"),
        ({"payload": {}, "eventKey": "order-9"}, "eventKey"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(waiting, operator, body, field):
    _, wait = waiting
    answer = api_for(operator).post(signal_url(wait.pk), body, format="json")
    assert answer.status_code == 400 and field in error_fields(answer)
    wait.refresh_from_db()
    assert wait.status == WaitStatus.WAITING


def test_a_body_that_is_not_json_is_a_400_naming_the_body(waiting, operator):
    _, wait = waiting
    answer = api_for(operator).post(signal_url(wait.pk), "{nope", content_type="application/json")
    assert answer.status_code == 400 and answer.json()["field"] == "body"


def test_a_wait_that_is_no_longer_open_answers_409_and_buffers_nothing(waiting, operator):
    _, wait = waiting
    client = api_for(operator)
    assert client.post(signal_url(wait.pk), {"payload": {}}, format="json").status_code == 200
    again = client.post(signal_url(wait.pk), {"payload": {}}, format="json")
    assert again.status_code == 409 and again.json()["field"] == "waitEventId"
    assert not BufferedSignal.objects.exists()


def test_the_signal_endpoint_is_in_the_schema(api):
    paths = api.get("/api/schema/?format=json").json()["paths"]
    assert "post" in paths["/api/workflow/events/waits/{id}/signal/"]


def test_a_payload_over_the_limit_is_a_413_naming_the_payload(waiting, operator, settings):
    _, wait = waiting
    settings.EVENTS_MAX_PAYLOAD_BYTES = 64
    answer = api_for(operator).post(signal_url(wait.pk), {"payload": {"note": "x" * 100}}, format="json")
    assert answer.status_code == 413 and answer.json()["field"] == "payload"
    wait.refresh_from_db()
    assert wait.status == WaitStatus.WAITING
