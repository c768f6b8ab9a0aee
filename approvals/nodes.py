"""Node types this app contributes to the workflow engine: Request Approval."""

from __future__ import annotations

import uuid

from django.utils import timezone

from workflows import templating
from workflows.nodes import Field, NodeError, NodeType, Pause, StepContext

from .config import ConfigError, parse_spec, validate_saved_config
from .services import cancel_for_node_run, create_request, expire_for_node_run
from .viewer import ApprovalPauseSerializer, describe_pause

REQUEST_APPROVAL = "approvals/request"


def resolve_config(config: dict, context: dict) -> dict:
    """The config with its templates resolved; `{{title}}` in the other fields (emailSubject)
    means this node's resolved title."""
    title = templating.resolve(config.get("title"), context)
    return templating.resolve(config, {**context, "title": title})


def run_request_approval(config: dict, ctx: StepContext) -> Pause:
    """Resolve the config, then pause; the request row is written in the pausing transaction."""
    resolved = resolve_config(config, ctx.context)
    try:
        spec = parse_spec(resolved, unresolved=config)
    except ConfigError as exc:
        raise NodeError(f"{exc.field}: {exc.message}", retryable=False) from None
    now = timezone.now()
    deadline = now + spec.expires_in if spec.expires_in else None
    request_id = uuid.uuid4()

    def persist(run) -> None:
        create_request(node_run=run, spec=spec, request_id=request_id, now=now)

    return Pause(until=deadline, data={"approvalRequestId": str(request_id)}, persist=persist)


def on_deadline(run):
    return expire_for_node_run(run)


def on_cancel(run) -> None:
    cancel_for_node_run(run)


OUTCOME_OPTIONS = [
    {"value": "error", "label": "Error (stop the workflow)"},
    {"value": "continue", "label": "Continue (proceed anyway)"},
]

NODE_TYPES = [
    NodeType(
        type=REQUEST_APPROVAL,
        label="Request Approval",
        run=run_request_approval,
        description="Pauses until approvers decide (single, any or all); expires after `expiresIn`.",
        category="Workflow control",
        icon="user-check",
        resolve_config=False,
        config_resolver=resolve_config,
        local_roots=("title",),
        describe_pause=describe_pause,
        pause_serializer=ApprovalPauseSerializer,
        on_deadline=on_deadline,
        on_cancel=on_cancel,
        validate=validate_saved_config,
        fields=[
            Field("title", "Title", "template-input", required=True, description="Title shown to approvers"),
            Field("description", "Description", "template-textarea"),
            Field(
                "approvalType",
                "Approval type",
                "select",
                default="single",
                options=[
                    {"value": "single", "label": "Single (first decision wins)"},
                    {"value": "any", "label": "Any (first approval wins)"},
                    {"value": "all", "label": "All (unanimous required)"},
                ],
            ),
            Field(
                "approvers",
                "Approvers",
                "template-input",
                description='Comma-separated usernames or JSON array: ["user1", "user2"]. '
                "With neither approvers nor roles, the tenant's admins decide",
            ),
            Field(
                "approverRoles",
                "Approver roles",
                "template-input",
                description="Comma-separated roles (Django groups) or JSON array",
            ),
            Field(
                "requiredApprovals",
                "Required approvals",
                "number",
                extra={"min": 1, "showWhen": {"field": "approvalType", "equals": "all"}},
                description="Approvals needed for `all` (default: every approver)",
            ),
            Field("expiresIn", "Expires in", "template-input", description="7d, 24h, 30m"),
            Field("onRejection", "On rejection", "select", options=OUTCOME_OPTIONS, default="error"),
            Field("onExpiration", "On expiration", "select", options=OUTCOME_OPTIONS, default="error"),
            Field("contextData", "Context data", "template-textarea", description="JSON object shown to approvers"),
            Field("sendNotification", "Send e-mail notification", "boolean", default=False),
            Field("emailSubject", "E-mail subject", "template-input", description="Supports {{title}}"),
            Field("approvalUrl", "Approval URL", "template-input", description="{id} is replaced by the request id"),
            Field(
                "allowSelfApproval",
                "Allow self-approval",
                "boolean",
                default=True,
                description="When off, the user the execution runs as cannot decide",
            ),
            Field(
                "remindEvery", "Remind every", "template-input", description="Mail undecided approvers again, e.g. 24h"
            ),
            Field(
                "escalateAfter", "Escalate after", "template-input", description="When nobody decided in time, e.g. 2d"
            ),
            Field("escalateTo", "Escalate to", "template-input", description="Usernames, or role:NAME for a role"),
            Field(
                "formFields",
                "Decision form fields",
                "list",
                description="[{key, label, type: text|number|select|template-textarea, required, options}]",
            ),
        ],
        output_fields=[
            {"field": "decision", "description": "The final decision: approved, rejected or expired"},
            {"field": "decisions", "description": "Every decision: user, decision, comment, time, formValues, channel"},
            {"field": "approvalRequestId", "description": "UUID of the approval request"},
        ],
    ),
]
