"""Which actions an execution's state allows (workflows.operator), as the API and the viewer
offer them, and the resolved config the viewer shows."""

import pytest
from django.test import Client

from tests.conftest import chain
from workflows import operator
from workflows.models import Execution, ExecutionStatus, Membership
from workflows.services import request_cancellation, trigger_workflow
from workflows.testruns import start_test_run

pytestmark = pytest.mark.django_db(transaction=True)

NAP = {"id": "nap", "type": "sleep", "label": "Nap", "config": {"duration": "1h"}}
FAIL = {
    "id": "f",
    "type": "http-request",
    "label": "Broken",
    "config": {"url": "not-a-url"},
    "retry": {"maxAttempts": 1},
}


def start(make_workflow, user, worker, *nodes) -> Execution:
    workflow = make_workflow(chain(*nodes))
    result = trigger_workflow(workflow_id=workflow.pk, user_name=user.username, input={"n": 1})
    worker.run_until_idle()
    return Execution.objects.get(pk=result.execution_id)


@pytest.mark.parametrize(
    ("status", "actions"),
    [
        (ExecutionStatus.RUNNING, ["cancel"]),
        (ExecutionStatus.PAUSED, ["cancel"]),
        (ExecutionStatus.ERROR, ["retry"]),
        (ExecutionStatus.CANCELLED, []),
        (ExecutionStatus.SUCCESS, []),
    ],
)
def test_actions_for_each_state(status, actions):
    assert operator.actions_for_state(Execution(status=status)) == actions


def test_a_paused_execution_offers_cancel_and_a_cancelled_one_nothing(make_workflow, user, worker, api):
    execution = start(make_workflow, user, worker, NAP)
    assert execution.status == "paused"
    assert api.get(f"/api/executions/{execution.pk}/").json()["allowedActions"] == ["cancel"]
    request_cancellation(execution, user=user)
    assert api.get(f"/api/executions/{execution.pk}/").json()["allowedActions"] == []


def test_a_failed_execution_offers_retry_and_no_cancel(make_workflow, user, worker, api):
    execution = start(make_workflow, user, worker, FAIL)
    assert execution.status == "error"
    assert api.get(f"/api/executions/{execution.pk}/").json()["allowedActions"] == ["retry"]


def test_a_stopped_test_run_offers_no_retry(make_workflow, user, worker, api):
    workflow = make_workflow(chain(NAP))
    run = start_test_run(workflow=workflow, user=user, input={})
    worker.run_until_idle()
    request_cancellation(Execution.objects.get(pk=run.pk), user=user)
    assert api.get(f"/api/executions/{run.pk}/").json()["allowedActions"] == []


def test_only_members_of_the_tenant_get_actions(make_workflow, user, worker, other_user):
    execution = start(make_workflow, user, worker, NAP)
    assert operator.allowed_actions(execution, user) == ["cancel"]
    assert operator.allowed_actions(execution, other_user) == []
    assert operator.allowed_actions(execution, None) == []


def test_operators_are_staff_or_admins_of_the_tenant(make_user, tenant, other_tenant):
    member = make_user("mia", tenant=tenant)
    staff = make_user("sam", tenant=tenant, is_staff=True)
    admin = make_user("adam")
    Membership.objects.create(tenant=tenant, user=admin, role=Membership.Role.ADMIN)
    outsider = make_user("root", tenant=other_tenant, is_superuser=True, is_staff=True)
    assert [operator.is_operator(u, tenant.pk) for u in (member, staff, admin, outsider)] == [False, True, True, False]


def test_the_viewer_renders_the_actions_the_state_allows(make_workflow, user, worker):
    client = Client()
    client.force_login(user)
    execution = start(make_workflow, user, worker, NAP)
    request_cancellation(execution, user=user)
    page = client.get(f"/workflows/executions/{execution.pk}/").content.decode()
    assert 'data-role="cancel" hidden' in page and 'data-role="retry" hidden' in page
    failed = start(make_workflow, user, worker, FAIL)
    page = client.get(f"/workflows/executions/{failed.pk}/").content.decode()
    assert 'data-role="cancel" hidden' in page and 'data-role="retry">' in page
    assert '"allowedActions": ["retry"]' in page  # the snapshot the script renders from


def test_the_retry_form_refuses_a_cancelled_execution(make_workflow, user, worker):
    client = Client()
    client.force_login(user)
    execution = start(make_workflow, user, worker, NAP)
    request_cancellation(execution, user=user)
    answer = client.post(f"/workflows/executions/{execution.pk}/retry/", follow=True)
    assert "no failed node to retry from" in answer.content.decode()
    execution.refresh_from_db()
    assert execution.status == "cancelled"


def test_the_viewer_shows_the_final_context(make_workflow, user, worker):
    client = Client()
    client.force_login(user)
    execution = start(
        make_workflow,
        user,
        worker,
        {"id": "a", "type": "set", "label": "Step A", "config": {"values": {"x": "{{Trigger.n}}"}}},
    )
    page = client.get(f"/workflows/executions/{execution.pk}/").content.decode()
    panel = page.split('data-role="context-panel"', 1)[1].split("</details>", 1)[0]
    assert "Output (final context)" in panel and "&quot;Step A&quot;" in panel


def test_a_for_each_shows_its_config_resolved_but_its_item_templates_as_written(make_workflow, user, worker, api):
    child = make_workflow(chain(NAP), name="Child")
    execution = start(
        make_workflow,
        user,
        worker,
        {
            "id": "each",
            "type": "for-each",
            "label": "Each",
            "config": {
                "items": "{{Trigger.n}}",
                "workflowId": str(child.pk),
                "input": {"tag": "{{item.name}} of {{Trigger.n}}"},
            },
        },
    )
    run = next(r for r in api.get(f"/api/executions/{execution.pk}/").json()["nodeRuns"] if r["nodeId"] == "each")
    assert run["resolvedConfig"]["items"] == 1
    assert run["resolvedConfig"]["input"] == {"tag": "{{item.name}} of 1"}


def test_the_schema_describes_the_new_fields(api):
    schemas = api.get("/api/schema/?format=json").json()["components"]["schemas"]
    assert "allowedActions" in schemas["ExecutionDetail"]["properties"]
    assert schemas["NodeRun"]["properties"]["waitingFor"]["nullable"] is True
    assert set(schemas["PauseDetails"]["discriminator"]["mapping"]) == {"approval", "event"}
    assert {"ApprovalPause", "EventPause"} <= set(schemas)


def test_the_stream_snapshot_carries_the_watchers_actions(make_workflow, user, worker):
    from asgiref.sync import async_to_sync

    from tests.workflows.sse_client import SSEStream

    execution = start(make_workflow, user, worker, NAP)

    async def first_event():
        stream = SSEStream(f"/api/executions/{execution.pk}/events/", user=user)
        assert await stream.open() == 200
        try:
            return await stream.next_event()
        finally:
            await stream.disconnect()

    snapshot = async_to_sync(first_event)()
    assert snapshot["data"]["execution"]["allowedActions"] == ["cancel"]
