"""Routes of the oversight API, under /api/v1/oversight/ (config/urls.py).

Quality sampling registers here; other oversight views (reports, statements) join the same
router, so tests/test_permissions_matrix.py finds every oversight route in one registry.
"""

from rest_framework.routers import DefaultRouter

from . import early_warning, reports, sampling, statements

router = DefaultRouter()
router.include_root_view = False
router.register("samples", sampling.SampleViewSet, basename="sample")
router.register("reviews", sampling.ReviewViewSet, basename="review")
router.register(
    "corrective-actions", sampling.CorrectiveActionViewSet, basename="corrective-action"
)
router.register("statements", statements.StatementViewSet, basename="statement")
router.register("reports", reports.ReportViewSet, basename="report")
router.register("early-warning", early_warning.EarlyWarningViewSet, basename="early-warning")

urlpatterns = router.urls
