"""Approver pages: the inbox, a request's detail with its decision form, and e-mail links.

A GET never decides: every decision is a CSRF-protected POST from a button.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import Resolver404, resolve
from django.views.decorators.http import require_http_methods, require_POST

from workflows.operator import is_operator
from workflows.tenancy import active_tenant, tenancy_for

from . import links, services
from .display import readable_items
from .exceptions import ApprovalError, InvalidLink
from .models import ApprovalRequest, ApprovalStatus, Channel
from .selectors import (
    eligible_usernames,
    has_decided,
    history_for,
    is_eligible,
    is_participant,
    pending_for,
    requests_in_tenants,
)

STATUS_FILTERS = ["all", *ApprovalStatus.values]


def forbidden(request, message: str) -> HttpResponse:
    return render(request, "approvals/forbidden.html", {"message": message}, status=403)


@login_required
def inbox(request):
    """What waits for the user in the active tenant, with a count of what waits in the others."""
    wanted = request.GET.get("status") or "all"
    if wanted not in STATUS_FILTERS:
        wanted = "all"
    tenant = active_tenant(request)
    waiting_anywhere = pending_for(request.user)
    waiting = [r for r in waiting_anywhere if tenant and r.tenant_id == tenant.pk]
    seen = {r.pk for r in waiting}
    pending = [r for r in waiting if wanted in ("all", "pending")]
    history = (
        []
        if tenant is None
        else [
            r
            for r in history_for(request.user, tenant_id=tenant.pk)
            if r.pk not in seen and wanted in ("all", r.status)
        ]
    )
    names = {t.pk: t.name for t in tenancy_for(request).choices}
    elsewhere = Counter(names.get(r.tenant_id, "") for r in waiting_anywhere if r.pk not in seen)
    return render(
        request,
        "approvals/inbox.html",
        {
            "pending": pending,
            "history": history,
            "status": wanted,
            "statuses": STATUS_FILTERS,
            "elsewhere": sorted(elsewhere.items()),
        },
    )


def _execution_url(approval: ApprovalRequest) -> str | None:
    path = settings.APPROVALS_EXECUTION_URL.replace("{id}", str(approval.execution_id))
    try:
        resolve(path.split("?")[0])
    except Resolver404:
        return None
    return path


def _page_context(approval: ApprovalRequest, user, **extra) -> dict:
    decisions = list(approval.decisions.select_related("user").order_by("created_at", "id"))
    mine = next((d for d in decisions if d.user_id == getattr(user, "pk", None)), None)
    can_decide = approval.is_pending and mine is None and is_eligible(approval, user)
    context: dict[str, Any] = {
        "approval": approval,
        "decisions": decisions,
        "events": approval.events.select_related("actor", "target").exclude(kind="notified"),
        "my_decision": mine,
        "can_decide": can_decide,
        "context_items": readable_items(approval.context_data),
        "execution_url": _execution_url(approval),
        "form_values": {},
        "delegates": [],
        "eligible": sorted(eligible_usernames(approval)),
    }
    if can_decide and extra.get("allow_delegate", True):
        context["delegates"] = (
            get_user_model()
            .objects.filter(memberships__tenant_id=approval.tenant_id, is_active=True)
            .exclude(pk=user.pk)
            .order_by("username")
            .values_list("username", flat=True)
        )
    context.update(extra)
    context["form_fields"] = form_rows(approval.form_fields, context["form_values"])
    return context


def form_rows(form_fields: list[dict], values: dict) -> list[dict]:
    """The decision form's fields with the values typed so far (after a refused POST)."""
    rows = []
    for f in form_fields:
        value = "" if values.get(f["key"]) is None else str(values.get(f["key"]))
        options = [
            {
                "value": str(o.get("value")),
                "label": o.get("label") or o.get("value"),
                "selected": str(o.get("value")) == value,
            }
            for o in f.get("options") or []
        ]
        rows.append({**f, "value": value, "options": options})
    return rows


