"""A workflow's input schema: every way of starting it checks the input and refuses bad input
naming the field; each version keeps its own schema; run forms are made from it."""

import json
import logging
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from demo.models import Order
from tests.conftest import chain
from workflows import engine, services, testruns, triggers
from workflows.exceptions import InvalidInput
from workflows.models import Execution, Schedule

SCHEMA = [
    {"name": "orderId", "type": "integer", "required": True, "description": "The order to ship"},
    {"name": "priority", "type": "string", "enum": ["low", "high"]},
    {"name": "express", "type": "boolean"},
]
ORIGINAL = {"orderId": 1}  # by_run_again's first execution (idempotency key "original"), left out of the counts
NOTE = {"id": "n", "type": "set", "label": "Note", "config": {"values": {"order": "{{Trigger.orderId}}"}}}


def with_schema(schema, *nodes) -> dict:
    definition = chain(*(nodes or (NOTE,)))
    definition["nodes"][0]["config"] = {"inputSchema": schema}
    return definition


@pytest.fixture
def shipping(make_workflow):
    return make_workflow(with_schema(SCHEMA), name="Shipping")


# --- Every entry point ----------------------------------------------------------------------
# Each starts `workflow` with `payload` the way its users do and returns what it refused with:
# (the field named, the message) or None when an execution started.


def by_python(workflow, user, payload):
    try:
        services.trigger_workflow(workflow_id=workflow.pk, user_name=user.username, input=payload)
    except InvalidInput as exc:
        return exc.field, exc.message
    return None


def by_rest(workflow, user, payload):
    client = APIClient()
    client.force_authenticate(user)
    response = client.post(f"/api/workflows/{workflow.pk}/trigger/", {"input": payload}, format="json")
    if response.status_code == 202:
        return None
    body = response.json()
    assert response.status_code == 400 and body["code"] == "invalid_input", body
    assert body["detail"] == body["message"]  # the project's error body
    return body["field"], body["message"]


def by_shell(workflow, user, payload):
    try:
        call_command("trigger_workflow", str(workflow.pk), "--user", user.username, "--input", json.dumps(payload))
    except CommandError as exc:
        return str(exc).split(":")[0], str(exc)
    return None


