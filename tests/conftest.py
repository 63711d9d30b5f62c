from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest
from rest_framework.test import APIClient

from governance.choices import Role
from tests import factories


@pytest.fixture(autouse=True)
def _db(db: Any) -> None:
    """Every test in this suite uses the database (migrated, with the seeded reference data)."""


@pytest.fixture(autouse=True)
def _fresh_rate_limits(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Start every test with empty request counts: the suite signs in from 127.0.0.1 far more
    often than the rate limits (governance/pages/limits.py, the API throttles) allow.

    django-ratelimit's clock is also held still for the test: it counts in fixed windows, each
    ending at a moment of the hour set by its key, and a test whose requests straddled that
    moment saw its count start again (one such failure in a full run on 2026-11-30).
    """
    from django.core.cache import cache
    from django_ratelimit import core

    frozen = time.time()
    monkeypatch.setattr(core, "time", SimpleNamespace(time=lambda: frozen))
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _english() -> Any:
    """Start every test in English: a page rendered in Chinese leaves Chinese active in its
    thread (LocaleMiddleware activates per request and never deactivates)."""
    from django.utils import translation

    translation.activate("en")
    yield
    translation.activate("en")


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def as_user(api: APIClient):  # type: ignore[no-untyped-def]
    """Return a function that authenticates the API client as a user and returns the client."""

    def login(user: Any) -> APIClient:
        api.force_authenticate(user=user)
        return api

    return login


@pytest.fixture
def complainant() -> Any:
    return factories.user_with_role(Role.COMPLAINANT)


@pytest.fixture
def handler() -> Any:
    return factories.user_with_role(Role.HANDLER, "moderation")


@pytest.fixture
def lead() -> Any:
    return factories.user_with_role(Role.DEPARTMENT_LEAD, "moderation")


@pytest.fixture
def compliance() -> Any:
    return factories.user_with_role(Role.COMPLIANCE_OFFICER)


@pytest.fixture
def supervisor() -> Any:
    return factories.user_with_role(Role.SUPERVISOR)


@pytest.fixture
def admin_user() -> Any:
    return factories.user_with_role(Role.ADMIN)


@pytest.fixture
def page_as():  # type: ignore[no-untyped-def]
    """Return a function that gives a browser-like client signed in as a user, with the second
    factor already given for staff (the sign-in steps themselves are tested in test_accounts)."""
    from django.test import Client

    def sign_in(user: Any, language: str = "en") -> Client:
        client = Client(HTTP_ACCEPT_LANGUAGE=language)
        factories.sign_in_pages(client, user)
        return client

    return sign_in
