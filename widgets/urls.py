"""Pages of the widgets app (mounted under /widgets/)."""

app_name = "widgets"
urlpatterns = []
