"""The security log: one line per authentication event, for operators.

This log is operational, not the ledger: it may name an attempted user name and the client's
address (personal data that log rotation erases), so that failures and attacks can be looked
into. The ledger records only the events that change access, by pseudonym (governance/auth_events).
No password, code, token key or session key is ever passed here.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from redis.exceptions import RedisError

logger = logging.getLogger("ombud.security")

# What the shared cache raises when it cannot be reached. Then the rate limits and the API
# throttles let requests through (and say so here) rather than failing every sign-in:
# django-axes still counts failed passwords and codes in the database, so guessing stays
# bounded while the cache is away.
CACHE_DOWN = (RedisError, OSError)


def client_ip(request: HttpRequest | None) -> str:
    """Return the address the request came from ("" when there is no HTTP request).

    With settings.OMBUD_TRUSTED_PROXIES = N > 0, the Nth address from the right of
    X-Forwarded-For (the one the outermost trusted proxy saw), as DRF's NUM_PROXIES reads it;
    with 0, the connection's address, whatever the header says.
    """
    if request is None:
        return ""
    remote = _address(request.META.get("REMOTE_ADDR")) or UNKNOWN_ADDRESS
    proxies = settings.OMBUD_TRUSTED_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if proxies <= 0 or not forwarded:
        return remote
    hops = [hop.strip() for hop in str(forwarded).split(",")]
    # Fewer hops than proxies: the request did not come through all of them, so the leftmost
    # hop is the client's own claim; the connection's address is what can be trusted.
    if len(hops) < proxies:
        return remote
    return _address(hops[-proxies]) or remote


# What stands for an address that is missing or not an address (a unix socket, a proxy that
# sends "unknown"): one shared bucket for the limits, and a valid value for axes' column.
UNKNOWN_ADDRESS = "0.0.0.0"  # noqa: S104 - a placeholder, never bound


def _address(value: object) -> str:
    """Return `value` as a normalised IP address, or "" if it is none."""
    try:
        return str(ipaddress.ip_address(str(value or "").strip()))
    except ValueError:
        return ""


def security_log(event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Write one `event=... key=value` line; strings are JSON-quoted so none can forge a line."""
    parts = [f"event={event}"]
    for key, value in fields.items():
        shown = value if isinstance(value, int | bool) or value is None else str(value)
        parts.append(f"{key}={json.dumps(shown, ensure_ascii=False)}")
    logger.log(level, " ".join(parts), extra={"security_event": event, "security_fields": fields})


def security_log_on_commit(event: str, **fields: Any) -> None:
    """Write the line once the transaction under way commits: it says the change happened."""
    transaction.on_commit(lambda: security_log(event, **fields))
