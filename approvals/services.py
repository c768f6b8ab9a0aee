"""Writes: raise a request, decide, delegate, expire and cancel; each in one transaction.

Deciding locks the execution, the node run, then the approval request: the engine's
order for every writer (cancel, deadline timer, resumer), extended by one row, so a
decision racing a cancel or the deadline waits instead of deadlocking.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from workflows import engine
from workflows.fields import validate_config
from workflows.models import Execution, NodeRun
from workflows.nodes import NodeError, log_entry

from . import notifications, policies
from .config import RequestSpec, form_field_objects
from .exceptions import AlreadyDecided, ApprovalNotFound, InvalidDecision, NotEligible, RequestNotPending
from .models import ApprovalDecision, ApprovalEvent, ApprovalRequest, ApprovalStatus, Channel
from .selectors import eligible_usernames, is_eligible, tenant_admin_usernames

logger = logging.getLogger("workflows.approvals")

ROLE_PREFIX = "role:"
MAX_COMMENT_LENGTH = 5000
# --- Raising a request (inside the node's pausing transaction) --------------------------------


def create_request(*, node_run: NodeRun, spec: RequestSpec, request_id: uuid.UUID, now: datetime) -> ApprovalRequest:
    """Create the request for a pausing node run; mails go out after the pause commits."""
    execution = Execution.objects.select_related("workflow").get(pk=node_run.execution_id)
    # Named when the request is raised, so the request shows whom it asks, like any other.
    approvers = tenant_admin_usernames(execution.tenant_id) if spec.asks_tenant_admins else spec.approvers
    request = ApprovalRequest.objects.create(
        id=request_id,
        tenant_id=execution.tenant_id,
        workflow_id=execution.workflow_id,
        execution=execution,
        node_run=node_run,
        requested_by_id=execution.run_as_id,
        title=spec.title[:500],
        description=spec.description,
        approval_type=spec.approval_type,
        approvers=approvers,
        approver_roles=spec.approver_roles,
        required_approvals=spec.required_approvals,
        context_data=spec.context_data,
        form_fields=spec.form_fields,
        deadline=now + spec.expires_in if spec.expires_in else None,
        on_rejection=spec.on_rejection,
        on_expiration=spec.on_expiration,
        allow_self_approval=spec.allow_self_approval,
        send_notification=spec.send_notification,
        email_subject=spec.email_subject[:500],
        approval_url=spec.approval_url[:1000],
        remind_every=spec.remind_every,
        next_reminder_at=now + spec.remind_every if spec.remind_every else None,
        escalate_at=now + spec.escalate_after if spec.escalate_after else None,
        escalate_to=spec.escalate_to,
    )
    created = {"approvalType": spec.approval_type}
    if spec.asks_tenant_admins:
        created["approvers"] = "tenant admins"
        node_run.logs = [
            *node_run.logs,
            log_entry(
                "info",
                node_run.label,
                "No approvers or approver roles configured: asking the tenant's admins"
                + (f" ({', '.join(approvers)})" if approvers else ", and it has none"),
            ),
        ]
    ApprovalEvent.objects.create(request=request, kind=ApprovalEvent.Kind.CREATED, data=created)
    eligible = eligible_usernames(request)
    unknown = [name for name in spec.approvers if name not in eligible]
    if unknown:
        node_run.logs = [
            *node_run.logs,
            log_entry(
                "warning",
                node_run.label,
                "Not eligible (unknown, inactive or not in the tenant): " + ", ".join(unknown),
            ),
        ]
    if not eligible:
        node_run.logs = [*node_run.logs, log_entry("warning", node_run.label, "No eligible approver yet")]
    node_run.logs = [
        *node_run.logs,
        log_entry("info", node_run.label, f"Approval requested from {len(eligible)} approver(s): {request.pk}"),
    ]
    if spec.send_notification:
        notifications.send_after_commit(request.pk, kind="request")
    return request


# --- Deciding ----------------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(request_id) -> Iterator[ApprovalRequest]:
    """The request, locked after its execution and node run (the engine's lock order),
    which it keeps as `request.held` for resuming the node without locking them again."""
    ids = ApprovalRequest.objects.filter(pk=request_id).values_list("node_run_id", "execution_id").first()
    if ids is None:
        raise ApprovalNotFound(request_id)
    node_run_id, execution_id = ids  # the execution too: locking it needs no lookup
    with engine.locked_run(node_run_id, execution_id=execution_id) as held:
        request = ApprovalRequest.objects.select_for_update().get(pk=request_id)
        request.held = held
        yield request


def ensure_open(request: ApprovalRequest, *, now: datetime | None = None) -> None:
    """Refuse when the request is no longer waiting for decisions."""
    if request.status != ApprovalStatus.PENDING:
        raise RequestNotPending(
            f"This request is already {request.status}; no more decisions are taken", field="status"
        )
    if request.deadline and request.deadline <= (now or timezone.now()):
        raise RequestNotPending("This request has expired; no more decisions are taken", field="status")


def ensure_can_decide(request: ApprovalRequest, user, *, eligible: set[str] | None = None) -> None:
    """Refuse a user who is not an eligible approver or who already decided (`eligible`:
    the request's eligible usernames, when the caller has them already)."""
    if ApprovalDecision.objects.filter(request=request, user_id=user.pk).exists():
        raise AlreadyDecided("You have already decided on this request", field="decision")
    if not (user.get_username() in eligible if eligible is not None else is_eligible(request, user)):
        if user.get_username() in (request.excluded or []):
            raise NotEligible("You delegated this request; it is no longer yours to decide", field="user")
        if not request.allow_self_approval and request.requested_by_id == user.pk:
            raise NotEligible("You cannot decide on a request raised by your own workflow run", field="user")
        raise NotEligible("You are not an approver of this request", field="user")


def clean_form_values(form_fields: list[dict], raw: dict | None, *, decision: str) -> dict:
    """Validate the decision form's values; required fields bind approvals only."""
    if raw is not None and not isinstance(raw, dict):
        raise InvalidDecision("formValues must be an object", field="formValues")
    raw = dict(raw or {})
    known = {f["key"] for f in form_fields}
    extra = sorted(set(raw) - known)
    if extra:
        raise InvalidDecision(f"Unknown form field(s): {', '.join(extra)}", field=f"formValues.{extra[0]}")
    values: dict[str, Any] = {}
    for f in form_fields:
        value = raw.get(f["key"])
        if isinstance(value, str):
            value = value.strip()
        values[f["key"]] = None if value in ("", None) else value
    fields = form_field_objects(form_fields)
    if decision != policies.APPROVED:
        for field in fields:
            field.required = False
    problems = validate_config(fields, values)
    if problems:
        key, message = problems[0]
        raise InvalidDecision(message, field=f"formValues.{key}")
    for f in form_fields:
        value = values[f["key"]]
        if f["type"] == "number" and isinstance(value, str):
            number = float(value)
            values[f["key"]] = int(number) if number.is_integer() else number
    return {k: v for k, v in values.items() if v is not None}


def check_comment(comment: str | None) -> None:
    if comment and len(comment) > MAX_COMMENT_LENGTH:
        raise InvalidDecision(f"comment is longer than {MAX_COMMENT_LENGTH} characters", field="comment")


def output_for(request: ApprovalRequest, decision: str) -> dict:
    decisions = request.decisions.select_related("user").order_by("created_at", "id")
    return {
        "decision": decision,
        "decisions": [d.as_output() for d in decisions],
        "approvalRequestId": str(request.pk),
    }


def decide(
    *,
    request_id,
    user,
    decision: str,
    comment: str = "",
    form_values: dict | None = None,
    channel: str = Channel.PAGE,
) -> ApprovalRequest:
    """Record one approver's decision; when the policy settles the request, resume the node
    in the same transaction."""
    if decision not in policies.DECISIONS:
        raise InvalidDecision("decision must be approved or rejected", field="decision")
    if channel not in Channel.values:
        raise InvalidDecision(f"unknown channel {channel!r}", field="channel")
    check_comment(comment)
    return engine.retrying(
        f"decide approval request {request_id}",
        lambda: _decide(
            request_id, user=user, decision=decision, comment=comment, form_values=form_values, channel=channel
        ),
    )


def _decide(request_id, *, user, decision: str, comment: str, form_values, channel: str) -> ApprovalRequest:
    with _locked(request_id) as request:
        ensure_open(request)
        eligible = eligible_usernames(request)
        ensure_can_decide(request, user, eligible=eligible)
        values = clean_form_values(request.form_fields, form_values, decision=decision)
        ApprovalDecision.objects.create(
            request=request,
            user=user,
            decision=decision,
            comment=(comment or "").strip(),
            form_values=values,
            channel=channel,
        )
        votes = list(request.decisions.order_by("created_at", "id").values_list("user__username", "decision"))
        outcome = policies.evaluate(
            request.approval_type, votes, eligible=eligible, required=request.required_approvals
        )
        label = request.held.node_run.label
        message = f"{user.get_username()} {decision} via {channel}"
        if outcome == policies.PENDING:
            engine.append_logs(request.node_run_id, [log_entry("info", label, message)])
        else:
            _settle(request, outcome, message=message)
    return request


def _settle(request: ApprovalRequest, outcome: str, *, message: str) -> None:
    now = timezone.now()
    request.status = outcome
    request.decided_at = now
    request.next_reminder_at = None
    request.save(update_fields=["status", "decided_at", "next_reminder_at"])
    ApprovalEvent.objects.create(request=request, kind=ApprovalEvent.Kind.DECIDED, data={"outcome": outcome})
    note = f"{message}; request {outcome}"
    if outcome == policies.REJECTED and request.on_rejection == "error":
        engine.resume_node_run(
            request.node_run_id, error=f"Approval rejected: {request.title}", message=note, locked=request.held
        )
    else:
        engine.resume_node_run(
            request.node_run_id, output=output_for(request, outcome), message=note, locked=request.held
        )


# --- Delegation --------------------------------------------------------------------------------


def delegate(*, request_id, user, to_username: str, comment: str = "", channel: str = Channel.PAGE) -> ApprovalRequest:
    """Hand the request from an eligible approver to another member of the tenant."""
    to_username = (to_username or "").strip()
    check_comment(comment)
    return engine.retrying(
        f"delegate approval request {request_id}",
        lambda: _delegate(request_id, user=user, to_username=to_username, comment=comment, channel=channel),
    )


def _delegate(request_id, *, user, to_username: str, comment: str, channel: str) -> ApprovalRequest:
    with _locked(request_id) as request:
        ensure_open(request)
        ensure_can_decide(request, user)
        target = (
            get_user_model()
            .objects.filter(username=to_username, is_active=True, memberships__tenant_id=request.tenant_id)
            .first()
        )
        if target is None:
            raise InvalidDecision(f"No active user {to_username!r} in this tenant", field="delegateTo")
        if target.pk == user.pk:
            raise InvalidDecision("You cannot delegate to yourself", field="delegateTo")
        if is_eligible(request, target):
            raise InvalidDecision(f"{to_username} is already an approver of this request", field="delegateTo")
        if not request.allow_self_approval and request.requested_by_id == target.pk:
            raise InvalidDecision(f"{to_username} raised this request and cannot approve it", field="delegateTo")
        if ApprovalDecision.objects.filter(request=request, user=target).exists():
            raise InvalidDecision(f"{to_username} has already decided on this request", field="delegateTo")
        request.approvers = [*request.approvers, target.username]
        request.excluded = [name for name in request.excluded if name != target.username] + [user.get_username()]
        request.save(update_fields=["approvers", "excluded"])
        ApprovalEvent.objects.create(
            request=request,
            kind=ApprovalEvent.Kind.DELEGATED,
            actor=user,
            target=target,
            comment=(comment or "").strip(),
            channel=channel,
        )
        engine.append_logs(
            request.node_run_id,
            [log_entry("info", request.node_run.label, f"{user.get_username()} delegated to {target.username}")],
        )
        if request.send_notification:
            notifications.send_after_commit(request.pk, kind="delegation", usernames=[target.username])
    return request


# --- Endings driven by the engine (deadline, cancel) ------------------------------------------


def expire_for_node_run(run: NodeRun) -> dict:
    """The node's deadline handler: expire its pending request and continue or fail."""
    request = ApprovalRequest.objects.select_for_update().filter(node_run=run).order_by("-created_at").first()
    if request is None:
        raise NodeError("Approval request is missing", retryable=False)
    if request.status == ApprovalStatus.PENDING:
        request.status = ApprovalStatus.EXPIRED
        request.decided_at = timezone.now()
        request.next_reminder_at = None
        request.save(update_fields=["status", "decided_at", "next_reminder_at"])
        ApprovalEvent.objects.create(request=request, kind=ApprovalEvent.Kind.EXPIRED)
    if request.on_expiration == "error":
        raise NodeError(f"Approval request expired: {request.title}", retryable=False)
    return output_for(request, ApprovalStatus.EXPIRED)


def cancel_for_node_run(run: NodeRun) -> int:
    """The node's cancel hook: cancel its pending requests; returns how many."""
    pending = list(ApprovalRequest.objects.select_for_update().filter(node_run=run, status=ApprovalStatus.PENDING))
    now = timezone.now()
    for request in pending:
        request.status = ApprovalStatus.CANCELLED
        request.decided_at = now
        request.next_reminder_at = None
        request.save(update_fields=["status", "decided_at", "next_reminder_at"])
        ApprovalEvent.objects.create(request=request, kind=ApprovalEvent.Kind.CANCELLED)
    return len(pending)


# --- Escalation (run by the reminders duty) ------------------------------------------------------


def escalate(request: ApprovalRequest) -> list[str]:
    """Add the escalation targets as approvers (usernames, or `role:NAME` for roles);
    returns the usernames that became eligible. Caller holds the locks."""
    before = eligible_usernames(request)
    users = [n for n in request.escalate_to if not n.startswith(ROLE_PREFIX)]
    roles = [n[len(ROLE_PREFIX) :] for n in request.escalate_to if n.startswith(ROLE_PREFIX)]
    request.approvers = [*request.approvers, *[u for u in users if u not in request.approvers]]
    request.approver_roles = [*request.approver_roles, *[r for r in roles if r not in request.approver_roles]]
    request.escalated_at = timezone.now()
    request.save(update_fields=["approvers", "approver_roles", "escalated_at"])
    added = sorted(eligible_usernames(request) - before)
    ApprovalEvent.objects.create(request=request, kind=ApprovalEvent.Kind.ESCALATED, data={"added": added})
    return added
