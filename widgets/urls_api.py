"""REST URLs of the widgets app (mounted under /api/)."""

from django.urls import path

from .api import WidgetDataView, WidgetStatsView

urlpatterns = [
    path("widgets/stats/", WidgetStatsView.as_view(), name="widget-stats"),
    path("widgets/<str:widget_id>/data/", WidgetDataView.as_view(), name="widget-data"),
]
