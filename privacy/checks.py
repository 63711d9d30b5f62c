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
