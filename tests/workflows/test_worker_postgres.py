"""Several workers on one PostgreSQL database: no attempt runs twice."""
import threading
import time
from collections import Counter

import pytest

from tests.conftest import chain
from workflows.models import Execution, NodeRun
from workflows.services import trigger_workflow
from workflows.worker import Worker

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_workers_compete_without_running_an_attempt_twice(make_workflow, user, recording_nodes):
    nodes = [{"id": f"n{i}", "type": "test/record", "label": f"N{i}", "config": {"sleep": 0.002}} for i in range(5)]
    wf = make_workflow(chain(*nodes))
    ids = [trigger_workflow(workflow_id=wf.pk, user_name="alice").execution_id for _ in range(30)]
    workers = [Worker(concurrency=3, name=f"w{i}", poll_seconds=0.2) for i in range(2)]
    threads = [threading.Thread(target=w.run, name=f"worker-{i}", daemon=True) for i, w in enumerate(workers)]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 60
        while Execution.objects.filter(pk__in=ids, status="success").count() < len(ids):
            assert time.monotonic() < deadline, "executions did not finish"
            time.sleep(0.1)
    finally:
        for w in workers:
            w.stop()
        for thread in threads:
            thread.join(timeout=20)
    runs = Counter((run_id, attempt) for run_id, attempt, _ in recording_nodes.RECORDED)
    assert len(runs) == 30 * 5
    assert max(runs.values()) == 1, "an attempt ran twice"
    assert set(NodeRun.objects.filter(execution_id__in=ids).values_list("status", flat=True)) == {"success"}
    assert all(w.steps_done > 0 for w in workers), "both workers should have claimed work"
    assert sum(w.steps_done for w in workers) == 30 * 5


def test_notify_from_another_process_wakes_a_sleeping_worker(make_workflow, user):
    """A worker with a long poll interval picks up work triggered by another process at
    once: only PostgreSQL LISTEN/NOTIFY can have told it."""
    import os
    import subprocess
    import sys

    from tests.conftest import _test_database_url

    wf = make_workflow(chain({"id": "a", "type": "set", "label": "A", "config": {"values": {}}}))
    worker = Worker(concurrency=1, name="listener", poll_seconds=60)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        time.sleep(1.0)  # the worker is now waiting on its 60 s poll
        env = {**os.environ, "DATABASE_URL": _test_database_url()}
        out = subprocess.run(
            [sys.executable, "manage.py", "trigger_workflow", str(wf.pk), "--user", "alice"],
            env=env, capture_output=True, text=True, check=True,
        )
        execution_id = out.stdout.strip()
        deadline = time.monotonic() + 20  # far below the poll interval
        while Execution.objects.get(pk=execution_id).status != "success":
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        worker.stop()
        thread.join(timeout=10)
