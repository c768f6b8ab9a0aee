"""The Request Approval node and the decision services, run by a real in-process worker."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from approvals import services
from approvals.exceptions import AlreadyDecided, InvalidDecision, NotEligible, RequestNotPending
from approvals.models import ApprovalEvent, ApprovalRequest
from approvals.selectors import eligible_usernames, pending_for
from tests.approvals.conftest import approval_definition
from workflows.engine import cancel_execution
from workflows.exceptions import InvalidDefinition
from workflows.models import Membership, NodeRun

pytestmark = pytest.mark.django_db(transaction=True)


def decide(request, user, decision="approved", **kwargs):
    return services.decide(request_id=request.pk, user=user, decision=decision, **kwargs)


def node(execution, node_id="approval"):
    return NodeRun.objects.get(execution=execution, node_id=node_id)


def test_trigger_request_approval_set_finishes_with_the_decision_in_context(start_approval, approvers, worker):
    execution, request = start_approval(
        {"title": "Order {{Trigger.orderId}}", "approvers": "bob"}, input={"orderId": "A-7"}
    )
    assert execution.status == "paused"
    assert request.title == "Order A-7"
    decide(request, approvers["bob"], comment="fine")
    worker.run_until_idle()
    execution.refresh_from_db()
    assert execution.status == "success"
    assert execution.context["After"] == {"decision": "approved", "order": "A-7"}
    output = execution.context["Request Approval"]
    assert output["approvalRequestId"] == str(request.pk)
    assert [(d["user"], d["decision"], d["comment"], d["channel"]) for d in output["decisions"]] == [
        ("bob", "approved", "fine", "page")
    ]


def test_pause_deadline_is_the_request_deadline(start_approval, approvers):
    execution, request = start_approval({"title": "T", "approvers": "bob", "expiresIn": "2h"})
    run = node(execution)
    assert run.status == "paused"
    assert run.wake_at == request.deadline
    assert timedelta(hours=1, minutes=59) < request.deadline - request.created_at <= timedelta(hours=2)
    assert run.pause_data == {"approvalRequestId": str(request.pk)}


def test_only_listed_users_in_the_tenant_are_eligible(start_approval, approvers, make_user, other_tenant):
    make_user("outsider", tenant=other_tenant)
    execution, request = start_approval({"title": "T", "approvers": "bob, outsider, ghost"})
    assert eligible_usernames(request) == {"bob"}
    with pytest.raises(NotEligible):
        decide(request, approvers["dave"])
    assert any("outsider, ghost" in entry["message"] for entry in node(execution).logs)


def test_members_of_a_role_are_eligible(start_approval, managers, make_user, other_tenant):
    stranger = make_user("stranger", tenant=other_tenant)
    stranger.groups.add(Group.objects.get(name="managers"))
    execution, request = start_approval({"title": "T", "approverRoles": '["managers"]'})
    assert eligible_usernames(request) == {"erin", "frank"}
    with pytest.raises(NotEligible):
        decide(request, stranger)
    decide(request, managers[0])
    request.refresh_from_db()
    assert request.status == "approved"


def test_second_decision_by_the_same_user_is_refused(start_approval, approvers):
    _, request = start_approval({"title": "T", "approvalType": "any", "approvers": "bob,carol"})
    decide(request, approvers["bob"], "rejected")
    with pytest.raises(AlreadyDecided):
        decide(request, approvers["bob"], "approved")
    assert request.decisions.count() == 1


def test_decision_on_a_settled_request_is_refused(start_approval, approvers):
    _, request = start_approval({"title": "T", "approvers": "bob,carol"})
    decide(request, approvers["bob"])
    with pytest.raises(RequestNotPending, match="already approved"):
        decide(request, approvers["carol"])


def test_decision_after_the_deadline_is_refused_before_the_timer_fires(start_approval, approvers):
    _, request = start_approval({"title": "T", "approvers": "bob", "expiresIn": "1h"})
    ApprovalRequest.objects.filter(pk=request.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    with pytest.raises(RequestNotPending, match="expired"):
        decide(request, approvers["bob"])


def test_rejection_errors_the_workflow_by_default(start_approval, approvers, worker):
    execution, request = start_approval({"title": "Pay", "approvers": "bob"})
    decide(request, approvers["bob"], "rejected")
    worker.run_until_idle()
    execution.refresh_from_db()
    assert execution.status == "error"
    assert execution.error["message"] == "Approval rejected: Pay"
    assert node(execution, "after").status == "idle"


def test_rejection_continues_when_configured(start_approval, approvers, worker):
    execution, request = start_approval({"title": "Pay", "approvers": "bob", "onRejection": "continue"})
    decide(request, approvers["bob"], "rejected")
    worker.run_until_idle()
    execution.refresh_from_db()
    assert execution.status == "success"
    assert execution.context["After"]["decision"] == "rejected"


def test_any_rejects_only_when_every_approver_rejected(start_approval, approvers):
    _, request = start_approval(
        {"title": "T", "approvalType": "any", "approvers": "bob,carol", "onRejection": "continue"}
    )
    decide(request, approvers["bob"], "rejected")
    request.refresh_from_db()
    assert request.status == "pending"
    decide(request, approvers["carol"], "rejected")
    request.refresh_from_db()
    assert request.status == "rejected"


def test_all_needs_the_required_count(start_approval, approvers, worker):
    execution, request = start_approval(
        {"title": "T", "approvalType": "all", "approvers": "bob,carol,dave", "requiredApprovals": 2}
    )
    decide(request, approvers["bob"])
    request.refresh_from_db()
    assert request.status == "pending"
    assert node(execution).status == "paused"
    decide(request, approvers["carol"])
    worker.run_until_idle()
    execution.refresh_from_db()
    assert execution.status == "success"
    assert [d["user"] for d in execution.context["Request Approval"]["decisions"]] == ["bob", "carol"]


def test_all_rejects_on_any_rejection(start_approval, approvers):
    _, request = start_approval({"title": "T", "approvalType": "all", "approvers": "bob,carol,dave"})
    decide(request, approvers["bob"])
    decide(request, approvers["carol"], "rejected")
    request.refresh_from_db()
    assert request.status == "rejected"


def test_expiry_errors_the_workflow(start_approval, approvers, run_until, finished):
    execution, request = start_approval({"title": "T", "approvers": "bob", "expiresIn": "1s"})
    run_until(finished(execution.pk))
    execution.refresh_from_db()
    request.refresh_from_db()
    assert request.status == "expired"
    assert execution.status == "error"
    assert execution.error["message"] == "Approval request expired: T"
    assert request.events.filter(kind=ApprovalEvent.Kind.EXPIRED).exists()


def test_expiry_continues_when_configured(start_approval, approvers, run_until, finished):
    execution, request = start_approval(
        {"title": "T", "approvers": "bob", "expiresIn": "1s", "onExpiration": "continue"}
    )
    run_until(finished(execution.pk))
    execution.refresh_from_db()
    assert execution.status == "success"
    assert execution.context["Request Approval"]["decision"] == "expired"
    assert execution.context["After"]["decision"] == "expired"


def test_cancelling_the_execution_cancels_its_pending_request(start_approval, approvers):
    execution, request = start_approval({"title": "T", "approvers": "bob"})
    cancel_execution(execution.pk)
    request.refresh_from_db()
    assert request.status == "cancelled"
    with pytest.raises(RequestNotPending):
        decide(request, approvers["bob"])


def test_self_approval_can_be_forbidden(start_approval, approvers, user):
    _, request = start_approval({"title": "T", "approvers": f"{user.username},bob", "allowSelfApproval": False})
    assert eligible_usernames(request) == {"bob"}
    with pytest.raises(NotEligible, match="your own"):
        decide(request, user)


def test_self_approval_is_allowed_by_default(start_approval, user):
    _, request = start_approval({"title": "T", "approvers": user.username})
    decide(request, user)
    request.refresh_from_db()
    assert request.status == "approved"


def test_delegation_moves_the_vote_and_keeps_the_audit(start_approval, approvers, make_user, tenant):
    _, request = start_approval({"title": "T", "approvalType": "all", "approvers": "bob,carol"})
    services.delegate(request_id=request.pk, user=approvers["bob"], to_username="dave", comment="on leave")
    request.refresh_from_db()
    assert eligible_usernames(request) == {"carol", "dave"}
    with pytest.raises(NotEligible, match="You delegated this request"):
        decide(request, approvers["bob"])
    event = request.events.get(kind=ApprovalEvent.Kind.DELEGATED)
    assert (event.actor.username, event.target.username, event.comment) == ("bob", "dave", "on leave")
    decide(request, approvers["dave"])
    decide(request, approvers["carol"])
    request.refresh_from_db()
    assert request.status == "approved"


@pytest.mark.parametrize(
    "target, message", [("bob", "yourself"), ("carol", "already an approver"), ("nobody", "No active user")]
)
def test_delegation_refuses_bad_targets(start_approval, approvers, target, message):
    _, request = start_approval({"title": "T", "approvers": "bob,carol"})
    with pytest.raises(InvalidDecision, match=message):
        services.delegate(request_id=request.pk, user=approvers["bob"], to_username=target)


FORM = [
    {"key": "po", "label": "PO number", "type": "text", "required": True},
    {"key": "amount", "label": "Amount", "type": "number"},
    {"key": "tier", "label": "Tier", "type": "select", "options": ["gold", "silver"]},
]


def test_decision_form_values_are_validated_and_returned(start_approval, approvers, worker):
    execution, request = start_approval({"title": "T", "approvers": "bob", "formFields": FORM})
    with pytest.raises(InvalidDecision) as exc:
        decide(request, approvers["bob"], form_values={"amount": "12"})
    assert exc.value.field == "formValues.po"
    with pytest.raises(InvalidDecision) as exc:
        decide(request, approvers["bob"], form_values={"po": "P1", "amount": "lots"})
    assert exc.value.field == "formValues.amount"
    with pytest.raises(InvalidDecision) as exc:
        decide(request, approvers["bob"], form_values={"po": "P1", "tier": "bronze"})
    assert exc.value.field == "formValues.tier"
    with pytest.raises(InvalidDecision) as exc:
        decide(request, approvers["bob"], form_values={"po": "P1", "color": "red"})
    assert exc.value.field == "formValues.color"
    assert request.decisions.count() == 0
    decide(request, approvers["bob"], form_values={"po": " P1 ", "amount": "12", "tier": "gold"})
    worker.run_until_idle()
    execution.refresh_from_db()
    assert execution.context["Request Approval"]["decisions"][0]["formValues"] == {
        "po": "P1",
        "amount": 12,
        "tier": "gold",
    }


def test_required_form_fields_do_not_bind_a_rejection(start_approval, approvers):
    _, request = start_approval({"title": "T", "approvers": "bob", "formFields": FORM, "onRejection": "continue"})
    decide(request, approvers["bob"], "rejected", comment="no PO")
    request.refresh_from_db()
    assert request.status == "rejected"


def test_bad_decision_value_is_refused(start_approval, approvers):
    _, request = start_approval({"title": "T", "approvers": "bob"})
    with pytest.raises(InvalidDecision) as exc:
        decide(request, approvers["bob"], "maybe")
    assert exc.value.field == "decision"
    with pytest.raises(InvalidDecision) as exc:
        decide(request, approvers["bob"], comment="x" * 5001)
    assert exc.value.field == "comment"
    assert request.decisions.count() == 0


def test_config_that_resolves_badly_fails_the_node_naming_the_field(start_approval, approvers):
    execution, request = start_approval({"title": "T", "approvers": "{{Trigger.who}}"}, input={"who": ""})
    execution.refresh_from_db()
    assert request is None
    assert execution.status == "error"
    assert "approvers" in execution.error["message"]


def test_bad_static_config_is_refused_when_saved(make_workflow):
    with pytest.raises(InvalidDefinition) as exc:
        make_workflow(
            approval_definition({"title": "T", "approvers": "bob", "expiresIn": "tomorrow", "approvalType": "most"})
        )
    fields = {e["field"] for e in exc.value.errors}
    assert {"config.expiresIn", "config.approvalType"} <= fields


def test_decisions_are_logged_on_the_node(start_approval, approvers):
    execution, request = start_approval({"title": "T", "approvalType": "all", "approvers": "bob,carol"})
    decide(request, approvers["bob"], channel="api")
    assert any(e["message"] == "bob approved via api" for e in node(execution).logs)


# --- No approvers and no roles: the tenant's admins decide -------------------------------------


@pytest.fixture
def admins(make_user, tenant, other_tenant):
    """ada and abe: admins of the tenant; oscar: an admin of another tenant only."""
    made = {name: make_user(name, tenant=tenant) for name in ("ada", "abe")}
    Membership.objects.filter(tenant=tenant, user__in=made.values()).update(role=Membership.Role.ADMIN)
    oscar = make_user("oscar", tenant=other_tenant)
    Membership.objects.filter(user=oscar).update(role=Membership.Role.ADMIN)
    return made


def test_a_definition_without_approvers_or_roles_is_accepted(make_workflow):
    workflow = make_workflow(approval_definition({"title": "Refund {{Trigger.orderId}}"}))
    assert workflow.latest_version.definition["nodes"][1]["config"] == {"title": "Refund {{Trigger.orderId}}"}


def test_without_approvers_or_roles_the_tenants_admins_decide(start_approval, admins, approvers, user, worker):
    execution, request = start_approval({"title": "Refund"})
    assert request.approvers == ["abe", "ada"] and request.approver_roles == []
    assert eligible_usernames(request) == {"ada", "abe"}
    assert request.events.get(kind=ApprovalEvent.Kind.CREATED).data["approvers"] == "tenant admins"
    assert any("asking the tenant's admins (abe, ada)" in e["message"] for e in node(execution).logs)
    # Members who are not admins (the execution's own user among them) and another
    # tenant's admin cannot decide.
    for outsider in (approvers["bob"], user, get_user_model().objects.get(username="oscar")):
        with pytest.raises(NotEligible):
            decide(request, outsider)
    decide(request, admins["ada"])
    worker.run_until_idle()
    request.refresh_from_db()
    execution.refresh_from_db()
    assert request.status == "approved" and execution.status == "success"
    assert execution.context["After"]["decision"] == "approved"


def test_an_admin_sees_the_request_among_the_pending_ones(start_approval, admins, approvers):
    _, request = start_approval({"title": "Refund"})
    assert [r.pk for r in pending_for(admins["abe"])] == [request.pk]
    assert pending_for(approvers["bob"]) == []


def test_a_tenant_without_admins_gets_a_request_nobody_can_decide_yet(start_approval, approvers):
    execution, request = start_approval({"title": "Refund"})
    assert request.approvers == [] and eligible_usernames(request) == set()
    messages = [e["message"] for e in node(execution).logs]
    assert any("asking the tenant's admins, and it has none" in m for m in messages)
    assert "No eligible approver yet" in messages
