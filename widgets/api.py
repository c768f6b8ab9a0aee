"""REST views of the widgets app: fetchWidgetData (ASYNC / SYNC) and the registry's reads
(stats, one widget's connection, the widgets of an instance) for operators."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from workflows.api.serializers import StrictSerializer
from workflows.models import Execution
from workflows.selectors import tenant_ids_for

from . import protocol, registry, services
from .exceptions import Forbidden, NotFound


class WidgetDataRequestSerializer(StrictSerializer):
    executionMode = serializers.ChoiceField(choices=["ASYNC", "SYNC"], default="ASYNC")
    inputParams = serializers.DictField(required=False, allow_null=True)
    workflowID = serializers.UUIDField(required=False, allow_null=True)
    widgetType = serializers.CharField(required=False, allow_null=True, max_length=50)
    widgetConfig = serializers.JSONField(required=False, allow_null=True)
    workflowConfig = serializers.JSONField(required=False, allow_null=True)
    tenantID = serializers.UUIDField(required=False, allow_null=True)
    timeout = serializers.FloatField(
        required=False, min_value=0.1, help_text="SYNC: seconds to wait (at most WIDGET_SYNC_TIMEOUT_SECONDS)"
    )


class WidgetAsyncDataSerializer(serializers.Serializer):
    """ASYNC: the execution started; subscribe to instanceID on the widget socket."""

    widgetID = serializers.CharField()
    instanceID = serializers.UUIDField()
    status = serializers.CharField(help_text="the execution's status (running, success, error, cancelled, ...)")
    workflowStatus = serializers.CharField(help_text="the same in the socket's terms: PENDING, COMPLETED or FAILED")
    workflowID = serializers.UUIDField()


class WidgetSyncDataSerializer(serializers.Serializer):
    """SYNC: the finished execution and the widget's processed data."""

    widgetID = serializers.CharField()
    instanceID = serializers.UUIDField()
    status = serializers.CharField(help_text="the execution's status (running, success, error, cancelled, ...)")
    workflowStatus = serializers.CharField(help_text="the same in the socket's terms: PENDING, COMPLETED or FAILED")
    processedData = serializers.JSONField(allow_null=True)
    processingError = serializers.CharField(allow_null=True)
    context = serializers.JSONField()  # type: ignore[assignment]  # a declared field, not Serializer.context
    error = serializers.JSONField(allow_null=True)


class WidgetConnectionSerializer(serializers.Serializer):
    widgetID = serializers.CharField()
    instanceID = serializers.UUIDField()
    tenantID = serializers.UUIDField()
    mode = serializers.CharField()
    widgetType = serializers.CharField()
    userName = serializers.CharField(allow_null=True)
    server = serializers.CharField()
    connectedAt = serializers.DateTimeField()
    lastSeenAt = serializers.DateTimeField()


class WidgetConnectionDetailSerializer(WidgetConnectionSerializer):
    """The newest registration of a widget (getWidgetConnection) and how many sockets hold it."""

    widgetConfig = serializers.JSONField(allow_null=True)
    workflowConfig = serializers.JSONField(allow_null=True)
    registrations = serializers.IntegerField()


class InstanceWidgetsSerializer(serializers.Serializer):
    """The widgets registered on an execution (getWidgetsForInstance)."""

    instanceID = serializers.UUIDField()
    widgetIDs = serializers.ListField(child=serializers.CharField())


class WidgetStatsSerializer(serializers.Serializer):
    totalWidgets = serializers.IntegerField()
    totalInstances = serializers.IntegerField()
    totalSockets = serializers.IntegerField()
    byWidgetType = serializers.DictField(child=serializers.IntegerField())
    connections = WidgetConnectionSerializer(many=True)


class WidgetDataView(APIView):
    """Start an execution for a widget: ASYNC answers at once with the instanceID to
    subscribe to; SYNC waits for the end and answers with the processed data."""

    @extend_schema(
        request=WidgetDataRequestSerializer,
        responses={202: WidgetAsyncDataSerializer, 200: WidgetSyncDataSerializer},
    )
    def post(self, request, widget_id: str):
        body = WidgetDataRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = {
            k: (str(v) if k in ("workflowID", "tenantID") and v is not None else v)
            for k, v in body.validated_data.items()
        }
        try:
            spec = services.widget_spec(widget_id, data, user=request.user)
            execution = services.start_execution(spec, user=request.user, tenant_id=data.get("tenantID"))
        except Forbidden as exc:  # over HTTP another tenant's object does not exist
            raise exc.hidden() from None
        answer = {"widgetID": widget_id, "instanceID": execution.pk, **_statuses(execution)}
        if data["executionMode"] == "ASYNC":
            answer["workflowID"] = execution.workflow_id
            return Response(WidgetAsyncDataSerializer(answer).data, status=status.HTTP_202_ACCEPTED)
        timeout = min(data.get("timeout") or settings.WIDGET_SYNC_TIMEOUT_SECONDS, settings.WIDGET_SYNC_TIMEOUT_SECONDS)
        execution = services.wait_for_end(execution.pk, timeout=timeout)
        processed = spec.process(execution.context)
        return Response(
            WidgetSyncDataSerializer(
                {
                    **answer,
                    **_statuses(execution),  # as it ended
                    "processedData": processed.data,
                    "processingError": processed.error,
                    "context": execution.context,
                    "error": execution.error,
                }
            ).data
        )


def _statuses(execution) -> dict:
    """The execution's status, and the same in the socket's terms (`workflowStatus`)."""
    return {"status": execution.status, "workflowStatus": protocol.widget_status(execution.status)}


def registry_scope(user) -> list | None:
    """The tenants whose registrations an operator sees: staff their own, superusers all."""
    return None if user.is_superuser else list(tenant_ids_for(user))


class WidgetStatsView(APIView):
    """Live widget registrations (getStats): staff see their tenants', superusers all."""

    permission_classes = [IsAdminUser]

    @extend_schema(responses={200: WidgetStatsSerializer})
    def get(self, request):
        return Response(WidgetStatsSerializer(registry.stats(tenant_ids=registry_scope(request.user))).data)


class WidgetConnectionView(APIView):
    """One widget's live registration; 404 when none of the caller's tenants has it."""

    permission_classes = [IsAdminUser]

    @extend_schema(responses={200: WidgetConnectionDetailSerializer})
    def get(self, request, widget_id: str):
        connection = registry.widget_connection(widget_id, tenant_ids=registry_scope(request.user))
        if connection is None:
            raise NotFound(f"No live registration of widget {widget_id}", field="widgetID")
        return Response(WidgetConnectionDetailSerializer(connection).data)


class InstanceWidgetsView(APIView):
    """The widgets watching an execution of the caller's tenants; 404 for any other."""

    permission_classes = [IsAdminUser]

    @extend_schema(responses={200: InstanceWidgetsSerializer})
    def get(self, request, pk):
        scope = registry_scope(request.user)
        executions = Execution.objects.filter(pk=pk)
        if scope is not None:
            executions = executions.filter(tenant_id__in=scope)
        if not executions.exists():
            raise NotFound(f"Instance not found: {pk}", field="instanceID")
        widget_ids = registry.widgets_for_instance(pk, tenant_ids=scope)
        return Response(InstanceWidgetsSerializer({"instanceID": pk, "widgetIDs": widget_ids}).data)
