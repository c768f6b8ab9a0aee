"""A node type for tests: records every step it runs, so tests can count executions of
each (node run, attempt)."""
import threading
import time

from workflows.nodes import NodeType

RECORDED: list[tuple] = []
# The database session each step ran beside (PostgreSQL backend pid), to see connections kept.
SESSIONS: list[int] = []
_lock = threading.Lock()


def run_record(config, ctx):
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
    return {"attempt": ctx.attempt}


NODE_TYPES = [NodeType(type="test/record", label="Record", run=run_record)]
