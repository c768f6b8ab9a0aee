"""An approver decides in a real browser against daphne; the server's worker resumes the workflow."""

import time

import pytest

from approvals.models import ApprovalRequest
from tests.approvals.conftest import approval_definition
from workflows.models import Execution
from workflows.services import trigger_workflow

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def wait_for(predicate, what: str, seconds: float = 20):
    deadline = time.monotonic() + seconds
    while not (found := predicate()):
        assert time.monotonic() < deadline, f"{what} did not happen"
        time.sleep(0.1)
    return found


def test_approver_approves_in_the_browser(daphne_server, make_workflow, user, approvers, logged_in_page, artifacts_dir):
    workflow = make_workflow(
        approval_definition(
            {
                "title": "Order {{Trigger.orderId}}",
                "description": "Check the totals, please.",
                "approvers": "bob",
                "contextData": {"customer": "ACME", "total": 120, "lines": [{"sku": "X1", "qty": 2}]},
                "formFields": [
                    {
                        "key": "costCenter",
                        "label": "Cost center",
                        "type": "select",
                        "required": True,
                        "options": ["Sales", "Engineering"],
                    }
                ],
            }
        )
    )
    result = trigger_workflow(workflow_id=workflow.pk, user_name=user.username, input={"orderId": "A-42"})
    request = wait_for(lambda: ApprovalRequest.objects.filter(execution_id=result.execution_id).first(), "the pause")

    page = logged_in_page(approvers["bob"])
    page.goto(f"{daphne_server.url}/workflows/approvals/")
    page.click("text=Order A-42")
    assert page.text_content("h1").strip() == "Order A-42"
    page.screenshot(path=str(artifacts_dir / "approval-detail-desktop.png"), full_page=True)

    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=str(artifacts_dir / "approval-detail-phone.png"), full_page=True)

    page.click("button[value=approved]")  # the required field is empty: refused, values kept
    assert "Cost center is required" in page.text_content(".ap-error")
    page.select_option("#form_costCenter", "Sales")
    page.fill("#comment", "Fine by me")
    page.click("button[value=approved]")
    assert "This request is approved" in page.text_content(".ap-outcome")

    wait_for(lambda: Execution.objects.get(pk=result.execution_id).status == "success", "the resume")
    execution = Execution.objects.get(pk=result.execution_id)
    assert execution.context["After"]["decision"] == "approved"
    decision = execution.context["Request Approval"]["decisions"][0]
    assert (decision["user"], decision["comment"], decision["formValues"]) == (
        "bob",
        "Fine by me",
        {"costCenter": "Sales"},
    )
    assert request.decisions.get().channel == "page"
