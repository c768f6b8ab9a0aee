"""A node type for tests: records every step it runs, so tests can count executions of
each (node run, attempt)."""

import threading
import time

from workflows.nodes import NodeType

RECORDED: list[tuple] = []
# The database session each step ran beside (PostgreSQL backend pid), to see connections kept.
SESSIONS: list[int] = []
# (node run id, attempt, idempotency key) of every step.
KEYS: list[tuple] = []
_lock = threading.Lock()


def run_record(config, ctx):
    with _lock:
        KEYS.append((ctx.node_run_id, ctx.attempt, ctx.idempotency_key))
    if config.get("failFirst") and ctx.attempt == 1:
        from workflows.nodes import NodeError

        raise NodeError("the first attempt fails")
    if config.get("exit") and ctx.attempt == 1:
        raise SystemExit("a step that ends its thread")
    if config.get("killSession"):
        kill_own_session()
    if config.get("startedFile"):  # tells a test in another process that the step is running
        open(config["startedFile"], "w").close()
    delay = float(config.get("sleep") or 0)
    if delay:
        time.sleep(delay)
    from django.db import connection

    session = None
    if connection.vendor == "postgresql":
        connection.ensure_connection()
        session = connection.connection.info.backend_pid
    with _lock:
        RECORDED.append((ctx.node_run_id, ctx.attempt, threading.current_thread().name))
        if session is not None:
            SESSIONS.append(session)
    if config.get("badOutput"):  # what an HTTP response may carry, and PostgreSQL cannot store
        ctx.logger.info("read \x00 and \ud800 from the response")
        return {"text": {"nul": "a\x00b", "surrogate": "\ud800"}[config["badOutput"]]}
    return {"attempt": ctx.attempt}


def kill_own_session():
    """End this thread's PostgreSQL session from another connection, as a server restart or
    an idle timeout would."""
    import psycopg
    from django.db import connection

    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    params = connection.get_connection_params()
    conninfo = psycopg.conninfo.make_conninfo(
        **{k: v for k, v in params.items() if k in ("dbname", "user", "password", "host", "port")}
    )
    with psycopg.connect(conninfo, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", (pid,))


NODE_TYPES = [NodeType(type="test/record", label="Record", run=run_record)]
