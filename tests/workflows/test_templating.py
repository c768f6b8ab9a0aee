"""The template resolver is pure: no database needed."""

import pytest

from workflows.templating import TemplateSyntaxError, parse_path, referenced_roots, resolve

SCOPE = {
    "Trigger": {"orderId": 42, "items": [{"name": "pen"}, {"name": "ink"}], "flag": False, "nothing": None},
    "Wait for Event": {"payload": {"amount": 99.5}},
    "__widgetInput": {"value": "clicked"},
    "weird": {"a.b": 1},
}


def test_whole_expression_keeps_number_type():
    assert resolve("{{Trigger.orderId}}", SCOPE) == 42


def test_whole_expression_keeps_list_dict_bool_and_null():
    assert resolve("{{Trigger.items}}", SCOPE) == [{"name": "pen"}, {"name": "ink"}]
    assert resolve("{{Trigger}}", SCOPE)["orderId"] == 42
    assert resolve("{{Trigger.flag}}", SCOPE) is False
    assert resolve("{{Trigger.nothing}}", SCOPE) is None


def test_label_with_spaces_and_nested_path():
    assert resolve("{{Wait for Event.payload.amount}}", SCOPE) == 99.5


def test_list_index_then_key():
    assert resolve("{{Trigger.items[1].name}}", SCOPE) == "ink"


def test_surrounding_whitespace_still_counts_as_one_expression():
    assert resolve("  {{ Trigger.orderId }} ", SCOPE) == 42


def test_mixed_text_interpolates():
    assert resolve("order-{{Trigger.orderId}}-paid", SCOPE) == "order-42-paid"


def test_two_expressions_are_two_not_one():
    assert resolve("{{Trigger.orderId}} {{Wait for Event.payload.amount}}", SCOPE) == "42 99.5"


def test_missing_path_is_none_whole_and_empty_in_text():
    assert resolve("{{Trigger.missing.deep}}", SCOPE) is None
    assert resolve("x{{Nobody.here}}y", SCOPE) == "xy"


def test_structures_in_text_render_as_json():
    assert resolve("items: {{Trigger.items[0]}}", SCOPE) == 'items: {"name": "pen"}'


def test_out_of_range_index_is_missing():
    assert resolve("{{Trigger.items[5].name}}", SCOPE) is None


def test_recurses_through_dicts_and_lists():
    value = {"a": ["{{Trigger.orderId}}", {"b": "id={{Trigger.orderId}}"}], "n": 3}
    assert resolve(value, SCOPE) == {"a": [42, {"b": "id=42"}], "n": 3}


def test_dunder_segments_are_never_followed():
    class Secret:
        password = "hunter2"

    scope = {"obj": {"x": Secret()}, "d": {"__class__": "no"}}
    assert resolve("{{obj.x.password}}", scope) is None
    assert resolve("{{d.__class__}}", scope) is None
    assert resolve("{{Trigger.__class__}}", SCOPE) is None


def test_widget_input_root_is_reachable():
    assert resolve("{{__widgetInput.value}}", SCOPE) == "clicked"


def test_quoted_keys_reach_keys_with_dots():
    assert resolve('{{weird["a.b"]}}', SCOPE) == 1


def test_parse_path_and_roots():
    assert parse_path("Wait for Event.payload.items[0].x") == ["Wait for Event", "payload", "items", 0, "x"]
    assert referenced_roots({"a": "{{A.x}} and {{B C.y}}", "b": ["{{Trigger}}"]}) == {"A", "B C", "Trigger"}


@pytest.mark.parametrize("bad", ["", "a..b", "a[x]", "a]"])
def test_bad_expressions_raise(bad):
    with pytest.raises(TemplateSyntaxError):
        parse_path(bad)


def test_roots_kept_stay_as_written_and_the_rest_resolves():
    scope = {"Trigger": {"n": 3}}
    assert resolve(
        {"a": "{{item}}", "b": "{{item.name}} of {{Trigger.n}}", "c": "{{Trigger.n}}"}, scope, keep=frozenset({"item"})
    ) == {"a": "{{item}}", "b": "{{item.name}} of 3", "c": 3}
