"""Websocket authentication by `?token=<key>` (DRF token) for scripts without a session."""
from __future__ import annotations

from urllib.parse import parse_qs

from channels.db import database_sync_to_async


@database_sync_to_async
def _user_for_token(key: str):
    from rest_framework.authtoken.models import Token

    token = Token.objects.select_related("user").filter(key=key).first()
    return token.user if token is not None and token.user.is_active else None


class TokenAuthMiddleware:
    """Sets scope["user"] from a `token` query parameter when the session gave no user."""

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        user = scope.get("user")
        if user is None or not user.is_authenticated:
            params = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            key = (params.get("token") or [""])[0]
            if key:
                found = await _user_for_token(key)
                if found is not None:
                    scope = {**scope, "user": found}
        return await self.inner(scope, receive, send)
