"""The Redis channel layer, with sends to groups nobody has joined made cheap, and
receives that end when they are cancelled.

Every step publishes to its execution's group, and most executions have nobody watching:
channels-redis would trim and read the group (two round trips) before finding it empty.
An empty group is a key Redis does not have, so one EXISTS answers first; the publisher's
batches ask about all their groups in one pipelined round trip (`group_send_many`).
"""

from __future__ import annotations

import asyncio

from channels_redis.core import RedisChannelLayer as BaseRedisChannelLayer

# How long a cancelled receive is given to end before it is cancelled again.
RECANCEL_SECONDS = 0.1


class RedisChannelLayer(BaseRedisChannelLayer):
    async def receive(self, channel):
        """channels-redis's receive, ended for sure when it is cancelled.

        On Python 3.11 redis-py writes a command through asyncio.wait_for, which drops a
        cancellation that arrives as the write completes (fixed in 3.12). channels-redis's
        receive, cancelled then, goes on popping the channel every 5 s forever: the
        consumer of a closed socket never ends, keeps a Redis connection, and an event
        loop that shuts down waits for it. So the receive runs as a task of its own, and a
        cancelled one is cancelled again until it has ended."""
        receiving = asyncio.ensure_future(super().receive(channel))
        try:
            return await asyncio.shield(receiving)
        except asyncio.CancelledError:
            while not receiving.done():
                receiving.cancel()
                try:
                    await asyncio.wait([receiving], timeout=RECANCEL_SECONDS)
                except asyncio.CancelledError:
                    pass  # cancelled again while ending: it ends all the same, below
            raise

    async def group_send(self, group, message):
        connection = self.connection(self.consistent_hash(group))
        if not await connection.exists(self._group_key(group)):
            return  # nobody joined (or everybody left): nothing to send
        await super().group_send(group, message)

    async def group_send_many(self, messages: list[tuple[str, dict]]) -> None:
        """Send (group, message) pairs in order, skipping the groups nobody joined: one
        pipelined round trip per Redis host tells which exist."""
        groups = list(dict.fromkeys(group for group, _ in messages))
        joined: set[str] = set()
        by_host: dict[int, list[str]] = {}
        for group in groups:
            by_host.setdefault(self.consistent_hash(group), []).append(group)
        for index, host_groups in by_host.items():
            pipe = self.connection(index).pipeline(transaction=False)
            for group in host_groups:
                pipe.exists(self._group_key(group))
            joined.update(g for g, found in zip(host_groups, await pipe.execute()) if found)
        for group, message in messages:
            if group in joined:
                await super().group_send(group, message)
