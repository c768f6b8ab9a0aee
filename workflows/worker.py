"""The worker: claim ready node runs, run their steps, fire deadlines, keep leases.

- Claiming is one UPDATE ... RETURNING over `SELECT ... FOR UPDATE SKIP LOCKED` on
  PostgreSQL, so any number of workers share one database and no attempt runs twice.
- A step runs outside any transaction; its outcome is recorded by engine.finish_claimed
  in one transaction, which may hand the next ready node straight back to this worker.
- Workers sleep until woken (LISTEN/NOTIFY, or in-process events), the next deadline,
  or the poll interval, whichever is first.
- The timer thread writes the worker's heartbeat row every WORKFLOW_HEARTBEAT_SECONDS
  (one UPDATE), for the workers page and the health probes.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import queue
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone
from django.utils.module_loading import import_string

from . import engine, live, store, templating, wakeup
from .checks import pool_shortfall
from .nodes import NodeError, Pause, StepContext, StepLogger, StepResult, registry
from .store import Claim

logger = logging.getLogger("workflows.worker")

# A step thread checks its connection before a chain when it has been idle this long.
IDLE_HEALTH_CHECK_SECONDS = 10.0
# How often a worker deletes the heartbeat rows of workers dead for WORKFLOW_WORKER_FORGET_SECONDS.
FORGET_EVERY_SECONDS = 3600.0
# A timer loop that has not gone round for this long is stuck (the liveness probes).
STUCK_AFTER_SECONDS = 300.0


def claim(owner: str, limit: int) -> list[Claim]:
    """Lease up to `limit` ready node runs to `owner` and return them."""
    return store.claim(owner, limit)


def release_leases(owner: str, run_ids: list[int]) -> None:
    """Give node runs back unfinished, without counting the interrupted attempt."""
    store.release_leases(owner, run_ids)
    wakeup.wake_after_commit()


def fire_due_deadlines(limit: int = 100) -> int:
    """Fire the deadlines of paused node runs that are due; returns how many fired."""
    return sum(1 for run_id in store.due_deadlines(limit) if engine.fire_deadline(run_id))


def run_step(claim: Claim) -> tuple[StepResult | Pause | NodeError, list[dict], object]:
    """Run one claimed node's step function outside any transaction."""
    graph = engine.graph_for_version(claim.version_id)
    node = graph.nodes[claim.node_id]
    node_type = registry.get(node.type)
    step_logger = StepLogger(node.label)
    policy = engine.retry_policy(node.retry)
    if claim.attempt > policy["maxAttempts"]:
        message = f"Worker lost during attempt {claim.attempt - 1}; no attempts left"
        return NodeError(message, retryable=False), step_logger.entries, None
    if node_type is None:
        return NodeError(f"Unknown node type {node.type!r}", retryable=False), step_logger.entries, None
    config = templating.resolve(node.config, claim.context) if node_type.resolve_config else node.config
    try:
        credentials = credentials_for(node, claim)
    except NodeError as exc:
        return exc, step_logger.entries, config
    ctx = StepContext(
        execution_id=claim.execution_id,
        node_id=node.id,
        node_run_id=claim.run_id,
        label=node.label,
        attempt=claim.attempt,
        tenant_id=claim.tenant_id,
        workflow_id=claim.workflow_id,
        run_as_id=claim.run_as_id,
        context=claim.context,
        logger=step_logger,
        idempotency_key=claim.idempotency_key,
        credentials=credentials,
        is_test=claim.is_test,
    )
    if claim.attempt > 1:
        step_logger.info(f"Attempt {claim.attempt}")
    try:
        result = node_type.run(config, ctx)
        if inspect.isawaitable(result):
            result = asyncio.run(_await(result))
    except NodeError as exc:
        return exc, step_logger.entries, config
    except Exception as exc:  # a step's own bug is an error of that node, retried per policy
        logger.warning("step %s of execution %s raised", node.label, claim.execution_id, exc_info=True)
        error = NodeError(f"{type(exc).__name__}: {exc}", details={"traceback": traceback.format_exc(limit=5)})
        return error, step_logger.entries, config
    if isinstance(result, (StepResult, Pause)):
        return result, step_logger.entries, config
    return StepResult(output=result), step_logger.entries, config


