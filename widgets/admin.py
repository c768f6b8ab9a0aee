"""Admin for saved widgets and the live connection registry (read-only diagnostics)."""

from django.contrib import admin

from .models import Widget, WidgetConnection


@admin.register(Widget)
class WidgetAdmin(admin.ModelAdmin):
    list_display = ["name", "widget_type", "workflow", "tenant", "execution_mode", "position"]
    list_filter = ["widget_type", "tenant"]
    search_fields = ["name"]
    raw_id_fields = ["workflow"]


@admin.register(WidgetConnection)
class WidgetConnectionAdmin(admin.ModelAdmin):
    list_display = ["widget_id", "execution", "mode", "widget_type", "user", "server", "connected_at", "last_seen_at"]
    list_filter = ["mode", "widget_type", "server"]
    readonly_fields = [f.name for f in WidgetConnection._meta.fields]

    def has_add_permission(self, request):
        return False
