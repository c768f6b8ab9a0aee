"""The node catalog API: every node type with its fields, and dynamic options of a field."""

import pytest
from rest_framework.test import APIClient

from tests.conftest import error_fields
from tests.workflows.plugins_support import echo_plugins  # noqa: F401 (fixture)
from workflows import integrations


@pytest.mark.django_db
def test_catalog_lists_builtin_and_plugin_nodes_with_fields(api):
    body = api.get("/api/nodes/").json()
    by_type = {n["type"]: n for n in body["nodes"]}
    assert {"trigger", "condition", "http-request", "sms/send", "datasource-query", "datasource-update"} <= set(by_type)
    sms = by_type["sms/send"]
    assert sms["label"] == "Send SMS" and sms["category"] == "SMS" and sms["integration"] == "sms"
    keys = [f["key"] for f in sms["configFields"]]
    assert keys == ["integrationId", "phoneNumber", "message"]
    assert sms["configFields"][0]["optionsUrl"] == "/api/nodes/sms/send/options/integrationId/"
    assert sms["configFields"][1] == {
        "key": "phoneNumber",
        "label": "Phone Number",
        "type": "template-input",
        "required": True,
        "placeholder": "+1234567890",
    }
    assert sms["outputFields"][1] == {"field": "messageId", "description": "The SMS message ID"}
    select = next(f for f in by_type["datasource-query"]["configFields"] if f["key"] == "select")
    assert select["type"] == "multi-select" and select["optionsDependencyKeys"] == ["datasourceId"]
    assert "getOptions" not in select


@pytest.mark.django_db
def test_catalog_lists_integrations_with_form_fields_and_actions(api):
    (sms,) = [i for i in api.get("/api/nodes/").json()["integrations"] if i["type"] == "sms"]
    assert sms["label"] == "SMS" and sms["icon"] == "message-square"
    assert sms["formFields"] == [
        {
            "id": "apiKey",
            "label": "API Key",
            "type": "password",
            "placeholder": "Your SMS provider API key",
            "configKey": "apiKey",
            "required": True,
        }
    ]
    assert [(a["id"], a["slug"], a["category"]) for a in sms["actions"]] == [("sms/send", "send", "SMS")]


@pytest.mark.django_db
def test_catalog_needs_a_signed_in_user():
    assert APIClient().get("/api/nodes/").status_code in (401, 403)


@pytest.mark.django_db
def test_options_from_the_datasources_source(api):
    response = api.post("/api/nodes/datasource-query/options/datasourceId/", {"config": {}}, format="json")
    assert response.status_code == 200
    assert response.json() == {"options": [{"value": "orders", "label": "Orders"}]}


@pytest.mark.django_db
def test_options_from_get_options_depend_on_the_config(api):
    url = "/api/nodes/datasource-query/options/select/"
    assert api.post(url, {"config": {}}, format="json").json() == {"options": []}
    values = [
        o["value"] for o in api.post(url, {"config": {"datasourceId": "orders"}}, format="json").json()["options"]
    ]
    assert values == ["id", "number", "customer", "amount", "status", "created_at"]
    assert "internal_note" not in values


@pytest.mark.django_db
def test_integration_options_are_your_own_of_that_type(api, tenant, user, make_user):
    bob = make_user("bob", tenant=tenant)
    mine = integrations.create_integration(
        tenant=tenant, owner=user, type="sms", name="Mine", credentials={"apiKey": "k"}
    )
    integrations.create_integration(tenant=tenant, owner=bob, type="sms", name="Bob's", credentials={"apiKey": "k"})
    response = api.post("/api/nodes/sms/send/options/integrationId/", {}, format="json")
    assert response.json() == {"options": [{"value": mine.pk, "label": "Mine"}]}


@pytest.mark.django_db
def test_static_options_are_served_too(api):
    response = api.post("/api/nodes/datasource-query/options/orderDirection/", {"config": {}}, format="json")
    assert [o["value"] for o in response.json()["options"]] == ["asc", "desc"]


@pytest.mark.django_db
def test_unknown_action_or_field_is_404_and_a_field_without_options_400(api):
    assert api.post("/api/nodes/fax/send/options/x/", {}, format="json").status_code == 404
    response = api.post("/api/nodes/sms/send/options/nothing/", {}, format="json")
    assert response.status_code == 404 and response.json()["field"] == "fieldKey"
    response = api.post("/api/nodes/sms/send/options/message/", {}, format="json")
    assert response.status_code == 400 and "has no options" in response.json()["detail"]
    response = api.post("/api/nodes/datasource-query/options/select/", {"config": [1]}, format="json")
    assert response.status_code == 400 and "config" in error_fields(response)


@pytest.mark.django_db
def test_plugin_nodes_appear_when_configured(api, echo_plugins):
    types = {n["type"] for n in api.get("/api/nodes/").json()["nodes"]}
    assert {"echo/say", "echo/shout"} <= types


@pytest.mark.django_db
def test_a_failing_get_options_answers_502_naming_the_field(api, echo_plugins):
    response = api.post("/api/nodes/echo/shout/options/voice/", {"config": {}}, format="json")
    assert response.status_code == 502
    assert response.json()["field"] == "fieldKey"
    assert response.json()["detail"] == "options of echo/shout field 'voice' failed: KeyError: 'voices'"


@pytest.mark.django_db
def test_integration_options_narrow_to_the_workflows_tenant(api, tenant, user, make_tenant):
    from workflows.models import Membership

    second = make_tenant("Second")
    Membership.objects.create(tenant=second, user=user)
    here = integrations.create_integration(
        tenant=tenant, owner=user, type="sms", name="Here", credentials={"apiKey": "k"}
    )
    integrations.create_integration(tenant=second, owner=user, type="sms", name="There", credentials={"apiKey": "k"})
    url = "/api/nodes/sms/send/options/integrationId/"
    assert len(api.post(url, {}, format="json").json()["options"]) == 2
    assert api.post(url, {"tenant": str(tenant.pk)}, format="json").json()["options"] == [
        {"value": here.pk, "label": "Here"}
    ]
    assert api.post(url, {"tenant": str(make_tenant("Alien").pk)}, format="json").status_code == 400
