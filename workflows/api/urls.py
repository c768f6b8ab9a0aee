from django.urls import path
from rest_framework.routers import DefaultRouter

from .. import sse
from .views import ExecutionViewSet, WorkflowViewSet

router = DefaultRouter()
router.register("workflows", WorkflowViewSet, basename="workflow")
router.register("executions", ExecutionViewSet, basename="execution")

# The event streams come first so the router's executions/{pk}/ never shadows them.
urlpatterns = [
    path("executions/events/", sse.tenant_events, name="execution-list-events"),
    path("executions/<uuid:pk>/events/", sse.execution_events, name="execution-events"),
    *router.urls,
]
