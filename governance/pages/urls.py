"""Ombud's pages for people (the API in governance/api serves integrations).

Each area's pages live with the app that owns its records; this module routes them all.
URL names are flat and unique across the site, as the menu and the role-by-page test use them.
"""

from django.urls import include, path

from audits.pages import oversight
from privacy.pages import mine, officer

from . import accounts, complainant, compliance, handling

urlpatterns = [
    path("", accounts.home, name="home"),
    path("accounts/sign-in/", accounts.sign_in, name="sign-in"),
    path("accounts/two-factor/", accounts.two_factor, name="two-factor"),
    path("accounts/two-factor/setup/", accounts.two_factor_setup, name="two-factor-setup"),
    path("accounts/sign-out/", accounts.sign_out, name="sign-out"),
    path("accounts/sign-up/", accounts.sign_up, name="sign-up"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("my/", include(complainant.urlpatterns)),
    path("my/data/", include(mine.urlpatterns)),
    path("work/", include(handling.urlpatterns)),
    path("compliance/", include(compliance.urlpatterns)),
    path("oversight/", include(oversight.urlpatterns)),
    path("privacy/", include(officer.urlpatterns)),
]
