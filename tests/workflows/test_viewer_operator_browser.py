"""The viewer's operator panels in headless Chromium against a real daphne server and its
worker: send a waiting node its signal from the dialog and watch the execution finish; read
what a paused approval waits for."""

import json
import time

import pytest

from approvals.models import ApprovalRequest
from approvals.services import decide
from tests.conftest import chain
from workflows.services import trigger_workflow

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

WAIT = 20_000  # ms


@pytest.fixture
def operator(make_user, tenant):
    return make_user("olga", tenant=tenant, is_staff=True)


def wait_for(found, timeout=WAIT / 1000):
    """What `found()` returns once it is truthy (the server's worker runs the workflow)."""
    deadline = time.monotonic() + timeout
    while not (value := found()):
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.1)
    return value


def node(page, node_id, status):
    return page.wait_for_selector(f'.wf-node[data-node-id="{node_id}"][data-status="{status}"]', timeout=WAIT)


def test_an_operator_sends_the_signal_from_the_dialog_and_watches_the_execution_finish(
    daphne_server, logged_in_page, make_workflow, operator, artifacts_dir
):
    workflow = make_workflow(
        chain(
            {
                "id": "wait",
                "type": "events/wait",
                "label": "Wait for payment",
                "config": {
                    "eventNamespace": "payments",
                    "eventKey": "order-{{Trigger.orderId}}",
                    "expiresIn": "2h",
                    "title": "Payment of order {{Trigger.orderId}} from the provider, confirmed by its webhook",
                },
            },
            {
                "id": "book",
                "type": "set",
                "label": "Book payment",
                "config": {"values": {"amount": "{{Wait for payment.payload.amount}}"}},
            },
        ),
        name="Payments",
    )
    execution_id = trigger_workflow(
        workflow_id=workflow.pk, user_name=operator.username, input={"orderId": 42}
    ).execution_id
    page = logged_in_page(operator)
    page.goto(f"{daphne_server.url}/workflows/executions/{execution_id}/")
    node(page, "wait", "paused")
    page.click('.wf-node[data-node-id="wait"]')
    panel = page.wait_for_selector('[data-role="event-panel"]', timeout=WAIT)
    assert page.text_content('[data-role="event-namespace"]') == "payments"
    assert page.text_content('[data-role="event-key"]') == "order-42"
    assert "left" in page.text_content('[data-role="event-deadline"]')
    assert "No signal is buffered" in panel.text_content()
    curl = page.text_content('[data-role="signal-curl"]')
    assert "$WORKFLOW_API_KEY" in curl and '"eventKey": "order-42"' in curl
    assert '"eventKey": "order-42"' in page.text_content('[data-role="details-config"]')
    assert not page.is_hidden('[data-role="cancel"]') and page.is_hidden('[data-role="retry"]')
    page.screenshot(path=str(artifacts_dir / "viewer-wait-for-event.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(artifacts_dir / "viewer-wait-for-event-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})

    page.click('[data-role="send-signal"]')
    page.wait_for_selector('dialog[data-role="signal-dialog"][open]', timeout=WAIT)
    page.fill('[data-role="signal-payload"]', "{not json")
    assert page.is_disabled('[data-role="signal-send"]')
    assert "not valid JSON" in page.text_content('[data-role="signal-check"]')
    page.fill('[data-role="signal-payload"]', json.dumps({"amount": 99.5, "currency": "EUR"}, indent=2))
    page.screenshot(path=str(artifacts_dir / "viewer-send-signal-dialog.png"), full_page=True)
    page.evaluate("window.__sameDocument = true")
    page.click('[data-role="signal-send"]')

    node(page, "wait", "success")
    node(page, "book", "success")
    page.wait_for_selector('.wf-viewer[data-status="success"]', timeout=WAIT)
    page.wait_for_selector('[data-role="context-title"]:has-text("Output (final context)")', timeout=WAIT)
    assert '"amount": 99.5' in page.text_content('[data-role="context"]')
    page.wait_for_selector('[data-role="cancel"][hidden]', state="attached", timeout=WAIT)
    assert page.is_hidden('[data-role="retry"]')
    assert "Signal delivered" in page.text_content('[data-role="details"]')
    assert page.evaluate("window.__sameDocument") is True  # live, never reloaded
    page.screenshot(path=str(artifacts_dir / "viewer-signal-delivered.png"), full_page=True)


def test_a_paused_approval_shows_approvers_policy_and_deadline(
    daphne_server, logged_in_page, make_workflow, make_user, tenant, operator, artifacts_dir
):
    bob = make_user("bob", tenant=tenant)
    make_user("carol", tenant=tenant)
    workflow = make_workflow(
        chain(
            {
                "id": "approval",
                "type": "approvals/request",
                "label": "Manager approval",
                "config": {
                    "title": "Refund for order {{Trigger.orderId}}",
                    "approvers": "bob,carol",
                    "approvalType": "all",
                    "expiresIn": "3d",
                    "emailSubject": "Please decide: {{title}}",
                },
            },
        ),
        name="Refunds",
    )
    execution_id = trigger_workflow(
        workflow_id=workflow.pk, user_name=operator.username, input={"orderId": 7}
    ).execution_id
    request = wait_for(lambda: ApprovalRequest.objects.filter(execution_id=execution_id).first())
    decide(request_id=request.pk, user=bob, decision="approved", comment="Customer was charged twice; refund it.")
    page = logged_in_page(operator)
    page.goto(f"{daphne_server.url}/workflows/executions/{execution_id}/")
    node(page, "approval", "paused")
    page.click('.wf-node[data-node-id="approval"]')
    page.wait_for_selector('[data-role="approval-panel"]', timeout=WAIT)
    assert page.text_content('[data-role="approval-approvers"]') == "bob, carol"
    assert "All" in page.text_content('[data-role="approval-policy"]')
    assert "1 of 2 approvals" in page.text_content('[data-role="approval-policy"]')
    assert "left" in page.text_content('[data-role="approval-deadline"]')
    decisions = page.text_content('[data-role="approval-decisions"]')
    assert "approved" in decisions and "bob" in decisions and "charged twice" in decisions
    config = page.text_content('[data-role="details-config"]')
    assert "Refund for order 7" in config and "Please decide: Refund for order 7" in config and "{{" not in config
    page.screenshot(path=str(artifacts_dir / "viewer-approval.png"), full_page=True)

    page.click('[data-role="approval-link"]')
    page.wait_for_selector('[data-role="operator-note"]', timeout=WAIT)
    assert "bob, carol" in page.text_content('[data-role="approvers"]')
    assert page.locator('button[name="decision"]').count() == 0
    page.screenshot(path=str(artifacts_dir / "approval-as-operator.png"), full_page=True)
