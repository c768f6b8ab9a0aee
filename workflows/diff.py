"""What changed between two workflow definitions (pure): nodes, edges and config fields.

Nodes are matched by id (the builder keeps ids stable across label changes). A node that
only moved on the canvas is listed under `moved`, apart from real changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: Any
    after: Any


@dataclass
class NodeChange:
    nodeId: str
    label: str
    type: str
    changes: list[FieldChange] = field(default_factory=list)


@dataclass
class DefinitionDiff:
    added: list[dict] = field(default_factory=list)  # {nodeId, label, type}
    removed: list[dict] = field(default_factory=list)
    changed: list[NodeChange] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)
    edgesAdded: list[dict] = field(default_factory=list)  # {source, target, branch}
    edgesRemoved: list[dict] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.moved or self.edgesAdded or self.edgesRemoved)

    def as_dict(self) -> dict:
        return {**asdict(self), "isEmpty": self.is_empty}


def _nodes(definition: Any) -> dict[str, Mapping]:
    raw = definition.get("nodes") if isinstance(definition, Mapping) else None
    return {n["id"]: n for n in raw or [] if isinstance(n, Mapping) and isinstance(n.get("id"), str)}


def _edges(definition: Any) -> list[tuple]:
    raw = definition.get("edges") if isinstance(definition, Mapping) else None
    seen, result = set(), []
    for e in raw or []:
        if isinstance(e, Mapping):
            key = (e.get("source"), e.get("target"), e.get("branch"))
            if key not in seen:
                seen.add(key)
                result.append(key)
    return result


def _summary(node: Mapping) -> dict:
    return {"nodeId": node["id"], "label": node.get("label") or node["id"], "type": node.get("type") or ""}


def _field_changes(before: Mapping, after: Mapping) -> list[FieldChange]:
    changes = []
    for key in ("label", "type"):
        if before.get(key) != after.get(key):
            changes.append(FieldChange(key, before.get(key), after.get(key)))
    for group in ("config", "retry"):
        old, new = before.get(group), after.get(group)
        old = old if isinstance(old, Mapping) else {}
        new = new if isinstance(new, Mapping) else {}
        for key in [*old, *(k for k in new if k not in old)]:
            if old.get(key) != new.get(key):
                changes.append(FieldChange(f"{group}.{key}", old.get(key), new.get(key)))
    return changes


def diff_definitions(before: Any, after: Any) -> DefinitionDiff:
    """What `after` adds, removes and changes compared with `before`."""
    old, new = _nodes(before), _nodes(after)
    result = DefinitionDiff()
    result.added = [_summary(new[nid]) for nid in new if nid not in old]
    result.removed = [_summary(old[nid]) for nid in old if nid not in new]
    for nid in (n for n in new if n in old):
        changes = _field_changes(old[nid], new[nid])
        if changes:
            result.changed.append(NodeChange(**_summary(new[nid]), changes=changes))
        elif old[nid].get("position") != new[nid].get("position"):
            result.moved.append(nid)
    old_edges, new_edges = _edges(before), _edges(after)
    old_set, new_set = set(old_edges), set(new_edges)
    result.edgesAdded = [_edge(k) for k in new_edges if k not in old_set]
    result.edgesRemoved = [_edge(k) for k in old_edges if k not in new_set]
    return result


def _edge(key: tuple) -> dict:
    return {"source": key[0], "target": key[1], "branch": key[2]}
