"""The Django admin, behind the same two-factor sign-in as every staff page."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib.admin import AdminSite
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from governance import policies


class OmbudAdminSite(AdminSite):
    """The admin site: staff who signed in with a password and a TOTP code."""

    def has_permission(self, request: HttpRequest) -> bool:
        return super().has_permission(request) and policies.is_signed_in(request.user)

    def login(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        # One sign-in page for the whole site, with its lockout and second factor.
        target = request.GET.get("next") or reverse("admin:index")
        return HttpResponseRedirect(f"{reverse('sign-in')}?{urlencode({'next': target})}")


class OmbudAdminConfig(AdminConfig):
    default_site = "config.admin.OmbudAdminSite"
