"""What the execution viewer shows operators about a paused Request Approval node: who may
decide, under which policy, the decisions so far and the deadline, with a link to the page."""

from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from . import policies
from .models import ApprovalRequest, ApprovalType
from .selectors import eligible_usernames


class PauseDecisionSerializer(serializers.Serializer):
    user = serializers.CharField()
    decision = serializers.ChoiceField(choices=policies.DECISIONS)
    comment = serializers.CharField(allow_blank=True)
    at = serializers.DateTimeField()
    channel = serializers.CharField()


class ApprovalPauseSerializer(serializers.Serializer):
    """A paused Request Approval node, for the viewer's panel."""

    kind = serializers.ChoiceField(choices=["approval"])
    requestId = serializers.UUIDField()
    url = serializers.CharField(help_text="The approval page (operators may read it; only approvers decide)")
    title = serializers.CharField()
    status = serializers.CharField()
    policy = serializers.ChoiceField(choices=ApprovalType.values)
    policyLabel = serializers.CharField()
    requiredApprovals = serializers.IntegerField(help_text="Approvals that approve the request under the policy")
    approvers = serializers.ListField(child=serializers.CharField(), help_text="Named approvers")
    approverRoles = serializers.ListField(
        child=serializers.CharField(), help_text="Roles (groups) whose members may decide"
    )
    eligible = serializers.ListField(
        child=serializers.CharField(), help_text="Who may decide now (members, named or by role)"
    )
    decisions = PauseDecisionSerializer(many=True)
    deadline = serializers.DateTimeField(allow_null=True)
    requestedAt = serializers.DateTimeField()
    canDecide = serializers.BooleanField(help_text="Whether the caller may decide (is an approver who has not yet)")


def describe_pause(run, user) -> dict | None:
    """The approval request a paused node run waits on, as ApprovalPauseSerializer data."""
    approval = (
        ApprovalRequest.objects.filter(node_run_id=run.pk)
        .select_related("requested_by")
        .order_by("-created_at")
        .first()
    )
    if approval is None:
        return None
    decisions = list(approval.decisions.select_related("user").order_by("created_at", "id"))
    eligible = sorted(eligible_usernames(approval))
    username = user.get_username() if user is not None and user.is_authenticated else None
    decided = any(d.user.get_username() == username for d in decisions)
    data = {
        "kind": "approval",
        "requestId": approval.pk,
        "url": reverse("approvals:detail", kwargs={"pk": approval.pk}),
        "title": approval.title,
        "status": approval.status,
        "policy": approval.approval_type,
        "policyLabel": approval.get_approval_type_display(),
        "requiredApprovals": policies.required_approvals(
            approval.approval_type, required=approval.required_approvals, eligible=eligible
        ),
        "approvers": list(approval.approvers or []),
        "approverRoles": list(approval.approver_roles or []),
        "eligible": eligible,
        "decisions": [
            {
                "user": d.user.get_username(),
                "decision": d.decision,
                "comment": d.comment,
                "at": d.created_at,
                "channel": d.channel,
            }
            for d in decisions
        ],
        "deadline": approval.deadline,
        "requestedAt": approval.created_at,
        "canDecide": bool(approval.is_pending and username and not decided and username in eligible),
    }
    return ApprovalPauseSerializer(data).data
