"""Options of a node's config field: static, from a built-in source, or from getOptions(config)."""

from __future__ import annotations

import asyncio
import inspect
import logging

from .datasources import datasource_options
from .exceptions import InvalidInput, WorkflowError
from .models import Integration
from .nodes import Field, NodeType, registry

logger = logging.getLogger("workflows.options")


class NodeTypeNotFound(WorkflowError):
    status_code = 404
    code = "not_found"


class OptionsFailed(WorkflowError):
    status_code = 502
    code = "options_failed"


def _integration_options(field: Field, config: dict, user, tenant=None) -> list[dict]:
    mine = Integration.objects.filter(owner=user, tenant__memberships__user=user)
    if tenant is not None:
        mine = mine.filter(tenant_id=tenant)
    if field.extra.get("integrationType"):
        mine = mine.filter(type=field.extra["integrationType"])
    return [{"value": i.pk, "label": i.name} for i in mine.order_by("name")]


def _datasources(field: Field, config: dict, user, tenant=None) -> list[dict]:
    return datasource_options(config)


SOURCES = {"datasources": _datasources, "integrations": _integration_options}


def has_dynamic_options(field: Field) -> bool:
    return field.extra.get("getOptions") is not None or field.extra.get("optionsSource") is not None


def field_of(action_id: str, field_key: str) -> tuple[NodeType, Field]:
    node_type = registry.get(action_id)
    if node_type is None:
        raise NodeTypeNotFound(f"Node type not found: {action_id}", field="actionId")
    found = next((f for f in node_type.fields if f.key == field_key), None)
    if found is None:
        raise NodeTypeNotFound(f"Node type {action_id} has no field {field_key!r}", field="fieldKey")
    return node_type, found


def options_for(action_id: str, field_key: str, *, config: dict, user, tenant=None) -> list[dict]:
    """The options of one field for `config` (what the builder shows while it is edited);
    `tenant` narrows tenant-owned options (integrations) to the workflow's tenant."""
    _, field = field_of(action_id, field_key)
    if field.options is not None:
        return field.options
    source = field.extra.get("optionsSource")
    if source is not None:
        if source not in SOURCES:
            raise InvalidInput(f"unknown optionsSource {source!r}", field="fieldKey")
        return SOURCES[source](field, config, user, tenant)
    get_options = field.extra.get("getOptions")
    if get_options is None:
        raise InvalidInput(f"field {field_key!r} of {action_id} has no options", field="fieldKey")
    try:
        result = get_options(config)
        if inspect.isawaitable(result):
            result = asyncio.run(_await(result))
        return list(result or [])
    except WorkflowError:
        raise
    except Exception as exc:  # a plugin's own bug: say which field, don't answer 500
        logger.warning("getOptions of %s.%s failed", action_id, field_key, exc_info=True)
        raise OptionsFailed(
            f"options of {action_id} field {field_key!r} failed: {type(exc).__name__}: {exc}", field="fieldKey"
        ) from exc


async def _await(awaitable):
    return await awaitable
