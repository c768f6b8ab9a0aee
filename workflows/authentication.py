"""API-token authentication outside DRF views (server-sent events, websockets), done by
DRF's own TokenAuthentication so every entry point accepts the same tokens."""

from __future__ import annotations

from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed


def user_for_token(key: str):
    """The active user an API token belongs to, or None for an unknown or inactive one."""
    try:
        user, _ = TokenAuthentication().authenticate_credentials(key)
    except AuthenticationFailed:
        return None
    return user


def user_for_request(request):
    """The user of a request's `Authorization: Token <key>` header, or None."""
    try:
        found = TokenAuthentication().authenticate(request)
    except AuthenticationFailed:
        return None
    return found[0] if found else None
