"""Where the viewer draws nodes and edges (pure, no database)."""

from workflows import layout as layout_module
from workflows.layout import layout
from workflows.viewer import format_duration, timeline, waiting_info


def definition(*nodes, edges):
    return {
        "nodes": list(nodes),
        "edges": [{"source": s, "target": t, **extra} for s, t, *rest in edges for extra in [rest[0] if rest else {}]],
    }


def node(node_id, **extra):
    return {"id": node_id, "type": "set", "label": node_id.upper(), "config": {}, **extra}


def test_automatic_layout_goes_left_to_right_by_depth_and_centres_columns():
    graph = layout(
        definition(
            node("t", type="trigger"),
            node("a"),
            node("b"),
            node("c"),
            edges=[("t", "a"), ("t", "b"), ("a", "c"), ("b", "c")],
        )
    )
    pos = {n.id: (n.x, n.y) for n in graph.nodes}
    assert pos["t"][0] < pos["a"][0] == pos["b"][0] < pos["c"][0]
    assert pos["a"][1] < pos["b"][1]
    assert pos["t"][1] == pos["c"][1] == (pos["a"][1] + pos["b"][1]) / 2
    assert min(x for x, _ in pos.values()) == layout_module.PADDING
    assert graph.width == pos["c"][0] + layout_module.NODE_WIDTH + layout_module.PADDING


def test_saved_positions_are_kept_and_shifted_into_view():
    graph = layout(
        definition(
            node("t", type="trigger", position={"x": -100, "y": 50}),
            node("a", position={"x": 300, "y": -20}),
            edges=[("t", "a", {"branch": "true"})],
        )
    )
    pos = {n.id: (n.x, n.y) for n in graph.nodes}
    pad = layout_module.PADDING
    assert pos == {"t": (pad, 70 + pad), "a": (400 + pad, pad)}
    edge = graph.edges[0]
    assert edge.branch == "true" and edge.path.startswith(f"M{pad + layout_module.NODE_WIDTH:.1f},")


def test_partial_positions_fall_back_to_automatic_layout():
    graph = layout(definition(node("t", type="trigger", position={"x": 900, "y": 900}), node("a"), edges=[("t", "a")]))
    assert {n.id: n.x for n in graph.nodes} == {
        "t": layout_module.PADDING,
        "a": layout_module.PADDING + layout_module.NODE_WIDTH + layout_module.COLUMN_GAP,
    }


def test_waiting_info_reads_pause_data_generically():
    info = waiting_info(
        {"pauseData": {"approvalRequestId": 7, "eventNamespace": "orders", "eventKey": "k", "other": 1}}
    )
    assert info == {
        "approvalRequestId": 7,
        "approvalUrl": "/workflows/approvals/7",
        "eventNamespace": "orders",
        "eventKey": "k",
    }
    assert waiting_info({"pauseData": None, "output": "text"}) == {}


def test_timeline_orders_by_start_with_durations():
    runs = [
        {"nodeId": "b", "startedAt": "2026-01-01T00:00:05+00:00", "finishedAt": None},
        {"nodeId": "a", "startedAt": "2026-01-01T00:00:00+00:00", "finishedAt": "2026-01-01T00:01:10+00:00"},
        {"nodeId": "c", "startedAt": None},
    ]
    assert [(r["nodeId"], r["durationText"]) for r in timeline(runs)] == [("a", "1 min 10 s"), ("b", "")]
    assert [format_duration(s) for s in (0.25, 3.21, 7322)] == ["250 ms", "3.2 s", "2 h 02 min"]
