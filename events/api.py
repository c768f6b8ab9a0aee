"""REST API of the events app: the signal API, open waits, API keys and the webhook trigger."""
from __future__ import annotations

import json

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from workflows.api.serializers import ErrorSerializer, StrictSerializer, refuse_unknown_keys
from workflows.api.views import choose_tenant
from workflows.exceptions import InvalidInput
from workflows.operator import is_operator
from workflows.services import as_uuid, trigger_workflow

from . import selectors, services
from .authentication import HasWorkflowApiKey, WorkflowApiKeyAuthentication
from .exceptions import ApiKeyNotFound, NotAllowed, WaitNotFound
from .models import WaitStatus

IDEMPOTENCY_HEADER = "Idempotency-Key"


def json_object_body(request, *, empty_ok: bool = False) -> dict:
    """The request body parsed as a JSON object, whatever the Content-Type; 400 otherwise."""
    raw = request.body
    if not raw.strip():
        if empty_ok:
            return {}
        raise InvalidInput("The body must be a JSON object", field="body")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"The body is not valid JSON: {exc}", field="body") from None
    if not isinstance(data, dict):
        raise InvalidInput("The body must be a JSON object", field="body")
    return data


def _iso(moment):
    return moment.isoformat() if moment else None


# --- The signal API --------------------------------------------------------------------

SIGNAL_KEYS = {"eventNamespace", "eventKey", "payload"}
SignalRequest = inline_serializer(
    "SignalRequest",
    {"eventNamespace": serializers.CharField(), "eventKey": serializers.CharField(),
     "payload": serializers.DictField(required=False)},
)
SignalAnswer = inline_serializer(
    "SignalAnswer",
    {"success": serializers.BooleanField(), "waitEventId": serializers.UUIDField(allow_null=True),
     "executionId": serializers.UUIDField(allow_null=True), "workflowResumed": serializers.BooleanField(),
     "buffered": serializers.BooleanField(required=False), "signalId": serializers.UUIDField(required=False),
     "expiresAt": serializers.DateTimeField(required=False)},
)


class SignalView(APIView):
    """Deliver an event to the execution waiting on (eventNamespace, eventKey), or buffer it."""

    authentication_classes = [WorkflowApiKeyAuthentication]
    permission_classes = [HasWorkflowApiKey]

    @extend_schema(
        request=SignalRequest,
        responses={200: SignalAnswer, 202: SignalAnswer},
        parameters=[OpenApiParameter(IDEMPOTENCY_HEADER, str, OpenApiParameter.HEADER,
                                     description="Retries with the same key get the first answer")],
    )
    def post(self, request):
        body = json_object_body(request)
        refuse_unknown_keys(body, SIGNAL_KEYS)
        api_key = request.auth
        result = services.signal_event(
            tenant_id=api_key.tenant_id,
            namespace=body.get("eventNamespace"),
            key=body.get("eventKey"),
            payload=body.get("payload"),
            source=api_key.name,
            api_key=api_key,
            idempotency_key=request.headers.get(IDEMPOTENCY_HEADER),
        )
        response = Response(result.as_dict(), status=result.status_code)
        if result.replayed:
            response["Idempotent-Replayed"] = "true"
        return response


# --- Open waits, for operators ------------------------------------------------------------


def wait_as_dict(wait) -> dict:
    return {
        "id": str(wait.id),
        "namespace": wait.namespace,
        "key": wait.key,
        "status": wait.status,
        "title": wait.title,
        "executionId": str(wait.execution_id),
        "workflowId": str(wait.execution.workflow_id),
        "workflowName": wait.execution.workflow.name,
        "nodeLabel": wait.node_run.label,
        "since": _iso(wait.created_at),
        "deadline": _iso(wait.expires_at),
        "onExpiration": wait.on_expiration,
        "contextData": wait.context_data,
        "receivedAt": _iso(wait.received_at),
        "receivedFrom": wait.received_from or None,
        "finishedAt": _iso(wait.finished_at),
    }


def signal_as_dict(signal) -> dict:
    return {
        "id": str(signal.id),
        "namespace": signal.namespace,
        "key": signal.key,
        "receivedAt": _iso(signal.created_at),
        "receivedFrom": signal.received_from or None,
        "expiresAt": _iso(signal.expires_at),
        "payload": signal.payload,
    }


class WaitListView(APIView):
    """Waits of your tenants (default: the open ones) and the signals buffered for future waits."""

    pagination_class = PageNumberPagination

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, description="waiting (default), received, expired, cancelled or all; comma-separated"),
            OpenApiParameter("namespace", str), OpenApiParameter("key", str),
            OpenApiParameter("execution", str, description="Execution id"),
        ],
        responses={200: inline_serializer("WaitList", {"count": serializers.IntegerField(),
                                                       "results": serializers.ListField(), "bufferedSignals": serializers.ListField()})},
    )
    def get(self, request):
        params = request.query_params
        waits = selectors.waits_for(request.user)
        signals = selectors.pending_signals_for(request.user)
        wanted = [s.strip() for s in params.get("status", "waiting").split(",") if s.strip()]
        if wanted != ["all"]:
            bad = [s for s in wanted if s not in WaitStatus.values]
            if bad or not wanted:
                raise ValidationError({"status": [f"use all or one or more of: {', '.join(WaitStatus.values)}"]})
            waits = waits.filter(status__in=wanted)
        for name in ("namespace", "key"):
            if params.get(name):
                waits = waits.filter(**{name: params[name]})
                signals = signals.filter(**{name: params[name]})
        if params.get("execution"):
            execution_id = as_uuid(params["execution"])
            if execution_id is None:
                raise ValidationError({"execution": ["not a valid execution id"]})
            waits = waits.filter(execution_id=execution_id)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(waits.order_by("-created_at"), request, view=self)
        response = paginator.get_paginated_response([wait_as_dict(w) for w in page])
        response.data["bufferedSignals"] = [signal_as_dict(s) for s in signals.order_by("-created_at")[:200]]
        return response


