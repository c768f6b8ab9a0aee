"""The widget socket protocol on the real consumer, channel layer, database and worker."""

from __future__ import annotations

import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from rest_framework.authtoken.models import Token

from tests.conftest import chain
from tests.widgets.conftest import (
    CHART,
    asgi_application,
    open_socket,
    run,
    session_cookie,
    three_steps,
    waits_for_input,
)
from widgets.models import WidgetConnection
from workflows import engine
from workflows.models import Execution, NodeRun
from workflows.services import trigger_workflow

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async


def connect_frame(workflow, **extra) -> dict:
    return {
        "widgetID": "w1",
        "workflowID": str(workflow.pk),
        "mode": "execute",
        "inputParams": {"k": "v"},
        "widgetType": "vega-lite",
        "widgetConfig": CHART,
        "workflowConfig": {},
        **extra,
    }


# --- Authentication and origins (through config.asgi.application) ---------------------------


async def handshake(path: str = "/ws/widgets/", headers=()) -> tuple[bool, object]:
    """Open a socket on the production application; (accepted, close code or None)."""
    from channels.testing import WebsocketCommunicator

    communicator = WebsocketCommunicator(asgi_application(), path, headers=[(b"host", b"testserver"), *headers])
    connected, code = await communicator.connect()
    await communicator.disconnect()  # a refused socket's application ends too, not left to the loop's end
    return connected, code


def test_browser_socket_with_this_sites_origin_and_a_session_is_accepted(user):
    cookie = session_cookie(user)
    assert async_to_sync(handshake)(headers=[(b"origin", b"http://testserver"), (b"cookie", cookie)]) == (True, None)


def test_browser_socket_from_a_foreign_origin_is_refused_even_with_a_session(user):
    cookie = session_cookie(user)
    for origin in (b"https://evil.example", b"http://testserver:8080", b"null"):
        connected, _ = async_to_sync(handshake)(headers=[(b"origin", origin), (b"cookie", cookie)])
        assert not connected, origin


def test_anonymous_browser_socket_is_closed_as_unauthenticated():
    connected, code = async_to_sync(handshake)(headers=[(b"origin", b"http://testserver")])
    assert not connected and code == 4401


def test_script_with_a_token_and_no_origin_is_accepted(user):
    token = Token.objects.create(user=user).key
    assert async_to_sync(handshake)(f"/ws/widgets/?token={token}") == (True, None)
    header = [(b"authorization", f"Token {token}".encode())]
    assert async_to_sync(handshake)(headers=header) == (True, None)


def test_script_with_a_bad_or_no_token_is_refused(user):
    user_cookie = session_cookie(user)
    for path, headers in (
        ("/ws/widgets/?token=nope", []),
        ("/ws/widgets/", [(b"authorization", b"Token nope")]),
        # No Origin means no browser: a cookie alone does not authenticate.
        ("/ws/widgets/", [(b"cookie", user_cookie)]),
    ):
        connected, _ = async_to_sync(handshake)(path, headers=headers)
        assert not connected, (path, headers)


def test_inactive_users_token_is_refused(user):
    token = Token.objects.create(user=user).key
    user.is_active = False
    user.save()
    connected, _ = async_to_sync(handshake)(f"/ws/widgets/?token={token}")
    assert not connected


# --- execute ----------------------------------------------------------------------------------


def test_execute_streams_processed_updates_and_the_final_status(user, make_workflow, worker):
    wf = make_workflow(three_steps())

    async def scenario():
        sock = await open_socket(user)
        await sock.send("widget_workflow_connect", connect_frame(wf))
        connected = await sock.next("widget_workflow_connected", widgetID="w1")
        assert connected["mode"] == "execute"
        assert connected["initialContext"]["Trigger"] == {"k": "v"}
        assert connected["workflowMeta"]["workflowID"] == str(wf.pk)
        assert await db(WidgetConnection.objects.filter(widget_id="w1", execution_id=connected["instanceID"]).exists)()
        await db(worker.run_until_idle)()
        # One frame per step: the last step's update is the final status.
        updates = [await sock.next("widget_context_update", widgetID="w1") for _ in range(2)]
        assert [u["update"]["nodeID"] for u in updates] == ["a", "b"]
        assert all(u["instanceID"] == connected["instanceID"] for u in updates)
        assert updates[0]["update"]["processedData"]["spec"]["data"]["values"] == []
        assert updates[0]["update"]["contextDiff"] == {"A": {"n": 1}}
        assert updates[1]["update"]["contextDiff"] == {"B": {"n": 2}}
        assert updates[1]["update"]["status"] == "success" and updates[1]["update"]["label"] == "B"
        final = await sock.next("widget_workflow_status", widgetID="w1")
        assert final["status"] == "COMPLETED" and final["executionStatus"] == "success"
        assert final["processedData"]["count"] == 2
        assert final["finalContext"]["B"] == {"n": 2}
        assert final["lastNode"] == {"nodeID": "p", "label": "Points", "status": "success", "error": None}
        assert final["finalContext"]["Points"]["values"][1] == {"x": 2, "y": 2}
        # A widget socket gets no raw node frames (those are for workflow_run_join).
        assert not sock.events("workflow_node_update")
        assert [f["event"] for f in sock.frames].count("widget_context_update") == 2
        await sock.close()
        assert not await db(WidgetConnection.objects.exists)()

    run(scenario)


