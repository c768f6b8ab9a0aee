"""Which node updates a widget frame carries, whatever frame the consumer sends them in."""

from bench.fanout_client import node_updates


def test_a_node_update_frame_counts_when_final():
    assert node_updates({"event": "workflow_node_update", "data": {"nodeID": "a", "status": "success"}}) == ["a"]
    assert node_updates({"event": "workflow_node_update", "data": {"nodeID": "a", "status": "running"}}) == []


def test_a_context_update_carries_its_node_under_update():
    frame = {"event": "widget_context_update", "data": {"update": {"nodeID": "b", "status": "success"}}}
    assert node_updates(frame) == ["b"]


def test_a_coalesced_frame_carries_every_node_in_its_list():
    frame = {
        "event": "widget_update",
        "data": {"nodes": [{"nodeID": "a", "status": "success"}, {"nodeID": "b", "status": "running"}]},
    }
    assert node_updates(frame) == ["a"]


def test_a_final_status_carries_the_node_that_ended_the_execution():
    frame = {
        "event": "widget_workflow_status",
        "data": {"status": "COMPLETED", "lastNode": {"nodeID": "z", "status": "success"}},
    }
    assert node_updates(frame) == ["z"]


def test_frames_without_nodes_carry_none():
    assert node_updates({"event": "widget_workflow_status", "data": {"status": "COMPLETED"}}) == []
    assert node_updates({"event": "bench_bare", "data": "x"}) == []
