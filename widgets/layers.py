"""An in-memory channel layer that threads may publish to (the embedded default).

Channels' InMemoryChannelLayer keeps asyncio queues bound to the event loop of the
process's server. The embedded worker publishes from its own threads (each with its own
loop through async_to_sync); putting into those queues from there neither wakes the
server's loop nor is thread-safe, so live updates would stall until something else woke
it. This layer runs every operation on the loop that receives (the server's), handing
calls from other loops over with run_coroutine_threadsafe.
"""
from __future__ import annotations

import asyncio

from channels.layers import InMemoryChannelLayer as BaseInMemoryChannelLayer


class InMemoryChannelLayer(BaseInMemoryChannelLayer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._owner: asyncio.AbstractEventLoop | None = None

    def _foreign_owner(self) -> asyncio.AbstractEventLoop | None:
        """The receiving loop when it is alive and not the caller's, else None."""
        owner, current = self._owner, asyncio.get_running_loop()
        if owner is None or owner is current or owner.is_closed() or not owner.is_running():
            return None
        return owner

    async def _run(self, method, *args):
        owner = self._foreign_owner()
        if owner is None:
            return await method(*args)
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(method(*args), owner))

    async def receive(self, channel):
        if self._foreign_owner() is None:
            self._owner = asyncio.get_running_loop()
        return await self._run(super().receive, channel)

    async def send(self, channel, message):
        return await self._run(super().send, channel, message)

    async def group_add(self, group, channel):
        return await self._run(super().group_add, group, channel)

    async def group_discard(self, group, channel):
        return await self._run(super().group_discard, group, channel)

    async def group_send(self, group, message):
        return await self._run(super().group_send, group, message)
