"""Admin for approval requests: filters, read-only request fields, decisions inline, and
actions that approve or reject as the signed-in admin when eligible."""

from __future__ import annotations

from django.contrib import admin, messages

from workflows.admin import pretty_json
from workflows.selectors import tenant_ids_for

from . import services
from .exceptions import ApprovalError
from .models import ApprovalDecision, ApprovalEvent, ApprovalRequest, Channel


class DecisionInline(admin.TabularInline):
    model = ApprovalDecision
    extra = 0
    readonly_fields = ("user", "decision", "comment", "form_values", "channel", "created_at")
    fields = readonly_fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class EventInline(admin.TabularInline):
    model = ApprovalEvent
    extra = 0
    readonly_fields = ("kind", "actor", "target", "comment", "channel", "data", "created_at")
    fields = readonly_fields
    can_delete = False
    verbose_name_plural = "Audit trail"

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(admin.ModelAdmin):
    list_display = ["title", "status", "approval_type", "workflow", "deadline", "created_at"]
    list_filter = ["status", "approval_type", "workflow", "deadline"]
    search_fields = ["title", "description", "id"]
    date_hierarchy = "created_at"
    inlines = [DecisionInline, EventInline]
    actions = ["approve_selected", "reject_selected"]
    readonly_fields = [
        "id",
        "tenant",
        "workflow",
        "execution",
        "node_run",
        "requested_by",
        "title",
        "description",
        "approval_type",
        "approvers",
        "approver_roles",
        "excluded",
        "required_approvals",
        "context_data_pretty",
        "form_fields",
        "status",
        "deadline",
        "on_rejection",
        "on_expiration",
        "allow_self_approval",
        "send_notification",
        "email_subject",
        "approval_url",
        "remind_every",
        "next_reminder_at",
        "escalate_at",
        "escalate_to",
        "escalated_at",
        "created_at",
        "decided_at",
    ]
    exclude = ["context_data"]

    def get_queryset(self, request):
        qs = super().get_queryset(request).select_related("workflow")
        if request.user.is_superuser:
            return qs
        return qs.filter(tenant_id__in=tenant_ids_for(request.user))

    def has_add_permission(self, request):
        return False

    @admin.display(description="Context data")
    def context_data_pretty(self, obj):
        return pretty_json(obj.context_data)

    def _decide(self, request, queryset, decision: str) -> None:
        done, refused = 0, []
        for approval in queryset:
            try:
                services.decide(request_id=approval.pk, user=request.user, decision=decision, channel=Channel.ADMIN)
                done += 1
            except ApprovalError as exc:
                refused.append(f"{approval.title}: {exc.message}")
        if done:
            self.message_user(
                request,
                f"{decision.capitalize()} {done} request(s) as {request.user.get_username()}.",
                messages.SUCCESS,
            )
        for line in refused:
            self.message_user(request, line, messages.WARNING)

    @admin.action(description="Approve selected requests (as you)")
    def approve_selected(self, request, queryset):
        self._decide(request, queryset, "approved")

    @admin.action(description="Reject selected requests (as you)")
    def reject_selected(self, request, queryset):
        self._decide(request, queryset, "rejected")


@admin.register(ApprovalDecision)
class ApprovalDecisionAdmin(admin.ModelAdmin):
    list_display = ["request", "user", "decision", "channel", "created_at"]
    list_filter = ["decision", "channel"]
    readonly_fields = ["request", "user", "decision", "comment", "form_values", "channel", "created_at"]

    def get_queryset(self, request):
        qs = super().get_queryset(request).select_related("request", "user")
        if request.user.is_superuser:
            return qs
        return qs.filter(request__tenant_id__in=tenant_ids_for(request.user))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
