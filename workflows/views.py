"""Server-rendered pages of the workflows app: workflow list and detail, the builder, the
execution viewer, test runs, and an example page embedding the viewer."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST
from rest_framework.exceptions import NotFound
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.request import Request

from . import dashboard, inputs, operations, operator, services, stats, testruns, values
from .api.pagination import ExecutionCursorPagination
from .api.views import LIST_COLUMNS
from .exceptions import InvalidDefinition, WorkflowError
from .filters import IS_TEST_CHOICES, ExecutionFilter
from .ids import as_uuid
from .layout import layout
from .models import Execution, ExecutionStatus, Workflow
from .navigation import url_or_none
from .selectors import executions_for, version_input_fields, workflows_for
from .tenancy import active_tenant, in_active_tenant
from .viewer import can_operate, viewer_executions

RECENT = 20
ORDERING_LABELS = [("-createdAt", "Newest first"), ("createdAt", "Oldest first")]


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """What needs the user now in the tenant they act in (see workflows.dashboard)."""
    workflows = in_active_tenant(_visible_workflows(request.user), request)
    return render(request, "home.html", {"workflow_count": workflows.count(), **_dashboard_context(request)})


@login_required
def home_panels(request: HttpRequest) -> HttpResponse:
    """The home page's cards alone: what its script fetches when an execution changes."""
    return render(request, "workflows/_dashboard.html", _dashboard_context(request))


def _dashboard_context(request) -> dict:
    tenant = active_tenant(request)
    summary = dashboard.dashboard(user=request.user, tenant=tenant, now=timezone.now()) if tenant else None
    return {
        "dashboard": summary,
        "may_see_workers": dashboard.may_see_workers(request.user),
        "executions_url": url_or_none("workflows:executions"),  # the counts link to the list, filtered
    }


@login_required
def workers(request: HttpRequest) -> HttpResponse:
    """Every worker process remembered, alive first; operators only (workers serve all tenants)."""
    if not dashboard.may_see_workers(request.user):
        raise PermissionDenied("Only operators (staff and tenant admins) may see the workers.")
    now = timezone.now()
    rows = dashboard.workers(now=now)
    return render(
        request,
        "workflows/workers.html",
        {
            "rows": rows,
            "now": now,
            "counts": dashboard.worker_counts(now=now),
            "stale_seconds": settings.WORKFLOW_WORKER_STALE_SECONDS,
            "heartbeat_seconds": settings.WORKFLOW_HEARTBEAT_SECONDS,
        },
    )


def _visible_workflows(user):
    return workflows_for(user).exclude(testruns.drafts_filter())


def _workflow_or_404(user, pk) -> Workflow:
    return get_object_or_404(_visible_workflows(user), pk=pk)


def _recent(executions, *, is_test: bool, workflow_ids=None, limit: int = RECENT):
    qs = executions.select_related("workflow", "workflow_version", "run_as").filter(is_test=is_test)
    if workflow_ids is not None:
        qs = qs.filter(workflow_id__in=workflow_ids)
    return list(qs.order_by("-created_at")[:limit])


@login_required
def workflow_list(request: HttpRequest) -> HttpResponse:
    latest = Execution.objects.filter(workflow_id=OuterRef("pk"), is_test=False).order_by("-created_at")
    workflows = list(
        in_active_tenant(_visible_workflows(request.user), request).annotate(
            last_id=Subquery(latest.values("id")[:1]),
            last_status=Subquery(latest.values("status")[:1]),
            last_at=Subquery(latest.values("created_at")[:1]),
        )
    )
    health = stats.day_summaries([w.pk for w in workflows])
    rows = [{"workflow": w, "health": health.get(w.pk)} for w in workflows]
    return render(
        request,
        "workflows/list.html",
        {
            "rows": rows,
            "executions": _recent(in_active_tenant(executions_for(request.user), request), is_test=False),
            "workflow_names": {str(w.pk): w.name for w in workflows},
        },
    )


@login_required
def workflow_detail(request: HttpRequest, pk) -> HttpResponse:
    workflow = _workflow_or_404(request.user, pk)
    return render(request, "workflows/detail.html", _detail_context(request, workflow))


@login_required
def workflow_builder(request: HttpRequest, pk=None) -> HttpResponse:
    """The workflow builder: a new workflow (in the tenant the user acts in) or an existing one.
    The page is a shell; the builder reads and writes everything through the REST API."""
    workflow = _workflow_or_404(request.user, pk) if pk else None
    tenant = workflow.tenant if workflow else active_tenant(request)
    if tenant is None:
        raise Http404("You belong to no tenant")
    return render(request, "workflows/builder.html", {"workflow": workflow, "tenant": tenant})


