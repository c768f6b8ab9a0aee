"""What widget sockets send for a commit's updates, worked out once per process.

Every socket of a daphne process that watches an execution receives the same
`execution.update` (workflows.live). The merged context and each widget's processed data are
the same for all of them, so the first socket to handle an update merges it into the one
context this process keeps for that execution, and each distinct widget configuration is
processed once per context revision; the other sockets reuse both. A socket's own state is
its widgets and the executions it watches, not a copy of their context.

A socket handles updates in the order they were published, so the first socket to handle an
update has handled every earlier one: the shared context sees updates in order.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from workflows.nodes import merge_output

from .processing import Processed

COMPLETED_NODE_STATUSES = ("success", "error")
REMEMBERED_UPDATES = 64  # updates per execution whose outcome is kept for the slower sockets


@dataclass
class Applied:
    """What one update changed: the context entries it wrote and the last node it completed."""

    revision: int
    diff: dict
    node: dict | None


@dataclass
class Watched:
    """One execution as the sockets of this process see it."""

    context: dict
    revision: int = 0
    sockets: int = 0
    applied: OrderedDict = field(default_factory=OrderedDict)
    processed: dict = field(default_factory=dict)  # spec key -> (revision, Processed)


_watched: dict[str, Watched] = {}


def watch(instance_id: str, context: dict) -> None:
    """A socket starts watching: the context it read seeds the process's copy if it has none."""
    entry = _watched.get(instance_id)
    if entry is None:
        entry = _watched[instance_id] = Watched(context=dict(context or {}))
    entry.sockets += 1


def unwatch(instance_id: str) -> None:
    entry = _watched.get(instance_id)
    if entry is None:
        return
    entry.sockets -= 1
    if entry.sockets <= 0:
        del _watched[instance_id]


def watched_count() -> int:
    return len(_watched)


def context(instance_id: str) -> dict:
    entry = _watched.get(instance_id)
    return entry.context if entry is not None else {}


def apply(message: dict) -> Applied | None:
    """Merge an `execution.update` into the process's context of its execution, once.

    Context keys written outside a node (`contextWrites`: a widget's input) are set as
    they are; completed nodes write their output (or their error) under their label; a
    status that carries the context replaces it. None when no socket here watches the
    execution."""
    entry = _watched.get(message["executionId"])
    if entry is None:
        return None
    key = message.get("updateId")
    if key is not None and key in entry.applied:
        return entry.applied[key]
    writes = message.get("contextWrites") or {}
    merged, node = {**entry.context, **writes}, None
    for part in message.get("nodes") or ():
        if part["status"] not in COMPLETED_NODE_STATUSES:
            continue
        node = part
        if part["status"] == "success":
            merged = merge_output(merged, part["label"], output=part.get("output"))
        else:
            merged = merge_output(merged, part["label"], error=(part.get("error") or {}).get("message"))
    diff = {
        **writes,
        **{
            part["label"]: merged[part["label"]]
            for part in message.get("nodes") or ()
            if part["status"] in COMPLETED_NODE_STATUSES
        },
    }
    status = message.get("status") or {}
    entry.context = dict(status["context"]) if status.get("context") is not None else merged
    if diff or status.get("context") is not None:
        entry.revision += 1
    applied = Applied(revision=entry.revision, diff=diff, node=node)
    if key is not None:
        entry.applied[key] = applied
        while len(entry.applied) > REMEMBERED_UPDATES:
            entry.applied.popitem(last=False)
    return applied


def spec_key(spec) -> str:
    """Widgets with the same type and configuration process a context the same way."""
    return json.dumps([spec.widget_type, spec.widget_config, spec.workflow_config], sort_keys=True, default=str)


def processed(instance_id: str, spec, key: str) -> Processed:
    """The widget's processed data for the process's current context of the execution."""
    entry = _watched.get(instance_id)
    if entry is None:
        return spec.process({})
    cached = entry.processed.get(key)
    if cached is not None and cached[0] == entry.revision:
        return cached[1]
    result = spec.process(entry.context)
    entry.processed[key] = (entry.revision, result)
    return result


def context_update(
    widget_id: str, instance_id: str, applied: Applied, result: Processed, *, status: dict | None = None
) -> dict[str, Any]:
    """The one `widget_context_update` a widget gets for an update: what changed in the
    context (`contextDiff`), the processed data, the node that completed, and the execution's
    status when the same commit changed it (`executionStatus`, else None)."""
    node = applied.node or {}
    return {
        "widgetID": widget_id,
        "instanceID": instance_id,
        "update": {
            "processedData": result.data,
            "processingError": result.error,
            "contextDiff": applied.diff,
            "nodeID": node.get("nodeId"),
            "label": node.get("label"),
            "status": node.get("status"),
            "attempt": node.get("attempt"),
            "error": node.get("error"),
            "finishedAt": node.get("finishedAt"),
            "executionStatus": status["status"] if status else None,
        },
    }
