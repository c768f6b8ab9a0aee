"""The widget dashboard page: the active tenant's saved widgets."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from workflows.tenancy import in_active_tenant

from .selectors import last_data, widgets_for


@login_required
def dashboard(request):
    cards = []
    for number, widget in enumerate(in_active_tenant(widgets_for(request.user), request), start=1):
        data, instance = last_data(widget)
        cards.append(
            {
                "options_id": f"widget-options-{number}",
                "widget": widget,
                "last_instance": instance,
                "options": {
                    "tenantID": str(widget.tenant_id),
                    "widgetID": str(widget.pk),
                    "widgetFetchedData": data,
                    "executionMode": widget.execution_mode,
                    "workflowID": str(widget.workflow_id),
                    "widgetType": widget.widget_type,
                    "widgetConfig": widget.config,
                    "workflowConfig": widget.workflow_config,
                },
            }
        )
    return render(request, "widgets/dashboard.html", {"cards": cards})
