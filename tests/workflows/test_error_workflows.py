"""Error workflows: a failed execution starts its workflow's error workflow, in the failing
transaction, with the failure; handlers never start handlers; the e-mail node."""

import pytest
from django.core import mail
from django.db import transaction

from tests.conftest import chain
from workflows import engine, services
from workflows.models import Execution, Workflow

FAIL = {"id": "h", "type": "http-request", "label": "Notify", "config": {"method": "GET", "url": "{{Trigger.url}}"}}
RECORD = {
    "id": "r",
    "type": "set",
    "label": "Record",
    "config": {
        "values": {
            "failed": "{{Trigger.executionId}}",
            "node": "{{Trigger.failedNode.label}}",
            "workflow": "{{Trigger.workflow.name}}",
            "message": "{{Trigger.error.message}}",
            "orderId": "{{Trigger.input.orderId}}",
        }
    },
}
BAD_INPUT = {"url": "not a url", "orderId": 7}


@pytest.fixture
def handler(make_workflow):
    return make_workflow(chain(RECORD), name="On failure")


@pytest.fixture
def orders(make_workflow, handler):
    return make_workflow(chain(FAIL), name="Orders", error_workflow_id=handler.pk)


def start(workflow, user, payload=BAD_INPUT, **kwargs):
    result = services.trigger_workflow(workflow_id=workflow.pk, user_name=user.username, input=payload, **kwargs)
    return Execution.objects.get(pk=result.execution_id)


@pytest.mark.django_db(transaction=True)
def test_a_failed_execution_starts_the_error_workflow_with_the_failure(orders, handler, user, worker):
    failed = start(orders, user)
    worker.run_until_idle()
    failed.refresh_from_db()
    assert failed.status == "error"
    (started,) = Execution.objects.filter(workflow=handler)
    assert started.error_of_id == failed.pk and started.run_as == user and not started.is_test
    assert failed.error["errorWorkflow"] == {"workflowId": str(handler.pk), "executionId": str(started.pk)}
    given = started.input
    assert given["executionId"] == str(failed.pk)
    assert given["executionUrl"].endswith(f"/workflows/executions/{failed.pk}/")
    assert given["workflow"] == {"id": str(orders.pk), "name": "Orders", "version": 1}
    assert given["failedNode"] == {"id": "h", "label": "Notify", "type": "http-request"}
    assert (
        given["error"]["message"] == failed.error["message"]
        and "url must be an http(s) URL" in given["error"]["message"]
    )
    assert given["input"] == BAD_INPUT
    assert started.status == "success"
    assert started.context["Record"] == {
        "failed": str(failed.pk),
        "node": "Notify",
        "workflow": "Orders",
        "message": given["error"]["message"],
        "orderId": 7,
    }


@pytest.mark.django_db(transaction=True)
def test_a_success_or_a_cancel_starts_nothing(orders, handler, user, worker):
    execution = start(orders, user, {"url": "not a url"})
    engine.cancel_execution(execution.pk)
    fine = Workflow.objects.get(
        pk=services.create_workflow(
            tenant=orders.tenant, name="Fine", definition=chain(RECORD), error_workflow_id=handler.pk
        ).pk
    )
    start(fine, user, {})
    worker.run_until_idle()
    assert Execution.objects.get(pk=execution.pk).status == "cancelled"
    assert Execution.objects.get(workflow=fine).status == "success"
    assert not Execution.objects.filter(workflow=handler).exists()


@pytest.mark.django_db(transaction=True)
def test_an_error_handler_that_fails_starts_no_error_workflow(make_workflow, user, worker):
    # A -> E -> A: a loop if handlers started handlers. E also fails (its URL is no URL).
    looping = make_workflow(chain(dict(FAIL, config={"method": "GET", "url": "{{Trigger.input.url}}"})), name="E")
    first = make_workflow(chain(FAIL), name="A", error_workflow_id=looping.pk)
    services.update_workflow(looping, error_workflow_id=first.pk)
    failed = start(first, user)
    worker.run_until_idle()
    (handled,) = Execution.objects.filter(workflow=looping)
    assert handled.status == "error" and handled.error_of_id == failed.pk
    assert "errorWorkflow" not in handled.error
    assert Execution.objects.filter(workflow=first).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_chain_of_error_workflows_stops_at_the_first_handler(make_workflow, user, worker):
    third = make_workflow(chain(RECORD), name="Third")
    second = make_workflow(chain(dict(FAIL, config={"url": "nope"})), name="Second", error_workflow_id=third.pk)
    first = make_workflow(chain(FAIL), name="First", error_workflow_id=second.pk)
    start(first, user)
    worker.run_until_idle()
    assert Execution.objects.get(workflow=second).status == "error"
    assert not Execution.objects.filter(workflow=third).exists()
    # Started on its own, the second workflow's failure does start the third.
    start(second, user, {})
    worker.run_until_idle()
    assert Execution.objects.filter(workflow=third).count() == 1


