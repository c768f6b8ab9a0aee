"""Saved widgets and the shared registry of live widget connections."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Widget(models.Model):
    """A saved dashboard widget: how to display (type, config) what a workflow produces."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey("workflows.Tenant", on_delete=models.CASCADE, related_name="widgets")
    name = models.CharField(max_length=200)
    widget_type = models.CharField(max_length=50)
    # Opaque blob with {{ctx.*}} templates, resolved against the execution context.
    config = models.JSONField(default=dict, blank=True)
    workflow = models.ForeignKey("workflows.Workflow", on_delete=models.CASCADE, related_name="widgets")
    workflow_config = models.JSONField(default=dict, blank=True)
    # Input of the executions the dashboard starts for this widget.
    input_params = models.JSONField(default=dict, blank=True)
    execution_mode = models.CharField(
        max_length=10, choices=[("ASYNC", "Live (ASYNC)"), ("SYNC", "On completion (SYNC)")], default="ASYNC"
    )
    position = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tenant", "position", "name"]

    def __str__(self) -> str:
        return self.name


class WidgetConnection(models.Model):
    """One widget registered on one socket, watching one execution (shared by all processes)."""

    # The socket's channel name: unique per connection, across processes.
    channel_name = models.CharField(max_length=200)
    widget_id = models.CharField(max_length=200)
    execution = models.ForeignKey("workflows.Execution", on_delete=models.CASCADE, related_name="+")
    tenant = models.ForeignKey("workflows.Tenant", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.CASCADE, related_name="+")
    mode = models.CharField(max_length=20)
    widget_type = models.CharField(max_length=50, blank=True, default="")
    widget_config = models.JSONField(null=True, blank=True)
    workflow_config = models.JSONField(null=True, blank=True)
    server = models.CharField(max_length=200, blank=True, default="")
    connected_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["channel_name", "widget_id"], name="unique_widget_per_socket")]
        indexes = [models.Index(fields=["execution"]), models.Index(fields=["last_seen_at"])]

    def __str__(self) -> str:
        return f"{self.widget_id} -> {self.execution_id}"
