"""Approval e-mails (request, reminder, escalation, delegation) through Django's mail framework.

Mails go out after the transaction that caused them commits; a failure to send is logged on
the node run and never fails the workflow.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.template.loader import render_to_string

from workflows import engine
from workflows.nodes import log_entry

from .display import readable_items
from .links import link_path
from .models import ApprovalEvent, ApprovalRequest, ApprovalStatus
from .selectors import eligible_users

logger = logging.getLogger("workflows.approvals")

SUBJECT_PREFIXES = {
    "request": "",
    "reminder": "Reminder: ",
    "escalation": "Escalated: ",
    "delegation": "Delegated to you: ",
}


def send_after_commit(request_id, *, kind: str, usernames: list[str] | None = None) -> None:
    transaction.on_commit(lambda: send(request_id, kind=kind, usernames=usernames))


def approval_url(request: ApprovalRequest) -> str:
    """The link in the mail: the node's `approvalUrl` with `{id}`, or this site's page."""
    template = request.approval_url or f"{settings.SITE_URL.rstrip('/')}/workflows/approvals/{{id}}"
    return template.replace("{id}", str(request.pk))


def subject_for(request: ApprovalRequest, kind: str) -> str:
    base = (request.email_subject or "Approval requested: {{title}}").replace("{{title}}", request.title)
    subject = SUBJECT_PREFIXES.get(kind, "") + base
    return " ".join(subject.split())[:300]


def build_message(request: ApprovalRequest, user, *, kind: str) -> EmailMultiAlternatives:
    one_click = None
    if settings.APPROVALS_EMAIL_LINKS:
        one_click = settings.SITE_URL.rstrip("/") + link_path(request, user)
    context = {
        "request": request,
        "user": user,
        "kind": kind,
        "url": approval_url(request),
        "one_click_url": one_click,
        "context_items": [(key, text) for key, text, _ in readable_items(request.context_data)],
    }
    text = render_to_string("approvals/email/request.txt", context)
    html = render_to_string("approvals/email/request.html", context)
    message = EmailMultiAlternatives(subject_for(request, kind), text, settings.DEFAULT_FROM_EMAIL, [user.email])
    message.attach_alternative(html, "text/html")
    return message


def send(request_id, *, kind: str, usernames: list[str] | None = None) -> tuple[int, list[str]]:
    """Mail the request's approvers (or `usernames` among them); returns (sent, failed usernames)."""
    request = ApprovalRequest.objects.select_related("node_run").filter(pk=request_id).first()
    if request is None or request.status != ApprovalStatus.PENDING:
        return 0, []
    users = eligible_users(request).exclude(email="")
    if usernames is not None:
        users = users.filter(username__in=usernames)
    label = request.node_run.label
    sent, failed, entries = 0, [], []
    connection = get_connection()
    for user in users.order_by("username"):
        try:
            message = build_message(request, user, kind=kind)
            message.connection = connection
            message.send()
            sent += 1
        except Exception as exc:  # any backend failure: log it on the node, keep the workflow going
            logger.warning("approval mail to %s failed", user.username, exc_info=True)
            failed.append(user.username)
            entries.append(log_entry("warning", label, f"E-mail ({kind}) to {user.username} failed: {exc}"))
    if sent:
        entries.append(log_entry("info", label, f"E-mail ({kind}) sent to {sent} approver(s)"))
    ApprovalEvent.objects.create(
        request=request, kind=ApprovalEvent.Kind.NOTIFIED, data={"kind": kind, "sent": sent, "failed": failed}
    )
    engine.append_logs(request.node_run_id, entries)
    return sent, failed