@pytest.mark.django_db(transaction=True)
def test_test_runs_start_no_error_workflow(orders, handler, user, worker):
    from workflows import testruns

    execution = testruns.start_test_run(workflow=orders, user=user, input=BAD_INPUT)
    worker.run_until_idle()
    assert Execution.objects.get(pk=execution.pk).status == "error"
    assert not Execution.objects.filter(workflow=handler).exists()


@pytest.mark.django_db(transaction=True)
def test_a_retried_execution_that_fails_again_starts_it_again(orders, handler, user, worker):
    failed = start(orders, user)
    worker.run_until_idle()
    services.retry_execution(failed)
    worker.run_until_idle()
    assert Execution.objects.get(pk=failed.pk).status == "error"
    keys = sorted(Execution.objects.filter(workflow=handler).values_list("idempotency_key", flat=True))
    assert keys == [f"error-of:{failed.pk}:0", f"error-of:{failed.pk}:1"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "spoil, message",
    [
        ("inactive", "The error workflow is inactive"),
        ("schema", "input.ticket: is required"),
    ],
)
def test_an_error_workflow_that_cannot_start_is_recorded_on_the_failure(orders, handler, user, worker, spoil, message):
    if spoil == "inactive":
        services.update_workflow(handler, is_active=False)
    else:
        definition = chain(RECORD)
        definition["nodes"][0]["config"] = {"inputSchema": [{"name": "ticket", "type": "string", "required": True}]}
        services.update_workflow(handler, definition=definition)
    failed = start(orders, user)
    worker.run_until_idle()
    failed.refresh_from_db()
    assert failed.status == "error" and "url must be" in failed.error["message"]
    assert failed.error["errorWorkflow"]["workflowId"] == str(handler.pk)
    assert message in failed.error["errorWorkflow"]["error"]
    assert not Execution.objects.filter(workflow=handler).exists()


@pytest.mark.django_db(transaction=True)
def test_the_error_workflow_starts_in_the_failing_transaction(orders, handler, user, worker):
    # A failure that rolls back leaves no handler; one that commits brings its handler along:
    # no moment exists where the failure is stored and its handler is not.
    definition = chain({"id": "s", "type": "sleep", "label": "Nap", "config": {"duration": "1h"}})
    services.update_workflow(orders, definition=definition)
    execution = start(orders, user, {})
    worker.run_until_idle()
    run = execution.node_runs.get(node_id="s")
    assert run.status == "paused"
    with pytest.raises(RuntimeError), transaction.atomic():
        engine.resume_node_run(run.pk, error="the deadline handler broke")
        assert Execution.objects.filter(workflow=handler, error_of=execution).exists()
        raise RuntimeError("crash before commit")
    assert Execution.objects.get(pk=execution.pk).status == "paused"
    assert not Execution.objects.filter(workflow=handler).exists()
    engine.resume_node_run(run.pk, error="the deadline handler broke")
    assert Execution.objects.get(pk=execution.pk).status == "error"
    (started,) = Execution.objects.filter(workflow=handler)
    assert (
        started.input["failedNode"]["label"] == "Nap"
        and started.input["error"]["message"] == "the deadline handler broke"
    )
    worker.run_until_idle()
    assert Execution.objects.get(pk=started.pk).status == "success"


# --- Naming an error workflow -----------------------------------------------------------------


