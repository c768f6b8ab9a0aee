"""Serializers for the workflows API; JSON keys are camelCase on the wire."""
from __future__ import annotations

from rest_framework import serializers

from ..models import Execution, NodeRun, Workflow


class WorkflowSerializer(serializers.ModelSerializer):
    tenant = serializers.UUIDField(source="tenant_id", required=False)
    isActive = serializers.BooleanField(source="is_active", required=False, default=True)
    definition = serializers.JSONField(required=True)
    version = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
    updatedAt = serializers.DateTimeField(source="updated_at", read_only=True)

    class Meta:
        model = Workflow
        fields = ["id", "tenant", "name", "description", "isActive", "definition", "version", "createdAt", "updatedAt"]
        read_only_fields = ["id"]

    def get_version(self, obj: Workflow) -> int | None:
        latest = obj.latest_version
        return latest.number if latest else None

    def validate_definition(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("must be a JSON object with nodes and edges")
        return value


class WorkflowUpdateSerializer(WorkflowSerializer):
    definition = serializers.JSONField(required=False)


def refuse_unknown_keys(data, known) -> None:
    """A request body naming a key it may not have is refused with the key named: a typo
    (`inputs` for `input`) must fail loudly, never run a workflow with an empty input."""
    if not isinstance(data, dict):
        return
    unknown = sorted(str(key) for key in data if key not in known)
    if unknown:
        expected = ", ".join(sorted(known))
        raise serializers.ValidationError(
            {key: [serializers.ErrorDetail(f"Unknown field; expected one of: {expected}", code="unknown_field")]
             for key in unknown}
        )


class StrictSerializer(serializers.Serializer):
    """A request body that refuses keys it does not declare (see refuse_unknown_keys)."""

    def to_internal_value(self, data):
        refuse_unknown_keys(data, set(self.fields))
        return super().to_internal_value(data)


class InputSerializer(StrictSerializer):
    """A body carrying an execution's `input`: a JSON object, empty when left out."""

    input = serializers.JSONField(required=False, default=dict)

    def validate_input(self, value):
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise serializers.ValidationError("must be a JSON object")
        return value


class TriggerSerializer(InputSerializer):
    version = serializers.CharField(required=False, allow_null=True)
    idempotencyKey = serializers.CharField(required=False, allow_null=True, max_length=255)


class TestRunSerializer(InputSerializer):
    definition = serializers.JSONField(required=False, allow_null=True, help_text="An unsaved definition to test")

    def validate_definition(self, value):
        if value is not None and not isinstance(value, dict):
            raise serializers.ValidationError("must be a JSON object with nodes and edges")
        return value


class StatsWindowSerializer(serializers.Serializer):
    since = serializers.DateTimeField()
    executions = serializers.IntegerField()
    successes = serializers.IntegerField()
    failures = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    inFlight = serializers.IntegerField()
    failureRate = serializers.FloatField(allow_null=True)
    p50Seconds = serializers.FloatField(allow_null=True)
    p95Seconds = serializers.FloatField(allow_null=True)


class StatsNodeSerializer(serializers.Serializer):
    nodeId = serializers.CharField()
    label = serializers.CharField()
    failures = serializers.IntegerField()
    retries = serializers.IntegerField()
    runs = serializers.IntegerField()


class WorkflowStatsSerializer(serializers.Serializer):
    """Schema of GET /api/workflows/{id}/stats/ (windows keyed 15m, 1h, 1d)."""

    workflowId = serializers.UUIDField()
    generatedAt = serializers.DateTimeField()
    windows = serializers.DictField(child=StatsWindowSerializer())
    topFailingNodes = StatsNodeSerializer(many=True)


class TriggerResultSerializer(serializers.Serializer):
    executionId = serializers.UUIDField()
    status = serializers.CharField()


class NodeRunSerializer(serializers.ModelSerializer):
    nodeId = serializers.CharField(source="node_id")
    type = serializers.CharField(source="node_type")
    resolvedConfig = serializers.JSONField(source="resolved_config")
    pauseData = serializers.JSONField(source="pause_data")
    wakeAt = serializers.DateTimeField(source="wake_at")
    availableAt = serializers.DateTimeField(source="available_at")
    startedAt = serializers.DateTimeField(source="started_at")
    finishedAt = serializers.DateTimeField(source="finished_at")

    class Meta:
        model = NodeRun
        fields = [
            "nodeId", "label", "type", "status", "branch", "attempt", "output", "error", "logs",
            "resolvedConfig", "pauseData", "wakeAt", "availableAt", "startedAt", "finishedAt",
        ]
        read_only_fields = fields


class ExecutionSerializer(serializers.ModelSerializer):
    workflowId = serializers.UUIDField(source="workflow_id")
    workflowName = serializers.CharField(source="workflow.name")
    version = serializers.IntegerField(source="workflow_version.number")
    runAs = serializers.CharField(source="run_as.username")
    isTest = serializers.BooleanField(source="is_test")
    parentExecutionId = serializers.UUIDField(source="parent_execution_id", allow_null=True)
    idempotencyKey = serializers.CharField(source="idempotency_key", allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")
    startedAt = serializers.DateTimeField(source="started_at")
    finishedAt = serializers.DateTimeField(source="finished_at")

    class Meta:
        model = Execution
        fields = [
            "id", "workflowId", "workflowName", "version", "status", "runAs", "isTest", "parentExecutionId",
            "idempotencyKey", "error", "createdAt", "startedAt", "finishedAt",
        ]
        read_only_fields = fields


class ExecutionDetailSerializer(ExecutionSerializer):
    nodeRuns = NodeRunSerializer(source="node_runs", many=True)

    class Meta(ExecutionSerializer.Meta):
        fields = [*ExecutionSerializer.Meta.fields, "input", "context", "nodeRuns"]
        read_only_fields = fields


class RetrySerializer(StrictSerializer):
    fromNode = serializers.CharField(required=False, allow_null=True)
    version = serializers.CharField(required=False, allow_null=True)
