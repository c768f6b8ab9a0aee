"""The thread-safe in-memory channel layer: a publish from another thread wakes the receiver."""
from __future__ import annotations

import asyncio
import threading

from asgiref.sync import async_to_sync

from widgets.layers import InMemoryChannelLayer


def test_a_group_send_from_another_thread_reaches_a_waiting_receiver():
    layer = InMemoryChannelLayer()

    async def scenario():
        channel = await layer.new_channel()
        await layer.group_add("execution-x", channel)
        waiting = asyncio.ensure_future(layer.receive(channel))
        await asyncio.sleep(0)  # the receiver now waits on its queue
        thread = threading.Thread(target=async_to_sync(layer.group_send), args=("execution-x", {"type": "node.update", "n": 1}))
        thread.start()
        message = await asyncio.wait_for(waiting, timeout=5)
        await asyncio.get_running_loop().run_in_executor(None, thread.join)  # never block the loop
        assert message == {"type": "node.update", "n": 1}
        await layer.group_discard("execution-x", channel)
        assert "execution-x" not in layer.groups or channel not in layer.groups["execution-x"]

    async_to_sync(scenario)()


def test_calls_on_the_receiving_loop_work_directly():
    layer = InMemoryChannelLayer()

    async def scenario():
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "hello"})
        assert await layer.receive(channel) == {"type": "hello"}

    async_to_sync(scenario)()