def test_execute_never_misses_the_first_node_when_a_worker_races(user, make_workflow, worker_thread):
    """A live worker claims the first node as soon as the execution commits; the socket is
    in the execution's group before that commit, so the first update always arrives."""
    wf = make_workflow(
        chain(
            {"id": "a", "type": "set", "label": "A", "config": {"values": {"first": True}}},
            {"id": "b", "type": "set", "label": "B", "config": {"values": {"second": True}}},
        )
    )
    worker_thread()

    async def scenario():
        sock = await open_socket(user)
        for i in range(8):
            widget_id = f"race-{i}"
            await sock.send(
                "widget_workflow_connect",
                {
                    **connect_frame(wf),
                    "widgetID": widget_id,
                    "widgetType": "text",
                    "widgetConfig": {"markdown": "first: {{A.first}}"},
                },
            )
            connected = await sock.next("widget_workflow_connected", widgetID=widget_id)
            first = await sock.next("widget_context_update", widgetID=widget_id)
            assert first["update"]["nodeID"] == "a" and first["instanceID"] == connected["instanceID"]
            final = await sock.next("widget_workflow_status", widgetID=widget_id)
            assert final["status"] == "COMPLETED"
        await sock.close()

    run(scenario)


# --- Protocol versions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query, version, running, finished",
    [
        # A client written against the reference names no version: it gets version 2.
        ("", 2, "PENDING", "COMPLETED"),
        ("?protocol=2", 2, "PENDING", "COMPLETED"),
        # A client written to the frames before version 2 asks for version 1.
        ("?protocol=1", 1, "running", "success"),
    ],
)
def test_the_protocol_version_decides_the_statuses(user, make_workflow, worker, query, version, running, finished):
    wf = make_workflow(three_steps())

    async def scenario():
        sock = await open_socket(user, path=f"/ws/widgets/{query}")
        await sock.send("widget_workflow_connect", connect_frame(wf))
        connected = await sock.next("widget_workflow_connected", widgetID="w1")
        assert connected["protocol"] == version and connected["status"] == running
        await db(worker.run_until_idle)()
        final = await sock.next("widget_workflow_status", widgetID="w1")
        assert final["status"] == finished and final["executionStatus"] == "success"
        await sock.close()

    run(scenario)


def test_an_unknown_protocol_version_is_answered_and_closed(user):
    async def scenario():
        sock = await open_socket(user, path="/ws/widgets/?protocol=9")
        error = (await sock.next("widget_workflow_error"))["error"]
        assert error["code"] == "INVALID_CONFIG" and error["field"] == "protocol" and "9" in error["message"]
        closed = await sock.communicator.receive_output(timeout=2)
        assert closed == {"type": "websocket.close", "code": 4400}

    run(scenario)


# --- subscribe ---------------------------------------------------------------------------------


def test_subscribe_hands_over_everything_completed_before_it(user, make_workflow, worker):
    """ASYNC over HTTP starts the execution before the socket subscribes: nothing is lost."""
    wf = make_workflow(waits_for_input())
    started = trigger_workflow(workflow_id=wf.pk, user_name=user.username, input={"q": 1})
    worker.run_until_idle()  # A ran, Wait paused: all before anyone listened

    async def scenario():
        sock = await open_socket(user)
        await sock.send(
            "widget_workflow_connect",
            {
                "widgetID": "t",
                "mode": "subscribe",
                "instanceID": str(started.execution_id),
                "widgetType": "table",
                "widgetConfig": {"rows": "{{ctx.A.rows}}"},
            },
        )
        connected = await sock.next("widget_workflow_connected", widgetID="t")
        assert connected["mode"] == "subscribe" and connected["status"] == "PENDING"
        assert connected["executionStatus"] == "paused" and connected["protocol"] == 2
        assert connected["initialContext"]["A"] == {"rows": [{"x": 1, "y": 5}]}
        assert connected["processedData"]["rows"] == [[1, 5]]
        await sock.send("widget_send_input", {"widgetID": "t", "inputType": "filter", "data": {"go": True}})
        ack = await sock.next("widget_input_received", widgetID="t")
        assert ack == {
            "widgetID": "t",
            "instanceID": str(started.execution_id),
            "inputType": "filter",
            "success": True,
            "resumedNodes": ["wait"],
        }
        await db(worker.run_until_idle)()
        final = await sock.next("widget_workflow_status", widgetID="t")
        assert final["status"] == "COMPLETED"
        assert final["finalContext"]["Yes"] == {"went": True}
        assert final["finalContext"]["__widgetInput"]["data"] == {"go": True}
        assert "No" not in final["finalContext"]
        await sock.close()

    run(scenario)


