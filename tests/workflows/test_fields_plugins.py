"""Every config field type a plugin may declare is validated when a definition is saved (pure)."""

import pytest

from workflows.fields import field_definition_problems, validate_config
from workflows.nodes import Field


def problems(field: Field, value) -> list[tuple[str, str]]:
    return validate_config([field], {field.key: value})


def test_required_field_missing_is_reported_by_key():
    field = Field("phoneNumber", "Phone Number", "template-input", required=True)
    assert validate_config([field], {}) == [("phoneNumber", "Phone Number is required")]
    assert validate_config([field], {"phoneNumber": ""}) == [("phoneNumber", "Phone Number is required")]


@pytest.mark.parametrize("type_", ["template-input", "template-textarea"])
def test_template_fields_take_text_templates_and_json(type_):
    field = Field("message", "Message", type_, required=True)
    for value in ("hello", "Hi {{Trigger.name}}", {"a": 1}, [1, 2], 3):
        assert problems(field, value) == []


def test_text_must_be_text():
    field = Field("name", "Name", "text")
    assert problems(field, "plain") == []
    assert problems(field, 12) == [("name", "Name must be text")]


def test_number_with_min():
    field = Field("limit", "Limit", "number", extra={"min": 1})
    assert problems(field, 5) == []
    assert problems(field, "7") == []
    assert problems(field, "{{Trigger.n}}") == []
    assert problems(field, 0) == [("limit", "Limit must be at least 1")]
    assert problems(field, "many") == [("limit", "Limit must be a number")]
    assert problems(field, True) == [("limit", "Limit must be a number")]


def test_select_value_must_be_an_option():
    field = Field(
        "kind", "Kind", "select", options=[{"value": "email", "label": "Email"}, {"value": "sms", "label": "SMS"}]
    )
    assert problems(field, "sms") == []
    assert problems(field, "fax") == [("kind", "Kind must be one of: email, sms")]


def test_combobox_static_options_are_checked_dynamic_ones_are_not():
    static = Field("priority", "Priority", "combobox", options=[{"value": "high", "label": "High"}])
    assert problems(static, "high") == []
    assert problems(static, "low") == [("priority", "Priority must be one of: high")]
    source = Field("datasourceId", "DataSource", "combobox", extra={"optionsSource": "datasources"})
    assert problems(source, "orders") == []
    dynamic = Field("attribute", "Attribute", "combobox", extra={"getOptions": lambda config: []})
    assert problems(dynamic, "status") == []
    assert problems(dynamic, ["status"]) == [("attribute", "Attribute must be a single value")]


def test_schema_builder_takes_entries_or_a_schema():
    field = Field("schema", "Schema", "schema-builder")
    assert problems(field, [{"name": "total", "type": "number"}, {"name": "note"}]) == []
    assert problems(field, {"type": "object", "properties": {}}) == []
    assert problems(field, '[{"name": "x", "type": "boolean"}]') == []
    assert problems(field, [{"type": "number"}]) == [("schema", "Schema[0] needs a name")]
    assert problems(field, [{"name": "x", "type": "date"}])[0][1].startswith("Schema[0].type must be one of")
    assert problems(field, 5)[0][1].startswith("Schema must be a JSON schema object")


def test_single_row_update_modes():
    update = Field("row", "Record to update", "single-row-update")
    assert problems(update, {"id": 1, "status": "approved"}) == []
    assert problems(update, [{"id": 1}]) == [("row", "Record to update must be one row object")]
    insert = Field("rows", "Record to insert", "single-row-update", extra={"singleRowMode": "insert"})
    assert problems(insert, [{"number": "A-1"}]) == []
    assert problems(insert, '[{"number": "A-1"}]') == []
    assert problems(insert, {"number": "A-1"}) == [
        ("rows", "Record to insert must be a list holding exactly one row object")
    ]
    assert problems(insert, [{"a": 1}, {"a": 2}]) != []
    delete = Field("rows", "Record to delete", "single-row-update", required=True, extra={"singleRowMode": "delete"})
    assert problems(delete, [{"id": 3}]) == []
    assert problems(delete, []) == [("rows", "Record to delete is required")]


def test_match_builder_is_an_object_of_single_values():
    field = Field("match", "Match", "match-builder")
    assert problems(field, {"status": "approved", "customer": "{{Trigger.customer}}"}) == []
    assert problems(field, '{"status": "new"}') == []
    assert problems(field, ["status"]) == [("match", "Match must be an object of attribute: value pairs")]
    assert problems(field, {"status": ["a", "b"]})[0][1].startswith("Match: each attribute needs a single value")


def test_multi_select_is_a_list_within_its_options():
    field = Field(
        "select", "Fields", "multi-select", options=[{"value": "a", "label": "A"}, {"value": "b", "label": "B"}]
    )
    assert problems(field, ["a", "b"]) == []
    assert problems(field, '["a"]') == []
    assert problems(field, ["a", "z"]) == [("select", "Fields has values not among its options: z")]
    assert problems(field, "a") == [("select", "Fields must be a list of values")]
    dynamic = Field(
        "select",
        "Fields",
        "multi-select",
        extra={"getOptions": lambda c: [], "optionsDependencyKeys": ["datasourceId"]},
    )
    assert problems(dynamic, ["anything"]) == []


def test_show_when_skips_hidden_fields():
    fields = [
        Field(
            "kind", "Type", "select", options=[{"value": "email", "label": "Email"}, {"value": "sms", "label": "SMS"}]
        ),
        Field(
            "emailAddress",
            "Email Address",
            "template-input",
            required=True,
            extra={"showWhen": {"field": "kind", "equals": "email"}},
        ),
        Field(
            "phoneNumber",
            "Phone Number",
            "template-input",
            required=True,
            extra={"showWhen": {"field": "kind", "equals": "sms"}},
        ),
    ]
    assert validate_config(fields, {"kind": "sms", "phoneNumber": "+1"}) == []
    assert validate_config(fields, {"kind": "email"}) == [("emailAddress", "Email Address is required")]


def test_catalog_shape_hides_callables_and_keeps_ui_hints():
    field = Field(
        "select",
        "Fields",
        "multi-select",
        extra={"getOptions": lambda c: [], "optionsDependencyKeys": ["datasourceId"], "placeholder": "Pick"},
    )
    shown = field.as_dict()
    assert "getOptions" not in shown
    assert shown["optionsDependencyKeys"] == ["datasourceId"] and shown["placeholder"] == "Pick"


def test_field_declaration_mistakes_are_found():
    assert field_definition_problems(Field("x", "X", "colour-picker"))[0].startswith(
        "field 'x' has unknown type 'colour-picker'"
    )
    assert field_definition_problems(Field("x", "X", "select")) == ["select field 'x' needs options"]
    assert field_definition_problems(Field("x", "X", "combobox")) == [
        "combobox field 'x' needs exactly one of options, optionsSource, getOptions"
    ]
    assert field_definition_problems(Field("x", "X", "single-row-update", extra={"singleRowMode": "upsert"})) != []
    assert field_definition_problems(Field("x", "X", "template-input", extra={"showWhen": "kind"})) != []
    assert field_definition_problems(Field("x", "X", "combobox", extra={"optionsSource": "datasources"})) == []
