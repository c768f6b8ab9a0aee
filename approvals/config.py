"""Read the Request Approval node's resolved config into a checked spec (pure, no ORM)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from workflows import templating
from workflows.durations import parse_duration
from workflows.nodes import Field

from .policies import ALL, APPROVAL_TYPES, SINGLE

OUTCOME_CHOICES = ("error", "continue")
FORM_FIELD_TYPES = ("text", "number", "select", "template-textarea")


class ConfigError(ValueError):
    """A config value that cannot be used; carries the field key."""

    def __init__(self, field_key: str, message: str):
        super().__init__(f"{field_key}: {message}")
        self.field = field_key
        self.message = message


@dataclass
class RequestSpec:
    title: str
    description: str = ""
    approval_type: str = SINGLE
    approvers: list[str] = field(default_factory=list)
    approver_roles: list[str] = field(default_factory=list)
    required_approvals: int | None = None
    expires_in: timedelta | None = None
    on_rejection: str = "error"
    on_expiration: str = "error"
    context_data: dict = field(default_factory=dict)
    send_notification: bool = False
    email_subject: str = ""
    approval_url: str = ""
    allow_self_approval: bool = True
    remind_every: timedelta | None = None
    escalate_after: timedelta | None = None
    escalate_to: list[str] = field(default_factory=list)
    form_fields: list[dict] = field(default_factory=list)

    @property
    def asks_tenant_admins(self) -> bool:
        """Neither approvers nor roles given: the tenant's admins decide."""
        return not self.approvers and not self.approver_roles


def parse_names(value: Any, *, key: str) -> list[str]:
    """Comma-separated text or a JSON array (text or list) into a list of unique names."""
    if value in (None, ""):
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError as exc:
                raise ConfigError(key, f"is not a valid JSON array ({exc})") from None
        else:
            value = text.split(",")
    if not isinstance(value, list):
        raise ConfigError(key, "must be comma-separated names or a JSON array")
    names: list[str] = []
    for item in value:
        if not isinstance(item, (str, int)) or isinstance(item, bool):
            raise ConfigError(key, f"contains a value that is not a name: {item!r}")
        name = str(item).strip()
        if name and name not in names:
            names.append(name)
    return names


def parse_bool(value: Any, *, key: str, default: bool) -> bool:
    if value in (None, ""):
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1", "on"):
        return True
    if text in ("false", "no", "0", "off"):
        return False
    raise ConfigError(key, f"must be true or false, got {value!r}")


def parse_optional_duration(value: Any, *, key: str) -> timedelta | None:
    if value in (None, ""):
        return None
    try:
        duration = parse_duration(value)
    except ValueError as exc:
        raise ConfigError(key, str(exc)) from None
    if duration <= timedelta(0):
        raise ConfigError(key, "must be longer than zero")
    return duration


