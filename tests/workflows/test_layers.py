"""The Redis channel layer (workflows.layers) against a redis-server of its own."""

from __future__ import annotations

import asyncio

import pytest
from django.conf import settings

from bench.common import RedisServer

# channels-redis and redis-py are the [redis] extra: `make test-pg` installs it, `make test` not.
pytest.importorskip("channels_redis", reason="needs the [redis] extra (make test-pg installs it)")


@pytest.fixture(scope="module")
def redis_url():
    server = RedisServer()
    server.start()
    yield server.url
    server.stop()


def test_a_cancelled_receive_ends_wherever_the_cancel_lands(redis_url):
    """A receive is cancelled at each step of its start (connecting, its first commands, the
    blocking pop), and ends every time. On Python 3.11 redis-py drops a cancellation that
    lands as it finishes writing a command, and channels-redis's receive then pops the
    channel for ever: a closed socket's consumer never ended."""
    from workflows.layers import RedisChannelLayer

    layer = RedisChannelLayer(hosts=[{"address": redis_url, "socket_timeout": settings.REDIS_SOCKET_TIMEOUT}])

    async def ends_when_cancelled_after(steps: int) -> bool:
        receiving = asyncio.ensure_future(layer.receive(await layer.new_channel()))
        for _ in range(steps):
            await asyncio.sleep(0)
        receiving.cancel()
        done, _ = await asyncio.wait([receiving], timeout=3)
        if not done:  # a second cancel lands in the pop and ends it, so the loop can close
            receiving.cancel()
            await asyncio.wait([receiving], timeout=10)
        return bool(done) and receiving.cancelled()

    # A new event loop each time, so a new connection: every step of its start is hit.
    still_receiving = [steps for steps in range(40) if not asyncio.run(ends_when_cancelled_after(steps))]
    assert still_receiving == []


def test_a_cancelled_publisher_ends_wherever_the_cancel_lands(redis_url, settings):
    """The task that sends an event loop's live updates is cancelled at each step of a send
    (the EXISTS round trip, the group send) and ends every time, so the loop can close."""
    from channels.layers import get_channel_layer

    from workflows import live

    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "workflows.layers.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": redis_url, "socket_timeout": settings.REDIS_SOCKET_TIMEOUT}]},
        }
    }

    async def ends_when_cancelled_after(steps: int) -> bool:
        layer = get_channel_layer()
        await layer.group_add("watched", await layer.new_channel())
        queue: asyncio.Queue = asyncio.Queue()
        queue.put_nowait([("watched", {"type": "execution.update"}), ("unwatched", {"type": "execution.update"})])
        publishing = asyncio.ensure_future(live._drain(queue))
        for _ in range(steps):
            await asyncio.sleep(0)
        publishing.cancel()
        done, _ = await asyncio.wait([publishing], timeout=3)
        if not done:
            publishing.cancel()
            await asyncio.wait([publishing], timeout=10)
        return bool(done) and publishing.cancelled()

    still_publishing = [steps for steps in range(40) if not asyncio.run(ends_when_cancelled_after(steps))]
    assert still_publishing == []
