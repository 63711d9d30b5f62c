"""Stable pseudonyms: who did something, without saying who they are.

A pseudonym is a keyed hash (HMAC-SHA-256) of an internal id under a key derived from
OMBUD_PSEUDONYM_KEY (or SECRET_KEY when that is unset), so it cannot be reversed or recomputed
by someone without the key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser


def _key() -> bytes:
    secret = settings.OMBUD_PSEUDONYM_KEY or settings.SECRET_KEY
    return hmac.new(secret.encode(), b"ombud-pseudonym-v1", hashlib.sha256).digest()


def actor_ref(user: AbstractBaseUser | AnonymousUser | None) -> str:
    """Return the pseudonymous id that stands for `user` in the ledger and to supervisors."""
    if user is None or not user.is_authenticated:
        return "anonymous"
    digest = hmac.new(_key(), f"user:{user.pk}".encode(), hashlib.sha256).hexdigest()
    return f"u-{digest[:16]}"


def new_subject_pseudonym() -> str:
    """Return a fresh random pseudonym for a data subject (not derived from any data)."""
    return f"S-{secrets.token_hex(8).upper()}"
