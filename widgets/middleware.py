"""Who may open a websocket, decided before any consumer runs.

A browser always sends `Origin`; its socket is authenticated by the session cookie, so the
origin must be this site itself (the `Host` it connected to, with its port, and a host in
ALLOWED_HOSTS) or one of CSRF_TRUSTED_ORIGINS. That is what stops a page of another site
from opening a socket with the visitor's cookie (cross-site socket hijacking).

A script sends no `Origin`. It authenticates with an API token, as `?token=<key>` or an
`Authorization: Token <key>` header; any cookie it sends is ignored, and a socket with no
valid token is refused.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from channels.db import database_sync_to_async
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

from workflows.authentication import user_for_token


def _headers(scope) -> dict[bytes, bytes]:
    return {name.lower(): value for name, value in scope.get("headers", [])}


def socket_token(scope) -> str:
    """The API token a socket offers, from its query string or Authorization header."""
    params = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    key = (params.get("token") or [""])[0]
    if not key:
        kind, _, value = _headers(scope).get(b"authorization", b"").decode("latin-1").partition(" ")
        key = value.strip() if kind.lower() == "token" else ""
    return key


def origin_allowed(origin: str, *, host: str) -> bool:
    """The socket's Origin is this site (same host and port) or a CSRF-trusted origin."""
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    netloc = urlsplit(origin).netloc.lower()
    domain, _ = split_domain_port(host)
    return bool(netloc) and netloc == host.lower() and validate_host(domain, settings.ALLOWED_HOSTS)


class SocketAuthMiddleware:
    """Checks the Origin of browser sockets and authenticates scripts by token; sits inside
    Channels' AuthMiddlewareStack, so a browser's session user is already in the scope."""

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        headers = _headers(scope)
        origin = headers.get(b"origin")
        key = socket_token(scope)
        if origin is not None:
            host = headers.get(b"host", b"").decode("latin-1")
            if not origin_allowed(origin.decode("latin-1"), host=host):
                return await WebsocketDenier()(scope, receive, send)
            if not key:
                return await self.inner(scope, receive, send)
        user = await database_sync_to_async(user_for_token)(key) if key else None
        if user is None:
            return await WebsocketDenier()(scope, receive, send)
        return await self.inner({**scope, "user": user}, receive, send)
