"""Reading the node config (pure)."""

from datetime import timedelta

import pytest

from approvals.config import ConfigError, parse_form_fields, parse_names, parse_spec, validate_saved_config


def test_names_from_commas_json_text_and_lists():
    assert parse_names("bob, carol,,bob", key="approvers") == ["bob", "carol"]
    assert parse_names('["bob", "carol"]', key="approvers") == ["bob", "carol"]
    assert parse_names(["dave"], key="approvers") == ["dave"]
    assert parse_names("", key="approvers") == []


def test_bad_json_array_names_the_field():
    with pytest.raises(ConfigError) as exc:
        parse_names('["bob"', key="approverRoles")
    assert exc.value.field == "approverRoles"


def test_spec_defaults_and_durations():
    spec = parse_spec({"title": " Pay ", "approvers": "bob", "expiresIn": "24h", "contextData": '{"amount": 5}'})
    assert spec.title == "Pay"
    assert spec.approval_type == "single"
    assert spec.expires_in == timedelta(hours=24)
    assert spec.context_data == {"amount": 5}
    assert spec.on_rejection == "error" and spec.on_expiration == "error"
    assert spec.allow_self_approval is True and spec.send_notification is False


@pytest.mark.parametrize(
    "config, field",
    [
        ({"approvers": "bob"}, "title"),
        ({"title": "T", "approvers": "[]"}, "approvers"),
        ({"title": "T", "approvers": " , "}, "approvers"),
        ({"title": "T", "approvers": "bob", "approvalType": "most"}, "approvalType"),
        ({"title": "T", "approvers": "bob", "expiresIn": "soon"}, "expiresIn"),
        ({"title": "T", "approvers": "bob", "contextData": "[1]"}, "contextData"),
        ({"title": "T", "approvers": "bob", "onRejection": "ignore"}, "onRejection"),
        ({"title": "T", "approvers": "bob", "approvalType": "all", "requiredApprovals": 0}, "requiredApprovals"),
        ({"title": "T", "approvers": "bob", "approvalType": "all", "requiredApprovals": 2}, "requiredApprovals"),
        ({"title": "T", "approvers": "bob", "escalateAfter": "1h"}, "escalateTo"),
        ({"title": "T", "approvers": "bob", "sendNotification": "maybe"}, "sendNotification"),
    ],
)
def test_bad_config_names_the_field(config, field):
    with pytest.raises(ConfigError) as exc:
        parse_spec(config)
    assert exc.value.field == field


def test_required_approvals_only_kept_for_all():
    assert parse_spec({"title": "T", "approvers": "a,b", "requiredApprovals": 2}).required_approvals is None
    assert (
        parse_spec(
            {"title": "T", "approvers": "a,b", "approvalType": "all", "requiredApprovals": "2"}
        ).required_approvals
        == 2
    )


def test_form_fields_are_checked():
    fields = parse_form_fields(
        [
            {"key": "po", "label": "PO number", "type": "text", "required": True},
            {"key": "tier", "type": "select", "options": ["gold", "silver"]},
        ]
    )
    assert fields[0]["required"] is True
    assert fields[1]["options"] == [{"value": "gold", "label": "gold"}, {"value": "silver", "label": "silver"}]
    with pytest.raises(ConfigError, match="select needs"):
        parse_form_fields([{"key": "tier", "type": "select"}])
    with pytest.raises(ConfigError, match="must be one of"):
        parse_form_fields([{"key": "when", "type": "date"}])
    with pytest.raises(ConfigError, match="used twice"):
        parse_form_fields([{"key": "a"}, {"key": "a"}])


def test_saved_config_skips_templated_values():
    assert validate_saved_config({"title": "T", "approvers": "{{Trigger.who}}", "expiresIn": "{{Trigger.ttl}}"}) == []
    problems = validate_saved_config({"title": "T", "approvers": "bob", "expiresIn": "tomorrow"})
    assert [field for field, _ in problems] == ["expiresIn"]


def test_neither_approvers_nor_roles_asks_the_tenant_admins():
    """Both are optional in the reference: leaving both out is a valid request for the
    tenant's admins, at save time and when the node runs."""
    assert validate_saved_config({"title": "T"}) == []
    assert validate_saved_config({"title": "T", "approvers": "", "approverRoles": []}) == []
    spec = parse_spec({"title": "T"})
    assert spec.asks_tenant_admins and spec.approvers == [] and spec.approver_roles == []
    assert not parse_spec({"title": "T", "approverRoles": "managers"}).asks_tenant_admins


def test_approvers_that_resolve_to_nobody_are_an_error_not_the_admins():
    with pytest.raises(ConfigError) as exc:
        parse_spec({"title": "T", "approvers": ""}, unresolved={"title": "T", "approvers": "{{Trigger.who}}"})
    assert exc.value.field == "approvers"
    problems = validate_saved_config({"title": "T", "approvers": "[]"})
    assert [field for field, _ in problems] == ["approvers"]
    assert validate_saved_config({"title": "T", "approvers": "[]", "approverRoles": "{{Trigger.role}}"}) == []
