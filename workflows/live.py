"""Publish node and status updates to the channel layer after commit.

Groups: `execution-<id>` for everything about one execution (viewer, widgets, SSE): one
`execution.update` per commit with its node updates and status; `tenant-<id>` for
execution status changes (live lists, `status.update`). Channels dispatches them to
consumer methods `execution_update` and `status_update`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from channels.layers import get_channel_layer
from django.db import DEFAULT_DB_ALIAS, transaction

logger = logging.getLogger("workflows.live")

# What a channel layer raises when its server is unreachable (a Redis restart or outage).
# Live connections end on these and ask their client to come back; publishers log them.
try:
    from redis.exceptions import ConnectionError as _RedisConnectionError
    from redis.exceptions import TimeoutError as _RedisTimeoutError

    LAYER_ERRORS: tuple[type[BaseException], ...] = (
        ConnectionError,
        TimeoutError,
        _RedisConnectionError,
        _RedisTimeoutError,
    )
except ImportError:  # the embedded default needs no Redis client
    LAYER_ERRORS = (ConnectionError, TimeoutError)


def execution_group(execution_id) -> str:
    return f"execution-{execution_id}"


def tenant_group(tenant_id) -> str:
    return f"tenant-{tenant_id}"


@dataclass
class RunUpdate:
    """What a node update says about a node run, without a model instance."""

    execution_id: Any
    node_id: str
    label: str
    status: str
    attempt: int = 0
    output: Any = None
    error: Any = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


def node_message(run) -> dict:
    return {
        "type": "node.update",
        "executionId": str(run.execution_id),
        "nodeId": run.node_id,
        "label": run.label,
        "status": run.status,
        "attempt": run.attempt,
        "output": run.output,
        "error": run.error,
        "startedAt": run.started_at.isoformat() if run.started_at else None,
        "finishedAt": run.finished_at.isoformat() if run.finished_at else None,
    }


def status_message(execution) -> dict:
    return {
        "type": "status.update",
        "executionId": str(execution.id),
        "workflowId": str(execution.workflow_id),
        "status": execution.status,
        "context": execution.context,
        "error": execution.error,
        "isTest": execution.is_test,
        "finishedAt": execution.finished_at.isoformat() if execution.finished_at else None,
    }


# Publishing never blocks the caller: messages go, in order, to one event loop per process.
# Under daphne that is the server's own loop (captured by LoopCaptureMiddleware), so the
# in-memory channel layer is only ever touched from the loop its consumers live on; in a
# standalone worker process it is a background loop thread kept for the process's life.
_server_loop: asyncio.AbstractEventLoop | None = None
_background_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def use_loop(loop: asyncio.AbstractEventLoop | None) -> None:
    """Publish on `loop` from now on (the ASGI server's loop, or a test's)."""
    global _server_loop
    _server_loop = loop


def _target_loop() -> asyncio.AbstractEventLoop:
    global _background_loop
    if _server_loop is not None and _server_loop.is_running():
        return _server_loop
    with _loop_lock:
        if _background_loop is None or _background_loop.is_closed():
            _background_loop = asyncio.new_event_loop()
            threading.Thread(target=_background_loop.run_forever, name="live-publisher", daemon=True).start()
        return _background_loop


def run_coroutine(coro, *, timeout: float):
    """Run `coro` on this process's publishing loop from another thread and return its
    result (a worker's health probe asks the channel layer through the connections its
    updates use)."""
    return asyncio.run_coroutine_threadsafe(coro, _target_loop()).result(timeout)


def send(messages: list[tuple[str, dict]]) -> None:
    """Queue (group, message) pairs for sending; a broken channel layer is logged, never raised."""
    if not messages:
        return
    loop = _target_loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        _enqueue(messages)
    else:
        loop.call_soon_threadsafe(_enqueue, messages)


# One queue and one sending task per loop, so messages leave in the order they were queued.
_queues: dict[asyncio.AbstractEventLoop, asyncio.Queue] = {}


def _enqueue(messages) -> None:
    loop = asyncio.get_running_loop()
    queue = _queues.get(loop)
    if queue is None:
        queue = _queues[loop] = asyncio.Queue()
        loop.create_task(_drain(queue))
    queue.put_nowait(messages)


async def _drain(queue: asyncio.Queue) -> None:
    task = asyncio.current_task()
    assert task is not None
    layer_down = False
    while True:
        # Everything queued meanwhile goes in one batch: a layer that can sends it together.
        batches = [await queue.get()]
        while not queue.empty():
            batches.append(queue.get_nowait())
        messages = [pair for batch in batches for pair in batch]
        try:
            layer = get_channel_layer()
            if layer is not None:
                await _send_all(layer, messages)
        except LAYER_ERRORS as exc:  # the engine must not fail because nobody can listen
            if not layer_down:
                logger.warning("live updates are not reaching the channel layer (%s); executions go on", exc)
            layer_down = True
        except Exception:
            logger.exception("could not publish %d live update(s)", len(messages))
        else:
            if layer_down:
                logger.info("live updates reach the channel layer again")
            layer_down = False
        finally:
            for _ in batches:
                queue.task_done()
        if task.cancelling():
            # Cancelled during a send, and the send went on: redis-py on Python 3.11 drops a
            # cancellation that lands as a write completes (workflows.layers). End as asked,
            # or the loop that cancelled this task to close waits for it for ever.
            raise asyncio.CancelledError


async def _send_all(layer, messages: list[tuple[str, dict]]) -> None:
    """Send (group, message) pairs in order; a layer with group_send_many gets them at once."""
    if hasattr(layer, "group_send_many"):
        await layer.group_send_many(messages)
        return
    for group, message in messages:
        await layer.group_send(group, message)


def flush(timeout: float = 5.0) -> None:
    """Wait until everything queued so far has been sent (for tests and shutdown)."""
    loop = _target_loop()
    try:
        if asyncio.get_running_loop() is loop:
            return
    except RuntimeError:
        pass

    async def drained():
        queue = _queues.get(loop)
        if queue is not None:
            await queue.join()

    asyncio.run_coroutine_threadsafe(drained(), loop).result(timeout)


class LoopCaptureMiddleware:
    """ASGI middleware: remember the server's event loop for publishing."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if _server_loop is None or not _server_loop.is_running():
            use_loop(asyncio.get_running_loop())
        return await self.app(scope, receive, send)


