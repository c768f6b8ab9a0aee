"""Concurrent signals on PostgreSQL with real threads, each on its own connection."""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from events.models import BufferedSignal, WaitEvent
from tests.events.conftest import SIGNAL_URL, payment_definition
from workflows.models import Execution, NodeRun
from workflows.services import trigger_workflow

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 50


def send_together(raw_key: str, bodies: list[dict], headers: dict | None = None) -> list:
    """POST every body from its own thread, all released at once; returns the responses."""
    barrier = threading.Barrier(len(bodies))
    responses: list = [None] * len(bodies)

    def send(index: int) -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
        try:
            barrier.wait()
            responses[index] = client.post(SIGNAL_URL, bodies[index], format="json", **(headers or {}))
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return responses


def test_fifty_concurrent_signals_on_one_key_resume_exactly_once(make_workflow, user, worker, api_key):
    result = trigger_workflow(
        workflow_id=make_workflow(payment_definition()).pk, user_name=user.username, input={"orderId": 1}
    )
    worker.run_until_idle()
    bodies = [{"eventNamespace": "payments", "eventKey": "order-1", "payload": {"n": i}} for i in range(THREADS)]
    responses = send_together(api_key[1], bodies)
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] + [409] * (THREADS - 1)
    [winner] = [i for i, r in enumerate(responses) if r.status_code == 200]
    assert responses[winner].json()["workflowResumed"] is True
    worker.run_until_idle()
    execution = Execution.objects.get(pk=result.execution_id)
    assert execution.status == "success"
    assert execution.context["Wait for Event"]["payload"] == bodies[winner]["payload"]
    run = NodeRun.objects.get(execution=execution, node_id="wait")
    assert [entry["message"] for entry in run.logs].count("Event received from Stripe webhook") == 1
    assert WaitEvent.objects.filter(status="received").count() == 1


def test_fifty_concurrent_signals_before_the_wait_buffer_exactly_one(api_key):
    bodies = [{"eventNamespace": "payments", "eventKey": "order-2", "payload": {"n": i}} for i in range(THREADS)]
    codes = sorted(r.status_code for r in send_together(api_key[1], bodies))
    assert codes == [202] + [409] * (THREADS - 1)
    assert BufferedSignal.objects.count() == 1


def test_concurrent_retries_with_one_idempotency_key_all_get_the_same_answer(make_workflow, user, worker, api_key):
    trigger_workflow(workflow_id=make_workflow(payment_definition()).pk, user_name=user.username, input={"orderId": 3})
    worker.run_until_idle()
    bodies = [{"eventNamespace": "payments", "eventKey": "order-3"}] * 20
    responses = send_together(api_key[1], bodies, {"HTTP_IDEMPOTENCY_KEY": "evt_3"})
    assert {r.status_code for r in responses} == {200}
    assert len({r.content for r in responses}) == 1


def test_signals_racing_their_waits_are_never_lost(make_workflow, user, api_key):
    """Signals and the waits they target arrive at the same moment; every execution ends up resumed."""
    from workflows.worker import Worker

    workflow = make_workflow(payment_definition())
    count = 20
    ids = [
        trigger_workflow(workflow_id=workflow.pk, user_name=user.username, input={"orderId": 100 + i}).execution_id
        for i in range(count)
    ]
    stop = threading.Event()

    def work() -> None:
        worker = Worker(concurrency=1, name="race-worker", poll_seconds=0.05)
        try:
            while not stop.is_set():
                worker.run_until_idle()
        finally:
            connection.close()

    workers = [threading.Thread(target=work) for _ in range(2)]
    for thread in workers:
        thread.start()
    try:
        bodies = [{"eventNamespace": "payments", "eventKey": f"order-{100 + i}"} for i in range(count)]
        responses = send_together(api_key[1], bodies)
        assert all(r.status_code in (200, 202) for r in responses)
        deadline_checks = 0
        while Execution.objects.filter(pk__in=ids, status="success").count() < count:
            deadline_checks += 1
            assert deadline_checks < 2000, "executions did not all finish"
            stop.wait(0.01)
    finally:
        stop.set()
        for thread in workers:
            thread.join()
    assert WaitEvent.objects.filter(status="received").count() == count
    assert not BufferedSignal.objects.filter(status="pending").exists()
