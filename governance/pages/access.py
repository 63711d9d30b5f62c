"""Who may open which page, and how every page answers a refusal or a service's error.

Every page view is wrapped in `page(allowed)`, where `allowed(user) -> bool` is a policy from
`governance.policies`. The wrapper sends an anonymous visitor to the sign-in page, a staff user
without a second factor back through it, and anyone else the policy refuses to the 403 page,
before the view runs, so a refused role never reaches a query. `page_rules()` lists every such
page for the role-by-page test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from governance import policies
from governance.errors import DomainError, NotFound
from governance.errors import PermissionDenied as DomainPermissionDenied

Policy = Callable[[Any], bool]
View = Callable[..., HttpResponse]


def refuse(request: HttpRequest, message: str = "", status: int = 403) -> HttpResponse:
    """Render the refusal page (403, or 404 for a record the user may not know of)."""
    template = "ombud/404.html" if status == 404 else "ombud/403.html"
    return render(request, template, {"message": message}, status=status)


def page(allowed: Policy) -> Callable[[View], View]:
    """Serve the view only to a signed-in user whom `allowed` admits; refuse everyone else."""

    def decorate(view: View) -> View:
        @wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not policies.is_signed_in(user):
                # A password-only session of someone who has since become staff: sign in again.
                logout(request)
                messages.info(request, _("Sign in again with your authenticator code."))
                return redirect_to_login(request.get_full_path())
            if not allowed(user):
                return refuse(request, _("Your role does not open this page."))
            try:
                # Times on pages read in the business's time zone, where deadlines are counted.
                with timezone.override(settings.OMBUD_BUSINESS_TIME_ZONE):
                    return view(request, *args, **kwargs)
            except NotFound as exc:
                return refuse(request, exc.message, status=404)
            except DomainPermissionDenied as exc:
                return refuse(request, exc.message)

        guarded.ombud_page = allowed  # type: ignore[attr-defined]
        return guarded

    return decorate


def signed_in(user: Any) -> bool:
    """Admit anyone who has completed sign-in (pages that show only the user's own things)."""
    return policies.is_signed_in(user)


@dataclass(frozen=True)
class PageRule:
    """One page: its URL name and the policy that admits a user to it."""

    name: str
    pattern: str
    allowed: Policy


def page_rules() -> Iterator[PageRule]:
    """Yield every page served behind `page(...)`, with the route it answers."""

    def walk(patterns: list[Any], prefix: str) -> Iterator[PageRule]:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern):
                allowed = getattr(entry.callback, "ombud_page", None)
                if allowed is not None and entry.name:
                    yield PageRule(entry.name, prefix + str(entry.pattern), allowed)

    yield from walk(get_resolver().url_patterns, "/")


def apply_errors(form: forms.Form, error: DomainError) -> None:
    """Put a service's refusal on the form: field messages on their fields, the rest on top."""
    placed = False
    for field, problems in error.fields.items():
        target = field if field in form.fields else None
        for problem in problems:
            form.add_error(target, problem)
            placed = True
    if not placed or error.message:
        form.add_error(None, error.message)


def form_failed(
    request: HttpRequest,
    template: str,
    context: Mapping[str, Any],
    form: forms.Form,
    error: DomainError,
) -> HttpResponse:
    """Re-render the page with the service's refusal on `form`, at the refusal's status."""
    apply_errors(form, error)
    return render(request, template, dict(context), status=error.status_code)


class DateField(forms.DateField):
    """A date between 1900 and 2100: anything further is a typo, and would overflow the time
    zone arithmetic of the pages that count whole days."""

    def validate(self, value: Any) -> None:
        super().validate(value)
        if value and not 1900 <= value.year <= 2100:
            raise forms.ValidationError(_("Give a date between 1900 and 2100."), code="range")


# --- navigation --------------------------------------------------------------------------------

# (URL name, label, policy): the areas a signed-in user's menu may show, in menu order.
AREAS: list[tuple[str, Any, Policy]] = [
    ("my-complaints", gettext_lazy("My complaints"), policies.can_rate_complaints),
    ("my-data", gettext_lazy("My data"), policies.can_make_privacy_request),
    ("queue", gettext_lazy("Queue"), policies.can_work_complaints),
    ("lead", gettext_lazy("Department"), policies.can_lead_department),
    ("decision-search", gettext_lazy("Decisions"), policies.can_audit_records),
    ("oversight", gettext_lazy("Oversight"), policies.can_read_samples),
    ("privacy-requests", gettext_lazy("Privacy"), policies.can_handle_privacy_requests),
]


def navigation(request: HttpRequest) -> dict[str, Any]:
    """Template context: the menu of areas the signed-in user may open."""
    user = getattr(request, "user", None)
    zone = settings.OMBUD_BUSINESS_TIME_ZONE
    if user is None or not policies.is_signed_in(user):
        return {"nav": [], "OMBUD_TIME_ZONE": zone}
    items = []
    for name, label, allowed in AREAS:
        if allowed(user):
            try:
                items.append({"url": reverse(name), "label": label, "name": name})
            except NoReverseMatch:
                continue  # an area whose pages this deployment does not route
    return {"nav": items, "OMBUD_TIME_ZONE": zone}