def _form_values(approval: ApprovalRequest, data) -> dict:
    return {f["key"]: data.get(f"form_{f['key']}", "") for f in approval.form_fields}


@login_required
@require_http_methods(["GET", "POST"])
def detail(request, pk):
    approval = get_object_or_404(requests_in_tenants(request.user), pk=pk)
    participant = is_participant(approval, request.user)
    # Operators read any request of their tenant; only approvers decide (the POST below).
    if not participant and not (request.method == "GET" and is_operator(request.user, approval.tenant_id)):
        return forbidden(request, "You are not an approver of this request.")
    if request.method == "POST":
        values = _form_values(approval, request.POST)
        try:
            services.decide(
                request_id=approval.pk,
                user=request.user,
                decision=request.POST.get("decision", ""),
                comment=request.POST.get("comment", ""),
                form_values=values,
                channel=Channel.PAGE,
            )
        except ApprovalError as exc:
            approval.refresh_from_db()
            context = _page_context(
                approval, request.user, error=exc.message, form_values=values, comment=request.POST.get("comment", "")
            )
            return render(request, "approvals/detail.html", context, status=exc.status_code)
        messages.success(request, f"Your decision was recorded: {request.POST['decision']}.")
        return redirect("approvals:detail", pk=approval.pk)
    return render(request, "approvals/detail.html", _page_context(approval, request.user, as_operator=not participant))


@login_required
@require_POST
def delegate(request, pk):
    approval = get_object_or_404(requests_in_tenants(request.user), pk=pk)
    if not is_participant(approval, request.user):
        return forbidden(request, "You are not an approver of this request.")
    try:
        services.delegate(
            request_id=approval.pk,
            user=request.user,
            to_username=request.POST.get("delegate_to", ""),
            comment=request.POST.get("comment", ""),
            channel=Channel.PAGE,
        )
    except ApprovalError as exc:
        approval.refresh_from_db()
        return render(
            request,
            "approvals/detail.html",
            _page_context(approval, request.user, error=exc.message),
            status=exc.status_code,
        )
    messages.success(request, f"You delegated this request to {request.POST['delegate_to']}.")
    return redirect("approvals:detail", pk=approval.pk)


@require_http_methods(["GET", "POST"])
def link(request, pk, token):
    """A signed e-mail link: shows the request and asks to confirm; only the POST decides."""
    if not settings.APPROVALS_EMAIL_LINKS:
        raise Http404("One-click links are turned off")
    try:
        user_id = links.read_token(token, request_id=pk)
    except InvalidLink as exc:
        return forbidden(request, exc.message)
    approval = get_object_or_404(ApprovalRequest.objects.select_related("workflow", "execution"), pk=pk)
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None or not (is_eligible(approval, user) or has_decided(approval, user)):
        return forbidden(request, "This link is not valid for you any more.")
    if not approval.is_pending:
        return forbidden(request, f"This request is already {approval.status}; the link no longer works.")
    base = {"link_user": user, "allow_delegate": False, "via_link": True}
    if request.method == "POST":
        values = _form_values(approval, request.POST)
        try:
            services.decide(
                request_id=approval.pk,
                user=user,
                decision=request.POST.get("decision", ""),
                comment=request.POST.get("comment", ""),
                form_values=values,
                channel=Channel.EMAIL,
            )
        except ApprovalError as exc:
            approval.refresh_from_db()
            context = _page_context(approval, user, error=exc.message, form_values=values, **base)
            return render(request, "approvals/detail.html", context, status=exc.status_code)
        approval.refresh_from_db()
        context = _page_context(approval, user, **base)
        context["done"] = f"Your decision was recorded: {request.POST['decision']}."
        context["done_status"] = request.POST["decision"]
        return render(request, "approvals/detail.html", context)
    return render(request, "approvals/detail.html", _page_context(approval, user, **base))
