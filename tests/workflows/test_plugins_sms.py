"""The shipped SMS plugin against a local HTTP server standing in for the provider."""

import pytest

from tests.conftest import chain
from tests.workflows.plugins_support import node, provider  # noqa: F401 (fixture)
from workflows import integrations
from workflows.models import Execution, NodeRun
from workflows.services import trigger_workflow


@pytest.fixture
def sms_key(tenant, user):
    return integrations.create_integration(
        tenant=tenant, owner=user, type="sms", name="Provider", credentials={"apiKey": "k-secret"}
    )


def sms_workflow(make_workflow, integration, **config):
    config = {
        "integrationId": integration.pk,
        "phoneNumber": "{{Trigger.phone}}",
        "message": "Order {{Trigger.order}} shipped",
        **config,
    }
    return make_workflow(chain(node("sms", "sms/send", "Send SMS", **config)))


@pytest.fixture
def send_sms(settings, provider, make_workflow, user, sms_key, worker):
    """Run the one-node SMS workflow on an input against the local provider; its execution."""
    settings.SMS_PROVIDER_URL = provider.url
    workflow = sms_workflow(make_workflow, sms_key)

    def send(input: dict) -> Execution:
        result = trigger_workflow(workflow_id=workflow.pk, user_name=user.username, input=input)
        worker.run_until_idle()
        return Execution.objects.get(pk=result.execution_id)

    return send


@pytest.mark.django_db(transaction=True)
def test_send_posts_to_the_provider_with_the_api_key(provider, send_sms):
    execution = send_sms({"phone": "+15550100", "order": "A-7"})
    assert execution.status == "success"
    assert execution.context["Send SMS"] == {"success": True, "messageId": "msg-1"}
    (request,) = provider.received
    assert request["path"] == "/send"
    assert request["headers"]["Authorization"] == "Bearer k-secret"
    assert request["body"] == {"to": "+15550100", "body": "Order A-7 shipped"}
    logs = [e["message"] for e in NodeRun.objects.get(execution=execution, node_id="sms").logs]
    assert logs == ["Sending SMS to +15550100", "SMS accepted as msg-1"]


@pytest.mark.django_db(transaction=True)
def test_a_refused_message_is_a_failure_output_not_an_error(provider, send_sms):
    provider.answer = (400, {"error": "bad number"})
    execution = send_sms({"phone": "nope", "order": "1"})
    assert execution.status == "success"
    run = NodeRun.objects.get(execution=execution, node_id="sms")
    assert (run.status, run.attempt) == ("success", 1)
    assert run.output == {"success": False, "error": "SMS provider answered 400: bad number"}
    assert execution.context["Send SMS"] == run.output
    assert len(provider.received) == 1  # a refusal is not retried
    assert run.logs[-1]["type"] == "warning"


@pytest.mark.django_db(transaction=True)
def test_the_workflow_branches_on_a_failed_send(settings, provider, make_workflow, user, sms_key, worker):
    settings.SMS_PROVIDER_URL = provider.url
    provider.answer = (422, {"error": "opted out"})
    config = {"integrationId": sms_key.pk, "phoneNumber": "{{Trigger.phone}}", "message": "hi"}
    wf = make_workflow(
        chain(
            node("sms", "sms/send", "Send SMS", **config),
            node("c", "condition", "Sent", left="{{Send SMS.success}}", operator="isTrue"),
            node("ok", "set", "Done", values={"how": "sms"}),
            node("fallback", "set", "Fallback", values={"why": "{{Send SMS.error}}"}),
            edges=[
                {"source": "trigger", "target": "sms"},
                {"source": "sms", "target": "c"},
                {"source": "c", "target": "ok", "branch": "true"},
                {"source": "c", "target": "fallback", "branch": "false"},
            ],
        )
    )
    result = trigger_workflow(workflow_id=wf.pk, user_name=user.username, input={"phone": "+15550100"})
    worker.run_until_idle()
    execution = Execution.objects.get(pk=result.execution_id)
    assert execution.status == "success"
    statuses = {r.node_id: r.status for r in NodeRun.objects.filter(execution=execution)}
    assert statuses["ok"] == "skipped" and statuses["fallback"] == "success"
    assert execution.context["Fallback"] == {"why": "SMS provider answered 422: opted out"}


@pytest.mark.django_db(transaction=True)
def test_an_empty_phone_number_is_a_failure_output_without_a_request(provider, send_sms):
    execution = send_sms({"phone": "", "order": "1"})
    assert execution.status == "success"
    assert execution.context["Send SMS"] == {"success": False, "error": "phoneNumber resolved to nothing"}
    assert provider.received == []


@pytest.mark.django_db(transaction=True)
def test_a_provider_outage_is_retried(settings, provider, make_workflow, user, sms_key, run_until, finished):
    settings.SMS_PROVIDER_URL = provider.url
    settings.WORKFLOW_DEFAULT_RETRY = {
        **settings.WORKFLOW_DEFAULT_RETRY,
        "maxAttempts": 2,
        "initialInterval": 0.05,
        "jitter": 0,
    }
    provider.answer = (503, {})
    wf = sms_workflow(make_workflow, sms_key)
    result = trigger_workflow(workflow_id=wf.pk, user_name=user.username, input={"phone": "+1", "order": "1"})
    run_until(finished(result.execution_id))
    assert Execution.objects.get(pk=result.execution_id).status == "error"
    assert len(provider.received) == 2


@pytest.mark.django_db(transaction=True)
def test_every_attempt_sends_the_same_idempotency_key(settings, provider, make_workflow, user, sms_key, run_until):
    """The provider answers 503, then 200: the retried request carries the first one's key,
    so a provider that deduplicates sends the message once."""
    settings.SMS_PROVIDER_URL = provider.url
    settings.WORKFLOW_DEFAULT_RETRY = {**settings.WORKFLOW_DEFAULT_RETRY, "initialInterval": 0.05, "jitter": 0}
    provider.answers = [(503, {})]
    provider.answer = (200, {"id": "msg-2"})
    wf = sms_workflow(make_workflow, sms_key)
    result = trigger_workflow(workflow_id=wf.pk, user_name=user.username, input={"phone": "+1", "order": "1"})
    run_until(lambda: Execution.objects.get(pk=result.execution_id).is_finished)
    execution = Execution.objects.get(pk=result.execution_id)
    assert execution.context["Send SMS"] == {"success": True, "messageId": "msg-2"}
    keys = [r["headers"].get("Idempotency-Key") for r in provider.received]
    assert len(keys) == 2 and keys[0] and keys[0] == keys[1]
    run = NodeRun.objects.get(execution=execution, node_id="sms")
    assert run.attempt == 2
