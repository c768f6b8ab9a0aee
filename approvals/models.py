"""Approval requests raised by the Request Approval node, their decisions and audit trail."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models

from workflows.models import Execution, NodeRun, Tenant, Workflow


class ApprovalStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"
    CANCELLED = "cancelled", "Cancelled"


class ApprovalType(models.TextChoices):
    SINGLE = "single", "Single (first decision wins)"
    ANY = "any", "Any (first approval wins)"
    ALL = "all", "All (unanimous or required count)"


class Channel(models.TextChoices):
    PAGE = "page", "Page"
    ADMIN = "admin", "Admin"
    API = "api", "API"
    EMAIL = "email", "E-mail link"
    SYSTEM = "system", "System"


class ApprovalRequest(models.Model):
    # The engine's locks (workflows.store.Locked) while a decision holds them; not stored.
    held: Any = None

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="approval_requests")
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="approval_requests")
    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="approval_requests")
    node_run = models.ForeignKey(NodeRun, on_delete=models.CASCADE, related_name="approval_requests")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    title = models.CharField(max_length=500)
    description = models.TextField(blank=True, default="")
    approval_type = models.CharField(max_length=10, choices=ApprovalType.choices, default=ApprovalType.SINGLE)
    approvers = models.JSONField(default=list, blank=True)
    approver_roles = models.JSONField(default=list, blank=True)
    # Usernames who delegated the request away: no longer eligible, even through a role.
    excluded = models.JSONField(default=list, blank=True)
    required_approvals = models.PositiveIntegerField(null=True, blank=True)
    context_data = models.JSONField(default=dict, blank=True)
    form_fields = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=20, choices=ApprovalStatus.choices, default=ApprovalStatus.PENDING)
    deadline = models.DateTimeField(null=True, blank=True)
    on_rejection = models.CharField(max_length=10, default="error")
    on_expiration = models.CharField(max_length=10, default="error")
    allow_self_approval = models.BooleanField(default=True)
    send_notification = models.BooleanField(default=False)
    email_subject = models.CharField(max_length=500, blank=True, default="")
    approval_url = models.CharField(max_length=1000, blank=True, default="")
    remind_every = models.DurationField(null=True, blank=True)
    next_reminder_at = models.DateTimeField(null=True, blank=True)
    escalate_at = models.DateTimeField(null=True, blank=True)
    escalate_to = models.JSONField(default=list, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["tenant", "status", "-created_at"]),
            models.Index(fields=["status", "next_reminder_at"]),
            models.Index(fields=["status", "escalate_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.status})"

    @property
    def is_pending(self) -> bool:
        return self.status == ApprovalStatus.PENDING


class ApprovalDecision(models.Model):
    class Decision(models.TextChoices):
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    request = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="decisions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="approval_decisions")
    decision = models.CharField(max_length=10, choices=Decision.choices)
    comment = models.TextField(blank=True, default="")
    form_values = models.JSONField(default=dict, blank=True)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.PAGE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["request", "created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["request", "user"], name="one_decision_per_user")]

    def __str__(self) -> str:
        return f"{self.user} {self.decision} {self.request_id}"

    def as_output(self) -> dict:
        return {
            "user": self.user.get_username(),
            "decision": self.decision,
            "comment": self.comment,
            "time": self.created_at.isoformat(),
            "formValues": self.form_values,
            "channel": self.channel,
        }


class ApprovalEvent(models.Model):
    """The audit trail beside the decisions: creation, delegation, reminders, escalation, endings."""

    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        NOTIFIED = "notified", "Notified"
        DELEGATED = "delegated", "Delegated"
        REMINDED = "reminded", "Reminded"
        ESCALATED = "escalated", "Escalated"
        DECIDED = "decided", "Decided"
        EXPIRED = "expired", "Expired"
        CANCELLED = "cancelled", "Cancelled"

    request = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    target = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    comment = models.TextField(blank=True, default="")
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.SYSTEM)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["request", "created_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} on {self.request_id}"
