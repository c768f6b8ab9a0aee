"""Pages of the approvals app (mounted under /workflows/approvals/)."""

from django.urls import path, re_path

from . import views

UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

app_name = "approvals"
urlpatterns = [
    path("", views.inbox, name="inbox"),
    # /workflows/approvals/{id} as in the reference, with or without a trailing slash.
    re_path(rf"^(?P<pk>{UUID})/?$", views.detail, name="detail"),
    re_path(rf"^(?P<pk>{UUID})/delegate/?$", views.delegate, name="delegate"),
    re_path(rf"^(?P<pk>{UUID})/link/(?P<token>[^/]+)/?$", views.link, name="link"),
]
