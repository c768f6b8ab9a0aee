"""The faults the suite injects, each a loop bounded in count and time, run in a thread.

- `WorkerPool`: three `runworkflows` processes; `kill9` SIGKILLs one and starts a replacement,
  `sigterm` stops one mid-step and times its exit against the shutdown grace period.
- `terminate_backends`: `pg_terminate_backend` on the workers' connections (never a restart of
  the shared PostgreSQL service).
- `flap_redis`: the suite's own redis-server killed and started again on its port.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import Proc, RedisServer, start_workers, stop

WORKER_APP = "reliability-worker"
# After the grace period: release the leases, flush live updates, end the interpreter.
EXIT_SECONDS = 2.0


@dataclass
class Faults:
    counts: Counter = field(default_factory=Counter)
    sigterm_seconds: list[float] = field(default_factory=list)
    sigterm_over_grace: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, n: int = 1) -> None:
        with self.lock:
            self.counts[kind] += n


class WorkerPool:
    def __init__(self, *, size: int, env: dict[str, str], concurrency: int, log_dir: Path, faults: Faults):
        self.env, self.concurrency, self.log_dir, self.faults = env, concurrency, log_dir, faults
        self.started = 0
        self.lock = threading.Lock()
        self.procs: list[Proc] = []
        for _ in range(size):
            self.procs.append(self._one())

    def _one(self) -> Proc:
        proc = start_workers(
            1, env=self.env, concurrency=self.concurrency, tag="reliability", first=self.started, log_dir=self.log_dir
        )[0]
        self.started += 1
        return proc

    @staticmethod
    def lease_owner(proc: Proc) -> str:
        """The name the worker takes its leases under (start_workers's --name)."""
        return "bench-" + proc.name.removeprefix("worker-")

    def _take(self, among: set[str] | None = None) -> Proc | None:
        with self.lock:
            candidates = [p for p in self.procs if among is None or self.lease_owner(p) in among]
            if not candidates:
                return None
            victim = random.choice(candidates)
            self.procs.remove(victim)
            return victim

    def kill9(self) -> None:
        victim = self._take()
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait()
        self.faults.add("worker kill -9")
        replacement = self._one()
        with self.lock:
            self.procs.append(replacement)

    def sigterm(self, grace: float, *, busy: set[str]) -> bool:
        """SIGTERM a worker that holds a lease on a running step (one of `busy`); it must
        exit within the grace period (plus EXIT_SECONDS for the process to end). False when
        no worker is busy."""
        victim = self._take(busy)
        if victim is None:
            return False
        began = time.monotonic()
        victim.process.send_signal(signal.SIGTERM)
        try:
            victim.process.wait(timeout=grace + 10)
        except Exception:  # noqa: BLE001 - a worker that hangs is the failure counted below
            victim.process.kill()
            victim.process.wait()
        took = time.monotonic() - began
        with self.faults.lock:
            self.faults.sigterm_seconds.append(took)
            if took > grace + EXIT_SECONDS:
                self.faults.sigterm_over_grace += 1
        self.faults.add("worker SIGTERM mid-step")
        replacement = self._one()
        with self.lock:
            self.procs.append(replacement)
        return True

    def stop(self) -> None:
        with self.lock:
            stop(self.procs)


def loop(stop_event: threading.Event, *, every: tuple[float, float], limit: int, action) -> threading.Thread:
    """Run `action` every `every` seconds (uniform) until `stop_event`, until it has injected
    `limit` faults (an action returning False injected none)."""

    def body():
        injected = 0
        while injected < limit:
            if stop_event.wait(random.uniform(*every)):
                return
            try:
                injected += action() is not False
            except Exception as exc:  # noqa: BLE001 - a fault that could not be injected is reported, not fatal
                print(f"  (fault not injected: {exc!r})", flush=True)
                injected += 1

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    return thread


def terminate_backends(pg, *, datname: str, faults: Faults) -> None:
    """Terminate one or two of the workers' backends, chosen at random."""
    pids = [
        row[0]
        for row in pg.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = %s", (datname, WORKER_APP)
        ).fetchall()
    ]
    for pid in random.sample(pids, min(len(pids), random.choice((1, 2)))):
        if pg.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]:
            faults.add("PostgreSQL backend terminated")


def busy_workers(*, node_id: str) -> set[str]:
    """Lease owners of the node runs of `node_id` running now (a step in progress)."""
    from django.utils import timezone

    from workflows.models import NodeRun

    return set(
        NodeRun.objects.filter(
            node_id=node_id, status="running", lease_owner__isnull=False, lease_expires_at__gt=timezone.now()
        ).values_list("lease_owner", flat=True)
    )


def flap_redis(redis: RedisServer, *, down: float, faults: Faults) -> None:
    redis.stop()
    time.sleep(down)
    redis.start()
    faults.add("Redis killed and restarted")
