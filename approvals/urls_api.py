"""REST URLs of the approvals app (mounted under /api/)."""

from rest_framework.routers import SimpleRouter

from .api import ApprovalViewSet

router = SimpleRouter()
router.register("approvals", ApprovalViewSet, basename="approval")

urlpatterns = router.urls
