"""DataSource nodes: tenant-scoped reads and writes of exposed models; unexposed fields refused."""

from decimal import Decimal

import pytest

from demo.models import Order
from tests.conftest import chain
from tests.workflows.plugins_support import node
from workflows.checks import check_datasources
from workflows.exceptions import InvalidDefinition
from workflows.models import Execution, NodeRun
from workflows.services import trigger_workflow


@pytest.fixture
def orders(tenant, other_tenant):
    return [
        Order.objects.create(tenant=tenant, number="A-1", customer="Ann", amount=Decimal("10.50"), status="new"),
        Order.objects.create(tenant=tenant, number="A-2", customer="Ben", amount=Decimal("99.00"), status="approved"),
        Order.objects.create(tenant=tenant, number="A-3", customer="Ann", amount=Decimal("5.00"), status="new"),
        Order.objects.create(
            tenant=other_tenant,
            number="G-1",
            customer="Ann",
            amount=Decimal("1.00"),
            status="new",
            internal_note="secret",
        ),
    ]


def run(make_workflow, user, worker, *nodes, input=None):
    wf = make_workflow(chain(*nodes))
    result = trigger_workflow(workflow_id=wf.pk, user_name=user.username, input=input or {})
    worker.run_until_idle()
    return Execution.objects.get(pk=result.execution_id)


@pytest.mark.django_db(transaction=True)
def test_query_reads_only_the_tenants_rows(make_workflow, user, worker, orders):
    execution = run(
        make_workflow,
        user,
        worker,
        node(
            "q",
            "datasource-query",
            "Find",
            datasourceId="orders",
            match={"customer": "{{Trigger.who}}"},
            select=["number", "amount"],
            orderBy="amount",
            orderDirection="desc",
            limit=10,
        ),
        input={"who": "Ann"},
    )
    assert execution.status == "success", execution.error
    assert execution.context["Find"] == {
        "rows": [{"number": "A-1", "amount": "10.50"}, {"number": "A-3", "amount": "5.00"}],
        "count": 2,
    }


@pytest.mark.django_db(transaction=True)
def test_query_without_select_returns_the_readable_fields_only(make_workflow, user, worker, orders):
    execution = run(
        make_workflow,
        user,
        worker,
        node("q", "datasource-query", "Find", datasourceId="orders", match='{"number": "A-2"}'),
    )
    (row,) = execution.context["Find"]["rows"]
    assert set(row) == {"id", "number", "customer", "amount", "status", "created_at"}
    assert row["status"] == "approved"


@pytest.mark.django_db(transaction=True)
def test_insert_writes_into_the_executions_tenant(make_workflow, user, worker, tenant):
    execution = run(
        make_workflow,
        user,
        worker,
        node(
            "i",
            "datasource-insert",
            "Insert",
            datasourceId="orders",
            rows=[{"_status": "I", "number": "{{Trigger.n}}", "customer": "Cy", "amount": "12.00"}],
        ),
        input={"n": "A-9"},
    )
    assert execution.status == "success", execution.error
    order = Order.objects.get(number="A-9")
    assert order.tenant_id == tenant.pk and order.amount == Decimal("12.00") and order.status == "new"
    assert execution.context["Insert"]["rows"][0]["id"] == order.pk and execution.context["Insert"]["count"] == 1


@pytest.mark.django_db(transaction=True)
def test_update_changes_one_row_found_by_its_key(make_workflow, user, worker, orders):
    target = orders[0]
    execution = run(
        make_workflow,
        user,
        worker,
        node(
            "u",
            "datasource-update",
            "Approve",
            datasourceId="orders",
            row={"id": "{{Trigger.id}}", "status": "approved"},
        ),
        input={"id": target.pk},
    )
    assert execution.status == "success", execution.error
    target.refresh_from_db()
    assert target.status == "approved"
    assert execution.context["Approve"]["row"]["status"] == "approved"


