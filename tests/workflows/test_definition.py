"""Definition validation reports every problem at once, each with its node id and field."""

import pytest

from tests.conftest import chain
from workflows.definition import advance, build_graph, execution_status, successors_wait_only_for, validate_definition
from workflows.exceptions import InvalidDefinition
from workflows.nodes import merge_output, registry


def problems(definition) -> list[dict]:
    with pytest.raises(InvalidDefinition) as info:
        validate_definition(definition, registry)
    return info.value.errors


def has(errors, node_id, field, text):
    return any(e["nodeId"] == node_id and e["field"] == field and text in e["message"] for e in errors)


def test_valid_chain_builds_a_graph():
    graph = validate_definition(
        chain({"id": "a", "type": "set", "label": "A", "config": {"values": {"x": "{{Trigger.y}}"}}}), registry
    )
    assert graph.trigger_id == "trigger"
    assert [e.target for e in graph.outgoing["trigger"]] == ["a"]


def test_every_problem_is_reported_at_once():
    definition = {
        "nodes": [
            {"id": "t", "type": "trigger", "label": "Trigger"},
            {"id": "a", "type": "no-such-type", "label": "A"},
            {"id": "b", "type": "set", "label": "A", "config": {"values": {"v": "{{Ghost.x}}"}}},
            {"id": "c", "type": "http-request", "label": "C", "config": {"timeout": "soon"}},
            {"id": "d", "type": "set", "label": "D"},
        ],
        "edges": [
            {"source": "t", "target": "a"},
            {"source": "a", "target": "b"},
            {"source": "b", "target": "c"},
            {"source": "c", "target": "missing"},
        ],
    }
    errors = problems(definition)
    assert has(errors, "a", "type", "unknown node type")
    assert has(errors, "b", "label", "not unique")
    assert has(errors, "b", "config.values", "unknown node label 'Ghost'")
    assert has(errors, "c", "config.url", "required")
    assert has(errors, "c", "config.timeout", "must be a number")
    assert has(errors, None, "edges[3].target", "missing node")
    assert len(errors) >= 6


def test_no_trigger_node():
    errors = problems({"nodes": [{"id": "a", "type": "set", "label": "A"}], "edges": []})
    assert has(errors, None, "nodes", "trigger")


def test_cycle_is_reported_per_node():
    definition = chain(
        {"id": "a", "type": "set", "label": "A"},
        {"id": "b", "type": "set", "label": "B"},
        edges=[{"source": "trigger", "target": "a"}, {"source": "a", "target": "b"}, {"source": "b", "target": "a"}],
    )
    errors = problems(definition)
    assert has(errors, "a", "edges", "cycle") and has(errors, "b", "edges", "cycle")


def test_unreachable_node():
    definition = chain({"id": "a", "type": "set", "label": "A"}, edges=[])
    assert has(problems(definition), "a", "edges", "unreachable")


def test_select_value_must_be_an_option_and_branch_must_exist():
    definition = chain(
        {"id": "c", "type": "condition", "label": "C", "config": {"left": 1, "operator": "about"}},
        {"id": "x", "type": "set", "label": "X"},
        edges=[{"source": "trigger", "target": "c"}, {"source": "c", "target": "x", "branch": "maybe"}],
    )
    errors = problems(definition)
    assert has(errors, "c", "config.operator", "must be one of")
    assert has(errors, "c", "edges[1].branch", "no branch 'maybe'")


def test_retry_policy_fields_are_checked():
    definition = chain({"id": "a", "type": "set", "label": "A", "retry": {"maxAttempts": 0, "initialInterval": "x"}})
    errors = problems(definition)
    assert has(errors, "a", "retry.maxAttempts", "at least 1")
    assert has(errors, "a", "retry.initialInterval", "non-negative number")


def test_not_an_object():
    assert has(problems(["nodes"]), None, "definition", "object")


def test_for_each_item_roots_are_known_to_its_own_config():
    definition = chain(
        {
            "id": "f",
            "type": "for-each",
            "label": "F",
            "config": {
                "items": "{{Trigger.list}}",
                "workflowId": "x",
                "input": {"v": "{{item.name}}", "i": "{{index}}"},
            },
        }
    )
    validate_definition(definition, registry)


