"""The project's ASGI application for the fan-out benchmark: the real URL conf, middleware
and widget consumer, whose sockets also join one plain group so the harness can time a
bare Channels group send to the very same sockets (`bench.bare` messages, forwarded as is).

    daphne bench.asgi:application   (BENCH_BARE_GROUP names the group)
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.urls import path  # noqa: E402

from widgets import routing  # noqa: E402
from widgets.consumers import WidgetConsumer  # noqa: E402

BARE_GROUP = os.environ.get("BENCH_BARE_GROUP", "bench-bare")


class BenchWidgetConsumer(WidgetConsumer):
    async def connect(self):
        await self.channel_layer.group_add(BARE_GROUP, self.channel_name)
        await super().connect()

    async def disconnect(self, code):
        await self.channel_layer.group_discard(BARE_GROUP, self.channel_name)
        await super().disconnect(code)

    async def bench_bare(self, message):
        await self.send(text_data=message["text"])


# config.asgi builds its router from this list: swap the consumer before importing it.
routing.websocket_urlpatterns[:] = [
    path(str(p.pattern), BenchWidgetConsumer.as_asgi())
    if p.callback.__dict__.get("consumer_class") is WidgetConsumer
    else p
    for p in routing.websocket_urlpatterns
]

from config.asgi import application  # noqa: E402,F401
