"""The REST endpoints the workflow builder uses: validation, layout, versions, diff, restore,
optimistic concurrency on save, import checks and run-from-here."""

import json

import pytest
from rest_framework.test import APIClient

from tests.conftest import chain, error_fields
from workflows.models import Execution, NodeRun, Workflow
from workflows.services import trigger_workflow
from workflows.testruns import start_test_run

pytestmark = pytest.mark.django_db

SET_A = {"id": "a", "type": "set", "label": "A", "config": {"values": {"x": "{{Trigger.n}}"}}}
SET_B = {"id": "b", "type": "set", "label": "B", "config": {"values": {"y": "{{A.x}}"}}}


def problems(body):
    return {(p["nodeId"], p["field"]) for p in body["errors"]}


# --- POST /api/workflows/validate/ -----------------------------------------------------------


def test_validate_answers_a_valid_definition_with_scopes_and_input_fields(api):
    definition = chain(SET_A, SET_B)
    definition["nodes"][0]["config"] = {"inputSchema": [{"name": "n", "type": "number"}]}
    response = api.post("/api/workflows/validate/", {"definition": definition}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["valid"] is True and body["errors"] == [] and body["warnings"] == []
    assert body["scopes"] == {"trigger": [], "a": ["trigger"], "b": ["trigger", "a"]}
    assert body["inputFields"] == [
        {"name": "n", "type": "number", "required": False, "enum": None, "description": "", "default": None}
    ]


def test_validate_reports_each_problem_on_its_node_and_field(api):
    bad = dict(SET_B, config={"values": {"y": "{{Nobody.x}}"}})
    response = api.post("/api/workflows/validate/", {"definition": chain(SET_A, bad)}, format="json")
    body = response.json()
    assert response.status_code == 200 and body["valid"] is False
    assert body["errors"] == [
        {"nodeId": "b", "field": "config.values", "message": "template names an unknown node label 'Nobody'"}
    ]


def test_validate_reports_a_cycle_even_while_other_fields_are_wrong(api):
    definition = chain(SET_A, {"id": "h", "type": "http-request", "label": "Call", "config": {}})
    definition["edges"].append({"source": "h", "target": "a"})
    body = api.post("/api/workflows/validate/", {"definition": definition}, format="json").json()
    assert ("h", "config.url") in problems(body)  # a required field left empty...
    assert {("a", "edges"), ("h", "edges")} <= problems(body)  # ...does not hide the cycle
    assert any("cycle" in p["message"] for p in body["errors"] if p["nodeId"] == "a")


def test_validate_refuses_a_duplicate_edge_and_an_edge_into_the_trigger(api):
    definition = chain(SET_A)
    definition["edges"] += [{"source": "trigger", "target": "a"}, {"source": "a", "target": "trigger"}]
    body = api.post("/api/workflows/validate/", {"definition": definition}, format="json").json()
    messages = {p["field"]: p["message"] for p in body["errors"]}
    assert messages["edges[1]"] == "duplicate edge from 'trigger' to 'a'"
    assert messages["edges[2].target"] == "the trigger node cannot have incoming edges"


def test_validate_warns_about_a_label_that_does_not_run_before_the_node(api):
    # a and b are parallel: b names A, which exists but may not have run.
    definition = chain(SET_A, SET_B, edges=[{"source": "trigger", "target": "a"}, {"source": "trigger", "target": "b"}])
    body = api.post("/api/workflows/validate/", {"definition": definition}, format="json").json()
    assert body["valid"] is True
    assert body["warnings"] == [
        {
            "nodeId": "b",
            "field": "config.values",
            "message": "'A' does not run before this node, so the reference resolves to nothing",
        }
    ]


def test_validate_reads_an_imported_file(api):
    document = {"format": "workflow/v1", "name": "X", "definition": chain(SET_A)}
    body = api.post("/api/workflows/validate/", {"text": json.dumps(document)}, format="json").json()
    assert body["valid"] is True and body["definition"] == chain(SET_A)


def test_validate_reports_a_too_deep_import_as_a_problem_not_a_500(api):
    text = '{"nodes": ' + ("[" * 100_000 + "]" * 100_000) + ', "edges": []}'
    response = api.post("/api/workflows/validate/", {"text": text}, format="json")
    assert response.status_code == 200
    assert "nodes is nested deeper than" in response.json()["errors"][0]["message"]


def test_validate_reports_malformed_json_in_an_import_and_saves_nothing(api):
    body = api.post("/api/workflows/validate/", {"text": '{"nodes": [}'}, format="json").json()
    assert body["valid"] is False and body["definition"] is None
    assert body["errors"][0]["field"] == "definition"
    assert (
        body["errors"][0]["message"].startswith("not valid JSON: ")
        and "line 1 column 12" in body["errors"][0]["message"]
    )
    assert Workflow.objects.count() == 0


def test_validate_reports_an_invalid_import_with_the_validators_problems(api):
    text = json.dumps({"nodes": [{"id": "a", "type": "nope", "label": "A"}], "edges": []})
    body = api.post("/api/workflows/validate/", {"text": text}, format="json").json()
    assert body["valid"] is False
    assert ("a", "type") in problems(body) and (None, "nodes") in problems(body)


@pytest.mark.parametrize(
    "payload,field",
    [
        ({}, "definition"),
        ({"definition": {}, "text": "{}"}, "definition"),
        ({"definition": {}, "defintion": {}}, "defintion"),
    ],
)
def test_validate_body_errors_name_the_field(api, payload, field):
    response = api.post("/api/workflows/validate/", payload, format="json")
    assert response.status_code == 400 and field in error_fields(response)
    assert response.json()["code"] == "invalid"


def test_validate_needs_a_login():
    assert APIClient().post("/api/workflows/validate/", {"definition": {}}, format="json").status_code in (401, 403)


def test_layout_places_nodes_left_to_right_ignoring_saved_positions(api):
    definition = chain(SET_A, SET_B)
    for node in definition["nodes"]:
        node["position"] = {"x": 0, "y": 0}
    body = api.post("/api/workflows/layout/", {"definition": definition}, format="json").json()
    xs = {n["id"]: n["x"] for n in body["nodes"]}
    assert xs["trigger"] < xs["a"] < xs["b"] and body["width"] > xs["b"]


# --- Saving against a base version ------------------------------------------------------------


@pytest.fixture
def bob(make_user, tenant):
    return make_user("bob", tenant=tenant)


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_a_stale_save_is_a_409_naming_who_saved_and_when(api, make_workflow, bob):
    wf = make_workflow(chain(SET_A))
    first = client_for(bob).patch(
        f"/api/workflows/{wf.pk}/", {"definition": chain(SET_A, SET_B), "baseVersion": 1}, format="json"
    )
    assert first.status_code == 200 and first.json()["version"] == 2
    mine = chain(dict(SET_A, label="Mine"))
    stale = api.patch(f"/api/workflows/{wf.pk}/", {"definition": mine, "baseVersion": 1}, format="json")
    assert stale.status_code == 409
    body = stale.json()
    assert body["code"] == "stale_version" and body["field"] == "baseVersion"
    assert "Version 2 was saved by bob at " in body["message"]
    assert body["latestVersion"]["number"] == 2 and body["latestVersion"]["createdBy"] == "bob"
    assert wf.versions.count() == 2  # nothing written
    overwrite = api.patch(f"/api/workflows/{wf.pk}/", {"definition": mine, "baseVersion": 2}, format="json")
    assert overwrite.status_code == 200 and overwrite.json()["version"] == 3
    assert Workflow.objects.get(pk=wf.pk).latest_version.definition == mine


def test_a_stale_base_with_an_unchanged_definition_is_no_conflict(api, make_workflow):
    wf = make_workflow(chain(SET_A))
    api.patch(f"/api/workflows/{wf.pk}/", {"definition": chain(SET_A, SET_B)}, format="json")
    same = api.patch(
        f"/api/workflows/{wf.pk}/",
        {"definition": chain(SET_A, SET_B), "baseVersion": 1, "name": "Renamed"},
        format="json",
    )
    assert same.status_code == 200 and same.json()["version"] == 2 and same.json()["name"] == "Renamed"


def test_a_save_without_a_base_version_keeps_the_last_write_wins(api, make_workflow):
    wf = make_workflow(chain(SET_A))
    api.patch(f"/api/workflows/{wf.pk}/", {"definition": chain(SET_A, SET_B)}, format="json")
    response = api.put(
        f"/api/workflows/{wf.pk}/", {"name": "W", "definition": chain(dict(SET_A, label="Z"))}, format="json"
    )
    assert response.status_code == 200 and response.json()["version"] == 3


def test_a_base_version_that_does_not_exist_is_a_400(api, make_workflow):
    wf = make_workflow(chain(SET_A))
    response = api.patch(
        f"/api/workflows/{wf.pk}/", {"definition": chain(SET_A, SET_B), "baseVersion": 7}, format="json"
    )
    assert response.status_code == 400 and error_fields(response) == {"baseVersion"}


def test_the_workflow_body_refuses_unknown_keys_but_takes_back_what_it_sent(api, make_workflow):
    wf = make_workflow(chain(SET_A))
    typo = api.patch(f"/api/workflows/{wf.pk}/", {"defintion": chain(SET_A, SET_B)}, format="json")
    assert typo.status_code == 400 and error_fields(typo) == {"defintion"}
    round_trip = api.get(f"/api/workflows/{wf.pk}/").json()
    assert api.put(f"/api/workflows/{wf.pk}/", round_trip, format="json").status_code == 200


# --- Versions, diff, restore, export -----------------------------------------------------------


def test_versions_list_who_saved_each_and_when(api, make_workflow, bob):
    wf = make_workflow(chain(SET_A))
    client_for(bob).patch(f"/api/workflows/{wf.pk}/", {"definition": chain(SET_A, SET_B)}, format="json")
    versions = api.get(f"/api/workflows/{wf.pk}/versions/").json()
    assert [(v["number"], v["createdBy"], v["nodeCount"]) for v in versions] == [(2, "bob", 3), (1, "alice", 2)]
    one = api.get(f"/api/workflows/{wf.pk}/versions/1/").json()
    assert one["definition"] == chain(SET_A) and one["number"] == 1
    assert api.get(f"/api/workflows/{wf.pk}/versions/9/").status_code == 404


def test_diff_lists_nodes_edges_and_config_fields(api, make_workflow):
    wf = make_workflow(chain(SET_A, SET_B))
    changed_a = dict(SET_A, config={"values": {"x": 2}})
    moved_b = dict(SET_B, position={"x": 5, "y": 5})
    c = {"id": "c", "type": "set", "label": "C", "config": {}}
    after = chain(
        changed_a,
        moved_b,
        c,
        edges=[
            {"source": "trigger", "target": "a"},
            {"source": "a", "target": "b"},
            {"source": "trigger", "target": "c"},
        ],
    )
    api.patch(f"/api/workflows/{wf.pk}/", {"definition": after}, format="json")
    diff = api.get(f"/api/workflows/{wf.pk}/diff/?from=1&to=2").json()
    assert diff["fromVersion"] == 1 and diff["toVersion"] == 2 and diff["isEmpty"] is False
    assert diff["added"] == [{"nodeId": "c", "label": "C", "type": "set"}] and diff["removed"] == []
    assert diff["changed"] == [
        {
            "nodeId": "a",
            "label": "A",
            "type": "set",
            "changes": [
                {"field": "config.values", "before": {"x": "{{Trigger.n}}"}, "after": {"x": 2}},
            ],
        }
    ]
    assert diff["moved"] == ["b"]
    assert diff["edgesAdded"] == [{"source": "trigger", "target": "c", "branch": None}] and diff["edgesRemoved"] == []
    back = api.get(f"/api/workflows/{wf.pk}/diff/?from=2&to=1").json()
    assert back["removed"] == [{"nodeId": "c", "label": "C", "type": "set"}]
    assert back["edgesRemoved"] == [{"source": "trigger", "target": "c", "branch": None}]


def test_diff_needs_two_version_numbers(api, make_workflow):
    wf = make_workflow(chain(SET_A))
    response = api.get(f"/api/workflows/{wf.pk}/diff/?from=1")
    assert response.status_code == 400 and error_fields(response) == {"to"}
    assert api.get(f"/api/workflows/{wf.pk}/diff/?from=1&to=3").status_code == 404


def test_restore_saves_an_old_version_as_a_new_one(api, make_workflow):
    wf = make_workflow(chain(SET_A))
    api.patch(f"/api/workflows/{wf.pk}/", {"definition": chain(SET_A, SET_B)}, format="json")
    response = api.post(f"/api/workflows/{wf.pk}/versions/1/restore/", {"baseVersion": 2}, format="json")
    assert response.status_code == 201 and response.json()["version"] == 3
    assert wf.versions.get(number=3).definition == wf.versions.get(number=1).definition
    again = api.post(f"/api/workflows/{wf.pk}/versions/3/restore/", {}, format="json")
    assert again.status_code == 200 and again.json()["version"] == 3  # already the latest
    stale = api.post(f"/api/workflows/{wf.pk}/versions/2/restore/", {"baseVersion": 1}, format="json")
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"
    assert wf.versions.count() == 3


def test_export_is_the_document_the_import_command_reads(api, make_workflow):
    wf = make_workflow(chain(SET_A), name="Exported")
    response = api.get(f"/api/workflows/{wf.pk}/versions/1/export/")
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    assert response.json() == {
        "format": "workflow/v1",
        "name": "Exported",
        "description": "",
        "isActive": True,
        "version": 1,
        "definition": chain(SET_A),
    }


def test_versions_diff_and_restore_are_404_across_tenants(api, make_workflow, other_tenant):
    theirs = make_workflow(chain(SET_A), on_tenant=other_tenant)
    for url in (
        f"/api/workflows/{theirs.pk}/versions/",
        f"/api/workflows/{theirs.pk}/versions/1/",
        f"/api/workflows/{theirs.pk}/diff/?from=1&to=1",
        f"/api/workflows/{theirs.pk}/versions/1/export/",
    ):
        assert api.get(url).status_code == 404, url
    response = api.post(f"/api/workflows/{theirs.pk}/versions/1/restore/", {}, format="json")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


# --- Run from here -------------------------------------------------------------------------------


@pytest.fixture
def finished_test_run(make_workflow, user, worker):
    wf = make_workflow(chain(SET_A, SET_B))
    execution = start_test_run(workflow=wf, user=user, input={"n": 5})
    worker.run_until_idle()
    execution.refresh_from_db()
    assert execution.status == "success"
    return execution


def runs(execution_id) -> dict:
    return {r.node_id: r for r in NodeRun.objects.filter(execution_id=execution_id)}


@pytest.mark.django_db(transaction=True)
def test_run_from_here_reruns_a_copy_from_the_node_with_the_upstream_outputs(api, finished_test_run, worker):
    original = runs(finished_test_run.pk)
    response = api.post(f"/api/executions/{finished_test_run.pk}/run-from-here/", {"nodeId": "b"}, format="json")
    assert response.status_code == 202
    copy_id = response.json()["executionId"]
    assert copy_id != str(finished_test_run.pk)
    copy_runs = runs(copy_id)
    assert copy_runs["a"].output == {"x": 5} and copy_runs["a"].status == "success"
    assert copy_runs["a"].finished_at == original["a"].finished_at  # kept, not run again
    assert copy_runs["b"].status == "running" and copy_runs["b"].output is None
    worker.run_until_idle()
    copy = Execution.objects.get(pk=copy_id)
    assert copy.is_test and copy.status == "success" and copy.context["B"] == {"y": 5}
    assert runs(copy_id)["a"].attempt == original["a"].attempt  # A did not run again
    untouched = Execution.objects.get(pk=finished_test_run.pk)
    assert untouched.status == "success" and runs(untouched.pk)["b"].finished_at == original["b"].finished_at


@pytest.mark.django_db(transaction=True)
def test_run_from_here_on_an_edited_definition(api, finished_test_run, worker):
    edited = chain(SET_A, dict(SET_B, config={"values": {"y": "{{A.x}}", "twice": "{{A.x}}{{A.x}}"}}))
    response = api.post(
        f"/api/executions/{finished_test_run.pk}/run-from-here/", {"nodeId": "b", "definition": edited}, format="json"
    )
    assert response.status_code == 202
    worker.run_until_idle()
    copy = Execution.objects.get(pk=response.json()["executionId"])
    assert copy.status == "success" and copy.context["B"] == {"y": 5, "twice": "55"}
    assert copy.workflow_version.definition == edited
    assert finished_test_run.workflow.versions.count() == 1  # the real workflow got no version


@pytest.mark.django_db(transaction=True)
def test_run_from_here_refuses_an_edit_before_the_node(api, finished_test_run):
    edited = chain(dict(SET_A, label="Renamed"), dict(SET_B, config={"values": {"y": "{{Renamed.x}}"}}))
    response = api.post(
        f"/api/executions/{finished_test_run.pk}/run-from-here/", {"nodeId": "b", "definition": edited}, format="json"
    )
    assert response.status_code == 409 and response.json()["field"] == "version"
    assert Execution.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_run_from_here_never_touches_production_executions(api, make_workflow, user, worker):
    wf = make_workflow(chain(SET_A, SET_B))
    execution_id = trigger_workflow(workflow_id=wf.pk, user_name=user.username, input={"n": 1}).execution_id
    worker.run_until_idle()
    response = api.post(f"/api/executions/{execution_id}/run-from-here/", {"nodeId": "b"}, format="json")
    assert response.status_code == 409 and response.json()["field"] == "executionId"
    assert Execution.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_run_from_here_waits_for_the_run_to_finish(api, make_workflow, user):
    wf = make_workflow(chain({"id": "s", "type": "sleep", "label": "Nap", "config": {"duration": "1h"}}, SET_A))
    execution = start_test_run(workflow=wf, user=user, input={})
    response = api.post(f"/api/executions/{execution.pk}/run-from-here/", {"nodeId": "a"}, format="json")
    assert response.status_code == 409 and response.json()["field"] == "status"


@pytest.mark.django_db(transaction=True)
def test_run_from_here_body_and_tenancy(api, finished_test_run, other_user):
    url = f"/api/executions/{finished_test_run.pk}/run-from-here/"
    assert error_fields(api.post(url, {}, format="json")) == {"nodeId"}
    assert error_fields(api.post(url, {"nodeId": "b", "from": "x"}, format="json")) == {"from"}
    assert api.post(url, {"nodeId": "nope"}, format="json").status_code == 409
    assert client_for(other_user).post(url, {"nodeId": "b"}, format="json").status_code == 404
