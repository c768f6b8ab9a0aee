"""The peer: DBOS Transact's queue running a chain of 10 no-op steps on the same PostgreSQL.

Run as a process (`python -m bench.dbos_peer --system-database URL --executor-id ID`), it
is one DBOS worker, like one `runworkflows` process; `Peer` enqueues from the harness with
DBOSClient while the clock runs, as `trigger_workflow` starts the engine's executions.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time

APP_NAME = "wfbench"
QUEUE = "bench"
WORKFLOW = "bench_chain"
STEPS = 10


def serve(system_database_url: str, executor_id: str, concurrency: int | None, poll: float) -> None:
    """Launch one DBOS process that dequeues and runs the chain until SIGTERM."""
    from dbos import DBOS

    DBOS(
        config={
            "name": APP_NAME,
            "system_database_url": system_database_url,
            "executor_id": executor_id,
            "application_version": "bench",
            "log_level": "WARNING",
        }
    )

    @DBOS.step()
    def noop(i: int) -> int:
        return i

    @DBOS.workflow(name=WORKFLOW)
    def chain(n: int) -> int:
        for i in range(STEPS):
            noop(i)
        return n

    DBOS.launch()
    DBOS.register_queue(QUEUE, worker_concurrency=concurrency, polling_interval_sec=poll, on_conflict="always_update")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print("ready", flush=True)
    stop.wait()
    DBOS.destroy(workflow_completion_timeout_sec=5)


class Peer:
    """Enqueues chains from the harness and measures them through DBOS's status table."""

    def __init__(self, system_database_url: str):
        from dbos import DBOSClient

        self.url = system_database_url
        self.client = DBOSClient(system_database_url=system_database_url, application_name=APP_NAME)

    def enqueue(self, n: int) -> str:
        handle = self.client.enqueue(
            {"queue_name": QUEUE, "workflow_name": WORKFLOW, "application_version": "bench"}, n
        )
        return handle.get_workflow_id()

    def wait(self, ids: list[str], timeout: float) -> float:
        """Wait until every workflow succeeded; the time.time() of the last one's end."""
        import psycopg

        deadline = time.monotonic() + timeout
        with psycopg.connect(self.url, autocommit=True) as conn:
            while True:
                rows = conn.execute(
                    "SELECT status, count(*), max(COALESCE(completed_at, updated_at)) FROM dbos.workflow_status"
                    " WHERE workflow_uuid = ANY(%s) GROUP BY status",
                    (ids,),
                ).fetchall()
                by_status = {status: (n, last) for status, n, last in rows}
                failed = {
                    s: n
                    for s, (n, _) in by_status.items()
                    if s in ("ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED")
                }
                if failed:
                    raise RuntimeError(f"DBOS workflows failed: {failed}")
                if by_status.get("SUCCESS", (0, None))[0] == len(ids):
                    return by_status["SUCCESS"][1] / 1000
                if time.monotonic() > deadline:
                    raise RuntimeError(f"DBOS workflows did not finish in {timeout:.0f}s: {by_status}")
                time.sleep(0.02)

    def close(self) -> None:
        self.client.destroy()


def start_workers(count: int, *, system_database_url: str, env: dict, concurrency: int | None, poll: float) -> list:
    """`count` DBOS processes, each launched (ready) on return."""
    from .common import start, stop, wait_for_line

    argv = [sys.executable, "-m", "bench.dbos_peer", "--system-database", system_database_url, "--poll", str(poll)]
    if concurrency:
        argv += ["--concurrency", str(concurrency)]
    procs = [start(f"dbos-{i}", argv + ["--executor-id", f"bench-{i}"], env) for i in range(count)]
    try:
        for proc in procs:
            wait_for_line(proc, "ready", timeout=120)
    except Exception:
        stop(procs)
        raise
    return procs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system-database", required=True)
    parser.add_argument("--executor-id", required=True)
    parser.add_argument(
        "--concurrency", type=int, default=None, help="workflows at once per process (default: no limit)"
    )
    parser.add_argument("--poll", type=float, default=0.1, help="queue polling interval, seconds")
    args = parser.parse_args()
    serve(args.system_database, args.executor_id, args.concurrency, args.poll)


if __name__ == "__main__":
    sys.exit(main())