@pytest.mark.django_db(transaction=True)
def test_update_cannot_reach_another_tenants_row(make_workflow, user, worker, orders):
    foreign = orders[3]
    execution = run(
        make_workflow,
        user,
        worker,
        node("u", "datasource-update", "Approve", datasourceId="orders", row={"id": foreign.pk, "status": "approved"}),
    )
    assert execution.status == "error"
    assert "no row" in execution.error["message"]
    foreign.refresh_from_db()
    assert foreign.status == "new"


@pytest.mark.django_db(transaction=True)
def test_delete_removes_the_row(make_workflow, user, worker, orders):
    execution = run(
        make_workflow,
        user,
        worker,
        node("d", "datasource-delete", "Remove", datasourceId="orders", rows=[{"id": orders[2].pk}]),
    )
    assert execution.status == "success", execution.error
    assert not Order.objects.filter(pk=orders[2].pk).exists()
    assert execution.context["Remove"]["deleted"] == 1 and execution.context["Remove"]["row"]["number"] == "A-3"


@pytest.mark.django_db
def test_saving_refuses_writes_to_unexposed_fields(make_workflow):
    with pytest.raises(InvalidDefinition) as caught:
        make_workflow(
            chain(
                node(
                    "i",
                    "datasource-insert",
                    "Insert",
                    datasourceId="orders",
                    rows=[{"number": "x", "internal_note": "y", "tenant": 5}],
                ),
                node(
                    "u", "datasource-update", "Update", datasourceId="orders", row={"id": 1, "created_at": "2020-01-01"}
                ),
                node("d", "datasource-delete", "Delete", datasourceId="orders", rows=[{"id": 1, "status": "x"}]),
                node("q", "datasource-query", "Query", datasourceId="orders", match={"internal_note": "secret"}),
                node("z", "datasource-query", "Unknown", datasourceId="nope"),
            )
        )
    found = {(e["nodeId"], e["field"]): e["message"] for e in caught.value.errors}
    assert found[("i", "config.rows")] == "not writable attribute(s) of Orders: internal_note, tenant"
    assert found[("u", "config.row")] == "not writable attribute(s) of Orders: created_at"
    assert found[("d", "config.rows")] == "not writable attribute(s) of Orders: status"
    assert found[("q", "config.match")] == "not readable attribute(s) of Orders: internal_note"
    assert found[("z", "config.datasourceId")] == "unknown data source 'nope'; exposed: orders"


@pytest.mark.django_db(transaction=True)
def test_a_write_to_an_unexposed_field_built_at_run_time_is_refused(make_workflow, user, worker, orders):
    execution = run(
        make_workflow,
        user,
        worker,
        node("u", "datasource-update", "Update", datasourceId="orders", row="{{Trigger.row}}"),
        input={"row": {"id": orders[0].pk, "internal_note": "pwned"}},
    )
    assert execution.status == "error"
    assert "not writable by workflows: internal_note" in execution.error["message"]
    orders[0].refresh_from_db()
    assert orders[0].internal_note == ""


@pytest.mark.django_db(transaction=True)
def test_an_invalid_row_fails_the_node_and_writes_nothing(make_workflow, user, worker, tenant):
    execution = run(
        make_workflow,
        user,
        worker,
        node("i", "datasource-insert", "Insert", datasourceId="orders", rows=[{"number": "A-5", "status": "lost"}]),
    )
    assert execution.status == "error"
    assert "invalid row: status" in execution.error["message"]
    assert NodeRun.objects.get(execution=execution, node_id="i").attempt == 1
    assert not Order.objects.filter(number="A-5").exists()


def test_misconfigured_data_sources_are_reported(settings):
    assert check_datasources() == []
    settings.WORKFLOW_DATASOURCES = {
        "bad": {"model": "demo.Nothing"},
        "worse": {"model": "demo.Order", "tenantField": "number", "read": ["nope"], "write": ["tenant"]},
    }
    messages = sorted(m.msg for m in check_datasources())
    assert "WORKFLOW_DATASOURCES['bad']: no model 'demo.Nothing'" in messages
    assert "WORKFLOW_DATASOURCES['worse']: tenantField 'number' is not a foreign key" in messages
    assert "WORKFLOW_DATASOURCES['worse']: no field 'nope' on demo.Order" in messages
