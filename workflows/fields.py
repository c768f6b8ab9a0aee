"""Validate a node's config against its fields (pure): required, type, select options.

Field types are the builder UI's: template-input, template-textarea, text, number (min/max),
select, combobox (options, optionsSource or getOptions), schema-builder, single-row-update
(singleRowMode update/insert/delete), match-builder, multi-select, boolean, object, list.
A field with `showWhen` is checked only while its condition holds.
"""

from __future__ import annotations

import json
from typing import Any

from . import inputs, templating
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
    if "notEquals" in cond:
        return other != cond["notEquals"]
    if "in" in cond:
        return other in cond["in"]
    return True


def visible(field: Field, config: dict) -> bool:
    """Whether the field's showWhen condition holds for `config` (always, without one)."""
    return _visible(field, config)


def parse_json_value(value: Any) -> Any:
    """Structured fields may arrive as JSON text (the builder stores some that way)."""
    if isinstance(value, str) and value.strip()[:1] in ("[", "{") and not is_template(value):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


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
    if isinstance(value, bool):
        return f"{field.label} must be a number"
    if not isinstance(value, (int, float)):
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


def _check_combobox(field: Field, value: Any) -> str | None:
    # Static options are checked here; optionsSource and getOptions values depend on data
    # (the tenant's integrations, a data source's attributes) and are checked where they are used.
    if isinstance(value, (dict, list)):
        return f"{field.label} must be a single value"
    if field.options is not None:
        return _check_select(field, value)
    return None


def _check_multi_select(field: Field, value: Any) -> str | None:
    value = parse_json_value(value)
    if is_template(value):
        return None
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
        return f"{field.label} must be a list of values"
    allowed = _option_values(field)
    if allowed is not None:
        unknown = [v for v in value if v not in allowed]
        if unknown:
            return f"{field.label} has values not among its options: {', '.join(map(str, unknown))}"
    return None


def _check_match(field: Field, value: Any) -> str | None:
    value = parse_json_value(value)
    if is_template(value):
        return None
    if not isinstance(value, dict):
        return f"{field.label} must be an object of attribute: value pairs"
    bad = [k for k, v in value.items() if not k or isinstance(v, (dict, list))]
    if bad:
        return f"{field.label}: each attribute needs a single value ({', '.join(map(str, bad))})"
    return None


SINGLE_ROW_MODES = ("update", "insert", "delete")


def _check_single_row(field: Field, value: Any) -> str | None:
    mode = field.extra.get("singleRowMode", "update")
    value = parse_json_value(value)
    if is_template(value):
        return None
    if mode == "update":
        if not isinstance(value, dict) or not value:
            return f"{field.label} must be one row object"
        return None
    if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], dict) or not value[0]:
        return f"{field.label} must be a list holding exactly one row object"
    return None


def _check_schema(field: Field, value: Any) -> str | None:
    """An input schema: entries {name, type, required, enum, description, default} or a JSON
    Schema object, checked with the jsonschema library (workflows/inputs.py)."""
    problem = inputs.schema_problem(value)
    return f"{field.label}{problem}" if problem else None


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
    "combobox": _check_combobox,
    "multi-select": _check_multi_select,
    "match-builder": _check_match,
    "single-row-update": _check_single_row,
    "schema-builder": _check_schema,
    "boolean": _check_boolean,
    "object": _check_object,
    "list": _check_list,
}


def field_definition_problems(field: Field) -> list[str]:
    """Mistakes in a field's own declaration (for the start-up checks)."""
    problems = []
    if field.type not in FIELD_CHECKS:
        problems.append(f"field {field.key!r} has unknown type {field.type!r}; use one of: {', '.join(FIELD_CHECKS)}")
    if field.type == "select" and not field.options:
        problems.append(f"select field {field.key!r} needs options")
    if field.type == "single-row-update" and field.extra.get("singleRowMode", "update") not in SINGLE_ROW_MODES:
        problems.append(f"field {field.key!r}: singleRowMode must be one of {', '.join(SINGLE_ROW_MODES)}")
    sources = [name for name in ("options", "optionsSource", "getOptions") if _has(field, name)]
    if field.type == "combobox" and len(sources) != 1:
        problems.append(f"combobox field {field.key!r} needs exactly one of options, optionsSource, getOptions")
    if field.extra.get("getOptions") is not None and not callable(field.extra["getOptions"]):
        problems.append(f"field {field.key!r}: getOptions must be callable")
    cond = field.extra.get("showWhen")
    if cond is not None and (not isinstance(cond, dict) or not cond.get("field")):
        problems.append(f"field {field.key!r}: showWhen needs a field and equals, notEquals or in")
    return problems


def _has(field: Field, name: str) -> bool:
    return field.options is not None if name == "options" else field.extra.get(name) is not None
