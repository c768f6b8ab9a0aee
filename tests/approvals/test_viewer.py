"""What the execution viewer shows about a paused Request Approval node, and operators'
read access to the approval page (they still cannot decide)."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from approvals import services
from approvals.models import ApprovalRequest, ApprovalStatus
from workflows.models import Membership

pytestmark = pytest.mark.django_db(transaction=True)

CONFIG = {
    "title": "Order {{Trigger.orderId}}",
    "approvers": "bob,carol",
    "approvalType": "all",
    "expiresIn": "2d",
    "emailSubject": "Please look at {{title}}",
}


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def page_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def approval_run(answer) -> dict:
    return next(run for run in answer.json()["nodeRuns"] if run["nodeId"] == "approval")


@pytest.fixture
def operator(make_user, tenant):
    """A staff member of the tenant who is no approver."""
    return make_user("olga", tenant=tenant, is_staff=True, is_superuser=True)


def test_a_paused_approval_names_approvers_policy_decisions_and_deadline(start_approval, approvers, api):
    execution, request = start_approval(CONFIG)
    services.decide(request_id=request.pk, user=approvers["bob"], decision="approved", comment="Looks fine")

    waiting = approval_run(api.get(f"/api/executions/{execution.pk}/"))["waitingFor"]

    assert waiting["kind"] == "approval" and waiting["requestId"] == str(request.pk)
    assert waiting["url"].rstrip("/") == f"/workflows/approvals/{request.pk}"
    assert waiting["title"] == "Order A-1" and waiting["status"] == "pending"
    assert (waiting["policy"], waiting["requiredApprovals"]) == ("all", 2)
    assert waiting["approvers"] == ["bob", "carol"] and waiting["eligible"] == ["bob", "carol"]
    assert [(d["user"], d["decision"], d["comment"]) for d in waiting["decisions"]] == [
        ("bob", "approved", "Looks fine")
    ]
    assert (
        waiting["decisions"][0]["at"]
        and waiting["deadline"]
        and waiting["deadline"] == request.deadline.isoformat().replace("+00:00", "Z")
    )
    assert waiting["canDecide"] is False  # alice is no approver


def test_can_decide_is_true_only_for_an_approver_who_has_not_decided(start_approval, approvers):
    execution, request = start_approval(CONFIG)
    services.decide(request_id=request.pk, user=approvers["bob"], decision="approved")
    for name, expected in (("bob", False), ("carol", True), ("dave", False)):
        answer = api_for(approvers[name]).get(f"/api/executions/{execution.pk}/")
        assert approval_run(answer)["waitingFor"]["canDecide"] is expected, name


def test_the_approval_node_shows_its_config_resolved(start_approval, approvers, api):
    execution, _ = start_approval(CONFIG)
    config = approval_run(api.get(f"/api/executions/{execution.pk}/"))["resolvedConfig"]
    assert config["title"] == "Order A-1"
    assert config["emailSubject"] == "Please look at Order A-1"  # {{title}}: the node's own resolved title
    assert "{{" not in str(config)


def test_a_finished_approval_node_has_no_pause_details(start_approval, approvers, api):
    execution, request = start_approval({"title": "T", "approvers": "bob"})
    services.decide(request_id=request.pk, user=approvers["bob"], decision="approved")
    assert approval_run(api.get(f"/api/executions/{execution.pk}/"))["waitingFor"] is None


def test_staff_of_the_tenant_read_the_approval_page_but_cannot_decide(start_approval, approvers, operator):
    _, request = start_approval(CONFIG)
    client = page_for(operator)
    page = client.get(f"/workflows/approvals/{request.pk}")
    assert page.status_code == 200
    html = page.content.decode()
    assert "only its approvers can decide" in html and "bob, carol" in html
    assert 'name="decision"' not in html  # no decision form
    refused = client.post(f"/workflows/approvals/{request.pk}", {"decision": "approved"})
    assert refused.status_code == 403
    request.refresh_from_db()
    assert request.status == ApprovalStatus.PENDING and not request.decisions.exists()


def test_an_admin_of_the_tenant_reads_the_approval_page(start_approval, approvers, make_user, tenant):
    admin = make_user("adam")
    Membership.objects.create(tenant=tenant, user=admin, role=Membership.Role.ADMIN)
    _, request = start_approval(CONFIG)
    assert page_for(admin).get(f"/workflows/approvals/{request.pk}").status_code == 200


def test_a_plain_member_who_is_no_approver_still_gets_403(start_approval, approvers, user):
    _, request = start_approval(CONFIG)
    assert page_for(user).get(f"/workflows/approvals/{request.pk}").status_code == 403


def test_staff_of_another_tenant_get_404(start_approval, approvers, make_user, other_tenant):
    outsider = make_user("root", tenant=other_tenant, is_staff=True, is_superuser=True)
    _, request = start_approval(CONFIG)
    assert page_for(outsider).get(f"/workflows/approvals/{request.pk}").status_code == 404
    assert api_for(outsider).get(f"/api/approvals/{request.pk}/").status_code == 404


def test_operators_read_the_request_in_the_api_but_cannot_decide(start_approval, approvers, operator):
    _, request = start_approval(CONFIG)
    client = api_for(operator)
    answer = client.get(f"/api/approvals/{request.pk}/")
    assert answer.status_code == 200 and answer.json()["canDecide"] is False
    refused = client.post(f"/api/approvals/{request.pk}/decide/", {"decision": "approved"}, format="json")
    assert refused.status_code == 403
    assert not ApprovalRequest.objects.get(pk=request.pk).decisions.exists()
