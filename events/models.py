"""Workflow API keys, the waits of Wait for Event nodes, and signals buffered before a wait.

Event keys are scoped by tenant: a signal authenticated by a tenant's API key only ever
matches that tenant's waits, so two tenants may both wait on `payments / order-1`.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from workflows.models import Execution, NodeRun, Tenant


class WorkflowApiKey(models.Model):
    """A secret an outside system uses for the signal API and webhooks; only its hash is kept."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=200)
    # The public first part of the key (`wfb_Ab12Cd34`): finds the row, shown in lists.
    prefix = models.CharField(max_length=32, unique=True, editable=False)
    # SHA-256 of the whole key, hex. The key carries >= 128 random bits, so a fast hash suffices.
    key_hash = models.CharField(max_length=64, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="workflow_api_keys"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "workflow API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class WaitStatus(models.TextChoices):
    WAITING = "waiting", "Waiting"
    RECEIVED = "received", "Received"
    EXPIRED = "expired", "Expired"
    CANCELLED = "cancelled", "Cancelled"


class OnExpiration(models.TextChoices):
    ERROR = "error", "Fail the node"
    CONTINUE = "continue", "Continue"


class WaitEvent(models.Model):
    """One Wait for Event node run waiting on (namespace, key) of its tenant."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="wait_events")
    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="wait_events")
    node_run = models.ForeignKey(NodeRun, on_delete=models.CASCADE, related_name="wait_events")
    namespace = models.CharField(max_length=255)
    key = models.CharField(max_length=255)
    status = models.CharField(max_length=20, choices=WaitStatus.choices, default=WaitStatus.WAITING)
    title = models.CharField(max_length=500, blank=True, default="")
    description = models.TextField(blank=True, default="")
    context_data = models.JSONField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    on_expiration = models.CharField(max_length=20, choices=OnExpiration.choices, default=OnExpiration.ERROR)
    payload = models.JSONField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    received_from = models.CharField(max_length=200, blank=True, default="")
    api_key = models.ForeignKey(WorkflowApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The Idempotency-Key of the signal that was delivered, to answer its retries the same way.
    signal_idempotency_key = models.CharField(max_length=255, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # The database, not only the code, keeps one waiter per key of a tenant.
            models.UniqueConstraint(
                fields=["tenant", "namespace", "key"],
                condition=Q(status="waiting"),
                name="unique_waiting_event_key",
            )
        ]
        indexes = [
            models.Index(fields=["tenant", "namespace", "key", "-created_at"]),
            models.Index(fields=["status", "expires_at"]),
            # The open waits in id order: the purge duty's orphan check walks them in batches.
            models.Index(fields=["id"], condition=Q(status="waiting"), name="waitevent_open_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.namespace} / {self.key} ({self.status})"


class BufferedSignal(models.Model):
    """A signal that arrived before any execution waited on its key; the first wait consumes it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        CONSUMED = "consumed", "Consumed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="buffered_signals")
    namespace = models.CharField(max_length=255)
    key = models.CharField(max_length=255)
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    received_from = models.CharField(max_length=200, blank=True, default="")
    api_key = models.ForeignKey(WorkflowApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)
    wait_event = models.ForeignKey(WaitEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    consumed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "namespace", "key"],
                condition=Q(status="pending"),
                name="unique_pending_signal_key",
            )
        ]
        indexes = [models.Index(fields=["tenant", "namespace", "key"]), models.Index(fields=["expires_at"])]

    def __str__(self) -> str:
        return f"{self.namespace} / {self.key} ({self.status})"
