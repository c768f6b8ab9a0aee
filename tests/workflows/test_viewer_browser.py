"""The execution viewer in headless Chromium against a real daphne server and its worker."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import chain
from workflows.services import trigger_workflow

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

WAIT = 20_000  # ms: how long the browser waits for a state before the test fails


class GatedServer:
    """A local HTTP endpoint that answers only once the test opens the gate, so the node
    calling it stays `running` for as long as the test needs to look at it."""

    def __init__(self):
        self.gate = threading.Event()
        gate = self.gate

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                gate.wait(60)
                body = b'{"stock": 12}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/stock"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.gate.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def gated():
    server = GatedServer()
    yield server
    server.close()


def node(page, node_id, status):
    return page.wait_for_selector(f'.wf-node[data-node-id="{node_id}"][data-status="{status}"]', timeout=WAIT)


def test_viewer_follows_an_execution_live_and_shows_node_details(
    daphne_server, logged_in_page, make_workflow, user, gated, artifacts_dir
):
    workflow = make_workflow(
        chain(
            {"id": "wait", "type": "sleep", "label": "Short nap", "config": {"duration": "1s"}},
            {"id": "fetch", "type": "http-request", "label": "Check stock", "config": {"url": gated.url}},
            {
                "id": "done",
                "type": "set",
                "label": "Confirm order",
                "config": {"values": {"stock": "{{Check stock.body.stock}}"}},
            },
        ),
        name="Order fulfilment",
    )
    execution_id = trigger_workflow(
        workflow_id=workflow.pk, user_name=user.username, input={"orderId": "A-17"}
    ).execution_id
    page = logged_in_page(user)
    page.goto(f"{daphne_server.url}/workflows/executions/{execution_id}/")
    page.evaluate("window.__sameDocument = true")

    node(page, "fetch", "running")
    assert page.get_attribute('.wf-node[data-node-id="done"]', "data-status") == "idle"
    assert page.text_content('.wf-node[data-node-id="fetch"] .wf-node-status-text').startswith("running")
    page.screenshot(path=str(artifacts_dir / "viewer-execution-running.png"), full_page=True)
    gated.gate.set()
    node(page, "fetch", "success")
    node(page, "done", "success")
    page.wait_for_selector('.wf-viewer[data-status="success"]', timeout=WAIT)
    assert "success" in page.text_content('[data-role="status"]')
    assert page.evaluate("window.__sameDocument") is True  # updated in place, never reloaded

    page.click('.wf-node[data-node-id="fetch"]')
    page.wait_for_selector('[data-role="details-output"]', timeout=WAIT)
    details = page.text_content('[data-role="details"]')
    assert "Check stock" in details and '"stock": 12' in details
    page.wait_for_selector(f'[data-role="details"] .wf-logs >> text=GET {gated.url}', timeout=WAIT)
    timeline = page.text_content('[data-role="timeline"]')
    assert timeline.index("Short nap") < timeline.index("Check stock") < timeline.index("Confirm order")

    page.screenshot(path=str(artifacts_dir / "viewer-execution.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(artifacts_dir / "viewer-execution-phone.png"), full_page=True)


def test_workflow_page_lists_new_executions_live(daphne_server, logged_in_page, make_workflow, user, artifacts_dir):
    workflow = make_workflow(
        chain({"id": "a", "type": "set", "label": "Step", "config": {"values": {"ok": True}}}), name="Live list"
    )
    page = logged_in_page(user)
    page.goto(f"{daphne_server.url}/workflows/{workflow.pk}/")
    page.wait_for_selector("[data-live-indicator]:has-text('live')", timeout=WAIT)
    execution_id = trigger_workflow(workflow_id=workflow.pk, user_name=user.username, input={}).execution_id
    row = f'table[data-live-executions] tr[data-execution-id="{execution_id}"]'
    page.wait_for_selector(f"{row} .badge.status-success", timeout=WAIT)
    page.wait_for_selector(f'{row} td:has-text("{user.username}")', timeout=WAIT)
    page.wait_for_selector('[data-window="15m"] [data-stat="executions"]:has-text("1")', timeout=WAIT)
    page.screenshot(path=str(artifacts_dir / "workflow-page.png"), full_page=True)
    page.goto(f"{daphne_server.url}/workflows/")
    assert page.text_content(f'tr[data-health-for="{workflow.pk}"] [data-stat="executions"]').strip() == "1"
    page.screenshot(path=str(artifacts_dir / "workflow-list.png"), full_page=True)


def test_example_page_embeds_the_viewer_inline_and_in_a_dialog(
    daphne_server, logged_in_page, make_workflow, user, artifacts_dir
):
    make_workflow(
        chain({"id": "a", "type": "set", "label": "Greet", "config": {"values": {"hi": "{{Trigger.name}}"}}}),
        name="Greeter",
    )
    page = logged_in_page(user)
    page.goto(f"{daphne_server.url}/workflows/examples/embed/")
    page.fill("#embed-input", '{"name": "Ada"}')
    page.click("text=Trigger and watch")
    page.wait_for_selector('.wf-viewer:not(dialog .wf-viewer)[data-status="success"]', timeout=WAIT)
    assert not page.is_visible("dialog.wf-dialog")
    page.click("[data-open-viewer]")
    dialog_node = 'dialog.wf-dialog .wf-node[data-node-id="a"][data-status="success"]'
    page.wait_for_selector(dialog_node, timeout=WAIT)
    page.click(dialog_node)
    page.wait_for_selector('dialog.wf-dialog [data-role="details-output"]:has-text("Ada")', timeout=WAIT)
    page.screenshot(path=str(artifacts_dir / "viewer-dialog.png"))
    page.click("dialog.wf-dialog .wf-dialog-close button")
    assert not page.is_visible("dialog.wf-dialog")
