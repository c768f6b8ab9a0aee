"""Where the viewer draws each node and edge of a definition (pure, no I/O).

Nodes keep their saved `position` when every node has one; otherwise they are laid out
left to right by depth from the trigger, each column centred vertically.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, TypeGuard

from .definition import build_graph

NODE_WIDTH = 180
NODE_HEIGHT = 60
COLUMN_GAP = 80
ROW_GAP = 36
PADDING = 24


@dataclass(frozen=True)
class PlacedNode:
    id: str
    label: str
    type: str
    x: float
    y: float
    width: int = NODE_WIDTH
    height: int = NODE_HEIGHT


@dataclass(frozen=True)
class PlacedEdge:
    source: str
    target: str
    branch: str | None
    path: str
    label_x: float
    label_y: float


@dataclass(frozen=True)
class Layout:
    nodes: list[PlacedNode]
    edges: list[PlacedEdge]
    width: float
    height: float

    def as_dict(self) -> dict:
        return {
            "nodes": [asdict(n) for n in self.nodes],
            "edges": [
                {
                    "source": e.source,
                    "target": e.target,
                    "branch": e.branch,
                    "path": e.path,
                    "labelX": e.label_x,
                    "labelY": e.label_y,
                }
                for e in self.edges
            ],
            "width": self.width,
            "height": self.height,
        }


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _saved_positions(definition: dict) -> dict[str, tuple[float, float]] | None:
    positions = {}
    for raw in definition.get("nodes") or []:
        position = raw.get("position") if isinstance(raw, dict) else None
        if not isinstance(position, dict):
            return None
        x, y = position.get("x"), position.get("y")
        if not (_is_number(x) and _is_number(y)):
            return None
        positions[str(raw["id"])] = (float(x), float(y))
    return positions or None


def _auto_positions(graph) -> dict[str, tuple[float, float]]:
    depths = graph.depths()
    columns: dict[int, list[str]] = {}
    for node_id in graph.nodes:  # definition order keeps siblings stable
        columns.setdefault(depths.get(node_id, 0), []).append(node_id)
    tallest = max((len(ids) for ids in columns.values()), default=1)
    full = tallest * NODE_HEIGHT + (tallest - 1) * ROW_GAP
    positions: dict[str, tuple[float, float]] = {}
    for depth, ids in columns.items():
        column = len(ids) * NODE_HEIGHT + (len(ids) - 1) * ROW_GAP
        top = (full - column) / 2
        for row, node_id in enumerate(ids):
            positions[node_id] = (depth * (NODE_WIDTH + COLUMN_GAP), top + row * (NODE_HEIGHT + ROW_GAP))
    return positions


def _edge_path(source: PlacedNode, target: PlacedNode) -> tuple[str, float, float]:
    x1, y1 = source.x + source.width, source.y + source.height / 2
    x2, y2 = target.x, target.y + target.height / 2
    bend = max(40.0, abs(x2 - x1) / 2)
    path = f"M{x1:.1f},{y1:.1f} C{x1 + bend:.1f},{y1:.1f} {x2 - bend:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"
    return path, (x1 + x2) / 2, (y1 + y2) / 2


def layout(definition: dict[str, Any]) -> Layout:
    """Place the nodes and route the edges of a (validated) definition."""
    graph = build_graph(definition)
    positions = _saved_positions(definition) or _auto_positions(graph)
    min_x = min((x for x, _ in positions.values()), default=0.0)
    min_y = min((y for _, y in positions.values()), default=0.0)
    placed = {
        node.id: PlacedNode(
            id=node.id,
            label=node.label,
            type=node.type,
            x=positions[node.id][0] - min_x + PADDING,
            y=positions[node.id][1] - min_y + PADDING,
        )
        for node in graph.nodes.values()
    }
    edges = []
    for edge in graph.edges:
        if edge.source in placed and edge.target in placed:
            path, lx, ly = _edge_path(placed[edge.source], placed[edge.target])
            edges.append(PlacedEdge(edge.source, edge.target, edge.branch, path, lx, ly))
    width = max((n.x + n.width for n in placed.values()), default=0.0) + PADDING
    height = max((n.y + n.height for n in placed.values()), default=0.0) + PADDING
    return Layout(nodes=list(placed.values()), edges=edges, width=width, height=height)
