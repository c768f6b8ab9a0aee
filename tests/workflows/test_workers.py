"""Worker heartbeats, the workers page and its stale marking, and runworkflows's health file
and probe port."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.conftest import _free_port, _test_database_url, chain
from workflows.models import Membership, WorkerProcess
from workflows.services import trigger_workflow
from workflows.worker import Worker

pytestmark = pytest.mark.django_db(transaction=True)

SET = chain({"id": "a", "type": "set", "label": "Step", "config": {"values": {"ok": True}}})


def wait_for(predicate, timeout=15.0, message="condition not reached in time"):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, message
        time.sleep(0.05)


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def worker_row(name="w", *, heartbeat_ago=timedelta(seconds=1), stopped=False, **fields):
    now = timezone.now()
    return WorkerProcess.objects.create(
        name=name,
        host=fields.pop("host", "box-1"),
        pid=fields.pop("pid", 4242),
        version="0.1.0",
        concurrency=fields.pop("concurrency", 4),
        started_at=now - timedelta(hours=2),
        last_heartbeat_at=now - heartbeat_ago,
        stopped_at=now - heartbeat_ago if stopped else None,
        **fields,
    )


def test_a_running_worker_beats_counts_its_steps_and_says_when_it_stops(settings, make_workflow, user):
    settings.WORKFLOW_HEARTBEAT_SECONDS = 0.1
    workflow = make_workflow(SET)
    for _ in range(3):
        trigger_workflow(workflow_id=workflow.pk, user_name=user.username, input={})
    connection.close()  # the worker's four threads take the pool's connections meanwhile
    worker = Worker(concurrency=1, name="beating", poll_seconds=0.1, embedded=True)
    beats = []
    worker.heartbeat_hooks.append(lambda: beats.append(time.monotonic()))  # at each heartbeat
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: worker.steps_done == 3 and len(beats) >= 3)
        assert worker.alive()
    finally:
        worker.stop()
        thread.join(10)
    row = WorkerProcess.objects.get(name="beating")
    assert (row.pid, row.concurrency, row.embedded, row.version) == (os.getpid(), 1, True, "0.1.0")
    assert row.steps_done == 3 and row.steps_in_flight == 0
    assert row.stopped_at is not None and row.started_at < row.last_heartbeat_at


def test_a_heartbeat_is_one_update(db):
    worker = Worker(concurrency=1, name="cheap")
    worker.beat()  # registers, and forgets the long dead
    with CaptureQueriesContext(connection) as queries:
        worker.beat()
    assert len(queries.captured_queries) == 1
    assert queries.captured_queries[0]["sql"].startswith("UPDATE")


def test_a_forgotten_worker_registers_again_at_its_next_beat(db):
    worker = Worker(concurrency=3, name="back")
    worker.beat()
    WorkerProcess.objects.all().delete()
    worker.beat()
    assert WorkerProcess.objects.get(name="back").concurrency == 3


def test_long_dead_workers_are_forgotten(settings, db):
    settings.WORKFLOW_WORKER_FORGET_SECONDS = 3600
    worker_row("ancient", heartbeat_ago=timedelta(hours=2))
    worker_row("recent-crash", heartbeat_ago=timedelta(minutes=10))
    Worker(concurrency=1, name="new").beat()
    assert set(WorkerProcess.objects.values_list("name", flat=True)) == {"recent-crash", "new"}


def test_the_workers_page_marks_workers_that_stopped_beating(make_user, tenant):
    worker_row("alive-1", heartbeat_ago=timedelta(seconds=3), steps_in_flight=2, steps_done=1234)
    worker_row("crashed", heartbeat_ago=timedelta(minutes=3))
    worker_row("drained", heartbeat_ago=timedelta(minutes=3), stopped=True)
    staff = make_user("ops", is_staff=True)
    page = logged_in(staff).get("/workers/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-worker="alive-1" data-state="alive"' in html
    assert 'data-worker="crashed" data-state="stale"' in html
    assert 'data-worker="drained" data-state="stopped"' in html
    assert html.index("alive-1") < html.index("crashed") < html.index("drained")  # alive first
    assert "1234" in html and "box-1" in html and "4242" in html
    assert "1 stopped answering" in html


def test_tenant_admins_see_workers_and_members_do_not(make_user, tenant, user):
    admin = make_user("boss", tenant=tenant)
    Membership.objects.filter(user=admin).update(role=Membership.Role.ADMIN)
    assert logged_in(admin).get("/workers/").status_code == 200
    assert 'href="/workers/"' in logged_in(admin).get("/").content.decode()
    answer = logged_in(user).get("/workers/")
    assert answer.status_code == 403
    assert 'href="/workers/"' not in logged_in(user).get("/").content.decode()
    assert Client().get("/workers/").status_code == 302  # to the login


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_runworkflows_touches_a_health_file_and_serves_probes(make_workflow, user, tmp_path):
    health_file = tmp_path / "worker.health"
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "WORKFLOW_POLL_SECONDS": "0.5",
        "WORKFLOW_HEARTBEAT_SECONDS": "0.2",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "runworkflows",
            "--name",
            "probed",
            "--health-file",
            str(health_file),
            "--health-port",
            str(port),
            "--health-host",
            "127.0.0.1",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(health_file.exists, message="the health file was never touched")
        first = health_file.stat().st_mtime_ns
        wait_for(lambda: health_file.stat().st_mtime_ns > first, message="the health file is not touched again")
        assert get(f"http://127.0.0.1:{port}/healthz") == (200, {"status": "alive"})
        status, body = get(f"http://127.0.0.1:{port}/readyz")
        assert status == 200 and body["status"] == "ready", body
        assert set(body["checks"]) == {"database", "migrations", "channelLayer"}
        assert get(f"http://127.0.0.1:{port}/nope")[0] == 404
        assert WorkerProcess.objects.get(name="probed").pid == process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert not health_file.exists()  # a stopped worker is not healthy
    assert WorkerProcess.objects.get(name="probed").stopped_at is not None


def test_a_worker_is_alive_until_its_timer_loop_is_stuck_for_minutes(db):
    worker = Worker(concurrency=1, name="probe")
    assert not worker.alive()  # not started
    worker.last_tick = time.monotonic() - 60  # a slow round (the database is down): still alive
    assert worker.alive()
    worker.last_tick = time.monotonic() - 301
    assert not worker.alive()
