"""What each node's templates can name (workflows/scope.py), on definitions still being edited."""

from workflows.nodes import registry
from workflows.scope import analyse, ancestors


def test_ancestors_tolerate_cycles_and_never_count_the_node_itself():
    assert ancestors({"a": ["c"], "b": ["a"], "c": ["b"], "d": []}) == {
        "a": {"b", "c"},
        "b": {"a", "c"},
        "c": {"a", "b"},
        "d": set(),
    }


def test_malformed_nodes_and_edges_are_left_out():
    definition = {
        "nodes": [{"id": "t", "type": "trigger"}, "junk", {"type": "set"}, {"id": "a", "type": "set", "label": "A"}],
        "edges": [{"source": "t", "target": "a"}, {"source": "t", "target": "ghost"}, 7],
    }
    assert analyse(definition, registry)["scopes"] == {"t": [], "a": ["t"]}
    assert analyse("not a definition", registry) == {"scopes": {}, "warnings": [], "inputFields": []}


def test_input_fields_come_from_a_json_schema_too():
    schema = {"type": "object", "properties": {"orderId": {"type": "string"}, "amount": {"type": "number"}}}
    definition = {"nodes": [{"id": "t", "type": "trigger", "config": {"inputSchema": schema}}], "edges": []}
    assert analyse(definition, registry)["inputFields"] == [
        {"name": "orderId", "type": "string", "required": False, "enum": None, "description": "", "default": None},
        {"name": "amount", "type": "number", "required": False, "enum": None, "description": "", "default": None},
    ]


def test_input_fields_carry_required_allowed_values_and_descriptions():
    schema = [
        {"name": "orderId", "type": "integer", "required": True, "description": "The order"},
        {"name": "priority", "enum": ["low", "high"], "default": "low"},
    ]
    definition = {"nodes": [{"id": "t", "type": "trigger", "config": {"inputSchema": schema}}], "edges": []}
    assert analyse(definition, registry)["inputFields"] == [
        {
            "name": "orderId",
            "type": "integer",
            "required": True,
            "enum": None,
            "description": "The order",
            "default": None,
        },
        {
            "name": "priority",
            "type": "string",
            "required": False,
            "enum": ["low", "high"],
            "description": "",
            "default": "low",
        },
    ]


def test_a_node_naming_itself_or_a_later_node_is_warned_but_local_roots_are_not():
    definition = {
        "nodes": [
            {"id": "t", "type": "trigger", "label": "Trigger"},
            {"id": "a", "type": "set", "label": "A", "config": {"values": {"me": "{{A.x}}", "later": "{{B.y}}"}}},
            {
                "id": "b",
                "type": "for-each",
                "label": "B",
                "config": {"items": "{{A.list}}", "input": {"n": "{{item}}"}},
            },
        ],
        "edges": [{"source": "t", "target": "a"}, {"source": "a", "target": "b"}],
    }
    warnings = analyse(definition, registry)["warnings"]
    assert [(w["nodeId"], w["message"].split(",")[0]) for w in warnings] == [
        ("a", "'A' is this node itself"),
        ("a", "'B' does not run before this node"),
    ]


def test_input_fields_of_a_schema_being_edited_never_break_the_answer():
    for schema in (
        [{"name": ["x"]}],
        [{"type": "string"}],
        ["x"],
        {"properties": "x"},
        {"properties": {"a": 1}, "required": [{}]},
        7,
    ):
        definition = {"nodes": [{"id": "t", "type": "trigger", "config": {"inputSchema": schema}}], "edges": []}
        assert isinstance(analyse(definition, registry)["inputFields"], list)
