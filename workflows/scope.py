"""What a node's templates can name: the nodes that run before it, and the trigger's input (pure).

The builder asks for this with every validation, so it works on definitions that are still
being edited (invalid ones included): malformed nodes and edges are simply left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import inputs, templating
from .definition import RESERVED_ROOTS
from .nodes import Registry


@dataclass(frozen=True)
class ScopeNode:
    id: str
    label: str
    type: str
    config: dict


def _lenient(definition: Any) -> tuple[dict[str, ScopeNode], dict[str, list[str]]]:
    """The well-formed nodes by id and, per node, the ids of its direct predecessors."""
    nodes: dict[str, ScopeNode] = {}
    raw_nodes = definition.get("nodes") if isinstance(definition, Mapping) else None
    for raw in raw_nodes if isinstance(raw_nodes, list) else []:
        if isinstance(raw, Mapping) and isinstance(raw.get("id"), str) and raw["id"] not in nodes:
            label, config = raw.get("label"), raw.get("config")
            label = label if isinstance(label, str) and label else raw["id"]
            config = config if isinstance(config, Mapping) else {}
            nodes[raw["id"]] = ScopeNode(raw["id"], label, str(raw.get("type") or ""), dict(config))
    parents: dict[str, list[str]] = {nid: [] for nid in nodes}
    raw_edges = definition.get("edges") if isinstance(definition, Mapping) else None
    for raw in raw_edges if isinstance(raw_edges, list) else []:
        if isinstance(raw, Mapping) and raw.get("source") in nodes and raw.get("target") in nodes:
            parents[raw["target"]].append(raw["source"])
    return nodes, parents


def ancestors(parents: dict[str, list[str]]) -> dict[str, set[str]]:
    """Every node that has a path to each node (cycles tolerated: a node never counts itself)."""
    result: dict[str, set[str]] = {}
    for node_id in parents:
        seen: set[str] = set()
        stack = list(parents[node_id])
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(parents.get(current, ()))
        seen.discard(node_id)
        result[node_id] = seen
    return result


def input_fields(nodes: dict[str, ScopeNode], registry: Registry) -> list[dict]:
    """The trigger's input fields from its `inputSchema` (entries or a JSON schema's
    properties): [{name, type, required, enum, description, default}], what run forms are made of."""
    trigger = next((n for n in nodes.values() if (t := registry.get(n.type)) is not None and t.is_trigger), None)
    return inputs.form_fields(trigger.config.get("inputSchema")) if trigger else []


def analyse(definition: Any, registry: Registry) -> dict:
    """{"scopes": {nodeId: [upstream node ids]}, "warnings": [...], "inputFields": [...]}.

    A warning is a template naming a node label that exists but does not run before the
    node: at run time it resolves to nothing. (Unknown labels are the validator's errors.)
    """
    nodes, parents = _lenient(definition)
    upstream = ancestors(parents)
    by_label = {n.label: n.id for n in nodes.values()}
    warnings = []
    for node in nodes.values():
        node_type = registry.get(node.type)
        local = set(node_type.local_roots) if node_type else set()
        visible = {nodes[a].label for a in upstream[node.id]} | RESERVED_ROOTS | local
        for key, value in node.config.items():
            try:
                roots = templating.referenced_roots(value)
            except templating.TemplateSyntaxError:
                continue  # the validator reports it
            for root in sorted(r for r in roots if r in by_label and r not in visible):
                why = "is this node itself" if by_label[root] == node.id else "does not run before this node"
                warnings.append(
                    {
                        "nodeId": node.id,
                        "field": f"config.{key}",
                        "message": f"{root!r} {why}, so the reference resolves to nothing",
                    }
                )
    order = list(nodes)
    return {
        "scopes": {nid: [a for a in order if a in upstream[nid]] for nid in order},
        "warnings": warnings,
        "inputFields": input_fields(nodes, registry),
    }
