"""POST /api/workflows/{id}/webhook/: start an execution with a workflow API key."""

import uuid

import pytest
from django.urls import resolve
from rest_framework.test import APIClient

from events import api as events_api
from events import services
from tests.conftest import chain
from workflows.models import Execution

pytestmark = pytest.mark.django_db

SET = {"id": "a", "type": "set", "label": "A", "config": {"values": {"order": "{{Trigger.orderId}}"}}}


def url(workflow_id) -> str:
    return f"/api/workflows/{workflow_id}/webhook/"


def test_the_url_resolves_to_the_webhook_view_not_the_workflows_router():
    assert resolve(url(uuid.uuid4())).func.view_class is events_api.WorkflowWebhookView


def test_webhook_starts_an_execution_with_the_body_as_input(make_workflow, key_client, user, worker):
    workflow = make_workflow(chain(SET))
    response = key_client.post(url(workflow.pk), {"orderId": 5}, format="json")
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "running"
    execution = Execution.objects.get(pk=body["executionId"])
    assert execution.input == {"orderId": 5} and execution.run_as == user
    worker.run_until_idle()
    execution.refresh_from_db()
    assert execution.status == "success" and execution.context["A"] == {"order": 5}


def test_an_empty_body_is_an_empty_input(make_workflow, key_client):
    workflow = make_workflow(chain(SET))
    response = key_client.post(url(workflow.pk))
    assert response.status_code == 202 and Execution.objects.get().input == {}


@pytest.mark.parametrize("raw", [b"[1]", b"{bad", b"3"])
def test_a_body_that_is_not_an_object_answers_400(make_workflow, key_client, raw):
    workflow = make_workflow(chain(SET))
    response = key_client.post(url(workflow.pk), raw, content_type="application/json")
    assert response.status_code == 400 and response.json()["field"] == "body"
    assert not Execution.objects.exists()


def test_idempotency_key_returns_the_first_execution(make_workflow, key_client):
    workflow = make_workflow(chain(SET))
    first = key_client.post(url(workflow.pk), {"orderId": 1}, format="json", HTTP_IDEMPOTENCY_KEY="evt_1")
    again = key_client.post(url(workflow.pk), {"orderId": 1}, format="json", HTTP_IDEMPOTENCY_KEY="evt_1")
    assert first.json()["executionId"] == again.json()["executionId"]
    assert Execution.objects.get().idempotency_key == "evt_1"


def test_a_workflow_of_another_tenant_answers_404(make_workflow, key_client, other_tenant, make_user):
    make_user("bob", tenant=other_tenant)
    theirs = make_workflow(chain(SET), on_tenant=other_tenant)
    assert key_client.post(url(theirs.pk), {}, format="json").status_code == 404
    assert key_client.post(url(uuid.uuid4()), {}, format="json").status_code == 404
    assert not Execution.objects.exists()


def test_without_a_valid_key_answers_401(make_workflow, api, api_key):
    workflow = make_workflow(chain(SET))
    assert APIClient().post(url(workflow.pk), {}, format="json").status_code == 401
    services.revoke_api_key(api_key[0])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key[1]}")
    assert client.post(url(workflow.pk), {}, format="json").status_code == 401
    assert not Execution.objects.exists()


def test_a_key_whose_creator_left_the_tenant_cannot_start_runs(make_workflow, key_client, user):
    workflow = make_workflow(chain(SET))
    user.memberships.all().delete()
    response = key_client.post(url(workflow.pk), {}, format="json")
    assert response.status_code == 403 and not Execution.objects.exists()


def test_an_inactive_workflow_answers_409(make_workflow, key_client):
    workflow = make_workflow(chain(SET), is_active=False)
    assert key_client.post(url(workflow.pk), {}, format="json").status_code == 409


def test_a_key_whose_creator_was_deleted_answers_403(make_workflow, key_client, api_key):
    from events.models import WorkflowApiKey

    workflow = make_workflow(chain(SET))
    WorkflowApiKey.objects.filter(pk=api_key[0].pk).update(created_by=None)
    response = key_client.post(url(workflow.pk), {}, format="json")
    assert response.status_code == 403 and response.json()["field"] == "Authorization"
    assert not Execution.objects.exists()
