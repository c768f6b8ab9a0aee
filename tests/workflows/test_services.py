"""trigger_workflow: joins the caller's transaction, wakes workers only on commit, and
refuses bad calls with clear errors."""

import threading

import pytest
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.utils import load_backend
from django.test.utils import CaptureQueriesContext

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


# --- `using`: the connection whose transaction the start joins ---------------------------------


@pytest.fixture
def second_alias(transactional_db):
    """A second alias to the test database: its own connection, so its own transaction (as a
    project's second alias for the same database has), beside `default` the workers use.
    Made in this thread only, as Django's tests allow dynamically created connections."""
    alias = "second"
    settings_dict = dict(connections[DEFAULT_DB_ALIAS].settings_dict)
    # Django's pool is per alias and opened at start-up; a plain connection is enough here.
    settings_dict["OPTIONS"] = {k: v for k, v in settings_dict.get("OPTIONS", {}).items() if k != "pool"}
    connections[alias] = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, alias)
    yield alias
    connections[alias].close()
    del connections[alias]


def test_a_versions_cached_reads_are_shared_whether_or_not_default_is_named(make_workflow):
    from workflows import engine

    version = make_workflow(SIMPLE).versions.get()
    engine.graph_for_version.cache_clear()
    graph = engine.graph_for_version(version.pk)
    with CaptureQueriesContext(connections[DEFAULT_DB_ALIAS]) as queries:
        assert engine.graph_for_version(version.pk, DEFAULT_DB_ALIAS) is graph
        assert engine.graph_for_version(version.pk, using=DEFAULT_DB_ALIAS) is graph
    assert not queries.captured_queries


def visible_to_the_workers(execution_id) -> bool:
    return Execution.objects.using(DEFAULT_DB_ALIAS).filter(pk=execution_id).exists()


def test_a_trigger_on_another_alias_rolled_back_leaves_no_execution(make_workflow, user, worker, second_alias):
    wf = make_workflow(SIMPLE)
    with pytest.raises(Boom):
        with transaction.atomic(using=second_alias):
            result = trigger_workflow(workflow_id=wf.pk, user_name="alice", using=second_alias)
            # Written in that alias's transaction: there, and not yet on the workers' connection.
            assert Execution.objects.using(second_alias).filter(pk=result.execution_id).exists()
            assert not visible_to_the_workers(result.execution_id)
            raise Boom()
    assert not visible_to_the_workers(result.execution_id)
    assert NodeRun.objects.count() == 0
    assert worker.run_until_idle() == 0


def test_a_trigger_on_another_alias_runs_once_that_transaction_commits(make_workflow, user, worker, second_alias):
    wf = make_workflow(SIMPLE)
    woken = threading.Event()
    wakeup.subscribe(woken)
    try:
        with transaction.atomic(using=second_alias):
            # The connection object works as its alias does (the reference's `client`).
            result = trigger_workflow(
                workflow_id=wf.pk, user_name="alice", input={"n": 1}, using=connections[second_alias]
            )
            assert not visible_to_the_workers(result.execution_id)
            assert not woken.is_set()
        assert woken.is_set()  # woken by that alias's commit
    finally:
        wakeup.unsubscribe(woken)
    worker.run_until_idle()
    execution = Execution.objects.get(pk=result.execution_id)
    assert execution.status == "success" and execution.context["A"] == {"x": 1}


@pytest.mark.postgres  # SQLite lets one transaction write at a time: two would wait on each other
def test_a_trigger_on_another_alias_does_not_join_the_default_transaction(make_workflow, user, second_alias):
    """Rolling back `default` does not undo a start made on another alias (on its own, it
    commits at once)."""
    wf = make_workflow(SIMPLE)
    with pytest.raises(Boom):
        with transaction.atomic():
            result = trigger_workflow(workflow_id=wf.pk, user_name="alice", using=second_alias)
            raise Boom()
    assert visible_to_the_workers(result.execution_id)


@pytest.mark.parametrize("using", [DEFAULT_DB_ALIAS, "connection"])
def test_using_default_joins_the_default_transaction_as_without_it(make_workflow, user, worker, using):
    wf = make_workflow(SIMPLE)
    using = connections[DEFAULT_DB_ALIAS] if using == "connection" else using
    with pytest.raises(Boom):
        with transaction.atomic():
            trigger_workflow(workflow_id=wf.pk, user_name="alice", using=using)
            raise Boom()
    assert Execution.objects.count() == 0
    with transaction.atomic():
        result = trigger_workflow(workflow_id=wf.pk, user_name="alice", using=using)
    worker.run_until_idle()
    assert Execution.objects.get(pk=result.execution_id).status == "success"


def test_using_refuses_what_is_not_a_connection_of_the_workers_database(make_workflow, user):
    wf = make_workflow(SIMPLE)
    stray = connections.create_connection(DEFAULT_DB_ALIAS)  # not this thread's connection
    try:
        for using in ("nope", 42, stray):
            with pytest.raises(InvalidInput) as exc:
                trigger_workflow(workflow_id=wf.pk, user_name="alice", using=using)
            assert exc.value.field == "using"
    finally:
        stray.close()
    elsewhere = {**connections[DEFAULT_DB_ALIAS].settings_dict, "NAME": "another_db"}
    connections["elsewhere"] = load_backend(elsewhere["ENGINE"]).DatabaseWrapper(elsewhere, "elsewhere")
    try:
        with pytest.raises(InvalidInput, match="not the database the workflow workers use"):
            trigger_workflow(workflow_id=wf.pk, user_name="alice", using="elsewhere")
    finally:
        del connections["elsewhere"]
    assert Execution.objects.count() == 0
