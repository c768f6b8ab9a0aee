"""The Redis channel layer, with sends to groups nobody has joined made cheap.

Every step publishes to its execution's group, and most executions have nobody watching:
channels-redis would trim and read the group (two round trips) before finding it empty.
An empty group is a key Redis does not have, so one EXISTS answers first; the publisher's
batches ask about all their groups in one pipelined round trip (`group_send_many`).
"""

from __future__ import annotations

from channels_redis.core import RedisChannelLayer as BaseRedisChannelLayer


class RedisChannelLayer(BaseRedisChannelLayer):
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
