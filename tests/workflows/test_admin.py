"""The admin admits superusers only: a tenant's staff cannot read any tenant's rows there."""

from __future__ import annotations

import pytest

from tests.conftest import chain
from workflows.services import trigger_workflow

SET = {"id": "a", "type": "set", "label": "A", "config": {"values": {"secret": "{{Trigger.secret}}"}}}


@pytest.fixture
def their_execution(make_workflow, other_tenant, other_user):
    wf = make_workflow(chain(SET), on_tenant=other_tenant)
    return trigger_workflow(workflow_id=wf.pk, user_name=other_user.username, input={"secret": "s3cret"}).execution_id


def test_a_tenants_staff_is_refused_by_the_admin(client, make_user, tenant, their_execution):
    staff = make_user("staffer", tenant=tenant, is_staff=True)
    client.force_login(staff)
    for url in ("/admin/", "/admin/workflows/execution/", f"/admin/workflows/execution/{their_execution}/change/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/"), url
    assert (
        "s3cret"
        not in client.get(f"/admin/workflows/execution/{their_execution}/change/", follow=True).content.decode()
    )


def test_the_admin_login_refuses_staff_who_are_not_superusers(client, make_user, tenant):
    make_user("staffer", tenant=tenant, is_staff=True)
    client.post("/admin/login/", {"username": "staffer", "password": "pw-for-tests", "next": "/admin/"})
    page = client.get("/admin/", follow=True)
    assert page.request["PATH_INFO"] == "/admin/login/"
    assert "not authorized to access this page" in page.content.decode()


def test_a_superuser_reads_every_tenant(client, make_user, tenant, their_execution):
    root = make_user("root", tenant=tenant, is_staff=True, is_superuser=True)
    client.force_login(root)
    assert client.get(f"/admin/workflows/execution/{their_execution}/change/").status_code == 200
