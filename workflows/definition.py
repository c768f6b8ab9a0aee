"""Workflow definitions as graphs: parsing, validation and which nodes run next (pure).

A definition is JSON: {"nodes": [{id, type, label, config, position?, retry?}],
"edges": [{source, target, branch?}]}. Validation reports every problem at once, each
as {"nodeId", "field", "message"}.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import templating
from .exceptions import InvalidDefinition
from .fields import validate_config
from .nodes import Registry

# Roots a template may name besides node labels.
RESERVED_ROOTS = {"Trigger", "__widgetInput"}
# The columns these land in (NodeRun.node_id, NodeRun.label, NodeRun.branch).
MAX_ID_LENGTH = 100
MAX_LABEL_LENGTH = 200
ERROR_BRANCH = "error"
FORBIDDEN_LABEL_CHARS = set(".[]{}")

DONE = {"success", "error", "skipped"}


@dataclass(frozen=True)
class Node:
    id: str
    type: str
    label: str
    config: dict
    retry: dict | None = None
    position: dict | None = None


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    branch: str | None = None


@dataclass
class Graph:
    nodes: dict[str, Node]
    edges: list[Edge]
    incoming: dict[str, list[Edge]] = field(default_factory=dict)
    outgoing: dict[str, list[Edge]] = field(default_factory=dict)
    trigger_id: str | None = None
    # The trigger's input schema, compiled (workflows.inputs); None when it declares none.
    input_validator: Any = None

    @property
    def labels(self) -> dict[str, str]:
        return {node.label: node.id for node in self.nodes.values()}

    def descendants(self, node_ids: set[str]) -> set[str]:
        """Return `node_ids` and every node reachable from them."""
        seen, queue = set(node_ids), deque(node_ids)
        while queue:
            for edge in self.outgoing.get(queue.popleft(), []):
                if edge.target not in seen:
                    seen.add(edge.target)
                    queue.append(edge.target)
        return seen

    def depths(self) -> dict[str, int]:
        """Longest distance of each node from the trigger (for automatic layout)."""
        depth = {nid: 0 for nid in self.nodes}
        for nid in topological_order(self):
            for edge in self.outgoing.get(nid, []):
                depth[edge.target] = max(depth[edge.target], depth[nid] + 1)
        return depth


def build_graph(definition: Mapping[str, Any]) -> Graph:
    """Build a Graph from a definition already validated (no checks here)."""
    nodes = {
        str(n["id"]): Node(
            id=str(n["id"]),
            type=n["type"],
            label=n.get("label") or str(n["id"]),
            config=n.get("config") or {},
            retry=n.get("retry"),
            position=n.get("position"),
        )
        for n in definition.get("nodes", [])
    }
    edges = [Edge(str(e["source"]), str(e["target"]), e.get("branch")) for e in definition.get("edges", [])]
    graph = Graph(nodes=nodes, edges=edges)
    for edge in edges:
        graph.outgoing.setdefault(edge.source, []).append(edge)
        graph.incoming.setdefault(edge.target, []).append(edge)
    return graph


def topological_order(graph: Graph) -> list[str]:
    indegree = {nid: 0 for nid in graph.nodes}
    for edge in graph.edges:
        if edge.target in indegree and edge.source in graph.nodes:
            indegree[edge.target] += 1
    queue = deque(nid for nid, d in indegree.items() if d == 0)
    order = []
    while queue:
        nid = queue.popleft()
        order.append(nid)
        for edge in graph.outgoing.get(nid, []):
            if edge.target in indegree:
                indegree[edge.target] -= 1
                if indegree[edge.target] == 0:
                    queue.append(edge.target)
    return order


def validate_definition(definition: Any, registry: Registry) -> Graph:
    """Return the graph of a valid definition, or raise InvalidDefinition with every problem."""
    errors: list[dict] = []

    def problem(node_id: str | None, field_name: str, message: str) -> None:
        errors.append({"nodeId": node_id, "field": field_name, "message": message})

    if not isinstance(definition, Mapping):
        raise InvalidDefinition([{"nodeId": None, "field": "definition", "message": "must be an object"}])
    raw_nodes, raw_edges = definition.get("nodes"), definition.get("edges", [])
    if not isinstance(raw_nodes, list):
        problem(None, "nodes", "must be a list of nodes")
        raw_nodes = []
    if not isinstance(raw_edges, list):
        problem(None, "edges", "must be a list of edges")
        raw_edges = []

    seen_ids: set[str] = set()
    labels: dict[str, str] = {}
    good_nodes = []
    for index, raw in enumerate(raw_nodes):
        if not isinstance(raw, Mapping):
            problem(None, f"nodes[{index}]", "must be an object")
            continue
        node_id = raw.get("id")
        if not isinstance(node_id, str) or not node_id.strip():
            problem(None, f"nodes[{index}].id", "is required and must be a non-empty string")
            continue
        if len(node_id) > MAX_ID_LENGTH:
            problem(node_id[:MAX_ID_LENGTH], "id", f"must be at most {MAX_ID_LENGTH} characters")
            continue
        if node_id in seen_ids:
            problem(node_id, "id", f"duplicate node id {node_id!r}")
            continue
        seen_ids.add(node_id)
        label = raw.get("label") or node_id
        if not isinstance(label, str):
            problem(node_id, "label", "must be a string")
            label = node_id
        if FORBIDDEN_LABEL_CHARS & set(label):
            problem(node_id, "label", "may not contain . [ ] { or }")
        if len(label) > MAX_LABEL_LENGTH:
            problem(node_id, "label", f"must be at most {MAX_LABEL_LENGTH} characters")
        if label in labels:
            problem(node_id, "label", f"label {label!r} is not unique (also on node {labels[label]!r})")
        labels[label] = node_id
        type_name = raw.get("type")
        node_type = registry.get(type_name) if isinstance(type_name, str) else None
        if node_type is None:
            problem(node_id, "type", f"unknown node type {raw.get('type')!r}")
        config = raw.get("config", {})
        if config is None:
            config = {}
        if not isinstance(config, Mapping):
            problem(node_id, "config", "must be an object")
            config = {}
        retry = raw.get("retry")
        if retry is not None:
            _validate_retry(node_id, retry, problem)
        position = raw.get("position")
        if position is not None and not (
            isinstance(position, Mapping) and all(isinstance(position.get(k), (int, float)) for k in ("x", "y"))
        ):
            problem(node_id, "position", "must be an object with numeric x and y")
        good_nodes.append((node_id, label, node_type, dict(config)))

    triggers = [nid for nid, _, t, _ in good_nodes if t is not None and t.is_trigger]
    for node_id, label, node_type, _ in good_nodes:
        if label in RESERVED_ROOTS and not (node_type is not None and node_type.is_trigger and label == "Trigger"):
            problem(node_id, "label", f"{label!r} is reserved; choose another label")
    if not triggers and good_nodes:
        problem(None, "nodes", "a workflow needs a trigger node")
    elif not good_nodes and isinstance(raw_nodes, list):
        problem(None, "nodes", "a workflow needs a trigger node")
    if len(triggers) > 1:
        for nid in triggers[1:]:
            problem(nid, "type", "a workflow has exactly one trigger node")

    good_edges: list[Edge] = []
    seen_edges: set[tuple] = set()
    for index, raw in enumerate(raw_edges):
        if not isinstance(raw, Mapping):
            problem(None, f"edges[{index}]", "must be an object")
            continue
        ends_ok = True
        for end in ("source", "target"):
            if not isinstance(raw.get(end), str) or raw.get(end) not in seen_ids:
                problem(None, f"edges[{index}].{end}", f"edge to a missing node {raw.get(end)!r}")
                ends_ok = False
        if ends_ok:
            key = (raw["source"], raw["target"], raw.get("branch"))
            if key in seen_edges:
                via = f" on branch {key[2]!r}" if key[2] is not None else ""
                problem(raw["source"], f"edges[{index}]", f"duplicate edge from {key[0]!r} to {key[1]!r}{via}")
            seen_edges.add(key)
            good_edges.append(Edge(raw["source"], raw["target"], raw.get("branch")))
        branch = raw.get("branch")
        if branch is not None and (not isinstance(branch, str) or not 0 < len(branch) <= MAX_ID_LENGTH):
            problem(None, f"edges[{index}].branch", f"must be a string of 1 to {MAX_ID_LENGTH} characters")
        elif (
            branch is not None
            and isinstance(raw.get("source"), str)
            and raw.get("source") in seen_ids
            and branch != ERROR_BRANCH
        ):
            source_type = next((t for nid, _, t, _ in good_nodes if nid == raw.get("source")), None)
            allowed = source_type.branches if source_type else None
            if allowed is not None and branch not in allowed:
                problem(raw.get("source"), f"edges[{index}].branch", f"node has no branch {branch!r}")
        if isinstance(raw.get("target"), str) and raw.get("target") in triggers:
            problem(raw.get("target"), f"edges[{index}].target", "the trigger node cannot have incoming edges")

    known_roots = set(labels) | RESERVED_ROOTS
    for node_id, _label, node_type, config in good_nodes:
        if node_type is None:
            continue
        for field_name, message in validate_config(node_type.fields, config):
            problem(node_id, f"config.{field_name}", message)
        if node_type.validate:
            for field_name, message in node_type.validate(config):
                problem(node_id, f"config.{field_name}", message)
        for key, value in config.items():
            try:
                roots = templating.referenced_roots(value)
            except templating.TemplateSyntaxError as exc:
                problem(node_id, f"config.{key}", str(exc))
                continue
            extra = set(node_type.local_roots)
            for root in sorted(roots - known_roots - extra):
                problem(node_id, f"config.{key}", f"template names an unknown node label {root!r}")

    # The shape of the graph is checked even when nodes have other problems, so an editor
    # hears about a cycle while fields are still being filled in.
    if len(triggers) == 1:
        _check_shape(_partial_graph(good_nodes, good_edges, triggers[0]), problem)
    if errors:
        raise InvalidDefinition(errors)
    graph = build_graph(definition)
    graph.trigger_id = triggers[0]
    return graph


def _partial_graph(good_nodes: list[tuple], edges: list[Edge], trigger_id: str) -> Graph:
    nodes = {
        nid: Node(id=nid, type=t.type if t else "", label=label, config=config) for nid, label, t, config in good_nodes
    }
    graph = Graph(nodes=nodes, edges=edges, trigger_id=trigger_id)
    for edge in edges:
        graph.outgoing.setdefault(edge.source, []).append(edge)
        graph.incoming.setdefault(edge.target, []).append(edge)
    return graph


def _check_shape(graph: Graph, problem) -> None:
    """Cycles and nodes the trigger never reaches."""
    order = topological_order(graph)
    for nid in sorted(set(graph.nodes) - set(order)):
        problem(nid, "edges", "node is part of a cycle")
    reachable = graph.descendants({graph.trigger_id}) if graph.trigger_id else set()
    for nid in sorted(set(graph.nodes) - reachable):
        problem(nid, "edges", "node is unreachable from the trigger")


def _validate_retry(node_id: str, retry: Any, problem) -> None:
    if not isinstance(retry, Mapping):
        problem(node_id, "retry", "must be an object")
        return
    for key in ("maxAttempts", "initialInterval", "backoffFactor", "maxInterval", "jitter"):
        value = retry.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
            problem(node_id, f"retry.{key}", "must be a non-negative number")
    if isinstance(retry.get("maxAttempts"), int) and retry["maxAttempts"] < 1:
        problem(node_id, "retry.maxAttempts", "must be at least 1")


# --- Which nodes run next ----------------------------------------------------------


def edge_taken(edge: Edge, status: str, branch: str | None) -> bool:
    """Whether a finished source sends control along `edge`."""
    if status == "success":
        return edge.branch != ERROR_BRANCH and (edge.branch is None or edge.branch == branch)
    if status == "error":
        return edge.branch == ERROR_BRANCH
    return False


def advance(
    graph: Graph, states: dict[str, tuple[str, str | None]], finished: list[str]
) -> tuple[list[str], list[str]]:
    """After the nodes in `finished` are done, return (ready, skipped) node ids.

    `states` maps node id to (status, branch) and is updated in place for skipped nodes.
    A node runs when every incoming edge is decided and at least one is taken; when all
    are decided and none is taken it is skipped, and that spreads downstream.
    """
    ready: list[str] = []
    skipped: list[str] = []
    queue = deque(finished)
    while queue:
        source = queue.popleft()
        for edge in graph.outgoing.get(source, []):
            target = edge.target
            if states.get(target, ("idle", None))[0] != "idle" or target in ready:
                continue
            incoming = graph.incoming.get(target, [])
            if any(states.get(e.source, ("idle", None))[0] not in DONE for e in incoming):
                continue
            if any(edge_taken(e, *states[e.source]) for e in incoming):
                ready.append(target)
            else:
                states[target] = ("skipped", None)
                skipped.append(target)
                queue.append(target)
    return ready, skipped


def execution_status(node_statuses) -> str:
    """The status of an execution from the statuses of its node runs: running while any
    runs, paused while any waits, and done (success) when none does. Failures and cancels
    end an execution directly, without asking this."""
    statuses = set(node_statuses)
    if "running" in statuses:
        return "running"
    if "paused" in statuses:
        return "paused"
    return "success"


def successors_wait_only_for(graph: Graph, node_id: str, branch: str | None) -> bool:
    """Whether every successor of a node that succeeded (taking `branch`) waits for it alone
    and is taken: then they simply become ready, with no other node run to read."""
    return all(
        len(graph.incoming[e.target]) == 1 and edge_taken(e, "success", branch) for e in graph.outgoing.get(node_id, [])
    )
