"""REST URLs of the events app (mounted under /api/)."""

urlpatterns = []
