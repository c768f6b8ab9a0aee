"""The Django admin: list with filters, read-only request, decisions inline, approve/reject actions."""

import pytest
from django.test import Client

from approvals.models import ApprovalRequest

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def admin_bob(approvers):
    bob = approvers["bob"]
    bob.is_staff = bob.is_superuser = True
    bob.save()
    client = Client()
    client.force_login(bob)
    return client


def test_changelist_has_the_filters(start_approval, admin_bob):
    start_approval({"title": "Buy laptops", "approvers": "bob"})
    start_approval({"title": "Hire intern", "approvers": "bob"})  # a second workflow: the filter shows
    page = admin_bob.get("/admin/approvals/approvalrequest/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Buy laptops" in html
    for name in ("By status", "By approval type", "By workflow", "By deadline"):
        assert name in html


def test_change_page_is_read_only_with_decisions_inline(start_approval, admin_bob, approvers):
    from approvals import services

    _, request = start_approval(
        {"title": "Hire", "approvalType": "all", "approvers": "bob,carol", "contextData": {"role": "intern"}}
    )
    services.decide(request_id=request.pk, user=approvers["carol"], decision="approved", comment="yes")
    html = admin_bob.get(f"/admin/approvals/approvalrequest/{request.pk}/change/").content.decode()
    assert "&quot;role&quot;: &quot;intern&quot;" in html
    assert 'name="title"' not in html  # read-only: shown, not editable
    assert "yes" in html and "Audit trail" in html


def test_approve_action_decides_as_the_admin(start_approval, admin_bob):
    _, request = start_approval({"title": "T", "approvers": "bob"})
    admin_bob.post(
        "/admin/approvals/approvalrequest/", {"action": "approve_selected", "_selected_action": [str(request.pk)]}
    )
    request.refresh_from_db()
    assert request.status == "approved"
    assert request.decisions.get().channel == "admin"


def test_actions_skip_requests_the_admin_may_not_decide(start_approval, admin_bob):
    _, request = start_approval({"title": "Carol only", "approvers": "carol"})
    answer = admin_bob.post(
        "/admin/approvals/approvalrequest/",
        {"action": "reject_selected", "_selected_action": [str(request.pk)]},
        follow=True,
    )
    assert "Carol only: You are not an approver of this request" in answer.content.decode()
    assert ApprovalRequest.objects.get(pk=request.pk).status == "pending"
