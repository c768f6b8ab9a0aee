"""WidgetRun (widget-run.js) in headless Chromium against a real daphne server: its states
through a run, FAILED and ERROR, when it connects and when it must not, input, cleanup, Stop.

Each test imports the module into a page of the site, gives it its own WidgetSocket and
records every frame the client sends and receives and every state it reports."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.conftest import chain
from tests.widgets.conftest import waits_for_input
from widgets.models import WidgetConnection
from workflows.models import Execution
from workflows.services import trigger_workflow

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

# window.harness(options): a WidgetRun on a socket of its own, with everything recorded in
# window.sent (frames emitted), window.received (frames that arrived) and window.states
# (the snapshot of every change event). window.holdDisconnect keeps disconnect frames back,
# as if still on their way.
HARNESS = """async (options) => {
  const { WidgetRun, WidgetSocket } = await import("/static/widgets/widget-run.js");
  const socket = new WidgetSocket(undefined, { minDelay: 100, maxDelay: 400 });
  window.sent = []; window.received = []; window.states = []; window.held = []; window.opens = 0;
  window.holdDisconnect = false;
  const emit = socket.emit.bind(socket);
  socket.emit = (event, data) => {
    if (event === "widget_workflow_disconnect" && window.holdDisconnect) { window.held.push(data); return true; }
    window.sent.push({ event, data });
    return emit(event, data);
  };
  socket.addEventListener("frame", (e) => window.received.push(e.detail));
  socket.addEventListener("open", () => { window.opens += 1; });
  await new Promise((resolve) => socket.state === "connected" ? resolve()
    : socket.addEventListener("open", resolve, { once: true }));
  const run = new WidgetRun({ ...options, socket });
  run.addEventListener("change", (e) => window.states.push({ ...e.detail, logs: e.detail.logs.length }));
  window.socket = socket;
  window.run = run;
  return run.widgetID;
}"""

SENT = "(event) => window.sent.filter((f) => f.event === event).map((f) => f.data)"
RECEIVED = "(event) => window.received.filter((f) => f.event === event).map((f) => f.data)"
STATE = (
    "() => { const s = window.run.snapshot(); return { ...s, logs: s.logs.map((l) => `${l.label}: ${l.message}`) }; }"
)

# Drop the socket from the client side: WidgetSocket reconnects, and each WidgetRun that
# should be connected subscribes again.
RECONNECT = """async () => {
  const before = window.opens;
  window.socket.ws.close();
  const deadline = Date.now() + 10000;
  while (window.opens === before) {
    if (Date.now() > deadline) throw new Error("no reconnection");
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 500));  // time for a subscription to go out and be answered
}"""


def slow_chain(pause: str = "1s", steps: int = 3) -> dict:
    """Trigger -> S1 -> sleep -> S2 -> sleep -> S3: a run that lasts a few seconds."""
    nodes = []
    for i in range(1, steps + 1):
        if i > 1:
            nodes.append({"id": f"p{i}", "type": "sleep", "label": f"Pause {i}", "config": {"duration": pause}})
        nodes.append({"id": f"s{i}", "type": "set", "label": f"S{i}", "config": {"values": {"n": i}}})
    return chain(*nodes)


METRIC = {"widgetType": "metric", "widgetConfig": {"value": "{{ctx.S1.n}}", "label": "n"}}


def open_run(page, server_url: str, **options) -> str:
    page.goto(server_url + "/widgets/")
    return page.evaluate(HARNESS, {"executionMode": "ASYNC", **options})


def state(page) -> dict:
    return page.evaluate(STATE)


def wait_status(page, status: str, timeout: float = 30_000) -> None:
    page.wait_for_function(f"() => window.run.workflowStatus === {status!r}", timeout=timeout)


def wait_finished(execution_id, timeout: float = 30.0) -> Execution:
    deadline = time.monotonic() + timeout
    while True:
        execution = Execution.objects.get(pk=execution_id)
        if execution.is_finished:
            return execution
        assert time.monotonic() < deadline, execution.status
        time.sleep(0.1)


def test_a_preview_run_is_loading_then_running_and_live_then_completed_and_leaves(
    daphne_server, logged_in_page, user, make_workflow
):
    wf = make_workflow(slow_chain())
    page = logged_in_page(user)
    widget_id = open_run(page, daphne_server.url, widgetID=None, workflowID=str(wf.pk), **METRIC)
    assert widget_id.startswith("preview-") and len(widget_id) > len("preview-")
    page.evaluate("() => { window.run.runWidget(); }")
    wait_status(page, "COMPLETED")
    states = page.evaluate("window.states")
    # Fetching: loading and running, not live yet.
    assert states[0]["isLoading"] and states[0]["isRunning"] and not states[0]["isLive"]
    assert states[0]["workflowStatus"] == "LOADING"
    # Subscribed while the execution runs: running and live, no longer loading.
    live = [s for s in states if s["isLive"]]
    assert live and all(s["isRunning"] and not s["isLoading"] and s["workflowStatus"] == "PENDING" for s in live)
    assert any(s["data"] and s["data"]["value"] == 1 for s in live)  # data arrived while live
    end = state(page)
    assert not end["isRunning"] and not end["isLive"] and not end["isLoading"]
    assert end["executionStatus"] == "success" and end["context"]["S3"] == {"n": 3} and end["data"]["value"] == 1
    assert not end["shouldConnect"]
    assert "Workflow: Finished: COMPLETED" in end["logs"]
    # The preview id is the widget's id on the wire, and the run leaves the server at the end.
    (connect,) = page.evaluate(SENT, "widget_workflow_connect")
    assert connect["widgetID"] == widget_id and connect["mode"] == "subscribe"
    assert page.evaluate(RECEIVED, "widget_workflow_status")[0]["status"] == "COMPLETED"
    page.wait_for_function("() => window.received.some((f) => f.event === 'widget_workflow_disconnected')")
    assert page.evaluate(SENT, "widget_workflow_disconnect") == [{"widgetID": widget_id}]
    assert page.evaluate(RECEIVED, "widget_workflow_disconnected") == [{"widgetID": widget_id, "success": True}]
    assert not WidgetConnection.objects.filter(widget_id=widget_id).exists()


def test_a_failed_run_ends_failed_and_does_not_connect_again(daphne_server, logged_in_page, user, make_workflow):
    wf = make_workflow(
        chain(
            {"id": "s1", "type": "set", "label": "S1", "config": {"values": {"n": 1}}},
            {
                "id": "loop",
                "type": "for-each",
                "label": "Loop",
                "config": {"items": "{{Trigger.missing}}", "workflowId": "00000000-0000-0000-0000-000000000000"},
            },
        )
    )
    page = logged_in_page(user)
    open_run(page, daphne_server.url, widgetID="fails", workflowID=str(wf.pk), **METRIC)
    page.evaluate("() => { window.run.runWidget(); }")
    wait_status(page, "FAILED")
    end = state(page)
    assert end["executionStatus"] == "error" and not end["isRunning"] and not end["shouldConnect"]
    assert any(line.startswith("Workflow: Finished: FAILED: ") for line in end["logs"])
    assert end["data"]["value"] == 1  # the data it had stays
    page.evaluate(RECONNECT)
    assert len(page.evaluate(SENT, "widget_workflow_connect")) == 1  # a finished run is not resubscribed
    assert state(page)["workflowStatus"] == "FAILED"


def test_a_completed_run_attached_later_is_not_connected_again(daphne_server, logged_in_page, user, make_workflow):
    wf = make_workflow(slow_chain(pause="0s", steps=1))
    started = trigger_workflow(workflow_id=wf.pk, user_name=user.username, input={})
    wait_finished(started.execution_id)
    page = logged_in_page(user)
    open_run(page, daphne_server.url, widgetID="late", workflowID=str(wf.pk), **METRIC)
    page.evaluate(f"() => window.run.attach({str(started.execution_id)!r})")
    wait_status(page, "COMPLETED")
    assert state(page)["data"]["value"] == 1
    page.evaluate(RECONNECT)
    assert len(page.evaluate(SENT, "widget_workflow_connect")) == 1


def test_errors_end_in_error_without_a_connection(daphne_server, logged_in_page, user, make_workflow):
    page = logged_in_page(user)
    # No workflowID for a preview widget: the server refuses the run, nothing to connect to.
    open_run(page, daphne_server.url, widgetID=None, workflowID=None, **METRIC)
    page.evaluate("() => window.run.runWidget()")
    first = state(page)
    assert first["workflowStatus"] == "ERROR" and first["instanceID"] is None and not first["shouldConnect"]
    assert any("workflowID" in line for line in first["logs"])
    assert not first["isRunning"] and not first["isLoading"]
    assert page.evaluate(SENT, "widget_workflow_connect") == []
    # A socket error that cannot be retried (an instance that is not there) ends it in ERROR.
    missing = str(uuid.uuid4())
    page.evaluate(f"() => window.run.attach({missing!r})")
    wait_status(page, "ERROR")
    error = page.evaluate(RECEIVED, "widget_workflow_error")[0]["error"]
    assert error["code"] == "NOT_FOUND" and error["recoverable"] is False
    second = state(page)
    assert not second["isLive"] and not second["shouldConnect"] and not second["isRunning"]
    page.evaluate(RECONNECT)
    assert len(page.evaluate(SENT, "widget_workflow_connect")) == 1


def test_send_input_reaches_the_paused_run_at_once_and_resumes_it(daphne_server, logged_in_page, user, make_workflow):
    wf = make_workflow(waits_for_input())
    page = logged_in_page(user)
    open_run(
        page,
        daphne_server.url,
        widgetID="form",
        workflowID=str(wf.pk),
        widgetType="metric",
        widgetConfig={"value": "{{ctx.__widgetInput.data.value}}"},
    )
    page.evaluate("() => { window.run.runWidget(); }")
    page.wait_for_function(
        """() => window.run.executionStatus === 'paused'
          || window.received.some((f) => f.event === 'workflow_status_update' && f.data.status === 'paused')""",
        timeout=30_000,
    )
    assert page.evaluate("() => window.run.sendInput('note', { value: 5 })") is True
    page.wait_for_function("() => window.run.data && window.run.data.value === 5", timeout=10_000)
    paused = state(page)
    assert paused["workflowStatus"] == "PENDING" and paused["isLive"]
    assert paused["context"]["__widgetInput"]["inputType"] == "note" and "Widget: Input note received" in paused["logs"]
    assert "Widget: Context: __widgetInput" in paused["logs"]
    (sent,) = page.evaluate(SENT, "widget_send_input")
    assert sent["widgetID"] == "form" and sent["instanceID"] == paused["instanceID"] and sent["data"] == {"value": 5}
    assert Execution.objects.get(pk=paused["instanceID"]).status == "paused"
    assert page.evaluate("() => window.run.sendInput('filter', { go: true, value: 6 })") is True
    wait_status(page, "COMPLETED")
    end = state(page)
    assert end["context"]["Yes"] == {"went": True} and end["data"]["value"] == 6


def test_close_mid_run_leaves_the_server_and_hears_nothing_more(daphne_server, logged_in_page, user, make_workflow):
    wf = make_workflow(slow_chain())
    page = logged_in_page(user)
    open_run(page, daphne_server.url, widgetID="closing", workflowID=str(wf.pk), **METRIC)
    page.evaluate("() => { window.run.runWidget(); }")
    page.wait_for_function("() => window.run.isLive && window.run.data !== null", timeout=30_000)
    instance = state(page)["instanceID"]
    assert WidgetConnection.objects.filter(widget_id="closing", execution_id=instance).exists()
    page.evaluate("() => window.run.close()")
    page.wait_for_function("() => window.received.some((f) => f.event === 'widget_workflow_disconnected')")
    assert page.evaluate(SENT, "widget_workflow_disconnect") == [{"widgetID": "closing"}]
    assert page.evaluate(RECEIVED, "widget_workflow_disconnected") == [{"widgetID": "closing", "success": True}]
    assert not WidgetConnection.objects.filter(widget_id="closing").exists()
    changes = len(page.evaluate("window.states"))
    assert wait_finished(instance).status == "success"
    time.sleep(0.5)
    assert len(page.evaluate("window.states")) == changes
    assert not page.evaluate(RECEIVED, "widget_workflow_status")


def test_after_stop_late_frames_of_the_run_change_nothing(daphne_server, logged_in_page, user, make_workflow):
    wf = make_workflow(slow_chain(pause="2s", steps=4))  # time enough for frames after the stop
    page = logged_in_page(user)
    open_run(page, daphne_server.url, widgetID="stopping", workflowID=str(wf.pk), **METRIC)
    page.evaluate("() => { window.run.runWidget(); }")
    page.wait_for_function("() => window.run.isLive && window.run.data !== null", timeout=30_000)
    # While it runs, a dropped socket is followed by a new subscription (it should connect).
    page.evaluate(RECONNECT)
    assert len(page.evaluate(SENT, "widget_workflow_connect")) == 2
    page.wait_for_function("() => window.run.isLive")
    # Stop while the disconnect is still on its way: the server goes on sending this run.
    page.evaluate("() => { window.holdDisconnect = true; window.run.stop(); }")
    stopped = state(page)
    assert page.evaluate("window.held") == [{"widgetID": "stopping"}]
    assert stopped["stopped"] and not stopped["isRunning"] and not stopped["shouldConnect"] and not stopped["isLive"]
    assert stopped["workflowStatus"] is None and stopped["data"]["value"] == 1
    received = len(page.evaluate("window.received"))
    changes = len(page.evaluate("window.states"))
    instance = stopped["instanceID"]
    assert wait_finished(instance).status == "success"
    page.wait_for_function("() => window.received.some((f) => f.event === 'widget_workflow_status')", timeout=10_000)
    late = page.evaluate("window.received")[received:]
    assert {f["event"] for f in late} >= {"widget_context_update", "widget_workflow_status"}
    assert all(f["data"].get("instanceID") == instance for f in late if f["event"].startswith("widget_"))
    assert state(page) == stopped  # nothing changed: not the data, context, status or logs
    assert len(page.evaluate("window.states")) == changes
    # A stopped run is not subscribed again when the socket comes back.
    page.evaluate(RECONNECT)
    assert len(page.evaluate(SENT, "widget_workflow_connect")) == 2


def test_sync_runs_and_runs_without_a_socket_never_connect(daphne_server, logged_in_page, user, make_workflow):
    wf = make_workflow(slow_chain(pause="0s", steps=2))
    page = logged_in_page(user)
    open_run(page, daphne_server.url, widgetID="once", workflowID=str(wf.pk), executionMode="SYNC", **METRIC)
    page.evaluate("() => window.run.runWidget()")
    synced = state(page)
    assert synced["workflowStatus"] == "COMPLETED" and synced["executionStatus"] == "success"
    assert synced["data"]["value"] == 1 and synced["context"]["S2"] == {"n": 2} and not synced["isRunning"]
    # ASYNC without a socket: the run starts, nothing subscribes to it.
    alone = page.evaluate(
        """async (options) => {
          const { WidgetRun } = await import("/static/widgets/widget-run.js");
          const run = new WidgetRun({ ...options, socket: null });
          await run.runWidget();
          return { ...run.snapshot(), logs: run.logs.length };
        }""",
        {"widgetID": "alone", "workflowID": str(wf.pk), "executionMode": "ASYNC", **METRIC},
    )
    assert alone["instanceID"] and alone["workflowStatus"] == "PENDING" and not alone["shouldConnect"]
    assert not alone["isLive"] and alone["connectionState"] == "disconnected"
    assert page.evaluate(SENT, "widget_workflow_connect") == []
    assert wait_finished(alone["instanceID"]).status == "success"
