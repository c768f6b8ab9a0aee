"""Built-in node types: Trigger, Condition, Switch, Set, HTTP Request, Sleep, Trigger
Workflow, For Each and Send E-mail."""

from __future__ import annotations

import json
import smtplib
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from . import outbound, templating
from .children import FOR_EACH, cancel_children, start_children
from .durations import parse_duration
from .nodes import Field, NodeError, NodeType, Pause, StepContext, StepResult

# --- Trigger ---------------------------------------------------------------------------


def run_trigger(config: dict, ctx: StepContext) -> dict:
    return ctx.context.get("Trigger") or {}


# --- Condition and Switch ----------------------------------------------------------------

OPERATORS = [
    "equals",
    "notEquals",
    "gt",
    "gte",
    "lt",
    "lte",
    "contains",
    "notContains",
    "startsWith",
    "endsWith",
    "in",
    "isEmpty",
    "isNotEmpty",
    "isTrue",
    "isFalse",
    "exists",
]


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _ordered(a: Any, operator: str, b: Any) -> bool:
    return {"gt": a > b, "gte": a >= b, "lt": a < b, "lte": a <= b}[operator]


def compare(left: Any, operator: str, right: Any = None) -> bool:
    """Compare two resolved values; numbers given as text compare as numbers."""
    ln, rn = _number(left), _number(right)
    if operator == "equals":
        return left == right or (ln is not None and ln == rn)
    if operator == "notEquals":
        return not compare(left, "equals", right)
    if operator in ("gt", "gte", "lt", "lte"):
        if ln is not None and rn is not None:
            return _ordered(ln, operator, rn)
        if isinstance(left, str) and isinstance(right, str):
            return _ordered(left, operator, right)
        return False
    if operator == "contains":
        return (
            isinstance(left, (str, list, dict)) and right in left if not isinstance(left, str) else str(right) in left
        )
    if operator == "notContains":
        return not compare(left, "contains", right)
    if operator == "startsWith":
        return isinstance(left, str) and left.startswith(str(right))
    if operator == "endsWith":
        return isinstance(left, str) and left.endswith(str(right))
    if operator == "in":
        return isinstance(right, (list, str, dict)) and left in right
    if operator == "isEmpty":
        return left in (None, "", [], {})
    if operator == "isNotEmpty":
        return left not in (None, "", [], {})
    if operator == "isTrue":
        return left is True or left == "true"
    if operator == "isFalse":
        return left is False or left == "false"
    if operator == "exists":
        return left is not None
    raise NodeError(f"unknown operator {operator!r}", retryable=False)


def run_condition(config: dict, ctx: StepContext) -> StepResult:
    conditions = config.get("conditions") or [
        {"left": config.get("left"), "operator": config.get("operator") or "equals", "right": config.get("right")}
    ]
    if not isinstance(conditions, list) or not all(isinstance(c, dict) for c in conditions):
        raise NodeError("conditions must resolve to a list of {left, operator, right}", retryable=False)
    results = [compare(c.get("left"), c.get("operator") or "equals", c.get("right")) for c in conditions]
    result = any(results) if config.get("combinator") == "or" else all(results)
    return StepResult(output={"result": result}, branch="true" if result else "false")


def validate_condition(config: dict) -> list[tuple[str, str]]:
    problems = []
    conditions = config.get("conditions")
    if conditions is not None and not isinstance(conditions, list):
        return [("conditions", "must be a list of {left, operator, right}")]
    for i, cond in enumerate(conditions or [config]):
        op = cond.get("operator") if isinstance(cond, dict) else None
        if op is not None and op not in OPERATORS:
            key = f"conditions[{i}].operator" if conditions else "operator"
            problems.append((key, f"must be one of: {', '.join(OPERATORS)}"))
    if not conditions and "left" not in config:
        problems.append(("left", "Left value is required"))
    return problems


def run_switch(config: dict, ctx: StepContext) -> StepResult:
    value = config.get("value")
    for case in config.get("cases") or []:
        if compare(value, case.get("operator") or "equals", case.get("equals", case.get("value"))):
            return StepResult(output={"value": value, "branch": case["branch"]}, branch=case["branch"])
    return StepResult(output={"value": value, "branch": "default"}, branch="default")