def test_subscribe_to_a_finished_instance_sends_its_status_at_once(user, make_workflow, worker):
    wf = make_workflow(three_steps())
    started = trigger_workflow(workflow_id=wf.pk, user_name=user.username, input={})
    worker.run_until_idle()

    async def scenario():
        sock = await open_socket(user)
        await sock.send(
            "widget_workflow_connect",
            {
                "widgetID": "w",
                "mode": "subscribe",
                "instanceID": str(started.execution_id),
                "widgetType": "vega-lite",
                "widgetConfig": CHART,
            },
        )
        await sock.next("widget_workflow_connected", widgetID="w")
        final = await sock.next("widget_workflow_status", widgetID="w")
        assert final["status"] == "COMPLETED" and final["processedData"]["count"] == 2
        await sock.close()

    run(scenario)


# --- replay ----------------------------------------------------------------------------------------


def test_replay_sends_the_final_context_once_and_registers_nothing(user, make_workflow, worker):
    wf = make_workflow(three_steps())
    started = trigger_workflow(workflow_id=wf.pk, user_name=user.username, input={})
    worker.run_until_idle()

    async def scenario():
        sock = await open_socket(user)
        await sock.send(
            "widget_workflow_connect",
            {
                "widgetID": "r",
                "mode": "replay",
                "instanceID": str(started.execution_id),
                "widgetType": "vega-lite",
                "widgetConfig": CHART,
            },
        )
        replay = await sock.next("widget_workflow_connected", widgetID="r")
        assert replay["mode"] == "replay" and replay["status"] == "COMPLETED"
        assert replay["finalContext"]["Points"]["values"][0] == {"x": 1, "y": 1}
        assert replay["processedData"]["count"] == 2
        await sock.send(
            "widget_workflow_connect", {"widgetID": "r2", "mode": "replay", "instanceID": str(started.execution_id)}
        )
        bare = await sock.next("widget_workflow_connected", widgetID="r2")
        assert bare["processedData"] is None and bare["finalContext"]["B"] == {"n": 2}
        assert not await db(WidgetConnection.objects.exists)()
        await sock.close()

    run(scenario)


def test_replay_of_a_running_instance_is_refused(user, make_workflow):
    wf = make_workflow(three_steps())
    started = trigger_workflow(workflow_id=wf.pk, user_name=user.username, input={})

    async def scenario():
        sock = await open_socket(user)
        await sock.send(
            "widget_workflow_connect", {"widgetID": "r", "mode": "replay", "instanceID": str(started.execution_id)}
        )
        error = await sock.next("widget_workflow_error", widgetID="r")
        assert error["error"]["code"] == "NOT_FINISHED" and error["error"]["recoverable"] is True
        await sock.close()

    run(scenario)


# --- Cross-talk ---------------------------------------------------------------------------------------


def test_same_widget_in_two_tabs_on_two_executions_gets_only_its_own_updates(user, make_workflow, worker):
    wf = make_workflow(three_steps())

    async def scenario():
        tab1, tab2 = await open_socket(user), await open_socket(user)
        await tab1.send("widget_workflow_connect", connect_frame(wf, inputParams={"tab": 1}))
        await tab2.send("widget_workflow_connect", connect_frame(wf, inputParams={"tab": 2}))
        one = (await tab1.next("widget_workflow_connected"))["instanceID"]
        two = (await tab2.next("widget_workflow_connected"))["instanceID"]
        assert one != two
        await db(worker.run_until_idle)()
        for tab, mine in ((tab1, one), (tab2, two)):
            await tab.next("widget_workflow_status", widgetID="w1")
            await tab.drain()
            instances = {f["data"].get("instanceID") for f in tab.frames}
            assert instances == {mine}
            assert len(tab.events("widget_context_update")) == 2  # A and B; Points ends it
        await tab1.close()
        await tab2.close()

    run(scenario)


def test_reregistering_a_widget_on_a_new_execution_drops_the_old_mapping(user, make_workflow, worker):
    wf = make_workflow(three_steps())

    async def scenario():
        sock = await open_socket(user)
        await sock.send("widget_workflow_connect", connect_frame(wf))
        old = (await sock.next("widget_workflow_connected"))["instanceID"]
        await sock.send("widget_workflow_connect", connect_frame(wf))
        new = (await sock.next("widget_workflow_connected"))["instanceID"]
        rows = await db(lambda: list(WidgetConnection.objects.values_list("widget_id", "execution_id")))()
        assert [(w, str(e)) for w, e in rows] == [("w1", new)]
        await db(worker.run_until_idle)()
        await sock.next("widget_workflow_status", instanceID=new)
        await sock.drain()
        assert all(f["data"].get("instanceID") != old for f in sock.frames[2:])
        assert {u["instanceID"] for u in sock.events("widget_context_update")} == {new}
        await sock.close()

    run(scenario)


