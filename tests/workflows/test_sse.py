"""GET /api/executions/{id}/events/ and GET /api/executions/events/ over the ASGI protocol."""

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from tests.conftest import chain
from tests.workflows.sse_client import SSEStream
from workflows.models import Execution, Membership
from workflows.services import trigger_workflow
from workflows.testruns import start_test_run

pytestmark = pytest.mark.django_db(transaction=True)

TWO_STEPS = chain(
    {"id": "a", "type": "set", "label": "A", "config": {"values": {"x": 1}}},
    {"id": "b", "type": "set", "label": "B", "config": {"values": {"y": "{{A.x}}"}}},
)


def start(workflow, user, **input):
    return trigger_workflow(workflow_id=workflow.pk, user_name=user.username, input=input).execution_id


def test_snapshot_first_then_node_and_status_updates_then_end(make_workflow, user, worker):
    execution_id = start(make_workflow(TWO_STEPS), user)

    async def scenario():
        stream = SSEStream(f"/api/executions/{execution_id}/events/", user=user)
        assert await stream.open() == 200
        assert stream.headers["content-type"] == "text/event-stream"
        assert stream.headers["cache-control"] == "no-cache"
        snapshot = await stream.next_event()
        await sync_to_async(worker.run_until_idle)()
        events = []
        while (event := await stream.next_event()) is not None:
            events.append(event)
        return snapshot, events

    snapshot, events = async_to_sync(scenario)()
    assert snapshot["event"] == "snapshot" and snapshot["id"] == "1"
    assert snapshot["data"]["execution"]["status"] == "running"
    runs = {r["nodeId"]: r["status"] for r in snapshot["data"]["execution"]["nodeRuns"]}
    assert runs == {"trigger": "success", "a": "running", "b": "idle"}
    assert {n["id"] for n in snapshot["data"]["graph"]["nodes"]} == {"trigger", "a", "b"}

    node_events = [(e["data"]["nodeId"], e["data"]["status"]) for e in events if e["event"] == "node"]
    assert node_events == [("a", "success"), ("b", "running"), ("b", "success")]
    assert [e["event"] for e in events][-2:] == ["status", "end"]
    assert events[-2]["data"]["status"] == "success" and events[-2]["data"]["executionId"] == str(execution_id)
    ids = [int(e["id"]) for e in events]
    assert ids == list(range(2, 2 + len(events)))


def test_skipped_branches_arrive_as_node_events(make_workflow, user, worker):
    definition = chain(
        {
            "id": "check",
            "type": "condition",
            "label": "Check",
            "config": {"left": "{{Trigger.n}}", "operator": "gt", "right": 5},
        },
        {"id": "big", "type": "set", "label": "Big", "config": {}},
        {"id": "small", "type": "set", "label": "Small", "config": {}},
        edges=[
            {"source": "trigger", "target": "check"},
            {"source": "check", "target": "big", "branch": "true"},
            {"source": "check", "target": "small", "branch": "false"},
        ],
    )
    execution_id = start(make_workflow(definition), user, n=9)

    async def scenario():
        stream = SSEStream(f"/api/executions/{execution_id}/events/", user=user)
        await stream.open()
        await stream.next_event()
        await sync_to_async(worker.run_until_idle)()
        return [e async for e in _all(stream)]

    nodes = [(e["data"]["nodeId"], e["data"]["status"]) for e in async_to_sync(scenario)() if e["event"] == "node"]
    assert ("small", "skipped") in nodes and ("big", "running") in nodes
    assert nodes.index(("big", "running")) < nodes.index(("big", "success"))


