from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter()
router.include_root_view = False
router.register("subjects", views.DataSubjectViewSet, basename="subject")

urlpatterns = router.urls
