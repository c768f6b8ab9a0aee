"""The operator console in headless Chromium against a real daphne server: find an execution
by a value in its input, open it, cancel it with a reason, and see the reason in the viewer."""

import pytest

from tests.conftest import chain
from workflows.models import Execution, OperatorAction
from workflows.services import trigger_workflow

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

WAIT = 20_000  # ms


def test_filter_by_order_id_open_and_cancel_with_a_reason(
    daphne_server, logged_in_page, make_workflow, user, artifacts_dir
):
    workflow = make_workflow(
        chain({"id": "nap", "type": "sleep", "label": "Nap", "config": {"duration": "1h"}}), name="Orders"
    )
    wanted = trigger_workflow(workflow_id=workflow.pk, user_name=user.username, input={"orderId": 42}).execution_id
    other = trigger_workflow(workflow_id=workflow.pk, user_name=user.username, input={"orderId": 7}).execution_id
    page = logged_in_page(user)
    page.goto(f"{daphne_server.url}/workflows/")
    page.click('nav a[href="/workflows/executions/"]')
    page.fill('[data-role="input-filter"]', "orderId:42")
    page.click('[data-role="filters"] button[type="submit"]')
    page.wait_for_url("**/workflows/executions/?**input=orderId%3A42**", timeout=WAIT)
    rows = page.locator("table.wf-executions tbody tr[data-execution-id]")
    assert rows.count() == 1 and rows.first.get_attribute("data-execution-id") == str(wanted)
    assert page.locator(f'tr[data-execution-id="{other}"]').count() == 0
    page.screenshot(path=str(artifacts_dir / "operator-executions-filtered.png"), full_page=True)

    page.click(f'a[href="/workflows/executions/{wanted}/"]')
    page.wait_for_selector('.wf-viewer[data-status="paused"], .wf-viewer[data-status="running"]', timeout=WAIT)
    # The status is in the page's HTML: wait for its module scripts to bind the dialogs too
    # (on a busy machine a click could come first and open nothing).
    page.wait_for_load_state("domcontentloaded")
    page.click('[data-role="cancel"]')
    dialog = page.locator(f"dialog#cancel-{wanted}")
    dialog.wait_for(state="visible", timeout=WAIT)
    dialog.locator('button[type="submit"]').click()  # no reason yet: the browser refuses the form
    assert Execution.objects.get(pk=wanted).status != "cancelled"
    dialog.locator("textarea[name=reason]").fill("Customer called: duplicate order")
    dialog.locator('button[type="submit"]').click()
    page.wait_for_selector('.wf-viewer[data-status="cancelled"]', timeout=WAIT)
    reason = page.locator('[data-role="operator-actions"] tr[data-action="cancel"] [data-role="reason"]')
    assert reason.inner_text() == "Customer called: duplicate order"
    page.screenshot(path=str(artifacts_dir / "operator-cancelled-with-reason.png"), full_page=True)
    assert Execution.objects.get(pk=wanted).status == "cancelled"
    assert Execution.objects.get(pk=other).status != "cancelled"
    assert OperatorAction.objects.get(execution_id=wanted).reason == "Customer called: duplicate order"


def test_bulk_cancel_from_the_executions_page_counts_confirms_and_shows_progress(
    daphne_server, logged_in_page, make_workflow, user, artifacts_dir
):
    workflow = make_workflow(
        chain({"id": "nap", "type": "sleep", "label": "Nap", "config": {"duration": "1h"}}), name="Batch"
    )
    batch = [
        trigger_workflow(workflow_id=workflow.pk, user_name=user.username, input={"batch": "b1"}).execution_id
        for _ in range(2)
    ]
    spared = trigger_workflow(workflow_id=workflow.pk, user_name=user.username, input={"batch": "b2"}).execution_id
    page = logged_in_page(user)
    page.goto(f"{daphne_server.url}/workflows/executions/?input=batch:b1")
    page.click('[data-bulk-action="cancel"]')
    count = page.locator('[data-role="bulk-count"]')
    page.wait_for_function(
        "document.querySelector('[data-role=bulk-count]').textContent.includes('match')", timeout=WAIT
    )
    assert count.inner_text().startswith("2 running or paused execution(s) match")
    page.fill("#bulk-reason", "bad batch")
    page.click('[data-role="bulk-confirm"]')
    page.wait_for_function(
        "document.querySelector('[data-role=bulk-status]').textContent.includes('Finished')", timeout=WAIT
    )
    assert page.locator('[data-role="bulk-status"]').inner_text().startswith("2 of 2 done (2 succeeded, 0 failed)")
    page.screenshot(path=str(artifacts_dir / "operator-bulk-cancel.png"), full_page=True)
    assert {e.status for e in Execution.objects.filter(pk__in=batch)} == {"cancelled"}
    assert Execution.objects.get(pk=spared).status != "cancelled"
    assert OperatorAction.objects.filter(execution_id__in=batch, reason="bad batch").count() == 2


def test_an_open_viewer_shows_a_cancel_made_elsewhere_with_its_reason(
    daphne_server, logged_in_page, make_workflow, user
):
    workflow = make_workflow(
        chain({"id": "nap", "type": "sleep", "label": "Nap", "config": {"duration": "1h"}}), name="Live"
    )
    execution = trigger_workflow(workflow_id=workflow.pk, user_name=user.username, input={}).execution_id
    page = logged_in_page(user)
    page.goto(f"{daphne_server.url}/workflows/executions/{execution}/")
    page.wait_for_selector('[data-role="live"]:has-text("live")', timeout=WAIT)
    # Another operator's script cancels it through the API while the page stays open.
    answer = page.evaluate(
        """async (id) => {
        const token = document.cookie.match(/csrftoken=([^;]+)/);
        const response = await fetch(`/api/executions/${id}/cancel/`, {method: "POST", credentials: "same-origin",
            headers: {"Content-Type": "application/json", "X-CSRFToken": token ? token[1] : ""},
            body: JSON.stringify({reason: "stopped by the night shift"})});
        return response.status;
    }""",
        str(execution),
    )
    assert answer == 200
    page.wait_for_selector('.wf-viewer[data-status="cancelled"]', timeout=WAIT)
    page.wait_for_selector(
        '[data-role="operator-actions"] tr[data-action="cancel"] [data-role="reason"]:has-text("night shift")',
        timeout=WAIT,
    )
