"""The REST API: CRUD with validation, trigger, executions with filters, cancel, retry,
tenant scoping and bad input."""

import json
import os

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.conftest import chain, error_fields
from workflows.models import Execution, Workflow
from workflows.services import trigger_workflow

pytestmark = pytest.mark.django_db(transaction=True)

DEFINITION = chain({"id": "a", "type": "set", "label": "A", "config": {"values": {"x": "{{Trigger.x}}"}}})
SLEEPY = chain({"id": "z", "type": "sleep", "label": "Nap", "config": {"duration": "1h"}})


def test_create_list_retrieve_update_versions(api):
    created = api.post("/api/workflows/", {"name": "Orders", "definition": DEFINITION}, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["version"] == 1 and body["isActive"] is True and body["definition"] == DEFINITION
    listed = api.get("/api/workflows/").json()
    assert [w["name"] for w in listed["results"]] == ["Orders"]
    changed = json.loads(json.dumps(DEFINITION))
    changed["nodes"][1]["config"]["values"]["y"] = 2
    updated = api.patch(f"/api/workflows/{body['id']}/", {"definition": changed, "description": "v2"}, format="json")
    assert updated.status_code == 200 and updated.json()["version"] == 2
    assert api.get(f"/api/workflows/{body['id']}/").json()["description"] == "v2"


def test_create_reports_every_definition_error(api):
    bad = {
        "nodes": [{"id": "t", "type": "trigger", "label": "T"}, {"id": "a", "type": "nope", "label": "T"}],
        "edges": [{"source": "t", "target": "zz"}],
    }
    response = api.post("/api/workflows/", {"name": "Bad", "definition": bad}, format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert {(e["nodeId"], e["field"]) for e in errors} >= {("a", "type"), ("a", "label"), (None, "edges[0].target")}
    assert Workflow.objects.count() == 0


def test_missing_name_and_definition_name_the_fields(api):
    response = api.post("/api/workflows/", {}, format="json")
    assert response.status_code == 400 and {"name", "definition"} <= error_fields(response)


def test_trigger_answers_202_and_runs(api, worker, make_workflow):
    wf = make_workflow(DEFINITION)
    response = api.post(f"/api/workflows/{wf.pk}/trigger/", {"input": {"x": 5}, "idempotencyKey": "k1"}, format="json")
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "running" and set(body) == {"executionId", "status"}
    again = api.post(f"/api/workflows/{wf.pk}/trigger/", {"input": {"x": 5}, "idempotencyKey": "k1"}, format="json")
    assert again.json()["executionId"] == body["executionId"]
    worker.run_until_idle()
    detail = api.get(f"/api/executions/{body['executionId']}/").json()
    assert detail["status"] == "success" and detail["context"]["A"] == {"x": 5}
    assert [r["nodeId"] for r in detail["nodeRuns"]] == ["trigger", "a"]
    assert detail["nodeRuns"][1]["resolvedConfig"] == {"values": {"x": 5}}


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"input": [1]}, "input"),
        ({"input": "text"}, "input"),
        ({"version": "nine"}, "version"),
        ({"idempotencyKey": "x" * 300}, "idempotencyKey"),
    ],
)
def test_trigger_bad_input_names_the_field(api, make_workflow, payload, field):
    wf = make_workflow(DEFINITION)
    response = api.post(f"/api/workflows/{wf.pk}/trigger/", payload, format="json")
    assert response.status_code == 400
    body = response.json()
    assert field in body or body.get("field") == field
    assert Execution.objects.count() == 0


