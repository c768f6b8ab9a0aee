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
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        execution_id = out.stdout.strip()
        deadline = time.monotonic() + 20  # far below the poll interval
        while Execution.objects.get(pk=execution_id).status != "success":
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        worker.stop()
        thread.join(timeout=10)


def _run_worker_until_done(worker: Worker, ids, timeout: float = 60) -> None:
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + timeout
        while Execution.objects.filter(pk__in=ids, status="success").count() < len(ids):
            assert time.monotonic() < deadline, "executions did not finish"
            time.sleep(0.05)
    finally:
        worker.stop()
        thread.join(timeout=20)


def test_step_threads_keep_their_database_connections(make_workflow, user, recording_nodes):
    """A new connection per claimed chain cost more than the steps themselves: each step
    thread keeps one session for its life."""
    nodes = [{"id": f"n{i}", "type": "test/record", "label": f"N{i}", "config": {}} for i in range(3)]
    wf = make_workflow(chain(*nodes))
    ids = [trigger_workflow(workflow_id=wf.pk, user_name="alice").execution_id for _ in range(20)]
    worker = Worker(concurrency=2, name="keeper", poll_seconds=0.2)
    _run_worker_until_done(worker, ids)
    assert len(recording_nodes.SESSIONS) == 20 * 3
    assert len(set(recording_nodes.SESSIONS)) <= 2, "steps should run on the step threads' own sessions"


def _branches(make_workflow):
    """A trigger with two branches: a Set node and a one-hour Sleep."""
    return make_workflow(
        chain(
            {"id": "a", "type": "set", "label": "A", "config": {"values": {"v": 1}}},
            {"id": "z", "type": "sleep", "label": "Nap", "config": {"duration": "1h"}},
            edges=[{"source": "trigger", "target": "a"}, {"source": "trigger", "target": "z"}],
        )
    )


def _general_path_queries(queries) -> list[str]:
    return [q["sql"] for q in queries if "FOR UPDATE" in q["sql"]]


def test_a_branch_ending_beside_a_paused_branch_pauses_the_execution_in_one_statement(make_workflow, user):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from workflows import engine
    from workflows.worker import claim, execute, release_leases

    execution_id = trigger_workflow(workflow_id=_branches(make_workflow).pk, user_name="alice").execution_id
    held = {c.node_id: c for c in claim("t", 2)}
    release_leases("t", [held["a"].run_id])
    execute(held["z"])  # the sleep pauses; the execution still has A to run
    assert Execution.objects.get(pk=execution_id).status == "running"
    [a] = claim("t", 1)
    with CaptureQueriesContext(connection) as queries:
        execute(a)
    assert _general_path_queries(queries) == [], "the fast statement should have settled it alone"
    execution = Execution.objects.get(pk=execution_id)
    assert execution.status == "paused" and execution.finished_at is None
    assert execution.context["A"] == {"v": 1}

    engine.resume_node_run(NodeRun.objects.get(execution_id=execution_id, node_id="z").pk, output={"woke": True})
    execution.refresh_from_db()
    assert execution.status == "success" and execution.finished_at is not None


def test_a_pause_beside_a_running_branch_moves_the_cas_counter(make_workflow, user):
    """A stale claim of the other branch then fails its compare-and-swap, and the general
    path still pauses the execution."""
    from workflows.worker import claim, execute

    execution_id = trigger_workflow(workflow_id=_branches(make_workflow).pk, user_name="alice").execution_id
    held = {c.node_id: c for c in claim("t", 2)}
    before = Execution.objects.get(pk=execution_id).revision
    execute(held["z"])
    assert Execution.objects.get(pk=execution_id).revision == before + 1
    execute(held["a"])  # read before the pause: its snapshot is stale
    execution = Execution.objects.get(pk=execution_id)
    assert execution.status == "paused"
    assert NodeRun.objects.get(execution_id=execution_id, node_id="a").status == "success"