class WaitSignalSerializer(StrictSerializer):
    payload = serializers.JSONField(required=False, default=dict, help_text="The signal's payload (a JSON object)")

    def validate_payload(self, value):
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise serializers.ValidationError("must be a JSON object")
        return value


class WaitSignalView(APIView):
    """Send an open wait its signal as an operator of its tenant (staff or the tenant's admin),
    by session or token: the viewer's "send signal" dialog, with no workflow API key in the browser."""

    @extend_schema(
        request=WaitSignalSerializer,
        responses={200: SignalAnswer, 400: ErrorSerializer, 403: ErrorSerializer, 404: ErrorSerializer,
                   409: ErrorSerializer, 413: ErrorSerializer},
    )
    def post(self, request, pk):
        wait = selectors.waits_for(request.user).filter(pk=pk).first()
        if wait is None:
            raise WaitNotFound(pk)
        if not is_operator(request.user, wait.tenant_id):
            raise NotAllowed("Only operators of the tenant (staff or its admins) may send a signal here; "
                             "outside systems use the signal API with a workflow API key", field="waitEventId")
        body = WaitSignalSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = services.signal_wait(
            wait_id=wait.pk, tenant_id=wait.tenant_id, payload=body.validated_data["payload"],
            source=f"{request.user.get_username()} (operator)",
        )
        return Response(result.as_dict(), status=result.status_code)


# --- Workflow API keys --------------------------------------------------------------------


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


class ApiKeyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    tenant = serializers.UUIDField(required=False)


ApiKeyCreated = inline_serializer(
    "ApiKeyCreated",
    {"id": serializers.UUIDField(), "name": serializers.CharField(), "key": serializers.CharField(),
     "keyPrefix": serializers.CharField(), "tenant": serializers.UUIDField(), "createdAt": serializers.DateTimeField()},
)


class ApiKeyCreateView(APIView):
    """Create a workflow API key for one of your tenants; the key is in this answer only."""

    @extend_schema(request=ApiKeyCreateSerializer, responses={201: ApiKeyCreated})
    def post(self, request):
        body = ApiKeyCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        tenant = choose_tenant(request, body.validated_data.get("tenant"))
        api_key, raw = services.create_api_key(tenant=tenant, name=body.validated_data["name"], user=request.user)
        return Response(
            {"id": str(api_key.id), "name": api_key.name, "key": raw, "keyPrefix": api_key.prefix,
             "tenant": str(tenant.pk), "createdAt": _iso(api_key.created_at)},
            status=status.HTTP_201_CREATED,
        )


class ApiKeyListView(ListAPIView):
    """The API keys of your tenants, without their secrets."""

    serializer_class = ApiKeySerializer

    def get_queryset(self):
        return selectors.api_keys_for(self.request.user).order_by("-created_at")


class ApiKeyRevokeView(APIView):
    """Revoke a key: it stops authenticating at once; revoking twice is harmless."""

    @extend_schema(request=None, responses={200: ApiKeySerializer})
    def post(self, request, pk):
        api_key = selectors.api_keys_for(request.user).filter(pk=pk).first()
        if api_key is None:
            raise ApiKeyNotFound(pk)
        services.revoke_api_key(api_key, user=request.user)
        return Response(ApiKeySerializer(api_key).data)


# --- The webhook trigger ------------------------------------------------------------------


class WorkflowWebhookView(APIView):
    """Start an execution of a workflow of the key's tenant; the JSON body is its input."""

    authentication_classes = [WorkflowApiKeyAuthentication]
    permission_classes = [HasWorkflowApiKey]

    @extend_schema(
        request=inline_serializer("WebhookInput", {}),
        responses={202: inline_serializer("WebhookStarted", {"executionId": serializers.UUIDField(),
                                                             "status": serializers.CharField()})},
        parameters=[OpenApiParameter(IDEMPOTENCY_HEADER, str, OpenApiParameter.HEADER,
                                     description="A repeated key returns the first execution")],
    )
    def post(self, request, pk):
        api_key = request.auth
        body = json_object_body(request, empty_ok=True)
        if api_key.created_by is None:
            raise NotAllowed("The user who created this API key no longer exists; create a new key",
                             field="Authorization")
        result = trigger_workflow(
            workflow_id=pk,
            user_name=api_key.created_by.get_username(),
            input=body,
            idempotency_key=request.headers.get(IDEMPOTENCY_HEADER),
            tenant_ids=[api_key.tenant_id],
        )
        return Response({"executionId": str(result.execution_id), "status": result.status},
                        status=status.HTTP_202_ACCEPTED)
