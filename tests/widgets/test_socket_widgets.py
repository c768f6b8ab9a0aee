"""widgets.services.SocketWidgets: what one socket watches, tested without a socket."""
from __future__ import annotations

import pytest

from widgets.exceptions import InvalidConfig
from widgets.services import SocketWidgets, WidgetSpec, refreshed_spec
from workflows.nodes import merge_output


def watching_one(context=None) -> tuple[SocketWidgets, object]:
    state = SocketWidgets()
    widget = state.watch(WidgetSpec(widget_id="w"), instance_id="e1", mode="execute", context=context or {"Trigger": {}})
    return state, widget


def test_a_finished_node_merges_its_output_as_the_engine_does():
    state, _ = watching_one()
    context = state.node_finished("e1", label="A", status="success", output={"n": 1}, error=None)
    assert context == merge_output({"Trigger": {}}, "A", output={"n": 1})
    failed = state.node_finished("e1", label="B", status="error", output=None, error={"message": "boom"})
    assert failed == merge_output(context, "B", error="boom")


def test_updates_that_change_no_context_or_nobody_watches_give_none():
    state, _ = watching_one()
    assert state.node_finished("e1", label="A", status="running", output=None, error=None) is None
    assert state.node_finished("other", label="A", status="success", output=1, error=None) is None


def test_a_widget_finishes_once_and_then_sees_no_more_updates():
    state, widget = watching_one()
    [finishing] = state.status_changed("e1", status="success", context={"Trigger": {}, "A": 1})
    assert finishing is widget and state.finish(widget) and not state.finish(widget)
    assert state.status_changed("e1", status="success", context=None) == []
    assert state.node_finished("e1", label="A", status="success", output=2, error=None) is None


def test_dropping_the_last_widget_forgets_the_context_but_not_a_joined_run():
    state, _ = watching_one()
    state.runs.add("e1")
    assert state.drop("w") is not None and state.drop("w") is None
    assert "e1" not in state.contexts and state.in_use("e1")
    state.runs.discard("e1")
    assert not state.in_use("e1")


def test_a_refresh_puts_new_input_params_over_the_old():
    spec = WidgetSpec(widget_id="w", input_params={"a": 1, "b": 2})
    assert refreshed_spec(spec, {"b": 3}).input_params == {"a": 1, "b": 3}
    assert refreshed_spec(spec, None) == spec and refreshed_spec(spec, None) is not spec
    with pytest.raises(InvalidConfig):
        refreshed_spec(spec, [1])
