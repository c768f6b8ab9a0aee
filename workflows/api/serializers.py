"""Serializers for the workflows API; JSON keys are camelCase on the wire."""

from __future__ import annotations

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers

from .. import operator
from ..models import BulkOperation, Execution, NodeRun, NodeRunStatus, OperatorAction, Workflow, WorkflowVersion
from ..nodes import registry


def refuse_unknown_keys(data, known) -> None:
    """A request body naming a key it may not have is refused with the key named: a typo
    (`inputs` for `input`) must fail loudly, never run a workflow with an empty input."""
    if not isinstance(data, dict):
        return
    unknown = sorted(str(key) for key in data if key not in known)
    if unknown:
        expected = ", ".join(sorted(known))
        raise serializers.ValidationError(
            {
                key: [serializers.ErrorDetail(f"Unknown field; expected one of: {expected}", code="unknown_field")]
                for key in unknown
            }
        )


class RefuseUnknownKeys:
    """Mixin for serializers whose request bodies refuse keys they do not declare."""

    def to_internal_value(self, data):
        refuse_unknown_keys(data, set(self.fields))
        return super().to_internal_value(data)


class StrictSerializer(RefuseUnknownKeys, serializers.Serializer):
    """A request body that refuses keys it does not declare (see refuse_unknown_keys)."""


class WorkflowSerializer(RefuseUnknownKeys, serializers.ModelSerializer):
    tenant = serializers.UUIDField(source="tenant_id", required=False)
    isActive = serializers.BooleanField(source="is_active", required=False, default=True)
    definition = serializers.JSONField(required=True)
    version = serializers.SerializerMethodField()
    errorWorkflow = serializers.UUIDField(
        source="error_workflow_id",
        required=False,
        allow_null=True,
        help_text="A workflow of the same tenant started when an execution of this one ends in error "
        "(with the failed execution's id, workflow, node, error and input)",
    )
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
    updatedAt = serializers.DateTimeField(source="updated_at", read_only=True)

    class Meta:
        model = Workflow
        fields = [
            "id",
            "tenant",
            "name",
            "description",
            "isActive",
            "definition",
            "version",
            "errorWorkflow",
            "createdAt",
            "updatedAt",
        ]
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
    baseVersion = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        write_only=True,
        help_text="The version the editor started from: a changed definition saved against an older one answers 409",
    )

    class Meta(WorkflowSerializer.Meta):
        fields = [*WorkflowSerializer.Meta.fields, "baseVersion"]


# --- Errors (for the schema: every error answer has this shape) ----------------------------


class ProblemSerializer(serializers.Serializer):
    field = serializers.CharField(allow_null=True)
    message = serializers.CharField()
    code = serializers.CharField(required=False)
    nodeId = serializers.CharField(required=False, allow_null=True)


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    field = serializers.CharField(required=False)
    errors = ProblemSerializer(many=True, required=False)  # type: ignore[assignment]  # a declared field (DRF's metaclass), not the base attribute
    detail = serializers.CharField()


class SavedVersionSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    createdBy = serializers.CharField(allow_null=True)
    createdAt = serializers.DateTimeField()


class StaleVersionErrorSerializer(ErrorSerializer):
    latestVersion = SavedVersionSerializer(help_text="Who saved the version that is now the latest, and when")


# --- The editor's checks, versions and diffs ------------------------------------------------


class DefinitionProblemSerializer(serializers.Serializer):
    nodeId = serializers.CharField(allow_null=True)
    field = serializers.CharField()
    message = serializers.CharField()


class InputFieldSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.CharField()
    required = serializers.BooleanField()  # type: ignore[assignment]  # a declared field (DRF's metaclass), not the base attribute
    enum = serializers.ListField(
        child=serializers.JSONField(), allow_null=True, help_text="The allowed values, if limited"
    )
    description = serializers.CharField(allow_blank=True)
    default = serializers.JSONField(allow_null=True)


