"""Bridge services: find what a widget may see, start its executions, pass its input on.

Everything here is synchronous ORM work called by the consumer (through
database_sync_to_async) and by the HTTP views. Tenant checks live here, once.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from workflows import engine, live
from workflows.exceptions import ExecutionFinished, InvalidState
from workflows.ids import as_uuid
from workflows.models import Execution, NodeRun, NodeRunStatus, Workflow
from workflows.selectors import tenant_ids_for
from workflows.services import trigger_workflow

from .exceptions import (
    Forbidden,
    InstanceFinished,
    InvalidConfig,
    NotFound,
    SyncTimeout,
)
from .models import Widget
from .nodes import INPUT_KEY
from .processing import Processed, process_context

WIDGET_INPUT_NODE = "widget-input"


@dataclass
class WidgetSpec:
    """What one widget needs to run and render: from its saved row, overridden by the request."""

    widget_id: str
    workflow_id: str | None = None
    widget_type: str | None = None
    widget_config: Any = None
    workflow_config: Any = None
    input_params: dict = field(default_factory=dict)

    def process(self, context: dict) -> Processed:
        return process_context(
            context,
            widget_type=self.widget_type,
            widget_config=self.widget_config,
            workflow_config=self.workflow_config,
        )


def check_requested_tenant(tenant_id: Any, obj_tenant_id, *, user) -> None:
    """A tenantID sent by the client must be one of the caller's and the object's own."""
    if tenant_id in (None, ""):
        return
    requested = as_uuid(tenant_id)
    if requested is None or requested not in tenant_ids_for(user) or requested != obj_tenant_id:
        raise Forbidden("tenantID is not the tenant of this workflow or one of yours", field="tenantID", what="tenant")


# Another tenant's object is not found, in the same words as one that does not exist: an
# answer must not tell that an id exists elsewhere.


def find_execution(instance_id: Any, *, user) -> Execution:
    """The execution if the caller's tenants include it, NotFound otherwise."""
    pk = as_uuid(instance_id)
    execution = (
        Execution.objects.select_related("workflow", "workflow_version")
        .filter(pk=pk, tenant_id__in=tenant_ids_for(user))
        .first()
        if pk
        else None
    )
    if execution is None:
        raise NotFound(f"Instance not found: {instance_id}", field="instanceID")
    return execution


def find_workflow(workflow_id: Any, *, user) -> Workflow:
    """The workflow if the caller's tenants include it, NotFound otherwise."""
    pk = as_uuid(workflow_id)
    workflow = Workflow.objects.filter(pk=pk, tenant_id__in=tenant_ids_for(user)).first() if pk else None
    if workflow is None:
        raise NotFound(f"Workflow not found: {workflow_id}", field="workflowID")
    return workflow


def saved_widget(widget_id: Any, *, user) -> Widget | None:
    """The caller's tenants' saved widget with this id, None when the id names none of theirs."""
    pk = as_uuid(widget_id)
    return Widget.objects.filter(pk=pk, tenant_id__in=tenant_ids_for(user)).first() if pk else None


def widget_spec(widget_id: Any, data: dict, *, user) -> WidgetSpec:
    """The widget's settings: a saved widget's, with anything the request gives on top."""
    if not isinstance(widget_id, str) or not widget_id.strip() or len(widget_id) > 200:
        raise InvalidConfig("widgetID must be a non-empty string of at most 200 characters", field="widgetID")
    saved = saved_widget(widget_id, user=user)
    spec = WidgetSpec(widget_id=widget_id)
    if saved is not None:
        spec = WidgetSpec(
            widget_id=widget_id,
            workflow_id=str(saved.workflow_id),
            widget_type=saved.widget_type,
            widget_config=saved.config,
            workflow_config=saved.workflow_config,
            input_params=dict(saved.input_params),
        )
    for key, attr in (
        ("workflowID", "workflow_id"),
        ("widgetType", "widget_type"),
        ("widgetConfig", "widget_config"),
        ("workflowConfig", "workflow_config"),
    ):
        if data.get(key) is not None:
            setattr(spec, attr, data[key])
    if data.get("inputParams") is not None:
        if not isinstance(data["inputParams"], dict):
            raise InvalidConfig("inputParams must be an object", field="inputParams")
        spec.input_params = {**spec.input_params, **data["inputParams"]}
    if spec.widget_type is not None and not isinstance(spec.widget_type, str):
        raise InvalidConfig("widgetType must be a string", field="widgetType")
    if spec.widget_config is not None and not isinstance(spec.widget_config, (dict, list, str)):
        raise InvalidConfig("widgetConfig must be an object", field="widgetConfig")
    return spec


