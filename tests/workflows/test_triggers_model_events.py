"""Model-event triggers: insert, update (to a value) and delete of exposed rows start workflows
in the writer's transaction."""

from decimal import Decimal

import pytest
from django.db import transaction
from rest_framework.test import APIClient

from demo.models import Order
from tests.conftest import chain, error_fields
from tests.workflows.plugins_support import node
from workflows import triggers
from workflows.exceptions import InvalidInput
from workflows.models import Execution, ModelTrigger
from workflows.triggers import changed_as_bound


@pytest.fixture
def notify(make_workflow):
    return make_workflow(
        chain(node("n", "set", "Note", values={"order": "{{Trigger.row.number}}", "event": "{{Trigger.event}}"})),
        name="Notify",
    )


def bind(workflow, user, event, **kwargs):
    return triggers.create_model_trigger(workflow=workflow, datasource="orders", event=event, run_as=user, **kwargs)


def executions(workflow):
    return list(Execution.objects.filter(workflow=workflow).order_by("created_at"))


@pytest.mark.django_db(transaction=True)
def test_insert_starts_the_workflow_with_the_row(notify, user, tenant, worker):
    bind(notify, user, "insert")
    with transaction.atomic():
        order = Order.objects.create(tenant=tenant, number="A-1", amount=Decimal("3.50"))
    (execution,) = executions(notify)
    assert execution.input["event"] == "insert" and execution.input["datasource"] == "orders"
    assert execution.input["row"]["id"] == order.pk and execution.input["row"]["amount"] == "3.50"
    assert "internal_note" not in execution.input["row"]
    assert execution.run_as == user
    worker.run_until_idle()
    execution.refresh_from_db()
    assert execution.context["Note"] == {"order": "A-1", "event": "insert"}


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_write_creates_no_execution(notify, user, tenant):
    bind(notify, user, "insert")
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            Order.objects.create(tenant=tenant, number="A-1")
            assert len(executions(notify)) == 1  # created inside the writer's transaction
            raise RuntimeError("the application changes its mind")
    assert executions(notify) == []
    assert not Order.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_update_only_when_the_field_changes_to_the_value(notify, user, tenant):
    bind(notify, user, "update", field="status", value="approved")
    order = Order.objects.create(tenant=tenant, number="A-1", status="new")
    order.customer = "Ann"
    order.save()
    assert executions(notify) == []  # not the bound field
    order.status = "rejected"
    order.save()
    assert executions(notify) == []  # not the bound value
    order.status = "approved"
    order.save()
    (execution,) = executions(notify)
    assert execution.input["previous"]["status"] == "rejected" and execution.input["row"]["status"] == "approved"
    order.customer = "Ben"
    order.save()
    assert len(executions(notify)) == 1  # still approved: no change to the value


@pytest.mark.django_db(transaction=True)
def test_any_update_without_a_field(notify, user, tenant):
    bind(notify, user, "update")
    order = Order.objects.create(tenant=tenant, number="A-1")
    order.customer = "Ann"
    order.save()
    (execution,) = executions(notify)
    assert execution.input["event"] == "update"
    assert execution.input["previous"]["customer"] == "" and execution.input["row"]["customer"] == "Ann"


@pytest.mark.django_db(transaction=True)
def test_delete_starts_the_workflow_with_the_deleted_row(notify, user, tenant):
    bind(notify, user, "delete")
    order = Order.objects.create(tenant=tenant, number="A-1")
    pk = order.pk
    order.delete()
    (execution,) = executions(notify)
    assert execution.input["event"] == "delete" and execution.input["row"]["id"] == pk


@pytest.mark.django_db(transaction=True)
def test_rows_of_another_tenant_do_not_trigger(notify, user, other_tenant):
    bind(notify, user, "insert")
    Order.objects.create(tenant=other_tenant, number="G-1")
    assert executions(notify) == []


