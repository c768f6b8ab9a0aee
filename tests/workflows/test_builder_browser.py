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
        page.on(
            "console",
            lambda msg: self.errors.append(f"{msg.text} {msg.location['url']}") if msg.type == "error" else None,
        )

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
        return self.page.locator(
            f'.wb-canvas .wf-edge[data-source="{self.node_id(source)}"][data-target="{self.node_id(target)}"]'
        )

    def select(self, label):
        self.node(label).locator(".wf-node-box").click()
        self.page.wait_for_selector(f'.wb-panel-title:text-is("{label}")', state="attached", timeout=WAIT)

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
        # Answers the page handles (a 400 naming problems, a 409 conflict) are logged by the browser too.
        assert [e for e in self.errors if not e.startswith("Failed to load resource")] == []


@pytest.fixture
def builder(logged_in_page, daphne_server, user):
    def open_for(who=None, path="/workflows/new/"):
        return Builder(logged_in_page(who or user), daphne_server).open(path)

    return open_for


PAYMENT = chain(
    {
        "id": "wait",
        "type": "events/wait",
        "label": "Wait for Event",
        "position": {"x": 300, "y": 40},
        "config": {"eventNamespace": "payments", "eventKey": "order-{{Trigger.orderId}}"},
    },
    {
        "id": "set",
        "type": "set",
        "label": "Set",
        "position": {"x": 560, "y": 40},
        "config": {"values": {"amount": "{{Wait for Event.payload.amount}}"}},
    },
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
    assert {(labels[e["source"]], labels[e["target"]]) for e in saved["edges"]} == {
        ("Trigger", "Wait for Event"),
        ("Wait for Event", "Set"),
    }
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


# 2 -----------------------------------------------------------------------------------------------


def test_a_plugin_form_shows_fields_by_their_condition_and_server_options(builder, artifacts_dir):
    b = builder()
    page = b.page
    b.drag_from_palette("trigger", 130, 200)
    b.node("Trigger").wait_for(timeout=WAIT)
    page.fill("#wb-search", "notification")
    assert page.locator('.wb-palette-item[data-node-type="set"]').is_hidden()
    b.drag_from_palette("notify/send", 400, 200)
    b.select("Send notification")

    email, phone, template = b.field("emailAddress"), b.field("phoneNumber"), b.field("template")
    assert (
        page.locator('.wb-field[data-field="config.channel"] select').evaluate("s => s.selectedOptions[0].text")
        == "E-mail"
    )
    assert email.is_visible() and phone.is_hidden()
    template.locator("input").click()
    page.wait_for_selector('.wb-options:not([hidden]) [role=option][data-value="email-welcome"]', timeout=WAIT)
    assert page.locator(".wb-options:not([hidden]) [role=option]").all_text_contents() == [
        "Welcome (email)",
        "Reminder (email)",
    ]
    page.click('.wb-options [role=option][data-value="email-reminder"]')
    assert template.locator("input").input_value() == "Reminder (email)"

    page.select_option('.wb-field[data-field="config.channel"] select', label="SMS")
    assert phone.is_visible() and email.is_hidden()  # the hidden field appears only when its condition holds
    phone.locator("input").fill("+33 6 12 34 56 78")
    template.locator("input").click()
    page.wait_for_selector('.wb-options:not([hidden]) [role=option][data-value="sms-welcome"]', timeout=WAIT)
    b.shot(artifacts_dir, "builder-plugin-form.png")
    page.click('.wb-options [role=option][data-value="sms-welcome"]')
    node = next(n for n in b.definition()["nodes"] if n["type"] == "notify/send")
    assert node["config"] == {"channel": "sms", "phoneNumber": "+33 6 12 34 56 78", "template": "sms-welcome"}
    page.select_option('.wb-field[data-field="config.channel"] select', label="E-mail")
    assert email.is_visible() and phone.is_hidden()
    b.assert_no_errors()


# 3 -----------------------------------------------------------------------------------------------


def test_an_invalid_edit_shows_the_servers_message_on_its_node_and_field(builder, make_workflow, artifacts_dir):
    definition = json.loads(json.dumps(PAYMENT))
    definition["nodes"].append(
        {"id": "side", "type": "set", "label": "Side", "position": {"x": 300, "y": 200}, "config": {}}
    )
    definition["edges"].append({"source": "trigger", "target": "side"})
    workflow = make_workflow(definition, name="Payments")
    b = builder(path=f"/workflows/{workflow.pk}/edit/")
    page = b.page
    b.wait_valid()
    b.select("Set")
    value = b.field("values").locator(".wb-pair-value")
    value.fill("{{Nobody.amount}}")
    message = b.field("values").locator(".wb-field-msg.wb-msg-error")
    message.wait_for(timeout=WAIT)
    assert message.text_content() == "✕ template names an unknown node label 'Nobody'"
    assert b.node("Set").locator(".wf-mark-error text").text_content() == "✕ 1 problem"
    for other in ("Trigger", "Wait for Event", "Side"):
        assert b.node(other).locator(".wf-mark").count() == 0
    assert "Set · config.values: template names an unknown node label 'Nobody'" in page.text_content(
        '[data-role="problems"]'
    )
    b.shot(artifacts_dir, "builder-invalid-edit.png")

    # A label that exists but does not run before the node: a warning, at once.
    value.fill("{{Side.x}}")
    warning = b.field("values").locator(".wb-field-msg.wb-msg-warning")
    warning.wait_for(timeout=WAIT)
    assert "'Side' does not run before this node" in warning.text_content()
    assert b.node("Set").locator(".wf-mark-warning").count() == 1
    b.wait_valid()
    page.click('[data-role="save"]')
    page.wait_for_selector('[data-role="state"]:has-text("v2 · saved")', timeout=WAIT)
    value.fill("{{Nobody.amount}}")
    message.wait_for(timeout=WAIT)
    page.click('[data-role="save"]')
    page.wait_for_selector('.wb-toast:has-text("Not saved")', timeout=WAIT)
    assert workflow.versions.count() == 2  # the server refused the invalid one
    b.assert_no_errors()


# 4 -----------------------------------------------------------------------------------------------


def test_save_diff_and_restore_versions(builder, make_workflow, artifacts_dir):
    workflow = make_workflow(PAYMENT, name="Payments")
    b = builder(path=f"/workflows/{workflow.pk}/edit/")
    page = b.page
    page.wait_for_selector('[data-role="state"]:has-text("v1 · saved")', timeout=WAIT)
    b.select("Set")
    b.field("values").locator(".wb-pair-value").fill("{{Wait for Event.payload.total}}")
    page.wait_for_selector('[data-role="state"]:has-text("unsaved changes")', timeout=WAIT)

    # Leaving with unsaved changes asks first.
    dialogs = []
    page.once("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.dismiss()))
    page.click("nav[aria-label=Main] >> text=Workflows")
    page.wait_for_timeout(500)
    assert dialogs == ["beforeunload"] and "/edit/" in page.url

    page.keyboard.press("Control+s")
    page.wait_for_selector('[data-role="state"]:has-text("v2 · saved")', timeout=WAIT)
    assert workflow.versions.count() == 2

    page.click('[role=tab][data-tab="versions"]')
    page.wait_for_selector('.wb-version-list li[data-version="2"]', timeout=WAIT)
    assert "alice" in page.text_content('.wb-version-list li[data-version="1"]')
    page.select_option("#wb-diff-from", "1")
    page.select_option("#wb-diff-to", "2")
    page.click('[data-role="show-diff"]')
    diff = page.locator('dialog[data-role="diff"]')
    diff.locator('.wf-node[data-node-id="set"] .wf-mark-changed').wait_for(timeout=WAIT)
    assert diff.locator('.wf-node[data-node-id="set"] .wf-mark-changed text').text_content() == "~ 1 change"
    assert diff.locator('.wf-node[data-node-id="wait"] .wf-mark').count() == 0
    listed = diff.locator('[data-role="diff-list"]').text_content()
    assert "Changed Set" in listed and "config.values" in listed and "payload.total" in listed
    b.shot(artifacts_dir, "builder-diff.png")
    diff.locator("text=Close ✕").click()

    page.once("dialog", lambda dialog: dialog.accept())
    page.click('.wb-version-list li[data-version="1"] [data-restore]')
    page.wait_for_selector('[data-role="state"]:has-text("v3 · saved")', timeout=WAIT)
    page.wait_for_selector('.wb-version-list li[data-version="3"]', timeout=WAIT)
    versions = {v.number: v.definition for v in workflow.versions.all()}
    assert versions[3] == versions[1] and versions[2] != versions[1]
    assert b.field("values").locator(".wb-pair-value").input_value() == "{{Wait for Event.payload.amount}}"
    b.shot(artifacts_dir, "builder-restored.png")
    b.assert_no_errors()


# 5 -----------------------------------------------------------------------------------------------


def test_a_stale_save_gets_the_conflict_dialog(builder, make_workflow, make_user, tenant, artifacts_dir):
    workflow = make_workflow(PAYMENT, name="Payments")
    bob = make_user("bob", tenant=tenant)
    mine = builder(path=f"/workflows/{workflow.pk}/edit/")
    theirs = builder(who=bob, path=f"/workflows/{workflow.pk}/edit/")

    theirs.select("Set")
    theirs.field("values").locator(".wb-pair-value").fill("{{Wait for Event.payload.total}}")
    theirs.page.click('[data-role="save"]')
    theirs.page.wait_for_selector('[data-role="state"]:has-text("v2 · saved")', timeout=WAIT)

    mine.select("Set")
    mine.field("values").locator(".wb-pair-value").fill("{{Wait for Event.payload.net}}")
    mine.page.click('[data-role="save"]')
    dialog = mine.page.locator('dialog[data-role="conflict"]')
    dialog.wait_for(timeout=WAIT)
    assert "Version 2 by bob" in dialog.text_content()
    assert "saved by bob at" in dialog.text_content()
    mine.shot(artifacts_dir, "builder-conflict.png")
    assert workflow.versions.count() == 2
    dialog.locator('[data-role="conflict-overwrite"]').click()
    mine.page.wait_for_selector('[data-role="state"]:has-text("v3 · saved")', timeout=WAIT)
    latest = Workflow.objects.get(pk=workflow.pk).latest_version
    assert latest.number == 3 and latest.created_by.username == "alice"
    assert (
        next(n for n in latest.definition["nodes"] if n["id"] == "set")["config"]["values"]["amount"]
        == "{{Wait for Event.payload.net}}"
    )

    # Bob is now the stale one; he reloads instead of overwriting.
    theirs.field("values").locator(".wb-pair-value").fill("{{Wait for Event.payload.gross}}")
    theirs.page.click('[data-role="save"]')
    theirs.page.locator('dialog[data-role="conflict"] [data-role="conflict-reload"]').click()
    theirs.page.wait_for_selector('[data-role="state"]:has-text("v3 · saved")', timeout=WAIT)
    assert theirs.field("values").locator(".wb-pair-value").input_value() == "{{Wait for Event.payload.net}}"
    assert workflow.versions.count() == 3
    mine.assert_no_errors()
    theirs.assert_no_errors()


# 6 -----------------------------------------------------------------------------------------------


def send_signal(server, key, payload):
    request = urllib.request.Request(
        f"{server.url}/api/workflow/events/signal",
        method="POST",
        data=json.dumps({"eventNamespace": "payments", "eventKey": key, "payload": payload}).encode(),
        headers={"Authorization": f"Bearer {key_raw[0]}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


key_raw = []


def test_test_runs_on_the_canvas_stop_and_run_from_here(
    builder, make_workflow, tenant, user, daphne_server, artifacts_dir
):
    key_raw[:] = [event_services.create_api_key(tenant=tenant, name="Payments", user=user)[1]]
    workflow = make_workflow(PAYMENT, name="Payments")
    b = builder(path=f"/workflows/{workflow.pk}/edit/")
    page = b.page
    # An unsaved change: the run must use it.
    b.select("Set")
    page.click('.wb-field[data-field="config.values"] .wb-add')
    page.keyboard.type("currency")
    page.locator(".wb-pair:last-of-type .wb-pair-value").fill("EUR")
    b.wait_valid()

    page.click('[data-role="test-run"]')
    page.fill("#wb-run-orderId", "A-1")
    page.click('[data-role="run-start"]')
    wait_node = '.wb-canvas .wf-node[data-node-id="wait"]'
    page.wait_for_selector(f'{wait_node}[data-status="paused"]', timeout=WAIT)
    assert "paused" in page.text_content(f"{wait_node} .wf-node-status-text")
    first = Execution.objects.filter(is_test=True).order_by("created_at").last()
    assert first.workflow_id != workflow.pk  # the unsaved definition runs as a draft
    b.shot(artifacts_dir, "builder-test-run-waiting.png")

    assert send_signal(daphne_server, "order-A-1", {"amount": 42})["workflowResumed"] is True
    for node_id in ("trigger", "wait", "set"):
        page.wait_for_selector(f'.wb-canvas .wf-node[data-node-id="{node_id}"][data-status="success"]', timeout=WAIT)
    page.wait_for_selector('[data-role="run-summary"][data-status="success"]', timeout=WAIT)
    b.select("Set")
    page.wait_for_selector('[data-role="run-node"] [data-role="details-output"]', timeout=WAIT)
    output = json.loads(page.text_content('[data-role="run-node"] [data-role="details-output"]'))
    assert output == {"amount": 42, "currency": "EUR"}
    assert '"amount": 42' in page.text_content('[data-role="run-node"] [data-role="details-config"]')
    b.shot(artifacts_dir, "builder-test-run-success.png")

    # Run from here on Set, after another edit: Wait for Event keeps the first run's output.
    page.click('[role=tab][data-tab="node"]')
    page.locator(".wb-pair:first-of-type .wb-pair-value").fill("{{Wait for Event.payload.amount}}!")
    b.wait_valid()
    page.click('[role=tab][data-tab="runs"]')
    page.click('[data-role="run-from-here"]')
    page.wait_for_selector('[data-role="run-summary"][data-status="success"]', timeout=WAIT)
    page.wait_for_selector('[data-role="run-node"] [data-role="details-output"]:has-text("42!")', timeout=WAIT)
    copy = Execution.objects.filter(is_test=True).order_by("created_at").last()
    assert (
        copy.pk != first.pk and copy.status == "success" and copy.context["Set"] == {"amount": "42!", "currency": "EUR"}
    )
    kept = NodeRun.objects.get(execution=copy, node_id="wait")
    original_wait = NodeRun.objects.get(execution=first, node_id="wait")
    assert kept.output == original_wait.output and kept.finished_at == original_wait.finished_at
    assert Execution.objects.get(pk=first.pk).context["Set"] == {"amount": 42, "currency": "EUR"}
    assert not Execution.objects.filter(is_test=False).exists()
    b.shot(artifacts_dir, "builder-run-from-here.png")

    # Another run, stopped once: the button cannot be pressed twice, and stays so after a reload.
    cancels = []
    page.on("request", lambda r: cancels.append(r.url) if r.method == "POST" and r.url.endswith("/cancel/") else None)
    page.click('[data-role="start-run"]')
    page.fill("#wb-run-orderId", "A-2")
    page.click('[data-role="run-start"]')
    page.wait_for_selector(f'{wait_node}[data-status="paused"]', timeout=WAIT)
    stop = page.locator('[data-role="stop-run"]')
    stop.click()
    page.wait_for_selector('[data-role="stop-run"]:disabled', timeout=WAIT)
    stop.click(force=True)
    page.wait_for_selector('[data-role="run-summary"][data-status="cancelled"]', timeout=WAIT)
    page.wait_for_selector(f'{wait_node}[data-status="cancelled"]', timeout=WAIT)
    assert len(cancels) == 1
    stopped = Execution.objects.filter(is_test=True).order_by("created_at").last()
    assert stopped.status == "cancelled" and stopped.input == {"orderId": "A-2"}
    page.once("dialog", lambda dialog: dialog.accept())  # the unsaved edit
    page.reload()
    page.wait_for_selector('#builder[data-ready="true"]', timeout=WAIT)
    page.wait_for_selector('[data-role="run-summary"][data-status="cancelled"]', timeout=WAIT)
    assert page.locator('[data-role="stop-run"]').is_disabled()
    assert page.text_content('[data-role="stop-run"]') == "Stopped"
    b.shot(artifacts_dir, "builder-test-run-stopped.png")
    assert len(cancels) == 1
    b.assert_no_errors()
