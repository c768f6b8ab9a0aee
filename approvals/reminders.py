"""The worker duty for reminders and escalation (settings.WORKFLOW_WORKER_DUTIES).

Every worker's timer thread calls `run_due` every APPROVALS_DUTY_SECONDS. Rows are locked
with SKIP LOCKED (execution, node run, then request: the order every writer uses), so
with several workers each due request is handled once.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from workflows import engine
from workflows.nodes import log_entry

from .models import ApprovalEvent, ApprovalRequest, ApprovalStatus
from .notifications import send_after_commit
from .selectors import eligible_usernames
from .services import escalate

logger = logging.getLogger("workflows.approvals")


def due_ids(now: datetime, limit: int = 100) -> list:
    due = Q(next_reminder_at__lte=now) | Q(escalate_at__lte=now, escalated_at__isnull=True)
    return list(
        ApprovalRequest.objects.filter(due, status=ApprovalStatus.PENDING)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )


def run_due(now: datetime | None = None) -> int:
    """Send due reminders and escalations; returns how many requests were handled."""
    now = now or timezone.now()
    handled = 0
    for request_id in due_ids(now):
        try:
            handled += _handle(request_id, now)
        except Exception:
            logger.exception("reminder or escalation of approval request %s failed", request_id)
    return handled


def _handle(request_id, now: datetime) -> int:
    node_run_id = ApprovalRequest.objects.filter(pk=request_id).values_list("node_run_id", flat=True).first()
    if node_run_id is None:
        return 0
    with engine.locked_run(node_run_id, skip_locked=True) as locked:
        if locked is None:
            return 0  # busy (or gone): the next round tries again
        request = (
            ApprovalRequest.objects.select_for_update(skip_locked=True)
            .filter(pk=request_id, status=ApprovalStatus.PENDING)
            .first()
        )
        if request is None:
            return 0
        assert locked.run is not None  # locked_run(node_run_id) yields a run or None
        label = locked.run.label
        entries = []
        if request.escalate_at and request.escalate_at <= now and request.escalated_at is None:
            entries.append(_escalate(request, label))
        if request.next_reminder_at and request.next_reminder_at <= now:
            entries.append(_remind(request, label, now))
        engine.append_logs(node_run_id, entries)
    return 1


def _escalate(request: ApprovalRequest, label: str) -> dict:
    if request.decisions.exists():
        # Somebody decided in time: nothing to escalate, and never check again.
        request.escalated_at = timezone.now()
        request.save(update_fields=["escalated_at"])
        return log_entry("info", label, "Escalation not needed: decisions are in")
    added = escalate(request)
    if added:
        send_after_commit(request.pk, kind="escalation", usernames=added)
    return log_entry("warning", label, f"Escalated: nobody decided in time; added {', '.join(added) or 'nobody new'}")


def _remind(request: ApprovalRequest, label: str, now: datetime) -> dict:
    decided = set(request.decisions.values_list("user__username", flat=True))
    waiting = sorted(eligible_usernames(request) - decided)
    # Step from the schedule, not from now, so reminders do not drift; skip missed slots.
    next_at, every = request.next_reminder_at, request.remind_every
    assert next_at is not None and every is not None  # only requests with a reminder schedule come here
    while next_at <= now:
        next_at += every
    request.next_reminder_at = next_at
    request.save(update_fields=["next_reminder_at"])
    ApprovalEvent.objects.create(request=request, kind=ApprovalEvent.Kind.REMINDED, data={"to": waiting})
    if waiting:
        send_after_commit(request.pk, kind="reminder", usernames=waiting)
    return log_entry("info", label, f"Reminder sent to {len(waiting)} approver(s) who have not decided")
