from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/privacy/", include("privacy.api.urls")),
    path("api/v1/ledger/", include("audits.api.urls")),
    path("api/v1/oversight/", include("audits.api.oversight")),
    path("api/v1/", include("governance.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]

# Public pages, English at /transparency/ and Simplified Chinese at /zh-hans/transparency/.
urlpatterns += [path("", include("audits.urls"))]

# Pages for people: sign-in, the language switch, and each role's pages.
urlpatterns += [path("", include("governance.pages.urls"))]
