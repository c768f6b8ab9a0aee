"""Top-level URLs: admin, REST API with its schema, the login pages, and the apps' pages.
The health probes (/healthz, /readyz) are answered by workflows.middleware, before routing."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/", include("workflows.api.urls")),
    path("api/", include("approvals.urls_api")),
    path("api/", include("events.urls_api")),
    path("api/", include("widgets.urls_api")),
    path("workflows/approvals/", include("approvals.urls")),
    path("widgets/", include("widgets.urls")),
    path("", include("workflows.urls")),
]

# Branded error pages; JSON under /api/ (with DEBUG off: Django shows its own pages with it on).
handler400 = "workflows.errorpages.bad_request"
handler403 = "workflows.errorpages.permission_denied"
handler404 = "workflows.errorpages.page_not_found"
handler500 = "workflows.errorpages.server_error"
