"""Node types this app contributes: Wait for Widget Input."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from workflows.durations import parse_duration
from workflows.models import Execution
from workflows.nodes import Field, NodeError, NodeType, Pause, StepContext

INPUT_KEY = "__widgetInput"


def run_widget_input(config: dict, ctx: StepContext) -> Any:
    """Pause until a widget sends input (widget_send_input), or until the optional timeout."""
    input_type = config.get("inputType") or None
    seen = (ctx.context.get(INPUT_KEY) or {}).get("id")
    until = None
    if config.get("timeout"):
        try:
            until = timezone.now() + parse_duration(str(config["timeout"]))
        except ValueError as exc:
            raise NodeError(f"timeout: {exc}", retryable=False) from exc

    def persist(run) -> dict | None:
        # Input that arrived after this node started but before it paused: take it now. The
        # engine calls this holding the execution's row lock (workflows.store.locked_run), which
        # orders this read against widget_send_input's compare-and-swap write.
        context = Execution.objects.values_list("context", flat=True).get(pk=run.execution_id)
        current = context.get(INPUT_KEY) or {}
        if current.get("id") and current["id"] != seen and (not input_type or current.get("inputType") == input_type):
            return dict(current)
        return None

    return Pause(until=until, data={"inputType": input_type, "seenInputId": seen}, persist=persist)


def widget_input_deadline(run) -> dict:
    return {"timedOut": True, "inputType": None, "data": None}


def validate_widget_input(config: dict) -> list[tuple[str, str]]:
    timeout = config.get("timeout")
    if timeout and isinstance(timeout, str) and "{{" not in timeout:
        try:
            parse_duration(timeout)
        except ValueError as exc:
            return [("timeout", str(exc))]
    return []


NODE_TYPES = [
    NodeType(
        type="widget-input",
        label="Wait for Widget Input",
        run=run_widget_input,
        description="Pauses until a dashboard widget sends input; its output is the input "
        "({inputType, data, widgetID, userName, receivedAt}), also in {{__widgetInput}}.",
        category="Widgets",
        icon="pointer",
        fields=[
            Field("inputType", "Input type", "text", description="Only this inputType resumes the node (empty: any)"),
            Field(
                "timeout", "Timeout", "template-input", description="30s, 15m, 24h; output {timedOut: true} after it"
            ),
        ],
        output_fields=[
            {"key": "inputType", "label": "Input type"},
            {"key": "data", "label": "Data"},
            {"key": "timedOut", "label": "Timed out"},
        ],
        on_deadline=widget_input_deadline,
        validate=validate_widget_input,
    )
]
