"""Model-event and cron schedule triggers.

Model events: receivers of Django's post_save / post_delete on every exposed model start the
bound workflows in the writer's transaction (a rollback leaves no execution). Signals fit
here because this plugs the engine into models that know nothing about it; a model of your
own can equally call services.trigger_workflow from its save() or its service.

Schedules: every worker's timer runs fire_due_schedules; each due time is claimed by one
conditional UPDATE of the schedule's next_run_at, in the transaction that creates the
execution, so it fires exactly once however many workers race for it.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_save
from django.utils import timezone

from . import services
from .cron import cron_problem, next_run
from .datasources import DataSource, datasource_for_model, datasources, get_datasource, row_dict
from .exceptions import InvalidInput, WorkflowError
from .models import Membership, ModelEvent, ModelTrigger, Schedule, Workflow

logger = logging.getLogger("workflows.triggers")

PREVIOUS_ATTR = "_workflow_trigger_previous"


# --- Bindings (services) ----------------------------------------------------------------


def _check_run_as(workflow: Workflow, run_as) -> None:
    if run_as is None or not Membership.objects.filter(tenant_id=workflow.tenant_id, user=run_as).exists():
        raise InvalidInput("runAs must be a member of the workflow's tenant", field="runAs")


def create_model_trigger(
    *, workflow: Workflow, datasource: str, event: str, run_as, field: str = "", value: Any = None
) -> ModelTrigger:
    """Bind `workflow` to insert/update/delete of an exposed data source's rows in its tenant."""
    ds = get_datasource(datasource)
    if ds is None:
        raise InvalidInput(
            f"unknown data source {datasource!r}; exposed: {', '.join(datasources()) or 'none'}", field="datasource"
        )
    if event not in ModelEvent.values:
        raise InvalidInput(f"event must be one of: {', '.join(ModelEvent.values)}", field="event")
    if field and field not in ds.read:
        raise InvalidInput(f"{field!r} is not a readable attribute of {ds.label}", field="field")
    if (field or value is not None) and event != ModelEvent.UPDATE:
        raise InvalidInput("field and value apply to update events only", field="field")
    if value is not None and not field:
        raise InvalidInput("value needs a field", field="value")
    _check_run_as(workflow, run_as)
    return ModelTrigger.objects.create(
        tenant_id=workflow.tenant_id,
        workflow=workflow,
        datasource=ds.key,
        event=event,
        field=field or "",
        value=value,
        run_as=run_as,
    )


def create_schedule(*, workflow: Workflow, cron: str, run_as, tz: str = "UTC", input: dict | None = None) -> Schedule:
    """Run `workflow` on a cron schedule; the first run is the next due time from now."""
    problem = cron_problem(cron, tz)
    if problem:
        raise InvalidInput(problem, field="timezone" if problem.startswith("unknown time zone") else "cron")
    if input is not None and not isinstance(input, dict):
        raise InvalidInput("input must be a JSON object", field="input")
    _check_run_as(workflow, run_as)
    return Schedule.objects.create(
        tenant_id=workflow.tenant_id,
        workflow=workflow,
        cron=cron,
        timezone=tz,
        input=input or {},
        run_as=run_as,
        next_run_at=next_run(cron, after=timezone.now(), tz=tz),
    )


# --- Model events ----------------------------------------------------------------------


def connect_model_events() -> None:
    """Connect the receivers to every exposed model (called once from the app's ready())."""
    for ds in datasources().values():
        try:
            model = ds.model
        except (LookupError, ValueError):
            continue  # reported by the system checks
        uid = f"workflows.triggers:{model._meta.label}"
        pre_save.connect(_remember_previous, sender=model, dispatch_uid=f"{uid}:pre_save")
        post_save.connect(_after_save, sender=model, dispatch_uid=f"{uid}:post_save")
        post_delete.connect(_after_delete, sender=model, dispatch_uid=f"{uid}:post_delete")


def _tenant_id(ds: DataSource, instance) -> Any:
    return getattr(instance, f"{ds.tenant_field}_id", None)


def _bindings(ds: DataSource, event: str, instance):
    return ModelTrigger.objects.filter(
        datasource=ds.key, event=event, is_active=True, tenant_id=_tenant_id(ds, instance)
    ).select_related("run_as")


