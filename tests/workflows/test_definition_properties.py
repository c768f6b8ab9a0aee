"""Properties of the definition validator over generated graphs and arbitrary JSON (hypothesis)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflows.definition import validate_definition
from workflows.exceptions import InvalidDefinition
from workflows.nodes import registry

# Derandomized: the suite explores the same examples on every run, so CI never flakes on a new one.
EXAMPLES = settings(max_examples=120, deadline=None, derandomize=True)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=15,
)
node_like = st.fixed_dictionaries(
    {
        "id": st.text(max_size=6) | st.integers(),
        "type": st.sampled_from(["trigger", "set", "sleep", "nope", 3]),
        "label": st.text(max_size=6) | st.none(),
    },
    optional={"config": json_values, "retry": json_values},
)


@st.composite
def dags(draw):
    """A valid definition: a trigger, then set nodes each fed by one or more earlier nodes."""
    size = draw(st.integers(1, 12))
    nodes = [{"id": "n0", "type": "trigger", "label": "Trigger"}]
    edges = []
    for j in range(1, size):
        parents = draw(st.sets(st.integers(0, j - 1), min_size=1, max_size=3))
        earlier = [nodes[p]["label"] for p in parents if p > 0]
        values = {"fromTrigger": "{{Trigger.x}}"}
        if earlier:
            values["fromParent"] = "{{" + earlier[0] + ".v}}"
        nodes.append({"id": f"n{j}", "type": "set", "label": f"Step {j}", "config": {"values": values}})
        edges += [{"source": f"n{p}", "target": f"n{j}"} for p in sorted(parents)]
    return {"nodes": nodes, "edges": edges}


def errors_of(definition) -> list[dict]:
    with pytest.raises(InvalidDefinition) as info:
        validate_definition(definition, registry)
    return info.value.errors


@EXAMPLES
@given(
    json_values
    | st.fixed_dictionaries(
        {
            "nodes": st.lists(node_like, max_size=5) | json_values,
            "edges": st.lists(json_values, max_size=4) | json_values,
        }
    )
)
def test_any_json_is_a_graph_or_every_problem_named(definition):
    try:
        validate_definition(definition, registry)
    except InvalidDefinition as exc:
        assert exc.errors
        for error in exc.errors:
            assert set(error) >= {"nodeId", "field", "message"}
            assert isinstance(error["field"], str) and isinstance(error["message"], str) and error["message"]


@EXAMPLES
@given(dags())
def test_a_generated_dag_is_valid(definition):
    graph = validate_definition(definition, registry)
    assert graph.trigger_id == "n0"


@EXAMPLES
@given(dags(), st.data())
def test_an_edge_back_to_an_ancestor_is_reported_as_a_cycle(definition, data):
    edge = data.draw(st.sampled_from([e for e in definition["edges"] if e["source"] != "n0"] or [None]))
    if edge is None:
        return
    cyclic = {**definition, "edges": [*definition["edges"], {"source": edge["target"], "target": edge["source"]}]}
    assert any("cycle" in e["message"].lower() for e in errors_of(cyclic))


@EXAMPLES
@given(dags(), st.data())
def test_a_repeated_label_is_reported_on_its_node(definition, data):
    if len(definition["nodes"]) < 3:
        return
    i, j = data.draw(st.lists(st.integers(1, len(definition["nodes"]) - 1), min_size=2, max_size=2, unique=True))
    nodes = [dict(n) for n in definition["nodes"]]
    nodes[j]["label"] = nodes[i]["label"]
    assert any(e["field"] == "label" for e in errors_of({**definition, "nodes": nodes}))


@EXAMPLES
@given(dags(), st.data())
def test_a_template_naming_an_unknown_label_is_reported(definition, data):
    if len(definition["nodes"]) < 2:
        return
    j = data.draw(st.integers(1, len(definition["nodes"]) - 1))
    nodes = [dict(n) for n in definition["nodes"]]
    nodes[j]["config"] = {"values": {"ghost": "{{No Such Node.x}}"}}
    assert any(e["nodeId"] == f"n{j}" for e in errors_of({**definition, "nodes": nodes}))
