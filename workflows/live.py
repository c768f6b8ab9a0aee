"""Publish node and status updates to the channel layer after commit.

Groups: `execution-<id>` for everything about one execution (viewer, widgets, SSE) and
`tenant-<id>` for execution status changes (live lists). Messages are dispatched by
Channels to consumer methods `node_update` and `status_update`.
"""
from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger("workflows.live")


def execution_group(execution_id) -> str:
    return f"execution-{execution_id}"


def tenant_group(tenant_id) -> str:
    return f"tenant-{tenant_id}"


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


def send(messages: list[tuple[str, dict]]) -> None:
    """Send (group, message) pairs now; a broken channel layer is logged, never raised."""
    layer = get_channel_layer()
    if layer is None or not messages:
        return
    try:
        async_to_sync(_send_all)(layer, messages)
    except Exception:  # the engine must not fail because nobody can listen
        logger.exception("could not publish %d live update(s)", len(messages))


async def _send_all(layer, messages):
    for group, message in messages:
        await layer.group_send(group, message)


def publish_after_commit(*, runs=(), execution=None) -> None:
    """Queue updates for these node runs and this execution's status for after commit."""
    messages = [(execution_group(run.execution_id), node_message(run)) for run in runs]
    if execution is not None:
        status = status_message(execution)
        messages.append((execution_group(execution.id), status))
        messages.append((tenant_group(execution.tenant_id), status))
    if messages:
        transaction.on_commit(lambda: send(messages))
