"""Admin: a created key is shown once, keys revoke in bulk, wait-events filter and show payloads."""

import re

import pytest

from events import keys, services
from events.models import WaitEvent, WorkflowApiKey
from tests.events.conftest import payment_definition
from workflows.services import trigger_workflow

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, make_user, tenant):
    admin = make_user("root", tenant=tenant, is_staff=True, is_superuser=True)
    client.force_login(admin)
    return client


def test_adding_a_key_shows_it_once_and_stores_its_hash(admin_client, tenant):
    response = admin_client.post(
        "/admin/events/workflowapikey/add/", {"tenant": str(tenant.pk), "name": "Stripe"}, follow=True
    )
    assert response.status_code == 200
    raw = re.search(r"wfb_[A-Za-z0-9]{8}-[A-Za-z0-9]{12}-[A-Za-z0-9]{12}", response.content.decode()).group(0)
    row = WorkflowApiKey.objects.get()
    assert row.key_hash == keys.hash_key(raw) and row.created_by.username == "root"
    listing = admin_client.get("/admin/events/workflowapikey/").content.decode()
    assert row.prefix in listing and raw not in listing
    assert raw not in admin_client.get(f"/admin/events/workflowapikey/{row.pk}/change/").content.decode()


def test_revoke_action_revokes_the_selected_keys(admin_client, tenant, user):
    first, _ = services.create_api_key(tenant=tenant, name="one", user=user)
    second, _ = services.create_api_key(tenant=tenant, name="two", user=user)
    response = admin_client.post(
        "/admin/events/workflowapikey/",
        {"action": "revoke_selected", "_selected_action": [str(first.pk)]},
        follow=True,
    )
    assert "Revoked 1 API key" in response.content.decode()
    assert WorkflowApiKey.objects.get(pk=first.pk).revoked_at is not None
    assert WorkflowApiKey.objects.get(pk=second.pk).revoked_at is None


def test_wait_events_filter_by_status_and_namespace_and_show_the_payload(
    admin_client, make_workflow, user, tenant, worker
):
    workflow = make_workflow(payment_definition())
    trigger_workflow(workflow_id=workflow.pk, user_name=user.username, input={"orderId": 1})
    trigger_workflow(workflow_id=workflow.pk, user_name=user.username, input={"orderId": 2})
    worker.run_until_idle()
    services.signal_event(
        tenant_id=tenant.pk,
        namespace="payments",
        key="order-1",
        payload={"transactionId": "txn_visible"},
        source="tests",
    )
    received = admin_client.get("/admin/events/waitevent/", {"status__exact": "received", "namespace": "payments"})
    text = received.content.decode()
    assert received.status_code == 200 and "order-1" in text and "order-2" not in text
    wait = WaitEvent.objects.get(key="order-1")
    detail = admin_client.get(f"/admin/events/waitevent/{wait.pk}/change/").content.decode()
    assert "txn_visible" in detail and "&quot;transactionId&quot;" in detail