# --- Terminal states ----------------------------------------------------------------------------------


def test_an_error_ends_the_widget_with_status_error(user, make_workflow, worker):
    wf = make_workflow(
        chain(
            {
                "id": "loop",
                "type": "for-each",
                "label": "Loop",
                "config": {"items": "{{Trigger.missing}}", "workflowId": "00000000-0000-0000-0000-000000000000"},
            }
        )
    )

    async def scenario():
        sock = await open_socket(user)
        await sock.send("widget_workflow_connect", connect_frame(wf))
        await sock.next("widget_workflow_connected")
        await db(worker.run_until_idle)()
        final = await sock.next("widget_workflow_status", widgetID="w1")
        assert final["status"] == "FAILED" and final["executionStatus"] == "error"
        assert final["error"]["nodeId"] == "loop"
        await sock.close()

    run(scenario)


def test_a_step_that_raises_ends_the_widget_with_status_error(user, make_workflow, worker):
    from workflows.nodes import NodeType, _extra_sources, registry

    def explode(config, ctx):
        raise RuntimeError("boom")

    source = lambda: [NodeType(type="test-explode", label="Explode", run=explode)]  # noqa: E731
    _extra_sources.append(source)
    registry.reset()
    try:
        wf = make_workflow(
            chain({"id": "x", "type": "test-explode", "label": "X", "config": {}, "retry": {"maxAttempts": 1}})
        )

        async def scenario():
            sock = await open_socket(user)
            await sock.send("widget_workflow_connect", connect_frame(wf))
            await sock.next("widget_workflow_connected")
            await db(worker.run_until_idle)()
            final = await sock.next("widget_workflow_status", widgetID="w1")
            assert final["status"] == "FAILED" and "boom" in final["error"]["message"]
            await sock.close()

        run(scenario)
    finally:
        _extra_sources.remove(source)
        registry.reset()


def test_cancelling_ends_the_widget_with_status_cancelled(user, make_workflow, worker):
    wf = make_workflow(waits_for_input())

    async def scenario():
        sock = await open_socket(user)
        await sock.send("widget_workflow_connect", connect_frame(wf))
        instance = (await sock.next("widget_workflow_connected"))["instanceID"]
        await db(worker.run_until_idle)()
        await sock.next("widget_context_update", widgetID="w1")
        await db(engine.cancel_execution)(instance)
        final = await sock.next("widget_workflow_status", widgetID="w1")
        # The reference has no cancelled status: FAILED, the engine's status beside it.
        assert final["status"] == "FAILED" and final["executionStatus"] == "cancelled"
        await sock.close()

    run(scenario)


def test_a_processing_failure_gives_null_data_and_keeps_the_socket(user, make_workflow, worker):
    wf = make_workflow(three_steps())

    async def scenario():
        sock = await open_socket(user)
        await sock.send(
            "widget_workflow_connect", connect_frame(wf, widgetType="table", widgetConfig={"rows": "{{ctx.A.n}}"})
        )
        await sock.next("widget_workflow_connected")
        await db(worker.run_until_idle)()
        update = await sock.next("widget_context_update", widgetID="w1")
        assert update["update"]["processedData"] is None
        assert "rows must resolve to a list" in update["update"]["processingError"]
        assert (await sock.next("widget_workflow_status"))["status"] == "COMPLETED"
        await sock.send("widget_workflow_disconnect", {"widgetID": "w1"})
        assert (await sock.next("widget_workflow_disconnected")) == {"widgetID": "w1", "success": True}
        await sock.close()

    run(scenario)


# --- Errors and tenant checks --------------------------------------------------------------------------


def test_another_tenants_workflow_or_instance_is_not_found_like_a_missing_one(
    user, other_user, make_workflow, other_tenant, worker
):
    theirs = make_workflow(three_steps(), on_tenant=other_tenant)
    run_id = str(trigger_workflow(workflow_id=theirs.pk, user_name=other_user.username, input={}).execution_id)
    missing = str(uuid.uuid4())

    async def errors_for(workflow_id, instance_id):
        """The error frames of each event for these ids, the ids written as ID."""
        sock = await open_socket(user)
        found = []
        await sock.send("widget_workflow_connect", {"widgetID": "w0", "workflowID": workflow_id, "mode": "execute"})
        found.append((await sock.next("widget_workflow_error"))["error"])
        for mode in ("subscribe", "replay"):
            await sock.send("widget_workflow_connect", {"widgetID": "w1", "mode": mode, "instanceID": instance_id})
            found.append((await sock.next("widget_workflow_error", widgetID="w1"))["error"])
        await sock.send("workflow_run_join", {"runId": instance_id})
        found.append((await sock.next("widget_workflow_error"))["error"])
        await sock.send("widget_send_input", {"widgetID": "w1", "instanceID": instance_id, "inputType": "x", "data": 1})
        ack = await sock.next("widget_input_received")
        assert ack["success"] is False
        found.append(ack["error"])
        await sock.drain()
        assert not sock.events("workflow_node_update") and not sock.events("widget_context_update")
        await sock.close()
        return [{**e, "message": e["message"].replace(workflow_id, "ID").replace(instance_id, "ID")} for e in found]

    async def scenario():
        theirs_errors = await errors_for(str(theirs.pk), run_id)
        assert theirs_errors == await errors_for(missing, missing)
        assert {e["code"] for e in theirs_errors} == {"NOT_FOUND"}
        await db(worker.run_until_idle)()

    run(scenario)
    assert "__widgetInput" not in Execution.objects.get(pk=run_id).context


