"""POST /api/api-keys/create, GET /api/api-keys/, POST /api/api-keys/{id}/revoke/."""

import pytest
from rest_framework.test import APIClient

from events import keys, services
from events.models import WorkflowApiKey
from tests.conftest import error_fields
from tests.events.conftest import SIGNAL_URL
from workflows.models import Membership

pytestmark = pytest.mark.django_db


def test_create_answers_the_key_once_and_stores_only_its_hash(api, tenant):
    response = api.post("/api/api-keys/create", {"name": "Stripe Webhook Key"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert set(body) >= {"id", "name", "key", "keyPrefix"} and body["name"] == "Stripe Webhook Key"
    assert body["key"].startswith(body["keyPrefix"] + "-") and body["keyPrefix"].startswith("wfb_")
    row = WorkflowApiKey.objects.get(pk=body["id"])
    assert row.tenant_id == tenant.pk and row.key_hash == keys.hash_key(body["key"])
    assert body["key"] not in str(WorkflowApiKey.objects.filter(pk=body["id"]).values().get())


def test_the_created_key_authenticates_the_signal_api(api):
    raw = api.post("/api/api-keys/create", {"name": "k"}, format="json").json()["key"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = client.post(SIGNAL_URL, {"eventNamespace": "n", "eventKey": "k"}, format="json")
    assert response.status_code == 202


def test_create_with_a_trailing_slash_works_too(api):
    assert api.post("/api/api-keys/create/", {"name": "k"}, format="json").status_code == 201


def test_create_without_a_name_answers_400_naming_it(api):
    response = api.post("/api/api-keys/create", {}, format="json")
    assert response.status_code == 400 and "name" in error_fields(response)
    assert not WorkflowApiKey.objects.exists()


def test_create_needs_a_tenant_when_the_user_has_several(api, user, other_tenant, tenant):
    Membership.objects.create(tenant=other_tenant, user=user)
    user._tenant_ids = None
    response = api.post("/api/api-keys/create", {"name": "k"}, format="json")
    assert response.status_code == 400 and "tenant" in error_fields(response)
    ok = api.post("/api/api-keys/create", {"name": "k", "tenant": str(other_tenant.pk)}, format="json")
    assert ok.status_code == 201 and WorkflowApiKey.objects.get().tenant_id == other_tenant.pk


def test_create_refuses_a_tenant_the_user_is_not_in(api, other_tenant):
    response = api.post("/api/api-keys/create", {"name": "k", "tenant": str(other_tenant.pk)}, format="json")
    assert response.status_code == 400 and not WorkflowApiKey.objects.exists()


def test_anonymous_users_cannot_create_keys():
    response = APIClient().post("/api/api-keys/create", {"name": "k"}, format="json")
    assert response.status_code in (401, 403) and not WorkflowApiKey.objects.exists()


def test_list_shows_the_tenants_keys_without_secrets(api, api_key, other_tenant, other_user):
    services.create_api_key(tenant=other_tenant, name="Theirs", user=other_user)
    response = api.get("/api/api-keys/")
    assert response.status_code == 200
    [item] = response.json()["results"]
    assert item["name"] == "Stripe webhook" and item["keyPrefix"] == api_key[0].prefix
    assert set(item) >= {"createdAt", "lastUsedAt", "revokedAt", "revoked"}
    assert "key" not in item and "keyHash" not in item and api_key[1] not in response.content.decode()


def test_revoke_stops_the_key_at_once(api, api_key, signal):
    response = api.post(f"/api/api-keys/{api_key[0].pk}/revoke/")
    assert response.status_code == 200 and response.json()["revoked"] is True
    assert signal("anything").status_code == 401
    assert api.post(f"/api/api-keys/{api_key[0].pk}/revoke/").status_code == 200  # idempotent


def test_revoking_a_key_of_another_tenant_answers_404(api, other_tenant, other_user):
    theirs, _ = services.create_api_key(tenant=other_tenant, name="Theirs", user=other_user)
    assert api.post(f"/api/api-keys/{theirs.pk}/revoke/").status_code == 404
    assert WorkflowApiKey.objects.get(pk=theirs.pk).revoked_at is None


def test_only_the_creator_or_a_tenant_admin_may_revoke(api_key, make_user, tenant):
    colleague = make_user("bob", tenant=tenant)
    client = APIClient()
    client.force_authenticate(colleague)
    assert client.post(f"/api/api-keys/{api_key[0].pk}/revoke/").status_code == 403
    Membership.objects.filter(user=colleague).update(role="admin")
    assert client.post(f"/api/api-keys/{api_key[0].pk}/revoke/").status_code == 200