def _detail_context(request, workflow: Workflow, **form) -> dict:
    version = workflow.latest_version
    draft_ids = list(
        Workflow.objects.filter(
            tenant_id=workflow.tenant_id, is_active=False, description=f"{testruns.DRAFT_MARKER}{workflow.pk}"
        ).values_list("pk", flat=True)
    )
    graph = layout(version.definition).as_dict() if version else None
    fields = version_input_fields(version.definition) if version else []
    posted = form.get("posted")
    for field in fields:
        raw = posted.get(f"input.{field['name']}") if posted is not None else field["default"]
        field["value"] = "" if raw is None else raw if isinstance(raw, str) else json.dumps(raw)
        field["checked"] = raw in (True, "on", "true")
        field["dom_id"] = "test-input-" + "".join(c if c.isalnum() else "_" for c in field["name"])
    return {
        "workflow": workflow,
        "version": version,
        "graph": graph,
        "definition_json": json.dumps(version.definition, indent=2) if version else "",
        "health": stats.workflow_health(workflow.pk),
        "executions": _recent(executions_for(request.user), is_test=False, workflow_ids=[workflow.pk]),
        "test_runs": _recent(
            executions_for(request.user), is_test=True, workflow_ids=[workflow.pk, *draft_ids], limit=10
        ),
        "workflow_names": {
            str(workflow.pk): workflow.name,
            **{str(d): f"{workflow.name} (test draft)" for d in draft_ids},
        },
        "test_filter_ids": ",".join(str(i) for i in [workflow.pk, *draft_ids]),
        "input_fields": fields,
        "error_workflow_choices": list(
            _visible_workflows(request.user)
            .filter(tenant_id=workflow.tenant_id)
            .exclude(pk=workflow.pk)
            .only("id", "name")
        ),
        "input_text": form.get("input_text", "" if fields else "{}"),
        "definition_text": form.get("definition_text", ""),
        "form_errors": form.get("errors", []),
    }


def _parse_json(text: str, field: str, errors: list) -> Any:
    try:
        return values.loads(text, max_depth=settings.API_MAX_JSON_DEPTH)
    except ValueError as exc:
        errors.append({"field": field, "message": f"not valid JSON: {exc}"})
        return None


@login_required
@require_POST
def start_test_run(request: HttpRequest, pk) -> HttpResponse:
    """Start a test run from the workflow page's form and open it in the viewer."""
    workflow = _workflow_or_404(request.user, pk)
    input_text = request.POST.get("input", "").strip()
    definition_text = request.POST.get("definition", "").strip()
    errors: list[dict] = []
    if input_text or request.POST.get("input_form") != "fields":
        data = _parse_json(input_text or "{}", "input", errors)
    else:  # the form generated from the workflow's input schema
        version = workflow.latest_version
        data, errors = inputs.input_from_form(version_input_fields(version.definition) if version else [], request.POST)
    definition = _parse_json(definition_text, "definition", errors) if definition_text else None
    if not errors:
        try:
            execution = testruns.start_test_run(workflow=workflow, user=request.user, input=data, definition=definition)
        except InvalidDefinition as exc:
            errors = [
                {"field": f"definition: {e.get('nodeId') or ''} {e['field']}".strip(), "message": e["message"]}
                for e in exc.errors
            ]
        except WorkflowError as exc:
            errors = getattr(exc, "errors", None) or [{"field": exc.field or "", "message": exc.message}]
        else:
            return redirect("workflows:execution", pk=execution.pk)
    context = _detail_context(
        request, workflow, input_text=input_text, definition_text=definition_text, errors=errors, posted=request.POST
    )
    return render(request, "workflows/detail.html", context, status=400)


@login_required
@require_POST
def set_error_workflow(request: HttpRequest, pk) -> HttpResponse:
    """Name (or clear) the workflow started when one of this workflow's executions fails."""
    workflow = _workflow_or_404(request.user, pk)
    chosen = request.POST.get("error_workflow") or None
    try:
        services.update_workflow(workflow, user=request.user, error_workflow_id=chosen)
    except WorkflowError as exc:
        messages.error(request, f"{exc.field}: {exc.message}" if exc.field else exc.message)
    else:
        messages.success(request, "Error workflow saved." if chosen else "Error workflow removed.")
    return redirect(f"{reverse('workflows:detail', kwargs={'pk': workflow.pk})}#error-workflow")


@login_required
def execution_detail(request: HttpRequest, pk) -> HttpResponse:
    execution = get_object_or_404(viewer_executions(request.user).prefetch_related("node_runs"), pk=pk)
    source = testruns.source_workflow_id(execution.workflow) or execution.workflow_id
    return render(request, "workflows/execution.html", {"execution": execution, "source_workflow_id": source})


