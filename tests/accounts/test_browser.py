"""An approver who is not staff follows the mail's link while logged out, logs in on the
product's page and approves, in headless Chromium against daphne."""

import time
from urllib.parse import quote

import pytest

from approvals.models import ApprovalRequest
from tests.accounts.conftest import PASSWORD
from tests.approvals.conftest import approval_definition
from workflows.models import Execution, Membership
from workflows.services import trigger_workflow

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

PHONE = {"width": 390, "height": 844}


def wait_for(predicate, what: str, seconds: float = 20):
    deadline = time.monotonic() + seconds
    while not (found := predicate()):
        assert time.monotonic() < deadline, f"{what} did not happen"
        time.sleep(0.1)
    return found


def fits_the_width(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_logged_out_approver_logs_in_from_the_link_and_approves(
    daphne_server, browser, make_workflow, user, fiona, artifacts_dir
):
    workflow = make_workflow(
        approval_definition(
            {
                "title": "Invoice {{Trigger.orderId}}",
                "approverRoles": "finance",
                "description": "Supplier: Initech.",
                "contextData": {"amount": "1,240.00 EUR"},
            }
        )
    )
    result = trigger_workflow(workflow_id=workflow.pk, user_name=user.username, input={"orderId": "INV-7"})
    request = wait_for(lambda: ApprovalRequest.objects.filter(execution_id=result.execution_id).first(), "the pause")
    approval_path = f"/workflows/approvals/{request.pk}"

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(daphne_server.url + approval_path)
        assert page.url == f"{daphne_server.url}/accounts/login/?next={quote(approval_path)}"
        assert page.text_content("h1").strip() == "Log in"
        assert page.is_visible("text=Forgot your password?") and not page.is_visible("text=Log out")
        page.screenshot(path=str(artifacts_dir / "login-desktop.png"), full_page=True)

        page.set_viewport_size(PHONE)
        assert fits_the_width(page)
        page.screenshot(path=str(artifacts_dir / "login-phone.png"), full_page=True)

        page.fill("#id_username", "fiona")
        page.fill("#id_password", PASSWORD)
        page.click("form.account-form button[type=submit]")
        page.wait_for_url(daphne_server.url + approval_path)
        assert page.text_content("h1").strip() == "Invoice INV-7"
        page.click("[data-menu-toggle]")  # on a phone the account sits behind the header's menu
        assert page.is_visible("text=Log out") and not page.is_visible("nav >> text=Admin")
        page.keyboard.press("Escape")
        assert fits_the_width(page)
        page.screenshot(path=str(artifacts_dir / "approval-after-login-phone.png"), full_page=True)

        page.click("button[value=approved]")
        assert "This request is approved" in page.text_content(".ap-outcome")
    finally:
        context.close()

    wait_for(lambda: Execution.objects.get(pk=result.execution_id).status == "success", "the resume")
    decision = request.decisions.get()
    assert (decision.user_id, decision.decision, decision.channel) == (fiona.pk, "approved", "page")


def test_a_member_of_two_tenants_switches_tenant_in_the_nav(
    daphne_server, logged_in_page, make_workflow, make_tenant, user, tenant, fiona, artifacts_dir
):
    aardvark = make_tenant("Aardvark")  # first by name: fiona's default
    Membership.objects.create(tenant=aardvark, user=fiona)
    config = {"title": "Invoice {{Trigger.orderId}}", "approverRoles": "finance"}
    runs = [
        trigger_workflow(
            workflow_id=make_workflow(approval_definition(config)).pk,
            user_name=user.username,
            input={"orderId": "ACME-1"},
        ),
        trigger_workflow(
            workflow_id=make_workflow(approval_definition(config), on_tenant=aardvark).pk,
            user_name=fiona.username,
            input={"orderId": "AARD-1"},
        ),
    ]
    wait_for(
        lambda: ApprovalRequest.objects.filter(execution_id__in=[r.execution_id for r in runs]).count() == 2,
        "both pauses",
    )

    page = logged_in_page(fiona)
    page.set_viewport_size(PHONE)
    page.goto(daphne_server.url + "/workflows/approvals/")
    assert page.is_visible("text=Invoice AARD-1") and not page.is_visible("text=Invoice ACME-1")
    assert "1 in Acme" in page.text_content("[data-elsewhere]")
    assert fits_the_width(page)
    page.screenshot(path=str(artifacts_dir / "tenant-switcher-phone.png"), full_page=True)

    page.click("[data-menu-toggle]")  # on a phone the switcher sits behind the header's menu
    page.screenshot(path=str(artifacts_dir / "tenant-switcher-phone-menu.png"))
    page.select_option("#nav-tenant", str(tenant.pk))
    page.click(".tenant-switch button")
    page.wait_for_url(daphne_server.url + "/workflows/approvals/")
    assert page.is_visible("text=Invoice ACME-1") and not page.is_visible("text=Invoice AARD-1")
    assert page.eval_on_selector("#nav-tenant", "select => select.selectedOptions[0].textContent") == "Acme"
    page.set_viewport_size({"width": 1280, "height": 900})
    page.screenshot(path=str(artifacts_dir / "tenant-switcher-desktop.png"), full_page=True)
