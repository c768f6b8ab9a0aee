"""DRF authentication by workflow API key: `Authorization: Bearer wfb_...`."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission

from . import services
from .models import WorkflowApiKey


class ApiKeyRefused(AuthenticationFailed):
    field = "Authorization"  # named in the error answer (workflows.api.errors)


def _failed(message: str, code: str) -> AuthenticationFailed:
    return ApiKeyRefused(message, code)


class WorkflowApiKeyAuthentication(BaseAuthentication):
    """Authenticates a request by a workflow API key; `request.auth` is the key, `request.user`
    the user who created it. The secret is compared in constant time; use is recorded."""

    keyword = b"bearer"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise _failed("Authorization must be 'Bearer <workflow API key>'", "invalid_api_key")
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise _failed("Invalid API key", "invalid_api_key") from None
        api_key = services.authenticate_api_key(raw)
        if api_key is None:
            raise _failed("Invalid API key", "invalid_api_key")
        if api_key.is_revoked:
            raise _failed("This API key has been revoked", "revoked_api_key")
        services.record_use(api_key)
        creator = api_key.created_by
        if creator is not None and not creator.is_active:
            raise _failed("The user who created this API key is deactivated", "inactive_key_owner")
        return (creator or AnonymousUser(), api_key)

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) when the key is missing or wrong.
        return 'Bearer realm="workflows"'


class HasWorkflowApiKey(BasePermission):
    """Allows requests authenticated by a (valid, unrevoked) workflow API key."""

    message = "A workflow API key is required: send 'Authorization: Bearer wfb_...'"

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, WorkflowApiKey)
