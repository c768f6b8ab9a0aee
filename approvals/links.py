"""Signed one-click links: a token bound to one approver and one request."""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.urls import reverse

from .exceptions import InvalidLink

SALT = "approvals.email-link"


def make_token(request, user) -> str:
    """A token naming the request and the approver; valid while the request is pending."""
    return signing.dumps({"r": str(request.pk), "u": user.pk}, salt=SALT, compress=True)


def read_token(token: str, *, request_id) -> int:
    """The approver's user id carried by `token` for this request; raises InvalidLink."""
    try:
        data = signing.loads(token, salt=SALT, max_age=settings.APPROVALS_LINK_MAX_AGE_SECONDS)
    except signing.SignatureExpired:
        raise InvalidLink("This link has expired; open the request from your inbox instead") from None
    except signing.BadSignature:
        raise InvalidLink("This link is not valid") from None
    if not isinstance(data, dict) or data.get("r") != str(request_id) or not isinstance(data.get("u"), int):
        raise InvalidLink("This link is not valid for this request")
    return data["u"]


def link_path(request, user) -> str:
    return reverse("approvals:link", kwargs={"pk": request.pk, "token": make_token(request, user)})
