"""System checks of the privacy app: a deployment must hold the keys that protect personal data."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Tags, register
from django.core.exceptions import ImproperlyConfigured


@register(Tags.security, deploy=True)
def key_encryption_keys_configured(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Refuse a deployment whose key-encryption keys are missing or malformed."""
    from privacy.keys import keyring

    try:
        keyring()
    except ImproperlyConfigured as exc:
        return [
            Error(
                f"Personal data cannot be encrypted or read: {exc}",
                hint="Set OMBUD_KEKS or OMBUD_KEKS_FILE (see README, 'Keys').",
                id="privacy.E001",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def pseudonym_key_configured(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Refuse a deployment whose pseudonyms and lookup digests hang on SECRET_KEY.

    Both are keyed hashes under OMBUD_PSEUDONYM_KEY, or SECRET_KEY when it is unset; rotating
    SECRET_KEY (after a leak, say) would then give every actor a new pseudonym and make every
    person unfindable by their email or phone. A key of its own lets SECRET_KEY rotate freely.
    """
    from django.conf import settings

    key = settings.OMBUD_PSEUDONYM_KEY
    if len(key) >= 32:
        return []
    return [
        Error(
            "OMBUD_PSEUDONYM_KEY is unset or shorter than 32 characters, so pseudonyms and "
            "lookup digests would change whenever SECRET_KEY is rotated.",
            hint=(
                "A new deployment sets OMBUD_PSEUDONYM_KEY to a random string of 32 or more "
                "characters; one that has run without it sets it to its current SECRET_KEY, so "
                "no pseudonym changes. Keep it for the life of the deployment (docs/security.md)."
            ),
            id="privacy.E002",
        )
    ]
