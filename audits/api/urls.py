from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter()
router.include_root_view = False
router.register("checkpoints", views.CheckpointViewSet, basename="checkpoint")
router.register("entries", views.LedgerEntryViewSet, basename="ledger-entry")
router.register("keys", views.PublicKeyViewSet, basename="ledger-key")

urlpatterns = router.urls
