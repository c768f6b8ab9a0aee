"""The workflow builder in headless Chromium against a real daphne server and its worker.

Each scenario saves screenshots into artifacts/ (builder-*.png)."""
import json
import urllib.request

import pytest

from events import services as event_services
from tests.conftest import chain, start_daphne, stop_daphne
from workflows.models import Execution, NodeRun, Workflow

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

WAIT = 20_000  # ms: how long the browser waits for a state before the test fails
PLUGINS = "plugins.sms.PLUGIN,tests.workflows.sample_plugins.NOTIFY"


@pytest.fixture(scope="module")
def daphne_server(django_db_setup, django_db_blocker):
    """The shared fixture's server, with the test plugin whose form has showWhen and a server-fed combobox."""
    server = start_daphne({"WORKFLOW_PLUGINS": PLUGINS})
    yield server
    stop_daphne(server)


class Builder:
    """A builder page and the gestures a designer makes on it."""

    def __init__(self, page, server):
        self.page = page
        self.server = server
        self.errors = []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("console", lambda msg: self.errors.append(f"{msg.text} {msg.location['url']}") if msg.type == "error" else None)

    def open(self, path):
        self.page.goto(f"{self.server.url}{path}")
        self.page.wait_for_selector('#builder[data-ready="true"]', timeout=WAIT)
        return self

    def node(self, label):
        return self.page.locator(f'.wb-canvas .wf-node:has(.wf-node-label:text-is("{label}"))')

    def node_id(self, label):
        return self.node(label).get_attribute("data-node-id")

    def drag_from_palette(self, type_, x, y):
        """Drag a palette item to (x, y) in the canvas's own pixels, with the mouse."""
        source = self.page.locator(f'.wb-palette-item[data-node-type="{type_}"]')
        source.scroll_into_view_if_needed()
        item = source.bounding_box()
        canvas = self.page.locator(".wb-canvas").bounding_box()
        self.page.mouse.move(item["x"] + item["width"] / 2, item["y"] + item["height"] / 2)
        self.page.mouse.down()
        self.page.mouse.move(canvas["x"] + x, canvas["y"] + y, steps=8)
        self.page.mouse.up()

    def connect(self, source, target, branch=""):
        handle = self.node(source).locator(f'.wf-handle[data-branch="{branch}"] circle').bounding_box()
        box = self.node(target).locator(".wf-node-box").bounding_box()
        self.page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
        self.page.mouse.down()
        self.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, steps=8)
        self.page.mouse.up()

    def edge(self, source, target):
        return self.page.locator(f'.wb-canvas .wf-edge[data-source="{self.node_id(source)}"][data-target="{self.node_id(target)}"]')

    def select(self, label):
        self.node(label).locator(".wf-node-box").click()
        self.page.wait_for_selector(f'.wb-panel-title:text-is("{label}")', timeout=WAIT)

    def field(self, key):
        return self.page.locator(f'.wb-field[data-field="config.{key}"]')

    def pick_completion(self, text):
        self.page.locator(f'.wb-complete:not([hidden]) [role=option][data-value="{text}"]').click()

    def definition(self):
        return self.page.evaluate("window.workflowBuilder.def")

    def wait_valid(self):
        self.page.wait_for_selector('[data-role="problems"][data-valid="true"]', timeout=WAIT)

    def shot(self, artifacts_dir, name, **kwargs):
        self.page.screenshot(path=str(artifacts_dir / name), **kwargs)

    def assert_no_errors(self):
        assert [e for e in self.errors if "favicon.ico" not in e] == []


@pytest.fixture
def builder(logged_in_page, daphne_server, user):
    def open_for(who=None, path="/workflows/new/"):
        return Builder(logged_in_page(who or user), daphne_server).open(path)

    return open_for


PAYMENT = chain(
    {"id": "wait", "type": "events/wait", "label": "Wait for Event", "position": {"x": 300, "y": 40},
     "config": {"eventNamespace": "payments", "eventKey": "order-{{Trigger.orderId}}"}},
    {"id": "set", "type": "set", "label": "Set", "position": {"x": 560, "y": 40},
     "config": {"values": {"amount": "{{Wait for Event.payload.amount}}"}}},
)
PAYMENT["nodes"][0].update(position={"x": 40, "y": 40}, config={"inputSchema": [{"name": "orderId", "type": "string"}]})


