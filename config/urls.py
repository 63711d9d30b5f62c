from csp.decorators import csp_update
from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from django.utils.translation import gettext as _
from django.views import defaults
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.exceptions import NotFound

# The API's documentation page: Swagger UI from drf-spectacular-sidecar's static files, its
# start-up script served as a file of its own (the "split" view), so the page needs no inline
# script; its style sheet draws icons from data: images.
api_docs = csp_update({"img-src": ["data:"]})(
    SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="ombud/api_docs.html")
)

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/privacy/", include("privacy.api.urls")),
    path("api/v1/ledger/", include("audits.api.urls")),
    path("api/v1/oversight/", include("audits.api.oversight")),
    path("api/v1/", include("governance.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", api_docs, name="api-docs"),
]

# Public pages, English at /transparency/ and Simplified Chinese at /zh-hans/transparency/.
urlpatterns += [path("", include("audits.urls"))]

# Pages for people: sign-in, the language switch, and each role's pages.
urlpatterns += [path("", include("governance.pages.urls"))]


def server_error(request: HttpRequest) -> HttpResponse:
    """Answer a crash with the plain 500 page, or for the API a JSON body; never a traceback."""
    if request.path.startswith("/api/"):
        body = {"detail": _("The server failed; try again later."), "code": "server_error"}
        return JsonResponse(body, status=500)
    return defaults.server_error(request)


handler500 = server_error


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Answer a URL that names no route with the 404 page, or for the API the JSON error body
    every other API refusal has (a path parameter that does not fit its route lands here)."""
    if request.path.startswith("/api/"):
        body = {"detail": str(NotFound.default_detail), "code": NotFound.default_code}
        return JsonResponse(body, status=404)
    return defaults.page_not_found(request, exception)


handler404 = not_found
