from rest_framework.routers import DefaultRouter

from . import holds, requests, retention, views

router = DefaultRouter()
router.include_root_view = False
router.register("subjects", views.DataSubjectViewSet, basename="subject")
router.register("access-log", views.AccessLogViewSet, basename="access-log")
router.register("legal-holds", holds.LegalHoldViewSet, basename="legal-hold")
router.register("retention-rules", retention.RetentionRuleViewSet, basename="retention-rule")
router.register("retention-runs", retention.RetentionRunViewSet, basename="retention-run")
router.register("requests", requests.PrivacyRequestViewSet, basename="privacy-request")
router.register("my-data", requests.MyDataViewSet, basename="my-data")

urlpatterns = router.urls
