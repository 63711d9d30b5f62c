"""Rate limits on the pages anyone can reach: sign-in, its second step, sign-up, transparency.

Requests are counted with django-ratelimit in the default cache (Redis in production, shared by
every app server), per client address and, at the password step, also per user name tried, so
neither one address trying many names nor many addresses trying one name gets far. Over the
limit, the page answers 429 with a Retry-After header and says when to try again. The rates
are settings.OMBUD_RATE_LIMITS, read at each request; a missing or empty rate is no limit.
django-axes still locks a user name after a few wrong passwords; these limits also slow down
the guessing of names, sign-up floods and scraping.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_ratelimit import ALL
from django_ratelimit.core import get_usage

from governance.security_log import CACHE_DOWN

View = Callable[..., HttpResponse]

security_log = logging.getLogger("ombud.security")


def _username(group: str, request: HttpRequest) -> str:
    # One count per name, however it is capitalised or padded.
    return request.POST.get("username", "").strip().casefold()


# What a limit counts by: a django-ratelimit key, or a function of the request.
KEYS: dict[str, str | Callable[[str, HttpRequest], str]] = {
    "ip": "ip",
    "username": _username,
}


def too_many_requests(request: HttpRequest, retry_after: int) -> HttpResponse:
    """Render the 429 page, saying (and telling clients in Retry-After) when to come back."""
    seconds = max(int(retry_after), 1)
    response = render(
        request,
        "ombud/too_many_requests.html",
        {"minutes": math.ceil(seconds / 60)},
        status=429,
    )
    response["Retry-After"] = str(seconds)
    return response


def limited(
    *limits: tuple[str, str], methods: Sequence[str] | None = ("POST",)
) -> Callable[[View], View]:
    """Count each request in `methods` (None: all) under every (rate name, key) pair given, and
    answer 429 once any count passes its rate from settings.OMBUD_RATE_LIMITS."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            waits: list[int] = []
            for rate_name, key in limits:
                rate = settings.OMBUD_RATE_LIMITS.get(rate_name)
                if not rate:
                    continue
                try:
                    usage = get_usage(
                        request,
                        group=f"ombud:{rate_name}:{key}",
                        key=KEYS[key],
                        rate=rate,
                        method=list(methods) if methods is not None else ALL,
                        increment=True,
                    )
                except CACHE_DOWN as exc:
                    security_log.warning("limit %s not counted: cache down (%s)", rate_name, exc)
                    continue
                if usage is not None and usage["should_limit"]:
                    waits.append(usage["time_left"])
            if waits:
                return too_many_requests(request, max(waits))
            return view(request, *args, **kwargs)

        return wrapped

    return decorate
