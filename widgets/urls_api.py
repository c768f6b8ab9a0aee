"""REST URLs of the widgets app (mounted under /api/)."""

from django.urls import path

from .api import InstanceWidgetsView, WidgetConnectionView, WidgetDataView, WidgetStatsView

urlpatterns = [
    path("widgets/stats/", WidgetStatsView.as_view(), name="widget-stats"),
    path("widgets/connections/<str:widget_id>/", WidgetConnectionView.as_view(), name="widget-connection"),
    # Named for the object it reads (an execution's widgets), as the tenant-isolation test expects.
    path("widgets/instances/<uuid:pk>/", InstanceWidgetsView.as_view(), name="execution-widgets"),
    path("widgets/<str:widget_id>/data/", WidgetDataView.as_view(), name="widget-data"),
]
