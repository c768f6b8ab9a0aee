"""Child executions: started by Trigger Workflow and For Each, finishing their parent node."""
from __future__ import annotations

from django.conf import settings

from .models import Execution, ExecutionStatus, NodeRun, NodeRunStatus
from .nodes import NodeError

FOR_EACH = "for-each"


def start_children(parent_run: NodeRun, *, workflow_id, inputs: list[dict]) -> list[Execution]:
    """Start one child execution per input, in the parent's transaction."""
    from .engine import start_execution
    from .models import Workflow

    from .services import as_uuid

    parent = Execution.objects.select_related("run_as").get(pk=parent_run.execution_id)
    pk = as_uuid(workflow_id)
    workflow = Workflow.objects.filter(pk=pk, tenant_id=parent.tenant_id).first() if pk else None
    if workflow is None:
        raise NodeError(f"Workflow not found: {workflow_id}", retryable=False)
    version = workflow.latest_version
    if version is None or not workflow.is_active:
        raise NodeError(f"Workflow {workflow.name!r} is inactive or has no version", retryable=False)
    depth, ancestor = 1, parent
    while ancestor.parent_execution_id:
        depth += 1
        ancestor = Execution.objects.only("parent_execution_id").get(pk=ancestor.parent_execution_id)
    if depth > settings.WORKFLOW_MAX_CHILD_DEPTH:
        raise NodeError(f"Sub-workflows nest deeper than {settings.WORKFLOW_MAX_CHILD_DEPTH} levels", retryable=False)
    return [
        start_execution(
            version=version,
            run_as=parent.run_as,
            input=child_input,
            parent_node_run=parent_run,
            parent_index=index,
            is_test=parent.is_test,
        )
        for index, child_input in enumerate(inputs)
    ]


def child_finished(execution: Execution) -> None:
    """Called in the transaction that finishes a child: resume the parent node when every
    sibling is done (the parent row lock serialises siblings finishing together)."""
    from .engine import resume_node_run

    # Lock order as everywhere: the (parent) execution row, then its node run.
    Execution.objects.select_for_update().filter(pk=execution.parent_execution_id).first()
    parent_run = NodeRun.objects.select_for_update().filter(pk=execution.parent_node_run_id).first()
    if parent_run is None or parent_run.status != NodeRunStatus.PAUSED:
        return
    # Only the children this attempt started: a retried node keeps its row, and the
    # children of earlier attempts stay linked to it.
    current = (parent_run.pause_data or {}).get("childExecutionIds") or []
    siblings = list(
        Execution.objects.filter(parent_node_run_id=parent_run.pk, pk__in=current)
        .order_by("parent_index")
        .values("id", "status", "context", "error")
    )
    failed = [s for s in siblings if s["status"] in (ExecutionStatus.ERROR, ExecutionStatus.CANCELLED)]
    if failed:
        first = failed[0]
        message = (first["error"] or {}).get("message", first["status"])
        # Resume first: the siblings cancelled below then find the parent no longer paused.
        resume_node_run(parent_run.pk, error=f"Child execution {first['id']} {first['status']}: {message}")
        for sibling in siblings:
            if sibling["status"] in (ExecutionStatus.RUNNING, ExecutionStatus.PAUSED):
                _cancel_if_active(sibling["id"], "A sibling execution failed")
        return
    if any(s["status"] != ExecutionStatus.SUCCESS for s in siblings):
        return
    if parent_run.node_type == FOR_EACH:
        output = {"results": [s["context"] for s in siblings], "count": len(siblings)}
    else:
        output = siblings[0]["context"]
    resume_node_run(parent_run.pk, output=output, message=f"{len(siblings)} child execution(s) finished")


def cancel_children(parent_run: NodeRun) -> None:
    for child_id in Execution.objects.filter(
        parent_node_run_id=parent_run.pk, status__in=[ExecutionStatus.RUNNING, ExecutionStatus.PAUSED]
    ).values_list("id", flat=True):
        _cancel_if_active(child_id, "Parent node cancelled")


def _cancel_if_active(execution_id, reason: str) -> None:
    from .engine import cancel_execution
    from .exceptions import InvalidState

    try:
        cancel_execution(execution_id, reason=reason)
    except InvalidState:
        pass  # it finished in the meantime
