"""trigger_workflow: joins the caller's transaction, wakes workers only on commit, and
refuses bad calls with clear errors."""

import threading

import pytest
from django.db import transaction

from tests.conftest import chain
from workflows import wakeup
from workflows.exceptions import InvalidInput, UserNotFound, UserNotInTenant, WorkflowInactive, WorkflowNotFound
from workflows.models import Execution, NodeRun, Workflow
from workflows.services import create_workflow, trigger_workflow, update_workflow

pytestmark = pytest.mark.django_db(transaction=True)

SIMPLE = chain({"id": "a", "type": "set", "label": "A", "config": {"values": {"x": 1}}})


class Boom(Exception):
    pass


def test_returns_execution_id_and_running(make_workflow, user):
    wf = make_workflow(SIMPLE)
    result = trigger_workflow(workflow_id=wf.pk, user_name="alice", input={"k": "v"})
    assert result.status == "running"
    execution = Execution.objects.get(pk=result.execution_id)
    assert execution.input == {"k": "v"} and execution.run_as == user
    assert execution.workflow_version.number == 1


def test_rollback_of_the_callers_transaction_leaves_nothing(make_workflow, user, worker):
    wf = make_workflow(SIMPLE)
    with pytest.raises(Boom):
        with transaction.atomic():
            trigger_workflow(workflow_id=wf.pk, user_name="alice")
            assert Execution.objects.count() == 1  # visible inside the transaction
            raise Boom()
    assert Execution.objects.count() == 0 and NodeRun.objects.count() == 0
    assert worker.run_until_idle() == 0


def test_workers_are_woken_only_on_commit(make_workflow, user):
    wf = make_workflow(SIMPLE)
    woken = threading.Event()
    wakeup.subscribe(woken)
    try:
        with transaction.atomic():
            trigger_workflow(workflow_id=wf.pk, user_name="alice")
            assert not woken.is_set()
        assert woken.is_set()
    finally:
        wakeup.unsubscribe(woken)


def test_a_committed_trigger_inside_atomic_runs(make_workflow, user, worker):
    wf = make_workflow(SIMPLE)
    with transaction.atomic():
        result = trigger_workflow(workflow_id=wf.pk, user_name="alice")
    worker.run_until_idle()
    assert Execution.objects.get(pk=result.execution_id).status == "success"


def test_unknown_workflow(user):
    with pytest.raises(WorkflowNotFound, match="Workflow not found"):
        trigger_workflow(workflow_id="00000000-0000-0000-0000-000000000000", user_name="alice")
    with pytest.raises(WorkflowNotFound, match="Workflow not found"):
        trigger_workflow(workflow_id="not-a-uuid", user_name="alice")


def test_unknown_user(make_workflow):
    wf = make_workflow(SIMPLE)
    with pytest.raises(UserNotFound, match="Unknown user"):
        trigger_workflow(workflow_id=wf.pk, user_name="nobody")


def test_user_of_another_tenant(make_workflow, other_user):
    wf = make_workflow(SIMPLE)
    with pytest.raises(UserNotInTenant):
        trigger_workflow(workflow_id=wf.pk, user_name=other_user.username)


def test_inactive_workflow(make_workflow, user):
    wf = make_workflow(SIMPLE, is_active=False)
    with pytest.raises(WorkflowInactive, match="inactive"):
        trigger_workflow(workflow_id=wf.pk, user_name="alice")


def test_input_must_be_an_object(make_workflow, user):
    wf = make_workflow(SIMPLE)
    with pytest.raises(InvalidInput) as info:
        trigger_workflow(workflow_id=wf.pk, user_name="alice", input=[1, 2])
    assert info.value.field == "input"
    assert Execution.objects.count() == 0


def test_idempotency_key_returns_the_first_execution(make_workflow, user):
    wf = make_workflow(SIMPLE)
    first = trigger_workflow(workflow_id=wf.pk, user_name="alice", idempotency_key="order-1")
    again = trigger_workflow(workflow_id=wf.pk, user_name="alice", idempotency_key="order-1")
    other = trigger_workflow(workflow_id=wf.pk, user_name="alice", idempotency_key="order-2")
    assert first.execution_id == again.execution_id != other.execution_id
    assert Execution.objects.count() == 2


def test_same_idempotency_key_on_another_workflow_is_independent(make_workflow, user):
    a, b = make_workflow(SIMPLE, name="a"), make_workflow(SIMPLE, name="b")
    assert (
        trigger_workflow(workflow_id=a.pk, user_name="alice", idempotency_key="k").execution_id
        != trigger_workflow(workflow_id=b.pk, user_name="alice", idempotency_key="k").execution_id
    )


def test_execution_stays_pinned_to_its_version(make_workflow, user, worker):
    wf = make_workflow(SIMPLE)
    result = trigger_workflow(workflow_id=wf.pk, user_name="alice")
    update_workflow(wf, definition=chain({"id": "a", "type": "set", "label": "A", "config": {"values": {"x": 2}}}))
    worker.run_until_idle()
    execution = Execution.objects.get(pk=result.execution_id)
    assert execution.workflow_version.number == 1 and execution.context["A"] == {"x": 1}
    newer = trigger_workflow(workflow_id=wf.pk, user_name="alice")
    worker.run_until_idle()
    assert Execution.objects.get(pk=newer.execution_id).context["A"] == {"x": 2}
    old = trigger_workflow(workflow_id=wf.pk, user_name="alice", version=1)
    worker.run_until_idle()
    assert Execution.objects.get(pk=old.execution_id).context["A"] == {"x": 1}


def test_saving_the_same_definition_makes_no_new_version(make_workflow):
    wf = make_workflow(SIMPLE)
    update_workflow(wf, definition=SIMPLE, name="renamed")
    assert wf.versions.count() == 1 and Workflow.objects.get(pk=wf.pk).name == "renamed"


def test_invalid_definition_writes_nothing(tenant):
    from workflows.exceptions import InvalidDefinition

    with pytest.raises(InvalidDefinition):
        create_workflow(tenant=tenant, name="bad", definition={"nodes": [], "edges": []})
    assert Workflow.objects.count() == 0
