"""Validate a node's config against its fields (pure): required, type, select options."""
from __future__ import annotations

from typing import Any

from . import templating
from .nodes import Field

TEMPLATE_TYPES = {"template-input", "template-textarea"}


def is_template(value: Any) -> bool:
    return isinstance(value, str) and bool(templating.EXPRESSION.search(value))


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _visible(field: Field, config: dict) -> bool:
    cond = field.extra.get("showWhen")
    if not cond:
        return True
    other = config.get(cond.get("field"))
    if "equals" in cond:
        return other == cond["equals"]
    if "in" in cond:
        return other in cond["in"]
    return True


def validate_config(fields: list[Field], config: dict) -> list[tuple[str, str]]:
    """Return (field key, message) for each problem of `config`."""
    problems: list[tuple[str, str]] = []
    for field in fields:
        if not _visible(field, config):
            continue
        value = config.get(field.key)
        if _is_empty(value):
            if field.required:
                problems.append((field.key, f"{field.label} is required"))
            continue
        message = check_value(field, value)
        if message:
            problems.append((field.key, message))
    return problems


def check_value(field: Field, value: Any) -> str | None:
    """Return a message when `value` does not fit the field's type, else None."""
    checker = FIELD_CHECKS.get(field.type)
    return checker(field, value) if checker else None


def _check_text(field: Field, value: Any) -> str | None:
    if not isinstance(value, str):
        return f"{field.label} must be text"
    return None


def _check_template(field: Field, value: Any) -> str | None:
    # Template fields also take structured JSON values (objects, lists, numbers, booleans).
    return None


def _check_number(field: Field, value: Any) -> str | None:
    if is_template(value):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value)
        except (TypeError, ValueError):
            return f"{field.label} must be a number"
    minimum = field.extra.get("min")
    if minimum is not None and value < minimum:
        return f"{field.label} must be at least {minimum}"
    maximum = field.extra.get("max")
    if maximum is not None and value > maximum:
        return f"{field.label} must be at most {maximum}"
    return None


def _option_values(field: Field) -> list[Any] | None:
    if field.options is None:
        return None
    return [opt["value"] if isinstance(opt, dict) else opt for opt in field.options]


def _check_select(field: Field, value: Any) -> str | None:
    allowed = _option_values(field)
    if allowed is not None and value not in allowed and not is_template(value):
        return f"{field.label} must be one of: {', '.join(map(str, allowed))}"
    return None


def _check_boolean(field: Field, value: Any) -> str | None:
    if not isinstance(value, bool) and value not in ("true", "false"):
        return f"{field.label} must be true or false"
    return None


def _check_object(field: Field, value: Any) -> str | None:
    if not isinstance(value, dict) and not is_template(value):
        return f"{field.label} must be an object"
    return None


def _check_list(field: Field, value: Any) -> str | None:
    if not isinstance(value, list) and not is_template(value):
        return f"{field.label} must be a list"
    return None


FIELD_CHECKS = {
    "template-input": _check_template,
    "template-textarea": _check_template,
    "text": _check_text,
    "number": _check_number,
    "select": _check_select,
    "boolean": _check_boolean,
    "object": _check_object,
    "list": _check_list,
}
