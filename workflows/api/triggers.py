"""Model-event bindings and cron schedules of your tenants' workflows; they run as you."""

from __future__ import annotations

from django.db import models
from rest_framework import mixins, serializers, viewsets

from .. import triggers
from ..models import ModelTrigger, Schedule
from ..selectors import tenant_ids_for, workflows_for


def _workflow(user, workflow_id):
    found = workflows_for(user).filter(pk=workflow_id).first()
    if found is None:
        raise serializers.ValidationError({"workflowId": ["no such workflow in your tenants"]})
    return found


class ModelTriggerSerializer(serializers.ModelSerializer):
    workflowId = serializers.UUIDField(source="workflow_id")
    runAs = serializers.CharField(source="run_as.username", read_only=True)
    isActive = serializers.BooleanField(source="is_active", required=False)
    value = serializers.JSONField(required=False, allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = ModelTrigger
        fields = ["id", "workflowId", "datasource", "event", "field", "value", "runAs", "isActive", "createdAt"]
        read_only_fields = ["id"]


class ScheduleSerializer(serializers.ModelSerializer):
    workflowId = serializers.UUIDField(source="workflow_id")
    runAs = serializers.CharField(source="run_as.username", read_only=True)
    isActive = serializers.BooleanField(source="is_active", required=False)
    input = serializers.JSONField(required=False)
    nextRunAt = serializers.DateTimeField(source="next_run_at", read_only=True, allow_null=True)
    lastRunAt = serializers.DateTimeField(source="last_run_at", read_only=True, allow_null=True)
    lastExecutionId = serializers.UUIDField(source="last_execution_id", read_only=True, allow_null=True)
    lastError = serializers.CharField(source="last_error", read_only=True)

    class Meta:
        model = Schedule
        fields = [
            "id",
            "workflowId",
            "cron",
            "timezone",
            "input",
            "runAs",
            "isActive",
            "nextRunAt",
            "lastRunAt",
            "lastExecutionId",
            "lastError",
        ]
        read_only_fields = ["id"]


class _TenantScoped(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    model: type[models.Model]

    def get_queryset(self):
        return self.model.objects.filter(tenant_id__in=tenant_ids_for(self.request.user)).select_related("run_as")


class ModelTriggerViewSet(_TenantScoped):
    """Start a workflow when a row of an exposed data source is inserted, updated or deleted."""

    model = ModelTrigger
    serializer_class = ModelTriggerSerializer

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = triggers.create_model_trigger(
            workflow=_workflow(self.request.user, data["workflow_id"]),
            datasource=data["datasource"],
            event=data["event"],
            field=data.get("field", ""),
            value=data.get("value"),
            run_as=self.request.user,
        )


class ScheduleViewSet(_TenantScoped):
    """Start a workflow on a cron schedule (five fields, in the schedule's time zone)."""

    model = Schedule
    serializer_class = ScheduleSerializer

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = triggers.create_schedule(
            workflow=_workflow(self.request.user, data["workflow_id"]),
            cron=data["cron"],
            tz=data.get("timezone") or "UTC",
            input=data.get("input"),
            run_as=self.request.user,
        )
