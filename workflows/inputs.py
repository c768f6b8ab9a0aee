"""A workflow's input schema (pure): the trigger's `inputSchema` as a JSON Schema, one
compiled validator per version, the problems of an input named by their path, and the
fields of a run form.

The schema lives in the trigger node's config (`inputSchema`, a `schema-builder` field), so
every version keeps its own. It is either a list of entries, the builder's shape,

    [{"name": "orderId", "type": "integer", "required": true},
     {"name": "priority", "type": "string", "enum": ["low", "high"], "description": "..."}]

or a JSON Schema object written by hand. Either is checked with the `jsonschema` library.
Keys the schema does not name are allowed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from jsonschema import exceptions as schema_exceptions
from jsonschema import validators

from . import values
from .exceptions import InvalidInput

SCHEMA_TYPES = ("string", "number", "integer", "boolean", "object", "array")
ENTRY_KEYS = ("name", "type", "required", "enum", "description", "default")
DEFAULT_VALIDATOR = validators.Draft202012Validator


def raw_schema(definition: Any, trigger_types: set[str]) -> Any:
    """The `inputSchema` of the definition's trigger node (None without one)."""
    nodes = definition.get("nodes") if isinstance(definition, Mapping) else None
    for node in nodes if isinstance(nodes, list) else ():
        if isinstance(node, Mapping) and node.get("type") in trigger_types:
            config = node.get("config")
            return _parsed(config.get("inputSchema")) if isinstance(config, Mapping) else None
    return None


def _parsed(value: Any) -> Any:
    """Structured field values may arrive as JSON text (the builder stores some that way)."""
    if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
        try:
            return values.loads(value)
        except ValueError:
            return value
    return value


def json_schema(raw: Any) -> dict | None:
    """The JSON Schema of an `inputSchema` value; None when it declares nothing."""
    raw = _parsed(raw)
    if raw is None or raw == "" or raw == [] or raw == {}:
        return None
    if isinstance(raw, Mapping):
        return dict(raw)
    if not isinstance(raw, list):
        raise TypeError("must be a JSON schema object or a list of {name, type} entries")
    properties: dict[str, dict] = {}
    required: list[str] = []
    for entry in raw:
        spec: dict[str, Any] = {"type": entry.get("type") or "string"}
        for key in ("enum", "description", "default"):
            if entry.get(key) not in (None, "", []):
                spec[key] = entry[key]
        properties[entry["name"]] = spec
        if entry.get("required"):
            required.append(entry["name"])
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def schema_problem(raw: Any) -> str | None:
    """What is wrong with an `inputSchema` value, or None (for the definition's validation)."""
    raw = _parsed(raw)
    if isinstance(raw, list):
        for index, entry in enumerate(raw):
            problem = _entry_problem(entry)
            if problem:
                return f"[{index}]{problem}"
        names = [entry["name"] for entry in raw]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            return f" names a field twice: {', '.join(duplicates)}"
    elif not isinstance(raw, Mapping) and raw not in (None, ""):
        return " must be a JSON schema object or a list of {name, type} entries"
    try:
        schema = json_schema(raw)
        if schema is not None:
            validators.validator_for(schema, default=DEFAULT_VALIDATOR).check_schema(schema)
    except schema_exceptions.SchemaError as exc:
        where = "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}" for p in exc.absolute_path)
        return f"{where} is not a valid JSON schema: {exc.message}"
    return None


def _entry_problem(entry: Any) -> str | None:
    if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str) or not entry["name"]:
        return " needs a name"
    unknown = sorted(set(entry) - set(ENTRY_KEYS))
    if unknown:
        return f" has unknown keys: {', '.join(unknown)}; an entry takes {', '.join(ENTRY_KEYS)}"
    if entry.get("type", "string") not in SCHEMA_TYPES:
        return f".type must be one of: {', '.join(SCHEMA_TYPES)}"
    if not isinstance(entry.get("required", False), bool):
        return ".required must be true or false"
    enum = entry.get("enum")
    if enum is not None and (not isinstance(enum, list) or not enum or any(isinstance(v, (dict, list)) for v in enum)):
        return ".enum must be a non-empty list of values"
    return None


class InputValidator:
    """A compiled schema: `check(input)` raises InvalidInput naming the first field at fault."""

    def __init__(self, schema: dict):
        self.schema = schema
        self._validator = validators.validator_for(schema, default=DEFAULT_VALIDATOR)(schema)

    def problems(self, value: Any) -> list[dict]:
        """The problem of each field of `value` at fault as {"field", "message", "code"}, in
        the order of their paths (one per field: a wrong type before a value not allowed)."""
        found: dict[str, str] = {}
        for error in sorted(self._validator.iter_errors(value), key=lambda e: e.validator != "type"):
            for field, message in _described(error):
                found.setdefault(field, message)
        return [{"field": f, "message": m, "code": "invalid_input"} for f, m in sorted(found.items())]

    def check(self, value: Any) -> None:
        problems = self.problems(value)
        if problems:
            first = problems[0]
            raise InvalidInput(f"{first['field']}: {first['message']}", field=first["field"], errors=problems)


