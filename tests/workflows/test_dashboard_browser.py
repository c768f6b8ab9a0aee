"""The home dashboard, the workers page and the phone header in headless Chromium against a
real daphne server and its embedded worker. Screenshots go to artifacts/."""

import time

import pytest

from approvals.models import ApprovalRequest
from tests.approvals.conftest import approval_definition
from tests.conftest import chain
from workflows.models import Execution, Membership, WorkerProcess
from workflows.services import trigger_workflow

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

WAIT = 20_000  # ms
FAILING = chain(
    {
        "id": "charge",
        "type": "http-request",
        "label": "Charge card",
        "retry": {"maxAttempts": 1},
        "config": {"url": "http://127.0.0.1:9/payments", "timeout": 2},
    }
)


def wait_for(predicate, what: str, seconds: float = 20):
    deadline = time.monotonic() + seconds
    while not (found := predicate()):
        assert time.monotonic() < deadline, f"{what} did not happen"
        time.sleep(0.1)
    return found


def failed(execution_id):
    return lambda: Execution.objects.get(pk=execution_id).status == "error"


def test_the_dashboard_shows_my_pending_approval_and_a_failure_live(
    daphne_server, logged_in_page, make_workflow, user, artifacts_dir
):
    Membership.objects.filter(user=user).update(role=Membership.Role.ADMIN)  # an operator: sees the workers
    approval = make_workflow(
        approval_definition({"title": "Refund order {{Trigger.orderId}}", "approvers": "alice"}), name="Refunds"
    )
    payments = make_workflow(FAILING, name="Payments")
    paused = trigger_workflow(workflow_id=approval.pk, user_name=user.username, input={"orderId": "R-7"}).execution_id
    request = wait_for(lambda: ApprovalRequest.objects.filter(execution_id=paused).first(), "the approval request")
    first = trigger_workflow(workflow_id=payments.pk, user_name=user.username, input={}).execution_id
    wait_for(failed(first), "the first failure")
    wait_for(lambda: WorkerProcess.objects.filter(embedded=True).exists(), "the embedded worker's heartbeat")

    page = logged_in_page(user)
    page.goto(f"{daphne_server.url}/")
    assert page.text_content('[data-count="approvals"]').strip() == "1"
    assert page.is_visible(
        f'[data-panel="approvals"] a[href^="/workflows/approvals/{request.pk}"]:has-text("Refund order R-7")'
    )
    assert page.text_content('[data-count="paused"]').strip() == "1"
    assert page.text_content('[data-count="failed"]').strip() == "1"
    assert page.is_visible(f'[data-panel="failures"] a[href="/workflows/executions/{first}/"]')
    assert "Charge card" in page.text_content('[data-panel="failures"]')
    assert int(page.text_content('[data-count="workers"]')) >= 1
    page.wait_for_selector("[data-live-indicator]:has-text('live')", timeout=WAIT)

    # Another failure while the page is open: the counts follow without a reload.
    page.evaluate("window.__sameDocument = true")
    second = trigger_workflow(workflow_id=payments.pk, user_name=user.username, input={}).execution_id
    wait_for(failed(second), "the second failure")
    page.wait_for_selector('[data-count="failed"]:text-is("2")', timeout=WAIT)
    page.wait_for_selector(f'[data-panel="failures"] a[href="/workflows/executions/{second}/"]', timeout=WAIT)
    assert page.evaluate("window.__sameDocument") is True
    page.screenshot(path=str(artifacts_dir / "home-dashboard.png"), full_page=True)

    page.click(f'[data-panel="approvals"] a[href^="/workflows/approvals/{request.pk}"]')
    page.wait_for_url(f"**/workflows/approvals/{request.pk}*")
    assert "Refund order R-7" in page.text_content("h1")


def test_the_workers_page_shows_the_embedded_worker(daphne_server, logged_in_page, make_user, artifacts_dir):
    wait_for(lambda: WorkerProcess.objects.filter(embedded=True).exists(), "the embedded worker's heartbeat")
    page = logged_in_page(make_user("ops", is_staff=True))
    page.goto(f"{daphne_server.url}/workers/")
    row = page.wait_for_selector('tr[data-state="alive"]', timeout=WAIT)
    assert "in web process" in row.text_content()
    assert page.get_attribute('nav[aria-label="Main"] a[href="/workers/"]', "aria-current") == "page"
    page.screenshot(path=str(artifacts_dir / "workers-page.png"), full_page=True)


def test_the_phone_header_is_one_line_with_a_menu(daphne_server, logged_in_page, make_workflow, user, artifacts_dir):
    failing = trigger_workflow(
        workflow_id=make_workflow(FAILING, name="Payments").pk, user_name=user.username, input={}
    )
    wait_for(failed(failing.execution_id), "the failure")
    page = logged_in_page(user)
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto(f"{daphne_server.url}/workflows/")
    header = page.locator("header.topbar")
    box = header.bounding_box()
    assert box["height"] < 64, box  # one line: the brand and the menu button
    assert page.is_visible("[data-menu-toggle]") and not page.is_visible('nav[aria-label="Main"]')
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=str(artifacts_dir / "header-phone.png"), clip={"x": 0, "y": 0, "width": 375, "height": 300})

    page.click("[data-menu-toggle]")
    assert page.get_attribute("[data-menu-toggle]", "aria-expanded") == "true"
    current = page.locator('nav[aria-label="Main"] a[aria-current]')
    assert current.is_visible() and current.text_content() == "Workflows"
    assert page.is_visible("text=Log out")
    page.screenshot(path=str(artifacts_dir / "header-phone-menu-open.png"), full_page=False)
    page.keyboard.press("Escape")
    assert not page.is_visible('nav[aria-label="Main"]')

    page.goto(f"{daphne_server.url}/")  # the dashboard's cards stack on a phone
    page.wait_for_selector('[data-panel="failures"]', timeout=WAIT)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=str(artifacts_dir / "home-dashboard-phone.png"), full_page=True)

    page.set_viewport_size({"width": 1280, "height": 900})  # wide again: the links are in the bar
    assert page.is_visible('nav[aria-label="Main"]') and not page.is_visible("[data-menu-toggle]")


def test_error_pages_keep_the_products_look_with_debug_off(browser, django_db_setup, user, artifacts_dir):
    from django.test import Client

    from tests.conftest import start_daphne, stop_daphne

    server = start_daphne({"DEBUG": "false", "WORKFLOW_EMBEDDED_WORKER": "false"})
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        client = Client()
        client.force_login(user)
        context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": server.url}])
        page = context.new_page()
        answer = page.goto(f"{server.url}/workflows/no-such-page/")
        assert answer.status == 404
        assert page.text_content("h1").strip() == "This page does not exist"
        assert page.is_visible("header.topbar >> text=Workflows")
        page.screenshot(path=str(artifacts_dir / "error-404.png"), full_page=True)
        answer = page.goto(f"{server.url}/workers/")
        assert answer.status == 403 and "operators" in page.text_content("[data-role=reason]")
        page.set_viewport_size({"width": 375, "height": 740})
        page.screenshot(path=str(artifacts_dir / "error-403-phone.png"), full_page=True)
    finally:
        context.close()
        stop_daphne(server)
