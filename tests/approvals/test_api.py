"""REST: the caller's approvals, one request, decide and delegate."""

import pytest
from rest_framework.test import APIClient

from tests.conftest import error_fields

pytestmark = pytest.mark.django_db(transaction=True)


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_pending_lists_only_what_the_caller_may_decide(start_approval, approvers):
    _, mine = start_approval({"title": "Mine", "approvers": "bob"})
    start_approval({"title": "Carol's", "approvers": "carol"})
    body = api_for(approvers["bob"]).get("/api/approvals/?status=pending").json()
    assert [r["title"] for r in body["results"]] == ["Mine"]
    row = body["results"][0]
    assert row["id"] == str(mine.pk) and row["canDecide"] is True and row["approvalType"] == "single"
    assert row["executionId"] == str(mine.execution_id) and row["workflowName"] == "Test workflow"


def test_unknown_status_filter_names_the_field(approvers):
    answer = api_for(approvers["bob"]).get("/api/approvals/?status=maybe")
    assert answer.status_code == 400 and "status" in error_fields(answer)


def test_decide_settles_the_request(start_approval, approvers, worker):
    execution, request = start_approval({"title": "T", "approvers": "bob"})
    answer = api_for(approvers["bob"]).post(
        f"/api/approvals/{request.pk}/decide/", {"decision": "approved", "comment": "ok"}, format="json"
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "approved" and body["canDecide"] is False
    assert body["decisions"][0]["user"] == "bob" and body["decisions"][0]["channel"] == "api"
    worker.run_until_idle()
    execution.refresh_from_db()
    assert execution.status == "success"
    assert api_for(approvers["bob"]).get("/api/approvals/?status=approved").json()["count"] == 1


def test_refusals_are_clear_4xx_answers(start_approval, approvers, other_user):
    _, request = start_approval(
        {
            "title": "T",
            "approvalType": "any",
            "approvers": "bob,carol",
            "formFields": [{"key": "po", "label": "PO", "required": True}],
        }
    )
    path = f"/api/approvals/{request.pk}/decide/"
    bad = api_for(approvers["bob"]).post(path, {"decision": "maybe"}, format="json")
    assert bad.status_code == 400 and "decision" in error_fields(bad)
    form = api_for(approvers["bob"]).post(path, {"decision": "approved"}, format="json")
    assert form.status_code == 400 and form.json()["field"] == "formValues.po"
    stranger = api_for(approvers["dave"]).post(path, {"decision": "approved"}, format="json")
    assert stranger.status_code == 403 and stranger.json()["code"] == "not_eligible"
    assert api_for(other_user).get(f"/api/approvals/{request.pk}/").status_code == 404
    assert api_for(approvers["bob"]).post(path, {"decision": "rejected"}, format="json").status_code == 200
    again = api_for(approvers["bob"]).post(path, {"decision": "rejected"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "already_decided"
    assert request.decisions.count() == 1


def test_retrieve_and_delegate(start_approval, approvers):
    _, request = start_approval({"title": "T", "approvers": "bob"})
    bob = api_for(approvers["bob"])
    assert bob.get(f"/api/approvals/{request.pk}/").json()["title"] == "T"
    answer = bob.post(
        f"/api/approvals/{request.pk}/delegate/", {"delegateTo": "dave", "comment": "away"}, format="json"
    )
    assert answer.status_code == 200 and "dave" in answer.json()["approvers"]
    missing = bob.post(f"/api/approvals/{request.pk}/delegate/", {"delegateTo": "carol"}, format="json")
    assert missing.status_code == 403  # bob handed it away and is no longer an approver
    assert api_for(approvers["dave"]).get(f"/api/approvals/{request.pk}/").json()["canDecide"] is True


def test_anonymous_callers_are_refused(start_approval, approvers):
    start_approval({"title": "T", "approvers": "bob"})
    assert APIClient().get("/api/approvals/").status_code in (401, 403)


def test_pending_leaves_out_what_the_caller_already_decided(start_approval, approvers):
    _, request = start_approval({"title": "Needs both", "approvalType": "all", "approvers": "bob,carol"})
    bob = api_for(approvers["bob"])
    bob.post(f"/api/approvals/{request.pk}/decide/", {"decision": "approved"}, format="json")
    assert bob.get("/api/approvals/?status=pending").json()["count"] == 0
    everything = bob.get("/api/approvals/").json()["results"]
    assert [(r["title"], r["status"], r["canDecide"]) for r in everything] == [("Needs both", "pending", False)]


def test_an_unknown_key_in_a_decision_is_refused_and_decides_nothing(start_approval, approvers):
    _, request = start_approval({"title": "T", "approvers": "bob"})
    answer = api_for(approvers["bob"]).post(
        f"/api/approvals/{request.pk}/decide/", {"decision": "approved", "coment": "typo"}, format="json"
    )
    assert answer.status_code == 400 and answer.json()["field"] == "coment"
    request.refresh_from_db()
    assert request.status == "pending" and not request.decisions.exists()


def test_malformed_json_decision_is_a_400_naming_the_body(start_approval, approvers):
    _, request = start_approval({"title": "T", "approvers": "bob"})
    answer = api_for(approvers["bob"]).post(
        f"/api/approvals/{request.pk}/decide/", data="{decision", content_type="application/json"
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == "parse_error" and answer.json()["field"] == "body"


def test_a_deciding_decision_runs_a_bounded_number_of_statements(
    start_approval, approvers, django_assert_max_num_queries
):
    """Scope, lock execution, node run and request (the request names its execution, so no
    lookup), check and record the decision, settle and resume, answer: at most 25 statements
    with the test's savepoint (the benchmark's decision latency is mostly these round trips)."""
    execution, request = start_approval({"title": "T", "approvers": "bob"})
    client = api_for(approvers["bob"])
    with django_assert_max_num_queries(25):
        answer = client.post(f"/api/approvals/{request.pk}/decide/", {"decision": "approved"}, format="json")
    assert answer.status_code == 200 and answer.json()["status"] == "approved"