def test_last_branch_to_end_finishes_the_execution_in_one_statement(make_workflow, user):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from workflows.worker import claim, execute, release_leases

    wf = make_workflow(
        chain(
            {"id": "a", "type": "set", "label": "A", "config": {"values": {}}},
            {"id": "b", "type": "set", "label": "B", "config": {"values": {}}},
            edges=[{"source": "trigger", "target": "a"}, {"source": "trigger", "target": "b"}],
        )
    )
    execution_id = trigger_workflow(workflow_id=wf.pk, user_name="alice").execution_id
    held = {c.node_id: c for c in claim("t", 2)}
    release_leases("t", [held["b"].run_id])
    execute(held["a"])
    assert Execution.objects.get(pk=execution_id).status == "running", "B is still to run"
    [b] = claim("t", 1)
    with CaptureQueriesContext(connection) as queries:
        execute(b)
    assert _general_path_queries(queries) == []
    execution = Execution.objects.get(pk=execution_id)
    assert execution.status == "success" and execution.finished_at is not None
    assert set(execution.context) == {"Trigger", "A", "B"}


def test_hot_statements_are_prepared_once_and_planned_once(make_workflow, user):
    """The one-statement step and the claim are prepared per connection and run on their
    generic plan: PostgreSQL does not parse or plan them again at every step."""
    from django.db import connection

    from workflows.worker import Worker as InlineWorker

    wf = make_workflow(
        chain(*[{"id": f"s{i}", "type": "set", "label": f"S{i}", "config": {"values": {}}} for i in range(4)])
    )
    ids = [trigger_workflow(workflow_id=wf.pk, user_name="alice").execution_id for _ in range(3)]
    InlineWorker(concurrency=1, name="inline").run_until_idle()
    assert set(Execution.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"success"}
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements")
        prepared = cursor.fetchall()
    step = [row for row in prepared if "workflows_not_applied" in row[0]]
    claim_statement = [row for row in prepared if "FOR UPDATE SKIP LOCKED" in row[0]]
    assert len(step) == 1 and len(claim_statement) == 1
    assert step[0][1] >= 3 * 4 and step[0][2] == 0, "every step should reuse the one generic plan"


def test_steps_still_run_with_prepared_statements_turned_off(make_workflow, user):
    """DATABASE_PREPARED_STATEMENTS=false (poolers that cannot keep them): same results."""
    from django.db import connection

    wf = make_workflow(chain({"id": "a", "type": "set", "label": "A", "config": {"values": {"v": "{{Trigger.n}}"}}}))
    execution_id = trigger_workflow(workflow_id=wf.pk, user_name="alice", input={"n": 7}).execution_id
    connection.ensure_connection()
    raw = connection.connection
    # A session with nothing prepared yet (the pool lends used ones). Deallocated while
    # psycopg still prepares, so it forgets its statements too: the pool lends this session
    # to later tests, which would otherwise run statements the server no longer has.
    raw.execute("DEALLOCATE ALL")
    threshold, raw.prepare_threshold = raw.prepare_threshold, None
    try:
        Worker(concurrency=1, name="unprepared").run_until_idle()
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_prepared_statements")
            assert cursor.fetchone()[0] == 0
    finally:
        raw.prepare_threshold = threshold
    execution = Execution.objects.get(pk=execution_id)
    assert execution.status == "success" and execution.context["A"] == {"v": 7}


def test_a_session_that_dies_during_a_step_still_records_its_outcome(make_workflow, user, recording_nodes):
    """The step has run (its effects are out): the outcome is recorded on a new connection
    rather than lost, so the step does not run again."""
    wf = make_workflow(
        chain(
            {"id": "k", "type": "test/record", "label": "K", "config": {"killSession": True}},
            {"id": "n", "type": "test/record", "label": "N", "config": {}},
        )
    )
    execution_id = trigger_workflow(workflow_id=wf.pk, user_name="alice").execution_id
    Worker(concurrency=1, name="reconnect").run_until_idle()
    assert Execution.objects.get(pk=execution_id).status == "success"
    assert [attempt for _, attempt, _ in recording_nodes.RECORDED] == [1, 1]


