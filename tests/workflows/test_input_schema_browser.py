"""Input schemas in headless Chromium: the workflow page's test-run form and the builder's run
form are generated from the schema, and the builder edits it. Screenshots: artifacts/input-schema-*.png."""

import pytest

from tests.conftest import chain, start_daphne, stop_daphne
from tests.workflows.test_builder_browser import WAIT, Builder
from workflows.models import Execution, Workflow

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

SCHEMA = [
    {"name": "orderId", "type": "integer", "required": True, "description": "The order to ship"},
    {"name": "priority", "type": "string", "enum": ["low", "high"]},
    {"name": "express", "type": "boolean"},
]


@pytest.fixture(scope="module")
def daphne_server(django_db_setup, django_db_blocker):
    """The shared fixture's server with a pool its embedded worker fits in (its step threads
    plus three, plus the page requests), whatever the test run's own pool size."""
    server = start_daphne({"DATABASE_POOL_MAX_SIZE": "10"})
    yield server
    stop_daphne(server)


def shipping_definition(schema=SCHEMA) -> dict:
    definition = chain(
        {
            "id": "n",
            "type": "set",
            "label": "Note",
            "position": {"x": 300, "y": 40},
            "config": {"values": {"order": "{{Trigger.orderId}}"}},
        }
    )
    definition["nodes"][0].update(position={"x": 40, "y": 40}, config={"inputSchema": schema})
    return definition


def test_the_workflow_pages_test_run_form_is_made_from_the_schema(
    logged_in_page, daphne_server, make_workflow, user, artifacts_dir
):
    workflow = make_workflow(shipping_definition(), name="Shipping")
    page = logged_in_page(user)
    page.goto(f"{daphne_server.url}/workflows/{workflow.pk}/")
    form = page.locator('[data-role="test-run-form"]')
    assert form.locator('[data-role="input-form"] [data-input-field]').evaluate_all(
        "els => els.map(e => e.dataset.inputField)"
    ) == ["orderId", "priority", "express"]
    assert form.locator("#test-input-orderId").get_attribute("type") == "number"
    assert form.locator("#test-input-orderId").evaluate("e => e.required") is True
    assert form.locator("#test-input-priority option").all_text_contents() == ["—", "low", "high"]
    assert page.locator('[data-role="input-schema"] tbody tr').count() == 3
    form.locator("#test-input-orderId").fill("42")
    form.locator("#test-input-priority").select_option("high")
    form.locator("#test-input-express").check()
    page.screenshot(path=str(artifacts_dir / "input-schema-test-run-form.png"), full_page=True)
    form.locator('button[type="submit"]').click()
    page.wait_for_url("**/workflows/executions/**", timeout=WAIT)
    execution = Execution.objects.get(workflow=workflow)
    assert execution.is_test and execution.input == {"orderId": 42, "priority": "high", "express": True}
    page.locator(".wf-input:not(.wf-context) summary").click()
    assert page.locator('.wf-input [data-role="input-schema"] tbody tr').count() == 3


def test_the_builder_edits_the_schema_and_its_run_form_follows(
    logged_in_page, daphne_server, make_workflow, user, artifacts_dir
):
    workflow = make_workflow(shipping_definition([{"name": "orderId", "type": "integer"}]), name="Shipping")
    b = Builder(logged_in_page(user), daphne_server).open(f"/workflows/{workflow.pk}/edit/")
    page = b.page
    b.select("Trigger")
    schema = b.field("inputSchema")
    schema.locator('[data-role="schema-required"]').check()
    schema.locator(".wb-add").click()
    page.keyboard.type("priority")
    schema.locator('.wb-pair:last-of-type [data-role="schema-enum"]').fill("low, high")
    b.wait_valid()
    assert b.definition()["nodes"][0]["config"]["inputSchema"] == [
        {"name": "orderId", "type": "integer", "required": True},
        {"name": "priority", "type": "string", "enum": ["low", "high"]},
    ]
    page.click('[data-role="save"]')
    page.wait_for_selector('[data-role="state"]:has-text("v2 · saved")', timeout=WAIT)
    assert (
        Workflow.objects.get(pk=workflow.pk).latest_version.definition["nodes"][0]["config"]["inputSchema"][0][
            "required"
        ]
        is True
    )

    # The run form is made from the server's latest validation answer: wait for the new schema's.
    page.wait_for_function("() => (window.workflowBuilder.validation?.inputFields || []).length === 2", timeout=WAIT)
    page.click('[data-role="test-run"]')
    dialog = page.locator('[data-role="run-form"]')
    dialog.locator('[data-input-field="priority"] select').wait_for(timeout=WAIT)
    assert dialog.locator('[data-input-field="orderId"] .wb-required').count() == 1
    assert dialog.locator("#wb-run-orderId").evaluate("e => e.required") is True
    assert dialog.locator("#wb-run-priority option").all_text_contents() == ["—", "low", "high"]
    dialog.locator("#wb-run-orderId").fill("7")
    dialog.locator("#wb-run-priority").select_option("low")
    b.shot(artifacts_dir, "input-schema-builder-run-form.png")
    page.click('[data-role="run-start"]')
    page.wait_for_selector('[data-role="run-summary"][data-status="success"]', timeout=WAIT)
    execution = Execution.objects.get(is_test=True)
    assert execution.input == {"orderId": 7, "priority": "low"}
    b.assert_no_errors()
