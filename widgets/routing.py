"""Websocket routes (config/asgi.py wraps them in the session auth stack)."""
from django.urls import path

from .consumers import WidgetConsumer
from .middleware import TokenAuthMiddleware

websocket_urlpatterns = [
    path("ws/widgets/", TokenAuthMiddleware(WidgetConsumer.as_asgi())),
]
