"""Child executions: started by Trigger Workflow and For Each. When the last of them
finishes, the engine resumes their parent node (engine._resume_parent)."""

from __future__ import annotations

from django.conf import settings

from . import engine
from .engine import FOR_EACH
from .exceptions import InvalidInput
from .ids import as_uuid
from .models import Execution, ExecutionStatus, NodeRun, Workflow
from .nodes import NodeError

__all__ = ["FOR_EACH", "start_children", "cancel_children"]


def start_children(parent_run: NodeRun, *, workflow_id, inputs: list[dict]) -> list[Execution]:
    """Start one child execution per input, in the parent's transaction."""
    parent = Execution.objects.get(pk=parent_run.execution_id)
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
    try:
        return [
            engine.start_execution(
                version_id=version.pk,
                run_as_id=parent.run_as_id,
                input=child_input,
                parent_node_run=parent_run,
                parent_index=index,
                is_test=parent.is_test,
            )
            for index, child_input in enumerate(inputs)
        ]
    except InvalidInput as exc:
        # The child's input schema refused it: the same input would be refused again.
        raise NodeError(
            f"Workflow {workflow.name!r} refused the input: {exc.message}",
            retryable=False,
            details={"field": exc.field, "errors": exc.errors},
        ) from None


def cancel_children(parent_run: NodeRun) -> None:
    """The parent node's cancel hook: cancel the children still running or paused."""
    for child_id in Execution.objects.filter(
        parent_node_run_id=parent_run.pk, status__in=[ExecutionStatus.RUNNING, ExecutionStatus.PAUSED]
    ).values_list("id", flat=True):
        engine.cancel_if_active(child_id, reason="Parent node cancelled")
