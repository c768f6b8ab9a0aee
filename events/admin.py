"""Admin for workflow API keys (the key shown once, revoke action) and wait-events."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html

from workflows.admin import pretty_json

from . import services
from .models import BufferedSignal, WaitEvent, WorkflowApiKey


@admin.register(WorkflowApiKey)
class WorkflowApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "tenant", "created_by", "created_at", "last_used_at", "state"]
    list_filter = ["tenant", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix"]
    readonly_fields = ["prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke_selected"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["tenant", "name"]
        return ["tenant", "name", *self.readonly_fields]

    def get_readonly_fields(self, request, obj=None):
        # A key never moves to another tenant.
        return [*self.readonly_fields, "tenant"] if obj is not None else []

    @admin.display(description="State")
    def state(self, obj):
        return f"Revoked {obj.revoked_at:%Y-%m-%d %H:%M}" if obj.revoked_at else "Active"

    def save_model(self, request, obj, form, change):
        if change:
            obj.save()
            return
        created, raw = services.create_api_key(tenant=obj.tenant, name=obj.name, user=request.user)
        # The admin goes on with `obj` (change message, redirect): make it the created row.
        obj.__dict__.update({f.attname: getattr(created, f.attname) for f in created._meta.concrete_fields})
        obj._state.adding = False
        messages.warning(
            request,
            format_html("Copy the key now; it is not stored and will not be shown again: <code>{}</code>", raw),
        )

    @admin.action(description="Revoke selected API keys")
    def revoke_selected(self, request, queryset):
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {count} API key(s).", messages.SUCCESS)


@admin.register(WaitEvent)
class WaitEventAdmin(admin.ModelAdmin):
    list_display = [
        "key",
        "namespace",
        "status",
        "execution_link",
        "created_at",
        "expires_at",
        "received_at",
        "received_from",
    ]
    list_filter = ["status", "namespace", "tenant"]
    search_fields = ["key", "namespace", "=execution__id"]
    date_hierarchy = "created_at"
    readonly_fields = (
        "id",
        "tenant",
        "namespace",
        "key",
        "status",
        "title",
        "description",
        "execution_link",
        "node_run",
        "created_at",
        "expires_at",
        "on_expiration",
        "received_at",
        "received_from",
        "finished_at",
        "payload_pretty",
        "context_data_pretty",
    )
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Execution")
    def execution_link(self, obj):
        return format_html(
            '<a href="/admin/workflows/execution/{}/change/">{}</a>', obj.execution_id, str(obj.execution_id)[:8]
        )

    @admin.display(description="Payload")
    def payload_pretty(self, obj):
        return pretty_json(obj.payload)

    @admin.display(description="Context data")
    def context_data_pretty(self, obj):
        return pretty_json(obj.context_data)


@admin.register(BufferedSignal)
class BufferedSignalAdmin(admin.ModelAdmin):
    list_display = ["key", "namespace", "status", "created_at", "expires_at", "received_from"]
    list_filter = ["status", "namespace", "tenant"]
    search_fields = ["key", "namespace"]
    readonly_fields = (
        "id",
        "tenant",
        "namespace",
        "key",
        "status",
        "received_from",
        "created_at",
        "expires_at",
        "consumed_at",
        "wait_event",
        "payload_pretty",
    )
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Payload")
    def payload_pretty(self, obj):
        return pretty_json(obj.payload)