@pytest.mark.django_db
def test_the_api_sets_and_shows_the_error_workflow(api, handler, make_workflow):
    workflow = make_workflow(chain(RECORD), name="Orders")
    response = api.patch(f"/api/workflows/{workflow.pk}/", {"errorWorkflow": str(handler.pk)}, format="json")
    assert response.status_code == 200 and response.json()["errorWorkflow"] == str(handler.pk)
    assert Workflow.objects.get(pk=workflow.pk).error_workflow_id == handler.pk
    created = api.post(
        "/api/workflows/", {"name": "New", "definition": chain(RECORD), "errorWorkflow": str(handler.pk)}, format="json"
    )
    assert created.status_code == 201 and created.json()["errorWorkflow"] == str(handler.pk)
    cleared = api.patch(f"/api/workflows/{workflow.pk}/", {"errorWorkflow": None}, format="json")
    assert cleared.status_code == 200 and cleared.json()["errorWorkflow"] is None


@pytest.mark.django_db
def test_an_error_workflow_of_another_tenant_itself_or_a_draft_is_refused(api, make_workflow, other_tenant, user):
    from workflows import testruns

    workflow = make_workflow(chain(RECORD), name="Orders")
    foreign = make_workflow(chain(RECORD), name="Theirs", on_tenant=other_tenant)
    other_definition = chain(dict(RECORD, label="Other"))
    draft = testruns.draft_version(workflow, other_definition, user=user).workflow
    for target, message in [
        (foreign.pk, "No workflow"),
        (workflow.pk, "cannot be its own error workflow"),
        (draft.pk, "A test draft cannot be an error workflow"),
        ("nope", "Must be a valid UUID"),
    ]:
        response = api.patch(f"/api/workflows/{workflow.pk}/", {"errorWorkflow": str(target)}, format="json")
        body = response.json()
        assert response.status_code == 400 and body["field"] == "errorWorkflow", body
        assert message in body["message"]
    created = api.post(
        "/api/workflows/", {"name": "New", "definition": chain(RECORD), "errorWorkflow": str(foreign.pk)}, format="json"
    )
    assert created.status_code == 400 and created.json()["field"] == "errorWorkflow"
    assert Workflow.objects.get(pk=workflow.pk).error_workflow_id is None
    assert not Workflow.objects.filter(name="New").exists()


@pytest.mark.django_db
def test_the_admin_form_refuses_another_tenants_error_workflow(make_workflow, other_tenant):
    from django.core.exceptions import ValidationError

    workflow = make_workflow(chain(RECORD), name="Orders")
    workflow.error_workflow = make_workflow(chain(RECORD), name="Theirs", on_tenant=other_tenant)
    with pytest.raises(ValidationError) as caught:
        workflow.full_clean()
    assert "error_workflow" in caught.value.message_dict


@pytest.mark.django_db(transaction=True)
def test_a_moved_error_workflow_of_another_tenant_is_not_started(orders, handler, other_tenant, user, worker):
    # Checked again at the failure: a row changed behind the services' back starts nothing.
    Workflow.objects.filter(pk=handler.pk).update(tenant=other_tenant)
    failed = start(orders, user)
    worker.run_until_idle()
    failed.refresh_from_db()
    assert failed.error["errorWorkflow"]["error"] == "The error workflow belongs to another tenant"
    assert not Execution.objects.filter(workflow=handler).exists()


# --- The e-mail node ----------------------------------------------------------------------------

EMAIL = {
    "id": "m",
    "type": "send-email",
    "label": "Tell ops",
    "config": {
        "to": "ops@example.com, {{Trigger.input.owner}}",
        "subject": "{{Trigger.workflow.name}} failed at {{Trigger.failedNode.label}}",
        "body": "{{Trigger.error.message}}\nSee {{Trigger.executionUrl}}",
    },
}


@pytest.mark.django_db(transaction=True)
def test_one_email_node_tells_people_that_a_run_failed(make_workflow, user, worker, mailoutbox, settings):
    settings.SITE_URL = "https://flows.example.com"
    notify = make_workflow(chain(EMAIL), name="Notify ops")
    orders = make_workflow(chain(FAIL), name="Orders", error_workflow_id=notify.pk)
    failed = start(orders, user, {"url": "nope", "owner": "alice@example.com"})
    worker.run_until_idle()
    (message,) = mail.outbox
    assert message.to == ["ops@example.com", "alice@example.com"]
    assert message.subject == "Orders failed at Notify"
    assert "url must be an http(s) URL" in message.body
    assert f"See https://flows.example.com/workflows/executions/{failed.pk}/" in message.body
    handled = Execution.objects.get(workflow=notify)
    assert handled.status == "success" and handled.context["Tell ops"]["to"] == ["ops@example.com", "alice@example.com"]