def validate_switch(config: dict) -> list[tuple[str, str]]:
    cases = config.get("cases")
    if not isinstance(cases, list) or not cases:
        return [("cases", "must be a non-empty list of {branch, equals}")]
    return [
        (f"cases[{i}].branch", "is required")
        for i, case in enumerate(cases)
        if not isinstance(case, dict) or not isinstance(case.get("branch"), str) or not case["branch"]
    ]


# --- Set ---------------------------------------------------------------------------------


def run_set(config: dict, ctx: StepContext) -> Any:
    return config.get("values") or {}


# --- HTTP Request -----------------------------------------------------------------------

IDEMPOTENCY_HEADER = "Idempotency-Key"


def run_http(config: dict, ctx: StepContext) -> dict:
    method = (config.get("method") or "GET").upper()
    url = config.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise NodeError(f"url must be an http(s) URL, got {url!r}", retryable=False)
    headers = {str(k): str(v) for k, v in (config.get("headers") or {}).items()}
    body = config.get("body")
    data = None
    if body not in (None, "") and method not in ("GET", "HEAD"):
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        else:
            data = str(body).encode()
    key_header = config.get("idempotencyHeader", IDEMPOTENCY_HEADER)
    if key_header and ctx.idempotency_key and not any(h.lower() == str(key_header).lower() for h in headers):
        headers[str(key_header)] = ctx.idempotency_key
    timeout = float(config.get("timeout") or settings.WORKFLOW_HTTP_TIMEOUT_SECONDS)
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    ctx.logger.info(f"{method} {url}")
    try:
        with outbound.urlopen(request, timeout=timeout) as response:
            status, raw, resp_headers = response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        status, raw, resp_headers = exc.code, exc.read(), dict(exc.headers or {})
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, outbound.Refused):
            raise NodeError(f"{method} {url}: {reason}", retryable=False) from exc
        raise NodeError(f"{method} {url} failed: {reason}") from exc
    text = raw.decode("utf-8", errors="replace")
    try:
        parsed: Any = json.loads(text) if text else None
    except (ValueError, RecursionError):  # not JSON, or nested too deep to parse: kept as text
        parsed = text
    output = {"status": status, "ok": 200 <= status < 300, "headers": resp_headers, "body": parsed}
    ctx.logger.info(f"answered {status}")
    if not output["ok"] and not _truthy(config.get("allowErrorStatus")):
        retryable = status >= 500 or status in (408, 429)
        raise NodeError(f"{method} {url} answered {status}", retryable=retryable, details=output)
    return output


def _truthy(value: Any) -> bool:
    return value is True or value in ("true", "1", 1)


# --- Sleep -----------------------------------------------------------------------------


def sleep_until(config: dict, now: datetime) -> datetime:
    if config.get("until"):
        until = config["until"]
        try:
            moment = until if isinstance(until, datetime) else parse_datetime(str(until))
        except ValueError:
            moment = None
        if moment is None:
            raise NodeError(f"until is not an ISO 8601 timestamp: {until!r}", retryable=False)
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment, UTC)
        return moment
    try:
        return now + parse_duration(config.get("duration") or "0s")
    except ValueError as exc:
        raise NodeError(f"duration: {exc}", retryable=False) from exc


def run_sleep(config: dict, ctx: StepContext) -> Any:
    now = timezone.now()
    until = sleep_until(config, now)
    if until <= now:
        return {"sleptUntil": now.isoformat()}
    return Pause(until=until, data={"until": until.isoformat()})


def sleep_deadline(run) -> dict:
    return {"sleptUntil": (run.wake_at or timezone.now()).isoformat()}


def validate_sleep(config: dict) -> list[tuple[str, str]]:
    duration, until = config.get("duration"), config.get("until")
    if not duration and not until:
        return [("duration", "give a duration (30s, 15m, 24h, 7d) or an until timestamp")]
    if duration and isinstance(duration, str) and not templating.expressions(duration):
        try:
            parse_duration(duration)
        except ValueError as exc:
            return [("duration", str(exc))]
    return []


# --- Trigger Workflow and For Each -----------------------------------------------------------