def start_execution(
    spec: WidgetSpec, *, user, tenant_id: Any = None, execution_id: uuid.UUID | None = None
) -> Execution:
    """Start an execution for the widget (committed on return). The consumer passes the
    `execution_id` whose live group it joined already, so no update goes past it."""
    if not spec.workflow_id:
        if as_uuid(spec.widget_id) is not None:  # it names a saved widget, none of the caller's
            raise NotFound(f"Widget not found: {spec.widget_id}", field="widgetID")
        raise InvalidConfig("workflowID is required to start an execution", field="workflowID")
    workflow = find_workflow(spec.workflow_id, user=user)
    check_requested_tenant(tenant_id, workflow.tenant_id, user=user)
    result = trigger_workflow(
        workflow_id=workflow.pk,
        user_name=user.get_username(),
        input=spec.input_params,
        tenant_ids=tenant_ids_for(user),
        execution_id=execution_id,
    )
    return reload(result.execution_id)


def refreshed_spec(spec: WidgetSpec, input_params: Any) -> WidgetSpec:
    """A connected widget's spec for a refresh: the same, with `input_params` on top."""
    if input_params is None:
        return replace(spec)
    if not isinstance(input_params, dict):
        raise InvalidConfig("inputParams must be an object", field="inputParams")
    return replace(spec, input_params={**spec.input_params, **input_params})


def workflow_meta(execution: Execution) -> dict:
    return {
        "workflowID": str(execution.workflow_id),
        "workflowName": execution.workflow.name,
        "version": execution.workflow_version.number,
        "status": execution.status,
        "startedAt": execution.started_at.isoformat() if execution.started_at else None,
    }


def reload(execution_id) -> Execution:
    return Execution.objects.select_related("workflow", "workflow_version").get(pk=execution_id)


def send_input(*, user, instance_id: Any, widget_id: str, input_type: Any, data: Any) -> dict:
    """Write `__widgetInput` with the execution's compare-and-swap, then resume the
    widget-input nodes waiting for it. Returns the written value and the resumed nodes."""
    if not isinstance(input_type, str) or not input_type:
        raise InvalidConfig("inputType must be a non-empty string", field="inputType")
    execution = find_execution(instance_id, user=user)
    value = {
        "id": uuid.uuid4().hex,
        "inputType": input_type,
        "data": data,
        "widgetID": widget_id,
        "userName": user.get_username(),
        "receivedAt": timezone.now().isoformat(),
    }
    # The compare-and-swap makes "not finished" and the write one step: a finishing node
    # commits before (we refuse) or after (its compare-and-swap sees our input).
    try:
        engine.write_context(execution.pk, INPUT_KEY, value, unless_finished=True)
    except ExecutionFinished as exc:
        raise InstanceFinished(f"The instance is already {exc.status}", field="instanceID") from None
    publish_context_write(execution.pk, {INPUT_KEY: value})
    return {"value": value, "resumedNodes": resume_waiting_nodes(execution.pk, value)}


def publish_context_write(execution_id, writes: dict) -> None:
    """Tell the execution's live group, after commit, about context keys written outside a
    node, so its widgets see them now rather than with the next node's update. It travels
    as an `execution.update` like an engine commit's, with `contextWrites` and no nodes."""
    message = live.update_message(str(execution_id))
    message["contextWrites"] = writes
    transaction.on_commit(lambda: live.send([(live.execution_group(execution_id), message)]))


def resume_waiting_nodes(execution_id, value: dict) -> list[str]:
    """Resume every paused widget-input node of the execution that accepts this input."""
    resumed = []
    waiting = NodeRun.objects.filter(
        execution_id=execution_id, status=NodeRunStatus.PAUSED, node_type=WIDGET_INPUT_NODE
    ).values_list("pk", flat=True)

    def accepts(run: NodeRun) -> bool:
        wanted = (run.pause_data or {}).get("inputType")
        return not wanted or wanted == value["inputType"]

    for pk in list(waiting):
        try:
            run = engine.resume_node_run(
                pk, output=value, accept=accepts, message=f"Widget input {value['inputType']!r} received"
            )
        except InvalidState:
            continue  # resumed or cancelled meanwhile
        if run is not None:
            resumed.append(run.node_id)
    return resumed


def wait_for_end(execution_id, *, timeout: float | None = None) -> Execution:
    """Block until the execution finishes (SYNC mode); SyncTimeout after `timeout` seconds."""
    limit = settings.WIDGET_SYNC_TIMEOUT_SECONDS if timeout is None else timeout
    deadline = time.monotonic() + limit
    while True:
        execution = reload(execution_id)
        if execution.is_finished:
            return execution
        if time.monotonic() >= deadline:
            raise SyncTimeout(
                f"The execution did not finish within {limit:g}s; subscribe to instance {execution_id}",
                field="instanceID",
            )
        time.sleep(settings.WIDGET_SYNC_POLL_SECONDS)
