"""Admin for tenants, workflows (definition shown readably), versions and executions."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.shortcuts import redirect
from django.utils.html import format_html

from . import operations
from .exceptions import WorkflowError
from .models import BulkOperation, Execution, Membership, NodeRun, OperatorAction, Tenant, Workflow, WorkflowVersion


def pretty_json(value) -> str:
    return format_html(
        "<pre style='white-space:pre-wrap;max-height:32rem;overflow:auto'>{}</pre>",
        json.dumps(value, indent=2, default=str),
    )


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


class VersionInline(admin.TabularInline):
    model = WorkflowVersion
    extra = 0
    readonly_fields = ("number", "created_by", "created_at")
    fields = readonly_fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Workflow)
class WorkflowAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "is_active", "latest_version_number", "updated_at"]
    list_filter = ["is_active", "tenant"]
    search_fields = ["name", "description"]
    readonly_fields = ["id", "latest_definition", "created_at", "updated_at"]
    inlines = [VersionInline]

    def add_view(self, request, form_url="", extra_context=None):
        # A workflow is a graph: it is drawn in the builder, which saves its first version.
        return redirect("workflows:new")

    @admin.display(description="Version")
    def latest_version_number(self, obj):
        latest = obj.latest_version
        return latest.number if latest else "-"

    @admin.display(description="Definition (latest version)")
    def latest_definition(self, obj):
        latest = obj.latest_version
        return pretty_json(latest.definition) if latest else "-"


@admin.register(WorkflowVersion)
class WorkflowVersionAdmin(admin.ModelAdmin):
    list_display = ["workflow", "number", "created_by", "created_at"]
    list_filter = ["workflow__tenant"]
    readonly_fields = ["workflow", "number", "readable_definition", "created_by", "created_at"]
    exclude = ["definition"]

    @admin.display(description="Definition")
    def readable_definition(self, obj):
        return pretty_json(obj.definition)

    def has_add_permission(self, request):
        return False  # versions are written by saving a workflow

    def has_change_permission(self, request, obj=None):
        return False


class NodeRunInline(admin.TabularInline):
    model = NodeRun
    extra = 0
    readonly_fields = ("label", "node_type", "status", "attempt", "started_at", "finished_at", "short_error")
    fields = readonly_fields
    can_delete = False

    @admin.display(description="Error")
    def short_error(self, obj):
        return (obj.error or {}).get("message", "") if isinstance(obj.error, dict) else ""

    def has_add_permission(self, request, obj=None):
        return False


class OperatorActionInline(admin.TabularInline):
    model = OperatorAction
    extra = 0
    readonly_fields = ("created_at", "username", "action", "reason", "details")
    fields = readonly_fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


def viewer_link(execution_id) -> str:
    return format_html('<a href="/workflows/executions/{}/">Open in the viewer ↗</a>', execution_id)


@admin.register(Execution)
class ExecutionAdmin(admin.ModelAdmin):
    list_display = ["id", "workflow", "status", "run_as", "is_test", "created_at", "finished_at", "viewer"]
    list_filter = ["status", "is_test", "workflow__tenant", "workflow"]
    search_fields = ["id", "idempotency_key", "workflow__name"]
    date_hierarchy = "created_at"
    inlines = [NodeRunInline, OperatorActionInline]
    readonly_fields = [
        "viewer",
        "id",
        "tenant",
        "workflow",
        "workflow_version",
        "status",
        "run_as",
        "idempotency_key",
        "is_test",
        "parent_execution",
        "error_of",
        "readable_input",
        "readable_context",
        "readable_error",
        "revision",
        "created_at",
        "started_at",
        "finished_at",
    ]
    exclude = ["input", "context", "error", "parent_node_run", "parent_index"]
    actions = ["cancel_selected"]

    @admin.display(description="Viewer")
    def viewer(self, obj):
        return viewer_link(obj.pk)

    @admin.display(description="Input")
    def readable_input(self, obj):
        return pretty_json(obj.input)

    @admin.display(description="Context")
    def readable_context(self, obj):
        return pretty_json(obj.context)

    @admin.display(description="Error")
    def readable_error(self, obj):
        return pretty_json(obj.error) if obj.error else "-"

    def has_add_permission(self, request):
        return False

    @admin.action(description="Cancel selected executions")
    def cancel_selected(self, request, queryset):
        done = 0
        for execution in queryset:
            try:
                operations.cancel(execution, user=request.user, reason="Cancelled in the admin")
                done += 1
            except WorkflowError as exc:
                self.message_user(request, f"{execution.pk}: {exc.message}", messages.WARNING)
        self.message_user(request, f"Cancelled {done} execution(s).")


@admin.register(OperatorAction)
class OperatorActionAdmin(admin.ModelAdmin):
    """The audit record of operator actions: read-only."""

    list_display = ["created_at", "username", "action", "execution_link", "reason", "tenant"]
    list_filter = ["action", "tenant"]
    search_fields = ["username", "reason", "execution__id"]
    date_hierarchy = "created_at"
    readonly_fields = ["tenant", "execution", "user", "username", "action", "reason", "details", "created_at"]

    @admin.display(description="Execution")
    def execution_link(self, obj):
        return viewer_link(obj.execution_id)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(BulkOperation)
class BulkOperationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "username", "action", "status", "total", "processed", "succeeded", "failed", "tenant"]
    list_filter = ["action", "status", "tenant"]
    readonly_fields = [
        "id",
        "tenant",
        "user",
        "username",
        "action",
        "reason",
        "filters",
        "status",
        "total",
        "processed",
        "succeeded",
        "failed",
        "errors",
        "created_at",
        "finished_at",
    ]
    exclude = ["execution_ids"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


from . import admin_plugins  # noqa: E402,F401  (integrations, model triggers, schedules)
