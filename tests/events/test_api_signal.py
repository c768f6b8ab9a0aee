"""POST /api/workflow/events/signal: every answer, buffering both ways, idempotent retries."""

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from events import services
from events.models import BufferedSignal, WaitEvent, WorkflowApiKey
from tests.events.conftest import SIGNAL_URL
from workflows.models import Execution
from workflows.services import trigger_workflow

pytestmark = pytest.mark.django_db


@pytest.fixture
def waiting(payment_workflow, user, worker):
    """An execution paused on payments / order-42."""
    result = trigger_workflow(workflow_id=payment_workflow().pk, user_name=user.username, input={"orderId": 42})
    worker.run_until_idle()
    return Execution.objects.get(pk=result.execution_id)


def client_with(header: str | None) -> APIClient:
    client = APIClient()
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    return client


def test_signal_resumes_the_waiting_execution(waiting, signal, worker):
    response = signal("order-42", payload={"amount": 99.99})
    assert response.status_code == 200
    wait = WaitEvent.objects.get(execution=waiting)
    assert response.json() == {
        "success": True,
        "waitEventId": str(wait.pk),
        "executionId": str(waiting.pk),
        "workflowResumed": True,
    }
    worker.run_until_idle()
    waiting.refresh_from_db()
    assert waiting.status == "success"
    assert waiting.context["Payment Result"]["amount"] == 99.99
    assert waiting.context["Wait for Event"]["receivedFrom"] == "Stripe webhook"


def test_the_key_records_its_last_use(waiting, signal, api_key):
    assert api_key[0].last_used_at is None
    signal("order-42")
    assert WorkflowApiKey.objects.get(pk=api_key[0].pk).last_used_at is not None


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer wfb_nothere0-aaaaaaaaaaaa-bbbbbbbbbbbb", "Bearer not-a-key", "Token abc", "Bearer a b"],
)
def test_missing_or_bad_key_answers_401(waiting, header):
    response = client_with(header).post(
        SIGNAL_URL, {"eventNamespace": "payments", "eventKey": "order-42"}, format="json"
    )
    assert response.status_code == 401
    assert response.has_header("WWW-Authenticate")
    assert WaitEvent.objects.get(execution=waiting).status == "waiting"


def test_a_correct_prefix_with_a_wrong_secret_answers_401(waiting, api_key):
    raw = api_key[1]
    forged = raw[:-4] + ("AAAA" if not raw.endswith("AAAA") else "BBBB")
    response = client_with(f"Bearer {forged}").post(
        SIGNAL_URL, {"eventNamespace": "payments", "eventKey": "order-42"}, format="json"
    )
    assert response.status_code == 401 and response.json()["code"] == "invalid_api_key"


def test_revoked_key_answers_401(waiting, api_key, signal):
    services.revoke_api_key(api_key[0])
    response = signal("order-42")
    assert response.status_code == 401 and "revoked" in response.json()["detail"]
    assert WaitEvent.objects.get(execution=waiting).status == "waiting"


def test_session_login_is_not_enough(waiting, user):
    client = APIClient()
    client.force_login(user)
    response = client.post(SIGNAL_URL, {"eventNamespace": "payments", "eventKey": "order-42"}, format="json")
    assert response.status_code == 401


def test_a_key_of_another_tenant_never_matches_this_tenants_wait(waiting, other_tenant, other_user, signal):
    _, raw = services.create_api_key(tenant=other_tenant, name="Theirs", user=other_user)
    response = signal("order-42", client=client_with(f"Bearer {raw}"))
    assert response.status_code == 202 and response.json()["buffered"] is True
    assert WaitEvent.objects.get(execution=waiting).status == "waiting"
    assert BufferedSignal.objects.get().tenant_id == other_tenant.pk


@pytest.mark.parametrize(
    "body, field",
    [
        ({"eventKey": "order-42"}, "eventNamespace"),
        ({"eventNamespace": "payments"}, "eventKey"),
        ({"eventNamespace": "", "eventKey": "order-42"}, "eventNamespace"),
        ({"eventNamespace": "payments", "eventKey": 42}, "eventKey"),
        ({"eventNamespace": "payments", "eventKey": "x" * 256}, "eventKey"),
        ({"eventNamespace": "payments", "eventKey": "order-42", "payload": [1, 2]}, "payload"),
        ({"eventNamespace": "payments", "eventKey": "order-42", "payload": "paid"}, "payload"),
    ],
)
def test_body_errors_answer_400_naming_the_field(waiting, key_client, body, field):
    response = key_client.post(SIGNAL_URL, body, format="json")
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert WaitEvent.objects.get(execution=waiting).status == "waiting"


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"", b'"text"'])
def test_a_body_that_is_not_a_json_object_answers_400(waiting, key_client, raw):
    response = key_client.post(SIGNAL_URL, raw, content_type="application/json")
    assert response.status_code == 400 and response.json()["field"] == "body"