def by_webhook(workflow, user, payload):
    from events.services import create_api_key

    _, raw = create_api_key(tenant=workflow.tenant, name="hook", user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = client.post(f"/api/workflows/{workflow.pk}/webhook/", payload, format="json")
    if response.status_code == 202:
        return None
    assert response.status_code == 400, response.content
    return response.json()["field"], response.json()["message"]


def by_widget(workflow, user, payload):
    client = APIClient()
    client.force_authenticate(user)
    response = client.post(
        "/api/widgets/w1/data/", {"workflowID": str(workflow.pk), "inputParams": payload}, format="json"
    )
    if response.status_code == 202:
        return None
    assert response.status_code == 400, response.content
    return response.json()["field"], response.json()["message"]


def by_widget_socket(workflow, user, payload):
    from tests.widgets.conftest import open_socket, run

    async def scenario():
        sock = await open_socket(user)
        await sock.send(
            "widget_workflow_connect",
            {"widgetID": "w1", "workflowID": str(workflow.pk), "mode": "execute", "inputParams": payload},
        )
        frames = await sock.drain(quiet=1.0)
        await sock.close()
        return frames

    frames = run(scenario)
    errors = [f["data"]["error"] for f in frames if f["event"] == "widget_workflow_error"]
    if not errors:
        return None
    return errors[0]["field"], errors[0]["message"]


def by_test_run_api(workflow, user, payload):
    client = APIClient()
    client.force_authenticate(user)
    response = client.post(f"/api/workflows/{workflow.pk}/test-run/", {"input": payload}, format="json")
    if response.status_code == 202:
        return None
    assert response.status_code == 400, response.content
    return response.json()["field"], response.json()["message"]


def by_run_again(workflow, user, payload):
    # An operator runs a finished execution again with an edited copy of its input.
    original = services.trigger_workflow(
        workflow_id=workflow.pk, user_name=user.username, input=ORIGINAL, idempotency_key="original"
    )
    client = APIClient()
    client.force_authenticate(user)
    response = client.post(
        f"/api/executions/{original.execution_id}/run-again/", {"input": payload, "reason": "edited"}, format="json"
    )
    if response.status_code == 202:
        return None
    assert response.status_code == 400, response.content
    return response.json()["field"], response.json()["message"]


def by_test_run_page(workflow, user, payload):
    client = Client()
    client.force_login(user)
    response = client.post(f"/workflows/{workflow.pk}/test-run/", {"input": json.dumps(payload)})
    if response.status_code == 302:
        return None
    assert response.status_code == 400
    errors = response.context["form_errors"]
    assert f"<strong>{errors[0]['field']}</strong>" in response.content.decode()
    return errors[0]["field"], f"{errors[0]['field']}: {errors[0]['message']}"


def by_schedule(workflow, user, payload):
    schedule = triggers.create_schedule(workflow=workflow, cron="0 0 1 1 *", run_as=user, input=payload)
    due = timezone.now()
    Schedule.objects.filter(pk=schedule.pk).update(next_run_at=due)
    triggers.fire_due_schedules()
    schedule.refresh_from_db()
    if schedule.last_execution_id:
        return None
    # Nobody waits for a schedule's start: the refusal is logged and kept on the schedule.
    return schedule.last_error.split(":")[0], schedule.last_error


def by_model_event(workflow, user, payload):
    # The input of a model event is the row: the schema names the row's fields under `row`.
    triggers.create_model_trigger(workflow=workflow, datasource="orders", event="insert", run_as=user)
    before = Execution.objects.filter(workflow=workflow).count()
    with transaction.atomic():
        order = Order.objects.create(tenant=workflow.tenant, number=str(payload.get("orderId", "x")), amount=Decimal(1))
    assert Order.objects.filter(pk=order.pk).exists()  # the application's write goes on either way
    if Execution.objects.filter(workflow=workflow).count() > before:
        return None
    return "logged", "logged"


def by_child(workflow, user, payload, *, make_workflow=None, worker=None):
    parent = make_workflow(
        chain(
            {
                "id": "c",
                "type": "trigger-workflow",
                "label": "Ship",
                "config": {"workflowId": str(workflow.pk), "input": payload},
            }
        ),
        name="Parent",
    )
    result = services.trigger_workflow(workflow_id=parent.pk, user_name=user.username, input={})
    worker.run_until_idle()
    execution = Execution.objects.get(pk=result.execution_id)
    if execution.status == "success":
        return None
    run = execution.node_runs.get(node_id="c")
    return run.error["details"]["field"], run.error["message"]


ENTRY_POINTS = [
    by_python,
    by_rest,
    by_shell,
    by_webhook,
    by_widget,
    by_widget_socket,
    by_run_again,
    by_test_run_api,
    by_test_run_page,
    by_schedule,
    by_child,
]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("start", ENTRY_POINTS, ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    "payload, field",
    [
        ({}, "input.orderId"),
        ({"orderId": "42"}, "input.orderId"),
        ({"orderId": 42, "priority": "urgent"}, "input.priority"),
        ({"orderId": 42, "express": "yes"}, "input.express"),
    ],
)
def test_every_entry_point_refuses_bad_input_naming_the_field(
    start, payload, field, shipping, user, make_workflow, worker
):
    kwargs = {"make_workflow": make_workflow, "worker": worker} if start is by_child else {}
    refused = start(shipping, user, payload, **kwargs)
    assert refused is not None, "a bad input started an execution"
    named, message = refused
    assert named == field and field in message
    assert not Execution.objects.filter(workflow=shipping).exclude(idempotency_key="original").exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("start", ENTRY_POINTS, ids=lambda f: f.__name__)
def test_every_entry_point_starts_with_good_input(start, shipping, user, make_workflow, worker):
    kwargs = {"make_workflow": make_workflow, "worker": worker} if start is by_child else {}
    assert start(shipping, user, {"orderId": 42, "priority": "high", "extra": "kept"}, **kwargs) is None
    execution = Execution.objects.exclude(idempotency_key="original").get(workflow=shipping)
    assert execution.input["orderId"] == 42 and execution.input["extra"] == "kept"


@pytest.mark.django_db(transaction=True)
def test_a_model_event_refused_by_the_schema_is_logged_and_the_write_goes_on(make_workflow, user, caplog):
    needs_row = make_workflow(with_schema([{"name": "row", "type": "string", "required": True}]), name="Rows")
    logger = logging.getLogger("workflows.triggers")  # the project's logging does not propagate it
    logger.addHandler(caplog.handler)
    try:
        assert by_model_event(needs_row, user, {}) == ("logged", "logged")
    finally:
        logger.removeHandler(caplog.handler)
    assert "input.row: must be of type string" in caplog.text
    fits = make_workflow(with_schema([{"name": "row", "type": "object", "required": True}]), name="Rows 2")
    assert by_model_event(fits, user, {}) is None


@pytest.mark.django_db
def test_the_error_body_lists_every_field_at_fault(api, shipping):
    response = api.post(
        f"/api/workflows/{shipping.pk}/trigger/", {"input": {"priority": 3, "express": "no"}}, format="json"
    )
    body = response.json()
    assert response.status_code == 400 and body["code"] == "invalid_input"
    assert body["field"] == "input.express"
    assert [e["field"] for e in body["errors"]] == ["input.express", "input.orderId", "input.priority"]
    assert {e["code"] for e in body["errors"]} == {"invalid_input"}
    assert "must be of type boolean" in body["message"]


@pytest.mark.django_db
def test_nested_paths_are_named(make_workflow, user):
    schema = {
        "type": "object",
        "properties": {
            "items": {
                "type": "array",
                "items": {"type": "object", "required": ["sku"], "properties": {"sku": {"type": "string"}}},
            }
        },
    }
    workflow = make_workflow(with_schema(schema))
    with pytest.raises(InvalidInput) as caught:
        services.trigger_workflow(workflow_id=workflow.pk, user_name=user.username, input={"items": [{"sku": "a"}, {}]})
    assert caught.value.field == "input.items[1].sku"


@pytest.mark.django_db
def test_each_version_keeps_its_own_schema(shipping, user):
    services.update_workflow(
        shipping, user=user, definition=with_schema([{"name": "sku", "type": "string", "required": True}])
    )
    with pytest.raises(InvalidInput) as caught:
        services.trigger_workflow(workflow_id=shipping.pk, user_name=user.username, input={"orderId": 1})
    assert caught.value.field == "input.sku"
    # Version 1 still asks for what it asked for.
    services.trigger_workflow(workflow_id=shipping.pk, user_name=user.username, input={"orderId": 1}, version=1)
    with pytest.raises(InvalidInput) as caught:
        services.trigger_workflow(workflow_id=shipping.pk, user_name=user.username, input={"sku": "a"}, version=1)
    assert caught.value.field == "input.orderId"


@pytest.mark.django_db
def test_a_workflow_without_a_schema_takes_any_object(make_workflow, user):
    workflow = make_workflow(chain(NOTE))
    services.trigger_workflow(workflow_id=workflow.pk, user_name=user.username, input={"anything": [1, {"x": None}]})
    assert Execution.objects.filter(workflow=workflow).count() == 1


@pytest.mark.django_db
def test_an_unsaved_definition_tested_with_its_own_schema(shipping, user):
    draft = with_schema([{"name": "sku", "type": "string", "required": True}])
    with pytest.raises(InvalidInput) as caught:
        testruns.start_test_run(workflow=shipping, user=user, input={"orderId": 1}, definition=draft)
    assert caught.value.field == "input.sku"
    assert testruns.start_test_run(workflow=shipping, user=user, input={"sku": "a"}, definition=draft).is_test


@pytest.mark.django_db
@pytest.mark.parametrize(
    "schema, message",
    [
        ([{"name": "a", "type": "date"}], "Input schema[0].type must be one of"),
        ([{"name": "a", "required": "yes"}], "Input schema[0].required must be true or false"),
        ([{"name": "a", "enum": []}], "Input schema[0].enum must be a non-empty list"),
        ([{"name": "a"}, {"name": "a"}], "Input schema names a field twice: a"),
        ([{"name": "a", "kind": "x"}], "Input schema[0] has unknown keys: kind"),
        (
            {"type": "object", "properties": {"a": {"type": "date"}}},
            "Input schema.properties.a.type is not a valid JSON schema",
        ),
        ({"type": "object", "required": "a"}, "Input schema.required is not a valid JSON schema"),
    ],
)
def test_a_schema_that_is_not_valid_is_refused_on_save(make_workflow, schema, message):
    from workflows.exceptions import InvalidDefinition

    with pytest.raises(InvalidDefinition) as caught:
        make_workflow(with_schema(schema))
    (problem,) = caught.value.errors
    assert problem["nodeId"] == "trigger" and problem["field"] == "config.inputSchema"
    assert problem["message"].startswith(message), problem["message"]


@pytest.mark.django_db
def test_a_stored_schema_that_is_not_valid_refuses_every_start(shipping, user):
    # Saved before schemas were checked: refused loudly rather than run unchecked.
    version = shipping.latest_version
    definition = with_schema({"type": "object", "properties": {"a": {"type": "date"}}})
    type(version).objects.filter(pk=version.pk).update(definition=definition)
    engine.graph_for_version.cache_clear()
    with pytest.raises(InvalidInput) as caught:
        services.trigger_workflow(workflow_id=shipping.pk, user_name=user.username, input={"a": 1})
    assert caught.value.field == "inputSchema"


@pytest.mark.django_db
def test_the_validator_is_compiled_once_per_version(shipping, make_workflow, user):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    validator = engine.graph_for_version(shipping.latest_version.pk).input_validator
    assert validator is engine.graph_for_version(shipping.latest_version.pk).input_validator
    assert validator.schema["required"] == ["orderId"]
    plain = make_workflow(chain(NOTE), name="Plain")
    counts = []
    for workflow in (shipping, plain):
        services.trigger_workflow(workflow_id=workflow.pk, user_name=user.username, input={"orderId": 1})
        with CaptureQueriesContext(connection) as queries:
            services.trigger_workflow(workflow_id=workflow.pk, user_name=user.username, input={"orderId": 2})
        counts.append(len(queries))
    assert counts[0] == counts[1]  # checking the input reads nothing


# --- Forms and pages made from the schema ------------------------------------------------------


def test_a_form_input_is_typed_by_the_schema():
    from workflows.inputs import definition_fields, input_from_form

    fields = definition_fields(
        with_schema(SCHEMA + [{"name": "tags", "type": "array"}, {"name": "weight", "type": "number"}]), {"trigger"}
    )
    data, problems = input_from_form(
        fields, {"input.orderId": "42", "input.priority": "", "input.tags": '["a"]', "input.weight": "1.5"}
    )
    assert data == {"orderId": 42, "express": False, "tags": ["a"], "weight": 1.5} and problems == []
    data, problems = input_from_form(fields, {"input.orderId": "4.5", "input.express": "on", "input.tags": "[nope"})
    assert data == {"express": True}
    assert [(p["field"], p["message"].split(":")[0]) for p in problems] == [
        ("input.orderId", "must be a whole number"),
        ("input.tags", "is not valid JSON"),
    ]
    deep = "[" * 100_000 + "]" * 100_000
    data, problems = input_from_form(fields, {"input.orderId": "1", "input.tags": deep})
    assert [p["field"] for p in problems] == ["input.tags"] and "nested deeper than" in problems[0]["message"]


@pytest.fixture
def page_client(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_the_workflow_page_generates_the_test_run_form_and_shows_the_schema(page_client, shipping):
    html = page_client.get(f"/workflows/{shipping.pk}/").content.decode()
    assert '<input type="hidden" name="input_form" value="fields">' in html
    assert '<input id="test-input-orderId" name="input.orderId" type="number" step="1" value="" required>' in html
    assert (
        '<select id="test-input-priority" name="input.priority"><option value="">—</option><option>low</option><option>high</option></select>'
        in html
    )
    assert '<input type="checkbox" id="test-input-express" name="input.express">' in html
    assert "The order to ship" in html
    assert (
        'data-role="input-schema"' in html
        and '<tr data-input-field="priority"><td><code>priority</code></td><td>string</td>' in html
    )


@pytest.mark.django_db
def test_a_workflow_without_a_schema_keeps_the_json_test_run_form(page_client, make_workflow):
    workflow = make_workflow(chain(NOTE))
    html = page_client.get(f"/workflows/{workflow.pk}/").content.decode()
    assert 'name="input_form"' not in html and 'data-role="input-schema"' not in html
    assert '<textarea id="test-input" name="input" rows="4" spellcheck="false">{}</textarea>' in html


@pytest.mark.django_db
def test_the_generated_form_starts_a_test_run_with_typed_input(page_client, shipping):
    response = page_client.post(
        f"/workflows/{shipping.pk}/test-run/",
        {"input_form": "fields", "input.orderId": "7", "input.priority": "high", "input.express": "on", "input": ""},
    )
    assert response.status_code == 302
    execution = Execution.objects.get(workflow=shipping)
    assert execution.is_test and execution.input == {"orderId": 7, "priority": "high", "express": True}


@pytest.mark.django_db
def test_the_generated_form_names_the_fields_at_fault_and_keeps_the_values(page_client, shipping):
    response = page_client.post(
        f"/workflows/{shipping.pk}/test-run/",
        {"input_form": "fields", "input.orderId": "", "input.priority": "high", "input": ""},
    )
    assert response.status_code == 400
    assert [(e["field"], e["message"]) for e in response.context["form_errors"]] == [("input.orderId", "is required")]
    html = response.content.decode()
    assert "<strong>input.orderId</strong>: is required" in html
    assert "<option selected>high</option>" in html
    response = page_client.post(f"/workflows/{shipping.pk}/test-run/", {"input_form": "fields", "input.orderId": "x1"})
    assert [e["field"] for e in response.context["form_errors"]] == ["input.orderId"]
    assert not Execution.objects.exists()


@pytest.mark.django_db
def test_the_viewer_shows_the_schema_of_the_executions_version(page_client, shipping, user):
    result = services.trigger_workflow(workflow_id=shipping.pk, user_name=user.username, input={"orderId": 1})
    services.update_workflow(shipping, user=user, definition=with_schema([{"name": "sku", "type": "string"}]))
    html = page_client.get(f"/workflows/executions/{result.execution_id}/").content.decode()
    assert "Checked against the input schema of v1" in html
    assert 'data-input-field="orderId"' in html and 'data-input-field="sku"' not in html
