"""Two daphne processes (each with its embedded worker) behind one Redis channel layer:
every update reaches every widget, whichever process runs the node or holds the socket."""

from __future__ import annotations

import json
import time

import pytest
from rest_framework.authtoken.models import Token

import tests.conftest as shared
from tests.widgets.conftest import CHART, waits_for_input
from workflows.models import Execution

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


class Client:
    """A websocket client in this process talking to one server (the `websockets` library)."""

    def __init__(self, server, token: str):
        from websockets.sync.client import connect

        self.ws = connect(f"{server.ws_url}/ws/widgets/?token={token}", origin=server.url, open_timeout=10)
        self.frames: list[dict] = []
        self.read = 0

    def send(self, event: str, data: dict) -> None:
        self.ws.send(json.dumps({"event": event, "data": data}))

    def next(self, event: str, timeout: float = 20.0, **match) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for i in range(self.read, len(self.frames)):
                frame = self.frames[i]
                if frame["event"] == event and all(frame["data"].get(k) == v for k, v in match.items()):
                    self.read = i + 1
                    return frame["data"]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {event} {match}; got {[f['event'] for f in self.frames]}")
            try:
                self.frames.append(json.loads(self.ws.recv(timeout=remaining)))
            except TimeoutError:
                continue

    def events(self, name: str) -> list[dict]:
        return [f["data"] for f in self.frames if f["event"] == name]


@pytest.fixture
def two_servers(settings):
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL: the processes share only the Redis channel layer")
    servers = [shared.start_daphne(), shared.start_daphne()]
    yield servers
    for server in servers:
        shared.stop_daphne(server)


def test_updates_cross_processes_through_redis(two_servers, user, make_workflow):
    one, two = two_servers
    key = Token.objects.create(user=user).key
    wf = make_workflow(waits_for_input())
    a, b = Client(one, key), Client(two, key)

    # A (server one) starts the execution; B (server two) subscribes with the same widgetID.
    a.send(
        "widget_workflow_connect",
        {
            "widgetID": "w",
            "workflowID": str(wf.pk),
            "mode": "execute",
            "inputParams": {},
            "widgetType": "table",
            "widgetConfig": {"rows": "{{ctx.A.rows}}"},
        },
    )
    instance = a.next("widget_workflow_connected", widgetID="w")["instanceID"]
    a_first = a.next("widget_context_update", widgetID="w")
    assert a_first["update"]["nodeID"] == "a" and a_first["update"]["processedData"]["rows"] == [[1, 5]]
    deadline = time.monotonic() + 20
    while Execution.objects.get(pk=instance).status != "paused":
        assert time.monotonic() < deadline, "the wait node did not pause"
        time.sleep(0.1)
    b.send(
        "widget_workflow_connect",
        {
            "widgetID": "w",
            "mode": "subscribe",
            "instanceID": instance,
            "widgetType": "vega-lite",
            "widgetConfig": {**CHART, "data": {"values": "{{ctx.A.rows}}"}},
        },
    )
    subscribed = b.next("widget_workflow_connected", widgetID="w")
    assert subscribed["processedData"]["count"] == 1 and subscribed["status"] == "PENDING"
    assert subscribed["executionStatus"] == "paused"

    # B's input is written and the node resumed in process two; A hears about it in process one.
    b.send("widget_send_input", {"widgetID": "w", "inputType": "filter", "data": {"go": True}})
    assert b.next("widget_input_received", widgetID="w")["resumedNodes"] == ["wait"]
    for client in (a, b):
        final = client.next("widget_workflow_status", widgetID="w", timeout=30)
        assert final["status"] == "COMPLETED" and final["instanceID"] == instance
        assert final["finalContext"]["Yes"] == {"went": True}
        # One frame per step; the last step ("yes") comes as the final status.
        nodes = [u["update"]["nodeID"] for u in client.events("widget_context_update")]
        assert nodes[-2:] == ["wait", "check"]
    assert a.events("widget_workflow_status")[0]["processedData"]["rows"] == [[1, 5]]
    assert b.events("widget_workflow_status")[0]["processedData"]["spec"]["data"]["values"] == [{"x": 1, "y": 5}]
    a.ws.close()
    b.ws.close()


def test_same_widget_on_two_servers_and_two_executions_does_not_cross(two_servers, user, make_workflow):
    from tests.widgets.conftest import three_steps

    one, two = two_servers
    key = Token.objects.create(user=user).key
    wf = make_workflow(three_steps())
    a, b = Client(one, key), Client(two, key)
    for client, tab in ((a, 1), (b, 2)):
        client.send(
            "widget_workflow_connect",
            {
                "widgetID": "same",
                "workflowID": str(wf.pk),
                "mode": "execute",
                "inputParams": {"tab": tab},
                "widgetType": "vega-lite",
                "widgetConfig": CHART,
            },
        )
    mine = {client: client.next("widget_workflow_connected")["instanceID"] for client in (a, b)}
    for client in (a, b):
        final = client.next("widget_workflow_status", widgetID="same", timeout=30)
        assert final["instanceID"] == mine[client] and final["processedData"]["count"] == 2
        assert {f["data"].get("instanceID") for f in client.frames} == {mine[client]}
        assert len(client.events("widget_context_update")) == 2  # A, B; Points ends it
    a.ws.close()
    b.ws.close()
