"""Health probes for load balancers and Kubernetes, the same for web processes and workers.

- Liveness: the process answers (no database, no channel layer: a database outage must not
  get every process restarted).
- Readiness: the database answers and every migration is applied, and the channel layer
  answers. A failed probe names what failed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from . import live, store
from .exceptions import error_body

logger = logging.getLogger("workflows.health")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    message: str = "ok"


# Once every migration was found applied, it stays so for the life of the process (migrations
# are not unapplied under running code), so later probes skip reading them from disk.
_migrated = False


def database_checks() -> list[Check]:
    """The database answers, and every migration is applied (asked only when it answers)."""
    try:
        store.ping_database()
    except Exception as exc:
        connection.close()  # a broken connection must not be lent again
        return [Check("database", False, _describe(exc))]
    return [Check("database", True), _migrations()]


def _migrations() -> Check:
    global _migrated
    if _migrated:
        return Check("migrations", True)
    try:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as exc:
        return Check("migrations", False, _describe(exc))
    if plan:
        names = ", ".join(f"{m.app_label}.{m.name}" for m, _ in plan[:5])
        more = f" and {len(plan) - 5} more" if len(plan) > 5 else ""
        return Check("migrations", False, f"{len(plan)} not applied: {names}{more}")
    _migrated = True
    return Check("migrations", True)


def forget_migrations() -> None:
    """Check the migrations again at the next probe (tests)."""
    global _migrated
    _migrated = False


async def channel_layer_check() -> Check:
    """A round trip to every server of the channel layer (a PING to each Redis host); an
    in-memory layer always answers."""
    layer = get_channel_layer()
    if layer is None or not (hasattr(layer, "ring_size") and hasattr(layer, "connection")):
        # The in-memory layer lives in this process: nothing to reach.
        return Check("channelLayer", True, f"{type(layer).__name__}: in this process" if layer else "none configured")
    timeout = settings.WORKFLOW_HEALTH_TIMEOUT_SECONDS
    try:
        for index in range(layer.ring_size):
            await asyncio.wait_for(layer.connection(index).ping(), timeout)
    except Exception as exc:
        return Check("channelLayer", False, _describe(exc))
    return Check("channelLayer", True)


async def areadiness() -> list[Check]:
    """Every readiness check, from an async view (daphne)."""
    checks = await sync_to_async(database_checks)()
    return [*checks, await channel_layer_check()]


def readiness() -> list[Check]:
    """Every readiness check, from a plain thread (a worker's health server): the channel
    layer is asked on the loop the worker publishes live updates on."""
    try:
        layer = live.run_coroutine(channel_layer_check(), timeout=settings.WORKFLOW_HEALTH_TIMEOUT_SECONDS + 1)
    except Exception as exc:
        layer = Check("channelLayer", False, _describe(exc))
    return [*database_checks(), layer]


def readiness_body(checks: list[Check]) -> tuple[int, dict]:
    """The HTTP status and JSON body of a readiness answer: 200, or 503 naming what failed."""
    detail = {c.name: {"ok": c.ok, "message": c.message} for c in checks}
    failed = [c for c in checks if not c.ok]
    if not failed:
        return 200, {"status": "ready", "checks": detail}
    message = "Not ready: " + "; ".join(f"{c.name}: {c.message}" for c in failed)
    return 503, error_body(
        code="not_ready", message=message, status="unavailable", failed=[c.name for c in failed], checks=detail
    )


def liveness_body() -> dict:
    return {"status": "alive"}


def serve_probes(*, host: str, port: int, alive: Callable[[], bool]) -> HTTPServer:
    """Serve `GET /healthz` and `GET /readyz` on a daemon thread (a worker has no web server).
    One request at a time, borrowing a database connection for each readiness probe: probes
    are few, and a probe that waits is a probe that fails, as a stuck process should."""

    class Handler(BaseHTTPRequestHandler):
        timeout = 10  # a client that sends nothing does not hold the server

        def do_GET(self):
            path = self.path.split("?", 1)[0].rstrip("/")
            if path == "/healthz":
                ok = alive()
                self._send(
                    200 if ok else 503,
                    liveness_body()
                    if ok
                    else error_body(
                        code="not_alive", message="The worker's timer loop has not run lately", status="stuck"
                    ),
                )
            elif path == "/readyz":
                try:
                    self._send(*readiness_body(readiness()))
                finally:
                    connection.close()  # back to the pool: the worker's threads need every one
            else:
                self._send(404, error_body(code="not_found", message=f"No probe at {path}: use /healthz or /readyz"))

        def _send(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format, *args):
            logger.debug("probe %s", format % args)

    server = HTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="health-probes", daemon=True).start()
    return server


def _describe(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return f"no answer within {settings.WORKFLOW_HEALTH_TIMEOUT_SECONDS:g} s"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