def test_malformed_json_is_a_400_in_the_error_shape(api, make_workflow):
    wf = make_workflow(DEFINITION)
    response = api.post(f"/api/workflows/{wf.pk}/trigger/", data="{not json", content_type="application/json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "parse_error" and body["field"] == "body" and "JSON" in body["message"]
    assert Execution.objects.count() == 0


@pytest.mark.parametrize("path", ["trigger", "test-run"])
def test_an_unknown_key_in_a_start_body_is_refused_naming_it(api, make_workflow, path):
    wf = make_workflow(DEFINITION)
    response = api.post(f"/api/workflows/{wf.pk}/{path}/", {"inputs": {"orderId": 1}}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == "inputs" and body["code"] == "invalid"
    assert body["errors"][0]["code"] == "unknown_field" and "input" in body["message"]
    assert Execution.objects.count() == 0


def test_an_unknown_key_in_a_retry_body_is_refused(api, make_workflow, worker):
    wf = make_workflow(DEFINITION)
    execution_id = api.post(f"/api/workflows/{wf.pk}/trigger/", {"input": {"x": 5}}, format="json").json()[
        "executionId"
    ]
    worker.run_until_idle()
    response = api.post(f"/api/executions/{execution_id}/retry/", {"from_node": "a"}, format="json")
    assert response.status_code == 400 and response.json()["field"] == "from_node"


def test_oversized_body_is_a_413(api, make_workflow, settings):
    settings.API_MAX_BODY_BYTES = 1000
    wf = make_workflow(DEFINITION)
    response = api.post(f"/api/workflows/{wf.pk}/trigger/", {"input": {"blob": "x" * 5000}}, format="json")
    assert response.status_code == 413 and response.json()["field"] == "body"
    assert Execution.objects.count() == 0


def test_inactive_workflow_trigger_is_a_409(api, make_workflow):
    wf = make_workflow(DEFINITION, is_active=False)
    response = api.post(f"/api/workflows/{wf.pk}/trigger/", {}, format="json")
    assert response.status_code == 409 and "inactive" in response.json()["detail"]


def test_other_tenants_objects_answer_404(api, make_workflow, other_tenant, other_user):
    theirs = make_workflow(DEFINITION, on_tenant=other_tenant, name="theirs")
    execution_id = trigger_workflow(workflow_id=theirs.pk, user_name=other_user.username).execution_id
    assert api.get(f"/api/workflows/{theirs.pk}/").status_code == 404
    assert api.post(f"/api/workflows/{theirs.pk}/trigger/", {}, format="json").status_code == 404
    assert api.patch(f"/api/workflows/{theirs.pk}/", {"name": "x"}, format="json").status_code == 404
    assert api.delete(f"/api/workflows/{theirs.pk}/").status_code == 404
    assert api.get(f"/api/executions/{execution_id}/").status_code == 404
    assert api.post(f"/api/executions/{execution_id}/cancel/").status_code == 404
    assert len(api.get("/api/executions/").json()["results"]) == 0
    assert api.get("/api/workflows/").json()["count"] == 0


def test_cannot_create_in_a_tenant_you_do_not_belong_to(api, other_tenant):
    response = api.post(
        "/api/workflows/", {"name": "x", "tenant": str(other_tenant.pk), "definition": DEFINITION}, format="json"
    )
    assert response.status_code == 400 and "tenant" in error_fields(response)


def test_anonymous_is_refused(make_workflow):
    wf = make_workflow(DEFINITION)
    assert APIClient().post(f"/api/workflows/{wf.pk}/trigger/", {}, format="json").status_code in (401, 403)


def test_token_authentication_for_scripts(user, make_workflow):
    wf = make_workflow(DEFINITION)
    token = Token.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.post(f"/api/workflows/{wf.pk}/trigger/", {"input": {}}, format="json").status_code == 202


def test_execution_list_filters_and_paginates(api, make_workflow, user, worker):
    a, b = make_workflow(DEFINITION, name="a"), make_workflow(SLEEPY, name="b")
    for _ in range(3):
        trigger_workflow(workflow_id=a.pk, user_name="alice")
    trigger_workflow(workflow_id=b.pk, user_name="alice")
    trigger_workflow(workflow_id=a.pk, user_name="alice", is_test=True)
    worker.run_until_idle()
    everything = api.get("/api/executions/").json()
    assert len(everything["results"]) == 4  # test runs are kept out by default
    assert len(api.get(f"/api/executions/?workflow={a.pk}").json()["results"]) == 3
    assert len(api.get("/api/executions/?status=paused").json()["results"]) == 1
    assert len(api.get("/api/executions/?status=success,paused").json()["results"]) == 4
    assert len(api.get("/api/executions/?isTest=true").json()["results"]) == 1
    assert (
        len(
            api.get("/api/executions/?createdAfter=2000-01-01T00:00:00Z&createdBefore=2999-01-01T00:00:00Z").json()[
                "results"
            ]
        )
        == 4
    )
    assert len(api.get("/api/executions/?createdAfter=2999-01-01T00:00:00Z").json()["results"]) == 0
    bad = api.get("/api/executions/?status=weird&createdAfter=yesterday&workflow=zzz")
    assert bad.status_code == 400 and {"status", "createdAfter", "workflow"} <= error_fields(bad)


def test_cancel_and_retry_through_the_api(api, make_workflow, user, worker):
    wf = make_workflow(SLEEPY)
    execution_id = trigger_workflow(workflow_id=wf.pk, user_name="alice").execution_id
    worker.run_until_idle()
    cancelled = api.post(f"/api/executions/{execution_id}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert api.post(f"/api/executions/{execution_id}/cancel/").status_code == 409
    retried = api.post(f"/api/executions/{execution_id}/retry/", {}, format="json")
    assert retried.status_code == 202 and retried.json()["status"] == "running"
    worker.run_until_idle()
    assert Execution.objects.get(pk=execution_id).status == "paused"
    unknown = api.post(f"/api/executions/{execution_id}/retry/", {"fromNode": "ghost"}, format="json")
    assert unknown.status_code == 409


def test_openapi_schema_and_docs(api):
    schema = api.get("/api/schema/?format=json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/workflows/{id}/trigger/" in paths and "/api/executions/{id}/retry/" in paths
    assert api.get("/api/docs/").status_code == 200


def test_the_schema_generates_without_warnings(db):
    """Every view documents its bodies and choice sets get readable names: drf-spectacular's
    warnings (a hashed enum name, a view it cannot read) fail the command."""
    from django.core.management import call_command

    call_command("spectacular", "--fail-on-warn", "--validate", "--file", os.devnull)


def test_delete_a_workflow_that_never_ran_but_not_one_that_did(api, make_workflow, user):
    unused, used = make_workflow(DEFINITION, name="unused"), make_workflow(DEFINITION, name="used")
    trigger_workflow(workflow_id=used.pk, user_name="alice")
    assert api.delete(f"/api/workflows/{unused.pk}/").status_code == 204
    refused = api.delete(f"/api/workflows/{used.pk}/")
    assert refused.status_code == 409 and "deactivate" in refused.json()["detail"]
    assert Workflow.objects.filter(pk=used.pk).exists()


def test_impossible_dates_in_filters_are_a_400(api):
    response = api.get("/api/executions/?createdAfter=2020-13-45T00:00:00")
    assert response.status_code == 400 and "createdAfter" in error_fields(response)