def parse_context_data(value: Any) -> dict:
    if value in (None, ""):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise ConfigError("contextData", f"is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ConfigError("contextData", "must be a JSON object")
    return value


def parse_form_fields(value: Any) -> list[dict]:
    """Check `formFields`: a list of {key, label, type, required?, options?}."""
    if value in (None, ""):
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise ConfigError("formFields", f"is not valid JSON ({exc})") from None
    if not isinstance(value, list):
        raise ConfigError("formFields", "must be a list of fields")
    fields, keys = [], set()
    for index, raw in enumerate(value):
        where = f"formFields[{index}]"
        if not isinstance(raw, dict):
            raise ConfigError(where, "must be an object with key, label and type")
        key = raw.get("key")
        if not isinstance(key, str) or not key.strip():
            raise ConfigError(f"{where}.key", "is required")
        if key in keys:
            raise ConfigError(f"{where}.key", f"{key!r} is used twice")
        keys.add(key)
        type_ = raw.get("type", "text")
        if type_ not in FORM_FIELD_TYPES:
            raise ConfigError(f"{where}.type", f"must be one of: {', '.join(FORM_FIELD_TYPES)}")
        options = raw.get("options")
        if type_ == "select":
            if not isinstance(options, list) or not options:
                raise ConfigError(f"{where}.options", "a select needs a non-empty list of options")
            options = [o if isinstance(o, dict) else {"value": o, "label": str(o)} for o in options]
        fields.append(
            {
                "key": key,
                "label": str(raw.get("label") or key),
                "type": type_,
                "required": parse_bool(raw.get("required"), key=f"{where}.required", default=False),
                **({"options": options} if type_ == "select" else {}),
            }
        )
    return fields


def form_field_objects(form_fields: list[dict]) -> list[Field]:
    """The decision form as core Field objects, for workflows.fields.validate_config."""
    # Values typed into a form are plain text, never templates: check them as text.
    kinds = {"template-textarea": "text"}
    return [
        Field(
            f["key"],
            f["label"],
            kinds.get(f["type"], f["type"]),
            required=f.get("required", False),
            options=f.get("options"),
        )
        for f in form_fields
    ]


def _choice(config: dict, key: str, choices: tuple[str, ...], default: str) -> str:
    value = config.get(key) or default
    if value not in choices:
        raise ConfigError(key, f"must be one of: {', '.join(choices)}")
    return value


def parse_spec(config: dict, *, unresolved: dict | None = None) -> RequestSpec:
    """Build the spec from a resolved config; raises ConfigError naming the field.
    `unresolved` is the config before its templates were resolved (default: `config`)."""
    title = config.get("title")
    if title in (None, "") or not str(title).strip():
        raise ConfigError("title", "Title is required")
    approval_type = _choice(config, "approvalType", APPROVAL_TYPES, SINGLE)
    required = config.get("requiredApprovals")
    if required in (None, ""):
        required = None
    else:
        try:
            required = int(required)
        except (TypeError, ValueError):
            raise ConfigError("requiredApprovals", "must be a whole number") from None
        if required < 1:
            raise ConfigError("requiredApprovals", "must be at least 1")
    spec = RequestSpec(
        title=str(title).strip(),
        description="" if config.get("description") is None else str(config.get("description")),
        approval_type=approval_type,
        approvers=parse_names(config.get("approvers"), key="approvers"),
        approver_roles=parse_names(config.get("approverRoles"), key="approverRoles"),
        required_approvals=required if approval_type == ALL else None,
        expires_in=parse_optional_duration(config.get("expiresIn"), key="expiresIn"),
        on_rejection=_choice(config, "onRejection", OUTCOME_CHOICES, "error"),
        on_expiration=_choice(config, "onExpiration", OUTCOME_CHOICES, "error"),
        context_data=parse_context_data(config.get("contextData")),
        send_notification=parse_bool(config.get("sendNotification"), key="sendNotification", default=False),
        email_subject="" if config.get("emailSubject") is None else str(config.get("emailSubject")),
        approval_url="" if config.get("approvalUrl") is None else str(config.get("approvalUrl")),
        allow_self_approval=parse_bool(config.get("allowSelfApproval"), key="allowSelfApproval", default=True),
        remind_every=parse_optional_duration(config.get("remindEvery"), key="remindEvery"),
        escalate_after=parse_optional_duration(config.get("escalateAfter"), key="escalateAfter"),
        escalate_to=parse_names(config.get("escalateTo"), key="escalateTo"),
        form_fields=parse_form_fields(config.get("formFields")),
    )
    # Neither approvers nor approverRoles (both optional) asks the tenant's admins
    # (services.create_request). Names that were configured but resolved to none are a
    # fault of the run's data, not a wish to ask the admins.
    given = unresolved if unresolved is not None else config
    if spec.asks_tenant_admins and (given.get("approvers") or given.get("approverRoles")):
        raise ConfigError("approvers", "resolved to no approver and no approver role")
    if spec.escalate_after and not spec.escalate_to:
        raise ConfigError("escalateTo", "escalateAfter needs users or roles to escalate to")
    if spec.approval_type == ALL and spec.required_approvals and spec.approvers and not spec.approver_roles:
        if spec.required_approvals > len(spec.approvers):
            raise ConfigError(
                "requiredApprovals",
                f"asks for {spec.required_approvals} approvals but only {len(spec.approvers)} approvers are listed",
            )
    return spec


def validate_saved_config(config: dict) -> list[tuple[str, str]]:
    """Checks at save time: only values without templates can be checked before the run."""
    problems: list[tuple[str, str]] = []
    static = {k: v for k, v in config.items() if not _has_template(v)}
    checks = [
        ("approvers", lambda v: parse_names(v, key="approvers")),
        ("approverRoles", lambda v: parse_names(v, key="approverRoles")),
        ("escalateTo", lambda v: parse_names(v, key="escalateTo")),
        ("expiresIn", lambda v: parse_optional_duration(v, key="expiresIn")),
        ("remindEvery", lambda v: parse_optional_duration(v, key="remindEvery")),
        ("escalateAfter", lambda v: parse_optional_duration(v, key="escalateAfter")),
        ("contextData", parse_context_data),
        ("formFields", parse_form_fields),
        ("allowSelfApproval", lambda v: parse_bool(v, key="allowSelfApproval", default=True)),
        ("sendNotification", lambda v: parse_bool(v, key="sendNotification", default=False)),
    ]
    for key, check in checks:
        if key in static:
            try:
                check(static[key])
            except ConfigError as exc:
                problems.append((exc.field, exc.message))
    if _names_nobody([config.get("approvers"), config.get("approverRoles")]):
        problems.append(
            ("approvers", "names nobody; leave approvers and approverRoles empty to ask the tenant's admins")
        )
    if config.get("escalateAfter") and not config.get("escalateTo"):
        problems.append(("escalateTo", "escalateAfter needs users or roles to escalate to"))
    return problems


def _names_nobody(values: list) -> bool:
    """Approver values given (not empty), all without templates, that hold no name ("[]", ",")."""
    given = [v for v in values if v]
    if not given or any(_has_template(v) for v in given):
        return False
    try:
        return not any(parse_names(v, key="approvers") for v in given)
    except ConfigError:
        return False  # reported by its own check


def _has_template(value: Any) -> bool:
    try:
        return bool(templating.referenced_roots(value))
    except templating.TemplateSyntaxError:
        return True