@login_required
def execution_list(request: HttpRequest) -> HttpResponse:
    """Executions of the active tenant, filtered by the URL's query (the API's filters), a page
    at a time by cursor, with bulk cancel and retry of what the filters select."""
    base = (
        in_active_tenant(executions_for(request.user), request)
        .select_related("workflow", "workflow_version", "run_as")
        .only(*LIST_COLUMNS)
    )
    filterset = ExecutionFilter(request.GET, queryset=base, request=request)
    executions: list | None = []
    errors: Any = {}
    next_url = previous_url = None
    if filterset.is_valid():
        paginator = ExecutionCursorPagination()
        try:
            executions = paginator.paginate_queryset(filterset.qs, Request(request))
            next_url, previous_url = paginator.get_next_link(), paginator.get_previous_link()
        except ApiValidationError as exc:
            errors = exc.detail
        except NotFound:
            errors = {"cursor": ["not a valid cursor; start from the first page"]}
    else:
        errors = filterset.errors
    workflows = in_active_tenant(_visible_workflows(request.user), request).only("pk", "name")
    return render(
        request,
        "workflows/executions.html",
        {
            "executions": executions or [],
            "filters": request.GET,
            "input_filters": request.GET.getlist("input"),
            "errors": errors,
            "workflows": workflows,
            "statuses": ExecutionStatus.choices,
            "is_test_choices": IS_TEST_CHOICES,
            "orderings": ORDERING_LABELS,
            "next_url": _relative(next_url),
            "previous_url": _relative(previous_url),
            "workflow_names": {str(w.pk): w.name for w in workflows},
        },
        status=400 if errors else 200,
    )


def _relative(url: str | None) -> str | None:
    """A page link without scheme and host (the paginator builds absolute ones)."""
    if not url:
        return None
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _operable_execution(request, pk):
    execution = get_object_or_404(viewer_executions(request.user), pk=pk)
    if not can_operate(request.user, execution):
        raise Http404("Execution not found")
    return execution


def _reason(request) -> str:
    return (request.POST.get("reason") or "").strip()[: operations.REASON_MAX]


@login_required
@require_POST
def cancel_execution(request: HttpRequest, pk) -> HttpResponse:
    """Cancel from the viewer's dialog, which asks for a reason (kept in the audit record)."""
    execution = _operable_execution(request, pk)
    reason = _reason(request)
    if not reason and not execution.is_test:
        messages.error(request, "Say why you cancel it (reason).")
        return redirect(_back(request, execution.pk))
    try:
        operations.cancel(execution, user=request.user, reason=reason)
        messages.success(request, "Test run stopped." if execution.is_test else "Execution cancelled.")
    except WorkflowError as exc:
        messages.error(request, exc.message)
    return redirect(_back(request, execution.pk))


@login_required
@require_POST
def retry_execution(request: HttpRequest, pk) -> HttpResponse:
    execution = _operable_execution(request, pk)
    from_node = request.POST.get("fromNode") or None
    if from_node is None and operator.RETRY not in operator.actions_for_state(execution):
        messages.error(request, f"The execution is {execution.status}: there is no failed node to retry from.")
        return redirect(_back(request, execution.pk))
    try:
        operations.retry(execution, user=request.user, from_node=from_node, reason=_reason(request))
        messages.success(request, f"Retrying from {from_node}." if from_node else "Retrying from the failed node.")
    except WorkflowError as exc:
        messages.error(request, exc.message)
    return redirect(_back(request, execution.pk))


@login_required
@require_POST
def run_again(request: HttpRequest, pk) -> HttpResponse:
    """Start a new execution with the same input, or the edited copy from the dialog."""
    execution = _operable_execution(request, pk)
    errors: list[dict] = []
    text = (request.POST.get("input") or "").strip()
    data = _parse_json(text, "input", errors) if text else None
    try:
        if errors:
            raise WorkflowError(f"input: {errors[0]['message']}", field="input")
        copy = operations.run_again(execution, user=request.user, input=data, reason=_reason(request))
    except WorkflowError as exc:
        messages.error(request, exc.message)
        return redirect(_back(request, execution.pk))
    messages.success(
        request,
        "Started again with the same input."
        if data in (None, execution.input)
        else "Started again with the edited input.",
    )
    return redirect("workflows:execution", pk=copy.pk)


def _back(request, execution_pk) -> str:
    """Where a viewer form returns: the embedding page when it said so and is ours."""
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("workflows:execution", kwargs={"pk": execution_pk})


@login_required
@require_http_methods(["GET", "POST"])
def embed_example(request: HttpRequest) -> HttpResponse:
    """An example page: trigger a workflow of the active tenant, then show its execution
    inline and in a dialog."""
    tenant = active_tenant(request)
    workflows = list(in_active_tenant(_visible_workflows(request.user), request).filter(is_active=True))
    error = None
    if request.method == "POST":
        errors: list = []
        data = _parse_json(request.POST.get("input", "").strip() or "{}", "input", errors)
        if errors:
            error = errors[0]["message"]
        else:
            try:
                result = services.trigger_workflow(
                    workflow_id=request.POST.get("workflow"),
                    user_name=request.user.get_username(),
                    input=data,
                    tenant_ids=[tenant.pk] if tenant else [],
                )
            except WorkflowError as exc:
                error = exc.message
            else:
                return redirect(f"{reverse('workflows:embed-example')}?execution={result.execution_id}")
    execution = None
    if request.GET.get("execution"):
        pk = as_uuid(request.GET["execution"])
        execution = viewer_executions(request.user).prefetch_related("node_runs").filter(pk=pk).first() if pk else None
        if execution is None:
            raise Http404("Execution not found")
    return render(
        request,
        "workflows/embed_example.html",
        {
            "workflows": workflows,
            "execution": execution,
            "error": error,
        },
        status=400 if error else 200,
    )
