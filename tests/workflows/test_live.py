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
    messages = []
    async with asyncio.timeout(timeout):
        while True:
            message = await layer.receive(channel)
            messages.append(message)
            if message["type"] == "status.update" and message["status"] == until_status:
                return messages


def test_updates_arrive_in_order_for_every_node(make_workflow, user):
    wf = make_workflow(chain(
        {"id": "a", "type": "set", "label": "A", "config": {"values": {"v": 1}}},
        {"id": "b", "type": "set", "label": "B", "config": {"values": {"v": 2}}},
    ))

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

    messages = async_to_sync(scenario)()
    nodes = [(m["nodeId"], m["status"]) for m in messages if m["type"] == "node.update"]
    assert nodes == [("a", "success"), ("b", "running"), ("b", "success")]
    final = messages[-1]
    assert final["context"]["B"] == {"v": 2} and final["finishedAt"]
