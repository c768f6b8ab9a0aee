"""Pages of the widgets app (mounted under /widgets/)."""

from django.urls import path

from . import views

app_name = "widgets"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
]