def test_a_tenant_id_that_is_not_the_workflows_is_forbidden(user, make_workflow, other_tenant):
    wf = make_workflow(three_steps())

    async def scenario():
        sock = await open_socket(user)
        await sock.send("widget_workflow_connect", connect_frame(wf, tenantID=str(other_tenant.pk)))
        assert (await sock.next("widget_workflow_error"))["error"]["code"] == "FORBIDDEN"
        await sock.close()

    run(scenario)
    assert not Execution.objects.exists()


def test_execute_without_a_workflow_id_answers_invalid_config_naming_it(user):
    async def scenario():
        sock = await open_socket(user)
        for frame in (
            {"widgetID": "w1", "mode": "execute"},
            {"widgetID": "w1"},  # execute is the default mode
            {"widgetID": "w1", "mode": "execute", "workflowID": None, "widgetType": "table"},
        ):
            await sock.send("widget_workflow_connect", frame)
            error = await sock.next("widget_workflow_error", widgetID="w1")
            assert error["error"]["code"] == "INVALID_CONFIG" and error["error"]["field"] == "workflowID"
            assert "workflowID" in error["error"]["message"]
        assert not sock.events("widget_workflow_connected")
        await sock.close()

    run(scenario)
    assert not Execution.objects.exists() and not WidgetConnection.objects.exists()


def test_deep_or_unstorable_frames_answer_an_error_naming_the_field_and_keep_the_socket(user, make_workflow):
    wf = make_workflow(three_steps())
    deep = "[" * 100_000 + "]" * 100_000

    async def scenario():
        sock = await open_socket(user)
        await sock.communicator.send_to(
            text_data='{"event": "widget_workflow_connect", "data": {"inputParams": ' + deep + "}}"
        )
        error = (await sock.next("widget_workflow_error"))["error"]
        assert error["code"] == "INVALID_CONFIG" and error["field"] == "data" and "nested deeper" in error["message"]
        await sock.communicator.send_to(
            text_data='{"event": "widget_workflow_connect", "data": {"widgetID": "w\\u0000"}}'
        )
        error = (await sock.next("widget_workflow_error"))["error"]
        assert error["field"] == "data.widgetID" and "NUL" in error["message"]
        await sock.send("widget_workflow_connect", connect_frame(wf))
        assert (await sock.next("widget_workflow_connected"))["widgetID"] == "w1"
        await sock.close()

    run(scenario)


def test_bad_requests_answer_errors_and_keep_the_socket(user, make_workflow):
    wf = make_workflow(three_steps())

    async def scenario():
        sock = await open_socket(user)
        await sock.send(
            "widget_workflow_connect",
            {"widgetID": "w1", "mode": "subscribe", "instanceID": "00000000-0000-0000-0000-000000000000"},
        )
        assert (await sock.next("widget_workflow_error"))["error"]["code"] == "NOT_FOUND"
        await sock.send("widget_workflow_connect", {"widgetID": "w1", "mode": "teleport"})
        error = (await sock.next("widget_workflow_error"))["error"]
        assert error["code"] == "INVALID_CONFIG" and error["field"] == "mode"
        await sock.send("widget_workflow_connect", {"widgetID": "w1", "mode": "subscribe"})
        assert (await sock.next("widget_workflow_error"))["error"]["field"] == "instanceID"
        await sock.send("widget_workflow_connect", {"mode": "execute", "workflowID": str(wf.pk)})
        assert (await sock.next("widget_workflow_error"))["error"]["field"] == "widgetID"
        await sock.send("widget_workflow_connect", {"widgetID": "w1", "mode": "execute", "workflowID": "nope"})
        assert (await sock.next("widget_workflow_error"))["error"]["code"] == "NOT_FOUND"
        await sock.send("widget_teleport", {})
        assert (await sock.next("widget_workflow_error"))["error"]["field"] == "event"
        await sock.communicator.send_to(text_data="not json")
        assert (await sock.next("widget_workflow_error"))["error"]["code"] == "INVALID_CONFIG"
        await sock.communicator.send_to(bytes_data=b'{"event": "widget_workflow_connect"}')
        assert (await sock.next("widget_workflow_error"))["error"]["field"] == "frame"
        await sock.send("widget_workflow_disconnect", {"widgetID": "never"})
        assert (await sock.next("widget_workflow_disconnected")) == {"widgetID": "never", "success": False}
        await sock.send("widget_workflow_connect", connect_frame(wf))
        assert (await sock.next("widget_workflow_connected"))["widgetID"] == "w1"
        await sock.close()

    run(scenario)


