"""REST views of the widgets app: fetchWidgetData (ASYNC / SYNC) and the registry stats."""
from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from workflows.selectors import tenant_ids_for

from . import registry, services
from .exceptions import Forbidden, NotFound


class WidgetDataRequestSerializer(serializers.Serializer):
    executionMode = serializers.ChoiceField(choices=["ASYNC", "SYNC"], default="ASYNC")
    inputParams = serializers.DictField(required=False, allow_null=True)
    workflowID = serializers.UUIDField(required=False, allow_null=True)
    widgetType = serializers.CharField(required=False, allow_null=True, max_length=50)
    widgetConfig = serializers.JSONField(required=False, allow_null=True)
    workflowConfig = serializers.JSONField(required=False, allow_null=True)
    tenantID = serializers.UUIDField(required=False, allow_null=True)
    timeout = serializers.FloatField(required=False, min_value=0.1, help_text="SYNC: seconds to wait (at most WIDGET_SYNC_TIMEOUT_SECONDS)")


class WidgetDataView(APIView):
    """Start an execution for a widget: ASYNC answers at once with the instanceID to
    subscribe to; SYNC waits for the end and answers with the processed data."""

    @extend_schema(
        request=WidgetDataRequestSerializer,
        responses={
            202: inline_serializer("WidgetAsyncData", {"instanceID": serializers.UUIDField(), "status": serializers.CharField()}),
            200: inline_serializer("WidgetSyncData", {
                "instanceID": serializers.UUIDField(), "status": serializers.CharField(),
                "processedData": serializers.JSONField(), "context": serializers.JSONField(),
            }),
        },
    )
    def post(self, request, widget_id: str):
        body = WidgetDataRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = {k: (str(v) if k in ("workflowID", "tenantID") and v is not None else v) for k, v in body.validated_data.items()}
        try:
            spec = services.widget_spec(widget_id, data, user=request.user)
            execution = services.start_execution(spec, user=request.user, tenant_id=data.get("tenantID"))
        except Forbidden as exc:  # over HTTP a tenant not the caller's does not exist
            raise NotFound(exc.message, field=exc.field) from None
        if data["executionMode"] == "ASYNC":
            return Response(
                {"widgetID": widget_id, "instanceID": str(execution.pk), "status": execution.status,
                 "workflowID": str(execution.workflow_id)},
                status=status.HTTP_202_ACCEPTED,
            )
        timeout = min(data.get("timeout") or settings.WIDGET_SYNC_TIMEOUT_SECONDS, settings.WIDGET_SYNC_TIMEOUT_SECONDS)
        execution = services.wait_for_end(execution.pk, timeout=timeout)
        processed = spec.process(execution.context)
        return Response({
            "widgetID": widget_id,
            "instanceID": str(execution.pk),
            "status": execution.status,
            "processedData": processed.data,
            "processingError": processed.error,
            "context": execution.context,
            "error": execution.error,
        })


class WidgetStatsView(APIView):
    """Live widget registrations (getStats): staff see their tenants', superusers all."""

    permission_classes = [IsAdminUser]

    @extend_schema(responses={200: inline_serializer("WidgetStats", {
        "totalWidgets": serializers.IntegerField(), "totalInstances": serializers.IntegerField(),
        "totalSockets": serializers.IntegerField(), "byWidgetType": serializers.DictField(),
        "connections": serializers.ListField(child=serializers.DictField()),
    })})
    def get(self, request):
        tenant_ids = None if request.user.is_superuser else tenant_ids_for(request.user)
        return Response(registry.stats(tenant_ids=tenant_ids))
