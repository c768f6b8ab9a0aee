"""Top-level URLs: admin, REST API with its schema, the login pages, and the apps' pages."""
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

# An API path that matches no route answers 404 in the API's error shape.
handler404 = "workflows.api.errors.not_found"
