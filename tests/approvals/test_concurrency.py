"""Simultaneous decisions on PostgreSQL: real threads, each with its own connection."""

import threading
from datetime import timedelta

import pytest
from django.db import OperationalError, connection
from django.utils import timezone

from approvals import services
from approvals.exceptions import AlreadyDecided, RequestNotPending
from workflows import engine
from workflows.exceptions import InvalidState
from workflows.models import Execution, NodeRun

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def at_once(*calls) -> list:
    """Run the calls in threads released together; returns each result or exception."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=10)
            results[index] = call()
        except Exception as exc:  # collected and asserted on by the test
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def decide_call(request, user, decision="approved"):
    return lambda: services.decide(request_id=request.pk, user=user, decision=decision, channel="api")


def resumes(execution) -> int:
    run = NodeRun.objects.get(execution=execution, node_id="approval")
    return sum(1 for e in run.logs if "; request " in e["message"])


def test_all_with_simultaneous_approvals_resumes_once(start_approval, approvers, worker):
    execution, request = start_approval({"title": "T", "approvalType": "all", "approvers": "bob,carol,dave"})
    results = at_once(*(decide_call(request, u) for u in approvers.values()))
    assert not [r for r in results if isinstance(r, Exception)]
    request.refresh_from_db()
    assert request.status == "approved" and request.decisions.count() == 3
    assert resumes(execution) == 1
    worker.run_until_idle()
    execution.refresh_from_db()
    assert execution.status == "success"
    assert len(execution.context["Request Approval"]["decisions"]) == 3


def test_all_with_simultaneous_approval_and_rejection_settles_once(start_approval, approvers, worker):
    execution, request = start_approval(
        {"title": "T", "approvalType": "all", "approvers": "bob,carol,dave", "onRejection": "continue"}
    )
    results = at_once(
        decide_call(request, approvers["bob"]),
        decide_call(request, approvers["carol"], "rejected"),
        decide_call(request, approvers["dave"]),
    )
    request.refresh_from_db()
    assert request.status == "rejected"
    assert resumes(execution) == 1
    # Decisions after the rejection settled the request are refused, never half-written.
    refused = [r for r in results if isinstance(r, Exception)]
    assert all(isinstance(r, RequestNotPending) for r in refused)
    assert request.decisions.count() == 3 - len(refused)


def test_any_with_simultaneous_approvals_takes_the_first_only(start_approval, approvers):
    execution, request = start_approval({"title": "T", "approvalType": "any", "approvers": "bob,carol,dave"})
    results = at_once(*(decide_call(request, u) for u in approvers.values()))
    winners = [r for r in results if not isinstance(r, Exception)]
    assert len(winners) == 1
    assert all(isinstance(r, RequestNotPending) for r in results if isinstance(r, Exception))
    request.refresh_from_db()
    assert request.status == "approved" and request.decisions.count() == 1
    assert resumes(execution) == 1


def test_any_with_simultaneous_rejections_rejects_once(start_approval, approvers):
    execution, request = start_approval(
        {"title": "T", "approvalType": "any", "approvers": "bob,carol,dave", "onRejection": "continue"}
    )
    results = at_once(*(decide_call(request, u, "rejected") for u in approvers.values()))
    assert not [r for r in results if isinstance(r, Exception)]
    request.refresh_from_db()
    assert request.status == "rejected" and request.decisions.count() == 3
    assert resumes(execution) == 1


def test_double_submit_by_one_user_counts_once(start_approval, approvers):
    _, request = start_approval({"title": "T", "approvalType": "all", "approvers": "bob,carol"})
    results = at_once(decide_call(request, approvers["bob"]), decide_call(request, approvers["bob"]))
    assert sum(1 for r in results if isinstance(r, AlreadyDecided)) == 1
    assert request.decisions.count() == 1


def test_decision_racing_the_deadline_has_one_winner(start_approval, approvers):
    execution, request = start_approval(
        {"title": "T", "approvers": "bob", "expiresIn": "1h", "onExpiration": "continue"}
    )
    run = NodeRun.objects.get(execution=execution, node_id="approval")
    NodeRun.objects.filter(pk=run.pk).update(wake_at=timezone.now() - timedelta(seconds=1))
    decided, fired = at_once(decide_call(request, approvers["bob"]), lambda: engine.fire_deadline(run.pk))
    if isinstance(fired, OperationalError):
        # PostgreSQL chose the timer as the deadlock victim; its next round finds no work.
        assert getattr(fired.__cause__, "sqlstate", None) == "40P01", repr(fired)
        fired = engine.fire_deadline(run.pk)
    request.refresh_from_db()
    if isinstance(decided, Exception):
        assert isinstance(decided, (RequestNotPending, InvalidState)) and fired is True
        assert request.status == "expired"
    else:
        assert fired is False and request.status == "approved"
    assert NodeRun.objects.get(pk=run.pk).status == "success"


def test_decision_racing_a_cancel_leaves_a_consistent_state(start_approval, approvers):
    execution, request = start_approval({"title": "T", "approvers": "bob"})
    decided, cancelled = at_once(decide_call(request, approvers["bob"]), lambda: engine.cancel_execution(execution.pk))
    request.refresh_from_db()
    execution.refresh_from_db()
    if isinstance(decided, Exception):
        # The cancel came first: the request was cancelled with the node, nothing was recorded.
        assert isinstance(decided, RequestNotPending), repr(decided)
        assert request.status == "cancelled" and request.decisions.count() == 0
    else:
        assert request.status == "approved" and request.decisions.count() == 1
    # Either way the cancel itself went through (a resumed execution is still running).
    assert isinstance(cancelled, Execution), repr(cancelled)
    assert execution.status == "cancelled"
