"""A node type for tests: records every step it runs, so tests can count executions of
each (node run, attempt)."""
import threading
import time

from workflows.nodes import NodeType

RECORDED: list[tuple] = []
_lock = threading.Lock()


def run_record(config, ctx):
    delay = float(config.get("sleep") or 0)
    if delay:
        time.sleep(delay)
    with _lock:
        RECORDED.append((ctx.node_run_id, ctx.attempt, threading.current_thread().name))
    return {"attempt": ctx.attempt}


NODE_TYPES = [NodeType(type="test/record", label="Record", run=run_record)]