def run_trigger_workflow(config: dict, ctx: StepContext) -> Any:
    child_input = config.get("input") or {}
    if not isinstance(child_input, dict):
        raise NodeError("input must resolve to an object", retryable=False)
    workflow_id = config.get("workflowId")
    if not _truthy(config.get("waitForCompletion", True)):
        started: dict = {}

        def persist(run) -> None:
            child = start_children(run, workflow_id=workflow_id, inputs=[child_input])[0]
            started.update(executionId=str(child.pk), status="running")
            run.output = dict(started)

        return StepResult(output=started, persist=persist)

    def persist_and_wait(run) -> None:
        children = start_children(run, workflow_id=workflow_id, inputs=[child_input])
        run.pause_data = {"childExecutionIds": [str(c.pk) for c in children]}

    return Pause(persist=persist_and_wait)


def run_for_each(config: dict, ctx: StepContext) -> Any:
    items = templating.resolve(config.get("items"), ctx.context)
    if not isinstance(items, list):
        raise NodeError(f"items must resolve to a list, got {type(items).__name__}", retryable=False)
    if len(items) > settings.WORKFLOW_MAX_FOREACH_ITEMS:
        raise NodeError(
            f"items has {len(items)} entries; the limit is {settings.WORKFLOW_MAX_FOREACH_ITEMS}", retryable=False
        )
    if not items:
        return {"results": [], "count": 0}
    template = config.get("input") or {}
    inputs = []
    for index, item in enumerate(items):
        child_input = templating.resolve(template, {**ctx.context, "item": item, "index": index})
        if not isinstance(child_input, dict):
            raise NodeError("input must resolve to an object", retryable=False)
        inputs.append({"item": item, "index": index, **child_input})
    ctx.logger.info(f"Starting {len(inputs)} child execution(s)")

    def persist(run) -> None:
        children = start_children(run, workflow_id=config.get("workflowId"), inputs=inputs)
        run.pause_data = {"childExecutionIds": [str(c.pk) for c in children]}

    return Pause(persist=persist)


def _child_cancel(run) -> None:
    cancel_children(run)


# --- Send E-mail ------------------------------------------------------------------------------


def recipients(value: Any) -> list[str]:
    """The addresses of a resolved `to`: a list, or text separated by commas or semicolons."""
    items = value if isinstance(value, list) else str(value or "").replace(";", ",").split(",")
    return [str(item).strip() for item in items if str(item).strip()]


def run_send_email(config: dict, ctx: StepContext) -> dict:
    """Send one message through Django's e-mail (EMAIL_BACKEND, DEFAULT_FROM_EMAIL)."""
    from django.core.mail import send_mail

    to = recipients(config.get("to"))
    if not to:
        raise NodeError("to resolved to no address", retryable=False)
    bad = [address for address in to if "@" not in address or any(c.isspace() for c in address)]
    if bad:
        raise NodeError(f"not an e-mail address: {', '.join(bad)}", retryable=False)
    subject = " ".join(_text(config.get("subject")).split())  # one line: headers cannot hold newlines
    body = _text(config.get("body"))
    try:
        send_mail(subject, body, config.get("fromEmail") or None, to, fail_silently=False)
    except (OSError, smtplib.SMTPException) as exc:  # the server or the network: worth another attempt
        raise NodeError(f"sending the e-mail failed: {exc}") from exc
    ctx.logger.info(f"E-mail sent to {', '.join(to)}: {subject}")
    return {"to": to, "subject": subject}


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, indent=2, default=str)


