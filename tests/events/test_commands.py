"""signal_event, create_api_key and expire_events management commands."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from events import keys
from events.models import BufferedSignal, WaitEvent, WorkflowApiKey
from tests.events.conftest import payment_definition
from workflows.models import Execution, NodeRun
from workflows.services import trigger_workflow

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_signal_event_resumes_the_waiting_execution(make_workflow, user, tenant, worker):
    result = trigger_workflow(
        workflow_id=make_workflow(payment_definition()).pk, user_name=user.username, input={"orderId": 4}
    )
    worker.run_until_idle()
    answer = json.loads(
        run("signal_event", "payments", "order-4", "--payload", '{"amount": 3}', "--tenant", tenant.slug)
    )
    assert answer["workflowResumed"] is True and answer["executionId"] == str(result.execution_id)
    worker.run_until_idle()
    execution = Execution.objects.get(pk=result.execution_id)
    assert execution.context["Payment Result"]["amount"] == 3
    assert execution.context["Wait for Event"]["receivedFrom"] == "manage.py signal_event"


def test_signal_event_reports_bad_input(tenant):
    with pytest.raises(CommandError, match="payload"):
        run("signal_event", "payments", "k", "--payload", "[1]")
    with pytest.raises(CommandError, match="not valid JSON"):
        run("signal_event", "payments", "k", "--payload", "{oops")


def test_create_api_key_prints_a_key_that_is_stored_hashed(tenant, user):
    raw = run("create_api_key", "CI", "--tenant", tenant.slug, "--user", user.username).strip()
    row = WorkflowApiKey.objects.get()
    assert row.key_hash == keys.hash_key(raw) and row.prefix == keys.prefix_of(raw) and row.created_by == user


def test_create_api_key_refuses_a_user_outside_the_tenant(tenant, other_user):
    with pytest.raises(CommandError, match="not a member"):
        run("create_api_key", "CI", "--tenant", tenant.slug, "--user", other_user.username)


@override_settings(EVENTS_SIGNAL_BUFFER_SECONDS=0)
def test_expire_events_purges_stale_buffered_signals(tenant):
    run("signal_event", "payments", "k1", "--tenant", tenant.slug)
    assert BufferedSignal.objects.count() == 1
    assert json.loads(run("expire_events"))["purged"] == 1
    assert not BufferedSignal.objects.exists()


def test_expire_events_fires_due_waits(make_workflow, user, worker):
    result = trigger_workflow(
        workflow_id=make_workflow(payment_definition(expiresIn="1h")).pk, user_name=user.username, input={"orderId": 5}
    )
    worker.run_until_idle()
    wait = WaitEvent.objects.get()
    past = wait.created_at.replace(year=2000)
    WaitEvent.objects.filter(pk=wait.pk).update(expires_at=past)
    NodeRun.objects.filter(pk=wait.node_run_id).update(wake_at=past)
    assert json.loads(run("expire_events"))["expired"] == 1
    assert WaitEvent.objects.get().status == "expired"
    assert Execution.objects.get(pk=result.execution_id).status == "error"


def test_expire_events_closes_waits_whose_node_stopped_waiting(make_workflow, user, worker):
    trigger_workflow(workflow_id=make_workflow(payment_definition()).pk, user_name=user.username, input={"orderId": 6})
    worker.run_until_idle()
    NodeRun.objects.filter(node_id="wait").update(status="cancelled")
    assert json.loads(run("expire_events"))["orphaned"] == 1
    assert WaitEvent.objects.get().status == "cancelled"


def test_the_orphan_check_walks_open_waits_in_bounded_batches(make_workflow, user, worker, monkeypatch):
    from events import services

    monkeypatch.setattr(services, "ORPHAN_BATCH", 2)
    monkeypatch.setitem(services._orphan_cursor, "after", None)
    wf = make_workflow(payment_definition())
    for order in range(5):
        trigger_workflow(workflow_id=wf.pk, user_name=user.username, input={"orderId": order})
    worker.run_until_idle()
    NodeRun.objects.filter(node_id="wait").update(status="cancelled")
    closed = [services.expire_and_purge()["orphaned"] for _ in range(3)]
    assert closed == [2, 2, 1]  # each run looks at two open waits, then wraps around
    assert not WaitEvent.objects.filter(status="waiting").exists()
