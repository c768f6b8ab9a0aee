"""Test runs: current or unsaved definitions, kept out of production lists, stopped, cleaned up."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from tests.conftest import chain
from workflows.models import Execution, Workflow, WorkflowVersion
from workflows.services import trigger_workflow
from workflows.testruns import cleanup_duty, cleanup_test_runs, start_test_run

pytestmark = pytest.mark.django_db(transaction=True)

STEP = {"id": "a", "type": "set", "label": "A", "config": {"values": {"v": 1}}}
OTHER = {"id": "a", "type": "set", "label": "A", "config": {"values": {"v": 2}}}


@pytest.fixture
def client(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_test_run_of_the_current_definition(make_workflow, user, worker):
    wf = make_workflow(chain(STEP))
    execution = start_test_run(workflow=wf, user=user, input={"n": 1})
    worker.run_until_idle()
    execution.refresh_from_db()
    assert execution.is_test and execution.workflow_id == wf.pk and execution.workflow_version.number == 1
    assert execution.status == "success" and execution.context["A"] == {"v": 1}


def test_unsaved_definition_runs_from_a_hidden_draft_and_leaves_the_workflow_alone(make_workflow, user, worker, api):
    wf = make_workflow(chain(STEP))
    first = start_test_run(workflow=wf, user=user, input={}, definition=chain(OTHER))
    again = start_test_run(workflow=wf, user=user, input={}, definition=chain(OTHER))
    worker.run_until_idle()
    first.refresh_from_db()
    assert first.context["A"] == {"v": 2} and first.is_test
    assert first.workflow_id != wf.pk and not first.workflow.is_active
    assert again.workflow_version_id == first.workflow_version_id  # one version per distinct definition
    assert wf.latest_version.number == 1 and wf.versions.count() == 1
    listed = [w["id"] for w in api.get("/api/workflows/").json()["results"]]
    assert listed == [str(wf.pk)]
    assert len(api.get("/api/executions/").json()["results"]) == 0  # test runs stay out by default
    assert len(api.get("/api/executions/?isTest=true").json()["results"]) == 2


def test_invalid_unsaved_definition_is_refused_with_nothing_written(make_workflow, user, client):
    wf = make_workflow(chain(STEP))
    bad = chain({"id": "a", "type": "set", "label": "A", "config": {"values": "{{Nobody.x}}"}})
    response = client.post(f"/workflows/{wf.pk}/test-run/", {"input": "{}", "definition": json.dumps(bad)})
    assert response.status_code == 400
    assert "unknown node label" in response.content.decode()
    assert Workflow.objects.count() == 1 and Execution.objects.count() == 0


def test_test_run_form_starts_and_opens_the_viewer(make_workflow, user, client, worker):
    wf = make_workflow(chain(STEP))
    response = client.post(f"/workflows/{wf.pk}/test-run/", {"input": '{"k": "v"}', "definition": ""})
    execution = Execution.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/workflows/executions/{execution.pk}/"
    assert execution.is_test and execution.input == {"k": "v"}
    page = client.get(response["Location"]).content.decode()
    assert "test run</span>" in page and "Stop test run" in page
    worker.run_until_idle()
    detail = client.get(f"/workflows/{wf.pk}/").content.decode()
    assert f'data-execution-id="{execution.pk}"' in detail.split("Recent test runs")[1]
    assert f'data-execution-id="{execution.pk}"' not in detail.split("Recent test runs")[0]
    assert f'data-execution-id="{execution.pk}"' not in client.get("/workflows/").content.decode()


def test_test_run_form_reports_bad_json_naming_the_field(make_workflow, client):
    wf = make_workflow(chain(STEP))
    response = client.post(f"/workflows/{wf.pk}/test-run/", {"input": "[oops"})
    assert response.status_code == 400 and "<strong>input</strong>: not valid JSON" in response.content.decode()
    response = client.post(f"/workflows/{wf.pk}/test-run/", {"input": "[1]"})
    assert response.status_code == 400 and "input must be a JSON object" in response.content.decode()
    response = client.post(
        f"/workflows/{wf.pk}/test-run/", {"input": '{"deep": ' + ("[" * 100_000 + "]" * 100_000) + "}"}
    )
    assert response.status_code == 400 and "deep is nested deeper than" in response.content.decode()
    response = client.post(f"/workflows/{wf.pk}/test-run/", {"input": '{"note": "a\\u0000"}'})
    assert response.status_code == 400 and "note contains a NUL character" in response.content.decode()


def test_stop_button_cancels_a_test_run(make_workflow, user, client):
    wf = make_workflow(chain({"id": "s", "type": "sleep", "label": "Nap", "config": {"duration": "1h"}}))
    execution = start_test_run(workflow=wf, user=user, input={})
    response = client.post(f"/workflows/executions/{execution.pk}/cancel/")
    assert response.status_code == 302
    assert Execution.objects.get(pk=execution.pk).status == "cancelled"


def test_test_run_api(make_workflow, api, other_tenant):
    wf = make_workflow(chain(STEP))
    response = api.post(
        f"/api/workflows/{wf.pk}/test-run/", {"input": {"a": 1}, "definition": chain(OTHER)}, format="json"
    )
    assert response.status_code == 202
    assert Execution.objects.get(pk=response.json()["executionId"]).is_test
    bad = api.post(f"/api/workflows/{wf.pk}/test-run/", {"definition": {"nodes": []}}, format="json")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_definition"
    theirs = make_workflow(chain(STEP), on_tenant=other_tenant)
    assert api.post(f"/api/workflows/{theirs.pk}/test-run/", {}, format="json").status_code == 404


def _age(execution, days: float) -> None:
    Execution.objects.filter(pk=execution.pk).update(created_at=timezone.now() - timedelta(days=days))


def test_cleanup_deletes_old_finished_test_runs_and_unused_drafts(make_workflow, user, worker, settings):
    settings.WORKFLOW_TEST_RUN_MAX_AGE = "7d"
    wf = make_workflow(chain(STEP))
    old_draft_run = start_test_run(workflow=wf, user=user, input={}, definition=chain(OTHER))
    old_run = start_test_run(workflow=wf, user=user, input={})
    fresh_run = start_test_run(workflow=wf, user=user, input={})
    production = Execution.objects.get(
        pk=trigger_workflow(workflow_id=wf.pk, user_name=user.username, input={}).execution_id
    )
    worker.run_until_idle()
    for execution in (old_draft_run, old_run, production):
        _age(execution, 8)
    cleanup_duty()
    assert set(Execution.objects.values_list("pk", flat=True)) == {fresh_run.pk, production.pk}
    assert not Workflow.objects.filter(pk=old_draft_run.workflow_id).exists()
    assert not WorkflowVersion.objects.filter(pk=old_draft_run.workflow_version_id).exists()
    assert Workflow.objects.filter(pk=wf.pk).exists()


def test_cleanup_keeps_running_test_runs(make_workflow, user):
    wf = make_workflow(chain({"id": "s", "type": "sleep", "label": "Nap", "config": {"duration": "1h"}}))
    running = start_test_run(workflow=wf, user=user, input={})
    _age(running, 30)
    assert cleanup_test_runs(older_than=timedelta(days=1)) == 0
    assert Execution.objects.filter(pk=running.pk).exists()


def test_cleanup_command(make_workflow, user, worker):
    wf = make_workflow(chain(STEP))
    execution = start_test_run(workflow=wf, user=user, input={})
    worker.run_until_idle()
    _age(execution, 2)
    out = StringIO()
    call_command("cleanup_test_runs", "--older-than", "1d", "--dry-run", stdout=out)
    assert "Would delete 1 test execution(s)" in out.getvalue() and Execution.objects.exists()
    call_command("cleanup_test_runs", "--older-than", "1d", stdout=out)
    assert "Deleted 1 test execution(s)" in out.getvalue() and not Execution.objects.exists()


def test_cleanup_is_a_worker_duty(settings):
    assert (
        settings.WORKFLOW_WORKER_DUTIES["workflows.testruns.cleanup_duty"] == settings.WORKFLOW_TEST_RUN_CLEANUP_SECONDS
    )
