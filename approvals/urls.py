"""Pages of the approvals app (mounted under /workflows/approvals/)."""

app_name = "approvals"
urlpatterns = []