def test_reconnect_with_last_event_id_gets_a_fresh_snapshot(make_workflow, user, worker):
    execution_id = start(make_workflow(TWO_STEPS), user)

    async def scenario():
        first = SSEStream(f"/api/executions/{execution_id}/events/", user=user)
        await first.open()
        before = await first.next_event()
        await first.disconnect()
        await sync_to_async(worker.run_until_idle)()
        again = SSEStream(f"/api/executions/{execution_id}/events/", user=user, headers={"Last-Event-ID": "7"})
        await again.open()
        return before, [e async for e in _all(again)]

    before, after = async_to_sync(scenario)()
    assert before["data"]["execution"]["status"] == "running"
    assert [e["event"] for e in after] == ["snapshot", "end"]
    assert [e["id"] for e in after] == ["8", "9"]
    assert after[0]["data"]["execution"]["status"] == "success"
    assert {r["nodeId"]: r["output"] for r in after[0]["data"]["execution"]["nodeRuns"]}["b"] == {"y": 1}


async def _all(stream):
    while (event := await stream.next_event()) is not None:
        yield event


def test_finished_execution_sends_snapshot_and_ends(make_workflow, user, worker):
    execution_id = start(make_workflow(TWO_STEPS), user)
    worker.run_until_idle()

    async def scenario():
        stream = SSEStream(f"/api/executions/{execution_id}/events/", user=user)
        await stream.open()
        return [e async for e in _all(stream)]

    events = async_to_sync(scenario)()
    assert [e["event"] for e in events] == ["snapshot", "end"]
    assert events[1]["data"] == {"executionId": str(execution_id), "status": "success"}


def test_heartbeats_and_a_missed_finish_still_end_the_stream(make_workflow, user, settings):
    settings.WORKFLOW_SSE_HEARTBEAT_SECONDS = 0.2
    settings.WORKFLOW_SSE_TICK_SECONDS = 0.05
    wf = make_workflow(chain({"id": "s", "type": "sleep", "label": "Nap", "config": {"duration": "1h"}}))
    execution_id = start(wf, user)

    async def scenario():
        stream = SSEStream(f"/api/executions/{execution_id}/events/", user=user)
        await stream.open()
        await stream.next_event()  # snapshot
        heartbeat = await stream.next_block()
        # Finish it behind the channel layer's back: the next heartbeat notices.
        await Execution.objects.filter(pk=execution_id).aupdate(status="cancelled")
        return heartbeat, [e async for e in _all(stream)]

    heartbeat, events = async_to_sync(scenario)()
    assert heartbeat == {"comment": "heartbeat"}
    assert [e["event"] for e in events] == ["snapshot", "end"]
    assert events[-1]["data"]["status"] == "cancelled"


def test_stream_needs_login_and_is_tenant_scoped(make_workflow, user, other_user):
    execution_id = start(make_workflow(TWO_STEPS), user)

    async def scenario():
        anonymous = SSEStream(f"/api/executions/{execution_id}/events/")
        outsider = SSEStream(f"/api/executions/{execution_id}/events/", user=other_user)
        return (await anonymous.open(), await anonymous.body()), (await outsider.open(), await outsider.body())

    (anon_status, anon_body), (other_status, other_body) = async_to_sync(scenario)()
    assert anon_status == 401 and "not_authenticated" in anon_body
    assert other_status == 404 and "not_found" in other_body


def test_token_authentication_opens_the_stream(make_workflow, user, worker):
    from rest_framework.authtoken.models import Token

    execution_id = start(make_workflow(TWO_STEPS), user)
    worker.run_until_idle()
    token = Token.objects.create(user=user)

    async def scenario():
        stream = SSEStream(f"/api/executions/{execution_id}/events/", headers={"Authorization": f"Token {token.key}"})
        return await stream.open(), await stream.next_event()

    status, event = async_to_sync(scenario)()
    assert status == 200 and event["event"] == "snapshot"