def _described(error: schema_exceptions.ValidationError) -> list[tuple[str, str]]:
    """(input path, message) of one jsonschema error; a missing property is named by itself."""
    path = input_path(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, Mapping):
        missing = [name for name in error.validator_value if name not in error.instance]
        return [(input_path([*error.absolute_path, name]), "is required") for name in missing]
    if error.validator == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return [(path, f"must be of type {expected}, got {json.dumps(error.instance)[:80]}")]
    if error.validator == "enum":
        return [(path, f"must be one of: {', '.join(json.dumps(v) for v in error.validator_value)}")]
    return [(path, error.message)]


def input_path(parts) -> str:
    """`input.items[0].sku` for the path (items, 0, sku) inside an input."""
    text = "input"
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


class BrokenSchema:
    """A stored schema that jsonschema refuses (saved before schemas were checked): every
    start is refused, saying so, rather than run unchecked."""

    def __init__(self, problem: str):
        self.problem = problem
        self.schema = None

    def check(self, value: Any) -> None:
        raise InvalidInput(
            f"The workflow's input schema is not valid{self.problem}; fix it in the builder", field="inputSchema"
        )


def compile_validator(raw: Any) -> InputValidator | BrokenSchema | None:
    """The validator of an `inputSchema` value (None when it declares nothing)."""
    problem = schema_problem(raw)
    if problem:
        return BrokenSchema(problem)
    schema = json_schema(raw)
    return InputValidator(schema) if schema is not None else None


def form_fields(raw: Any) -> list[dict]:
    """The fields of a run form: [{name, type, required, enum, description, default}] for the
    top-level properties, in the schema's order (nested values are edited as JSON)."""
    try:
        schema = json_schema(raw)
    except (ValueError, KeyError, AttributeError, TypeError):
        return []
    if not isinstance(schema, Mapping) or not isinstance(schema.get("properties"), Mapping):
        return []
    properties = schema["properties"]
    required = (
        {r for r in schema["required"] if isinstance(r, str)} if isinstance(schema.get("required"), list) else set()
    )
    fields = []
    for name, spec in properties.items():
        spec = spec if isinstance(spec, Mapping) else {}
        kind = spec.get("type")
        if isinstance(kind, list):
            kind = next((t for t in kind if t != "null"), None)
        fields.append(
            {
                "name": str(name),
                "type": kind if kind in SCHEMA_TYPES else "string",
                "required": name in required,
                "enum": list(spec["enum"]) if isinstance(spec.get("enum"), list) else None,
                "description": str(spec.get("description") or spec.get("title") or ""),
                "default": spec.get("default"),
            }
        )
    return fields


def definition_fields(definition: Any, trigger_types: set[str]) -> list[dict]:
    """The run-form fields of a definition's input schema."""
    return form_fields(raw_schema(definition, trigger_types))


def input_from_form(fields: list[dict], data: Mapping[str, str], *, prefix: str = "input.") -> tuple[dict, list[dict]]:
    """An input from a generated form's values (`input.<name>` each), typed by the schema:
    (input, problems). An empty field is left out (the schema says whether it may be); an
    unchecked box is false."""
    result: dict[str, Any] = {}
    problems = []
    for field in fields:
        name, kind = field["name"], field["type"]
        raw = data.get(prefix + name)
        if kind == "boolean" and not field.get("enum"):
            result[name] = raw in ("on", "true", "1")
            continue
        if raw is None or str(raw).strip() == "":
            continue
        try:
            result[name] = _typed(kind, str(raw).strip() if kind != "string" else str(raw))
        except ValueError as exc:
            problems.append({"field": input_path([name]), "message": str(exc), "code": "invalid_input"})
    return result, problems


def _typed(kind: str, text: str) -> Any:
    if kind == "integer":
        try:
            return int(text)
        except ValueError:
            raise ValueError("must be a whole number") from None
    if kind == "number":
        try:
            number = float(text)
        except ValueError:
            raise ValueError("must be a number") from None
        return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number
    if kind in ("object", "array"):
        try:
            return values.loads(text)
        except ValueError as exc:
            raise ValueError(f"is not valid JSON: {exc}") from None
    if kind == "boolean":
        return text in ("on", "true", "1")
    return text
