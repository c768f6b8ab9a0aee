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


@pytest.mark.django_db(transaction=True)
def test_send_posts_to_the_provider_with_the_api_key(settings, provider, make_workflow, user, sms_key, worker):
    settings.SMS_PROVIDER_URL = provider.url
    wf = sms_workflow(make_workflow, sms_key)
    result = trigger_workflow(workflow_id=wf.pk, user_name=user.username, input={"phone": "+15550100", "order": "A-7"})
    worker.run_until_idle()

    execution = Execution.objects.get(pk=result.execution_id)
    assert execution.status == "success"
    assert execution.context["Send SMS"] == {"success": True, "messageId": "msg-1"}
    (request,) = provider.received
    assert request["path"] == "/send"
    assert request["headers"]["Authorization"] == "Bearer k-secret"
    assert request["body"] == {"to": "+15550100", "body": "Order A-7 shipped"}
    logs = [e["message"] for e in NodeRun.objects.get(execution=execution, node_id="sms").logs]
    assert logs == ["Sending SMS to +15550100", "SMS accepted as msg-1"]


@pytest.mark.django_db(transaction=True)
def test_a_refused_message_fails_the_node_without_retrying(settings, provider, make_workflow, user, sms_key, worker):
    settings.SMS_PROVIDER_URL = provider.url
    provider.answer = (400, {"error": "bad number"})
    wf = sms_workflow(make_workflow, sms_key)
    result = trigger_workflow(workflow_id=wf.pk, user_name=user.username, input={"phone": "nope", "order": "1"})
    worker.run_until_idle()
    execution = Execution.objects.get(pk=result.execution_id)
    assert execution.status == "error"
    assert execution.error["message"] == "SMS provider answered 400"
    assert len(provider.received) == 1


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
