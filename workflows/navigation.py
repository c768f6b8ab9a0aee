"""The main navigation: its links for this user, and which one holds the current page."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.functional import SimpleLazyObject

from .dashboard import may_see_workers


@dataclass(frozen=True)
class NavItem:
    label: str
    url: str
    current: str = ""  # the aria-current value: "page" on the link's own page, "true" below it


def items_for(request: HttpRequest) -> list[NavItem]:
    """The links the user may follow; the one whose URL is the longest prefix of the
    current path is current (so /workflows/approvals/ is Approvals, not Workflows)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return []
    links = [("Workflows", "/workflows/")]
    executions = url_or_none("workflows:executions")
    if executions:
        links.append(("Executions", executions))
    links += [("Approvals", "/workflows/approvals/"), ("Dashboard", "/widgets/")]
    if may_see_workers(user):
        links.append(("Workers", "/workers/"))
    links.append(("API", "/api/docs/"))
    if user.is_superuser:  # the admin admits superusers only (config/admin.py)
        links.append(("Admin", "/admin/"))
    path = request.path
    matches = [url for _, url in links if path.startswith(url)]
    best = max(matches, key=len, default=None)
    return [NavItem(label, url, ("page" if path == url else "true") if url == best else "") for label, url in links]


def url_or_none(name: str) -> str | None:
    """The path of a named page, or None where this installation has no such page."""
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


def nav(request: HttpRequest) -> dict:
    """Context processor: `nav_items`, built only when a template uses it."""
    return {"nav_items": SimpleLazyObject(lambda: items_for(request))}
