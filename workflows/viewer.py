"""What the execution viewer shows: the snapshot of one execution and its page data.

The snapshot is the same JSON the SSE stream sends first and the page embeds, so the
browser renders one shape whether it comes from the page or from a reconnect.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.utils.dateparse import parse_datetime

from .api.serializers import ExecutionDetailSerializer
from .layout import layout
from .models import Execution
from .operator import is_member
from .selectors import executions_for, version_input_fields
from .testruns import source_workflow_id

STATUS_ICONS = {
    "idle": "○",
    "running": "▶",
    "paused": "‖",
    "success": "✓",
    "error": "✕",
    "skipped": "↷",
    "cancelled": "⊘",
}
NODE_STATUSES = list(STATUS_ICONS)
# Keys a paused node's pause_data (or output) may carry, shown generically.
WAITING_KEYS = ("approvalRequestId", "eventNamespace", "eventKey", "until")


def viewer_executions(user):
    return executions_for(user).select_related("workflow", "workflow_version", "run_as")


def snapshot(execution: Execution, user=None) -> dict:
    """The execution with its node runs, graph layout and derived links, as camelCase JSON;
    `user` is who looks (the actions and pause details offered depend on it)."""
    data = dict(ExecutionDetailSerializer(execution, context={"user": user}).data)
    data["nodeRuns"] = [{**run, "waiting": waiting_info(run)} for run in data["nodeRuns"]]
    return {
        "execution": data,
        "graph": layout(execution.workflow_version.definition).as_dict(),
        "sourceWorkflowId": str(source_workflow_id(execution.workflow) or execution.workflow_id),
    }


def waiting_info(run: dict) -> dict:
    """What a paused (or finished waiting) node waits for, from its pauseData or output."""
    info: dict[str, Any] = {}
    for source in (run.get("output"), run.get("pauseData")):
        if isinstance(source, dict):
            info.update({k: source[k] for k in WAITING_KEYS if source.get(k) not in (None, "")})
    if "approvalRequestId" in info:
        info["approvalUrl"] = f"/workflows/approvals/{info['approvalRequestId']}"
    return info


def duration_seconds(started: str | datetime | None, finished: str | datetime | None) -> float | None:
    start = parse_datetime(started) if isinstance(started, str) else started
    end = parse_datetime(finished) if isinstance(finished, str) else finished
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


def format_duration(seconds: float | None) -> str:
    """A short human duration: 850 ms, 12.3 s, 4 min 05 s, 2 h 03 min."""
    if seconds is None:
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


def timeline(node_runs: list[dict]) -> list[dict]:
    """Node runs that started, in the order they started, with their durations."""
    started = [run for run in node_runs if run.get("startedAt")]
    started.sort(key=lambda run: run["startedAt"])
    return [
        {**run, "durationText": format_duration(duration_seconds(run["startedAt"], run.get("finishedAt")))}
        for run in started
    ]


def can_operate(user, execution: Execution) -> bool:
    """Whether `user` may cancel or retry: any member of the execution's tenant (as the API)."""
    return is_member(user, execution.tenant_id)


def page_data(execution: Execution, user, *, dom_prefix: str = "") -> dict:
    """Everything the viewer partial renders on the server before JavaScript takes over."""
    snap = snapshot(execution, user)
    runs = {run["nodeId"]: run for run in snap["execution"]["nodeRuns"]}
    nodes = []
    for node in snap["graph"]["nodes"]:
        run = runs.get(node["id"], {})
        status = run.get("status", "idle")
        nodes.append(
            {**node, "status": status, "icon": STATUS_ICONS.get(status, "?"), "attempt": run.get("attempt", 0)}
        )
    return {
        "snapshot": snap,
        "execution": execution,
        "nodes": nodes,
        "edges": snap["graph"]["edges"],
        "width": snap["graph"]["width"],
        "height": snap["graph"]["height"],
        "timeline": timeline(list(runs.values())),
        "legend": [(status, STATUS_ICONS[status]) for status in NODE_STATUSES],
        "can_operate": can_operate(user, execution),
        "actions": set(snap["execution"]["allowedActions"]),
        "context_json": json.dumps(execution.context, indent=2, default=str),
        "dom_id": f"{dom_prefix}{execution.pk}",
        "script_id": f"viewer-data-{dom_prefix}{execution.pk}",
        "input_json": json.dumps(execution.input, indent=2, default=str),
        "input_fields": version_input_fields(execution.workflow_version.definition),
        "operator_actions": list(execution.operator_actions.order_by("created_at", "id")),
        "retry_nodes": [n for n in snap["graph"]["nodes"] if n.get("type") != "trigger"],
        "duration": format_duration(duration_seconds(execution.started_at, execution.finished_at)),
    }