class ValidateRequestSerializer(StrictSerializer):
    definition = serializers.JSONField(required=False, help_text="A definition being edited")
    text = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text="Instead of `definition`: the JSON text of an imported file (a definition or an exported document)",
    )

    def validate(self, data):
        if ("definition" in data) == ("text" in data):
            raise serializers.ValidationError({"definition": ["give either definition or text"]})
        return data


class ValidationResultSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    errors = DefinitionProblemSerializer(many=True, help_text="Problems that block saving")  # type: ignore[assignment]  # a declared field (DRF's metaclass), not the base attribute
    warnings = DefinitionProblemSerializer(
        many=True, help_text="Templates naming a node that does not run before theirs"
    )
    scopes = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="For each node id, the ids of the nodes that run before it (what its templates may name)",
    )
    inputFields = InputFieldSerializer(
        many=True,
        help_text="The fields of the workflow's input schema (the trigger's inputSchema): what run forms are made of",
    )
    definition = serializers.JSONField(
        allow_null=True, help_text="The definition checked (read from `text` for an import)"
    )


class DefinitionRequestSerializer(StrictSerializer):
    definition = serializers.JSONField()

    def validate_definition(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("must be a JSON object with nodes and edges")
        return value


class PositionSerializer(serializers.Serializer):
    id = serializers.CharField()
    x = serializers.FloatField()
    y = serializers.FloatField()


class LayoutResultSerializer(serializers.Serializer):
    nodes = PositionSerializer(many=True)
    width = serializers.FloatField()
    height = serializers.FloatField()


class VersionSerializer(serializers.ModelSerializer):
    createdBy = serializers.CharField(source="created_by.username", allow_null=True, default=None)
    createdAt = serializers.DateTimeField(source="created_at")
    nodeCount = serializers.SerializerMethodField()

    class Meta:
        model = WorkflowVersion
        fields = ["number", "createdBy", "createdAt", "nodeCount"]
        read_only_fields = fields

    def get_nodeCount(self, obj: WorkflowVersion) -> int:
        nodes = obj.definition.get("nodes") if isinstance(obj.definition, dict) else None
        return len(nodes) if isinstance(nodes, list) else 0


class VersionDetailSerializer(VersionSerializer):
    class Meta(VersionSerializer.Meta):
        fields = [*VersionSerializer.Meta.fields, "definition"]
        read_only_fields = fields


class RestoreSerializer(StrictSerializer):
    baseVersion = serializers.IntegerField(required=False, allow_null=True, min_value=1)


class ExportDocumentSerializer(serializers.Serializer):
    format = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    isActive = serializers.BooleanField()
    version = serializers.IntegerField(allow_null=True)
    definition = serializers.JSONField(allow_null=True)


class DiffQuerySerializer(serializers.Serializer):
    # `from` is a Python keyword, hence the declared names.
    def get_fields(self):
        return {"from": serializers.IntegerField(min_value=1), "to": serializers.IntegerField(min_value=1)}


class DiffNodeSerializer(serializers.Serializer):
    nodeId = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a declared field (DRF's metaclass), not the base attribute
    type = serializers.CharField(allow_blank=True)


class FieldChangeSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="label, type, config.<key> or retry.<key>")
    before = serializers.JSONField(allow_null=True)
    after = serializers.JSONField(allow_null=True)


class NodeChangeSerializer(DiffNodeSerializer):
    changes = FieldChangeSerializer(many=True)


class DiffEdgeSerializer(serializers.Serializer):
    source = serializers.CharField()  # type: ignore[assignment]  # a declared field (DRF's metaclass), not the base attribute
    target = serializers.CharField()
    branch = serializers.CharField(allow_null=True)


class DiffSerializer(serializers.Serializer):
    fromVersion = serializers.IntegerField()
    toVersion = serializers.IntegerField()
    isEmpty = serializers.BooleanField()
    added = DiffNodeSerializer(many=True)
    removed = DiffNodeSerializer(many=True)
    changed = NodeChangeSerializer(many=True)
    moved = serializers.ListField(child=serializers.CharField(), help_text="Nodes that only moved on the canvas")
    edgesAdded = DiffEdgeSerializer(many=True)
    edgesRemoved = DiffEdgeSerializer(many=True)


class RunFromHereSerializer(StrictSerializer):
    nodeId = serializers.CharField(max_length=100, help_text="The node to run again from")
    definition = serializers.JSONField(
        required=False,
        allow_null=True,
        help_text="An unsaved definition to run the copy on (nodes before nodeId must match the run's)",
    )

    def validate_definition(self, value):
        if value is not None and not isinstance(value, dict):
            raise serializers.ValidationError("must be a JSON object with nodes and edges")
        return value


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
    label = serializers.CharField()  # type: ignore[assignment]  # a declared field (DRF's metaclass), not the base attribute
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


def _caller(serializer):
    """The user a serializer answers for: `user` in its context, or the request's."""
    context = serializer.context
    return context.get("user") or getattr(context.get("request"), "user", None)


def pause_serializers() -> dict:
    """The serializers of the node types that describe their pauses, by their `kind`."""
    found = {}
    for node_type in registry.all():
        if node_type.pause_serializer is not None:
            kind = next(iter(node_type.pause_serializer().fields["kind"].choices))
            found[kind] = node_type.pause_serializer
    return found


class NodeRunSerializer(serializers.ModelSerializer):
    nodeId = serializers.CharField(source="node_id")
    type = serializers.CharField(source="node_type")
    resolvedConfig = serializers.SerializerMethodField(
        help_text="The config the step ran with, its templates resolved against the execution context (null before it ran)"
    )
    waitingFor = serializers.SerializerMethodField(
        help_text="For a paused node whose type describes its pauses: what it waits for (approval, event...)"
    )
    pauseData = serializers.JSONField(source="pause_data")
    wakeAt = serializers.DateTimeField(source="wake_at", allow_null=True)
    availableAt = serializers.DateTimeField(source="available_at", allow_null=True)
    startedAt = serializers.DateTimeField(source="started_at", allow_null=True)
    finishedAt = serializers.DateTimeField(source="finished_at", allow_null=True)

    class Meta:
        model = NodeRun
        fields = [
            "nodeId",
            "label",
            "type",
            "status",
            "branch",
            "attempt",
            "output",
            "error",
            "logs",
            "resolvedConfig",
            "pauseData",
            "waitingFor",
            "wakeAt",
            "availableAt",
            "startedAt",
            "finishedAt",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.JSONField(allow_null=True))
    def get_resolvedConfig(self, run: NodeRun):
        stored = run.resolved_config
        node_type = registry.get(run.node_type)
        if stored is None or node_type is None or node_type.resolve_config:
            return stored  # the engine resolved it before the step ran: what the step saw
        # A node that resolves its own config (Request Approval, For Each) stored it as written.
        try:
            return node_type.display_config(stored, run.execution.context or {})
        except ValueError:  # a template that is not a path: show it as written
            return stored

    @extend_schema_field(
        PolymorphicProxySerializer(
            component_name="PauseDetails",
            serializers=pause_serializers,
            resource_type_field_name="kind",
            allow_null=True,
        )
    )
    def get_waitingFor(self, run: NodeRun) -> dict | None:
        if run.status != NodeRunStatus.PAUSED:
            return None
        node_type = registry.get(run.node_type)
        if node_type is None or node_type.describe_pause is None:
            return None
        return node_type.describe_pause(run, _caller(self))


class ExecutionSerializer(serializers.ModelSerializer):
    workflowId = serializers.UUIDField(source="workflow_id")
    workflowName = serializers.CharField(source="workflow.name")
    version = serializers.IntegerField(source="workflow_version.number")
    runAs = serializers.CharField(source="run_as.username")
    isTest = serializers.BooleanField(source="is_test")
    parentExecutionId = serializers.UUIDField(source="parent_execution_id", allow_null=True)
    idempotencyKey = serializers.CharField(source="idempotency_key", allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")
    startedAt = serializers.DateTimeField(source="started_at", allow_null=True)
    finishedAt = serializers.DateTimeField(source="finished_at", allow_null=True)

    class Meta:
        model = Execution
        fields = [
            "id",
            "workflowId",
            "workflowName",
            "version",
            "status",
            "runAs",
            "isTest",
            "parentExecutionId",
            "idempotencyKey",
            "error",
            "createdAt",
            "startedAt",
            "finishedAt",
        ]
        read_only_fields = fields


class OperatorActionSerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="username")
    createdAt = serializers.DateTimeField(source="created_at")

    class Meta:
        model = OperatorAction
        fields = ["id", "action", "user", "reason", "details", "createdAt"]
        read_only_fields = fields


class ExecutionDetailSerializer(ExecutionSerializer):
    nodeRuns = NodeRunSerializer(source="node_runs", many=True)
    operatorActions = serializers.SerializerMethodField(
        help_text="Who cancelled, retried or ran it again, when and why"
    )
    allowedActions = serializers.SerializerMethodField(
        help_text="What the caller may do to the execution in its state (workflows.operator.allowed_actions)"
    )

    class Meta(ExecutionSerializer.Meta):
        fields = [*ExecutionSerializer.Meta.fields, "input", "context", "nodeRuns", "operatorActions", "allowedActions"]
        read_only_fields = fields

    @extend_schema_field(OperatorActionSerializer(many=True))
    def get_operatorActions(self, obj: Execution) -> list[dict]:
        return OperatorActionSerializer(obj.operator_actions.order_by("created_at", "id"), many=True).data  # type: ignore[return-value]  # many=True gives a ReturnList

    @extend_schema_field(
        serializers.ListField(child=serializers.ChoiceField(choices=[operator.CANCEL, operator.RETRY]))
    )
    def get_allowedActions(self, execution: Execution) -> list[str]:
        user = _caller(self)
        return operator.allowed_actions(execution, user) if user is not None else []


class RetrySerializer(StrictSerializer):
    fromNode = serializers.CharField(required=False, allow_null=True)
    version = serializers.CharField(required=False, allow_null=True)
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=2000,
        help_text="Why (kept in the execution's record of operator actions)",
    )


