"""Pages of the workflows app."""

from django.urls import path

from . import views

app_name = "workflows"
urlpatterns = [
    path("", views.home, name="home"),
    path("home/panels/", views.home_panels, name="home-panels"),
    path("workers/", views.workers, name="workers"),
    path("workflows/", views.workflow_list, name="list"),
    path("workflows/examples/embed/", views.embed_example, name="embed-example"),
    path("workflows/new/", views.workflow_builder, name="new"),
    path("workflows/executions/", views.execution_list, name="executions"),
    path("workflows/executions/<uuid:pk>/", views.execution_detail, name="execution"),
    path("workflows/executions/<uuid:pk>/run-again/", views.run_again, name="execution-run-again"),
    path("workflows/executions/<uuid:pk>/cancel/", views.cancel_execution, name="execution-cancel"),
    path("workflows/executions/<uuid:pk>/retry/", views.retry_execution, name="execution-retry"),
    path("workflows/<uuid:pk>/", views.workflow_detail, name="detail"),
    path("workflows/<uuid:pk>/test-run/", views.start_test_run, name="test-run"),
    path("workflows/<uuid:pk>/error-workflow/", views.set_error_workflow, name="error-workflow"),
    path("workflows/<uuid:pk>/edit/", views.workflow_builder, name="edit"),
]
