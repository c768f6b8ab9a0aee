"""The active tenant: its default, the switcher, and the pages and API calls that follow it."""

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.conftest import chain
from workflows.models import Execution, Membership, Workflow
from workflows.services import trigger_workflow
from workflows.tenancy import SESSION_KEY

pytestmark = pytest.mark.django_db

SET_A = chain({"id": "a", "type": "set", "label": "A", "config": {"values": {"x": 1}}})


@pytest.fixture
def second(make_tenant, user):
    """A second tenant of alice's, joined after Acme but first by name."""
    tenant = make_tenant("Aardvark")
    Membership.objects.create(tenant=tenant, user=user)
    return tenant


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def switch(client, tenant_id, next_url="/workflows/"):
    return client.post("/accounts/tenant/", {"tenant": str(tenant_id), "next": next_url})


def test_the_default_is_the_first_membership_by_tenant_name(user, tenant, second):
    page = logged_in(user).get("/").content.decode()
    assert "You work in <strong>Aardvark</strong>" in page
    assert f'<option value="{second.pk}" selected>Aardvark</option>' in page
    assert f'<option value="{tenant.pk}">Acme</option>' in page


def test_a_member_of_one_tenant_gets_no_switcher(user):
    page = logged_in(user).get("/").content.decode()
    assert "You work in <strong>Acme</strong>" in page and 'action="/accounts/tenant/"' not in page


def test_the_switch_is_remembered_in_the_session_only(user, tenant, second):
    client = logged_in(user)
    answer = switch(client, tenant.pk)
    assert (answer.status_code, answer["Location"]) == (302, "/workflows/")
    assert client.session[SESSION_KEY] == str(tenant.pk)
    assert "You work in <strong>Acme</strong>" in client.get("/").content.decode()
    assert "You work in <strong>Aardvark</strong>" in logged_in(user).get("/").content.decode()


def test_a_switch_to_a_foreign_tenant_answers_404_and_changes_nothing(user, tenant, second, other_tenant):
    client = logged_in(user)
    switch(client, tenant.pk)
    assert switch(client, other_tenant.pk).status_code == 404
    assert switch(client, "not-an-id").status_code == 404
    assert client.get("/accounts/tenant/").status_code == 405
    assert client.session[SESSION_KEY] == str(tenant.pk)
    assert "You work in <strong>Acme</strong>" in client.get("/").content.decode()


def test_a_switch_returns_only_to_this_sites_pages(user, tenant, second):
    assert switch(logged_in(user), tenant.pk, next_url="https://evil.example/")["Location"] == "/"


def test_a_lost_membership_falls_back_to_the_default(user, tenant, second, make_tenant):
    third = make_tenant("Zenith")
    Membership.objects.create(tenant=third, user=user)
    client = logged_in(user)
    switch(client, third.pk)
    Membership.objects.filter(tenant=third, user=user).delete()
    assert "You work in <strong>Aardvark</strong>" in client.get("/").content.decode()


def test_a_user_without_membership_sees_empty_pages(make_user, make_workflow):
    make_workflow(SET_A, name="Not yours")
    client = logged_in(make_user("nomad"))
    assert "not a member of any tenant" in client.get("/").content.decode()
    assert "Not yours" not in client.get("/workflows/").content.decode()


def test_home_and_workflow_list_follow_the_active_tenant(user, tenant, second, make_workflow):
    mine = make_workflow(SET_A, name="Acme intake", on_tenant=tenant)
    make_workflow(SET_A, name="Aardvark payroll", on_tenant=second)
    make_workflow(SET_A, name="Aardvark billing", on_tenant=second)
    result = trigger_workflow(workflow_id=mine.pk, user_name=user.username, input={})
    client = logged_in(user)
    listing = client.get("/workflows/").content.decode()
    assert "Aardvark payroll" in listing and "Acme intake" not in listing
    assert f'data-execution-id="{result.execution_id}"' not in listing
    assert "2 workflows" in client.get("/").content.decode()
    switch(client, tenant.pk)
    listing = client.get("/workflows/").content.decode()
    assert "Acme intake" in listing and "Aardvark payroll" not in listing
    assert f'data-execution-id="{result.execution_id}"' in listing
    assert f"tenant={tenant.pk}" in listing  # the live table listens to this tenant only
    assert "1 workflow<" in client.get("/").content.decode()


def test_detail_pages_stay_open_across_your_tenants(user, tenant, second, make_workflow):
    other = make_workflow(SET_A, name="Acme intake", on_tenant=tenant)
    assert logged_in(user).get(f"/workflows/{other.pk}/").status_code == 200  # active: Aardvark


def test_the_embed_example_triggers_only_in_the_active_tenant(user, tenant, second, make_workflow):
    acme = make_workflow(SET_A, name="Acme intake", on_tenant=tenant)
    client = logged_in(user)
    answer = client.post("/workflows/examples/embed/", {"workflow": str(acme.pk), "input": "{}"})
    assert answer.status_code == 400 and not Execution.objects.exists()
    switch(client, tenant.pk)
    answer = client.post("/workflows/examples/embed/", {"workflow": str(acme.pk), "input": "{}"})
    assert answer.status_code == 302 and Execution.objects.get().tenant_id == tenant.pk


def test_the_api_still_lists_every_tenant_of_yours(user, tenant, second, make_workflow):
    make_workflow(SET_A, name="Acme intake", on_tenant=tenant)
    make_workflow(SET_A, name="Aardvark payroll", on_tenant=second)
    names = {w["name"] for w in logged_in(user).get("/api/workflows/").json()["results"]}
    assert names == {"Acme intake", "Aardvark payroll"}


def test_a_session_api_create_without_tenant_goes_to_the_active_tenant(user, tenant, second):
    client = logged_in(user)
    body = {"name": "From the browser", "definition": SET_A}
    answer = client.post("/api/workflows/", body, content_type="application/json")
    assert answer.status_code == 201 and answer.json()["tenant"] == str(second.pk)
    switch(client, tenant.pk)
    answer = client.post("/api/workflows/", {**body, "tenant": str(second.pk)}, content_type="application/json")
    assert answer.json()["tenant"] == str(second.pk)  # an explicit tenant still wins
    answer = client.post("/api/workflows/", body, content_type="application/json")
    assert answer.json()["tenant"] == str(tenant.pk)


def test_a_token_api_create_still_needs_a_tenant_from_members_of_several(user, tenant, second):
    token = Token.objects.create(user=user)
    client = APIClient(HTTP_AUTHORIZATION=f"Token {token.key}")
    answer = client.post("/api/workflows/", {"name": "From a script", "definition": SET_A}, format="json")
    assert answer.status_code == 400 and "2 tenants" in str(answer.json())
    assert not Workflow.objects.filter(name="From a script").exists()
