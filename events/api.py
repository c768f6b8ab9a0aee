"""REST API of the events app: the signal API, open waits, API keys and the webhook trigger."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from workflows.api.serializers import ErrorSerializer, StrictSerializer
from workflows.api.views import choose_tenant
from workflows.exceptions import InvalidInput
from workflows.ids import as_uuid
from workflows.operator import is_operator
from workflows.services import trigger_workflow

from . import selectors, services
from .authentication import HasWorkflowApiKey, WorkflowApiKeyAuthentication
from .exceptions import ApiKeyNotFound, NotAllowed, WaitNotFound
from .models import WaitStatus
from .serializers import (
    ApiKeyCreatedSerializer,
    ApiKeyCreateSerializer,
    ApiKeySerializer,
    JSONObjectParser,
    SignalAnswerSerializer,
    SignalRequestSerializer,
    WaitListSerializer,
    WebhookStartedSerializer,
)

IDEMPOTENCY_HEADER = "Idempotency-Key"


# --- The signal API --------------------------------------------------------------------


class SignalView(APIView):
    """Deliver an event to the execution waiting on (eventNamespace, eventKey), or buffer it."""

    authentication_classes = [WorkflowApiKeyAuthentication]
    permission_classes = [HasWorkflowApiKey]
    parser_classes = [JSONObjectParser]

    @extend_schema(
        request=SignalRequestSerializer,
        responses={200: SignalAnswerSerializer, 202: SignalAnswerSerializer},
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_HEADER,
                str,
                OpenApiParameter.HEADER,
                description="Retries with the same key get the first answer",
            )
        ],
    )
    def post(self, request):
        if not request.data:  # an empty body (a JSON object is checked by the parser)
            raise InvalidInput("The body must be a JSON object with eventNamespace and eventKey", field="body")
        body = SignalRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        api_key = request.auth
        result = services.signal_event(
            tenant_id=api_key.tenant_id,
            namespace=body.validated_data["eventNamespace"],
            key=body.validated_data["eventKey"],
            payload=body.validated_data.get("payload"),
            source=api_key.name,
            api_key=api_key,
            idempotency_key=request.headers.get(IDEMPOTENCY_HEADER),
        )
        response = Response(
            SignalAnswerSerializer(result).data,
            status=status.HTTP_200_OK if result.resumed else status.HTTP_202_ACCEPTED,
        )
        if result.replayed:
            response["Idempotent-Replayed"] = "true"
        return response


# --- Open waits, for operators ------------------------------------------------------------


class WaitListView(APIView):
    """Waits of your tenants (default: the open ones) and the signals buffered for future waits."""

    pagination_class = PageNumberPagination

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "status", str, description="waiting (default), received, expired, cancelled or all; comma-separated"
            ),
            OpenApiParameter("namespace", str),
            OpenApiParameter("key", str),
            OpenApiParameter("execution", str, description="Execution id"),
        ],
        responses={200: WaitListSerializer},
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
        return Response(
            WaitListSerializer(
                {
                    "count": paginator.page.paginator.count,
                    "next": paginator.get_next_link(),
                    "previous": paginator.get_previous_link(),
                    "results": page,
                    "bufferedSignals": signals.order_by("-created_at")[:200],
                }
            ).data
        )


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
        responses={
            200: SignalAnswerSerializer,
            202: SignalAnswerSerializer,
            400: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
            413: ErrorSerializer,
        },
    )
    def post(self, request, pk):
        wait = selectors.waits_for(request.user).filter(pk=pk).first()
        if wait is None:
            raise WaitNotFound(pk)
        if not is_operator(request.user, wait.tenant_id):
            raise NotAllowed(
                "Only operators of the tenant (staff or its admins) may send a signal here; "
                "outside systems use the signal API with a workflow API key",
                field="waitEventId",
            )
        body = WaitSignalSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = services.signal_wait(
            wait_id=wait.pk,
            tenant_id=wait.tenant_id,
            payload=body.validated_data["payload"],
            source=f"{request.user.get_username()} (operator)",
        )
        return Response(
            SignalAnswerSerializer(result).data,
            status=status.HTTP_200_OK if result.resumed else status.HTTP_202_ACCEPTED,
        )


# --- Workflow API keys --------------------------------------------------------------------


class ApiKeyCreateView(APIView):
    """Create a workflow API key for one of your tenants; the key is in this answer only."""

    @extend_schema(request=ApiKeyCreateSerializer, responses={201: ApiKeyCreatedSerializer})
    def post(self, request):
        body = ApiKeyCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        tenant = choose_tenant(request, body.validated_data.get("tenant"))
        api_key, raw = services.create_api_key(tenant=tenant, name=body.validated_data["name"], user=request.user)
        return Response(ApiKeyCreatedSerializer(api_key, context={"key": raw}).data, status=status.HTTP_201_CREATED)


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
    parser_classes = [JSONObjectParser]

    @extend_schema(
        request={"application/json": OpenApiTypes.OBJECT},
        responses={202: WebhookStartedSerializer},
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_HEADER,
                str,
                OpenApiParameter.HEADER,
                description="A repeated key returns the first execution",
            )
        ],
    )
    def post(self, request, pk):
        api_key = request.auth
        body = dict(request.data)  # any JSON object (the parser checks), or nothing
        if api_key.created_by is None:
            raise NotAllowed(
                "The user who created this API key no longer exists; create a new key", field="Authorization"
            )
        result = trigger_workflow(
            workflow_id=pk,
            user_name=api_key.created_by.get_username(),
            input=body,
            idempotency_key=request.headers.get(IDEMPOTENCY_HEADER),
            tenant_ids=[api_key.tenant_id],
        )
        return Response(WebhookStartedSerializer(result).data, status=status.HTTP_202_ACCEPTED)
