"""Cron schedules: validated on creation, fired once per due time, by one of several workers."""

import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from tests.conftest import chain
from tests.workflows.plugins_support import node
from workflows import triggers
from workflows.cron import cron_problem, next_run
from workflows.exceptions import InvalidInput
from workflows.models import Execution, Schedule
from workflows.worker import Worker

YEARLY = "0 0 1 1 *"  # far away: only the due time a test sets by hand fires


@pytest.fixture
def nightly(make_workflow):
    return make_workflow(
        chain(node("n", "set", "Note", values={"at": "{{Trigger.scheduledAt}}", "kind": "{{Trigger.kind}}"})),
        name="Nightly",
    )


def make_due(schedule: Schedule, *, ago: timedelta = timedelta(seconds=1)) -> datetime:
    due = timezone.now() - ago
    Schedule.objects.filter(pk=schedule.pk).update(next_run_at=due)
    return due


def test_cron_expressions_are_checked():
    assert cron_problem("*/5 * * * *") is None
    assert cron_problem("every day").startswith("not a valid cron expression")
    assert cron_problem("0 0 * * * *").startswith("use five cron fields")
    assert cron_problem("0 9 * * *", "Mars/Olympus") == "unknown time zone 'Mars/Olympus'"


def test_next_run_follows_the_time_zone_and_is_in_utc():
    after = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    assert next_run("0 9 * * *", after=after, tz="Europe/Paris") == datetime(2026, 1, 16, 8, 0, tzinfo=UTC)
    summer = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)
    assert next_run("0 9 * * *", after=summer, tz="Europe/Paris") == datetime(2026, 7, 16, 7, 0, tzinfo=UTC)
    assert next_run("*/15 * * * *", after=after) == datetime(2026, 1, 15, 12, 15, tzinfo=UTC)


@pytest.mark.django_db
def test_create_schedule_validates_and_plans_the_first_run(nightly, user, other_user):
    schedule = triggers.create_schedule(workflow=nightly, cron="*/5 * * * *", run_as=user, input={"kind": "report"})
    assert schedule.next_run_at > timezone.now() and schedule.next_run_at.minute % 5 == 0
    for kwargs, field in [
        ({"cron": "nope"}, "cron"),
        ({"cron": "* * * * *", "tz": "Nowhere/City"}, "timezone"),
        ({"cron": "* * * * *", "input": [1]}, "input"),
    ]:
        with pytest.raises(InvalidInput) as caught:
            triggers.create_schedule(workflow=nightly, run_as=user, **kwargs)
        assert caught.value.field == field
    with pytest.raises(InvalidInput) as caught:
        triggers.create_schedule(workflow=nightly, cron="* * * * *", run_as=other_user)
    assert caught.value.field == "runAs"
    assert Schedule.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_due_schedule_fires_once(nightly, user, worker):
    schedule = triggers.create_schedule(workflow=nightly, cron=YEARLY, run_as=user, input={"kind": "report"})
    due = make_due(schedule)
    assert triggers.fire_due_schedules() == 1
    assert triggers.fire_due_schedules() == 0
    (execution,) = Execution.objects.filter(workflow=nightly)
    assert execution.input == {"scheduledAt": due.isoformat(), "kind": "report"}
    assert execution.idempotency_key == f"schedule:{schedule.pk}:{due.isoformat()}"
    schedule.refresh_from_db()
    assert schedule.last_run_at == due and schedule.last_execution_id == execution.pk
    assert schedule.next_run_at > timezone.now()
    worker.run_until_idle()
    execution.refresh_from_db()
    assert execution.status == "success" and execution.context["Note"]["kind"] == "report"


@pytest.mark.django_db(transaction=True)
def test_missed_due_times_fire_once_after_an_outage(nightly, user):
    schedule = triggers.create_schedule(workflow=nightly, cron="* * * * *", run_as=user)
    make_due(schedule, ago=timedelta(hours=3))  # 180 due times missed while no worker ran
    assert triggers.fire_due_schedules() == 1
    assert Execution.objects.filter(workflow=nightly).count() == 1
    schedule.refresh_from_db()
    assert schedule.next_run_at > timezone.now()


