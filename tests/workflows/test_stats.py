"""Workflow health: GET /api/workflows/{id}/stats/ and the aggregates behind it."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.conftest import chain
from workflows import stats
from workflows.models import Execution, NodeRun
from workflows.services import trigger_workflow
from workflows.testruns import start_test_run

pytestmark = pytest.mark.django_db(transaction=True)

STEP = {"id": "a", "type": "set", "label": "A", "config": {"values": {"ok": True}}}


def make_runs(workflow, user, worker, outcomes: list[tuple[str, float, timedelta]]):
    """One execution per (status, duration seconds, age), timestamps set to match."""
    now = timezone.now()
    ids = []
    for status, seconds, age in outcomes:
        execution_id = trigger_workflow(workflow_id=workflow.pk, user_name=user.username, input={}).execution_id
        worker.run_until_idle()
        created = now - age
        Execution.objects.filter(pk=execution_id).update(
            status=status, created_at=created, started_at=created, finished_at=created + timedelta(seconds=seconds)
        )
        ids.append(execution_id)
    return ids


def test_nearest_rank_offsets():
    assert [stats.nearest_rank(10, p) for p in (50, 95)] == [4, 9]
    assert [stats.nearest_rank(1, p) for p in (50, 95)] == [0, 0]
    assert [stats.nearest_rank(20, p) for p in (50, 95)] == [9, 18]


def test_counts_failure_rate_and_percentiles_per_window(make_workflow, user, worker):
    wf = make_workflow(chain(STEP))
    minutes, hours = timedelta(minutes=5), timedelta(minutes=40)
    make_runs(
        wf,
        user,
        worker,
        [
            ("success", 1, minutes),
            ("success", 2, minutes),
            ("error", 3, minutes),
            ("success", 4, minutes),
            ("success", 10, hours),
            ("cancelled", 99, hours),
            ("error", 50, timedelta(hours=5)),
            ("success", 500, timedelta(days=2)),  # outside every window
        ],
    )
    health = stats.workflow_health(wf.pk)
    w15, w1h, w1d = (health["windows"][k] for k in ("15m", "1h", "1d"))
    assert (w15["executions"], w15["successes"], w15["failures"], w15["cancelled"]) == (4, 3, 1, 0)
    assert w15["failureRate"] == 0.25
    assert (w15["p50Seconds"], w15["p95Seconds"]) == (2.0, 4.0)
    assert (w1h["executions"], w1h["successes"], w1h["cancelled"]) == (6, 4, 1)
    assert (w1h["p50Seconds"], w1h["p95Seconds"]) == (3.0, 10.0)  # cancelled runs have no duration
    assert (w1d["executions"], w1d["failures"], w1d["failureRate"]) == (7, 2, round(2 / 6, 4))
    assert (w1d["p50Seconds"], w1d["p95Seconds"]) == (3.0, 50.0)  # 1 2 3 4 10 50: ranks 3 and 6


def test_paused_time_counts_in_the_duration(make_workflow, user, worker, run_until, finished):
    wf = make_workflow(chain({"id": "s", "type": "sleep", "label": "Nap", "config": {"duration": "1s"}}))
    execution_id = trigger_workflow(workflow_id=wf.pk, user_name=user.username, input={}).execution_id
    run_until(finished(execution_id), worker=worker)
    assert stats.workflow_health(wf.pk)["windows"]["15m"]["p50Seconds"] >= 1.0


def test_empty_windows_and_test_runs_left_out(make_workflow, user, worker):
    wf = make_workflow(chain(STEP))
    start_test_run(workflow=wf, user=user, input={})
    worker.run_until_idle()
    window = stats.workflow_health(wf.pk)["windows"]["1d"]
    assert window["executions"] == 0
    assert window["failureRate"] is None and window["p50Seconds"] is None and window["p95Seconds"] is None


def test_top_failing_and_retrying_nodes(make_workflow, user, worker):
    flaky = {"id": "f", "type": "set", "label": "Flaky", "config": {}}
    wf = make_workflow(chain(STEP, flaky))
    ids = make_runs(wf, user, worker, [("error", 1, timedelta(minutes=1))] * 3)
    NodeRun.objects.filter(execution_id__in=ids[:2], node_id="a").update(status="error", attempt=3)
    NodeRun.objects.filter(execution_id=ids[2], node_id="f").update(attempt=2)
    top = stats.workflow_health(wf.pk)["topFailingNodes"]
    assert top == [
        {"nodeId": "a", "label": "A", "failures": 2, "retries": 4, "runs": 3},
        {"nodeId": "f", "label": "Flaky", "failures": 0, "retries": 1, "runs": 3},
    ]


def test_health_is_a_fixed_number_of_aggregate_queries(make_workflow, user, worker):
    wf = make_workflow(chain(STEP))
    make_runs(wf, user, worker, [("success", i, timedelta(minutes=1)) for i in range(1, 6)])
    with CaptureQueriesContext(connection) as few:
        stats.workflow_health(wf.pk)
    make_runs(wf, user, worker, [("success", i, timedelta(minutes=1)) for i in range(1, 20)])
    with CaptureQueriesContext(connection) as many:
        stats.workflow_health(wf.pk)
    assert len(few) == len(many) == 1 + 2 * len(stats.WINDOWS) + 1


def test_stats_api_answers_for_your_workflow_and_404_across_tenants(api, make_workflow, user, worker, other_tenant):
    wf = make_workflow(chain(STEP))
    make_runs(wf, user, worker, [("success", 2, timedelta(minutes=1))])
    response = api.get(f"/api/workflows/{wf.pk}/stats/")
    assert response.status_code == 200
    body = response.json()
    assert set(body["windows"]) == {"15m", "1h", "1d"}
    assert body["windows"]["15m"]["executions"] == 1 and body["windows"]["15m"]["p95Seconds"] == 2.0
    theirs = make_workflow(chain(STEP), on_tenant=other_tenant)
    assert api.get(f"/api/workflows/{theirs.pk}/stats/").status_code == 404


def test_day_summaries_for_the_list(make_workflow, user, worker):
    one, two = make_workflow(chain(STEP), name="One"), make_workflow(chain(STEP), name="Two")
    make_runs(one, user, worker, [("success", 2, timedelta(hours=1)), ("error", 4, timedelta(hours=2))])
    summaries = stats.day_summaries([one.pk, two.pk])
    assert summaries[one.pk]["executions"] == 2 and summaries[one.pk]["failureRate"] == 0.5
    assert summaries[one.pk]["p95Seconds"] == 4.0
    assert two.pk not in summaries
