"""The tenant isolation matrix, generated from the URL conf and the socket events.

Every URL pattern that takes an object's id is called, with every method, by a user of
tenant B for an object of tenant A, and must answer a refusal (401, 403, 404, 405, or a
redirect to the login) that carries none of the object's data; every URL without an id is
read by tenant B and must not name any of tenant A's objects. Every event the widget socket
accepts is sent by tenant B about tenant A's execution and workflow. A new URL or socket
event fails here until it is covered or listed below as not tenant-owned, with the reason.
"""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.authtoken.models import Token

from approvals.models import ApprovalRequest
from events.models import WaitEvent
from events.services import create_api_key
from tests.approvals.conftest import approval_definition
from tests.widgets.conftest import open_socket, run
from widgets.consumers import CLIENT_FRAMES
from widgets.models import Widget
from workflows import integrations
from workflows.models import BulkOperation, Execution, ModelTrigger, Schedule
from workflows.services import trigger_workflow
from workflows.triggers import create_schedule

pytestmark = pytest.mark.django_db(transaction=True)

METHODS = ("get", "post", "put", "patch", "delete")
REFUSALS = {401, 403, 404, 405}
# Keys only an answer about the object itself would carry.
DATA_KEYS = (
    "context",
    "nodeRuns",
    "definition",
    "input",
    "output",
    "credentials",
    "decisions",
    "config",
    "cron",
    "finalContext",
    "initialContext",
    "contextData",
    "processedData",
    "snapshot",
)

# URL names whose parameters name no tenant's object, and why.
NOT_TENANT_OWNED = {
    "password_reset_confirm": "a password reset link: its uid and token are checked by Django, no tenant data",
    "api-root": "DRF's browsable root: the format suffix is not an object",
}
# URL names whose parameters name a node type's field, not an object: their answer lists the
# caller's own objects, so it is checked for tenant A's ids like a list.
LISTS_WITH_PARAMETERS = {"node-options"}
# A query that gets past a view's own validation, so the answer is about the object.
QUERIES = {"workflow-diff": "?from=1&to=1"}
# Endless streams, left out of the list reads.
STREAMS = {
    "execution-list-events": "an endless stream; its tenant filter is tested in tests/workflows/test_sse.py",
}


def url_patterns(patterns=None, prefix: str = "", namespace: str | None = None):
    """(full name, route, parameter names) of every URL pattern outside the admin."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            space = namespace
            if pattern.namespace:
                space = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            yield from url_patterns(pattern.url_patterns, prefix + str(pattern.pattern), space)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}:{pattern.name}" if namespace else pattern.name
            yield name, prefix + str(pattern.pattern), sorted(pattern.pattern.regex.groupindex)


def routes():
    # The Django admin answers staff only and has its own tests (tests/*/test_admin.py).
    return [r for r in url_patterns() if not (r[0] or "").startswith("admin:")]


@pytest.fixture
def tenant_a(make_workflow, user, worker, tenant):
    """Tenant A's objects, one of each kind that a URL can name."""
    workflow = make_workflow(approval_definition({"title": "Pay", "approvers": user.username}), name="A's workflow")
    result = trigger_workflow(workflow_id=workflow.pk, user_name=user.username, input={"orderId": "secret-order"})
    worker.run_until_idle()
    execution = Execution.objects.get(pk=result.execution_id)
    approval = ApprovalRequest.objects.get(execution=execution)
    integration = integrations.create_integration(
        tenant=tenant, owner=user, type="sms", name="A's SMS", credentials={"apiKey": "a-secret"}
    )
    model_trigger = ModelTrigger.objects.create(
        tenant=tenant, workflow=workflow, datasource="demo-orders", event="insert", run_as=user
    )
    schedule = create_schedule(workflow=workflow, cron="0 3 * * *", run_as=user)
    api_key, _ = create_api_key(tenant=tenant, name="A's key", user=user)
    widget = Widget.objects.create(tenant=tenant, name="A's widget", widget_type="metric", workflow=workflow)
    bulk = BulkOperation.objects.create(
        tenant=tenant, user=user, username=user.username, action="cancel", execution_ids=[str(execution.pk)]
    )
    wait = WaitEvent.objects.create(
        tenant=tenant,
        execution=execution,
        node_run=execution.node_runs.get(node_id="approval"),
        namespace="payments",
        key="secret-order",
    )
    return {
        "workflow": workflow,
        "execution": execution,
        "approval": approval,
        "integration": integration,
        "model-trigger": model_trigger,
        "schedule": schedule,
        "api-key": api_key,
        "widget": widget,
        "bulk-operation": bulk,
        "wait": wait,
    }