# --- Input, refresh, disconnect, raw stream ------------------------------------------------------------


def test_send_input_racing_node_completions_loses_nothing(user, make_workflow, worker_thread):
    """Inputs written while a live worker completes nodes: the compare-and-swap keeps both."""
    nodes = [{"id": f"n{i}", "type": "set", "label": f"N{i}", "config": {"values": {"i": i}}} for i in range(6)]
    wait = {"id": "wait", "type": "widget-input", "label": "Wait", "config": {}}
    definition = {
        "nodes": [{"id": "trigger", "type": "trigger", "label": "Trigger", "config": {}}, *nodes, wait],
        "edges": [*({"source": "trigger", "target": n["id"]} for n in nodes), {"source": "trigger", "target": "wait"}],
    }
    wf = make_workflow(definition)
    worker_thread()

    async def scenario():
        sock = await open_socket(user)
        await sock.send(
            "widget_workflow_connect",
            connect_frame(wf, widgetType="metric", widgetConfig={"value": "{{ctx.__widgetInput.data}}"}),
        )
        await sock.next("widget_workflow_connected")
        # Inputs race the completions; the node takes the first input after it started
        # (while pausing, or resumed by a later input): keep sending until it has one.
        sent = []
        for i in range(200):
            await sock.send("widget_send_input", {"widgetID": "w1", "inputType": "tick", "data": i})
            ack = await sock.next("widget_input_received")
            if not ack["success"]:
                assert ack["error"]["code"] == "INSTANCE_FINISHED"
                break
            sent.append(i)
            if ack["resumedNodes"] == ["wait"]:
                break
        final = await sock.next("widget_workflow_status", widgetID="w1", timeout=20)
        assert final["status"] == "COMPLETED"
        context = final["finalContext"]
        assert all(context[f"N{i}"] == {"i": i} for i in range(6))
        assert context["__widgetInput"]["inputType"] == "tick"
        assert context["Wait"]["inputType"] == "tick"
        assert context["__widgetInput"]["data"] == sent[-1]
        assert context["Wait"]["data"] in sent
        assert final["processedData"]["value"] == sent[-1]
        await sock.close()

    run(scenario)


def test_widget_input_reaches_every_widget_of_the_paused_instance_at_once(user, make_workflow, worker):
    """No node completes to carry the input: the write itself is published to the instance."""
    wf = make_workflow(waits_for_input())
    started = trigger_workflow(workflow_id=wf.pk, user_name=user.username, input={})
    worker.run_until_idle()  # A ran, Wait paused for a "filter" input
    instance = str(started.execution_id)
    metric = {"widgetType": "metric", "widgetConfig": {"value": "{{ctx.__widgetInput.data.n}}"}}

    async def scenario():
        sender, watcher = await open_socket(user), await open_socket(user)
        for sock, widget_id in ((sender, "form"), (watcher, "board")):
            await sock.send(
                "widget_workflow_connect",
                {"widgetID": widget_id, "mode": "subscribe", "instanceID": instance, **metric},
            )
            assert (await sock.next("widget_workflow_connected", widgetID=widget_id))["executionStatus"] == "paused"
        # Not the awaited type: nothing resumes, so no node update will follow.
        await sender.send("widget_send_input", {"widgetID": "form", "inputType": "note", "data": {"n": 7}})
        ack = await sender.next("widget_input_received", widgetID="form")
        assert ack["success"] is True and ack["resumedNodes"] == []
        for sock, widget_id in ((sender, "form"), (watcher, "board")):
            update = (await sock.next("widget_context_update", widgetID=widget_id, timeout=5))["update"]
            assert list(update["contextDiff"]) == ["__widgetInput"]
            assert update["contextDiff"]["__widgetInput"]["data"] == {"n": 7}
            assert update["contextDiff"]["__widgetInput"]["inputType"] == "note"
            assert update["processedData"]["value"] == 7 and update["nodeID"] is None
        await sender.close()
        await watcher.close()

    run(scenario)
    assert Execution.objects.get(pk=instance).status == "paused"


