"""Test runs: start one of a workflow's current or unsaved definition, run one again from a
chosen node ("run from here"), and clean old ones up.

An unsaved definition is validated and stored as a version of a hidden *draft workflow*
that belongs to the real one: inactive (so nothing but a test run starts it), marked by
its description `test-draft-of:<workflow id>`, left out of the workflow pages and API
lists. The real workflow's versions stay untouched, so "latest" never means a draft.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from . import engine
from .definition import validate_definition
from .durations import parse_duration
from .exceptions import InvalidInput, InvalidState
from .models import Execution, ExecutionStatus, NodeRun, Workflow, WorkflowVersion
from .nodes import registry
from .services import run_trigger_checks

logger = logging.getLogger("workflows.testruns")

DRAFT_MARKER = "test-draft-of:"


def is_draft(workflow: Workflow) -> bool:
    return workflow.description.startswith(DRAFT_MARKER) and not workflow.is_active


def source_workflow_id(workflow: Workflow) -> str | None:
    """The id of the workflow a draft belongs to, or None for a real workflow."""
    return workflow.description[len(DRAFT_MARKER) :] if is_draft(workflow) else None


def drafts_filter() -> Q:
    """Matches draft workflows (use with ~ to leave them out)."""
    return Q(description__startswith=DRAFT_MARKER, is_active=False)


def draft_version(workflow: Workflow, definition: dict, *, user) -> WorkflowVersion:
    """The version that runs `definition` for a test: the workflow's latest when equal,
    else a version of its draft workflow (one per distinct definition)."""
    latest = workflow.latest_version
    if latest is not None and latest.definition == definition:
        return latest
    validate_definition(definition, registry)
    marker = f"{DRAFT_MARKER}{workflow.pk}"
    with transaction.atomic():
        Workflow.objects.select_for_update().filter(pk=workflow.pk).first()  # one draft per workflow
        draft = Workflow.objects.filter(tenant_id=workflow.tenant_id, description=marker, is_active=False).first()
        if draft is None:
            draft = Workflow.objects.create(
                tenant_id=workflow.tenant_id,
                name=f"{workflow.name} (test draft)",
                description=marker,
                is_active=False,
                created_by=user,
            )
        # JSON equality lookups differ across backends (key order, numbers): compare in Python.
        existing = next((v for v in draft.versions.all() if v.definition == definition), None)
        if existing is not None:
            return existing
        number = (draft.versions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
        return WorkflowVersion.objects.create(workflow=draft, number=number, definition=definition, created_by=user)


def start_test_run(*, workflow: Workflow, user, input: Any = None, definition: Any = None) -> Execution:
    """Start a test execution of the workflow's latest version, or of `definition` when given."""
    if input is None:
        input = {}
    if not isinstance(input, dict):
        raise InvalidInput("input must be a JSON object", field="input")
    if definition is not None and not isinstance(definition, dict):
        raise InvalidInput("definition must be a JSON object with nodes and edges", field="definition")

    with transaction.atomic():  # a refused check leaves no draft behind
        if definition is None:
            version = workflow.latest_version
            if version is None:
                raise InvalidInput("The workflow has no saved version", field="definition")
        else:
            version = draft_version(workflow, definition, user=user)
        run_trigger_checks(version=version, user=user)
        return engine.start_execution(version_id=version.pk, run_as_id=user.pk, input=input, is_test=True)


def real_workflow(workflow: Workflow) -> Workflow:
    """The workflow a draft belongs to (a real workflow is its own)."""
    source = source_workflow_id(workflow)
    return Workflow.objects.get(pk=source) if source else workflow


def run_from_here(*, execution: Execution, node_id: str, user, definition: Any = None) -> Execution:
    """Copy a finished test run and run the copy again from `node_id`, keeping the outputs
    of the nodes before it (the engine's retry from a node, on the copy). With `definition`
    the copy runs that unsaved definition, whose nodes before `node_id` must match the run's.
    The original, and any production execution, is never touched."""
    if not execution.is_test or execution.parent_execution_id is not None:
        raise InvalidState(
            "Run from here works on a test run started from the workflow; start one first", field="executionId"
        )
    if not execution.is_finished:
        raise InvalidState(f"The test run is still {execution.status}; wait for it or stop it first", field="status")
    if definition is not None and not isinstance(definition, dict):
        raise InvalidInput("definition must be a JSON object with nodes and edges", field="definition")
    with transaction.atomic():
        if definition is None:
            version = execution.workflow_version
        else:
            version = draft_version(real_workflow(execution.workflow), definition, user=user)
        run_trigger_checks(version=version, user=user)
        copy = _copy_run(execution, user=user, workflow=version.workflow)
        engine.retry_execution(copy.pk, from_node=node_id, version=version)
    return Execution.objects.get(pk=copy.pk)


RUN_FIELDS = (
    "node_id",
    "node_type",
    "label",
    "status",
    "branch",
    "attempt",
    "resolved_config",
    "output",
    "error",
    "pause_data",
    "logs",
    "started_at",
    "finished_at",
)


def _copy_run(execution: Execution, *, user, workflow: Workflow) -> Execution:
    """A finished test execution with the same node runs, run as `user` (the retry resets
    the copy from the chosen node on)."""
    copy = Execution.objects.create(
        tenant_id=execution.tenant_id,
        workflow=workflow,
        workflow_version_id=execution.workflow_version_id,
        status=execution.status,
        input=execution.input,
        context=execution.context,
        run_as=user,
        error=execution.error,
        is_test=True,
        started_at=execution.started_at,
        finished_at=execution.finished_at,
    )
    NodeRun.objects.bulk_create(
        NodeRun(execution=copy, **{name: getattr(run, name) for name in RUN_FIELDS})
        for run in execution.node_runs.all()
    )
    return copy


def max_age() -> timedelta:
    return parse_duration(settings.WORKFLOW_TEST_RUN_MAX_AGE)


def cleanup_test_runs(*, older_than: timedelta | None = None, dry_run: bool = False) -> int:
    """Delete finished top-level test executions older than `older_than` (with their
    children), then draft workflows nothing refers to any more. Returns how many executions."""
    cutoff = timezone.now() - (older_than if older_than is not None else max_age())
    old = Execution.objects.filter(
        is_test=True,
        parent_execution__isnull=True,
        created_at__lt=cutoff,
        status__in=[ExecutionStatus.SUCCESS, ExecutionStatus.ERROR, ExecutionStatus.CANCELLED],
    )
    count = old.count()
    if dry_run or not count:
        return count
    with transaction.atomic():
        old.delete()
        WorkflowVersion.objects.filter(
            Q(workflow__description__startswith=DRAFT_MARKER), workflow__is_active=False
        ).exclude(executions__isnull=False).delete()
        Workflow.objects.filter(drafts_filter()).exclude(executions__isnull=False).delete()
    logger.info("deleted %d test execution(s) older than %s", count, cutoff.isoformat())
    return count


def cleanup_duty() -> None:
    """Worker duty (settings.WORKFLOW_WORKER_DUTIES): remove test runs older than the max age."""
    cleanup_test_runs()