def publish_after_commit(*, runs=(), execution=None, using: str = DEFAULT_DB_ALIAS) -> None:
    """Queue, for after commit, one message per execution group carrying every node-run
    update of this transaction and the execution's status (`execution.update`), and the
    status alone to the tenant's group when it changed: one channel-layer send per step."""
    status = status_message(execution) if execution is not None else None
    updates: dict[str, dict] = {}
    for run in runs:
        update = updates.setdefault(str(run.execution_id), update_message(str(run.execution_id)))
        update["nodes"].append(node_message(run))
    if status is not None:
        updates.setdefault(status["executionId"], update_message(status["executionId"]))["status"] = status
    messages = [(execution_group(execution_id), update) for execution_id, update in updates.items()]
    if status is not None:
        messages.append((tenant_group(execution.tenant_id), status))
    if messages:
        transaction.on_commit(lambda: send(messages), using=using)


def update_message(execution_id: str) -> dict:
    """One commit's updates of an execution: node messages, then its status (or None). The
    update id lets each process's sockets merge it into their shared context once."""
    return {
        "type": "execution.update",
        "executionId": execution_id,
        "updateId": uuid.uuid4().hex,
        "nodes": [],
        "status": None,
    }


def split_update(message: dict) -> list[dict]:
    """The node and status messages an `execution.update` carries, in order (what a consumer
    that handles them one by one receives)."""
    parts = list(message.get("nodes") or [])
    if message.get("status"):
        parts.append(message["status"])
    return parts
