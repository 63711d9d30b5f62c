"""Keys that protect personal data: key-encryption keys (KEKs) and the per-person data keys.

Envelope encryption. Each data subject has a data key of their own (AES-256-GCM). Data keys are
stored only wrapped (encrypted) by a KEK, which lives outside the database, in the environment
or a file named in settings. Destroying a subject's wrapped data key makes every ciphertext of
theirs unreadable, wherever a copy survives: live rows, history rows, backups.

Two formats, both fixed forever because ciphertexts outlive code:
- a wrapped data key is `nonce (12 bytes) || AES-GCM(kek, data key)` with associated data
  `ombud:dek:v1:<pseudonym>`, so a wrapped key cannot be moved to another person;
- a value is `0x01 || nonce (12 bytes) || AES-GCM(data key, utf-8 text)` with associated data
  `ombud:v1:<record>:<field>`, so a ciphertext cannot be moved to another record or field.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

NONCE_BYTES = 12
VALUE_VERSION = b"\x01"


class CipherError(Exception):
    """A ciphertext or wrapped key does not open: wrong key, wrong record, or altered bytes."""


@dataclass(frozen=True)
class KeyRing:
    """The configured KEKs by id, in the order given (the last one is the newest)."""

    keys: tuple[tuple[str, bytes], ...]

    @property
    def newest_id(self) -> str:
        return self.keys[-1][0]

    def get(self, kek_id: str) -> bytes:
        for key_id, key in self.keys:
            if key_id == kek_id:
                return key
        raise ImproperlyConfigured(
            f"Key-encryption key {kek_id!r} is not configured: add it back to OMBUD_KEKS (or "
            "OMBUD_KEKS_FILE) until `manage.py rotate_keys` has moved every data key off it."
        )


def _parse_pairs(pairs: list[tuple[str, str]], where: str) -> KeyRing:
    keys: list[tuple[str, bytes]] = []
    for key_id, text in pairs:
        if not key_id or any(c.isspace() or c in ":," for c in key_id):
            raise ImproperlyConfigured(
                f"{where}: key id {key_id!r} must be a word without ':' or ','"
            )
        try:
            key = base64.b64decode(text, validate=True)
        except ValueError as exc:
            raise ImproperlyConfigured(f"{where}: key {key_id!r} is not base64") from exc
        if len(key) != 32:
            raise ImproperlyConfigured(f"{where}: key {key_id!r} must be 32 bytes, not {len(key)}")
        if any(key_id == other for other, _ in keys):
            raise ImproperlyConfigured(f"{where}: key id {key_id!r} is listed twice")
        keys.append((key_id, key))
    if not keys:
        raise ImproperlyConfigured(f"{where} lists no key")
    return KeyRing(tuple(keys))


def new_kek_line(key_id: str) -> str:
    """Return a fresh KEK as an "id base64" line for OMBUD_KEKS_FILE."""
    return f"{key_id} {base64.b64encode(os.urandom(32)).decode()}"


@lru_cache(maxsize=4)
def _load(inline: str, path: str, debug: bool) -> KeyRing:
    if inline:
        pairs = [tuple(item.strip().split(":", 1)) for item in inline.split(",") if item.strip()]
        if any(len(p) != 2 for p in pairs):
            raise ImproperlyConfigured('OMBUD_KEKS must read "id:base64,id:base64"')
        return _parse_pairs(pairs, "OMBUD_KEKS")  # type: ignore[arg-type]
    if path:
        file = Path(path)
        if not file.exists() and debug:
            # Development only: make one KEK, readable by this user alone.
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(new_kek_line("dev-1") + "\n")
            file.chmod(0o600)
        if file.exists():
            lines = [ln.split() for ln in file.read_text().splitlines() if ln.strip()]
            if any(len(parts) != 2 for parts in lines):
                raise ImproperlyConfigured(f"{file}: each line must read 'id base64'")
            return _parse_pairs([(a, b) for a, b in lines], str(file))
    raise ImproperlyConfigured(
        "No key-encryption key: set OMBUD_KEKS to 'id:base64-32-bytes' or OMBUD_KEKS_FILE to a "
        "file of 'id base64' lines (python -c 'import os,base64; "
        "print(base64.b64encode(os.urandom(32)).decode())')."
    )


def keyring() -> KeyRing:
    """Return the configured KEKs (ImproperlyConfigured, with what to set, if there are none)."""
    return _load(settings.OMBUD_KEKS, settings.OMBUD_KEKS_FILE, bool(settings.DEBUG))


# --- data keys -------------------------------------------------------------------------------


def _dek_aad(pseudonym: str) -> bytes:
    return f"ombud:dek:v1:{pseudonym}".encode()


def new_data_key() -> bytes:
    """Return a fresh random AES-256 data key."""
    return AESGCM.generate_key(bit_length=256)


def wrap(data_key: bytes, pseudonym: str, ring: KeyRing | None = None) -> tuple[str, bytes]:
    """Wrap `data_key` under the newest KEK; return (kek id, wrapped bytes)."""
    ring = ring or keyring()
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(ring.get(ring.newest_id)).encrypt(nonce, data_key, _dek_aad(pseudonym))
    return ring.newest_id, nonce + sealed


def unwrap(kek_id: str, wrapped: bytes, pseudonym: str, ring: KeyRing | None = None) -> bytes:
    """Open a wrapped data key (CipherError if it was altered or belongs to someone else)."""
    ring = ring or keyring()
    try:
        return AESGCM(ring.get(kek_id)).decrypt(
            bytes(wrapped[:NONCE_BYTES]), bytes(wrapped[NONCE_BYTES:]), _dek_aad(pseudonym)
        )
    except InvalidTag as exc:
        raise CipherError(f"the data key of {pseudonym} does not open under {kek_id}") from exc


# --- values ----------------------------------------------------------------------------------


def value_aad(record: str, field: str) -> bytes:
    """Return the associated data binding a value to its record and field."""
    return f"ombud:v1:{record}:{field}".encode()


def encrypt(data_key: bytes, record: str, field: str, text: str) -> bytes:
    """Encrypt `text` for `record`.`field` with a fresh nonce."""
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(data_key).encrypt(nonce, text.encode("utf-8"), value_aad(record, field))
    return VALUE_VERSION + nonce + sealed


def decrypt(data_key: bytes, record: str, field: str, blob: bytes) -> str:
    """Decrypt a value written by `encrypt` for the same record and field."""
    blob = bytes(blob)
    if blob[:1] != VALUE_VERSION:
        raise CipherError(f"{record}.{field} is not an Ombud v1 ciphertext")
    nonce, sealed = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
    try:
        return AESGCM(data_key).decrypt(nonce, sealed, value_aad(record, field)).decode("utf-8")
    except InvalidTag as exc:
        raise CipherError(f"{record}.{field} does not open under its data key") from exc


def commitment(blob: bytes) -> str:
    """Return SHA-256 over nonce and ciphertext: what the ledger may keep of a stored value."""
    return hashlib.sha256(bytes(blob)[1:]).hexdigest()


# --- the lookup index ------------------------------------------------------------------------


def _lookup_key() -> bytes:
    secret = settings.OMBUD_PSEUDONYM_KEY or settings.SECRET_KEY
    return hmac.new(secret.encode(), b"ombud-lookup-v1", hashlib.sha256).digest()


def normalise(field: str, value: str) -> str:
    """Normalise an email (trimmed, lower case) or phone (digits and a leading +) for lookup."""
    value = value.strip()
    if field == "email":
        return value.lower()
    if field == "phone":
        digits = "".join(c for c in value if c.isdigit())
        return ("+" if value.startswith("+") else "") + digits
    raise ValueError(f"no lookup for {field}")


def lookup_digest(field: str, value: str) -> str:
    """Return the keyed hash (HMAC-SHA-256) that finds a subject by an exact email or phone."""
    message = f"{field}:{normalise(field, value)}".encode()
    return hmac.new(_lookup_key(), message, hashlib.sha256).hexdigest()
