"""The API's edge: deep JSON, NUL characters and lone surrogates answer 400 naming the field,
never a RecursionError or a database error; chunked bodies are read, with the same size limit."""

from __future__ import annotations

import pytest

from tests.conftest import chain

DEEP = "[" * 100_000 + "]" * 100_000  # 200 KB, far under the body limit


def post_raw(client, url, text, **extra):
    return client.post(url, data=text.encode("utf-8", "surrogatepass"), content_type="application/json", **extra)


@pytest.fixture
def workflow(make_workflow):
    return make_workflow(chain({"id": "a", "type": "set", "label": "A", "config": {"values": {}}}))


@pytest.mark.parametrize(
    "body, field",
    [
        ('{"input": {"deep": ' + DEEP + "}}", "input"),
        (DEEP, "body"),
    ],
    ids=["input", "document"],
)
def test_deep_trigger_input_answers_400_naming_the_field(api, workflow, body, field):
    response = post_raw(api, f"/api/workflows/{workflow.pk}/trigger/", body)
    assert response.status_code == 400, response.content[:300]
    assert response.json()["field"] == field
    assert "nested deeper than" in response.json()["message"]


def test_deep_definition_on_create_answers_400(api):
    response = post_raw(api, "/api/workflows/", '{"name": "x", "definition": {"nodes": ' + DEEP + "}}")
    assert response.status_code == 400
    assert response.json()["field"] == "definition"


def test_nesting_within_the_bound_is_accepted(api, workflow, settings):
    nested = "[" * (settings.API_MAX_JSON_DEPTH - 2) + "]" * (settings.API_MAX_JSON_DEPTH - 2)
    response = post_raw(api, f"/api/workflows/{workflow.pk}/trigger/", '{"input": {"deep": ' + nested + "}}")
    assert response.status_code == 202, response.content


def test_brackets_inside_strings_do_not_count(api, workflow):
    response = post_raw(api, f"/api/workflows/{workflow.pk}/trigger/", '{"input": {"text": "' + ("[{" * 5000) + '"}}')
    assert response.status_code == 202


@pytest.mark.parametrize(
    "text, field",
    [
        ('{"input": {"note": "a\\u0000b"}}', "input.note"),
        ('{"input": {"items": ["ok", "\\ud800"]}}', "input.items[1]"),
        ('{"input": {"bad\\u0000key": 1}}', "input"),
    ],
    ids=["nul", "surrogate", "nul-in-key"],
)
def test_nul_and_lone_surrogates_in_trigger_input_answer_400(api, workflow, text, field):
    response = post_raw(api, f"/api/workflows/{workflow.pk}/trigger/", text)
    assert response.status_code == 400, response.content
    assert response.json()["field"] == field


def test_a_valid_surrogate_pair_is_fine(api, workflow):
    response = post_raw(api, f"/api/workflows/{workflow.pk}/trigger/", '{"input": {"emoji": "\\ud83d\\ude00"}}')
    assert response.status_code == 202


def test_nul_in_a_query_parameter_answers_400_naming_it(api):
    response = api.get("/api/workflow/events/waits/?key=a%00b")
    assert response.status_code == 400
    assert response.json()["field"] == "key"


def test_nul_in_a_workflow_name_answers_400(api):
    response = post_raw(api, "/api/workflows/", '{"name": "a\\u0000", "definition": {"nodes": [], "edges": []}}')
    assert response.status_code == 400
    assert response.json()["field"] == "name"


def test_a_form_body_answers_415_in_the_error_shape(api, workflow):
    response = api.post(
        f"/api/workflows/{workflow.pk}/trigger/", data="input=1", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 415
    assert response.json()["field"] == "body"


def test_an_api_path_that_matches_no_route_answers_404_json(api):
    response = api.get("/api/no-such-thing/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json" and response.json()["code"] == "not_found"