def test_a_quiet_socket_keeps_its_registration_through_a_long_pause(user, make_workflow, worker, settings):
    """Hours pass with no frame either way (the rows' clock is moved back two hours): the
    process's heartbeat keeps the open socket's row; the row a crashed server left behind is
    cleaned up."""
    import asyncio
    from datetime import timedelta

    from django.utils import timezone

    from widgets import registry

    settings.WIDGET_STALE_SECONDS = 0.8  # the heartbeat beats every 0.2 s
    wf = make_workflow(waits_for_input())
    started = trigger_workflow(workflow_id=wf.pk, user_name=user.username, input={})
    worker.run_until_idle()  # paused at Wait until input comes
    execution = Execution.objects.get(pk=started.execution_id)
    # Left behind by a server that crashed (a socket that closes takes its rows with it).
    registry.register(
        channel_name="specific.gone!1", widget_id="gone", execution=execution, user=user, mode="subscribe"
    )
    WidgetConnection.objects.filter(widget_id="gone").update(server="crashed-host:1")

    async def scenario():
        sock = await open_socket(user)
        await sock.send(
            "widget_workflow_connect", {"widgetID": "quiet", "mode": "subscribe", "instanceID": str(execution.pk)}
        )
        await sock.next("widget_workflow_connected", widgetID="quiet")
        hours_ago = timezone.now() - timedelta(hours=2)
        await db(WidgetConnection.objects.update)(last_seen_at=hours_ago)
        await asyncio.sleep(0.7)
        assert await sock.communicator.receive_nothing(timeout=0.1)  # quiet all along
        assert await db(registry.cleanup_stale)(max_age_seconds=3600) == 1
        assert await db(registry.widgets_for_instance)(execution.pk, tenant_ids=None) == ["quiet"]
        await sock.close()

    run(scenario)
    assert not WidgetConnection.objects.exists()


def test_each_event_loop_keeps_its_own_heartbeat():
    """A socket that closes on one loop cancels that loop's heartbeat only, never a task of
    another loop (another thread); a loop that ends takes its count with it."""
    import asyncio
    import threading

    from widgets.consumers import HEARTBEAT

    a_ready, b_done = threading.Event(), threading.Event()
    seen = {}

    async def loop_a():
        HEARTBEAT.opened()
        HEARTBEAT.opened()
        task = HEARTBEAT.loops[asyncio.get_running_loop()][1]
        a_ready.set()
        while not b_done.is_set():
            await asyncio.sleep(0.01)
        seen["a after b closed"] = (HEARTBEAT.sockets(), task.done())
        # ends with both sockets open, as a server that stops

    thread = threading.Thread(target=asyncio.run, args=(loop_a(),))
    thread.start()
    assert a_ready.wait(5)

    async def loop_b():
        HEARTBEAT.opened()
        task = HEARTBEAT.loops[asyncio.get_running_loop()][1]
        seen["both open"] = HEARTBEAT.sockets()
        HEARTBEAT.closed()
        await asyncio.sleep(0)
        return task

    b_task = asyncio.run(loop_b())
    b_done.set()
    thread.join(5)
    assert seen == {"both open": 3, "a after b closed": (2, False)}
    assert b_task.cancelled()
    assert HEARTBEAT.sockets() == 0 and not HEARTBEAT.loops


def test_only_the_awaited_input_type_resumes_the_node(user, make_workflow, worker):
    from widgets import services

    wf = make_workflow(waits_for_input())
    started = trigger_workflow(workflow_id=wf.pk, user_name=user.username, input={})
    worker.run_until_idle()  # A runs and Wait pauses
    assert NodeRun.objects.get(execution_id=started.execution_id, node_id="wait").status == "paused"
    result = services.send_input(
        user=user, instance_id=started.execution_id, widget_id="w", input_type="other", data={}
    )
    assert result["resumedNodes"] == []
    result = services.send_input(
        user=user, instance_id=started.execution_id, widget_id="w", input_type="filter", data={"go": False}
    )
    assert result["resumedNodes"] == ["wait"]
    worker.run_until_idle()
    execution = Execution.objects.get(pk=started.execution_id)
    assert execution.status == "success" and execution.context["No"] == {"went": False}


def test_input_that_arrives_between_start_and_pause_is_taken_at_once(user, make_workflow):
    """The node saw no input when it started; one written before its pause commits is used."""
    from django.db import transaction

    from widgets.nodes import run_widget_input
    from workflows.nodes import StepContext, StepLogger

    wf = make_workflow(waits_for_input())
    started = trigger_workflow(workflow_id=wf.pk, user_name=user.username, input={})
    run_row = NodeRun.objects.get(execution_id=started.execution_id, node_id="wait")
    ctx = StepContext(
        execution_id=started.execution_id,
        node_id="wait",
        node_run_id=run_row.pk,
        label="Wait",
        attempt=1,
        tenant_id=wf.tenant_id,
        workflow_id=wf.pk,
        run_as_id=user.pk,
        context={"Trigger": {}},
        logger=StepLogger("Wait"),
    )
    pause = run_widget_input({"inputType": "filter"}, ctx)
    with transaction.atomic():
        assert pause.persist(run_row) is None  # nothing new yet: it pauses
    engine.write_context(started.execution_id, "__widgetInput", {"id": "x1", "inputType": "other", "data": 1})
    with transaction.atomic():
        assert pause.persist(run_row) is None  # another input type does not count
    engine.write_context(started.execution_id, "__widgetInput", {"id": "x2", "inputType": "filter", "data": 2})
    with transaction.atomic():
        assert pause.persist(run_row)["data"] == 2


