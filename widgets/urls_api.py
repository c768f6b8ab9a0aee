"""REST URLs of the widgets app (mounted under /api/)."""

urlpatterns = []
