"""REST URLs of the widgets app (mounted under /api/)."""

from django.urls import path

from .api import InstanceWidgetsView, WidgetConnectionView, WidgetDataView, WidgetStatsView

urlpatterns = [
    path("widgets/stats/", WidgetStatsView.as_view(), name="widget-stats"),
    path("widgets/connections/<str:widget_id>/", WidgetConnectionView.as_view(), name="widget-connection"),
    path("widgets/instances/<uuid:instance_id>/", InstanceWidgetsView.as_view(), name="instance-widgets"),
    path("widgets/<str:widget_id>/data/", WidgetDataView.as_view(), name="widget-data"),
]
