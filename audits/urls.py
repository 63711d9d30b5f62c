"""Public pages of the audits app: the transparency page and the published reports' files.

Each page exists once per language, English unprefixed and Simplified Chinese under /zh-hans/,
named "<page>" and "<page>-zh-hans"; the views render in the language of their route. (Django's
i18n_patterns would do this too, but it pins every unprefixed path, the API's and the admin's
included, to the default language.)
"""

from django.urls import path

from . import views

urlpatterns = [
    path(
        "transparency/reports/<int:number>/<str:kind>",
        views.report_file,
        name="transparency-file",
    ),
]
for prefix, suffix, language in (("", "", "en"), ("zh-hans/", "-zh-hans", "zh-hans")):
    urlpatterns += [
        path(
            f"{prefix}transparency/",
            views.transparency,
            {"language": language},
            name=f"transparency{suffix}",
        ),
        path(
            f"{prefix}transparency/reports/<int:number>/",
            views.report_page,
            {"language": language},
            name=f"transparency-report{suffix}",
        ),
    ]
