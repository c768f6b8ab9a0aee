"""The project's models as data sources: which are exposed (settings.WORKFLOW_DATASOURCES),
their attribute options, and the Query / Insert / Update / Delete nodes.

Every read and write is limited to the execution's tenant. Writes run in the transaction
that records the node's success (StepResult.persist), so a row is written exactly when the
node succeeds; fields that are not listed as writable are refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError

from .fields import is_template, parse_json_value
from .nodes import Field, NodeError, NodeType, StepContext, StepResult

STATUS_KEY = "_status"


@dataclass(frozen=True)
class DataSource:
    key: str
    label: str
    model_label: str
    tenant_field: str
    read: tuple[str, ...]
    write: tuple[str, ...]
    primary_key: tuple[str, ...] = ("id",)

    @property
    def model(self):
        return apps.get_model(self.model_label)

    def attribute_label(self, name: str) -> str:
        try:
            return str(self.model._meta.get_field(name).verbose_name).capitalize()
        except (FieldDoesNotExist, LookupError):
            return name


def datasources() -> dict[str, DataSource]:
    """The exposed data sources by key, as configured."""
    found = {}
    for key, spec in getattr(settings, "WORKFLOW_DATASOURCES", {}).items():
        found[key] = DataSource(
            key=key,
            label=spec.get("label", key),
            model_label=spec["model"],
            tenant_field=spec.get("tenantField", "tenant"),
            read=tuple(spec.get("read", ())),
            write=tuple(spec.get("write", ())),
            primary_key=tuple(spec.get("primaryKey", ("id",))),
        )
    return found


def get_datasource(key: Any) -> DataSource | None:
    return datasources().get(key) if isinstance(key, str) else None


def datasource_for_model(model) -> list[DataSource]:
    """The data sources that expose `model` (a model class)."""
    label = model._meta.label
    return [ds for ds in datasources().values() if ds.model_label == label]


def datasource_problems() -> list[str]:
    """Configuration mistakes: unknown models or fields, a tenant field that is no foreign key."""
    problems = []
    for ds in datasources().values():
        try:
            model = ds.model
        except (LookupError, ValueError):
            problems.append(f"WORKFLOW_DATASOURCES[{ds.key!r}]: no model {ds.model_label!r}")
            continue
        try:
            tenant = model._meta.get_field(ds.tenant_field)
            if not tenant.is_relation:
                problems.append(
                    f"WORKFLOW_DATASOURCES[{ds.key!r}]: tenantField {ds.tenant_field!r} is not a foreign key"
                )
        except FieldDoesNotExist:
            problems.append(f"WORKFLOW_DATASOURCES[{ds.key!r}]: no field {ds.tenant_field!r} on {ds.model_label}")
        for name in {*ds.read, *ds.write, *ds.primary_key}:
            try:
                model._meta.get_field(name)
            except FieldDoesNotExist:
                problems.append(f"WORKFLOW_DATASOURCES[{ds.key!r}]: no field {name!r} on {ds.model_label}")
        if ds.tenant_field in ds.write:
            problems.append(f"WORKFLOW_DATASOURCES[{ds.key!r}]: the tenant field may not be writable")
    return problems


# --- Options for the builder ------------------------------------------------------------


def datasource_options(config: dict | None = None) -> list[dict]:
    return [{"value": ds.key, "label": ds.label} for ds in datasources().values()]


def attribute_options(config: dict | None) -> list[dict]:
    """The readable attributes of the data source chosen in `config`."""
    ds = get_datasource((config or {}).get("datasourceId"))
    return [{"value": name, "label": ds.attribute_label(name)} for name in ds.read] if ds else []


def writable_attribute_options(config: dict | None) -> list[dict]:
    ds = get_datasource((config or {}).get("datasourceId"))
    return [{"value": name, "label": ds.attribute_label(name)} for name in ds.write] if ds else []


# --- Reading and writing rows --------------------------------------------------------------


def row_dict(ds: DataSource, obj, names: tuple[str, ...] | list[str] | None = None) -> dict:
    """The readable attributes of `obj` as JSON values (decimals as text, times in ISO 8601)."""
    values = {name: getattr(obj, ds.model._meta.get_field(name).attname) for name in (names or ds.read)}
    return json.loads(json.dumps(values, cls=DjangoJSONEncoder))


def _require(config: dict) -> DataSource:
    ds = get_datasource(config.get("datasourceId"))
    if ds is None:
        raise NodeError(f"unknown data source {config.get('datasourceId')!r}", retryable=False)
    return ds


def _tenant_rows(ds: DataSource, ctx: StepContext):
    return ds.model._default_manager.filter(**{f"{ds.tenant_field}_id": ctx.tenant_id})


def _one_row(value: Any, *, many: bool) -> dict:
    value = parse_json_value(value)
    if many:
        if not isinstance(value, list) or len(value) != 1:
            raise NodeError("expected a list holding exactly one row", retryable=False)
        value = value[0]
    if not isinstance(value, dict):
        raise NodeError("a row must be an object of attribute: value pairs", retryable=False)
    return {k: v for k, v in value.items() if k != STATUS_KEY}


def _refuse_unwritable(ds: DataSource, names) -> None:
    refused = sorted(set(names) - set(ds.write))
    if refused:
        raise NodeError(
            f"{ds.label}: field(s) not writable by workflows: {', '.join(refused)}; writable: {', '.join(ds.write)}",
            retryable=False,
        )


def _split_keys(ds: DataSource, row: dict) -> tuple[dict, dict]:
    keys = {k: row[k] for k in ds.primary_key if k in row}
    missing = [k for k in ds.primary_key if keys.get(k) in (None, "")]
    if missing:
        raise NodeError(f"{ds.label}: the row needs its primary key {', '.join(missing)}", retryable=False)
    return keys, {k: v for k, v in row.items() if k not in ds.primary_key}


def _save(obj, *, update_fields: list[str] | None = None) -> None:
    try:
        obj.full_clean(
            exclude=None
            if update_fields is None
            else [f.name for f in obj._meta.concrete_fields if f.name not in update_fields]
        )
        obj.save(update_fields=update_fields)
    except ValidationError as exc:
        raise NodeError(f"invalid row: {_messages(exc)}", retryable=False) from exc
    except DatabaseError as exc:
        raise NodeError(f"could not write the row: {exc}", retryable=False) from exc


def _messages(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
    return " ".join(exc.messages)


def run_query(config: dict, ctx: StepContext) -> dict:
    ds = _require(config)
    match = parse_json_value(config.get("match")) or {}
    select = parse_json_value(config.get("select")) or list(ds.read)
    if not isinstance(match, dict) or not isinstance(select, list):
        raise NodeError("match must be an object and select a list", retryable=False)
    unreadable = sorted((set(match) | set(select)) - set(ds.read))
    if unreadable:
        raise NodeError(f"{ds.label}: field(s) not readable by workflows: {', '.join(unreadable)}", retryable=False)
    rows = _tenant_rows(ds, ctx).filter(**match)
    order = config.get("orderBy")
    if order:
        if order not in ds.read:
            raise NodeError(f"{ds.label}: cannot order by {order!r}", retryable=False)
        rows = rows.order_by(f"-{order}" if config.get("orderDirection") == "desc" else order)
    limit = min(
        int(config.get("limit") or settings.WORKFLOW_DATASOURCE_MAX_ROWS), settings.WORKFLOW_DATASOURCE_MAX_ROWS
    )
    found = [row_dict(ds, obj, select) for obj in rows[:limit]]
    ctx.logger.info(f"{ds.label}: {len(found)} row(s)")
    return {"rows": found, "count": len(found)}


def run_insert(config: dict, ctx: StepContext) -> StepResult:
    ds = _require(config)
    row = _one_row(config.get("rows"), many=True)
    _refuse_unwritable(ds, row)
    output: dict = {}

    def persist(_run) -> None:
        obj = ds.model(**row, **{f"{ds.tenant_field}_id": ctx.tenant_id})
        _save(obj)
        output.update(rows=[row_dict(ds, obj)], count=1)

    return StepResult(output=output, persist=persist)


def run_update(config: dict, ctx: StepContext) -> StepResult:
    ds = _require(config)
    keys, changes = _split_keys(ds, _one_row(config.get("row"), many=False))
    _refuse_unwritable(ds, changes)
    output: dict = {}

    def persist(_run) -> None:
        obj = _tenant_rows(ds, ctx).select_for_update().filter(**keys).first()
        if obj is None:
            raise NodeError(f"{ds.label}: no row {keys}", retryable=False)
        for name, value in changes.items():
            setattr(obj, name, value)
        if changes:
            _save(obj, update_fields=list(changes))
        output.update(row=row_dict(ds, obj))

    return StepResult(output=output, persist=persist)


def run_delete(config: dict, ctx: StepContext) -> StepResult:
    ds = _require(config)
    keys, _ = _split_keys(ds, _one_row(config.get("rows"), many=True))
    output: dict = {}

    def persist(_run) -> None:
        obj = _tenant_rows(ds, ctx).select_for_update().filter(**keys).first()
        if obj is None:
            raise NodeError(f"{ds.label}: no row {keys}", retryable=False)
        before = row_dict(ds, obj)
        try:
            obj.delete()
        except DatabaseError as exc:
            raise NodeError(f"could not delete the row: {exc}", retryable=False) from exc
        output.update(deleted=1, row=before)

    return StepResult(output=output, persist=persist)


# --- Checks when a definition is saved -----------------------------------------------------


def _literal_keys(value: Any, *, many: bool) -> list[str] | None:
    value = parse_json_value(value)
    if many and isinstance(value, list) and len(value) == 1:
        value = value[0]
    return [k for k in value if k != STATUS_KEY] if isinstance(value, dict) else None


def _attribute_names(value: Any) -> list[str]:
    """Attribute names a match (its keys), a select (its items) or an orderBy (itself) names."""
    value = parse_json_value(value)
    if isinstance(value, (dict, list)):
        return [str(name) for name in value]
    if isinstance(value, str) and value and not is_template(value):
        return [value]
    return []


def _validator(
    *, read_keys: tuple[str, ...] = (), write_key: str | None = None, many: bool = False, keys_only: bool = False
):
    def validate(config: dict) -> list[tuple[str, str]]:
        ds_key = config.get("datasourceId")
        if ds_key in (None, "") or is_template(ds_key):
            return []
        ds = get_datasource(ds_key)
        if ds is None:
            known = ", ".join(datasources()) or "none"
            return [("datasourceId", f"unknown data source {ds_key!r}; exposed: {known}")]
        problems = []
        for key in read_keys:
            bad = sorted(set(_attribute_names(config.get(key))) - set(ds.read))
            if bad:
                problems.append((key, f"not readable attribute(s) of {ds.label}: {', '.join(bad)}"))
        if write_key:
            names = _literal_keys(config.get(write_key), many=many) or []
            allowed = set(ds.primary_key) | (set() if keys_only else set(ds.write))
            bad = sorted(set(names) - allowed)
            if bad:
                problems.append((write_key, f"not writable attribute(s) of {ds.label}: {', '.join(bad)}"))
        return problems

    return validate


def _datasource_field() -> Field:
    return Field("datasourceId", "DataSource", "combobox", required=True, extra={"optionsSource": "datasources"})


def _attributes(key: str, label: str, type_: str, **extra) -> Field:
    return Field(
        key, label, type_, extra={"getOptions": attribute_options, "optionsDependencyKeys": ["datasourceId"], **extra}
    )


def node_types() -> list[NodeType]:
    """The DataSource nodes (listed in settings.WORKFLOW_NODE_SOURCES)."""
    common: dict[str, Any] = {"category": "DataSource", "icon": "database"}
    return [
        NodeType(
            type="datasource-query",
            label="Query DataSource",
            run=run_query,
            description="Reads rows of an exposed model in the execution's tenant.",
            fields=[
                _datasource_field(),
                _attributes("match", "Match", "match-builder"),
                _attributes(
                    "select", "Select fields", "multi-select", placeholder="Select fields to return (empty = all)"
                ),
                _attributes("orderBy", "Order by", "combobox"),
                Field(
                    "orderDirection",
                    "Direction",
                    "select",
                    options=[{"value": "asc", "label": "Ascending"}, {"value": "desc", "label": "Descending"}],
                    default="asc",
                ),
                Field("limit", "Limit", "number", extra={"min": 1}),
            ],
            validate=_validator(read_keys=("match", "select", "orderBy")),
            output_fields=[
                {"field": "rows", "description": "The rows found"},
                {"field": "count", "description": "How many"},
            ],
            **common,
        ),
        NodeType(
            type="datasource-insert",
            label="Insert Row",
            run=run_insert,
            description="Inserts one row into an exposed model, in the execution's tenant.",
            fields=[
                _datasource_field(),
                Field(
                    "rows", "Record to insert", "single-row-update", required=True, extra={"singleRowMode": "insert"}
                ),
            ],
            validate=_validator(write_key="rows", many=True),
            output_fields=[{"field": "rows", "description": "The inserted row"}],
            **common,
        ),
        NodeType(
            type="datasource-update",
            label="Update Row",
            run=run_update,
            description="Updates one row, found by its primary key in the execution's tenant.",
            fields=[
                _datasource_field(),
                Field("row", "Record to update", "single-row-update", required=True, extra={"singleRowMode": "update"}),
            ],
            validate=_validator(write_key="row"),
            output_fields=[{"field": "row", "description": "The row after the update"}],
            **common,
        ),
        NodeType(
            type="datasource-delete",
            label="Delete Row",
            run=run_delete,
            description="Deletes one row, found by its primary key in the execution's tenant.",
            fields=[
                _datasource_field(),
                Field(
                    "rows", "Record to delete", "single-row-update", required=True, extra={"singleRowMode": "delete"}
                ),
            ],
            validate=_validator(write_key="rows", many=True, keys_only=True),
            output_fields=[
                {"field": "deleted", "description": "1"},
                {"field": "row", "description": "The deleted row"},
            ],
            **common,
        ),
    ]