# --- Operator actions and bulk operations -------------------------------------------------


REASON_HELP = "Why (kept in the execution's record of operator actions)"


class CancelSerializer(StrictSerializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000, help_text=REASON_HELP)


class RunAgainSerializer(InputSerializer):
    input = serializers.JSONField(
        required=False, allow_null=True, help_text="An edited copy of the input; default: the same input"
    )
    version = serializers.CharField(
        required=False, allow_null=True, help_text="latest or a number; default: the same version"
    )
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000, help_text=REASON_HELP)

    def validate_input(self, value):
        if value is not None and not isinstance(value, dict):
            raise serializers.ValidationError("must be a JSON object")
        return value


class BulkOperationRequestSerializer(StrictSerializer):
    tenant = serializers.UUIDField(
        required=False, help_text="Needed only by users of several tenants (as for workflows)"
    )
    action = serializers.ChoiceField(
        choices=["cancel", "retry"],
        help_text="cancel: running and paused executions; retry: failed ones, from the failed node",
    )
    filters = serializers.DictField(
        required=False,
        default=dict,
        help_text='The executions list\'s filters as its query parameters, e.g. {"status": "error", "input": ["orderId:42"]}',
    )
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000, help_text=REASON_HELP)
    dryRun = serializers.BooleanField(
        required=False, default=False, help_text="Only count the executions it would act on"
    )
    expectedCount = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=0,
        help_text="The count the operator confirmed: a different count now answers 409, nothing done",
    )


class BulkCountSerializer(serializers.Serializer):
    action = serializers.CharField()
    count = serializers.IntegerField()


class BulkOperationSerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="username")
    createdAt = serializers.DateTimeField(source="created_at")
    finishedAt = serializers.DateTimeField(source="finished_at", allow_null=True)

    class Meta:
        model = BulkOperation
        fields = [
            "id",
            "action",
            "status",
            "user",
            "reason",
            "filters",
            "total",
            "processed",
            "succeeded",
            "failed",
            "errors",
            "createdAt",
            "finishedAt",
        ]
        read_only_fields = fields