@pytest.mark.django_db(transaction=True)
def test_a_failing_trigger_spends_the_due_time_and_records_why(nightly, user):
    schedule = triggers.create_schedule(workflow=nightly, cron=YEARLY, run_as=user)
    make_due(schedule)
    nightly.is_active = False
    nightly.save()
    assert triggers.fire_due_schedules() == 1
    schedule.refresh_from_db()
    assert "inactive" in schedule.last_error and schedule.next_run_at > timezone.now()
    assert not Execution.objects.exists()


@pytest.mark.django_db
def test_api_creates_schedules_running_as_the_caller(api, nightly, other_user):
    response = api.post(
        "/api/schedules/",
        {"workflowId": str(nightly.pk), "cron": "0 9 * * 1-5", "timezone": "Europe/Paris"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["runAs"] == "alice" and response.json()["nextRunAt"]
    bad = api.post("/api/schedules/", {"workflowId": str(nightly.pk), "cron": "sometimes"}, format="json")
    assert bad.status_code == 400 and bad.json()["field"] == "cron"
    assert api.delete(f"/api/schedules/{response.json()['id']}/").status_code == 204


# --- Several workers (PostgreSQL) ------------------------------------------------------------


def _race(rounds: int, schedule_pk: int, threads: int = 2) -> Counter:
    """Make the schedule due, then let `threads` callers fire it at the same moment, `rounds` times."""
    claimed: Counter = Counter()
    barrier = threading.Barrier(threads + 1)

    def contender(name: str) -> None:
        try:
            for _ in range(rounds):
                barrier.wait()
                claimed[name] += triggers.fire_due_schedules()
                barrier.wait()
        finally:
            connection.close()

    workers = [threading.Thread(target=contender, args=(f"w{i}",)) for i in range(threads)]
    for thread in workers:
        thread.start()
    for index in range(rounds):
        Schedule.objects.filter(pk=schedule_pk).update(next_run_at=timezone.now() - timedelta(seconds=index + 1))
        barrier.wait()  # go
        barrier.wait()  # everyone done with this round
    for thread in workers:
        thread.join()
    return claimed


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_callers_fire_each_due_time_exactly_once(nightly, user):
    schedule = triggers.create_schedule(workflow=nightly, cron=YEARLY, run_as=user)
    claimed = _race(20, schedule.pk)
    assert sum(claimed.values()) == 20
    keys = list(Execution.objects.filter(workflow=nightly).values_list("idempotency_key", flat=True))
    assert len(keys) == 20 and len(set(keys)) == 20


duty_calls: Counter = Counter()


def counting_duty() -> None:
    """The schedule duty, counting which worker ran it (named by its timer thread)."""
    triggers.fire_due_schedules()
    duty_calls[threading.current_thread().name.split("-timers")[0]] += 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_fire_a_due_schedule_once(settings, nightly, user):
    settings.WORKFLOW_WORKER_DUTIES = {"tests.workflows.test_triggers_schedules.counting_duty": 0.0}
    schedule = triggers.create_schedule(workflow=nightly, cron=YEARLY, run_as=user)
    make_due(schedule)
    duty_calls.clear()
    workers = [Worker(concurrency=1, name=f"sched-{i}", poll_seconds=0.02) for i in range(2)]
    threads = [threading.Thread(target=w.run) for w in workers]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 60
        # Both workers must have run the duty many times after the due time passed.
        while min(duty_calls["sched-0"], duty_calls["sched-1"]) < 25:
            assert time.monotonic() < deadline, f"duties did not run: {duty_calls}"
            time.sleep(0.05)
        while Execution.objects.filter(workflow=nightly).exclude(status="success").exists():
            assert time.monotonic() < deadline, "the execution did not finish"
            time.sleep(0.05)
    finally:
        for w in workers:
            w.stop()
        for thread in threads:
            thread.join(timeout=30)
    (execution,) = Execution.objects.filter(workflow=nightly)
    assert execution.status == "success"
