"""The Wait for Event node (`events/wait`): pause until the signal API delivers (namespace, key)."""

from __future__ import annotations

import json
from typing import Any

from django.utils import timezone

from workflows.durations import parse_duration
from workflows.fields import is_template
from workflows.nodes import Field, NodeError, NodeType, Pause, StepContext

from . import services, viewer
from .models import OnExpiration

WAIT_TYPE = "events/wait"


def _name(config: dict, field: str) -> str:
    value = config.get(field)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise NodeError(f"{field} resolved to an empty value; it must be non-empty text", retryable=False)
    value = value.strip()
    if len(value) > services.MAX_NAME_LENGTH:
        raise NodeError(f"{field} must be at most {services.MAX_NAME_LENGTH} characters", retryable=False)
    return value


def _context_data(value: Any) -> dict | None:
    if value in (None, ""):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise NodeError("contextData must be a JSON object", retryable=False) from None
    if not isinstance(value, dict):
        raise NodeError("contextData must be a JSON object", retryable=False)
    return value


def run_wait(config: dict, ctx: StepContext) -> Pause:
    namespace = _name(config, "eventNamespace")
    key = _name(config, "eventKey")
    on_expiration = config.get("onExpiration") or OnExpiration.ERROR
    if on_expiration not in OnExpiration.values:
        raise NodeError(f"onExpiration must be one of: {', '.join(OnExpiration.values)}", retryable=False)
    until = None
    if config.get("expiresIn") not in (None, ""):
        try:
            until = timezone.now() + parse_duration(config["expiresIn"])
        except ValueError as exc:
            raise NodeError(f"expiresIn: {exc}", retryable=False) from None
    spec = services.WaitSpec(
        tenant_id=ctx.tenant_id,
        namespace=namespace,
        key=key,
        title=str(config.get("title") or "")[:500],
        description=str(config.get("description") or ""),
        context_data=_context_data(config.get("contextData")),
        expires_at=until,
        on_expiration=on_expiration,
    )
    ctx.logger.info(f'Waiting for event "{key}" in namespace "{namespace}"')
    data = {
        "eventNamespace": namespace,
        "eventKey": key,
        "title": spec.title,
        "expiresAt": until.isoformat() if until else None,
        "onExpiration": on_expiration,
    }
    return Pause(until=until, data=data, persist=lambda run: services.open_wait(run, spec))


def validate_wait(config: dict) -> list[tuple[str, str]]:
    problems = []
    expires_in = config.get("expiresIn")
    if expires_in not in (None, "") and not is_template(expires_in):
        try:
            parse_duration(expires_in)
        except ValueError as exc:
            problems.append(("expiresIn", str(exc)))
    context_data = config.get("contextData")
    if isinstance(context_data, str) and context_data.strip() and not is_template(context_data):
        try:
            parsed = json.loads(context_data)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            problems.append(("contextData", "must be a JSON object"))
    elif context_data not in (None, "") and not isinstance(context_data, (dict, str)):
        problems.append(("contextData", "must be a JSON object"))
    return problems


NODE_TYPES = [
    NodeType(
        type=WAIT_TYPE,
        label="Wait for Event",
        run=run_wait,
        description=(
            "Pauses until an outside system calls POST /api/workflow/events/signal with this "
            "namespace and key (authenticated by a workflow API key)."
        ),
        category="Events",
        icon="bell",
        fields=[
            Field(
                "eventNamespace",
                "Event namespace",
                "template-input",
                required=True,
                description="Scopes the key, e.g. payments",
            ),
            Field(
                "eventKey",
                "Event key",
                "template-input",
                required=True,
                description="Unique within the namespace, e.g. order-{{Trigger.orderId}}-paid",
            ),
            Field("title", "Title", "template-input", description="What is awaited, for operators"),
            Field("description", "Description", "template-textarea"),
            Field("expiresIn", "Expires in", "template-input", description="7d, 24h, 30m; empty waits forever"),
            Field(
                "onExpiration",
                "On expiration",
                "select",
                default=OnExpiration.ERROR,
                options=[
                    {"value": "error", "label": "Fail (stop the workflow)"},
                    {"value": "continue", "label": "Continue with status expired"},
                ],
            ),
            Field("contextData", "Context data", "template-textarea", description="JSON object shown to operators"),
        ],
        validate=validate_wait,
        on_deadline=services.expire_wait,
        on_cancel=services.cancel_waits,
        describe_pause=viewer.describe_pause,
        pause_serializer=viewer.EventPauseSerializer,
        output_fields=[
            {"field": "status", "description": "received or expired"},
            {"field": "payload", "description": "The signal's payload"},
            {"field": "eventNamespace", "description": "The event namespace"},
            {"field": "eventKey", "description": "The event key that was matched"},
            {"field": "waitEventId", "description": "Id of the wait event record"},
            {"field": "receivedAt", "description": "When the signal arrived (ISO 8601)"},
            {"field": "receivedFrom", "description": "Name of the API key that sent it"},
        ],
    ),
]