@pytest.mark.django_db(transaction=True)
def test_the_email_node_refuses_what_is_no_address(make_workflow, user, worker, mailoutbox):
    workflow = make_workflow(chain(dict(EMAIL, config={**EMAIL["config"], "to": "{{Trigger.to}}"})))
    execution = start(workflow, user, {"to": "nobody"})
    worker.run_until_idle()
    execution.refresh_from_db()
    assert execution.status == "error" and execution.error["message"] == "not an e-mail address: nobody"
    assert mail.outbox == []


@pytest.mark.django_db
def test_the_email_node_is_in_the_catalog(api):
    (node,) = [t for t in api.get("/api/nodes/").json()["nodes"] if t["type"] == "send-email"]
    assert [f["key"] for f in node["configFields"]] == ["to", "subject", "body", "fromEmail"]
    assert [f["key"] for f in node["configFields"] if f["required"]] == ["to", "subject", "body"]
    assert node["icon"] == "mail"


# --- Pages ----------------------------------------------------------------------------------------


@pytest.fixture
def page_client(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_the_workflow_page_names_the_error_workflow_among_its_tenants_workflows(
    page_client, orders, handler, make_workflow, other_tenant
):
    make_workflow(chain(RECORD), name="Theirs", on_tenant=other_tenant)
    html = page_client.get(f"/workflows/{orders.pk}/").content.decode()
    assert f'<option value="{handler.pk}" selected>On failure</option>' in html
    assert "Theirs" not in html and f'<option value="{orders.pk}"' not in html
    response = page_client.post(f"/workflows/{orders.pk}/error-workflow/", {"error_workflow": ""})
    assert response.status_code == 302 and Workflow.objects.get(pk=orders.pk).error_workflow_id is None
    page_client.post(f"/workflows/{orders.pk}/error-workflow/", {"error_workflow": str(handler.pk)})
    assert Workflow.objects.get(pk=orders.pk).error_workflow_id == handler.pk


@pytest.mark.django_db
def test_the_workflow_page_refuses_another_tenants_error_workflow(
    page_client, orders, handler, make_workflow, other_tenant
):
    theirs = make_workflow(chain(RECORD), name="Theirs", on_tenant=other_tenant)
    response = page_client.post(
        f"/workflows/{orders.pk}/error-workflow/", {"error_workflow": str(theirs.pk)}, follow=True
    )
    assert "errorWorkflow: No workflow" in response.content.decode()
    assert Workflow.objects.get(pk=orders.pk).error_workflow_id == handler.pk


@pytest.mark.django_db(transaction=True)
def test_the_viewer_links_a_failure_and_its_handler(page_client, orders, handler, user, worker):
    failed = start(orders, user)
    worker.run_until_idle()
    started = Execution.objects.get(workflow=handler)
    html = page_client.get(f"/workflows/executions/{failed.pk}/").content.decode()
    assert f'Error workflow started: <a href="/workflows/executions/{started.pk}/">' in html
    html = page_client.get(f"/workflows/executions/{started.pk}/").content.decode()
    assert f'Started by the failure of <a href="/workflows/executions/{failed.pk}/">' in html


@pytest.mark.django_db(transaction=True)
def test_the_admin_shows_the_error_workflow_and_the_failure_handled(orders, handler, user, worker, make_user, tenant):
    from django.test import Client

    failed = start(orders, user)
    worker.run_until_idle()
    started = Execution.objects.get(workflow=handler)
    admin = Client()
    admin.force_login(make_user("root", tenant=tenant, is_staff=True, is_superuser=True))
    page = admin.get(f"/admin/workflows/execution/{started.pk}/change/").content.decode()
    assert 'name="error_of"' not in page and str(failed.pk) in page
    page = admin.get(f"/admin/workflows/workflow/{orders.pk}/change/").content.decode()
    assert f'<option value="{handler.pk}" selected>On failure</option>' in page
