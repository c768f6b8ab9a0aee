"""The admin lists integrations without their credentials, and plans schedules it saves."""

import pytest
from django.test import Client
from django.utils import timezone

from tests.conftest import chain
from workflows import integrations
from workflows.models import Schedule


@pytest.fixture
def staff(make_user, tenant):
    return make_user("root", tenant=tenant, is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(staff):
    client = Client()
    client.force_login(staff)
    return client


@pytest.mark.django_db
def test_integration_pages_never_show_credentials(admin_client, tenant, staff):
    integration = integrations.create_integration(
        tenant=tenant, owner=staff, type="sms", name="Prov", credentials={"apiKey": "sk-admin"}
    )
    for url in ("/admin/workflows/integration/", f"/admin/workflows/integration/{integration.pk}/change/"):
        page = admin_client.get(url)
        assert page.status_code == 200
        assert (
            "sk-admin" not in page.content.decode() and integration.credentials_encrypted not in page.content.decode()
        )
    assert admin_client.get("/admin/workflows/integration/add/").status_code == 403


@pytest.mark.django_db
def test_a_schedule_saved_in_the_admin_is_planned(admin_client, make_workflow, staff, tenant):
    wf = make_workflow(chain())
    page = admin_client.post(
        "/admin/workflows/schedule/add/",
        {
            "workflow": wf.pk,
            "cron": "*/10 * * * *",
            "timezone": "UTC",
            "input": "{}",
            "run_as": staff.pk,
            "is_active": "on",
        },
    )
    assert page.status_code == 302, page.content.decode()[:2000]
    schedule = Schedule.objects.get()
    assert schedule.tenant_id == tenant.pk and schedule.next_run_at > timezone.now()
    bad = admin_client.post(
        "/admin/workflows/schedule/add/",
        {"workflow": wf.pk, "cron": "often", "timezone": "UTC", "input": "{}", "run_as": staff.pk},
    )
    assert bad.status_code == 200 and "not a valid cron expression" in bad.content.decode()
