"""The API's request limits: anonymous callers by address, signed-in callers by user.

DRF's own classes copy DEFAULT_THROTTLE_RATES once, when they are imported; these read the rate
at each request, so a deployment's (or a test's) REST_FRAMEWORK settings always apply.
"""

from __future__ import annotations

from typing import Any, cast

from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

from governance.security_log import CACHE_DOWN
from governance.security_log import logger as security_log


def _rate(scope: str | None) -> str | None:
    # The stubs type the rates as numbers; they are strings such as "60/min".
    rates = cast("dict[str, str | None]", api_settings.DEFAULT_THROTTLE_RATES)
    return rates.get(scope) if scope else None


class _FailOpen:
    """Let a request through, logged, when the shared cache that holds the counts is down."""

    scope: str | None

    def allow_request(self, request: Any, view: Any) -> bool:
        try:
            return bool(super().allow_request(request, view))  # type: ignore[misc]
        except CACHE_DOWN as exc:
            security_log.warning("API throttle %s not counted: cache down (%s)", self.scope, exc)
            return True


class AnonThrottle(_FailOpen, AnonRateThrottle):
    """Limit callers that are not signed in, per client address (rate "anon")."""

    def get_rate(self) -> str | None:
        return _rate(self.scope)


class UserThrottle(_FailOpen, UserRateThrottle):
    """Limit signed-in callers, per user (rate "user")."""

    def get_rate(self) -> str | None:
        return _rate(self.scope)
