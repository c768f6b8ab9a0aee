"""Websocket routes (config/asgi.py wraps them in the session auth stack and the socket guard)."""

from django.urls import path

from .consumers import WidgetConsumer

websocket_urlpatterns = [
    path("ws/widgets/", WidgetConsumer.as_asgi()),
]
