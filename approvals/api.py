"""REST API of approvals: the caller's requests, one request, decide and delegate."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from workflows.api.serializers import StrictSerializer
from workflows.operator import is_operator

from . import services
from .exceptions import NotEligible
from .models import ApprovalRequest, ApprovalStatus, Channel
from .selectors import is_eligible, is_participant, pending_for, requests_in_tenants, visible_for


class DecisionSerializer(serializers.Serializer):
    def to_representation(self, d):
        return {**d.as_output(), "id": d.pk}


class ApprovalRequestSerializer(serializers.Serializer):
    def to_representation(self, r: ApprovalRequest) -> dict:
        user = self.context["request"].user
        decisions = list(r.decisions.select_related("user").order_by("created_at", "id"))
        decided = any(d.user_id == user.pk for d in decisions)
        return {
            "id": str(r.pk),
            "title": r.title,
            "description": r.description,
            "status": r.status,
            "approvalType": r.approval_type,
            "approvers": r.approvers,
            "approverRoles": r.approver_roles,
            "requiredApprovals": r.required_approvals,
            "contextData": r.context_data,
            "formFields": r.form_fields,
            "deadline": r.deadline.isoformat() if r.deadline else None,
            "workflowId": str(r.workflow_id),
            "workflowName": r.workflow.name,
            "executionId": str(r.execution_id),
            "requestedBy": r.requested_by.get_username() if r.requested_by else None,
            "createdAt": r.created_at.isoformat(),
            "decidedAt": r.decided_at.isoformat() if r.decided_at else None,
            "decisions": [DecisionSerializer(d).data for d in decisions],
            "canDecide": r.is_pending and not decided and is_eligible(r, user),
        }


class DecideSerializer(StrictSerializer):
    decision = serializers.ChoiceField(choices=["approved", "rejected"])
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)
    formValues = serializers.DictField(required=False, default=dict)


class DelegateSerializer(StrictSerializer):
    delegateTo = serializers.CharField(max_length=150)
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


@extend_schema(
    parameters=[
        OpenApiParameter(
            "status",
            str,
            description="pending: waiting for your decision; approved, rejected, expired, cancelled: your history. "
            "Without it: both.",
        )
    ]
)
class ApprovalViewSet(viewsets.GenericViewSet):
    """Approval requests you may decide on, and the ones you decided or delegated."""

    serializer_class = ApprovalRequestSerializer
    lookup_value_converter = "uuid"

    def get_queryset(self):
        return requests_in_tenants(self.request.user)

    def list(self, request):
        wanted = request.query_params.get("status")
        if wanted and wanted not in ApprovalStatus.values:
            raise ValidationError({"status": [f"unknown status {wanted!r}; use {', '.join(ApprovalStatus.values)}"]})
        if wanted == ApprovalStatus.PENDING:
            rows = pending_for(request.user)  # the caller's to-do: pending and not yet decided by them
        else:
            rows = [r for r in visible_for(request.user) if not wanted or r.status == wanted]
        page = self.paginate_queryset(rows)
        data = self.get_serializer(page, many=True).data
        return self.get_paginated_response(data)

    def _participant_object(self) -> ApprovalRequest:
        approval = self.get_object()
        if not is_participant(approval, self.request.user):
            raise NotEligible("You are not an approver of this request", field="user")
        return approval

    def retrieve(self, request, pk=None):
        """One request: its approvers and operators of its tenant (staff, admins) may read it."""
        approval = self.get_object()
        if not is_operator(request.user, approval.tenant_id):
            approval = self._participant_object()
        return Response(self.get_serializer(approval).data)

    @extend_schema(request=DecideSerializer, responses={200: ApprovalRequestSerializer})
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        """Approve or reject: `{decision: approved|rejected, comment, formValues}`."""
        approval = self._participant_object()
        body = DecideSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        services.decide(
            request_id=approval.pk,
            user=request.user,
            decision=data["decision"],
            comment=data["comment"],
            form_values=data["formValues"],
            channel=Channel.API,
        )
        approval.refresh_from_db()
        return Response(self.get_serializer(approval).data)

    @extend_schema(request=DelegateSerializer, responses={200: ApprovalRequestSerializer})
    @action(detail=True, methods=["post"])
    def delegate(self, request, pk=None):
        """Hand the request to another member of the tenant: `{delegateTo, comment}`."""
        approval = self._participant_object()
        body = DelegateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.delegate(
            request_id=approval.pk,
            user=request.user,
            to_username=body.validated_data["delegateTo"],
            comment=body.validated_data["comment"],
            channel=Channel.API,
        )
        approval.refresh_from_db()
        return Response(self.get_serializer(approval).data)