async def _await(awaitable):
    return await awaitable


def credentials_for(node, claim: Claim) -> dict:
    """The decrypted credentials of the integration a node references (see plugins)."""
    hook = getattr(settings, "WORKFLOW_CREDENTIALS_RESOLVER", None)
    if not hook:
        return {}
    return import_string(hook)(node=node, claim=claim)


def execute(claim: Claim | None, *, handoff: bool = True, held: set[int] | None = None) -> int:
    """Run a claimed node run, and the ones handed back to this worker after it.
    `held` tracks the run ids in progress, for lease renewal and release on shutdown."""
    steps = 0
    while claim is not None:
        if held is not None:
            held.add(claim.run_id)
        try:
            outcome, logs, config = run_step(claim)
            steps += 1
            next_claim = engine.finish_claimed(claim, outcome, logs=logs, resolved_config=config, handoff=handoff)
        finally:
            if held is not None:
                held.discard(claim.run_id)
        claim = next_claim
    return steps


def _load_duties() -> list[tuple[Callable[[], object], float]]:
    duties = []
    for path, every in getattr(settings, "WORKFLOW_WORKER_DUTIES", {}).items():
        duties.append((import_string(path), float(every)))
    return duties


class Worker:
    """A claim loop feeding a fixed set of step threads, and a timer thread.

    Each step thread keeps its database connection for its whole life (closed after an
    error and when the thread ends): a new connection per claimed chain would cost more
    than the steps themselves."""

    def __init__(
        self,
        *,
        concurrency: int | None = None,
        name: str | None = None,
        poll_seconds: float | None = None,
        embedded: bool = False,
    ):
        self.concurrency = concurrency or settings.WORKFLOW_WORKER_CONCURRENCY
        self.embedded = embedded
        self.owner = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.poll_seconds = poll_seconds if poll_seconds is not None else settings.WORKFLOW_POLL_SECONDS
        self.stopping = threading.Event()
        self._wake = threading.Event()
        self._timer_wake = threading.Event()
        self._held: set[int] = set()
        self.abandoned = 0
        self._queue: queue.SimpleQueue[Claim | None] = queue.SimpleQueue()
        self._busy = 0  # claims queued or running
        self._idle = threading.Condition()
        self.steps_done = 0
        # Liveness, read by the health probes: when the timer loop last went round, and when
        # a heartbeat last reached the database (time.monotonic(); None: not yet).
        self.started_at = timezone.now()
        self.last_tick: float | None = None
        self.last_heartbeat: float | None = None
        # Called at every heartbeat, whether or not it reached the database: the timer loop
        # runs (runworkflows --health-file). The database is /readyz's business.
        self.heartbeat_hooks: list = []
        self._last_forget = 0.0

    # --- Synchronous use (tests, management commands) ----------------------------------

    def run_until_idle(self, *, max_steps: int = 10_000) -> int:
        """Run ready work and due deadlines in this thread until nothing is ready."""
        steps = 0
        while steps < max_steps:
            fired = fire_due_deadlines()
            claims = claim(self.owner, 1)
            if not claims and not fired:
                break
            for c in claims:
                steps += execute(c)
        return steps

    # --- The loop -------------------------------------------------------------------------

    def run(self) -> None:
        """Run until stop() is called (SIGTERM in the management command)."""
        self.started_at = timezone.now()
        logger.info("worker %s started (concurrency %d)", self.owner, self.concurrency)
        if (shortfall := pool_shortfall(self.concurrency)) is not None:
            logger.warning("%s; raise DATABASE_POOL_MAX_SIZE", shortfall)
        wakeup.subscribe(self._wake)
        wakeup.subscribe(self._timer_wake)
        threads = [threading.Thread(target=self._timer_loop, name=f"{self.owner}-timers", daemon=True)]
        if store.listens():
            threads.append(threading.Thread(target=self._listen_loop, name=f"{self.owner}-listen", daemon=True))
        threads += [
            threading.Thread(target=self._step_loop, name=f"{self.owner}-step-{i}", daemon=True)
            for i in range(self.concurrency)
        ]
        for thread in threads:
            thread.start()
        try:
            while not self.stopping.is_set():
                free = self.concurrency - self._busy
                got = []
                if free > 0:
                    store.reset_broken_connection()
                    try:
                        got = claim(self.owner, free)
                    except Exception as exc:
                        logger.warning("claiming failed (%s); retrying after a pause", exc)
                        connection.close()
                        self.stopping.wait(1.0)
                        continue
                for c in got:
                    with self._idle:
                        self._busy += 1
                        self._held.add(c.run_id)
                    self._queue.put(c)
                if got and len(got) == free:
                    continue  # more may be ready: claim again as soon as a slot frees
                self._wake.wait(self.poll_seconds)
                self._wake.clear()
        finally:
            self._shutdown()
            wakeup.unsubscribe(self._wake)
            wakeup.unsubscribe(self._timer_wake)
            self._say_stopped()
            connection.close()
            logger.info("worker %s stopped after %d step(s)", self.owner, self.steps_done)

    def stop(self) -> None:
        self.stopping.set()
        self._wake.set()
        self._timer_wake.set()

    def _step_loop(self) -> None:
        last_used = time.monotonic()
        try:
            while (c := self._queue.get()) is not None:
                # Before every chain: drop a connection known to be dead; after a pause, also
                # one that no longer answers (a server restart or an idle timeout since).
                store.reset_broken_connection(probe=time.monotonic() - last_used > IDLE_HEALTH_CHECK_SECONDS)
                steps = 0
                try:
                    steps = execute(c, held=self._held)
                except BaseException:  # a step thread must outlive any step (even SystemExit)
                    logger.exception(
                        "recording node run %s failed; its lease will expire and it will be retried", c.run_id
                    )
                    connection.close()
                finally:
                    last_used = time.monotonic()
                    with self._idle:
                        self._busy -= 1
                        self.steps_done += steps
                        self._idle.notify_all()
                    self._wake.set()
        finally:
            connection.close()

    def _shutdown(self) -> None:
        grace = getattr(settings, "WORKFLOW_SHUTDOWN_GRACE_SECONDS", 30.0)
        try:
            # Claims not started yet go back at once; running steps get the grace period.
            not_started = []
            while True:
                try:
                    queued = self._queue.get_nowait()
                except queue.Empty:
                    break
                if queued is not None:
                    not_started.append(queued.run_id)
                    self._held.discard(queued.run_id)
                    with self._idle:
                        self._busy -= 1
            release_leases(self.owner, not_started)
            with self._idle:
                if self._busy:
                    logger.info("waiting up to %.0fs for %d step(s) to finish", grace, self._busy)
                    self._idle.wait_for(lambda: self._busy == 0, timeout=grace)
            unfinished = list(self._held)
            if unfinished:
                logger.warning("releasing %d unfinished node run(s)", len(unfinished))
                # Their steps still run in our threads: the process must end now (runworkflows
                # does), or a released attempt could run here and elsewhere at once.
                self.abandoned = len(unfinished)
                release_leases(self.owner, unfinished)
        finally:
            for _ in range(self.concurrency):
                self._queue.put(None)  # each step thread ends after its current chain
        try:
            live.flush()
        except Exception:
            logger.warning("some live updates were not sent before shutdown")

    # --- Timers: deadlines, lease renewal, duties ------------------------------------------

    # --- Heartbeats ------------------------------------------------------------------------

    def info(self) -> store.WorkerInfo:
        host, pid = socket.gethostname(), os.getpid()
        return store.WorkerInfo(
            name=self.owner,
            host=host,
            pid=pid,
            version=settings.WORKFLOW_VERSION,
            concurrency=self.concurrency,
            embedded=self.embedded,
        )

    def beat(self) -> None:
        """Write the heartbeat row (registering the worker the first time, or again after
        its row was forgotten), and now and then forget workers long dead."""
        now = timezone.now()
        if not store.heartbeat(self.owner, in_flight=self._busy, done=self.steps_done, now=now):
            store.register_worker(self.info(), started_at=self.started_at, now=now)
            store.heartbeat(self.owner, in_flight=self._busy, done=self.steps_done, now=now)
        self.last_heartbeat = time.monotonic()
        if self.last_heartbeat - self._last_forget >= FORGET_EVERY_SECONDS or not self._last_forget:
            self._last_forget = self.last_heartbeat
            store.forget_workers(before=now - timedelta(seconds=settings.WORKFLOW_WORKER_FORGET_SECONDS))

    def _say_stopped(self) -> None:
        if self.last_heartbeat is None:
            return
        try:
            store.worker_stopped(self.owner, done=self.steps_done, now=timezone.now())
        except Exception:
            logger.warning("could not mark worker %s stopped; it will show as stale", self.owner)

    def alive(self) -> bool:
        """Whether the timer loop went round lately (deadlines, leases and heartbeats run
        there, so a stuck one is a worker that must be restarted). Generous: while the
        database is down every round waits for connections, and that is no reason to restart."""
        return self.last_tick is not None and time.monotonic() - self.last_tick < STUCK_AFTER_SECONDS

    def _timer_loop(self) -> None:
        duties = [(fn, every, 0.0) for fn, every in _load_duties()]
        last_renewal = 0.0
        last_beat = 0.0
        try:
            while not self.stopping.is_set():
                now_mono = self.last_tick = time.monotonic()
                if now_mono - last_beat >= settings.WORKFLOW_HEARTBEAT_SECONDS or not last_beat:
                    last_beat = now_mono
                    try:
                        self.beat()
                    except Exception as exc:
                        logger.warning("heartbeat failed (%s)", exc)
                        close_old_connections()
                    for hook in self.heartbeat_hooks:
                        hook()
                try:
                    fire_due_deadlines()
                    if now_mono - last_renewal >= settings.WORKFLOW_LEASE_SECONDS / 3:
                        store.renew_leases(self.owner, list(self._held))
                        last_renewal = now_mono
                    for i, (fn, every, last) in enumerate(duties):
                        if now_mono - last >= every:
                            duties[i] = (fn, every, now_mono)
                            fn()
                    due = store.next_due()
                except Exception:
                    logger.exception("timer duty failed")
                    close_old_connections()
                    due = None
                timeout = self.poll_seconds
                if due is not None:
                    timeout = max(0.0, min(timeout, (due - timezone.now()).total_seconds()))
                timeout = min(timeout, settings.WORKFLOW_LEASE_SECONDS / 3, settings.WORKFLOW_HEARTBEAT_SECONDS)
                self._timer_wake.wait(timeout)
                self._timer_wake.clear()
        finally:
            connection.close()

    def _listen_loop(self) -> None:
        """Turn notifications from other processes into wake-ups of this worker's loops."""

        def woken() -> None:
            self._wake.set()
            self._timer_wake.set()

        store.wait_for_notifications(self.stopping, woken)


_embedded: Worker | None = None
_embedded_lock = threading.Lock()


def start_embedded_worker() -> Worker:
    """Start one worker in a daemon thread of this process (the SQLite default)."""
    global _embedded
    with _embedded_lock:
        if _embedded is None:
            _embedded = Worker(embedded=True)
            threading.Thread(target=_embedded.run, name="embedded-worker", daemon=True).start()
    return _embedded
