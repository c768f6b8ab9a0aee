"""The approvals card of the home page (named in WORKFLOW_HOME_PANELS): how many requests
wait for the user's decision in the tenant, and the oldest of them."""

from __future__ import annotations

from workflows.dashboard import Panel

from .selectors import pending

OLDEST = 3


def pending_panel(*, user, tenant) -> Panel:
    waiting = pending(user, tenant_id=tenant.pk)
    return Panel(
        "approvals/_home_panel.html",
        {
            "count": waiting.count(),
            "oldest": list(waiting.order_by("created_at")[:OLDEST]),
        },
    )
