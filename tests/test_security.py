"""Security hardening: a clean `check --deploy`, the protective headers on every response,
https, the rate limits on the public and sign-in pages and the API, plain 500 pages and secure
cookies."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import subprocess
import sys
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from audits import reports
from governance.choices import Role
from governance.security_log import UNKNOWN_ADDRESS, client_ip
from tests import factories
from tests.test_pages_matrix import MATRIX, _pages, _url, _user, world  # noqa: F401 - a fixture

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "a-long-and-unusual-passphrase-7"

# What production needs besides DEBUG, SECRET_KEY and ALLOWED_HOSTS: its keys (test-only values,
# as in pyproject's pytest env; never production keys).
PRODUCTION_KEYS = {
    "OMBUD_LEDGER_SIGNING_KEY": "dGVzdC1vbmx5LWxlZGdlci1zaWduaW5nLXNlZWQtMzI=",
    "OMBUD_KEKS": "test-1:dGVzdC1vbmx5LWtleS1lbmNyeXB0aW9uLWtleS0zMmI=",
    "OMBUD_PSEUDONYM_KEY": "test-only-pseudonym-key-0123456789abcdef",
}


def _production(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """Run `python <args>` with nothing in the environment but what production sets."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "ombud.example.org",
        **PRODUCTION_KEYS,
        **extra,
    }
    return subprocess.run(  # noqa: S603 - our own interpreter and fixed arguments
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# --- (a) check --deploy ------------------------------------------------------------------------


@pytest.mark.parametrize("cache", [{}, {"REDIS_URL": "redis://127.0.0.1:6379/0"}])
def test_the_deploy_check_finds_nothing_in_production(cache: dict[str, str]) -> None:
    result = _production("manage.py", "check", "--deploy", "--fail-level", "WARNING", **cache)

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(
    ("off", "check_id"),
    [({"SECURE_SSL_REDIRECT": "0"}, "security.W008"), ({"SECURE_HSTS_PRELOAD": "0"}, "W021")],
)
def test_the_deploy_check_names_a_protection_turned_off(off: dict[str, str], check_id: str) -> None:
    result = _production("manage.py", "check", "--deploy", "--fail-level", "WARNING", **off)

    assert result.returncode != 0
    assert check_id in result.stderr


PRINT_SECURITY = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({k: getattr(s, k) for k in ('SECURE_SSL_REDIRECT', "
    "'SECURE_PROXY_SSL_HEADER', 'SECURE_HSTS_SECONDS', 'SESSION_COOKIE_SECURE', "
    "'CSRF_COOKIE_SECURE')} | {'CACHE': s.CACHES['default']['BACKEND']}))"
)


def _security_settings(**extra: str) -> dict[str, Any]:
    import json

    result = _production("-c", PRINT_SECURITY, DJANGO_SETTINGS_MODULE="config.settings", **extra)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_redirects_to_https_and_sends_hsts_by_default() -> None:
    values = _security_settings()

    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_PROXY_SSL_HEADER"] is None
    assert values["SECURE_HSTS_SECONDS"] == 365 * 24 * 3600
    assert values["SESSION_COOKIE_SECURE"] is values["CSRF_COOKIE_SECURE"] is True
    assert values["CACHE"] == "django.core.cache.backends.locmem.LocMemCache"


def test_behind_a_tls_proxy_the_environment_sets_the_header_and_the_cache() -> None:
    values = _security_settings(
        SECURE_SSL_REDIRECT="0",
        SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO",
        REDIS_URL="redis://cache:6379/1",
    )

    assert values["SECURE_SSL_REDIRECT"] is False
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["CACHE"] == "django.core.cache.backends.redis.RedisCache"


def test_development_sends_no_hsts_and_plain_cookies() -> None:
    values = _security_settings(DEBUG="1")

    assert values["SECURE_SSL_REDIRECT"] is False
    assert values["SECURE_HSTS_SECONDS"] == 0
    assert values["SESSION_COOKIE_SECURE"] is False


# --- (b) headers on every response -------------------------------------------------------------


def _header_faults(response: Any, where: str, *, secure: bool = True) -> list[str]:
    """What is missing or wrong in the response's protective headers."""
    faults: list[str] = []
    policy = response.get("Content-Security-Policy", "")
    directives = {part.split()[0]: part.split()[1:] for part in policy.split("; ") if part}
    expected = {
        "default-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    for name, sources in expected.items():
        if directives.get(name) != sources:
            faults.append(f"{where}: CSP {name} is {directives.get(name)}")
    for name in ("script-src", "style-src"):
        if "'unsafe-inline'" in directives.get(name, []) or "'self'" not in directives.get(
            name, []
        ):
            faults.append(f"{where}: CSP {name} is {directives.get(name)}")
    headers = {
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        "X-Content-Type-Options": "nosniff",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if secure:
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains; preload"
    for name, value in headers.items():
        if response.get(name) != value:
            faults.append(f"{where}: {name} is {response.get(name)!r}")
    if "camera=()" not in response.get("Permissions-Policy", ""):
        faults.append(f"{where}: Permissions-Policy is {response.get('Permissions-Policy')!r}")
    return faults


def _get_or_post(client: Client, url: str) -> Any:
    response = client.get(url, secure=True)
    if response.status_code == 405:  # a POST-only action: post nothing
        response = client.post(url, {}, secure=True)
    return response


def test_every_page_sends_the_security_headers_signed_in(world: dict[str, Any]) -> None:  # noqa: F811
    # given each page's first role that may open it, signed in once per role
    pages_by_role: dict[str, list[str]] = defaultdict(list)
    for rule in _pages():
        role = sorted(MATRIX[rule.name])[0]
        pages_by_role[role].append(_url(rule, world))
    faults: list[str] = []
    for role, urls in pages_by_role.items():
        client = factories.sign_in_pages(Client(), _user(role, world))
        for url in [*urls, reverse("home")]:
            # when
            response = _get_or_post(client, url)
            # then
            if response.status_code in {403, 500}:
                faults.append(f"{url} as {role}: {response.status_code}")
            faults += _header_faults(response, f"{url} as {role}")
    assert not faults, "\n".join(faults)


def test_every_page_sends_the_security_headers_to_anonymous_visitors(
    world: dict[str, Any],  # noqa: F811
) -> None:
    client = Client()
    urls = [_url(rule, world) for rule in _pages()]
    public = ["home", "sign-in", "sign-up", "two-factor", "transparency", "transparency-zh-hans"]
    faults: list[str] = []
    for url in [*urls, *(reverse(name) for name in public), "/admin/login/", "/no-such-page/"]:
        faults += _header_faults(_get_or_post(client, url), url)
    assert not faults, "\n".join(faults)


def test_the_api_and_its_documentation_send_the_security_headers(complainant: Any) -> None:
    api = APIClient()
    faults = _header_faults(api.get("/api/v1/complaints/", secure=True), "API, anonymous")
    api.force_authenticate(complainant)
    response = api.get("/api/v1/complaints/", secure=True)
    assert response.status_code == 200
    faults += _header_faults(response, "API, signed in")
    assert not faults, "\n".join(faults)


def test_the_api_documentation_is_served_from_here_without_inline_script() -> None:
    client = Client()

    page = client.get("/api/docs/", secure=True)
    script = client.get("/api/docs/?script=", secure=True)

    assert page.status_code == script.status_code == 200
    html = page.content.decode()
    assert "cdn." not in html
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    # Every <script> and <style> element loads a file: none carries code of its own.
    empty = re.findall(r"<script src=\"[^\"]+\"></script>", html)
    assert len(empty) == html.count("<script") == 3
    assert "<style" not in html
    assert 'src="/api/docs/?script="' in html
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()
    policy = page["Content-Security-Policy"]
    assert "img-src 'self' data:" in policy
    assert "'unsafe-inline'" not in policy
    assert (
        client.get(
            "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"
        ).status_code
        == 200
    )


def test_templates_carry_no_inline_script_style_or_handler() -> None:
    inline = re.compile(r"<script(?![^>]*\bsrc=)|<style(?![^>]*\bnonce=)|\sstyle=|\son[a-z]+=")
    found = [
        f"{path.relative_to(ROOT)}: {match.group(0)!r}"
        for app in ("governance", "audits", "privacy")
        for path in (ROOT / app).rglob("templates/**/*.html")
        # report.html is frozen into each published report; its page is served with its own
        # style sheet's hash in the policy (test below).
        if path.name != "report.html"
        for match in inline.finditer(path.read_text(encoding="utf-8"))
    ]
    assert found == []


def test_the_one_style_attribute_allowed_is_the_history_pages_pager() -> None:
    # The policy allows style attributes by the hash of their text. django-simple-history's
    # admin history page has one; if an upgrade changes it, the hash must follow.
    from django.template.loader import get_template

    source = get_template("simple_history/object_history_list.html").template.source
    attributes = re.findall(r'\sstyle="([^"]*)"', source)
    allowed = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["style-src-attr"]
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"
        for text in attributes
    ]
    assert allowed == ["'unsafe-hashes'", *hashes]


@pytest.fixture
def published(supervisor: Any) -> Any:
    factories.file_complaint(
        factories.user_with_role(Role.COMPLAINANT),
        content_url="https://video.example.com/v/sec",
        now=datetime(2025, 3, 3, 10, tzinfo=ZoneInfo("Asia/Shanghai")),
    )
    return reports.report_publish(actor=supervisor, period="2025-03")


def test_a_frozen_report_page_admits_only_its_own_style_sheet(published: Any) -> None:
    client = Client()

    response = client.get(f"/transparency/reports/{published.number}/", secure=True)
    listing = client.get("/transparency/", secure=True)

    assert response.status_code == 200
    css = re.search(r"<style>(.*?)</style>", published.html_en, re.DOTALL)
    assert css is not None
    digest = base64.b64encode(hashlib.sha256(css.group(1).encode()).digest()).decode()
    style_src = re.search(r"style-src ([^;]*)", response["Content-Security-Policy"])
    assert style_src is not None
    assert style_src.group(1).split() == ["'self'", f"'sha256-{digest}'"]
    assert not _header_faults(response, "report page")
    # The live listing gives its inline sheet the request's nonce instead.
    nonce = re.search(r'<style nonce="([^"]+)">', listing.content.decode())
    assert nonce is not None
    assert f"'nonce-{nonce.group(1)}'" in listing["Content-Security-Policy"]


# --- (c) https ---------------------------------------------------------------------------------


def test_with_the_ssl_redirect_on_http_is_sent_to_https() -> None:
    with override_settings(SECURE_SSL_REDIRECT=True):
        client = Client()  # a new client loads the middleware with the setting
        plain = client.get("/transparency/?x=1")
        secure = client.get("/transparency/?x=1", secure=True)

    assert plain.status_code == 301
    assert plain["Location"] == "https://testserver/transparency/?x=1"
    assert "Strict-Transport-Security" not in plain
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"


def test_behind_a_tls_proxy_its_header_counts_as_https() -> None:
    with override_settings(
        SECURE_SSL_REDIRECT=True, SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https")
    ):
        client = Client()
        proxied = client.get("/transparency/", HTTP_X_FORWARDED_PROTO="https")
        claimed_http = client.get("/transparency/", HTTP_X_FORWARDED_PROTO="http")

    assert proxied.status_code == 200
    assert "Strict-Transport-Security" in proxied
    assert claimed_http.status_code == 301


def test_hsts_is_never_sent_over_plain_http() -> None:
    response = Client().get("/transparency/")

    assert response.status_code == 200
    assert "Strict-Transport-Security" not in response
    assert not _header_faults(response, "http", secure=False)


# --- (d) rate limits ---------------------------------------------------------------------------

# Per hour rather than per minute: django-ratelimit counts in fixed windows, and a test's few
# requests should not straddle the end of one.
LIMITS = {
    "sign-in": "3/h",
    "sign-in-username": "3/h",
    "two-factor": "3/h",
    "sign-up": "2/h",
    "public": "3/h",
}


def _assert_limited(response: Any, period: int) -> None:
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= period
    page = response.content.decode()
    assert "Too many requests" in page
    assert "Try again in" in page


@override_settings(OMBUD_RATE_LIMITS=LIMITS)
def test_the_password_step_is_limited_per_address(complainant: Any) -> None:
    client = Client()
    for i in range(3):
        data = {"username": f"nobody-{i}", "password": "wrong"}
        assert client.post(reverse("sign-in"), data).status_code == 200

    response = client.post(reverse("sign-in"), {"username": "nobody-9", "password": "wrong"})

    _assert_limited(response, 3600)
    # Another address is not held back by this one.
    other = Client(REMOTE_ADDR="192.0.2.7")
    assert other.post(reverse("sign-in"), {"username": "x", "password": "y"}).status_code == 200
    # Showing the form is not counted.
    assert client.get(reverse("sign-in")).status_code == 200


@override_settings(OMBUD_RATE_LIMITS={**LIMITS, "sign-in": "100/h"})
def test_the_password_step_is_limited_per_user_name_across_addresses(complainant: Any) -> None:
    complainant.set_password(PASSWORD)
    complainant.save()
    name = complainant.get_username()
    for i, tried in enumerate([name, name.upper(), f" {name} "]):
        client = Client(REMOTE_ADDR=f"192.0.2.{i + 1}")
        assert (
            client.post(reverse("sign-in"), {"username": tried, "password": "x"}).status_code == 200
        )

    # Even the right password waits once the name has been tried too often.
    response = Client(REMOTE_ADDR="192.0.2.99").post(
        reverse("sign-in"), {"username": name, "password": PASSWORD}
    )

    _assert_limited(response, 3600)


@override_settings(OMBUD_RATE_LIMITS=LIMITS)
def test_the_code_step_is_limited_per_address() -> None:
    client = Client()
    for _ in range(3):
        assert client.post(reverse("two-factor"), {"token": "123456"}).status_code == 302

    _assert_limited(client.post(reverse("two-factor"), {"token": "123456"}), 3600)
    _assert_limited(client.post(reverse("two-factor-setup"), {"token": "123456"}), 3600)


@override_settings(OMBUD_RATE_LIMITS=LIMITS)
def test_sign_up_is_limited_per_address() -> None:
    client = Client()
    for i in range(2):
        data = {"username": f"new-{i}", "email": f"new-{i}@example.org", "password": PASSWORD}
        assert client.post(reverse("sign-up"), data).status_code == 302
        client.post(reverse("sign-out"))

    data = {"username": "new-3", "email": "new-3@example.org", "password": PASSWORD}
    response = client.post(reverse("sign-up"), data)

    _assert_limited(response, 3600)
    assert not factories.UserFactory._meta.model.objects.filter(username="new-3").exists()


def test_the_limit_page_is_translated() -> None:
    with override_settings(OMBUD_RATE_LIMITS={**LIMITS, "sign-up": "0/h"}):
        response = Client(HTTP_ACCEPT_LANGUAGE="zh-hans").post(reverse("sign-up"), {})

    assert response.status_code == 429
    assert "请求过多" in response.content.decode()


@override_settings(OMBUD_RATE_LIMITS=LIMITS)
def test_the_public_pages_are_limited_per_address() -> None:
    client = Client()
    for url in ["/transparency/", "/zh-hans/transparency/", "/transparency/reports/1/"]:
        assert client.get(url).status_code in {200, 404}

    response = client.get("/transparency/")

    _assert_limited(response, 3600)
    assert "immutable" not in response.get("Cache-Control", "")
    assert Client(REMOTE_ADDR="192.0.2.8").get("/transparency/").status_code == 200


def test_without_a_rate_there_is_no_limit() -> None:
    client = Client()
    with override_settings(OMBUD_RATE_LIMITS={**LIMITS, "public": ""}):
        statuses = {client.get("/transparency/").status_code for _ in range(5)}

    assert statuses == {200}


def _throttled(**rates: str) -> Any:
    return override_settings(
        REST_FRAMEWORK={
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {"anon": "1000/min", "user": "1000/min", **rates},
        }
    )


def test_the_api_limits_anonymous_callers_per_address() -> None:
    api = APIClient()
    with _throttled(anon="2/min"):
        statuses = [api.get("/api/docs/?script=").status_code for _ in range(3)]
        last = api.get("/api/docs/?script=")
        other = APIClient(REMOTE_ADDR="192.0.2.9").get("/api/docs/?script=")
        # A forged X-Forwarded-For does not buy a fresh count.
        forged = api.get("/api/docs/?script=", HTTP_X_FORWARDED_FOR="198.51.100.1")

    assert statuses == [200, 200, 429]
    assert last.status_code == 429
    assert 0 < int(last["Retry-After"]) <= 60
    assert other.status_code == 200
    assert forged.status_code == 429


def test_the_api_counts_anonymous_callers_of_endpoints_that_need_a_sign_in() -> None:
    # DRF's own order answers 401 before throttling: such callers were never counted.
    api = APIClient()
    with _throttled(anon="2/min"):
        statuses = [api.get("/api/v1/complaints/").status_code for _ in range(3)]
        guessed = api.get("/api/v1/complaints/", HTTP_AUTHORIZATION="Token " + "0" * 40)

    assert statuses == [401, 401, 429]
    assert guessed.status_code == 429  # a guessed token is an anonymous caller too


def test_the_api_counts_session_writes_refused_for_their_csrf_token(complainant: Any) -> None:
    # DRF checks a session's CSRF token while it authenticates, and answered 403 uncounted.
    api = APIClient(enforce_csrf_checks=True)
    api.force_login(complainant)
    with _throttled(anon="2/min"):
        statuses = [
            api.post("/api/v1/complaints/", {}, format="json").status_code for _ in range(3)
        ]
        read = api.get("/api/v1/complaints/")

    assert statuses == [403, 403, 429]
    assert read.status_code == 200  # the signed-in reads are counted per user, not as anonymous


def test_a_signed_in_body_the_api_cannot_parse_is_not_counted_as_anonymous(
    complainant: Any,
) -> None:
    # The CSRF check reads the body while DRF authenticates, so a malformed one fails there;
    # its sender holds a valid session and token, and must not use up the address's
    # anonymous allowance.
    api = APIClient(enforce_csrf_checks=True)
    api.force_login(complainant)
    secret = "a" * 32
    api.cookies[settings.CSRF_COOKIE_NAME] = secret
    with _throttled(anon="2/min"):
        statuses = [
            api.post(
                "/api/v1/complaints/",
                "{not json",
                content_type="application/json",
                HTTP_X_CSRFTOKEN=secret,
            ).status_code
            for _ in range(3)
        ]
        anonymous = APIClient().get("/api/v1/complaints/")

    assert statuses == [400, 400, 400]
    assert anonymous.status_code == 401


def test_an_html_page_of_the_api_counts_once(complainant: Any) -> None:
    # The browsable API checks permissions again for each form it draws; each check used to
    # count against the caller's rate.
    api = APIClient()
    api.force_authenticate(complainant)
    with _throttled(user="3/min"):
        statuses = [
            api.get("/api/v1/complaints/", HTTP_ACCEPT="text/html").status_code for _ in range(4)
        ]
    assert statuses == [200, 200, 200, 429]


def test_the_api_schema_ignores_tokens_and_counts_its_callers() -> None:
    # Public, and reading no credentials: no 401 to tell a guessed token from a real one.
    api = APIClient()
    wrong = {"HTTP_AUTHORIZATION": "Token " + "0" * 40}
    with _throttled(anon="2/min"):
        statuses = [api.get("/api/schema/", **wrong).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_the_api_limits_each_signed_in_user(complainant: Any, handler: Any) -> None:
    api, other = APIClient(), APIClient()
    api.force_authenticate(complainant)
    other.force_authenticate(handler)
    with _throttled(user="2/min"):
        statuses = [api.get("/api/v1/complaints/").status_code for _ in range(3)]
        others = other.get("/api/v1/complaints/").status_code

    assert statuses == [200, 200, 429]
    assert others == 200


def test_the_api_accepts_json_only(complainant: Any) -> None:
    api = APIClient()
    api.force_authenticate(complainant)

    response = api.post("/api/v1/complaints/", {"description": "x"}, format="multipart")

    assert response.status_code == 415


# --- (e) no debug output -----------------------------------------------------------------------

MARKER = "internal-detail-that-must-not-leak"


def _explode(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError(MARKER)


def test_a_crashing_page_shows_a_plain_page(monkeypatch: pytest.MonkeyPatch) -> None:
    from audits import views

    monkeypatch.setattr(views.selectors, "published_reports", _explode)
    client = Client(raise_request_exception=False)

    response = client.get("/transparency/")
    chinese = client.get("/zh-hans/transparency/", HTTP_ACCEPT_LANGUAGE="zh-hans")

    assert response.status_code == chinese.status_code == 500
    page = response.content.decode()
    assert "Something went wrong" in page
    for leak in (MARKER, "Traceback", "RuntimeError", "settings", "audits/views.py"):
        assert leak not in page
    assert "出错了" in chinese.content.decode()
    assert not _header_faults(response, "500", secure=False)


def test_a_crashing_api_call_answers_json_without_detail(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from governance.api import throttles

    monkeypatch.setattr(throttles.AnonThrottle, "allow_request", _explode)
    api = APIClient(raise_request_exception=False)

    response = api.get("/api/docs/?script=")

    assert response.status_code == 500
    assert response.json() == {
        "detail": "The server failed; try again later.",
        "code": "server_error",
    }
    assert MARKER not in response.content.decode()


# --- (f) cookies -------------------------------------------------------------------------------


def test_cookies_are_secure_http_only_and_same_site(complainant: Any) -> None:
    complainant.set_password(PASSWORD)
    complainant.save()
    client = Client()

    form = client.get(reverse("sign-in"))
    signed_in = client.post(
        reverse("sign-in"), {"username": complainant.get_username(), "password": PASSWORD}
    )

    assert settings.DEBUG is False
    assert signed_in.status_code == 302
    csrf = form.cookies[settings.CSRF_COOKIE_NAME]
    session = signed_in.cookies[settings.SESSION_COOKIE_NAME]
    assert csrf["secure"] is True
    assert csrf["samesite"] == "Lax"
    assert session["secure"] is True
    assert session["httponly"] is True
    assert session["samesite"] == "Lax"


# Nothing listens on port 1: every cache call fails as it does when Redis is down.
CACHE_DOWN = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"socket_connect_timeout": 0.2},
    }
}


def test_with_the_shared_cache_down_the_limits_let_requests_through_and_say_so(
    complainant: Any, caplog: pytest.LogCaptureFixture
) -> None:
    api = APIClient()
    api.force_authenticate(complainant)
    # (override_settings swaps the cache itself: Django's test signals reset the handler.)
    with override_settings(CACHES=CACHE_DOWN, OMBUD_RATE_LIMITS=LIMITS), _throttled():
        sign_in = Client().post(reverse("sign-in"), {"username": "x", "password": "y"})
        listed = api.get("/api/v1/complaints/")

    assert sign_in.status_code == 200
    assert listed.status_code == 200
    assert "not counted: cache down" in caplog.text


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "198.51.100.1", "192.0.2.1"),  # no proxy: the header is anyone's to write
        (1, "198.51.100.1", "198.51.100.1"),
        (1, "203.0.113.66, 198.51.100.1", "198.51.100.1"),  # the client's own claim is skipped
        (2, "203.0.113.66, 198.51.100.1, 10.0.0.2", "198.51.100.1"),
        (1, None, "192.0.2.1"),
    ],
)
def test_the_client_address_is_read_one_way_behind_trusted_proxies(proxies, forwarded, expected):
    request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.1")
    if forwarded is not None:
        request.META["HTTP_X_FORWARDED_FOR"] = forwarded

    with override_settings(OMBUD_TRUSTED_PROXIES=proxies):
        assert client_ip(request) == expected


@override_settings(OMBUD_TRUSTED_PROXIES=1, OMBUD_RATE_LIMITS=LIMITS)
def test_behind_a_proxy_limits_count_each_client_not_the_proxy() -> None:
    proxy = "10.0.0.2"
    first = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="198.51.100.1")
    for i in range(3):
        first.post(reverse("sign-in"), {"username": f"nobody-{i}", "password": "wrong"})

    held = first.post(reverse("sign-in"), {"username": "nobody-9", "password": "wrong"})
    other = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="198.51.100.2").post(
        reverse("sign-in"), {"username": "nobody-8", "password": "wrong"}
    )

    assert held.status_code == 429
    assert other.status_code == 200


@pytest.mark.parametrize(
    ("remote", "forwarded", "proxies", "expected"),
    [
        ("192.0.2.1", "198.51.100.1", 2, "192.0.2.1"),  # fewer hops than proxies: not through them
        ("192.0.2.1", "unknown", 1, "192.0.2.1"),  # a proxy that sends no address
        ("192.0.2.1", "198.51.100.1:4431", 1, "192.0.2.1"),
        ("", None, 0, UNKNOWN_ADDRESS),  # a unix socket: no address at all
        ("2001:db8::1", None, 0, "2001:db8::1"),
    ],
)
def test_a_client_address_that_is_not_one_never_reaches_the_limits_or_the_lockout(
    remote, forwarded, proxies, expected
):
    request = RequestFactory().get("/", REMOTE_ADDR=remote)
    if forwarded is not None:
        request.META["HTTP_X_FORWARDED_FOR"] = forwarded

    with override_settings(OMBUD_TRUSTED_PROXIES=proxies):
        assert client_ip(request) == expected


def test_sign_in_from_a_unix_socket_is_answered_not_crashed() -> None:
    response = Client(REMOTE_ADDR="").post(reverse("sign-in"), {"username": "x", "password": "y"})

    assert response.status_code == 200
