"""The operator console: finding executions (filters, sorting, cursor pages), acting on them
(cancel with a reason, retry, run again; bulk), the audit record, and tenant scoping."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tests.conftest import chain, error_fields
from workflows import operations, services
from workflows.models import BulkOperation, Execution, OperatorAction
from workflows.services import trigger_workflow

pytestmark = pytest.mark.django_db(transaction=True)

SLEEPY = chain({"id": "z", "type": "sleep", "label": "Nap", "config": {"duration": "1h"}})


def start(workflow, *, user_name="alice", **kwargs) -> Execution:
    return Execution.objects.get(
        pk=trigger_workflow(workflow_id=workflow.pk, user_name=user_name, **kwargs).execution_id
    )


def ids(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


def set_status(execution: Execution, status: str) -> None:
    Execution.objects.filter(pk=execution.pk).update(status=status)


# --- Filters ------------------------------------------------------------------------------------


def test_filter_by_workflow_one_or_several(api, make_workflow):
    a, b, c = (make_workflow(SLEEPY, name=n) for n in "abc")
    ea, eb, _ = start(a), start(b), start(c)
    assert ids(api.get(f"/api/executions/?workflow={a.pk}")) == [str(ea.pk)]
    assert set(ids(api.get(f"/api/executions/?workflow={a.pk},{b.pk}"))) == {str(ea.pk), str(eb.pk)}
    assert "workflow" in error_fields(api.get("/api/executions/?workflow=not-a-uuid"))


def test_filter_by_status_one_or_several(api, make_workflow):
    wf = make_workflow(SLEEPY)
    running, failed, cancelled = start(wf), start(wf), start(wf)
    set_status(failed, "error")
    set_status(cancelled, "cancelled")
    assert ids(api.get("/api/executions/?status=error")) == [str(failed.pk)]
    assert set(ids(api.get("/api/executions/?status=error,cancelled"))) == {str(failed.pk), str(cancelled.pk)}
    assert ids(api.get("/api/executions/?status=running")) == [str(running.pk)]
    assert "status" in error_fields(api.get("/api/executions/?status=weird"))


def test_filter_by_version(api, make_workflow, user):
    wf = make_workflow(SLEEPY)
    first = start(wf)
    services.update_workflow(
        wf, definition=chain({"id": "z2", "type": "sleep", "label": "Nap 2", "config": {"duration": "1h"}}), user=user
    )
    second = start(wf)
    assert ids(api.get("/api/executions/?version=1")) == [str(first.pk)]
    assert ids(api.get("/api/executions/?version=2")) == [str(second.pk)]
    assert "version" in error_fields(api.get("/api/executions/?version=two"))


def test_filter_by_started_between(api, make_workflow):
    wf = make_workflow(SLEEPY)
    old, new = start(wf), start(wf)
    Execution.objects.filter(pk=old.pk).update(created_at=timezone.now() - datetime.timedelta(days=3))
    since = (timezone.now() - datetime.timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert ids(api.get(f"/api/executions/?startedAfter={since}")) == [str(new.pk)]
    assert ids(api.get(f"/api/executions/?startedBefore={since}")) == [str(old.pk)]
    assert ids(api.get(f"/api/executions/?createdBefore={since}")) == [str(old.pk)]  # the older name still works
    assert "startedAfter" in error_fields(api.get("/api/executions/?startedAfter=yesterday"))


def test_a_timestamp_with_any_offset_python_reads_filters_and_never_500s(api, make_workflow):
    """PostgreSQL refuses offsets past ±15:59 (found by the fault suite's fuzzing): the filter
    compares in UTC, and a timestamp that leaves the calendar in UTC answers 400."""
    new = start(make_workflow(SLEEPY))
    assert ids(api.get("/api/executions/?startedAfter=0628-03-05T08:48:57-19:00")) == [str(new.pk)]
    assert ids(api.get("/api/executions/?startedBefore=2999-01-01T00:00:00%2B23:00")) == [str(new.pk)]
    assert "startedAfter" in error_fields(api.get("/api/executions/?startedAfter=0001-01-01T00:00:00%2B19:00"))


def test_filter_by_who_started_it(api, make_workflow, make_user, tenant):
    make_user("bob", tenant=tenant)
    wf = make_workflow(SLEEPY)
    mine, bobs = start(wf), start(wf, user_name="bob")
    assert ids(api.get("/api/executions/?startedBy=bob")) == [str(bobs.pk)]
    assert ids(api.get("/api/executions/?startedBy=alice")) == [str(mine.pk)]


def test_filter_test_runs(api, make_workflow):
    wf = make_workflow(SLEEPY)
    production, test = start(wf), start(wf, is_test=True)
    assert ids(api.get("/api/executions/")) == [str(production.pk)]  # production runs by default
    assert ids(api.get("/api/executions/?isTest=true")) == [str(test.pk)]
    assert set(ids(api.get("/api/executions/?isTest=all"))) == {str(production.pk), str(test.pk)}
    assert "isTest" in error_fields(api.get("/api/executions/?isTest=maybe"))


def test_filters_select_the_list_only_never_one_execution(api, make_workflow):
    test_run = start(make_workflow(SLEEPY), is_test=True)
    assert api.get(f"/api/executions/{test_run.pk}/").status_code == 200
    assert api.get(f"/api/executions/{test_run.pk}/?status=error").status_code == 200
    assert api.post(f"/api/executions/{test_run.pk}/cancel/", {}, format="json").status_code == 200


def test_filter_by_a_value_in_the_input(api, make_workflow):
    wf = make_workflow(SLEEPY)
    number = start(wf, input={"orderId": 42, "customer": {"id": 7, "name": "Ann"}})
    text = start(wf, input={"orderId": "42"})
    other = start(wf, input={"orderId": 43, "customer": {"id": 8, "name": "Bob"}})
    assert set(ids(api.get("/api/executions/?input=orderId:42"))) == {str(number.pk), str(text.pk)}
    assert ids(api.get('/api/executions/?input=orderId:"42"')) == [str(text.pk)]
    assert ids(api.get("/api/executions/?input=customer.id:8")) == [str(other.pk)]
    assert ids(api.get("/api/executions/?input=customer.name:Ann")) == [str(number.pk)]
    both = api.get("/api/executions/?input=orderId:42&input=customer.id:7")
    assert ids(both) == [str(number.pk)]
    assert ids(api.get("/api/executions/?input=orderId:99")) == []
    bad = api.get("/api/executions/?input=orderId")
    assert bad.status_code == 400 and "input" in error_fields(bad) and "path:value" in bad.content.decode()
    # A % in the value is quoted back as it is, never read as a placeholder (it was a 500).
    percent = api.get("/api/executions/?input=%25%7D9%25s")
    assert percent.status_code == 400 and "input" in error_fields(percent) and "%}9%s" in percent.content.decode()


@pytest.mark.postgres
def test_input_filter_is_a_containment_lookup_the_gin_index_answers(api, user):
    from django.db import connection

    from workflows.filters import ExecutionFilter
    from workflows.selectors import executions_for

    qs = ExecutionFilter({"input": "orderId:42"}, queryset=executions_for(user)).qs
    sql = str(qs.query)
    assert "@>" in sql
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'execution_input_gin'")
        assert "jsonb_path_ops" in cursor.fetchone()[0]


# --- Sorting and cursor pages ---------------------------------------------------------------------


def test_sorting_newest_or_oldest_first(api, make_workflow):
    wf = make_workflow(SLEEPY)
    made = [start(wf) for _ in range(3)]
    newest = [str(e.pk) for e in reversed(made)]
    assert ids(api.get("/api/executions/")) == newest
    assert ids(api.get("/api/executions/?ordering=createdAt")) == newest[::-1]
    assert "ordering" in error_fields(api.get("/api/executions/?ordering=status"))


def test_cursor_pages_are_stable_while_executions_arrive(api, make_workflow):
    wf = make_workflow(SLEEPY)
    made = [str(start(wf).pk) for _ in range(7)]
    page = api.get("/api/executions/?pageSize=3").json()
    seen = [row["id"] for row in page["results"]]
    assert "count" not in page  # no COUNT(*) over the table for a page
    for _ in range(3):
        start(wf)  # new executions land on top, before the pages already read
    while page["next"]:
        page = api.get(page["next"]).json()
        seen += [row["id"] for row in page["results"]]
    assert seen == made[::-1]
    assert api.get("/api/executions/?cursor=garbage").status_code == 404  # DRF: "Invalid cursor"


# --- Actions and their record ------------------------------------------------------------------------


def test_cancel_with_a_reason_is_recorded_and_shown(api, make_workflow, user, client):
    wf = make_workflow(SLEEPY)
    execution = start(wf)
    answer = api.post(f"/api/executions/{execution.pk}/cancel/", {"reason": "customer called"}, format="json")
    assert answer.status_code == 200 and answer.json()["status"] == "cancelled"
    action = OperatorAction.objects.get(execution=execution)
    assert (action.action, action.username, action.reason, action.tenant_id) == (
        "cancel",
        "alice",
        "customer called",
        execution.tenant_id,
    )
    assert Execution.objects.get(pk=execution.pk).error["message"] == "Cancelled by alice: customer called"
    detail = api.get(f"/api/executions/{execution.pk}/").json()
    assert [(a["action"], a["user"], a["reason"]) for a in detail["operatorActions"]] == [
        ("cancel", "alice", "customer called")
    ]
    client.force_login(user)
    page = client.get(f"/workflows/executions/{execution.pk}/").content.decode()
    assert "customer called" in page and 'data-action="cancel"' in page
    refused = api.post(f"/api/executions/{execution.pk}/cancel/", {"reason": "again", "typo": 1}, format="json")
    assert refused.status_code == 400 and "typo" in error_fields(refused)


def test_page_cancel_needs_a_reason_and_records_it(client, make_workflow, user):
    client.force_login(user)
    execution = start(make_workflow(SLEEPY))
    client.post(f"/workflows/executions/{execution.pk}/cancel/", {"reason": ""})
    assert Execution.objects.get(pk=execution.pk).status == "running" and not OperatorAction.objects.exists()
    client.post(f"/workflows/executions/{execution.pk}/cancel/", {"reason": "duplicate order"})
    assert Execution.objects.get(pk=execution.pk).status == "cancelled"
    assert OperatorAction.objects.get().reason == "duplicate order"


def test_retry_from_a_node_is_recorded(api, make_workflow, worker):
    wf = make_workflow(SLEEPY)
    execution = start(wf)
    api.post(f"/api/executions/{execution.pk}/cancel/", {"reason": "stuck"}, format="json")
    answer = api.post(f"/api/executions/{execution.pk}/retry/", {"fromNode": "z", "reason": "try again"}, format="json")
    assert answer.status_code == 202 and answer.json()["status"] == "running"
    retry = OperatorAction.objects.get(execution=execution, action="retry")
    assert retry.reason == "try again" and retry.details == {"fromNode": "z"}
    assert api.post(f"/api/executions/{execution.pk}/retry/", {"fromNode": "ghost"}, format="json").status_code == 409
    assert OperatorAction.objects.filter(action="retry").count() == 1  # a refused retry leaves no record


def test_run_again_with_the_same_or_an_edited_input(api, make_workflow, client, user):
    wf = make_workflow(SLEEPY)
    execution = start(wf, input={"orderId": 42})
    same = api.post(f"/api/executions/{execution.pk}/run-again/", {}, format="json")
    assert same.status_code == 202
    copy = Execution.objects.get(pk=same.json()["executionId"])
    assert (
        copy.input == {"orderId": 42}
        and copy.workflow_version_id == execution.workflow_version_id
        and copy.pk != execution.pk
    )
    edited = api.post(
        f"/api/executions/{execution.pk}/run-again/", {"input": {"orderId": 43}, "reason": "fixed id"}, format="json"
    )
    assert Execution.objects.get(pk=edited.json()["executionId"]).input == {"orderId": 43}
    records = list(OperatorAction.objects.filter(execution=execution, action="run_again").order_by("id"))
    assert [r.details["inputEdited"] for r in records] == [False, True] and records[1].reason == "fixed id"
    assert "input" in error_fields(
        api.post(f"/api/executions/{execution.pk}/run-again/", {"input": [1]}, format="json")
    )
    client.force_login(user)
    response = client.post(
        f"/workflows/executions/{execution.pk}/run-again/", {"input": '{"orderId": 44}', "reason": "page"}
    )
    newest = Execution.objects.order_by("-created_at").first()
    assert (
        response.status_code == 302
        and response["Location"] == f"/workflows/executions/{newest.pk}/"
        and newest.input == {"orderId": 44}
    )


# --- Bulk operations -------------------------------------------------------------------------------------


def test_bulk_cancel_counts_confirms_and_reports_progress(api, make_workflow, settings):
    settings.WORKFLOW_BULK_BATCH = 2
    wf = make_workflow(SLEEPY)
    targets = [start(wf, input={"batch": "b1"}) for _ in range(3)]
    spared = start(wf, input={"batch": "b2"})
    finished = start(wf, input={"batch": "b1"})
    set_status(finished, "success")
    body = {"action": "cancel", "filters": {"input": ["batch:b1"]}, "reason": "bad batch"}
    count = api.post("/api/bulk-operations/", {**body, "dryRun": True}, format="json")
    assert count.status_code == 200 and count.json() == {"action": "cancel", "count": 3}
    stale = api.post("/api/bulk-operations/", {**body, "expectedCount": 5}, format="json")
    assert stale.status_code == 409 and not BulkOperation.objects.exists()
    made = api.post("/api/bulk-operations/", {**body, "expectedCount": 3}, format="json")
    assert made.status_code == 202
    op = made.json()
    assert (op["status"], op["total"], op["processed"]) == ("running", 3, 0)
    assert operations.run_bulk_batch(op["id"]) == 2
    progress = api.get(f"/api/bulk-operations/{op['id']}/").json()
    assert (progress["status"], progress["processed"], progress["succeeded"]) == ("running", 2, 2)
    operations.run_bulk_batches()
    done = api.get(f"/api/bulk-operations/{op['id']}/").json()
    assert (done["status"], done["processed"], done["succeeded"], done["failed"]) == ("done", 3, 3, 0)
    assert {e.status for e in Execution.objects.filter(pk__in=[t.pk for t in targets])} == {"cancelled"}
    assert Execution.objects.get(pk=spared.pk).status == "running"
    records = OperatorAction.objects.filter(action="cancel")
    assert records.count() == 3 and {r.details["bulkOperationId"] for r in records} == {op["id"]}
    assert {r.reason for r in records} == {"bad batch"}


def test_bulk_retry_acts_on_failed_executions_and_counts_failures(api, make_workflow, worker):
    wf = make_workflow(SLEEPY)
    failed = [start(wf) for _ in range(2)]
    for execution in failed:
        services.request_cancellation(execution)
    set_status(failed[0], "error")
    set_status(failed[1], "error")
    made = api.post(
        "/api/bulk-operations/", {"action": "retry", "filters": {"status": "error"}, "reason": "flaky"}, format="json"
    )
    assert made.status_code == 202 and made.json()["total"] == 2
    Execution.objects.filter(pk=failed[1].pk).delete()  # gone meanwhile: counted as a failure
    operations.run_bulk_batches()
    op = BulkOperation.objects.get()
    assert (op.status, op.succeeded, op.failed) == ("done", 1, 1) and op.errors[0]["executionId"] == str(failed[1].pk)
    assert Execution.objects.get(pk=failed[0].pk).status == "running"


def test_bulk_refuses_bad_requests_naming_the_field(api, settings):
    assert "action" in error_fields(api.post("/api/bulk-operations/", {"action": "delete"}, format="json"))
    bad_filter = api.post("/api/bulk-operations/", {"action": "cancel", "filters": {"status": "weird"}}, format="json")
    assert bad_filter.status_code == 400 and "filters.status" in error_fields(bad_filter)


def test_bulk_of_a_member_of_several_tenants_names_the_tenant(make_workflow, make_user, tenant, other_tenant):
    from workflows.models import Membership

    both = make_user("bea", tenant=tenant)
    Membership.objects.create(tenant=other_tenant, user=both)
    client = APIClient()
    client.force_authenticate(both)
    start(make_workflow(SLEEPY), user_name="bea")
    start(make_workflow(SLEEPY, name="other", on_tenant=other_tenant), user_name="bea")
    body = {"action": "cancel", "dryRun": True}
    assert "tenant" in error_fields(client.post("/api/bulk-operations/", body, format="json"))
    assert (
        client.post("/api/bulk-operations/", {**body, "tenant": str(other_tenant.pk)}, format="json").json()["count"]
        == 1
    )
    assert "tenant" in error_fields(
        client.post("/api/bulk-operations/", {**body, "tenant": "00000000-0000-0000-0000-000000000000"}, format="json")
    )


def test_bulk_refuses_a_set_over_the_limit(api, make_workflow, settings):
    settings.WORKFLOW_BULK_MAX = 1
    wf = make_workflow(SLEEPY)
    start(wf), start(wf)
    too_many = api.post("/api/bulk-operations/", {"action": "cancel"}, format="json")
    assert too_many.status_code == 400 and "filters" in error_fields(too_many)


# --- Tenant scoping ------------------------------------------------------------------------------------------


def test_everything_is_scoped_to_the_callers_tenant(api, make_workflow, other_tenant, other_user):
    mine = start(make_workflow(SLEEPY), input={"orderId": 1})
    theirs_wf = make_workflow(SLEEPY, name="theirs", on_tenant=other_tenant)
    theirs = start(theirs_wf, user_name="mallory", input={"orderId": 1})
    assert ids(api.get("/api/executions/?input=orderId:1")) == [str(mine.pk)]
    assert ids(api.get(f"/api/executions/?workflow={theirs_wf.pk}")) == []
    assert api.post(f"/api/executions/{theirs.pk}/cancel/", {"reason": "x"}, format="json").status_code == 404
    assert api.post(f"/api/executions/{theirs.pk}/run-again/", {}, format="json").status_code == 404
    made = api.post("/api/bulk-operations/", {"action": "cancel", "reason": "all"}, format="json").json()
    assert made["total"] == 1
    operations.run_bulk_batches()
    assert Execution.objects.get(pk=theirs.pk).status == "running"
    other = APIClient()
    other.force_authenticate(other_user)
    assert other.get(f"/api/bulk-operations/{made['id']}/").status_code == 404
    assert other.get("/api/bulk-operations/").json()["count"] == 0


# --- The executions page ------------------------------------------------------------------------------------


def test_executions_page_filters_from_the_url_and_links_to_the_viewer(client, user, make_workflow):
    client.force_login(user)
    wf = make_workflow(SLEEPY)
    wanted, other = start(wf, input={"orderId": 42}), start(wf, input={"orderId": 7})
    page = client.get("/workflows/executions/?input=orderId:42")
    html = page.content.decode()
    assert page.status_code == 200
    assert f'href="/workflows/executions/{wanted.pk}/"' in html and f"/workflows/executions/{other.pk}/" not in html
    assert 'value="orderId:42"' in html  # the filter stays in the form
    assert 'href="/workflows/executions/"' in client.get("/workflows/").content.decode()  # in the nav
    bad = client.get("/workflows/executions/?status=weird")
    assert bad.status_code == 400 and "status" in bad.content.decode()


def test_executions_page_pages_by_cursor(client, user, make_workflow):
    client.force_login(user)
    wf = make_workflow(SLEEPY)
    made = [start(wf) for _ in range(3)]
    first = client.get("/workflows/executions/?pageSize=2").content.decode()
    assert str(made[2].pk) in first and str(made[0].pk) not in first
    next_url = (
        first.split('rel="next" data-role="next-page"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    )
    second = client.get(next_url).content.decode()
    assert str(made[0].pk) in second and str(made[2].pk) not in second


def test_workflow_page_links_to_its_filtered_executions(client, user, make_workflow):
    client.force_login(user)
    wf = make_workflow(SLEEPY)
    assert f'href="/workflows/executions/?workflow={wf.pk}"' in client.get(f"/workflows/{wf.pk}/").content.decode()


# --- Admin and schema ------------------------------------------------------------------------------------------


def test_admin_links_to_the_viewer_and_sends_add_workflow_to_the_builder(client, make_user, make_workflow, api):
    admin_user = make_user("root", is_staff=True, is_superuser=True)
    client.force_login(admin_user)
    execution = start(make_workflow(SLEEPY))
    api.post(f"/api/executions/{execution.pk}/cancel/", {"reason": "audit me"}, format="json")
    change = client.get(f"/admin/workflows/execution/{execution.pk}/change/").content.decode()
    assert f'href="/workflows/executions/{execution.pk}/"' in change and "audit me" in change
    assert "audit me" in client.get("/admin/workflows/operatoraction/").content.decode()
    add = client.get("/admin/workflows/workflow/add/")
    assert add.status_code == 302 and add["Location"] == "/workflows/new/"


def test_openapi_schema_describes_the_filters(api):
    schema = api.get("/api/schema/?format=json").json()
    params = {p["name"] for p in schema["paths"]["/api/executions/"]["get"]["parameters"]}
    assert {
        "workflow",
        "status",
        "version",
        "startedAfter",
        "startedBefore",
        "startedBy",
        "isTest",
        "input",
        "ordering",
        "cursor",
        "pageSize",
    } <= params
    assert "/api/bulk-operations/" in schema["paths"] and "/api/executions/{id}/run-again/" in schema["paths"]


def test_another_tenants_workflow_id_selects_nothing(api, make_workflow, other_tenant, other_user):
    theirs = make_workflow(SLEEPY, name="theirs", on_tenant=other_tenant)
    mine = make_workflow(SLEEPY, name="mine")
    start(theirs, user_name=other_user.username)
    execution = start(mine)
    assert ids(api.get(f"/api/executions/?workflow={theirs.pk}")) == []
    assert ids(api.get(f"/api/executions/?workflow={theirs.pk},{mine.pk}")) == [str(execution.pk)]


def test_page_retry_from_a_chosen_node_records_it(client, user, make_workflow, api):
    client.force_login(user)
    execution = start(make_workflow(SLEEPY))
    api.post(f"/api/executions/{execution.pk}/cancel/", {"reason": "stuck"}, format="json")
    response = client.post(f"/workflows/executions/{execution.pk}/retry/", {"fromNode": "z", "reason": "once more"})
    assert response.status_code == 302 and Execution.objects.get(pk=execution.pk).status == "running"
    record = OperatorAction.objects.get(execution=execution, action="retry")
    assert (record.reason, record.details, record.username) == ("once more", {"fromNode": "z"}, "alice")


def test_admin_cancel_is_recorded_as_an_operator_action(client, make_user, make_workflow):
    root = make_user("root", is_staff=True, is_superuser=True)
    client.force_login(root)
    execution = start(make_workflow(SLEEPY))
    client.post("/admin/workflows/execution/", {"action": "cancel_selected", "_selected_action": [str(execution.pk)]})
    assert Execution.objects.get(pk=execution.pk).status == "cancelled"
    record = OperatorAction.objects.get(execution=execution)
    assert (record.action, record.username, record.reason) == ("cancel", "root", "Cancelled in the admin")