# Which of tenant A's objects a URL's `pk` names: by the URL's name, or the name without its
# last word (`execution-cancel`), or its first word (`execution-run-from-here`).
OWNERS = {
    "execution": "execution",
    "workflow": "workflow",
    "approval": "approval",
    "integration": "integration",
    "model-trigger": "model-trigger",
    "schedule": "schedule",
    "api-key": "api-key",
    "bulk-operation": "bulk-operation",
    "events-wait-signal": "wait",
    "workflows:execution": "execution",
    "workflows:detail": "workflow",
    "workflows:test-run": "workflow",
    "workflows:edit": "workflow",
    "workflows:error-workflow": "workflow",
    "approvals:detail": "approval",
    "approvals:delegate": "approval",
    "approvals:link": "approval",
}


def kwargs_for(name: str, params: list[str], a: dict) -> dict:
    """The URL kwargs naming tenant A's objects for the URL `name`; KeyError when unknown."""
    values = {
        "format": "json",
        "number": "1",
        "token": "not-a-valid-token",
        "widget_id": str(a["widget"].pk),
        "action_id": "sms/send",
        "field_key": "integrationId",
    }
    kwargs = {}
    for param in params:
        if param == "pk":
            owner = OWNERS.get(name) or OWNERS.get(name.rsplit("-", 1)[0]) or OWNERS[name.split("-")[0]]
            kwargs["pk"] = str(a[owner].pk)
        else:
            kwargs[param] = values[param]
    return kwargs


def ids_of(a: dict) -> list[str]:
    # UUIDs and the secrets: small integer ids would match any page by chance.
    return [str(obj.pk) for obj in a.values() if len(str(obj.pk)) > 8] + ["secret-order", "a-secret"]


def leaks(response, a: dict, url: str = "") -> bool:
    """Whether an answer to tenant B carries anything of tenant A's (an error page may echo
    the ids of the URL asked for: that tells nothing)."""
    if response.status_code in (301, 302):
        return "/accounts/login/" not in response["Location"]
    if response.status_code not in REFUSALS:
        return True
    body = b"".join(response.streaming_content) if response.streaming else response.content
    text = body.decode(errors="replace")
    try:
        parsed = json.loads(text)
    except ValueError:
        return any(value in text for value in ids_of(a) if value not in url)
    return not isinstance(parsed, dict) or any(key in parsed for key in DATA_KEYS)


@pytest.fixture
def as_b(other_user):
    """Tenant B's user, once with its session (pages) and once with its API token (API)."""
    session = Client()
    session.force_login(other_user)
    token = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=other_user).key}")
    return {"session": session, "token": token}


def test_every_url_naming_an_object_refuses_another_tenant(tenant_a, as_b):
    problems, covered = [], 0
    for name, route, params in routes():
        if not params or name in NOT_TENANT_OWNED or name in STREAMS or name in LISTS_WITH_PARAMETERS:
            continue
        if name == "execution-events":
            continue  # an async stream: test_sse_stream_of_another_tenants_execution_is_refused
        try:
            url = reverse(name, kwargs=kwargs_for(name, params, tenant_a)) + QUERIES.get(name, "")
        except KeyError:
            problems.append(f"{name} ({route}): not covered: say which tenant object its parameters name")
            continue
        covered += 1
        for client_name, client in as_b.items():
            for method in METHODS:
                if method == "get":
                    response = client.get(url)
                else:
                    response = getattr(client, method)(url, data="{}", content_type="application/json")
                if leaks(response, tenant_a, url):
                    problems.append(
                        f"{method.upper()} {url} as tenant B ({client_name}) answered {response.status_code}"
                    )
    assert not problems, "\n".join(problems)
    assert covered >= 30
    # Nothing of tenant A's changed through tenant B's requests.
    assert Execution.objects.get(pk=tenant_a["execution"].pk).status == "paused"
    assert ApprovalRequest.objects.get(pk=tenant_a["approval"].pk).status == "pending"
    assert Schedule.objects.filter(pk=tenant_a["schedule"].pk, is_active=True).exists()
    assert tenant_a["workflow"].__class__.objects.get(pk=tenant_a["workflow"].pk).name == "A's workflow"


