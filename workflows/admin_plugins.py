"""Admin for integrations (credentials never shown), model-event bindings and schedules."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils import timezone

from .cron import cron_problem, next_run
from .models import Integration, ModelTrigger, Schedule


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    list_display = ["name", "type", "owner", "tenant", "updated_at"]
    list_filter = ["type", "tenant"]
    search_fields = ["name", "owner__username"]
    # Credentials are entered through the API only; the admin never shows them, not even encrypted.
    exclude = ["credentials_encrypted"]
    readonly_fields = ["tenant", "owner", "type", "created_at", "updated_at"]

    def has_add_permission(self, request) -> bool:
        return False


class ModelTriggerForm(forms.ModelForm):
    class Meta:
        model = ModelTrigger
        fields = ["workflow", "datasource", "event", "field", "value", "run_as", "is_active"]

    def clean(self):
        from .datasources import get_datasource
        from .models import Membership

        data = super().clean()
        ds = get_datasource(data.get("datasource"))
        if ds is None:
            self.add_error("datasource", "not an exposed data source (settings.WORKFLOW_DATASOURCES)")
        elif data.get("field") and data["field"] not in ds.read:
            self.add_error("field", f"not a readable attribute of {ds.label}")
        workflow, run_as = data.get("workflow"), data.get("run_as")
        if workflow and run_as and not Membership.objects.filter(tenant_id=workflow.tenant_id, user=run_as).exists():
            self.add_error("run_as", "must be a member of the workflow's tenant")
        return data


@admin.register(ModelTrigger)
class ModelTriggerAdmin(admin.ModelAdmin):
    form = ModelTriggerForm
    list_display = ["workflow", "datasource", "event", "field", "value", "run_as", "is_active"]
    list_filter = ["datasource", "event", "is_active", "tenant"]
    raw_id_fields = ["workflow", "run_as"]

    def save_model(self, request, obj, form, change) -> None:
        obj.tenant_id = obj.workflow.tenant_id  # a binding always lives in its workflow's tenant
        super().save_model(request, obj, form, change)


class ScheduleForm(forms.ModelForm):
    class Meta:
        model = Schedule
        fields = [
            "workflow",
            "cron",
            "timezone",
            "input",
            "run_as",
            "is_active",
            "next_run_at",
            "last_run_at",
            "last_execution",
            "last_error",
        ]

    def clean(self):
        data = super().clean()
        from .models import Membership

        problem = cron_problem(data.get("cron") or "", data.get("timezone") or "UTC")
        if problem:
            self.add_error("timezone" if problem.startswith("unknown time zone") else "cron", problem)
        workflow, run_as = data.get("workflow"), data.get("run_as")
        if workflow and run_as and not Membership.objects.filter(tenant_id=workflow.tenant_id, user=run_as).exists():
            self.add_error("run_as", "must be a member of the workflow's tenant")
        return data


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    form = ScheduleForm
    list_display = ["workflow", "cron", "timezone", "next_run_at", "last_run_at", "last_error", "is_active"]
    list_filter = ["is_active", "tenant"]
    raw_id_fields = ["workflow", "run_as", "last_execution"]
    readonly_fields = ["next_run_at", "last_run_at", "last_execution", "last_error"]

    def save_model(self, request, obj, form, change) -> None:
        # A changed cron or time zone plans the next run afresh from now.
        obj.tenant_id = obj.workflow.tenant_id
        if not change or {"cron", "timezone", "is_active"} & set(form.changed_data):
            obj.next_run_at = next_run(obj.cron, after=timezone.now(), tz=obj.timezone)
        super().save_model(request, obj, form, change)
