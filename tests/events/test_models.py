"""The database keeps one waiter per (tenant, namespace, key)."""

import pytest
from django.db import IntegrityError, transaction

from events.models import WaitEvent
from tests.conftest import chain
from workflows.models import NodeRun
from workflows.services import trigger_workflow


@pytest.fixture
def node_run(make_workflow, user):
    wf = make_workflow(chain({"id": "a", "type": "set", "label": "A", "config": {}}))
    result = trigger_workflow(workflow_id=wf.pk, user_name=user.username)
    return NodeRun.objects.get(execution_id=result.execution_id, node_id="a")


def _wait(node_run, tenant, **fields):
    return WaitEvent.objects.create(
        tenant=tenant, execution_id=node_run.execution_id, node_run=node_run, namespace="payments", key="k", **fields
    )


def test_two_waiting_rows_on_one_key_are_refused(node_run, tenant):
    _wait(node_run, tenant)
    with pytest.raises(IntegrityError), transaction.atomic():
        _wait(node_run, tenant)


def test_finished_waits_do_not_hold_the_key(node_run, tenant):
    _wait(node_run, tenant, status="received")
    _wait(node_run, tenant, status="expired")
    _wait(node_run, tenant)
    assert WaitEvent.objects.filter(key="k").count() == 3


def test_the_same_key_may_wait_in_two_tenants(node_run, tenant, other_tenant):
    _wait(node_run, tenant)
    _wait(node_run, other_tenant)
    assert WaitEvent.objects.filter(key="k", status="waiting").count() == 2
