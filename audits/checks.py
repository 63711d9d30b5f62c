"""System checks of the audits app: a deployment must be able to sign its ledger's checkpoints."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Tags, register
from django.core.exceptions import ImproperlyConfigured


@register(Tags.security, deploy=True)
def ledger_signing_key_configured(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Refuse a deployment with no usable ledger signing key (seal_ledger would fail at night)."""
    from audits import signing

    try:
        signing.signing_key()
        signing.verifier_keys()
    except (ImproperlyConfigured, ValueError) as exc:
        return [
            Error(
                f"The ledger's checkpoints cannot be signed or verified: {exc}",
                hint=(
                    "Set OMBUD_LEDGER_SIGNING_KEY or OMBUD_LEDGER_SIGNING_KEY_FILE, and list "
                    "retired verifier keys in OMBUD_LEDGER_PUBLIC_KEYS (docs/security.md, 'Keys')."
                ),
                id="audits.E001",
            )
        ]
    return []
