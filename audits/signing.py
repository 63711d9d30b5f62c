"""The ledger's signing key, read from where settings say.

This key signs checkpoints and oversight reports and nothing else; the keys that protect
personal data live in the privacy app.
"""

from __future__ import annotations

import base64
import os
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .notes import VerifierKey, public_bytes


def _seed_from(text: str, where: str) -> bytes:
    try:
        seed = base64.b64decode(text.strip(), validate=True)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{where} is not base64") from exc
    if len(seed) != 32:
        raise ImproperlyConfigured(f"{where} must hold 32 bytes (base64), not {len(seed)}")
    return seed


@lru_cache(maxsize=4)
def _load(inline: str, path: str, debug: bool) -> Ed25519PrivateKey:
    if inline:
        return Ed25519PrivateKey.from_private_bytes(_seed_from(inline, "OMBUD_LEDGER_SIGNING_KEY"))
    if path:
        file = Path(path)
        if not file.exists() and debug:
            # Development only: make a key once, readable by this user alone.
            file.parent.mkdir(parents=True, exist_ok=True)
            seed = os.urandom(32)
            file.write_text(base64.b64encode(seed).decode() + "\n")
            file.chmod(0o600)
        if file.exists():
            return Ed25519PrivateKey.from_private_bytes(
                _seed_from(file.read_text(), f"the key file {file}")
            )
    raise ImproperlyConfigured(
        "No ledger signing key: set OMBUD_LEDGER_SIGNING_KEY to a base64 32-byte seed, or "
        "OMBUD_LEDGER_SIGNING_KEY_FILE to a file holding one "
        "(python -c 'import os,base64; print(base64.b64encode(os.urandom(32)).decode())')."
    )


def signing_key() -> Ed25519PrivateKey:
    """Return the current signing key (ImproperlyConfigured if none is set)."""
    return _load(
        settings.OMBUD_LEDGER_SIGNING_KEY,
        settings.OMBUD_LEDGER_SIGNING_KEY_FILE,
        bool(settings.DEBUG),
    )


def key_name() -> str:
    """Return the name keys are known by: the deployment's origin."""
    return str(settings.OMBUD_ORIGIN)


def current_verifier_key() -> VerifierKey:
    """Return the verifier key of the current signing key."""
    return VerifierKey(key_name(), public_bytes(signing_key().public_key()))


def verifier_keys() -> list[VerifierKey]:
    """Return every key that may have signed a checkpoint: the current one, then retired ones."""
    keys = [current_verifier_key()]
    for text in settings.OMBUD_LEDGER_PUBLIC_KEYS:
        key = VerifierKey.decode(text)
        if key not in keys:
            keys.append(key)
    return keys
