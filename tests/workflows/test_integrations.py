"""Integrations: credentials encrypted at rest and never returned; ownership enforced on trigger."""

import pytest
from cryptography.fernet import Fernet
from rest_framework.test import APIClient

from tests.conftest import chain
from tests.workflows.plugins_support import node
from workflows import integrations
from workflows.encryption import decrypt_json, encrypt_json
from workflows.exceptions import InvalidInput, InvalidIntegrationReferences
from workflows.models import Execution, Integration, Membership
from workflows.services import trigger_workflow


def sms_node(node_id, integration_id, label=None):
    return node(
        node_id, "sms/send", label or f"SMS {node_id}", integrationId=integration_id, phoneNumber="+1", message="hi"
    )


@pytest.fixture
def mine(tenant, user):
    return integrations.create_integration(
        tenant=tenant, owner=user, type="sms", name="Mine", credentials={"apiKey": "alice-key"}
    )


@pytest.fixture
def bob(make_user, tenant):
    return make_user("bob", tenant=tenant)


@pytest.fixture
def bobs(tenant, bob):
    return integrations.create_integration(
        tenant=tenant, owner=bob, type="sms", name="Bob's", credentials={"apiKey": "bob-key"}
    )


@pytest.mark.django_db
def test_credentials_are_encrypted_at_rest(mine):
    stored = Integration.objects.values_list("credentials_encrypted", flat=True).get(pk=mine.pk)
    assert "alice-key" not in stored
    assert decrypt_json(stored) == {"apiKey": "alice-key"}


