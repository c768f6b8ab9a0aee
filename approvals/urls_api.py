"""REST URLs of the approvals app (mounted under /api/)."""

urlpatterns = []