def test_an_unknown_key_in_a_signal_is_refused_naming_it(waiting, key_client):
    body = {"eventNamespace": "payments", "eventKey": "order-42", "paylaod": {"amount": 1}}
    response = key_client.post(SIGNAL_URL, body, format="json")
    assert response.status_code == 400
    assert response.json()["field"] == "paylaod" and response.json()["errors"][0]["code"] == "unknown_field"
    assert WaitEvent.objects.get(execution=waiting).status == "waiting"


def test_a_body_sent_without_a_json_content_type_is_still_read(waiting, key_client):
    response = key_client.post(
        SIGNAL_URL, b'{"eventNamespace": "payments", "eventKey": "order-42"}', content_type="text/plain"
    )
    assert response.status_code == 200


@override_settings(EVENTS_MAX_PAYLOAD_BYTES=100)
def test_a_payload_over_the_limit_answers_413(waiting, signal):
    response = signal("order-42", payload={"blob": "x" * 200})
    assert response.status_code == 413 and response.json()["field"] == "payload"
    assert WaitEvent.objects.get(execution=waiting).status == "waiting"


@override_settings(API_MAX_BODY_BYTES=1000)
def test_a_body_over_the_api_limit_answers_413(waiting, signal):
    response = signal("order-42", payload={"blob": "x" * 2000})
    assert response.status_code == 413


def test_a_second_signal_for_a_received_key_answers_409(waiting, signal):
    assert signal("order-42").status_code == 200
    response = signal("order-42", payload={"amount": 1})
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "already_signalled" and "already received" in body["detail"] and "order-42" in body["detail"]


def test_a_retry_with_the_same_idempotency_key_gets_the_first_answer(waiting, signal):
    first = signal("order-42", idempotency="evt_1")
    again = signal("order-42", idempotency="evt_1")
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert signal("order-42", idempotency="evt_2").status_code == 409


def test_an_overlong_idempotency_key_answers_400(waiting, signal):
    response = signal("order-42", idempotency="k" * 256)
    assert response.status_code == 400 and response.json()["field"] == "Idempotency-Key"


def test_a_signal_before_the_wait_is_buffered_then_consumed(signal, payment_workflow, user, worker):
    response = signal("order-7", payload={"amount": 12})
    assert response.status_code == 202
    body = response.json()
    assert body["success"] is True and body["workflowResumed"] is False and body["buffered"] is True
    assert body["signalId"] and body["expiresAt"]
    result = trigger_workflow(workflow_id=payment_workflow().pk, user_name=user.username, input={"orderId": 7})
    worker.run_until_idle()
    execution = Execution.objects.get(pk=result.execution_id)
    assert execution.status == "success" and execution.context["Payment Result"]["amount"] == 12
    assert execution.context["Wait for Event"]["receivedFrom"] == "Stripe webhook"


def test_a_second_buffered_signal_for_the_same_key_answers_409(signal):
    assert signal("order-7").status_code == 202
    response = signal("order-7")
    assert response.status_code == 409 and "already buffered" in response.json()["detail"]
    assert BufferedSignal.objects.count() == 1


def test_a_retried_buffered_signal_gets_the_first_answer_even_after_it_was_consumed(
    signal, payment_workflow, user, worker
):
    first = signal("order-7", idempotency="evt_7")
    trigger_workflow(workflow_id=payment_workflow().pk, user_name=user.username, input={"orderId": 7})
    worker.run_until_idle()
    again = signal("order-7", idempotency="evt_7")
    assert again.status_code == 202 and again.json() == first.json()


@override_settings(EVENTS_SIGNAL_BUFFER_SECONDS=0)
def test_an_expired_buffered_signal_is_not_consumed(signal, payment_workflow, user, worker):
    assert signal("order-7").status_code == 202
    result = trigger_workflow(workflow_id=payment_workflow().pk, user_name=user.username, input={"orderId": 7})
    worker.run_until_idle()
    assert Execution.objects.get(pk=result.execution_id).status == "paused"
    assert signal("order-7").status_code == 200  # the stale one no longer blocks the key


def test_the_signal_url_also_takes_a_trailing_slash(waiting, key_client):
    response = key_client.post(SIGNAL_URL + "/", {"eventNamespace": "payments", "eventKey": "order-42"}, format="json")
    assert response.status_code == 200


def test_a_signal_that_resumes_runs_a_bounded_number_of_statements(
    waiting, signal, api_key, django_assert_max_num_queries
):
    """Authenticate, find the wait (and its execution, so locking it needs no lookup), lock
    execution and node run, close the wait (one conditional UPDATE), resume: at most 12
    statements with the test's savepoint (the benchmark's signal latency is mostly these round
    trips). An open wait needs no lock on the key's name. A key used a moment ago skips
    recording its last use."""
    from django.utils import timezone

    WorkflowApiKey.objects.filter(pk=api_key[0].pk).update(last_used_at=timezone.now())
    with django_assert_max_num_queries(12):
        assert signal("order-42").status_code == 200
