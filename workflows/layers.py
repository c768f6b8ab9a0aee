"""The Redis channel layer, with sends to groups nobody has joined made cheap.

Every step publishes to its execution's group, and most executions have nobody watching:
channels-redis would trim and read the group (two round trips) before finding it empty.
An empty group is a key Redis does not have, so one EXISTS answers first.
"""
from __future__ import annotations

from channels_redis.core import RedisChannelLayer as BaseRedisChannelLayer


class RedisChannelLayer(BaseRedisChannelLayer):
    async def group_send(self, group, message):
        connection = self.connection(self.consistent_hash(group))
        if not await connection.exists(self._group_key(group)):
            return  # nobody joined (or everybody left): nothing to send
        await super().group_send(group, message)
