"""Public pages of the audits app: the transparency page and the published reports' files."""

from django.urls import path

from . import views

urlpatterns = [
    path("transparency/", views.transparency, name="transparency"),
    path("transparency/reports/<int:number>/", views.report_page, name="transparency-report"),
    path(
        "transparency/reports/<int:number>/<str:kind>",
        views.report_file,
        name="transparency-file",
    ),
]