def test_key_rotation_still_reads_old_tokens(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.WORKFLOW_INTEGRATION_KEYS = [old]
    token = encrypt_json({"apiKey": "x"})
    settings.WORKFLOW_INTEGRATION_KEYS = [new, old]
    assert decrypt_json(token) == {"apiKey": "x"}
    settings.WORKFLOW_INTEGRATION_KEYS = [new]
    with pytest.raises(ValueError, match="cannot be decrypted"):
        decrypt_json(token)


@pytest.mark.django_db
def test_credentials_must_fit_the_form_fields(tenant, user):
    with pytest.raises(InvalidInput) as caught:
        integrations.create_integration(tenant=tenant, owner=user, type="sms", name="x", credentials={})
    assert caught.value.field == "credentials.apiKey"
    with pytest.raises(InvalidInput, match="unknown credential fields: password"):
        integrations.create_integration(
            tenant=tenant, owner=user, type="sms", name="x", credentials={"apiKey": "k", "password": "p"}
        )
    with pytest.raises(InvalidInput, match="unknown integration type 'fax'") as caught:
        integrations.create_integration(tenant=tenant, owner=user, type="fax", name="x", credentials={})
    assert caught.value.field == "type"
    assert Integration.objects.count() == 0


# --- API ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_api_creates_and_never_returns_credentials(api, tenant):
    response = api.post(
        "/api/integrations/", {"type": "sms", "name": "Twilio-ish", "credentials": {"apiKey": "sk-1"}}, format="json"
    )
    assert response.status_code == 201, response.content
    assert "sk-1" not in response.content.decode()
    assert response.json()["credentialKeys"] == ["apiKey"] and "credentials" not in response.json()
    pk = response.json()["id"]
    for answer in (api.get("/api/integrations/"), api.get(f"/api/integrations/{pk}/")):
        assert answer.status_code == 200 and "sk-1" not in answer.content.decode()
    assert api.get(f"/api/integrations/{pk}/").json()["tenant"] == str(tenant.pk)


@pytest.mark.django_db
def test_api_bad_credentials_answer_400_naming_the_field(api):
    response = api.post(
        "/api/integrations/", {"type": "sms", "name": "x", "credentials": {"apiKey": ""}}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["field"] == "credentials.apiKey"


@pytest.mark.django_db
def test_api_update_replaces_credentials_and_renames(api, mine):
    response = api.patch(
        f"/api/integrations/{mine.pk}/", {"name": "Renamed", "credentials": {"apiKey": "new"}}, format="json"
    )
    assert response.status_code == 200 and response.json()["name"] == "Renamed"
    mine.refresh_from_db()
    assert decrypt_json(mine.credentials_encrypted) == {"apiKey": "new"}


@pytest.mark.django_db
def test_api_shows_only_your_own_integrations(api, mine, bobs, other_user):
    assert [i["name"] for i in api.get("/api/integrations/").json()["results"]] == ["Mine"]
    assert api.get(f"/api/integrations/{bobs.pk}/").status_code == 404
    assert api.delete(f"/api/integrations/{bobs.pk}/").status_code == 404
    stranger = APIClient()
    stranger.force_authenticate(other_user)
    assert stranger.get(f"/api/integrations/{mine.pk}/").status_code == 404


@pytest.mark.django_db
def test_a_user_who_left_the_tenant_no_longer_sees_it(api, mine, user, tenant):
    Membership.objects.filter(user=user, tenant=tenant).delete()
    assert api.get(f"/api/integrations/{mine.pk}/").status_code == 404


# --- Ownership on trigger ------------------------------------------------------------------


@pytest.mark.django_db
def test_trigger_refuses_someone_elses_integration_naming_the_nodes(make_workflow, user, mine, bobs):
    wf = make_workflow(chain(sms_node("ok", mine.pk), sms_node("theirs", bobs.pk), sms_node("gone", 99999)))
    with pytest.raises(InvalidIntegrationReferences) as caught:
        trigger_workflow(workflow_id=wf.pk, user_name=user.username)
    assert "invalid integration references" in str(caught.value)
    assert caught.value.node_ids == ["gone", "theirs"]
    assert "gone" in caught.value.message and "theirs" in caught.value.message and "ok" not in caught.value.node_ids
    assert Execution.objects.count() == 0


@pytest.mark.django_db
def test_trigger_runs_with_own_integration(make_workflow, user, bob, bobs):
    wf = make_workflow(chain(sms_node("s", bobs.pk)))
    assert trigger_workflow(workflow_id=wf.pk, user_name=bob.username).status == "running"
    with pytest.raises(InvalidIntegrationReferences):
        trigger_workflow(workflow_id=wf.pk, user_name=user.username)


@pytest.mark.django_db
def test_an_integration_of_another_tenant_is_refused(make_workflow, make_tenant, user):
    elsewhere = make_tenant("Elsewhere")
    Membership.objects.create(tenant=elsewhere, user=user)
    foreign = integrations.create_integration(
        tenant=elsewhere, owner=user, type="sms", name="x", credentials={"apiKey": "k"}
    )
    wf = make_workflow(chain(sms_node("s", foreign.pk)))
    with pytest.raises(InvalidIntegrationReferences):
        trigger_workflow(workflow_id=wf.pk, user_name=user.username)


@pytest.mark.django_db
def test_rest_trigger_answers_403_with_the_message(api, make_workflow, bobs):
    wf = make_workflow(chain(sms_node("s", bobs.pk)))
    response = api.post(f"/api/workflows/{wf.pk}/trigger/", {"input": {}}, format="json")
    assert response.status_code == 403
    assert "invalid integration references" in response.json()["detail"]
    assert "s" in response.json()["detail"].split(": ")[-1]
    assert response.json()["code"] == "invalid_integration_references"
    assert Execution.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_an_integration_handed_away_after_the_trigger_fails_the_node(make_workflow, user, mine, bob, worker):
    wf = make_workflow(chain(sms_node("s", mine.pk, label="Send")))
    result = trigger_workflow(workflow_id=wf.pk, user_name=user.username)
    Integration.objects.filter(pk=mine.pk).update(owner=bob)
    worker.run_until_idle()
    execution = Execution.objects.get(pk=result.execution_id)
    assert execution.status == "error"
    assert "invalid integration references" in execution.error["message"]


def test_a_malformed_encryption_key_is_reported_at_start_up(settings):
    from workflows.checks import check_integration_keys

    settings.WORKFLOW_INTEGRATION_KEYS = [Fernet.generate_key().decode()]
    assert check_integration_keys() == []
    settings.WORKFLOW_INTEGRATION_KEYS = [Fernet.generate_key().decode(), "too-short"]
    (error,) = check_integration_keys()
    assert error.id == "workflows.E011" and error.msg.startswith("WORKFLOW_INTEGRATION_KEYS[1] is not a Fernet key")
