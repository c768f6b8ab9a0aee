"""REST URLs of the events app (mounted under /api/)."""

from django.urls import path, re_path

from . import api

urlpatterns = [
    # The signal URL is spelled as the reference defines it: no trailing slash (one is accepted too).
    re_path(r"^workflow/events/signal/?$", api.SignalView.as_view(), name="events-signal"),
    path("workflow/events/waits/", api.WaitListView.as_view(), name="events-waits"),
    path("workflow/events/waits/<uuid:pk>/signal/", api.WaitSignalView.as_view(), name="events-wait-signal"),
    re_path(r"^api-keys/create/?$", api.ApiKeyCreateView.as_view(), name="api-key-create"),
    path("api-keys/", api.ApiKeyListView.as_view(), name="api-key-list"),
    path("api-keys/<uuid:pk>/revoke/", api.ApiKeyRevokeView.as_view(), name="api-key-revoke"),
    path("workflows/<uuid:pk>/webhook/", api.WorkflowWebhookView.as_view(), name="workflow-webhook"),
]
