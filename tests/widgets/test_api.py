"""fetchWidgetData (ASYNC / SYNC), the registry stats and the stale-connection cleanup."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from tests.conftest import documented_properties, error_fields
from tests.widgets.conftest import CHART, three_steps
from widgets import registry
from widgets.models import Widget, WidgetConnection
from workflows.models import Execution


@pytest.fixture
def saved(make_workflow, tenant, user):
    def make(definition=None, **fields):
        wf = make_workflow(definition or three_steps())
        defaults = {"name": "Chart", "widget_type": "vega-lite", "config": CHART, "input_params": {"k": 1}}
        return Widget.objects.create(tenant=tenant, workflow=wf, created_by=user, **{**defaults, **fields})

    return make


@pytest.mark.django_db
def test_async_starts_the_execution_and_answers_at_once(api, saved):
    widget = saved()
    response = api.post(
        f"/api/widgets/{widget.pk}/data/", {"executionMode": "ASYNC", "inputParams": {"extra": 2}}, format="json"
    )
    assert response.status_code == 202
    execution = Execution.objects.get(pk=response.data["instanceID"])
    assert response.data["status"] == "running" and response.data["workflowStatus"] == "PENDING"
    assert execution.input == {"k": 1, "extra": 2} and execution.workflow_id == widget.workflow_id


@pytest.mark.django_db(transaction=True)
def test_sync_waits_for_the_end_and_answers_processed_data(api, saved, worker_thread):
    widget = saved()
    worker_thread()
    response = api.post(f"/api/widgets/{widget.pk}/data/", {"executionMode": "SYNC"}, format="json")
    assert response.status_code == 200, response.data
    assert response.data["status"] == "success" and response.data["workflowStatus"] == "COMPLETED"
    assert response.data["processedData"]["spec"]["data"]["values"] == [{"x": 1, "y": 1}, {"x": 2, "y": 2}]
    assert response.data["context"]["B"] == {"n": 2}


@pytest.mark.django_db(transaction=True)
def test_both_answers_are_what_the_schema_documents(api, saved, worker_thread):
    widget = saved()
    worker_thread()
    path = "/api/widgets/{widget_id}/data/"
    answer = api.post(f"/api/widgets/{widget.pk}/data/", {"executionMode": "ASYNC"}, format="json")
    assert set(answer.json()) == documented_properties(api, path, "post", "202")
    answer = api.post(f"/api/widgets/{widget.pk}/data/", {"executionMode": "SYNC"}, format="json")
    assert set(answer.json()) == documented_properties(api, path, "post", "200")


@pytest.mark.django_db(transaction=True)
def test_sync_without_a_widget_row_uses_the_request(api, make_workflow, worker_thread):
    wf = make_workflow(three_steps())
    worker_thread()
    response = api.post(
        "/api/widgets/preview-1/data/",
        {
            "executionMode": "SYNC",
            "workflowID": str(wf.pk),
            "widgetType": "metric",
            "widgetConfig": {"value": "{{ctx.B.n}}", "previous": "{{ctx.A.n}}", "label": "N"},
        },
        format="json",
    )
    assert response.status_code == 200
    assert response.data["processedData"]["value"] == 2 and response.data["processedData"]["delta"] == 1


@pytest.mark.django_db
def test_sync_times_out_with_the_instance_to_subscribe_to(api, saved, settings):
    settings.WIDGET_SYNC_TIMEOUT_SECONDS = 0.3
    widget = saved()
    response = api.post(f"/api/widgets/{widget.pk}/data/", {"executionMode": "SYNC"}, format="json")
    assert response.status_code == 504
    assert response.data["code"] == "sync_timeout" and response.data["field"] == "instanceID"
    assert Execution.objects.filter(workflow=widget.workflow).count() == 1


@pytest.mark.django_db
def test_bad_requests_name_the_field_and_start_nothing(api, saved, make_workflow, other_tenant):
    widget = saved()
    response = api.post(f"/api/widgets/{widget.pk}/data/", {"executionMode": "LATER"}, format="json")
    assert response.status_code == 400 and "executionMode" in error_fields(response)
    response = api.post(f"/api/widgets/{widget.pk}/data/", {"inputParams": [1]}, format="json")
    assert response.status_code == 400 and "inputParams" in error_fields(response)
    response = api.post("/api/widgets/preview/data/", {"executionMode": "ASYNC"}, format="json")
    assert response.status_code == 400 and response.data["field"] == "workflowID"
    theirs = make_workflow(three_steps(), on_tenant=other_tenant)
    response = api.post("/api/widgets/preview/data/", {"workflowID": str(theirs.pk)}, format="json")
    assert response.status_code == 404
    response = api.post(f"/api/widgets/{widget.pk}/data/", {"tenantID": str(other_tenant.pk)}, format="json")
    assert response.status_code == 404
    assert not Execution.objects.exists()


@pytest.mark.django_db
def test_another_tenants_saved_widget_answers_like_an_id_that_names_none(saved, other_user):
    widget = saved()
    client = APIClient()
    client.force_authenticate(other_user)
    theirs = client.post(f"/api/widgets/{widget.pk}/data/", {}, format="json")
    missing_id = str(uuid.uuid4())
    missing = client.post(f"/api/widgets/{missing_id}/data/", {}, format="json")
    assert theirs.status_code == missing.status_code
    assert theirs.json() == {k: v.replace(missing_id, str(widget.pk)) for k, v in missing.json().items()}
    assert theirs.status_code == 404 and theirs.json()["field"] == "widgetID"
    assert not Execution.objects.exists()
    assert APIClient().post(f"/api/widgets/{widget.pk}/data/", {}, format="json").status_code in (401, 403)


def _connection(execution, *, widget_id="w", channel="specific.x!1", seen=None):
    row = registry.register(
        channel_name=channel, widget_id=widget_id, execution=execution, user=None, mode="execute", widget_type="table"
    )
    if seen is not None:
        WidgetConnection.objects.filter(pk=row.pk).update(last_seen_at=seen)
    return row


@pytest.mark.django_db
def test_stats_are_for_staff_and_scoped_to_their_tenants(
    make_user, tenant, other_tenant, make_workflow, user, other_user
):
    from workflows.services import trigger_workflow

    mine = trigger_workflow(workflow_id=make_workflow(three_steps()).pk, user_name="alice", input={})
    theirs = trigger_workflow(
        workflow_id=make_workflow(three_steps(), on_tenant=other_tenant).pk, user_name="mallory", input={}
    )
    _connection(Execution.objects.get(pk=mine.execution_id), widget_id="a")
    _connection(Execution.objects.get(pk=mine.execution_id), widget_id="b", channel="specific.x!2")
    _connection(Execution.objects.get(pk=theirs.execution_id), widget_id="c")
    client = APIClient()
    client.force_authenticate(user)
    assert client.get("/api/widgets/stats/").status_code == 403
    staff = make_user("sam", tenant=tenant, is_staff=True)
    client.force_authenticate(staff)
    body = client.get("/api/widgets/stats/").json()
    assert body["totalWidgets"] == 2 and body["totalInstances"] == 1 and body["totalSockets"] == 2
    assert body["byWidgetType"] == {"table": 2}
    assert {c["widgetID"] for c in body["connections"]} == {"a", "b"}
    root = make_user("root", is_staff=True, is_superuser=True)
    client.force_authenticate(root)
    assert client.get("/api/widgets/stats/").json()["totalWidgets"] == 3


def _executions_in_two_tenants(make_workflow, other_tenant) -> tuple[Execution, Execution]:
    """An execution of the caller's tenant (alice's) and one of another tenant (mallory's)."""
    from workflows.services import trigger_workflow

    def start(workflow, user_name):
        return Execution.objects.get(
            pk=trigger_workflow(workflow_id=workflow.pk, user_name=user_name, input={}).execution_id
        )

    return (
        start(make_workflow(three_steps()), "alice"),
        start(make_workflow(three_steps(), on_tenant=other_tenant), "mallory"),
    )


@pytest.mark.django_db
def test_registry_answers_a_widgets_connection_and_an_instances_widgets_within_the_tenants(
    make_workflow, tenant, other_tenant, user, other_user
):
    mine, theirs = _executions_in_two_tenants(make_workflow, other_tenant)
    _connection(mine, widget_id="chart", channel="specific.x!1")
    _connection(mine, widget_id="chart", channel="specific.x!2")  # the same widget in a second tab
    _connection(mine, widget_id="table")
    _connection(theirs, widget_id="spy")
    assert registry.widgets_for_instance(mine.pk, tenant_ids=[tenant.pk]) == ["chart", "table"]
    assert registry.widgets_for_instance(theirs.pk, tenant_ids=[tenant.pk]) == []
    assert registry.widgets_for_instance(theirs.pk, tenant_ids=None) == ["spy"]
    chart = registry.widget_connection("chart", tenant_ids=[tenant.pk])
    assert chart["instanceID"] == str(mine.pk) and chart["registrations"] == 2 and chart["widgetType"] == "table"
    assert registry.widget_connection("spy", tenant_ids=[tenant.pk]) is None
    assert registry.widget_connection("nothing", tenant_ids=None) is None


@pytest.mark.django_db
def test_operators_read_a_widgets_connection_and_an_instances_widgets_of_their_tenants(
    make_user, make_workflow, tenant, other_tenant, user, other_user, api
):
    mine, theirs = _executions_in_two_tenants(make_workflow, other_tenant)
    _connection(mine, widget_id="chart")
    _connection(theirs, widget_id="spy")
    assert api.get("/api/widgets/connections/chart/").status_code == 403  # members are not operators
    staff = APIClient()
    staff.force_authenticate(make_user("sam", tenant=tenant, is_staff=True))
    body = staff.get("/api/widgets/connections/chart/").json()
    assert body["widgetID"] == "chart" and body["instanceID"] == str(mine.pk) and body["registrations"] == 1
    assert set(body) == documented_properties(staff, "/api/widgets/connections/{widget_id}/", "get", "200")
    missing = staff.get("/api/widgets/connections/spy/")
    assert missing.status_code == 404 and missing.json()["field"] == "widgetID"
    assert staff.get(f"/api/widgets/instances/{mine.pk}/").json() == {
        "instanceID": str(mine.pk),
        "widgetIDs": ["chart"],
    }
    hidden = staff.get(f"/api/widgets/instances/{theirs.pk}/")
    assert hidden.status_code == 404 and hidden.json()["field"] == "instanceID"
    root = APIClient()
    root.force_authenticate(make_user("root", is_staff=True, is_superuser=True))
    assert root.get(f"/api/widgets/instances/{theirs.pk}/").json()["widgetIDs"] == ["spy"]
    assert root.get("/api/widgets/connections/spy/").json()["instanceID"] == str(theirs.pk)


@pytest.mark.django_db
def test_cleanup_removes_only_stale_connections(make_workflow, user, settings):
    from workflows.services import trigger_workflow

    execution = Execution.objects.get(
        pk=trigger_workflow(workflow_id=make_workflow(three_steps()).pk, user_name="alice", input={}).execution_id
    )
    _connection(execution, widget_id="old", seen=timezone.now() - timedelta(hours=2))
    _connection(execution, widget_id="fresh")
    call_command("cleanup_widget_connections")
    assert list(WidgetConnection.objects.values_list("widget_id", flat=True)) == ["fresh"]
    _connection(execution, widget_id="minute", seen=timezone.now() - timedelta(minutes=2))
    assert registry.cleanup_stale(max_age_seconds=60) == 1
    assert registry.widgets_for_instance(execution.pk, tenant_ids=[execution.tenant_id]) == ["fresh"]
    assert settings.WORKFLOW_WORKER_DUTIES["widgets.registry.cleanup_stale"] > 0


@pytest.mark.django_db
def test_the_worker_runs_the_cleanup_duty(make_workflow, user):
    from workflows.services import trigger_workflow
    from workflows.worker import _load_duties

    execution = Execution.objects.get(
        pk=trigger_workflow(workflow_id=make_workflow(three_steps()).pk, user_name="alice", input={}).execution_id
    )
    _connection(execution, widget_id="old", seen=timezone.now() - timedelta(hours=2))
    duties = dict((fn.__name__, fn) for fn, _ in _load_duties())
    duties["cleanup_stale"]()
    assert not WidgetConnection.objects.exists()


@pytest.mark.django_db
def test_widget_input_node_times_out_with_an_output(make_workflow, user, run_until, finished):
    from tests.conftest import chain
    from workflows.services import trigger_workflow

    wf = make_workflow(chain({"id": "w", "type": "widget-input", "label": "Wait", "config": {"timeout": "1s"}}))
    started = trigger_workflow(workflow_id=wf.pk, user_name="alice", input={})
    run_until(finished(started.execution_id))
    execution = Execution.objects.get(pk=started.execution_id)
    assert execution.status == "success"
    assert execution.context["Wait"]["timedOut"] is True


@pytest.mark.django_db
def test_widget_input_node_validates_its_timeout(make_workflow):
    from tests.conftest import chain
    from workflows.exceptions import InvalidDefinition

    with pytest.raises(InvalidDefinition) as info:
        make_workflow(chain({"id": "w", "type": "widget-input", "label": "Wait", "config": {"timeout": "soon"}}))
    assert info.value.errors[0]["field"] == "config.timeout"
