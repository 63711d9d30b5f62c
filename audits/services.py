"""Writes to the ledger. Other apps' services call `ledger_append` inside their transaction."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Max
from django.utils import timezone

from .choices import EventType
from .models import LedgerEntry

# A fixed 64-bit key for pg_advisory_xact_lock; any constant works as long as only the ledger
# uses it. These are the ASCII bytes of "ombudled".
LEDGER_LOCK_KEY = 0x6F6D627564_6C6564


def canonical_json(value: Any) -> bytes:
    """Serialise `value` as canonical JSON: sorted keys, no insignificant whitespace, UTF-8."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def leaf_hash(body: bytes) -> str:
    """Return the RFC 6962 leaf hash, SHA-256(0x00 || body), as hex."""
    return hashlib.sha256(b"\x00" + body).hexdigest()


def _lock_ledger() -> None:
    # PostgreSQL: a transaction-scoped advisory lock serialises appenders until commit.
    # SQLite: settings open every transaction with BEGIN IMMEDIATE, so the writer already holds
    # the database's single write lock and no second appender can read the same max(seq).
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LEDGER_LOCK_KEY])


def ledger_append(
    *,
    event_type: EventType,
    object_ref: str,
    actor_ref: str,
    data: dict[str, Any],
    at: datetime | None = None,
) -> LedgerEntry:
    """Append one entry to the ledger inside the caller's transaction (both or neither)."""
    if not connection.in_atomic_block:
        raise RuntimeError("ledger_append must run inside the business write's transaction")
    event_type = EventType(event_type)  # an unknown type is a programming error: fail loudly
    _lock_ledger()
    last = LedgerEntry.objects.aggregate(last=Max("seq"))["last"]
    seq = 0 if last is None else last + 1
    recorded_at = at or timezone.now()
    document = {
        "seq": seq,
        "at": recorded_at.isoformat(),
        "type": str(event_type),
        "ref": object_ref,
        "actor": actor_ref,
        "data": data,
    }
    body = canonical_json(document)
    entry = LedgerEntry(
        seq=seq,
        recorded_at=recorded_at,
        event_type=str(event_type),
        object_ref=object_ref,
        actor_ref=actor_ref,
        body=body.decode("utf-8"),
        leaf_hash=leaf_hash(body),
    )
    entry.save()
    return entry


def system_actor_ref(name: str) -> str:
    """Return the actor reference used for scheduled jobs (no person behind them)."""
    return f"system:{name}"


__all__ = ["canonical_json", "leaf_hash", "ledger_append", "system_actor_ref"]
