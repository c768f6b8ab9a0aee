"""Node and status updates reach the channel layer after commit, in order."""

import asyncio

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer

from tests.conftest import chain
from workflows import live
from workflows.services import trigger_workflow
from workflows.worker import Worker

pytestmark = pytest.mark.django_db(transaction=True)


async def collect(channel, layer, until_status, timeout=10.0):
    """The node and status messages received, each execution.update split in order, until
    the execution reaches `until_status`; also the raw messages."""
    messages, raw = [], []
    async with asyncio.timeout(timeout):
        while True:
            message = await layer.receive(channel)
            raw.append(message)
            messages.extend(live.split_update(message) if message["type"] == "execution.update" else [message])
            if messages and messages[-1]["type"] == "status.update" and messages[-1]["status"] == until_status:
                return messages, raw


def test_updates_arrive_in_order_for_every_node(make_workflow, user):
    wf = make_workflow(
        chain(
            {"id": "a", "type": "set", "label": "A", "config": {"values": {"v": 1}}},
            {"id": "b", "type": "set", "label": "B", "config": {"values": {"v": 2}}},
        )
    )

    async def scenario():
        layer = get_channel_layer()
        live.use_loop(asyncio.get_running_loop())
        try:
            channel = await layer.new_channel()
            execution_id = (await sync_to_async(trigger_workflow)(workflow_id=wf.pk, user_name="alice")).execution_id
            await layer.group_add(live.execution_group(execution_id), channel)
            await sync_to_async(Worker(concurrency=1, name="live").run_until_idle)()
            return await collect(channel, layer, "success")
        finally:
            live.use_loop(None)

    messages, raw = async_to_sync(scenario)()
    nodes = [(m["nodeId"], m["status"]) for m in messages if m["type"] == "node.update"]
    assert nodes == [("a", "success"), ("b", "running"), ("b", "success")]
    # One message per commit: A's success with B made ready, then B's success with the status.
    # (A claim that finds the execution not yet running commits that change on its own: a
    # message with its status and no node.)
    assert all(m["type"] == "execution.update" for m in raw)
    with_nodes = [m for m in raw if m["nodes"]]
    assert [len(m["nodes"]) for m in with_nodes] == [2, 1] and with_nodes[0]["status"] is None
    assert all(m["status"] and m["status"]["status"] == "running" for m in raw if not m["nodes"])
    final = messages[-1]
    assert final["context"]["B"] == {"v": 2} and final["finishedAt"]