def test_a_step_thread_checks_its_connection_after_being_idle(make_workflow, user, recording_nodes, monkeypatch):
    """A session ended while the thread waited (server restart, idle timeout) is replaced
    before the next chain's step runs, not discovered after it."""
    from django.db import connection

    from workflows import worker as worker_module

    monkeypatch.setattr(worker_module, "IDLE_HEALTH_CHECK_SECONDS", 0.0)
    wf = make_workflow(chain({"id": "n", "type": "test/record", "label": "N", "config": {}}))
    w = Worker(concurrency=1, name="idle-check", poll_seconds=0.1)
    thread = threading.Thread(target=w.run, daemon=True)
    thread.start()
    try:
        first = trigger_workflow(workflow_id=wf.pk, user_name="alice").execution_id
        deadline = time.monotonic() + 20
        while Execution.objects.get(pk=first).status != "success":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        [old_session] = recording_nodes.SESSIONS
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [old_session])
        second = trigger_workflow(workflow_id=wf.pk, user_name="alice").execution_id
        while Execution.objects.get(pk=second).status != "success":
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        w.stop()
        thread.join(timeout=20)
    assert len(recording_nodes.SESSIONS) == 2
    assert recording_nodes.SESSIONS[1] != old_session, "the step ran on a fresh session"


def recorded_join(**configs) -> dict:
    """Trigger -> A and B (recording steps, with `configs` by node id) -> join J."""
    steps = [
        {"id": n, "type": "test/record", "label": n.upper(), "config": configs.get(n, {})} for n in ("a", "b", "j")
    ]
    edges = [("trigger", "a"), ("trigger", "b"), ("a", "j"), ("b", "j")]
    return {
        "nodes": [{"id": "trigger", "type": "trigger", "label": "Trigger"}, *steps],
        "edges": [{"source": source, "target": target} for source, target in edges],
    }


def test_a_session_killed_during_a_step_feeding_a_join_records_its_outcome_once(make_workflow, user, recording_nodes):
    """The general path (a step feeding a join) reconnects and records too: the step does not
    run again a lease later, and no attempt is lost."""
    wf = make_workflow(recorded_join(a={"killSession": True}))
    execution_id = trigger_workflow(workflow_id=wf.pk, user_name="alice").execution_id
    Worker(concurrency=1, name="reconnect-join").run_until_idle()
    assert Execution.objects.get(pk=execution_id).status == "success"
    assert sorted(attempt for _, attempt, _ in recording_nodes.RECORDED) == [1, 1, 1]


def test_a_session_lost_inside_the_recording_transaction_is_retried_on_a_new_one(
    make_workflow, user, recording_nodes, monkeypatch
):
    """The connection dies half-way through recording (after the locks, before the commit):
    the whole recording runs again on a new connection."""
    from workflows import store

    reads = store.node_states
    killed = []

    def node_states_then_die(execution_id):
        rows = reads(execution_id)
        if not killed:
            killed.append(True)
            recording_nodes.kill_own_session()
        return rows

    monkeypatch.setattr(store, "node_states", node_states_then_die)
    wf = make_workflow(recorded_join())
    execution_id = trigger_workflow(workflow_id=wf.pk, user_name="alice").execution_id
    Worker(concurrency=1, name="reconnect-inside").run_until_idle()
    assert killed and Execution.objects.get(pk=execution_id).status == "success"
    assert sorted(attempt for _, attempt, _ in recording_nodes.RECORDED) == [1, 1, 1]


