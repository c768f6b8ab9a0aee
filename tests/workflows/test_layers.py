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
