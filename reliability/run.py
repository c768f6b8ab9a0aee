"""make reliability: faults lose nothing and repeat nothing avoidable; bad input never 500s.

    python -m reliability.run            # the full run: 500 executions, every fault
    python -m reliability.run --quick    # the short run for CI: about 60 executions

In the production shape, with real processes: daphne and three `runworkflows` workers on
PostgreSQL (a database of the suite's own, recreated: RELIABILITY_DATABASE_URL) and the suite's
own redis-server on a spare port. While executions of a mixed workflow run, workers are
`kill -9`ed and SIGTERMed, their PostgreSQL backends terminated and Redis killed and
restarted under open widget sockets and SSE viewers. Then schemathesis fuzzes the API and
tenant B's credentials probe tenant A's objects. Prints a table; exits 1 when a figure that
must be 0 is not. Every loop is bounded in count and in time.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import queue
import random
import signal
import sys
import threading
import time
import uuid

from bench.common import (
    ROOT,
    RedisServer,
    bench_environment,
    database_name,
    free_port,
    libpq,
    migrated_template,
    recreate_database,
    start,
    stop,
    wait_for_port,
)

from . import clients, faults, probes, workflow
from .receiver import Receiver

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/workflows_reliability"
MARKER = "reliability"
LOG_DIR = ROOT / "reliability" / "logs"
FULL = {
    "executions": 500,
    "in_flight": 40,
    "watchers": 12,
    "load_seconds": 600,
    "kills": 120,
    "terminations": 400,
    "redis_flaps": 6,
    "sigterms": 4,
    "fuzz_examples": 30,
    "fuzz_seconds": 180,
    "nap": "2s",
}
QUICK = {
    "executions": 60,
    "in_flight": 30,
    "watchers": 8,
    "load_seconds": 100,
    "kills": 12,
    "terminations": 40,
    "redis_flaps": 2,
    "sigterms": 1,
    "fuzz_examples": 3,
    "fuzz_seconds": 40,
    "nap": "1s",
}
GRACE_SECONDS = 5


def options(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the short run (CI): fewer executions and faults")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("RELIABILITY_DATABASE_URL", DEFAULT_DATABASE),
        help=f"a database of the suite's own (its name must contain {MARKER!r}; it is recreated)",
    )
    for key, value in FULL.items():
        parser.add_argument(
            f"--{key.replace('_', '-')}", type=type(value), default=None, help=f"default {value}, quick {QUICK[key]}"
        )
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


class Suite:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.url = args.database_url
        self.datname = database_name(self.url)
        self.faults = faults.Faults()
        self.procs: list = []
        self.pool: faults.WorkerPool | None = None
        self.accepted: dict[str, str] = {}  # run -> execution id
        self.not_accepted = 0
        self.decided = 0
        self.signalled = 0
        self.api_5xx = 0
        self.api_unanswered = 0
        self.lock = threading.Lock()
        self.redis_flapped = threading.Event()
        self.held: list[str] = []  # runs whose signal waits for a Redis restart
        self.signals: queue.PriorityQueue = queue.PriorityQueue()  # (when, run)

    # --- Set-up ---------------------------------------------------------------------------

    def setup(self, receiver: Receiver) -> None:
        if not self.url.startswith(("postgres://", "postgresql://")):
            raise SystemExit("the fault suite runs on PostgreSQL: RELIABILITY_DATABASE_URL=postgres://...")
        for old in LOG_DIR.glob("*.log"):
            old.unlink()  # the logs of this run only
        self.redis = RedisServer()
        self.redis.start()
        env = bench_environment(database_url=self.url, redis_url=self.redis.url, channel_prefix="reliability")
        env.update(
            {
                # Short leases and polls so a killed worker's steps come back within seconds.
                "WORKFLOW_LEASE_SECONDS": "6",
                "WORKFLOW_POLL_SECONDS": "1",
                "WORKFLOW_SHUTDOWN_GRACE_SECONDS": str(GRACE_SECONDS),
                # daphne's pool: the default (16) serves the API, the sockets and the streams.
                "DATABASE_POOL_MIN_SIZE": "1",
                # The effects' receiver is on this machine.
                "WORKFLOW_HTTP_ALLOWED_HOSTS": "127.0.0.1",
                "WORKFLOW_HTTP_ALLOWED_NETWORKS": "127.0.0.0/8",
            }
        )
        recreate_database(self.url, template=migrated_template(self.url, env, marker=MARKER), marker=MARKER)
        os.environ.update(env)
        import django

        django.setup()
        import psycopg

        self.pg = psycopg.connect(libpq(self.url), autocommit=True)
        self.tenants = workflow.create(receiver_url=receiver.url, nap=self.args.nap)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        daphne = start(
            "daphne",
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "config.asgi:application"],
            env,
            log_dir=LOG_DIR,
        )
        self.procs.append(daphne)
        wait_for_port(daphne, self.port)
        # A worker keeps one connection per step thread plus three (README, DATABASE_POOL_*).
        # INFO: their logs say what a SIGTERM waited for and gave back.
        worker_env = {
            **env,
            "DATABASE_URL": f"{self.url}?application_name={faults.WORKER_APP}",
            "DATABASE_POOL_MAX_SIZE": "6",
            "WORKFLOW_WORKER_CONCURRENCY": "2",
            "WORKFLOW_LOG_LEVEL": "INFO",
        }
        self.pool = faults.WorkerPool(size=3, env=worker_env, concurrency=2, log_dir=LOG_DIR, faults=self.faults)

    def teardown(self) -> None:
        """Stop what setup started, however far it got."""
        if self.pool:
            self.pool.stop()
        stop(self.procs)
        if getattr(self, "redis", None):
            self.redis.stop()
        if getattr(self, "pg", None):
            self.pg.close()

    # --- Load -----------------------------------------------------------------------------

    def _http(self, method: str, path: str, *, body=None, auth: str, tries: int = 5):
        """One API call, retried (each request is idempotent) on a 5xx, which is counted, or
        on no answer in time."""
        import requests

        for attempt in range(tries):
            try:
                answer = requests.request(
                    method, self.base + path, json=body, headers={"Authorization": auth}, timeout=30
                )
            except requests.RequestException:
                with self.lock:
                    self.api_unanswered += 1
            else:
                if answer.status_code < 500:
                    return answer
                with self.lock:
                    self.api_5xx += 1
                print(f"  {method} {path} answered {answer.status_code}", flush=True)
            time.sleep(0.5 * (attempt + 1))
        return None

    def trigger(self, i: int, *, hold: bool = False) -> None:
        """Start one execution through the API, then signal its wait (or hold the signal, for
        the watched executions, until Redis has been restarted under their watchers)."""
        run = f"r{i}-{uuid.uuid4().hex[:8]}"
        body = {
            "input": {
                "run": run,
                "branch": random.choice(["left", "right"]),
                "flaky": random.random() < 0.2,
                "slow": 2 if random.random() < 0.15 else None,
            },
            "idempotencyKey": run,
        }
        answer = self._http(
            "POST",
            f"/api/workflows/{self.tenants.workflow_id}/trigger/",
            body=body,
            auth=f"Token {self.tenants.a.token}",
        )
        if answer is None or answer.status_code != 202:
            with self.lock:
                self.not_accepted += 1
            print(
                f"  trigger {run} not accepted: {answer.status_code if answer is not None else 'no answer'}", flush=True
            )
            return
        with self.lock:
            self.accepted[run] = answer.json()["executionId"]
            if hold:
                self.held.append(run)
                return
        # Half the signals arrive before the wait (buffered), half after it.
        self.signals.put((time.monotonic() + random.uniform(0, 3), run))

    def send_signals(self, stop_event: threading.Event) -> None:
        while not stop_event.is_set():
            try:
                due, run = self.signals.get(timeout=0.5)
            except queue.Empty:
                continue
            time.sleep(max(0.0, due - time.monotonic()))
            self.signal(run)

    def signal(self, run: str) -> None:
        body = {"eventNamespace": workflow.NAMESPACE, "eventKey": run, "payload": {"run": run}}
        answer = self._http("POST", "/api/workflow/events/signal", body=body, auth=f"Bearer {self.tenants.a.api_key}")
        if answer is not None and answer.status_code in (200, 202, 409):
            with self.lock:
                self.signalled += 1

    def flap_redis(self) -> None:
        faults.flap_redis(self.redis, down=2.0, faults=self.faults)
        if self.faults.counts["Redis killed and restarted"] >= self.args.redis_flaps:
            self.redis_flapped.set()

    def release_held(self, stop_event: threading.Event) -> None:
        """Signal the watched executions once Redis has been restarted under their watchers as
        many times as the run asks (or half the load's time has passed)."""
        self.redis_flapped.wait(timeout=self.args.load_seconds / 2)
        for run in list(self.held):
            if stop_event.is_set():
                return
            self.signal(run)

    def approve_pending(self, stop_event: threading.Event) -> None:
        with concurrent.futures.ThreadPoolExecutor(3) as deciders:
            while not stop_event.is_set():
                answer = self._http("GET", "/api/approvals/?status=pending", auth=f"Token {self.tenants.a.token}")
                rows = answer.json().get("results", []) if answer is not None and answer.status_code == 200 else []
                list(deciders.map(self.decide, [row["id"] for row in rows]))
                stop_event.wait(0.2 if rows else 1.0)

    def decide(self, approval_id: str) -> None:
        answer = self._http(
            "POST",
            f"/api/approvals/{approval_id}/decide/",
            body={"decision": "approved"},
            auth=f"Token {self.tenants.a.token}",
        )
        if answer is not None and answer.status_code in (200, 409):
            with self.lock:
                self.decided += 1

    def in_flight(self, *, submitted: int) -> int:
        """Executions submitted and not yet finished (or refused)."""
        with self.lock:
            settled = len(self.accepted) + self.not_accepted
        return submitted - settled + self.unfinished()

    def unfinished(self) -> int:
        from workflows.models import Execution

        return (
            Execution.objects.filter(pk__in=list(self.accepted.values()))
            .exclude(status__in=["success", "error", "cancelled"])
            .count()
        )

    def load(self) -> None:
        args = self.args
        deadline = time.monotonic() + args.load_seconds
        stop_event = threading.Event()
        pool, port, token = self.pool, self.port, self.tenants.a.token
        fault_threads = [
            faults.loop(stop_event, every=(2, 5), limit=args.kills, action=pool.kill9),
            faults.loop(
                stop_event,
                every=(0.5, 2),
                limit=args.terminations,
                action=lambda: faults.terminate_backends(self.pg, datname=self.datname, faults=self.faults),
            ),
            faults.loop(stop_event, every=(8, 15), limit=args.redis_flaps, action=self.flap_redis),
            # Only when a worker is inside the HTTP step (some take 2 s): SIGTERM mid-step.
            faults.loop(
                stop_event,
                every=(0.5, 1.5),
                limit=args.sigterms,
                action=lambda: pool.sigterm(GRACE_SECONDS, busy=faults.busy_workers(node_id="effect")),
            ),
        ]
        helpers = [
            threading.Thread(target=self.approve_pending, args=(stop_event,), daemon=True),
            threading.Thread(target=self.release_held, args=(stop_event,), daemon=True),
            *(threading.Thread(target=self.send_signals, args=(stop_event,), daemon=True) for _ in range(2)),
        ]
        for helper in helpers:
            helper.start()
        starters = concurrent.futures.ThreadPoolExecutor(6)
        watchers: list[clients.LiveClient] = []
        try:
            # The first executions are watched live through every Redis fault.
            list(starters.map(lambda i: self.trigger(i, hold=True), range(args.watchers)))
            for i, execution_id in enumerate(list(self.accepted.values())[: args.watchers]):
                cls = clients.WidgetSocketClient if i % 2 == 0 else clients.SSEViewer
                watchers.append(cls(port=port, token=token, execution_id=execution_id, deadline=deadline))
            for watcher in watchers:
                watcher.start()
            # The others with at most `in_flight` unfinished at once: the load follows what the
            # machine can serve instead of piling up.
            for i in range(args.watchers, args.executions):
                while self.in_flight(submitted=i) >= args.in_flight and time.monotonic() < deadline:
                    time.sleep(0.5)
                if time.monotonic() >= deadline:
                    break
                starters.submit(self.trigger, i)
                time.sleep(0.05)
            starters.shutdown(wait=True)
            while time.monotonic() < deadline and self.unfinished():
                time.sleep(1.0)
        finally:
            stop_event.set()
            starters.shutdown(wait=False, cancel_futures=True)
            for thread in [*fault_threads, *helpers]:
                thread.join(timeout=60)
        self.live = [w.outcome for w in watchers]
        for watcher in watchers:
            watcher.join(timeout=max(1.0, deadline + 30 - time.monotonic()))
        # Anything that finished after the faults stopped still counts as finished in time.
        settle = time.monotonic() + 30
        while time.monotonic() < settle and self.unfinished():
            time.sleep(1.0)

    # --- Figures --------------------------------------------------------------------------

    def outcomes(self, receiver: Receiver) -> dict:
        from workflows.models import Execution, NodeRun

        effects = receiver.ledger.effects_by_run()
        rows = {str(e.pk): e for e in Execution.objects.filter(pk__in=list(self.accepted.values()))}
        lost, stuck, failed = [], [], []
        for run, execution_id in self.accepted.items():
            execution = rows.get(execution_id)
            if execution is None:
                lost.append((run, "no execution row"))
            elif execution.status in ("running", "paused"):
                stuck.append((run, execution.status))
            elif execution.status != "success":
                errors = list(
                    NodeRun.objects.filter(execution=execution, status="error").values_list("node_id", "error")
                )
                failed.append((run, execution.status, errors))
            elif not effects.get(run) or (execution.context.get("Done") or {}).get("done") is not True:
                lost.append((run, "success without its effect or its last node's output"))
        duplicated = receiver.ledger.duplicates(set(self.accepted))
        for kind, items in (("lost", lost), ("stuck", stuck), ("failed", failed), ("duplicate effect", duplicated)):
            for item in items[:5]:
                print(f"  {kind}: {item}", flush=True)
        attempts = NodeRun.objects.filter(execution_id__in=list(rows)).values_list("attempt", flat=True)
        return {
            "lost": len(lost) + self.not_accepted,
            "stuck": len(stuck),
            "failed": len(failed),
            "extra_attempts": sum(max(0, a - 1) for a in attempts),
            "signals": self.signalled,
            # Read before the probes: fuzzing retries executions on purpose (new keys, new effects).
            "duplicate_effects": len(duplicated),
            "repeated_deliveries": receiver.ledger.repeated_deliveries(),
            "keyed_deliveries": receiver.ledger.keyed_by_header,
            "decisions": self.decided,
            "api_5xx": self.api_5xx,
            "api_unanswered": self.api_unanswered,
        }

    def probe(self) -> dict:
        from approvals.models import ApprovalRequest

        tenants = self.tenants
        a = {
            "execution": next(iter(self.accepted.values())),
            "workflow": tenants.workflow_id,
            "approval": str(
                ApprovalRequest.objects.filter(execution__workflow_id=tenants.workflow_id)
                .values_list("pk", flat=True)
                .first()
            ),
        }
        http_tried, http_leaks = probes.cross_tenant(base=self.base, token_b=tenants.b.token, a=a)
        socket_tried, socket_leaks = probes.cross_tenant_socket(
            port=self.port, token_b=tenants.b.token, execution=a["execution"]
        )
        config = probes.fuzz_config(
            token=tenants.a.token,
            api_key=tenants.a.api_key,
            ids={"workflows": tenants.workflow_id, "executions": a["execution"], "approvals": a["approval"]},
        )
        sent, server_errors = probes.fuzz(
            base=self.base,
            config=config,
            max_examples=self.args.fuzz_examples,
            max_time=self.args.fuzz_seconds,
            report=LOG_DIR / "schemathesis.har",
        )
        return {
            "tenant_probes": http_tried + socket_tried,
            "leaks": http_leaks + socket_leaks,
            "fuzz_requests": sent,
            "fuzz_5xx": len(server_errors),
            "fuzz_5xx_requests": server_errors,
        }


def table(args, figures: dict, faults_: faults.Faults, live: list, seconds: float) -> tuple[str, bool]:
    """The table and whether every must-be-zero figure is zero."""
    live_missed = sum(1 for o in live if o.status != "success" or not o.final_done)
    rows: list[tuple[str, object, bool]] = [
        ("executions (accepted triggers)", figures["executions"], False),
        ("  signals sent, approvals decided (API)", f"{figures['signals']}, {figures['decisions']}", False),
    ]
    for kind in (
        "worker kill -9",
        "worker SIGTERM mid-step",
        "PostgreSQL backend terminated",
        "Redis killed and restarted",
    ):
        rows.append((f"  faults: {kind}", faults_.counts.get(kind, 0), False))
    rows += [
        ("lost", figures["lost"], True),
        ("stuck (not finished when the load ended)", figures["stuck"], True),
        ("failed for a fault that was not theirs", figures["failed"], True),
        ("duplicate effects (receiver, by Idempotency-Key)", figures["duplicate_effects"], True),
        ("  effect deliveries repeated (503 retries, re-runs)", figures["repeated_deliveries"], False),
        ("  deliveries that carried an Idempotency-Key", figures["keyed_deliveries"], False),
        ("  step attempts beyond the first", figures["extra_attempts"], False),
        ("API answers 5xx during the load", figures["api_5xx"], True),
        ("  API requests unanswered in 30 s (retried)", figures["api_unanswered"], False),
        (
            f"SIGTERM: exits past the {GRACE_SECONDS}s grace (+{faults.EXIT_SECONDS:.0f}s to exit)",
            faults_.sigterm_over_grace,
            True,
        ),
        (f"live clients without the final data (of {len(live)})", live_missed, True),
        ("  their reconnects", sum(o.reconnects for o in live), False),
        (f"5xx under fuzzing (of {figures['fuzz_requests']} requests)", figures["fuzz_5xx"], True),
        (f"cross-tenant leaks (of {figures['tenant_probes']} probes)", figures["leaks"], True),
    ]
    width = max(len(name) for name, _, _ in rows) + 2
    mode = "quick" if args.quick else "full"
    lines = [
        (
            f"make reliability ({mode}): {seconds / 60:.1f} min, {os.cpu_count()} cores, "
            f"3 workers x 2 threads, lease 6s, load average {os.getloadavg()[0]:.1f}"
        ),
        f"{'figure':<{width}}{'value':>8}  must be 0",
    ]
    ok = True
    for name, value, must_be_zero in rows:
        flag = ""
        if must_be_zero:
            flag = "yes" if value == 0 else "yes  << NOT ZERO"
            ok = ok and value == 0
        lines.append(f"{name:<{width}}{value:>8}  {flag}".rstrip())
    for request in figures.get("fuzz_5xx_requests", ()):
        lines.append(f"  5xx: {request}")
    if figures.get("fuzz_5xx_requests"):
        lines += ["daphne's last tracebacks:", *probes.tracebacks(LOG_DIR / "daphne.log")]
    if faults_.sigterm_seconds:
        lines.append(f"(SIGTERM exits took {', '.join(f'{s:.1f}s' for s in faults_.sigterm_seconds)})")
    return "\n".join(lines), ok


def _interrupted(*_) -> None:
    raise KeyboardInterrupt  # so SIGTERM, like Ctrl-C, stops the processes the suite started


def main(argv=None) -> int:
    args = options(argv)
    signal.signal(signal.SIGTERM, _interrupted)
    if args.seed is not None:
        random.seed(args.seed)
    began = time.monotonic()
    suite = Suite(args)
    with Receiver() as receiver:
        try:
            print(f"setting up: database {suite.datname}, a private redis-server, daphne, 3 workers", flush=True)
            suite.setup(receiver)
            print(f"load: {args.executions} executions under faults (at most {args.load_seconds}s)", flush=True)
            suite.load()
            figures = {"executions": len(suite.accepted), **suite.outcomes(receiver)}
            print(
                f"probes: other tenants, then schemathesis ({args.fuzz_examples} examples per operation, "
                f"at most {args.fuzz_seconds}s)",
                flush=True,
            )
            figures.update(suite.probe())
        finally:
            suite.teardown()
    text, ok = table(args, figures, suite.faults, suite.live, time.monotonic() - began)
    print()
    print(text)
    (LOG_DIR / "table.txt").write_text(text + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
