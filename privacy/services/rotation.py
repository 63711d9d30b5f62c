"""Key rotation: re-wrap every data key under the newest key-encryption key.

Only the wrapping changes. No value is re-encrypted, so every ciphertext (and every ledger
commitment to one) stays byte for byte what it was.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from audits.choices import EventType
from audits.services import ledger_append, system_actor_ref
from privacy import keys
from privacy.models import DataKey


def keys_rotate(*, batch_size: int = 500, now: datetime | None = None) -> int:
    """Re-wrap, batch by batch, every live data key not yet under the newest KEK; return how many.

    Idempotent (a second run finds nothing to do) and safe when two run at once: each batch
    locks its keys and skips keys another run holds (PostgreSQL), or runs alone (SQLite's
    BEGIN IMMEDIATE). Each batch appends one ledger event with the count and the key ids.
    """
    ring = keys.keyring()
    newest = ring.newest_id
    done = 0
    while True:
        with transaction.atomic():
            batch = list(
                DataKey.objects.select_for_update(skip_locked=True)
                .filter(wrapped__isnull=False)
                .exclude(kek_id=newest)
                .select_related("subject")
                .order_by("subject_id")[:batch_size]
            )
            if not batch:
                return done
            at = now or timezone.now()
            old_ids = sorted({key.kek_id for key in batch})
            for key in batch:
                assert key.wrapped is not None  # noqa: S101 - filtered above
                pseudonym = key.subject.pseudonym
                data_key = keys.unwrap(key.kek_id, bytes(key.wrapped), pseudonym, ring)
                key.kek_id, key.wrapped = keys.wrap(data_key, pseudonym, ring)
                key.rewrapped_at = at
            DataKey.objects.bulk_update(batch, ["kek_id", "wrapped", "rewrapped_at"])
            ledger_append(
                event_type=EventType.KEYS_ROTATED,
                object_ref=f"kek:{newest}",
                actor_ref=system_actor_ref("rotate_keys"),
                data={"count": len(batch), "from": old_ids, "to": newest},
                at=at,
            )
            done += len(batch)