class SlowReceiver:
    """A local HTTP service that holds each request `hold` seconds before answering 200, and
    keeps when each arrived: each arrival is one run of the step's effect."""

    def __init__(self, hold: float):
        import json
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.arrivals: list[dict] = []
        self.answered = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.arrivals.append({"at": time.monotonic(), "key": self.headers.get("Idempotency-Key")})
                time.sleep(hold)
                data = json.dumps({"ok": True}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                receiver.answered.set()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/effect"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _start_worker_process(name: str, env: dict):
    import subprocess
    import sys

    return subprocess.Popen(
        [sys.executable, "manage.py", "runworkflows", "--concurrency", "1", "--name", name],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_a_step_longer_than_the_lease_runs_once_while_another_worker_polls(make_workflow, user):
    """Two worker processes with a 1.5 s lease; a step (an HTTP call held 6 s by the receiver)
    outlasts the lease four times over. The worker running it renews the lease, so the other
    one, polling every 0.2 s, never claims it: the effect happens once, on attempt 1."""
    import os
    import signal
    from datetime import timedelta

    from django.utils import timezone

    from tests.conftest import _test_database_url
    from workflows.models import WorkerProcess

    lease, hold = 1.5, 6.0
    receiver = SlowReceiver(hold)
    env = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "WORKFLOW_LEASE_SECONDS": str(lease),
        "WORKFLOW_POLL_SECONDS": "0.2",
        "WORKFLOW_HEARTBEAT_SECONDS": "0.5",
        # The receiver listens on loopback, which the HTTP Request node refuses by default.
        "WORKFLOW_HTTP_ALLOWED_NETWORKS": "127.0.0.0/8",
    }
    names = ["lease-a", "lease-b"]
    processes = [_start_worker_process(name, env) for name in names]
    try:
        deadline = time.monotonic() + 60
        while WorkerProcess.objects.filter(name__in=names, stopped_at__isnull=True).count() < 2:
            assert time.monotonic() < deadline, "the worker processes did not start"
            assert all(p.poll() is None for p in processes), "a worker process exited"
            time.sleep(0.1)
        wf = make_workflow(
            chain(
                {
                    "id": "h",
                    "type": "http-request",
                    "label": "Effect",
                    "config": {"method": "POST", "url": receiver.url},
                }
            )
        )
        execution_id = trigger_workflow(workflow_id=wf.pk, user_name="alice").execution_id

        # While the receiver holds the request, watch the node run's lease.
        samples = []
        deadline = time.monotonic() + 60
        while not receiver.answered.is_set():
            assert time.monotonic() < deadline, "the step did not finish"
            assert len(receiver.arrivals) <= 1, "another worker ran the step again while it was running"
            run = NodeRun.objects.get(execution_id=execution_id, node_id="h")
            if run.lease_owner is not None:
                samples.append((timezone.now(), run.lease_owner, run.attempt, run.lease_expires_at))
            time.sleep(0.2)
        while Execution.objects.get(pk=execution_id).status != "success":
            assert time.monotonic() < deadline, "the execution did not finish"
            assert len(receiver.arrivals) <= 1, "another worker ran the step again"
            time.sleep(0.1)
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        outputs = [process.communicate(timeout=30)[0] for process in processes]
        receiver.close()

    assert all(p.returncode == 0 for p in processes), outputs
    assert len(receiver.arrivals) == 1, "the step ran more than once"
    run = NodeRun.objects.get(execution_id=execution_id, node_id="h")
    assert (run.status, run.attempt) == ("success", 1)
    # The same worker held the lease throughout, and it never lapsed: renewed, it ran ahead.
    assert len(samples) >= 10
    owners = {owner for _, owner, _, _ in samples}
    assert len(owners) == 1 and owners <= set(names)
    assert {attempt for _, _, attempt, _ in samples} == {1}
    assert all(expires > at for at, _, _, expires in samples)
    first_expiry = samples[0][3]
    assert max(expires for *_, expires in samples) > first_expiry + timedelta(seconds=hold - 2 * lease)
    steps = dict(WorkerProcess.objects.filter(name__in=names).values_list("name", "steps_done"))
    assert sorted(steps.values()) == [0, 1], steps