def test_refresh_starts_a_new_execution_for_the_widget(user, make_workflow, worker):
    wf = make_workflow(three_steps())

    async def scenario():
        sock = await open_socket(user)
        await sock.send("widget_workflow_connect", connect_frame(wf))
        first = await sock.next("widget_workflow_connected")
        await sock.send("widget_refresh", {"widgetID": "w1", "inputParams": {"k": "again"}})
        second = await sock.next("widget_workflow_connected", mode="refresh")
        assert second["instanceID"] != first["instanceID"]
        assert second["initialContext"]["Trigger"] == {"k": "again"}
        await db(worker.run_until_idle)()
        final = await sock.next("widget_workflow_status")
        assert final["instanceID"] == second["instanceID"]
        await sock.send("widget_refresh", {"widgetID": "unknown"})
        assert (await sock.next("widget_workflow_error"))["error"]["field"] == "workflowID"
        await sock.close()

    run(scenario)


def test_disconnected_widget_gets_no_more_updates(user, make_workflow, worker):
    wf = make_workflow(three_steps())

    async def scenario():
        sock = await open_socket(user)
        await sock.send("widget_workflow_connect", connect_frame(wf))
        await sock.next("widget_workflow_connected")
        await sock.send("widget_workflow_disconnect", {"widgetID": "w1"})
        assert (await sock.next("widget_workflow_disconnected"))["success"] is True
        assert not await db(WidgetConnection.objects.exists)()
        await db(worker.run_until_idle)()
        await sock.drain()
        events = [f["event"] for f in sock.frames]
        assert events[events.index("widget_workflow_disconnected") + 1 :] == []
        assert "widget_context_update" not in events
        await sock.close()

    run(scenario)


def test_run_join_streams_raw_node_and_status_updates(user, make_workflow, worker):
    wf = make_workflow(three_steps())
    started = trigger_workflow(workflow_id=wf.pk, user_name=user.username, input={"x": 1})

    async def scenario():
        sock = await open_socket(user)
        await sock.send("workflow_run_join", {"runId": str(started.execution_id)})
        snapshot = await sock.next("workflow_status_update")
        assert snapshot["status"] == "running" and snapshot["contextData"]["Trigger"] == {"x": 1}
        await db(worker.run_until_idle)()
        node = await sock.next("workflow_node_update", nodeID="a")
        assert node["instanceID"] == str(started.execution_id) and node["output"] == {"n": 1}
        final = await sock.next("workflow_status_update", status="success")
        assert final["contextData"]["B"] == {"n": 2}
        assert not sock.events("widget_context_update")
        await sock.close()

    run(scenario)


def test_an_execution_that_ends_at_once_still_ends_the_widget(user, make_workflow):
    wf = make_workflow({"nodes": [{"id": "trigger", "type": "trigger", "label": "Trigger", "config": {}}], "edges": []})

    async def scenario():
        sock = await open_socket(user)
        await sock.send(
            "widget_workflow_connect",
            connect_frame(wf, widgetType="text", widgetConfig={"markdown": "k={{ctx.Trigger.k}}"}),
        )
        await sock.next("widget_workflow_connected")
        final = await sock.next("widget_workflow_status", widgetID="w1")
        assert final["status"] == "COMPLETED" and final["processedData"]["html"] == "<p>k=v</p>"
        await sock.close()

    run(scenario)


def broken_check(*, version, user):
    raise RuntimeError("the check's own bug")


def test_unexpected_failures_answer_connection_failed_and_inactive_workflows_invalid_state(
    user, make_workflow, settings
):
    wf = make_workflow(three_steps())
    inactive = make_workflow(three_steps(), name="Off", is_active=False)
    settings.WORKFLOW_TRIGGER_CHECKS = ["tests.widgets.test_consumers.broken_check"]

    async def scenario():
        sock = await open_socket(user)
        await sock.send("widget_workflow_connect", connect_frame(wf))
        error = (await sock.next("widget_workflow_error"))["error"]
        assert error["code"] == "CONNECTION_FAILED" and error["recoverable"] is False
        assert "bug" not in error["message"]  # internals stay in the server log
        await sock.send("widget_workflow_connect", connect_frame(inactive))
        assert (await sock.next("widget_workflow_error"))["error"]["code"] == "INVALID_STATE"
        assert not await db(WidgetConnection.objects.exists)()
        await sock.close()

    run(scenario)
    assert not Execution.objects.exists()


def test_run_leave_stops_the_raw_stream(user, make_workflow, worker):
    wf = make_workflow(three_steps())
    started = trigger_workflow(workflow_id=wf.pk, user_name=user.username, input={})

    async def scenario():
        sock = await open_socket(user)
        await sock.send("workflow_run_join", {"runId": str(started.execution_id)})
        await sock.next("workflow_status_update")
        await sock.send("workflow_run_leave", {"runId": str(started.execution_id)})
        await sock.drain()
        await db(worker.run_until_idle)()
        await sock.drain()
        assert not sock.events("workflow_node_update")
        await sock.close()

    run(scenario)
