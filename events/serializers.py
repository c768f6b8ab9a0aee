"""Request and response bodies of the events API: each is the validation and the OpenAPI
schema at once, so what is documented is what is returned."""

from __future__ import annotations

from rest_framework import serializers

from workflows.api.parsers import JSONParser
from workflows.api.serializers import StrictSerializer
from workflows.exceptions import InvalidInput

from .services import MAX_NAME_LENGTH


class JSONObjectParser(JSONParser):
    """Any body read as JSON whatever its Content-Type (webhook senders often say
    text/plain), under the API's depth and clean-text rules, and it must be an object;
    errors name the field (`body` when the body itself is at fault)."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        if not isinstance(data, dict):
            raise InvalidInput("The body must be a JSON object", field="body")
        return data


class StringField(serializers.CharField):
    """A CharField that refuses numbers and booleans instead of turning them into text."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


# --- Signals -------------------------------------------------------------------------------


class SignalRequestSerializer(StrictSerializer):
    eventNamespace = StringField(max_length=MAX_NAME_LENGTH)
    eventKey = StringField(max_length=MAX_NAME_LENGTH)
    payload = serializers.DictField(required=False, allow_null=True)


class SignalAnswerSerializer(serializers.Serializer):
    """A events.services.SignalResult: delivered to a wait (200) or buffered (202)."""

    success = serializers.SerializerMethodField()
    waitEventId = serializers.UUIDField(source="wait_event_id", allow_null=True)
    executionId = serializers.UUIDField(source="execution_id", allow_null=True)
    workflowResumed = serializers.BooleanField(source="resumed")
    buffered = serializers.SerializerMethodField(help_text="Only when buffered")
    signalId = serializers.UUIDField(source="signal_id", required=False, help_text="Only when buffered")
    expiresAt = serializers.DateTimeField(
        source="expires_at", required=False, allow_null=True, help_text="Only when buffered"
    )

    BUFFERED_ONLY = ("buffered", "signalId", "expiresAt")

    def get_success(self, result) -> bool:
        return True

    def get_buffered(self, result) -> bool:
        return not result.resumed

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if instance.resumed:
            for name in self.BUFFERED_ONLY:
                data.pop(name, None)
        return data


# --- Waits and buffered signals ---------------------------------------------------------------


class WaitSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    namespace = serializers.CharField()
    key = serializers.CharField()
    status = serializers.CharField()
    title = serializers.CharField()
    executionId = serializers.UUIDField(source="execution_id")
    workflowId = serializers.UUIDField(source="execution.workflow_id")
    workflowName = serializers.CharField(source="execution.workflow.name")
    nodeLabel = serializers.CharField(source="node_run.label")
    since = serializers.DateTimeField(source="created_at")
    deadline = serializers.DateTimeField(source="expires_at", allow_null=True)
    onExpiration = serializers.CharField(source="on_expiration")
    contextData = serializers.JSONField(source="context_data")
    receivedAt = serializers.DateTimeField(source="received_at", allow_null=True)
    receivedFrom = serializers.SerializerMethodField()
    finishedAt = serializers.DateTimeField(source="finished_at", allow_null=True)

    def get_receivedFrom(self, wait) -> str | None:
        return wait.received_from or None


class PendingSignalSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    namespace = serializers.CharField()
    key = serializers.CharField()
    receivedAt = serializers.DateTimeField(source="created_at")
    receivedFrom = serializers.SerializerMethodField()
    expiresAt = serializers.DateTimeField(source="expires_at", allow_null=True)
    payload = serializers.JSONField()

    def get_receivedFrom(self, signal) -> str | None:
        return signal.received_from or None


class WaitListSerializer(serializers.Serializer):
    """A page of waits, with the signals buffered for waits to come."""

    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = WaitSerializer(many=True)
    bufferedSignals = PendingSignalSerializer(many=True)


# --- API keys -----------------------------------------------------------------------------------


class ApiKeySerializer(serializers.Serializer):
    """A key as listed: never its secret."""

    id = serializers.UUIDField()
    name = serializers.CharField()
    keyPrefix = serializers.CharField(source="prefix")
    tenant = serializers.UUIDField(source="tenant_id")
    createdBy = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at")
    lastUsedAt = serializers.DateTimeField(source="last_used_at", allow_null=True)
    revokedAt = serializers.DateTimeField(source="revoked_at", allow_null=True)
    revoked = serializers.BooleanField(source="is_revoked")

    def get_createdBy(self, api_key) -> str | None:
        return api_key.created_by.get_username() if api_key.created_by else None


class ApiKeyCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    tenant = serializers.UUIDField(required=False)


class ApiKeyCreatedSerializer(serializers.Serializer):
    """A new key, with its secret (`key`, from the context): shown this once."""

    id = serializers.UUIDField()
    name = serializers.CharField()
    key = serializers.SerializerMethodField()
    keyPrefix = serializers.CharField(source="prefix")
    tenant = serializers.UUIDField(source="tenant_id")
    createdAt = serializers.DateTimeField(source="created_at")

    def get_key(self, api_key) -> str:
        return self.context["key"]


# --- The webhook trigger --------------------------------------------------------------------


class WebhookStartedSerializer(serializers.Serializer):
    executionId = serializers.UUIDField(source="execution_id")
    status = serializers.CharField()
