"""Fan-out: one frame per widget per step, the context merged and processed once per process."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from tests.widgets.conftest import open_socket, run, three_steps
from widgets import fanout, processing
from widgets.processing import Processed
from widgets.services import WidgetSpec
from workflows.services import trigger_workflow

CALLS: list[dict] = []


def counting(config, context):
    """A widget processor that counts its calls (registered through WIDGET_PROCESSORS)."""
    CALLS.append(context)
    return {"labels": sorted(k for k in context if not k.startswith("__"))}


def update(execution_id: str, update_id: str, *nodes: dict, status: dict | None = None) -> dict:
    return {
        "type": "execution.update",
        "executionId": execution_id,
        "updateId": update_id,
        "nodes": list(nodes),
        "status": status,
    }


def node(label: str, status: str = "success", output=None, error=None) -> dict:
    return {
        "type": "node.update",
        "nodeId": label.lower(),
        "label": label,
        "status": status,
        "output": output,
        "error": error,
    }


@pytest.fixture
def watched():
    fanout.watch("x", {"Trigger": {}})
    fanout.watch("x", {"ignored": "the first socket's context seeds the process's copy"})
    yield "x"
    fanout.unwatch("x")
    fanout.unwatch("x")


def test_an_update_is_merged_once_however_many_sockets_handle_it(watched):
    first = fanout.apply(update("x", "u1", node("A", "running"), node("A", output={"n": 1})))
    again = fanout.apply(update("x", "u1", node("A", "running"), node("A", output={"n": 1})))
    assert again is first
    assert first.diff == {"A": {"n": 1}} and first.node["label"] == "A"
    assert fanout.context("x") == {"Trigger": {}, "A": {"n": 1}}
    failed = fanout.apply(update("x", "u2", node("B", "error", error={"message": "boom"})))
    assert failed.diff == {"B": {"error": "boom"}} and failed.revision == first.revision + 1


def test_an_update_that_completes_nothing_changes_no_revision(watched):
    before = fanout.apply(update("x", "u1", node("A", output=1))).revision
    quiet = fanout.apply(update("x", "u2", node("B", "running")))
    assert quiet.diff == {} and quiet.revision == before


def test_a_status_with_the_context_replaces_the_process_copy(watched):
    fanout.apply(update("x", "u1", node("A", output=1)))
    fanout.apply(update("x", "u2", status={"status": "success", "context": {"Trigger": {}, "A": 2}}))
    assert fanout.context("x") == {"Trigger": {}, "A": 2}


def test_the_last_socket_to_leave_drops_the_context():
    fanout.watch("y", {"a": 1})
    fanout.watch("y", {})
    fanout.unwatch("y")
    assert fanout.context("y") == {"a": 1}
    fanout.unwatch("y")
    assert fanout.context("y") == {} and fanout.apply(update("y", "u", node("A", output=1))) is None


def test_widgets_configured_alike_share_processed_data_per_revision(watched):
    calls = []

    class Spec(WidgetSpec):
        def process(self, context):
            calls.append(dict(context))
            return Processed(len(context))

    one, two = (
        Spec(widget_id="1", widget_type="t", widget_config={"a": 1}),
        Spec(widget_id="2", widget_type="t", widget_config={"a": 1}),
    )
    other = Spec(widget_id="3", widget_type="t", widget_config={"a": 2})
    assert fanout.spec_key(one) == fanout.spec_key(two) != fanout.spec_key(other)
    fanout.apply(update("x", "u1", node("A", output=1)))
    results = [fanout.processed("x", spec, fanout.spec_key(spec)) for spec in (one, two, other, one)]
    assert [r.data for r in results] == [2, 2, 2, 2] and len(calls) == 2
    fanout.apply(update("x", "u2", node("B", output=1)))
    assert fanout.processed("x", two, fanout.spec_key(two)).data == 3 and len(calls) == 3


@pytest.mark.django_db(transaction=True)
def test_many_sockets_get_one_frame_per_step_and_the_process_works_once(user, make_workflow, worker, settings):
    """Five sockets on one process subscribe to one execution: each gets one frame per step,
    and the widget's processor runs once per step for all of them."""
    settings.WIDGET_PROCESSORS = {"counting": "tests.widgets.test_fanout.counting"}
    processing.processors.cache_clear()
    CALLS.clear()
    wf = make_workflow(three_steps())
    started = trigger_workflow(workflow_id=wf.pk, user_name=user.username, input={})
    frame = {"mode": "subscribe", "instanceID": str(started.execution_id), "widgetType": "counting", "widgetConfig": {}}

    async def scenario():
        sockets = [await open_socket(user) for _ in range(5)]
        for i, sock in enumerate(sockets):
            await sock.send("widget_workflow_connect", {**frame, "widgetID": f"w{i}"})
            await sock.next("widget_workflow_connected", widgetID=f"w{i}")
        assert fanout.watched_count() == 1
        connect_calls = len(CALLS)
        await database_sync_to_async(worker.run_until_idle)()
        for i, sock in enumerate(sockets):
            final = await sock.next("widget_workflow_status", widgetID=f"w{i}")
            assert final["status"] == "COMPLETED"
            assert final["processedData"]["labels"] == ["A", "B", "Points", "Trigger"]
            await sock.drain()
            events = [f["event"] for f in sock.frames]
            # Three steps: A and B as context updates, Points as the final status.
            assert events.count("widget_context_update") == 2 and events.count("widget_workflow_status") == 1
            assert "workflow_node_update" not in events
            diffs = [u["update"]["contextDiff"] for u in sock.events("widget_context_update")]
            assert [list(d) for d in diffs] == [["A"], ["B"]]
        # Connecting processed once per socket; each step once for all five sockets.
        assert len(CALLS) - connect_calls == 3
        for sock in sockets:
            await sock.close()
        assert fanout.watched_count() == 0

    try:
        run(scenario)
    finally:
        processing.processors.cache_clear()