NODE_TYPES = [
    NodeType(
        type="trigger",
        label="Trigger",
        run=run_trigger,
        description="Starts the workflow; its output is the input it was triggered with.",
        icon="play",
        is_trigger=True,
        fields=[
            Field(
                "inputSchema",
                "Input schema",
                "schema-builder",
                description="The fields the input must have: every start is checked against them, and run forms are made of them",
            )
        ],
    ),
    NodeType(
        type="condition",
        label="Condition",
        run=run_condition,
        description="If/else: compares resolved values and takes the `true` or `false` branch.",
        icon="git-branch",
        branches=("true", "false"),
        fields=[
            Field("left", "Left value", "template-input"),
            Field(
                "operator",
                "Operator",
                "select",
                options=[{"value": o, "label": o} for o in OPERATORS],
                default="equals",
            ),
            Field("right", "Right value", "template-input"),
            Field(
                "combinator",
                "Combine conditions",
                "select",
                options=[{"value": "and", "label": "All"}, {"value": "or", "label": "Any"}],
            ),
        ],
        validate=validate_condition,
        output_fields=[{"field": "result", "description": "true or false"}],
    ),
    NodeType(
        type="switch",
        label="Switch",
        run=run_switch,
        description="Takes the branch of the first case that matches, else `default`.",
        icon="split",
        branches=None,
        fields=[
            Field("value", "Value", "template-input", required=True),
            Field("cases", "Cases", "list", required=True),
        ],
        validate=validate_switch,
        output_fields=[
            {"field": "value", "description": "The value compared"},
            {"field": "branch", "description": "The branch taken"},
        ],
    ),
    NodeType(
        type="set",
        label="Set",
        run=run_set,
        description="Builds an object from templates.",
        icon="braces",
        fields=[Field("values", "Values", "object")],
    ),
    NodeType(
        type="http-request",
        label="HTTP Request",
        run=run_http,
        description="Calls an HTTP endpoint; a non-2xx answer is an error unless allowed.",
        icon="globe",
        fields=[
            Field(
                "method",
                "Method",
                "select",
                options=[{"value": m, "label": m} for m in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")],
                default="GET",
            ),
            Field("url", "URL", "template-input", required=True),
            Field("headers", "Headers", "object"),
            Field("body", "Body", "template-textarea"),
            Field("timeout", "Timeout (seconds)", "number", extra={"min": 0}),
            Field("allowErrorStatus", "Continue on non-2xx", "boolean"),
            Field(
                "idempotencyHeader",
                "Idempotency key header",
                "text",
                default=IDEMPOTENCY_HEADER,
                description="Carries the step's idempotency key, the same on every retry of this node run, "
                "so the receiver can drop repeats; empty to send none",
            ),
        ],
        output_fields=[
            {"field": "status", "description": "HTTP status code"},
            {"field": "ok", "description": "Whether the status is 2xx"},
            {"field": "headers", "description": "Response headers"},
            {"field": "body", "description": "Response body (parsed when JSON)"},
        ],
    ),
    NodeType(
        type="sleep",
        label="Sleep",
        run=run_sleep,
        description="Pauses the node for a duration or until a timestamp; no worker is held.",
        icon="clock",
        fields=[
            Field("duration", "Duration", "template-input", description="30s, 15m, 24h, 7d"),
            Field("until", "Until", "template-input", description="ISO 8601 timestamp"),
        ],
        validate=validate_sleep,
        on_deadline=sleep_deadline,
        output_fields=[{"field": "sleptUntil", "description": "When the sleep ended"}],
    ),
    NodeType(
        type="trigger-workflow",
        label="Trigger Workflow",
        run=run_trigger_workflow,
        description="Starts another workflow of the tenant; optionally waits and takes its final context as output.",
        icon="workflow",
        fields=[
            Field("workflowId", "Workflow", "text", required=True),
            Field("input", "Input", "template-textarea"),
            Field("waitForCompletion", "Wait for completion", "boolean", default=True),
        ],
        on_cancel=_child_cancel,
    ),
    NodeType(
        type=FOR_EACH,
        label="For Each",
        run=run_for_each,
        description="Runs a workflow per item of a list and collects their final contexts in order.",
        icon="repeat",
        resolve_config=False,
        local_roots=("item", "index"),
        fields=[
            Field("items", "Items", "template-input", required=True),
            Field("workflowId", "Workflow", "text", required=True),
            Field("input", "Input per item ({{item}}, {{index}})", "template-textarea"),
        ],
        on_cancel=_child_cancel,
        output_fields=[{"field": "results", "description": "Final context of each child, in item order"}],
    ),
    NodeType(
        type="send-email",
        label="Send E-mail",
        run=run_send_email,
        description="Sends an e-mail through the site's mail settings; with an error workflow, one node tells people a run failed.",
        icon="mail",
        fields=[
            Field("to", "To", "template-input", required=True, description="Addresses separated by commas, or a list"),
            Field(
                "subject",
                "Subject",
                "template-input",
                required=True,
                extra={"placeholder": "Workflow {{Trigger.workflow.name}} failed"},
            ),
            Field(
                "body",
                "Body",
                "template-textarea",
                required=True,
                extra={"placeholder": "{{Trigger.error.message}}\n{{Trigger.executionUrl}}"},
            ),
            Field("fromEmail", "From", "template-input", description="Default: DEFAULT_FROM_EMAIL"),
        ],
        output_fields=[
            {"field": "to", "description": "The addresses it was sent to"},
            {"field": "subject", "description": "The subject sent"},
        ],
    ),
]