def test_every_url_without_an_id_names_nothing_of_another_tenants(tenant_a, as_b):
    problems = []
    for name, _, params in routes():
        if (params and name not in LISTS_WITH_PARAMETERS) or name in STREAMS:
            continue
        url = reverse(name, kwargs=kwargs_for(name, params, tenant_a))
        for client_name, client in as_b.items():
            if name in LISTS_WITH_PARAMETERS:
                response = client.post(url, data='{"config": {}}', content_type="application/json")
            else:
                response = client.get(url)
            body = b"".join(response.streaming_content) if response.streaming else response.content
            text = body.decode(errors="replace")
            found = [value for value in ids_of(tenant_a) if value in text]
            if found:
                problems.append(f"GET {url} as tenant B ({client_name}) shows {found}")
    assert not problems, "\n".join(problems)


def test_sse_stream_of_another_tenants_execution_is_refused(tenant_a, other_user):
    from tests.workflows.sse_client import SSEStream

    async def scenario():
        stream = SSEStream(f"/api/executions/{tenant_a['execution'].pk}/events/", user=other_user)
        status = await stream.open()
        body = await stream.body()
        return status, body

    status, body = async_to_sync(scenario)()
    assert status == 404
    assert "snapshot" not in body and "secret-order" not in body


# Each socket event, sent by tenant B about tenant A's objects.
def socket_frames(a: dict) -> dict[str, list[dict]]:
    execution, workflow, widget = str(a["execution"].pk), str(a["workflow"].pk), str(a["widget"].pk)
    tenant = str(a["workflow"].tenant_id)
    return {
        "widget_workflow_connect": [
            {"widgetID": "x1", "mode": "subscribe", "instanceID": execution},
            {"widgetID": "x2", "mode": "replay", "instanceID": execution},
            {"widgetID": "x3", "mode": "execute", "workflowID": workflow},
            {"widgetID": widget, "mode": "execute"},
            {"widgetID": "x4", "mode": "execute", "workflowID": workflow, "tenantID": tenant},
        ],
        "widget_send_input": [{"widgetID": "x5", "instanceID": execution, "inputType": "go", "data": {}}],
        "widget_refresh": [{"widgetID": widget}, {"widgetID": "x6", "tenantID": tenant}],
        "workflow_run_join": [{"runId": execution}],
        # Leaving or disconnecting what was never joined: answered, and never about tenant A.
        "workflow_run_leave": [{"runId": execution}],
        "widget_workflow_disconnect": [{"widgetID": widget}],
    }


def test_every_socket_event_refuses_another_tenants_objects(tenant_a, other_user):
    frames = socket_frames(tenant_a)
    assert set(frames) == set(CLIENT_FRAMES), f"socket events not covered: {set(CLIENT_FRAMES) - set(frames)}"

    async def scenario():
        socket = await open_socket(other_user)
        answers = []
        for event, payloads in frames.items():
            for data in payloads:
                await socket.send(event, data)
                answers += [(event, data, frame) for frame in await socket.drain(quiet=0.3)]
        await socket.close()
        return answers

    problems = []
    for event, data, frame in run(scenario):
        body = frame.get("data") or {}
        refused = frame["event"] in ("widget_workflow_error", "widget_workflow_disconnected") or (
            frame["event"] == "widget_input_received" and body.get("success") is False
        )
        text = json.dumps(frame)
        if not refused or any(key in body for key in DATA_KEYS) or "secret-order" in text:
            problems.append(f"{event} {data} as tenant B got {frame}")
    assert not problems, "\n".join(problems)
    assert Execution.objects.filter(workflow=tenant_a["workflow"]).count() == 1  # nothing started for B
