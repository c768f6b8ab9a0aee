"""What every part of the harness shares: the environment, the databases, summaries of
repeated measurements, the processes it starts, and CPU time read from /proc."""

from __future__ import annotations

import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
LOG_DIR = ROOT / "bench" / "logs"
TICK = os.sysconf("SC_CLK_TCK")


# --- Environment ------------------------------------------------------------------------------


def bench_environment(*, database_url: str, redis_url: str, channel_prefix: str) -> dict[str, str]:
    """The environment of every process the harness starts: production settings (no debug
    bookkeeping, no worker inside the web process), Redis on, this run's channel prefix."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CHANNEL_PREFIX": channel_prefix,
        "DEBUG": "false",
        "WORKFLOW_EMBEDDED_WORKER": "false",
        "WORKFLOW_LOG_LEVEL": "WARNING",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "PYTHONPATH": str(ROOT),
    }


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def libpq(url: str) -> str:
    """A URL as psycopg and SQLAlchemy spell it (postgresql://)."""
    return "postgresql://" + url.split("://", 1)[1]


def recreate_database(url: str, *, template: str | None = None, marker: str = "bench") -> None:
    """Drop and create a harness's own database (a copy of `template` when given); refuses
    any name without `marker` in it, so a shared database is never dropped by mistake."""
    import psycopg

    name = database_name(url)
    if marker not in name:
        raise SystemExit(f"refusing to recreate {name!r}: the harness database's name must contain {marker!r}")
    with psycopg.connect(libpq(with_database(url, "postgres")), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))


def migrated_template(url: str, env: dict[str, str], *, marker: str = "bench") -> str:
    """The name of a migrated copy of the schema that benchmark databases are made from:
    migrating a fresh database every run would cost more than the quick run itself."""
    import psycopg

    template = f"{database_name(url)}_template"
    with psycopg.connect(libpq(with_database(url, "postgres")), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (template,)).fetchone():
            conn.execute(f'CREATE DATABASE "{template}"')
    migrate = [sys.executable, "manage.py", "migrate", "--noinput", "--verbosity", "0"]
    migrate_env = {**env, "DATABASE_URL": with_database(url, template)}
    if subprocess.run(migrate, cwd=ROOT, env=migrate_env).returncode:
        # Migrations rewritten since the template was made (another branch): start it afresh.
        recreate_database(with_database(url, template), marker=marker)
        subprocess.run(migrate, cwd=ROOT, env=migrate_env, check=True)
    return template


def raise_open_files_limit() -> None:
    """Let this process and its children (daphne, the socket clients) hold many sockets."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 65536, hard))


def machine() -> dict:
    load1, load5, load15 = os.getloadavg()
    return {
        "cores": os.cpu_count(),
        "load_avg_1m": round(load1, 2),
        "load_avg_5m": round(load5, 2),
        "load_avg_15m": round(load15, 2),
        "python": sys.version.split()[0],
    }


# --- Summaries ----------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    """The value below which `share` of `values` lie (nearest rank)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def spread(values: list[float]) -> dict:
    """Median of the rounds with min and max beside it."""
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return {"median": None, "min": None, "max": None, "rounds": []}
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "rounds": [round(v, 3) for v in values],
    }


@dataclass
class Rounds:
    """Per-round values of every figure, and every raw sample for the plots."""

    values: dict[str, list[float]] = field(default_factory=dict)
    samples: dict[str, list[float]] = field(default_factory=dict)

    def add(self, key: str, value: float | None) -> None:
        if value is not None:
            self.values.setdefault(key, []).append(value)

    def extend(self, key: str, samples: list[float]) -> None:
        self.samples.setdefault(key, []).extend(samples)

    def summary(self) -> dict[str, dict]:
        return {key: spread(vals) for key, vals in self.values.items()}


# --- Processes ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Proc:
    name: str
    process: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid


def start(name: str, argv: list[str], env: dict[str, str], *, log_dir: Path = LOG_DIR) -> Proc:
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{name}.log"
    out = open(log, "w")
    process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    return Proc(name, process, log)


def wait_for_line(proc: Proc, text: str, timeout: float = 60.0) -> None:
    """Wait until the process's log has a line containing `text` (it has started)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.process.poll() is not None:
            raise RuntimeError(f"{proc.name} exited early (code {proc.process.returncode}): see {proc.log}")
        if text in proc.log.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{proc.name} did not say {text!r} in {timeout:.0f}s: see {proc.log}")


def wait_for_port(proc: Proc, port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.process.poll() is not None:
            raise RuntimeError(f"{proc.name} exited early: see {proc.log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{proc.name} did not listen on {port} in {timeout:.0f}s: see {proc.log}")


def stop(procs: list[Proc], timeout: float = 30.0) -> None:
    """SIGTERM each process the harness started, then SIGKILL what is left after `timeout`."""
    for proc in procs:
        if proc.process.poll() is None:
            proc.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for proc in procs:
        try:
            proc.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.process.kill()
            proc.process.wait()


def start_workers(
    count: int, *, env: dict[str, str], concurrency: int, tag: str, first: int = 0, log_dir: Path = LOG_DIR
) -> list[Proc]:
    """`count` runworkflows processes, each ready (its start-up line printed) on return."""
    procs = [
        start(
            f"worker-{tag}-{i}",
            [
                sys.executable,
                "manage.py",
                "runworkflows",
                "--concurrency",
                str(concurrency),
                "--name",
                f"bench-{tag}-{i}",
            ],
            env,
            log_dir=log_dir,
        )
        for i in range(first, first + count)
    ]
    try:
        for proc in procs:
            wait_for_line(proc, "running with concurrency")
    except Exception:
        stop(procs)
        raise
    time.sleep(1.0)  # the line comes before the threads connect and LISTEN
    return procs


class RedisServer:
    """A private redis-server on a spare port that can be killed and started again on the
    same port, without touching the shared service."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 20.0) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while not redis_answers(self.port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.1)

    def stop(self) -> None:
        """SIGKILL: the server vanishes as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


# --- CPU time ---------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads, in seconds (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class CpuMeter:
    """CPU time spent by some processes between start() and stop(); for PostgreSQL, the
    backends serving one database (looked up at the end, so short-lived ones started during
    the phase count from zero)."""

    def __init__(self, pids: list[int] | None = None, *, pg_conn=None, datname: str | None = None):
        self.pids = pids or []
        self.pg_conn, self.datname = pg_conn, datname
        self.before: dict[int, float] = {}

    def _pids(self) -> list[int]:
        if self.pg_conn is None:
            return self.pids
        rows = self.pg_conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (self.datname,)
        ).fetchall()
        return [r[0] for r in rows]

    def start(self) -> None:
        self.before = {pid: cpu_seconds(pid) for pid in self._all()}

    def _all(self) -> list[int]:
        if self.pg_conn is None:
            return self.pids
        # Every postgres process now: backends of this database appear in pg_stat_activity.
        return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]

    def stop(self) -> float:
        return sum(max(0.0, cpu_seconds(pid) - self.before.get(pid, 0.0)) for pid in self._pids())
