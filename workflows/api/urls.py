from django.urls import path
from rest_framework.routers import DefaultRouter

from .. import sse
from .bulk import BulkOperationViewSet
from .catalog import NodeCatalogView, NodeOptionsView
from .integrations import IntegrationViewSet
from .triggers import ModelTriggerViewSet, ScheduleViewSet
from .views import ExecutionViewSet, WorkflowViewSet

# No `.json` format-suffix routes: the API speaks JSON only, and the viewsets' actions do not
# take a `format` argument (a suffixed URL had answered 500).
router = DefaultRouter()
router.include_format_suffixes = False
router.register("workflows", WorkflowViewSet, basename="workflow")
router.register("executions", ExecutionViewSet, basename="execution")
router.register("bulk-operations", BulkOperationViewSet, basename="bulk-operation")
router.register("integrations", IntegrationViewSet, basename="integration")
router.register("model-triggers", ModelTriggerViewSet, basename="model-trigger")
router.register("schedules", ScheduleViewSet, basename="schedule")

urlpatterns = [
    # The event streams come first so the router's executions/{pk}/ never shadows them.
    path("executions/events/", sse.tenant_stream, name="execution-list-events"),
    path("executions/<uuid:pk>/events/", sse.execution_stream, name="execution-events"),
    path("nodes/", NodeCatalogView.as_view(), name="node-catalog"),
    # Action ids contain a slash (sms/send), hence the path converter.
    path("nodes/<path:action_id>/options/<str:field_key>/", NodeOptionsView.as_view(), name="node-options"),
    *router.urls,
]