def test_tenant_stream_sends_status_changes_of_your_production_runs(
    make_workflow, user, worker, other_tenant, make_user
):
    mine = make_workflow(TWO_STEPS, name="Mine")
    outsider = make_user("olga", tenant=other_tenant)
    theirs = make_workflow(TWO_STEPS, name="Theirs", on_tenant=other_tenant)

    async def scenario():
        stream = SSEStream("/api/executions/events/", user=user)
        await stream.open()
        assert (await stream.next_block()) == {"comment": "subscribed", "retry": "2000"}

        def work():
            start(theirs, outsider)
            start_test_run(workflow=mine, user=user, input={})
            production = start(mine, user)
            worker.run_until_idle()
            return production

        production = await sync_to_async(work)()
        events = [await stream.next_event(), await stream.next_event()]
        await stream.disconnect()
        return production, events

    production, events = async_to_sync(scenario)()
    assert [(e["data"]["executionId"], e["data"]["status"]) for e in events] == [
        (str(production), "running"),
        (str(production), "success"),
    ]
    assert all(e["data"]["workflowId"] == str(mine.pk) and e["data"]["isTest"] is False for e in events)
    assert "context" not in events[0]["data"]


def test_tenant_stream_filters_by_workflow_and_test_runs(make_workflow, user, worker):
    one, two = make_workflow(TWO_STEPS, name="One"), make_workflow(TWO_STEPS, name="Two")

    async def scenario():
        stream = SSEStream(f"/api/executions/events/?isTest=true&workflow={two.pk}", user=user)
        await stream.open()

        def work():
            start_test_run(workflow=one, user=user, input={})
            start(two, user)
            test_run = start_test_run(workflow=two, user=user, input={})
            worker.run_until_idle()
            return test_run.pk

        test_run = await sync_to_async(work)()
        first = await stream.next_event()
        await stream.disconnect()
        return test_run, first

    test_run, first = async_to_sync(scenario)()
    assert first["data"]["executionId"] == str(test_run) and first["data"]["isTest"] is True


def test_tenant_stream_filters_by_one_of_your_tenants(make_workflow, user, worker, other_tenant):
    Membership.objects.create(tenant=other_tenant, user=user)
    mine = make_workflow(TWO_STEPS, name="Mine")
    elsewhere = make_workflow(TWO_STEPS, name="Elsewhere", on_tenant=other_tenant)

    async def scenario():
        stream = SSEStream(f"/api/executions/events/?tenant={other_tenant.pk}", user=user)
        await stream.open()

        def work():
            start(mine, user)
            wanted = start(elsewhere, user)
            worker.run_until_idle()
            return wanted

        wanted = await sync_to_async(work)()
        first = await stream.next_event()
        await stream.disconnect()
        return wanted, first

    wanted, first = async_to_sync(scenario)()
    assert first["data"]["executionId"] == str(wanted) and first["data"]["workflowId"] == str(elsewhere.pk)


def test_tenant_stream_refuses_a_tenant_that_is_not_yours(user, other_tenant):
    async def scenario():
        stream = SSEStream(f"/api/executions/events/?tenant={other_tenant.pk}", user=user)
        return await stream.open(), await stream.body()

    status, body = async_to_sync(scenario)()
    assert status == 404 and '"field": "tenant"' in body


def test_tenant_stream_rejects_bad_filters(user):
    async def scenario():
        stream = SSEStream("/api/executions/events/?workflow=nope", user=user)
        return await stream.open(), await stream.body()

    status, body = async_to_sync(scenario)()
    assert status == 400 and '"field": "workflow"' in body


def test_streams_close_after_their_maximum_life_without_an_end(make_workflow, user, settings):
    settings.WORKFLOW_SSE_MAX_SECONDS = 0.3
    settings.WORKFLOW_SSE_TICK_SECONDS = 0.05
    wf = make_workflow(chain({"id": "s", "type": "sleep", "label": "Nap", "config": {"duration": "1h"}}))
    execution_id = start(wf, user)

    async def scenario():
        stream = SSEStream(f"/api/executions/{execution_id}/events/", user=user)
        await stream.open()
        return [e async for e in _all(stream)]

    events = async_to_sync(scenario)()
    assert [e["event"] for e in events] == ["snapshot"]  # no end: the browser reconnects
