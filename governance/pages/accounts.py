"""Signing in, out and up.

Sign-in is two steps for staff. The password step (with django-axes counting failures) leaves
only a short-lived "pending" mark in the session; the user is signed in, and the session
rotated, only when the TOTP step succeeds. So no staff session ever exists with a password
alone. Complainants sign in with a password. A wrong code counts as a failed sign-in, so the
lockout covers guessing codes as well as passwords.
"""

from __future__ import annotations

import time
from typing import Any

import segno
from axes.handlers.proxy import AxesProxyHandler
from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model, login, logout, user_login_failed
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from governance import policies, services
from governance.auth_events import SETUP_CODE_STEP_SENDER
from governance.errors import Conflict, DomainError
from governance.models import AuthenticatorSetupCode

from .access import apply_errors
from .limits import limited

_PENDING = "ombud_pending_sign_in"
_PENDING_SECONDS = 300


class CodeForm(forms.Form):
    token = forms.CharField(
        label=gettext_lazy("Code from your authenticator app"),
        min_length=6,
        max_length=8,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


class SetupCodeForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Set-up code"),
        max_length=40,
        help_text=gettext_lazy("16 letters and digits, in four groups of four."),
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "characters", "autofocus": True}
        ),
    )


class SignUpForm(forms.Form):
    username = forms.CharField(label=gettext_lazy("User name"), max_length=150)
    email = forms.EmailField(label=gettext_lazy("Email"))
    password = forms.CharField(
        label=gettext_lazy("Password"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=gettext_lazy("At least 8 characters, not only digits, not a common password."),
    )


def _safe_next(request: HttpRequest, candidate: str | None) -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("home")


def _pending_user(request: HttpRequest) -> tuple[Any, dict[str, Any]] | tuple[None, None]:
    pending = request.session.get(_PENDING)
    if not pending or pending.get("until", 0) < time.time():
        request.session.pop(_PENDING, None)
        return None, None
    user = get_user_model().objects.filter(pk=pending["user"], is_active=True).first()
    return (user, pending) if user is not None else (None, None)


def _finish(request: HttpRequest, user: Any, pending: dict[str, Any], device: Any) -> HttpResponse:
    request.session.pop(_PENDING, None)
    # Set before login() so that its receiver ledgers the sign-in as password+totp; otp_login
    # sets it again on request.user, as django-otp does.
    user.otp_device = device
    login(request, user, backend=pending["backend"])
    otp_login(request, device)
    return HttpResponseRedirect(_safe_next(request, pending.get("next")))


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
@limited(("sign-in", "ip"), ("sign-in-username", "username"))
def sign_in(request: HttpRequest) -> HttpResponse:
    """Check the password; complainants are then signed in, staff go on to their code."""
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    form = AuthenticationForm(request, data=request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.get_user()
        if not policies.needs_two_factor(user):
            login(request, user)
            return HttpResponseRedirect(_safe_next(request, next_url))
        logout(request)
        has_device = TOTPDevice.objects.filter(user=user, confirmed=True).exists()
        request.session[_PENDING] = {
            "user": user.pk,
            "backend": user.backend,  # type: ignore[attr-defined]  # set by authenticate()
            "next": next_url,
            "until": time.time() + _PENDING_SECONDS,
            # A first sign-in gets a fresh key once it gives its set-up code (two_factor_setup).
            "device": None,
        }
        return redirect("two-factor" if has_device else "two-factor-setup")
    return render(request, "ombud/sign_in.html", {"form": form, "next": next_url})


def _locked(request: HttpRequest, user: Any) -> bool:
    return bool(AxesProxyHandler.is_locked(request, credentials={"username": user.get_username()}))


def _code_failed(request: HttpRequest, user: Any, *, sender: str = __name__) -> None:
    # Counted by django-axes like a wrong password, towards the same lockout.
    user_login_failed.send(
        sender=sender,
        credentials={"username": user.get_username()},
        request=request,
    )


@sensitive_post_parameters("token")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
@limited(("two-factor", "ip"))
def two_factor(request: HttpRequest) -> HttpResponse:
    """The second step for staff with an authenticator: a TOTP code."""
    user, pending = _pending_user(request)
    if user is None or pending is None:
        messages.info(request, _("Sign in with your password first."))
        return redirect("sign-in")
    if _locked(request, user):
        request.session.pop(_PENDING, None)
        return render(request, "ombud/locked_out.html", {}, status=429)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        for device in TOTPDevice.objects.filter(user=user, confirmed=True):
            if device.verify_token(form.cleaned_data["token"].strip()):
                return _finish(request, user, pending, device)
        _code_failed(request, user)
        form.add_error("token", _("That code is not right; type the 6 digits your app shows now."))
    return render(request, "ombud/two_factor.html", {"form": form})


@sensitive_post_parameters("code", "token")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
@limited(("two-factor", "ip"))
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    """The first sign-in of a staff user: the set-up code an administrator gave them, then
    linking an authenticator app and giving its code. The app's key is shown only after the
    set-up code, so a password alone reveals nothing and enrols nothing."""
    user, pending = _pending_user(request)
    if user is None or pending is None:
        messages.info(request, _("Sign in with your password first."))
        return redirect("sign-in")
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        return redirect("two-factor")
    if _locked(request, user):
        request.session.pop(_PENDING, None)
        return render(request, "ombud/locked_out.html", {}, status=429)
    if pending.get("device") is None:
        return _setup_code_step(request, user, pending)
    device = TOTPDevice.objects.filter(pk=pending["device"], user=user, confirmed=False).first()
    setup = AuthenticatorSetupCode.objects.filter(
        pk=pending.get("setup_code", 0), user=user
    ).first()
    if device is None or setup is None:
        # Another sign-in has since made a newer key: start again.
        return _start_again(
            request, _("Sign in with your password again to set up your authenticator.")
        )
    form = CodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            device = services.two_factor_enrol(
                user=user, device=device, setup_code=setup, token=form.cleaned_data["token"]
            )
        except Conflict as exc:
            return _start_again(request, exc.message)
        except DomainError as exc:
            _code_failed(request, user)
            apply_errors(form, exc)
            status = exc.status_code
        else:
            messages.success(request, _("Two-factor sign-in is set up."))
            return _finish(request, user, pending, device)
    qr = segno.make(device.config_url, error="m")
    context = {
        "form": form,
        "qr_svg": mark_safe(qr.svg_inline(scale=4, title=_("QR code of your authenticator key"))),  # noqa: S308 - segno's own SVG of our URL
        "secret": _grouped(device.config_url),
        "config_url": device.config_url,
    }
    return render(request, "ombud/two_factor_setup.html", context, status=status)


def _setup_code_step(request: HttpRequest, user: Any, pending: dict[str, Any]) -> HttpResponse:
    form = SetupCodeForm(request.POST or None)
    status = 400 if request.method == "POST" else 200
    if request.method == "POST" and form.is_valid():
        try:
            device, setup = services.two_factor_start(user=user, code=form.cleaned_data["code"])
        except DomainError as exc:
            # Counted like a wrong password: no guessing codes.
            _code_failed(request, user, sender=SETUP_CODE_STEP_SENDER)
            apply_errors(form, exc)
            status = exc.status_code
        else:
            # A fresh five minutes to install the app, scan the key and give its first code.
            request.session[_PENDING] = {
                **pending,
                "device": device.pk,
                "setup_code": setup.pk,
                "until": time.time() + _PENDING_SECONDS,
            }
            return redirect("two-factor-setup")
    return render(request, "ombud/two_factor_setup_code.html", {"form": form}, status=status)


def _start_again(request: HttpRequest, message: str) -> HttpResponse:
    request.session.pop(_PENDING, None)
    messages.info(request, message)
    return redirect("sign-in")


def _grouped(config_url: str) -> str:
    secret = config_url.split("secret=", 1)[1].split("&", 1)[0]
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@require_POST
@csrf_protect
def sign_out(request: HttpRequest) -> HttpResponse:
    """End the session."""
    logout(request)
    messages.info(request, _("You are signed out."))
    return redirect("home")


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
@limited(("sign-up", "ip"))
def sign_up(request: HttpRequest) -> HttpResponse:
    """Open a complainant's account and sign them in."""
    form = SignUpForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            user = services.complainant_register(**form.cleaned_data)
        except DomainError as exc:
            apply_errors(form, exc)
            status = exc.status_code
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, _("Your account is open. You can file a complaint now."))
            return redirect("home")
    elif request.method == "POST":
        status = 400
    return render(request, "ombud/sign_up.html", {"form": form}, status=status)


@never_cache
def home(request: HttpRequest) -> HttpResponse:
    """The front door: what the visitor can do here, by role."""
    return render(request, "ombud/home.html", {})
