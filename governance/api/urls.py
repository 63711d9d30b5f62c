from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter()
router.register("complaints", views.ComplaintViewSet, basename="complaint")
router.register("decisions", views.DecisionViewSet, basename="decision")
router.register("appeals", views.AppealViewSet, basename="appeal")
router.register("policy-clauses", views.PolicyClauseViewSet, basename="policy-clause")
router.register("departments", views.DepartmentViewSet, basename="department")
router.register("categories", views.CategoryViewSet, basename="category")

urlpatterns = router.urls