def _remember_previous(sender, instance, raw=False, **kwargs) -> None:
    """Before an update, look up its bindings once and, if there are any, keep the stored row
    (what field-change bindings compare against, and the input's `previous`)."""
    if raw or instance._state.adding or instance.pk is None:
        return
    found = {}
    for ds in datasource_for_model(sender):
        bindings = list(_bindings(ds, ModelEvent.UPDATE, instance))
        previous = None
        if bindings:
            stored = sender._default_manager.filter(pk=instance.pk).first()
            previous = row_dict(ds, stored) if stored else None
        found[ds.key] = (bindings, previous)
    setattr(instance, PREVIOUS_ATTR, found)


def _after_save(sender, instance, created: bool, raw=False, **kwargs) -> None:
    if raw:
        return
    looked_up = instance.__dict__.pop(PREVIOUS_ATTR, None) or {}
    event = ModelEvent.INSERT if created else ModelEvent.UPDATE
    for ds in datasource_for_model(sender):
        if event == ModelEvent.UPDATE and ds.key in looked_up:
            bindings, previous = looked_up[ds.key]
        else:
            bindings, previous = list(_bindings(ds, event, instance)), None
        if not bindings:
            continue
        row = row_dict(ds, instance)
        for binding in bindings:
            if event == ModelEvent.UPDATE and not changed_as_bound(binding.field, binding.value, previous, row):
                continue
            _start(binding, ds, event, row, previous)


def _after_delete(sender, instance, **kwargs) -> None:
    for ds in datasource_for_model(sender):
        bindings = list(_bindings(ds, ModelEvent.DELETE, instance))
        if bindings:
            row = row_dict(ds, instance)
            for binding in bindings:
                _start(binding, ds, ModelEvent.DELETE, row, None)


def changed_as_bound(field: str, value: Any, previous: dict | None, row: dict) -> bool:
    """Whether an update fits a binding: any update without a field; else the field changed
    (and, with a value, changed to it)."""
    if not field:
        return True
    before = (previous or {}).get(field)
    after = row.get(field)
    if before == after:
        return False
    return value is None or after == value


def _start(binding: ModelTrigger, ds: DataSource, event: str, row: dict, previous: dict | None) -> None:
    payload = {"event": event, "datasource": ds.key, "row": row, "previous": previous}
    try:
        services.trigger_workflow(
            workflow_id=binding.workflow_id,
            user_name=binding.run_as.get_username(),
            input=payload,
            tenant_ids=[binding.tenant_id],
        )
    except WorkflowError as exc:
        # The application's write goes on: a misconfigured binding must not break it.
        logger.error(
            "model trigger %s (%s %s) did not start workflow %s: %s",
            binding.pk,
            ds.key,
            event,
            binding.workflow_id,
            exc.message,
        )


# --- Schedules --------------------------------------------------------------------------


def fire_due_schedules(*, limit: int = 100) -> int:
    """Start the executions of schedules that are due; returns how many this call claimed."""
    now = timezone.now()
    due = list(
        Schedule.objects.filter(is_active=True, next_run_at__lte=now)
        .order_by("next_run_at")
        .values_list("pk", "next_run_at")[:limit]
    )
    return sum(1 for pk, due_at in due if due_at is not None and fire_schedule(pk, due_at=due_at, now=now))


def fire_schedule(pk: int, *, due_at: datetime, now: datetime) -> bool:
    """Claim one due time of a schedule and start its execution; False if another worker had it."""
    schedule = (
        Schedule.objects.filter(pk=pk)
        .values("cron", "timezone", "workflow_id", "tenant_id", "input", "run_as_id")
        .first()
    )
    if schedule is None:
        return False
    following = next_run(schedule["cron"], after=max(now, due_at), tz=schedule["timezone"])
    with transaction.atomic():
        claimed = Schedule.objects.filter(pk=pk, is_active=True, next_run_at=due_at).update(
            next_run_at=following, last_run_at=due_at
        )
        if not claimed:
            return False
        username = get_user_model().objects.filter(pk=schedule["run_as_id"]).values_list("username", flat=True).first()
        try:
            with transaction.atomic():
                result = services.trigger_workflow(
                    workflow_id=schedule["workflow_id"],
                    user_name=username or "",
                    input={"scheduledAt": due_at.isoformat(), **(schedule["input"] or {})},
                    idempotency_key=f"schedule:{pk}:{due_at.isoformat()}",
                    tenant_ids=[schedule["tenant_id"]],
                )
        except WorkflowError as exc:
            # This due time is spent either way; retrying every second would not heal it.
            logger.warning("schedule %s did not start its workflow: %s", pk, exc.message)
            Schedule.objects.filter(pk=pk).update(last_error=exc.message)
            return True
        Schedule.objects.filter(pk=pk).update(last_execution_id=result.execution_id, last_error="")
    return True