@pytest.mark.django_db(transaction=True)
def test_inactive_workflows_are_skipped_and_the_write_goes_on(notify, user, tenant):
    bind(notify, user, "insert")
    notify.is_active = False
    notify.save()
    Order.objects.create(tenant=tenant, number="A-1")
    assert Order.objects.filter(number="A-1").exists()
    assert executions(notify) == []


@pytest.mark.django_db(transaction=True)
def test_a_data_source_node_write_fires_the_binding_in_its_transaction(make_workflow, notify, user, tenant, worker):
    bind(notify, user, "update", field="status", value="approved")
    order = Order.objects.create(tenant=tenant, number="A-1")
    approve = make_workflow(
        chain(
            node("u", "datasource-update", "Approve", datasourceId="orders", row={"id": order.pk, "status": "approved"})
        ),
        name="Approve",
    )
    from workflows.services import trigger_workflow

    trigger_workflow(workflow_id=approve.pk, user_name=user.username)
    worker.run_until_idle()
    (execution,) = executions(notify)
    assert execution.status == "success" and execution.context["Note"]["order"] == "A-1"


@pytest.mark.django_db
def test_binding_validation_names_the_field(notify, user, other_user):
    cases = [
        ({"datasource": "nope", "event": "insert"}, "datasource"),
        ({"datasource": "orders", "event": "upsert"}, "event"),
        ({"datasource": "orders", "event": "update", "field": "internal_note"}, "field"),
        ({"datasource": "orders", "event": "insert", "field": "status"}, "field"),
        ({"datasource": "orders", "event": "update", "value": "x"}, "value"),
    ]
    for kwargs, field in cases:
        with pytest.raises(InvalidInput) as caught:
            triggers.create_model_trigger(workflow=notify, run_as=user, **kwargs)
        assert caught.value.field == field
    with pytest.raises(InvalidInput) as caught:
        triggers.create_model_trigger(workflow=notify, run_as=other_user, datasource="orders", event="insert")
    assert caught.value.field == "runAs"
    assert not ModelTrigger.objects.exists()


def test_change_rule():
    assert changed_as_bound("", None, None, {"status": "new"})
    assert changed_as_bound("status", None, {"status": "new"}, {"status": "rejected"})
    assert not changed_as_bound("status", None, {"status": "new"}, {"status": "new"})
    assert changed_as_bound("status", "approved", {"status": "new"}, {"status": "approved"})
    assert not changed_as_bound("status", "approved", {"status": "new"}, {"status": "rejected"})


@pytest.mark.django_db
def test_api_binds_as_the_caller_within_their_tenants(api, notify, user, other_user):
    response = api.post(
        "/api/model-triggers/",
        {
            "workflowId": str(notify.pk),
            "datasource": "orders",
            "event": "update",
            "field": "status",
            "value": "approved",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["runAs"] == "alice" and response.json()["value"] == "approved"
    bad = api.post(
        "/api/model-triggers/",
        {"workflowId": str(notify.pk), "datasource": "orders", "event": "insert", "field": "status"},
        format="json",
    )
    assert bad.status_code == 400 and bad.json()["field"] == "field"
    stranger = APIClient()
    stranger.force_authenticate(other_user)
    assert stranger.get(f"/api/model-triggers/{response.json()['id']}/").status_code == 404
    refused = stranger.post(
        "/api/model-triggers/", {"workflowId": str(notify.pk), "datasource": "orders", "event": "insert"}, format="json"
    )
    assert refused.status_code == 400 and "workflowId" in error_fields(refused)


@pytest.mark.django_db
def test_a_save_without_bindings_costs_one_lookup(tenant, django_assert_num_queries):
    order = Order.objects.create(tenant=tenant, number="A-1")
    order.customer = "Ann"
    # The UPDATE itself and one look for update bindings.
    with django_assert_num_queries(2):
        order.save()
    with django_assert_num_queries(2):  # an INSERT and one look for insert bindings
        Order.objects.create(tenant=tenant, number="A-2")