# 1 -----------------------------------------------------------------------------------------------


def test_build_the_payment_example_from_an_empty_canvas(builder, daphne_server, artifacts_dir):
    b = builder()
    page = b.page
    page.goto(f"{daphne_server.url}/workflows/")
    page.click('[data-role="new-workflow"]')
    page.wait_for_selector('#builder[data-ready="true"]', timeout=WAIT)
    assert page.locator(".wb-canvas .wf-node").count() == 0
    page.fill("#wb-name", "Payment received")

    b.drag_from_palette("trigger", 130, 200)
    b.node("Trigger").wait_for(timeout=WAIT)
    b.drag_from_palette("events/wait", 345, 200)
    b.node("Wait for Event").wait_for(timeout=WAIT)
    b.drag_from_palette("set", 560, 200)
    b.node("Set").wait_for(timeout=WAIT)
    b.connect("Trigger", "Wait for Event")
    b.edge("Trigger", "Wait for Event").wait_for(state="attached", timeout=WAIT)
    b.connect("Wait for Event", "Set")
    b.edge("Wait for Event", "Set").wait_for(state="attached", timeout=WAIT)

    b.select("Trigger")
    page.click('.wb-field[data-field="config.inputSchema"] .wb-add')
    page.keyboard.type("orderId")

    b.select("Wait for Event")
    b.field("eventNamespace").locator("input").fill("payments")
    key = b.field("eventKey").locator("input")
    key.click()
    key.type("order-{{")
    b.pick_completion("Trigger")
    b.pick_completion("orderId")
    assert key.input_value() == "order-{{Trigger.orderId}}"

    b.select("Set")
    page.click('.wb-field[data-field="config.values"] .wb-add')
    page.keyboard.type("amount")
    value = b.field("values").locator(".wb-pair-value")
    value.click()
    value.type("{{")
    labels = page.locator(".wb-complete:not([hidden]) [role=option]").all_text_contents()
    assert any(t.startswith("Wait for Event") for t in labels) and any(t.startswith("Trigger") for t in labels)
    b.pick_completion("Wait for Event")
    b.pick_completion("payload")
    page.keyboard.type(".amount")
    assert value.input_value() == "{{Wait for Event.payload.amount}}"

    b.wait_valid()
    b.shot(artifacts_dir, "builder-payment-example.png")
    page.click('[data-role="save"]')
    page.wait_for_selector('[data-role="state"]:has-text("v1 · saved")', timeout=WAIT)

    workflow = Workflow.objects.get(name="Payment received")
    saved = workflow.latest_version.definition
    labels = {n["id"]: n["label"] for n in saved["nodes"]}
    by_label = {n["label"]: n for n in saved["nodes"]}
    assert sorted(labels.values()) == ["Set", "Trigger", "Wait for Event"]
    assert {(labels[e["source"]], labels[e["target"]]) for e in saved["edges"]} == {("Trigger", "Wait for Event"), ("Wait for Event", "Set")}
    assert by_label["Wait for Event"]["config"]["eventNamespace"] == "payments"
    assert by_label["Wait for Event"]["config"]["eventKey"] == "order-{{Trigger.orderId}}"
    assert by_label["Set"]["config"]["values"] == {"amount": "{{Wait for Event.payload.amount}}"}
    assert by_label["Trigger"]["config"]["inputSchema"] == [{"name": "orderId", "type": "string"}]
    assert all("position" in n for n in saved["nodes"])

    page.click('[data-role="workflow-link"]')
    page.wait_for_selector('[data-role="version"]:has-text("v1")', timeout=WAIT)
    assert page.locator(".wf-definition .wf-node").count() == 3
    b.shot(artifacts_dir, "builder-payment-saved-workflow-page.png", full_page=True)
    b.assert_no_errors()
