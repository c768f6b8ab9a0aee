"""HTTP latency through daphne, to the commit of the node the request makes run.

The end of each measurement is the moment the node's success is committed, not when a
client polls for it: for the time of the latency phases a row trigger on the node-run
table NOTIFYs when a node whose id starts with `mark` becomes `success`, and PostgreSQL
delivers that at commit to a listening thread here. The trigger is dropped afterwards,
so the throughput figures never pay for it.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from dataclasses import dataclass, field

CHANNEL = "bench_committed"
INSTALL = f"""
CREATE OR REPLACE FUNCTION bench_committed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('{CHANNEL}', NEW.execution_id::text || ' ' || NEW.node_id);
  RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS bench_committed_update ON workflows_noderun;
DROP TRIGGER IF EXISTS bench_committed_insert ON workflows_noderun;
CREATE TRIGGER bench_committed_update AFTER UPDATE ON workflows_noderun FOR EACH ROW
  WHEN (NEW.status = 'success' AND OLD.status IS DISTINCT FROM 'success' AND NEW.node_id LIKE 'mark%%')
  EXECUTE FUNCTION bench_committed();
CREATE TRIGGER bench_committed_insert AFTER INSERT ON workflows_noderun FOR EACH ROW
  WHEN (NEW.status = 'success' AND NEW.node_id LIKE 'mark%%')
  EXECUTE FUNCTION bench_committed();
"""
UNINSTALL = """
DROP TRIGGER IF EXISTS bench_committed_update ON workflows_noderun;
DROP TRIGGER IF EXISTS bench_committed_insert ON workflows_noderun;
DROP FUNCTION IF EXISTS bench_committed();
"""


class CommitWatcher:
    """When each `mark*` node run of an execution was committed as success (time.time())."""

    def __init__(self, url: str):
        import psycopg

        self.url = url
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(INSTALL.replace("%%", "%"))
        self._conn = psycopg.connect(url, autocommit=True)
        self._conn.execute(f"LISTEN {CHANNEL}")
        self._seen: dict[tuple[str, str], float] = {}
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="commit-watcher", daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        while not self._stop.is_set():
            for note in self._conn.notifies(timeout=0.2):
                arrived = time.time()
                execution_id, _, node_id = note.payload.partition(" ")
                with self._changed:
                    self._seen.setdefault((execution_id, node_id), arrived)
                    self._changed.notify_all()

    def wait(self, execution_id, node_id: str = "mark", timeout: float = 30.0) -> float:
        key = (str(execution_id), node_id)
        with self._changed:
            if not self._changed.wait_for(lambda: key in self._seen, timeout):
                raise RuntimeError(f"node {node_id} of execution {execution_id} was not committed in {timeout:.0f}s")
            return self._seen[key]

    def committed(self, execution_id, node_id: str) -> float | None:
        with self._changed:
            return self._seen.get((str(execution_id), node_id))

    def close(self) -> None:
        import psycopg

        self._stop.set()
        self._thread.join(timeout=5)
        self._conn.close()
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(UNINSTALL)


class Client:
    """One keep-alive HTTP/1.1 connection, as an API client with a session keeps."""

    def __init__(self, port: int):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.requests = self.connections = 0

    def post(self, path: str, body: dict, headers: dict[str, str]) -> tuple[int, dict]:
        payload = json.dumps(body)
        headers = {"Content-Type": "application/json", **headers}
        for attempt in (1, 2):
            try:
                self.requests += 1
                self.connections += self.conn.sock is None
                self.conn.request("POST", path, body=payload, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                if response.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                return response.status, (json.loads(data) if data else {})
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


@dataclass
class Samples:
    """Milliseconds from sending the request to the node's commit, and to the answer."""

    to_commit: dict[str, list[float]] = field(default_factory=dict)
    to_answer: dict[str, list[float]] = field(default_factory=dict)

    def add(self, kind: str, *, sent: float, answered: float, committed: float) -> None:
        self.to_commit.setdefault(kind, []).append(1000 * (committed - sent))
        self.to_answer.setdefault(kind, []).append(1000 * (answered - sent))


def _expect(status: int, body: dict, wanted: tuple[int, ...], what: str) -> None:
    if status not in wanted:
        raise RuntimeError(f"{what} answered {status}: {body}")


def prepare_paused(fixtures, *, signal_workflow, decision_workflow, count: int, tag: str) -> tuple[list[str], list]:
    """`count` executions waiting for a signal and `count` waiting for a decision, paused
    by the workers; the signal keys, and (approval request id, execution id) pairs."""
    from approvals.models import ApprovalRequest
    from workflows.models import Execution
    from workflows.services import trigger_workflow

    user = fixtures.user.username
    keys = [f"{tag}-{i}" for i in range(count)]
    signal_ids = [
        trigger_workflow(workflow_id=signal_workflow.pk, user_name=user, input={"key": k}).execution_id for k in keys
    ]
    decision_ids = [
        trigger_workflow(workflow_id=decision_workflow.pk, user_name=user).execution_id for _ in range(count)
    ]
    deadline = time.monotonic() + 300
    while Execution.objects.filter(pk__in=signal_ids + decision_ids, status="paused").count() < 2 * count:
        if time.monotonic() > deadline:
            raise RuntimeError("the latency executions did not pause in 300s")
        time.sleep(0.1)
    by_execution = dict(ApprovalRequest.objects.filter(execution_id__in=decision_ids).values_list("execution_id", "pk"))
    return keys, [(by_execution[e], e) for e in decision_ids]


def measure_round(
    fixtures,
    watcher: CommitWatcher,
    client: Client,
    *,
    trigger_workflow,
    keys: list[str],
    approvals: list,
    gap: float = 0.02,
) -> Samples:
    """Trigger, signal and decision requests in turn, one at a time (an idle server)."""
    samples = Samples()
    token = {"Authorization": f"Token {fixtures.token}"}
    bearer = {"Authorization": f"Bearer {fixtures.api_key}"}
    for key, (approval, decided_execution) in zip(keys, approvals):
        sent = time.time()
        status, body = client.post(f"/api/workflows/{trigger_workflow.pk}/trigger/", {"input": {}}, token)
        answered = time.time()
        _expect(status, body, (200, 201, 202), "trigger")
        samples.add("trigger", sent=sent, answered=answered, committed=watcher.wait(body["executionId"]))
        time.sleep(gap)

        sent = time.time()
        status, body = client.post("/api/workflow/events/signal", {"eventNamespace": "bench", "eventKey": key}, bearer)
        answered = time.time()
        _expect(status, body, (200,), "signal")
        samples.add("signal", sent=sent, answered=answered, committed=watcher.wait(body["executionId"]))
        time.sleep(gap)

        sent = time.time()
        status, body = client.post(f"/api/approvals/{approval}/decide/", {"decision": "approved"}, token)
        answered = time.time()
        _expect(status, body, (200,), "decision")
        samples.add("decision", sent=sent, answered=answered, committed=watcher.wait(decided_execution))
        time.sleep(gap)
    return samples
