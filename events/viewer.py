"""What the execution viewer shows operators about a paused Wait for Event node: the key it
waits on, its deadline, signals buffered for that key, and how to send the signal."""

from __future__ import annotations

import json
import shlex

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from rest_framework import serializers

from workflows.operator import is_operator

from .models import BufferedSignal, OnExpiration, WaitEvent, WaitStatus

API_KEY_PLACEHOLDER = "$WORKFLOW_API_KEY"


class BufferedSignalSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    receivedAt = serializers.DateTimeField(source="created_at")
    receivedFrom = serializers.CharField(source="received_from", allow_blank=True)
    expiresAt = serializers.DateTimeField(source="expires_at")
    payload = serializers.JSONField()


class EventPauseSerializer(serializers.Serializer):
    """A paused Wait for Event node, for the viewer's panel."""

    kind = serializers.ChoiceField(choices=["event"])
    waitEventId = serializers.UUIDField()
    status = serializers.ChoiceField(choices=WaitStatus.values)
    namespace = serializers.CharField()
    key = serializers.CharField()
    title = serializers.CharField(allow_blank=True)
    description = serializers.CharField(allow_blank=True)
    contextData = serializers.JSONField(allow_null=True)
    since = serializers.DateTimeField()
    deadline = serializers.DateTimeField(allow_null=True, help_text="When the wait expires (null: never)")
    onExpiration = serializers.ChoiceField(choices=OnExpiration.values)
    bufferedSignals = BufferedSignalSerializer(many=True, help_text="Signals for this key no wait has taken yet")
    signalUrl = serializers.CharField(
        help_text="POST {payload} here as an operator (session or token) to deliver the signal"
    )
    curl = serializers.CharField(help_text="The public signal API call, with a placeholder for the workflow API key")
    canSignal = serializers.BooleanField(
        help_text="Whether the caller may send the signal from the viewer (an operator; the wait is open)"
    )


def curl_command(namespace: str, key: str, payload: dict | None = None) -> str:
    """A copyable call of the public signal API; the key stays a shell variable, never a secret."""
    url = settings.SITE_URL.rstrip("/") + reverse("events-signal")
    body = json.dumps({"eventNamespace": namespace, "eventKey": key, "payload": payload or {}})
    return (
        f'curl -X POST {shlex.quote(url)} -H "Authorization: Bearer {API_KEY_PLACEHOLDER}" '
        f"-H 'Content-Type: application/json' -d {shlex.quote(body)}"
    )


def describe_pause(run, user) -> dict | None:
    """The wait a paused node run holds, as EventPauseSerializer data."""
    wait = WaitEvent.objects.filter(node_run_id=run.pk).order_by("-created_at").first()
    if wait is None:
        return None
    buffered = BufferedSignal.objects.filter(
        tenant_id=wait.tenant_id,
        namespace=wait.namespace,
        key=wait.key,
        status=BufferedSignal.Status.PENDING,
        expires_at__gt=timezone.now(),
    ).order_by("created_at")[:20]
    data = {
        "kind": "event",
        "waitEventId": wait.pk,
        "status": wait.status,
        "namespace": wait.namespace,
        "key": wait.key,
        "title": wait.title,
        "description": wait.description,
        "contextData": wait.context_data,
        "since": wait.created_at,
        "deadline": wait.expires_at,
        "onExpiration": wait.on_expiration,
        "bufferedSignals": list(buffered),
        "signalUrl": reverse("events-wait-signal", kwargs={"pk": wait.pk}),
        "curl": curl_command(wait.namespace, wait.key),
        "canSignal": wait.status == WaitStatus.WAITING and is_operator(user, wait.tenant_id),
    }
    return EventPauseSerializer(data).data
