from django.conf.urls.i18n import i18n_patterns
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

# Pages for people: English without a prefix, Simplified Chinese under /zh-hans/.
urlpatterns += i18n_patterns(path("", include("audits.urls")), prefix_default_language=False)