def test_advance_joins_and_skips_dead_branches():
    graph = build_graph(
        chain(
            {"id": "c", "type": "condition", "label": "C"},
            {"id": "yes", "type": "set", "label": "Yes"},
            {"id": "no", "type": "set", "label": "No"},
            {"id": "join", "type": "set", "label": "Join"},
            edges=[
                {"source": "trigger", "target": "c"},
                {"source": "c", "target": "yes", "branch": "true"},
                {"source": "c", "target": "no", "branch": "false"},
                {"source": "yes", "target": "join"},
                {"source": "no", "target": "join"},
            ],
        )
    )
    states = {n: ("idle", None) for n in graph.nodes}
    states["trigger"] = ("success", None)
    states["c"] = ("success", "true")
    ready, skipped = advance(graph, states, ["c"])
    assert ready == ["yes"] and skipped == ["no"]
    states["yes"] = ("success", None)
    assert advance(graph, states, ["yes"]) == (["join"], [])


def test_unhashable_edge_ends_are_reported_not_crashed_on():
    definition = chain({"id": "a", "type": "set", "label": "A"}, edges=[{"source": ["trigger"], "target": {"x": 1}}])
    errors = problems(definition)
    assert has(errors, None, "edges[0].source", "missing node") and has(errors, None, "edges[0].target", "missing node")


def test_ids_labels_and_branches_fit_their_columns():
    definition = chain(
        {"id": "a" * 101, "type": "set", "label": "A"},
        {"id": "b", "type": "set", "label": "B" * 201},
        {
            "id": "s",
            "type": "switch",
            "label": "S",
            "config": {"value": 1, "cases": [{"branch": "x" * 101, "equals": 1}]},
        },
        edges=[
            {"source": "trigger", "target": "b"},
            {"source": "trigger", "target": "s"},
            {"source": "s", "target": "b", "branch": "x" * 101},
        ],
    )
    errors = problems(definition)
    assert has(errors, "a" * 100, "id", "at most 100")
    assert has(errors, "b", "label", "at most 200")
    assert has(errors, None, "edges[2].branch", "1 to 100")


def test_reserved_labels_are_refused_for_other_nodes():
    errors = problems(
        chain({"id": "a", "type": "set", "label": "Trigger"}, {"id": "b", "type": "set", "label": "__widgetInput"})
    )
    assert has(errors, "a", "label", "reserved") and has(errors, "b", "label", "reserved")


@pytest.mark.parametrize(
    "statuses, expected",
    [
        ([], "success"),
        (["success", "skipped", "error"], "success"),  # a failure routed onward does not end it
        (["success", "paused"], "paused"),
        (["paused", "running", "success"], "running"),
        (["idle", "success"], "success"),
    ],
)
def test_the_execution_status_rule(statuses, expected):
    assert execution_status(statuses) == expected


def test_successors_that_wait_only_for_a_node_are_recognised():
    graph = build_graph(
        {
            "nodes": [{"id": n, "type": "set", "label": n} for n in ("t", "c", "a", "b", "j")],
            "edges": [
                {"source": "t", "target": "c"},
                {"source": "c", "target": "a", "branch": "true"},
                {"source": "c", "target": "b", "branch": "false"},
                {"source": "a", "target": "j"},
                {"source": "b", "target": "j"},
            ],
        }
    )
    assert successors_wait_only_for(graph, "t", None)
    assert not successors_wait_only_for(graph, "c", "true")  # the false branch is not taken
    assert not successors_wait_only_for(graph, "a", None)  # the join waits for b too


def test_merge_output_keeps_the_context_and_marks_routed_errors():
    context = {"Trigger": {"x": 1}}
    assert merge_output(context, "A", output=[1]) == {"Trigger": {"x": 1}, "A": [1]}
    assert merge_output(context, "A", error="boom") == {"Trigger": {"x": 1}, "A": {"error": "boom"}}
    assert context == {"Trigger": {"x": 1}}
