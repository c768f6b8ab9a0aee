"""The inbox and detail pages, rendered and submitted through Django's test client."""

import pytest
from django.test import Client

from approvals.models import ApprovalRequest
from tests.approvals.conftest import approval_definition
from workflows.models import Membership
from workflows.services import trigger_workflow

pytestmark = pytest.mark.django_db(transaction=True)


def client_for(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def url(request) -> str:
    return f"/workflows/approvals/{request.pk}"


def test_pages_need_a_login(start_approval, approvers):
    _, request = start_approval({"title": "T", "approvers": "bob"})
    for path in ("/workflows/approvals/", url(request)):
        answer = Client().get(path)
        assert answer.status_code == 302 and answer["Location"].startswith("/accounts/login/?next=")


def test_inbox_lists_what_waits_for_the_user_and_their_history(start_approval, approvers):
    _, first = start_approval({"title": "Buy laptops", "approvers": "bob"})
    _, second = start_approval({"title": "Hire intern", "approvers": "bob,carol", "approvalType": "all"})
    bob = client_for(approvers["bob"])
    page = bob.get("/workflows/approvals/").content.decode()
    assert "Buy laptops" in page and "Hire intern" in page and "2 waiting for you" in page
    bob.post(url(first), {"decision": "approved"})
    page = bob.get("/workflows/approvals/").content.decode()
    assert "1 waiting for you" in page
    history = page.split("History", 1)[1]
    assert "Buy laptops" in history and "Hire intern" not in history
    dave_page = client_for(approvers["dave"]).get("/workflows/approvals/").content.decode()
    assert "Buy laptops" not in dave_page and "Nothing is waiting for you" in dave_page


def test_inbox_filters_by_status(start_approval, approvers):
    _, first = start_approval({"title": "Buy laptops", "approvers": "bob", "onRejection": "continue"})
    start_approval({"title": "Hire intern", "approvers": "bob"})
    bob = client_for(approvers["bob"])
    bob.post(url(first), {"decision": "rejected"})
    rejected = bob.get("/workflows/approvals/?status=rejected").content.decode()
    assert "Buy laptops" in rejected and "Hire intern" not in rejected
    pending = bob.get("/workflows/approvals/?status=pending").content.decode()
    assert "Hire intern" in pending and "Buy laptops" not in pending


def test_detail_shows_the_request_readably_with_buttons(start_approval, approvers):
    _, request = start_approval(
        {
            "title": "Order {{Trigger.orderId}}",
            "description": "Please check the total",
            "approvers": "bob",
            "contextData": {"customer": "ACME", "lines": [{"sku": "X1", "qty": 2}]},
        },
        input={"orderId": "A-5"},
    )
    page = client_for(approvers["bob"]).get(url(request))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Order A-5" in html and "Please check the total" in html
    assert "ACME" in html and "&quot;sku&quot;: &quot;X1&quot;" in html
    assert 'name="decision" value="approved"' in html and 'name="decision" value="rejected"' in html
    assert "csrfmiddlewaretoken" in html
    assert "Test workflow" in html and str(request.execution_id) in html


def test_approving_through_the_page_resumes_the_workflow_and_shows_the_outcome(start_approval, approvers, worker):
    execution, request = start_approval({"title": "T", "approvers": "bob"})
    bob = client_for(approvers["bob"])
    answer = bob.post(url(request), {"decision": "approved", "comment": "looks right"})
    assert answer.status_code == 302 and answer["Location"] == url(request)
    page = bob.get(url(request)).content.decode()
    assert "This request is approved" in page and "You approved this request" in page and "looks right" in page
    assert 'value="approved" class="primary"' not in page
    worker.run_until_idle()
    execution.refresh_from_db()
    assert execution.context["After"]["decision"] == "approved"


def test_a_get_never_decides(start_approval, approvers):
    _, request = start_approval({"title": "T", "approvers": "bob"})
    client_for(approvers["bob"]).get(url(request) + "?decision=approved")
    request.refresh_from_db()
    assert request.status == "pending"


def test_posts_are_csrf_protected(start_approval, approvers):
    _, request = start_approval({"title": "T", "approvers": "bob"})
    answer = client_for(approvers["bob"], enforce_csrf_checks=True).post(url(request), {"decision": "approved"})
    assert answer.status_code == 403
    request.refresh_from_db()
    assert request.status == "pending"


def test_a_user_who_is_not_eligible_gets_a_clear_403_page(start_approval, approvers):
    _, request = start_approval({"title": "T", "approvers": "bob"})
    dave = client_for(approvers["dave"])
    for answer in (dave.get(url(request)), dave.post(url(request), {"decision": "approved"})):
        assert answer.status_code == 403
        assert "not an approver of this request" in answer.content.decode()
    request.refresh_from_db()
    assert request.status == "pending"


def test_another_tenant_gets_404(start_approval, approvers, other_user):
    _, request = start_approval({"title": "T", "approvers": "bob"})
    assert client_for(other_user).get(url(request)).status_code == 404


def test_late_and_duplicate_decisions_are_refused_with_a_message(start_approval, approvers):
    _, request = start_approval({"title": "T", "approvalType": "any", "approvers": "bob,carol"})
    bob = client_for(approvers["bob"])
    bob.post(url(request), {"decision": "rejected"})
    again = bob.post(url(request), {"decision": "approved"})
    assert again.status_code == 409 and "already decided" in again.content.decode()
    client_for(approvers["carol"]).post(url(request), {"decision": "approved"})
    late = client_for(approvers["dave"]).post(url(request), {"decision": "approved"})
    assert late.status_code == 403


def test_settled_request_refuses_a_late_approver(start_approval, approvers):
    _, request = start_approval({"title": "T", "approvers": "bob,carol"})
    client_for(approvers["bob"]).post(url(request), {"decision": "approved"})
    late = client_for(approvers["carol"]).post(url(request), {"decision": "rejected"})
    assert late.status_code == 409
    assert "already approved" in late.content.decode()


def test_form_errors_rerender_with_the_typed_values(start_approval, approvers):
    _, request = start_approval(
        {
            "title": "T",
            "approvers": "bob",
            "formFields": [
                {"key": "po", "label": "PO number", "type": "text", "required": True},
                {"key": "amount", "label": "Amount", "type": "number"},
            ],
        }
    )
    bob = client_for(approvers["bob"])
    answer = bob.post(url(request), {"decision": "approved", "form_amount": "42", "comment": "see PO"})
    assert answer.status_code == 400
    html = answer.content.decode()
    assert "PO number is required" in html and 'value="42"' in html and "see PO" in html
    answer = bob.post(url(request), {"decision": "approved", "form_po": "P-9", "form_amount": "42"})
    assert answer.status_code == 302
    assert ApprovalRequest.objects.get(pk=request.pk).decisions.get().form_values == {"po": "P-9", "amount": 42}


def test_delegating_through_the_page(start_approval, approvers):
    _, request = start_approval({"title": "T", "approvers": "bob"})
    bob = client_for(approvers["bob"])
    assert 'name="delegate_to"' in bob.get(url(request)).content.decode()
    answer = bob.post(url(request) + "/delegate", {"delegate_to": "dave", "comment": "away"})
    assert answer.status_code == 302
    page = bob.get(url(request)).content.decode()
    assert "bob → dave" in page and 'name="decision"' not in page
    assert client_for(approvers["dave"]).post(url(request), {"decision": "approved"}).status_code == 302


def test_history_keeps_requests_that_ended_without_the_user(start_approval, approvers):
    _, request = start_approval({"title": "Carol was faster", "approvers": "bob,carol"})
    client_for(approvers["carol"]).post(url(request), {"decision": "approved"})
    bob = client_for(approvers["bob"])
    page = bob.get("/workflows/approvals/?status=approved").content.decode()
    assert "Carol was faster" in page
    assert bob.get(url(request)).status_code == 200


def test_a_decided_but_unsettled_request_stays_in_history(start_approval, approvers):
    _, request = start_approval({"title": "Needs both", "approvalType": "all", "approvers": "bob,carol"})
    bob = client_for(approvers["bob"])
    bob.post(url(request), {"decision": "approved"})
    page = bob.get("/workflows/approvals/").content.decode()
    assert "Nothing is waiting for you" in page and "Needs both" in page.split("History", 1)[1]


def test_execution_is_linked_only_when_the_viewer_path_resolves(start_approval, approvers, settings):
    _, request = start_approval({"title": "T", "approvers": "bob"})
    bob = client_for(approvers["bob"])
    assert f'href="/workflows/executions/{request.execution_id}/"' in bob.get(url(request)).content.decode()
    settings.APPROVALS_EXECUTION_URL = "/no-viewer-here/{id}/"
    assert f'href="/no-viewer-here/{request.execution_id}/"' not in bob.get(url(request)).content.decode()
    settings.APPROVALS_EXECUTION_URL = "/admin/workflows/execution/{id}/change/"
    assert f'href="/admin/workflows/execution/{request.execution_id}/change/"' in bob.get(url(request)).content.decode()


def test_inbox_lists_the_active_tenant_and_counts_what_waits_in_the_others(
    start_approval, approvers, make_tenant, make_workflow, worker
):
    bob = approvers["bob"]
    aardvark = make_tenant("Aardvark")  # first by name: bob's default tenant
    Membership.objects.create(tenant=aardvark, user=bob)
    _, acme_request = start_approval({"title": "Acme laptops", "approvers": "bob", "onRejection": "continue"})
    workflow = make_workflow(approval_definition({"title": "Aardvark payroll", "approvers": "bob"}), on_tenant=aardvark)
    trigger_workflow(workflow_id=workflow.pk, user_name="bob", input={})
    worker.run_until_idle()

    client = client_for(bob)
    page = client.get("/workflows/approvals/").content.decode()
    assert "Aardvark payroll" in page and "Acme laptops" not in page
    assert "1 waiting for you in Aardvark" in page and "Also waiting for you in your other tenants: 1 in Acme." in page
    client.post("/accounts/tenant/", {"tenant": str(acme_request.tenant_id)})
    client.post(url(acme_request), {"decision": "rejected"})
    page = client.get("/workflows/approvals/").content.decode()
    assert "Acme laptops" in page.split("History", 1)[1] and "Aardvark payroll" not in page.split("History", 1)[1]
    assert "1 in Aardvark." in page
    client.post("/accounts/tenant/", {"tenant": str(aardvark.pk)})
    assert "Acme laptops" not in client.get("/workflows/approvals/?status=rejected").content.decode()
