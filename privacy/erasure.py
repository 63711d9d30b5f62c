"""Erasure by key destruction (crypto-shredding), shared by deletion requests and retention.

Destroying a subject's wrapped data key makes every ciphertext of theirs unreadable at once:
live rows, history rows and backups alike, without touching any row the ledger commits to.
The lookup index goes too, so an erased person cannot be recognised by their email or phone.
Callers append the ledger event, with pseudonyms and counts only, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import connection

from .choices import ErasureCause
from .models import DataKey, SubjectLookup
from .vault import held_subject_ids


def subjects_erase(
    *, subject_ids: Iterable[int], cause: ErasureCause, now: datetime, holds: bool = True
) -> tuple[list[str], list[str]]:
    """Destroy the data keys of the given subjects, except those a legal hold covers.

    `holds=False` is for re-applying, after a restore, erasures the archived ledger proves were
    done: a hold found in the restored database had been released before they were.

    Runs inside the caller's transaction. Each key is destroyed once: keys already destroyed
    (by an earlier or a concurrent call) are left alone and not reported again. Returns the
    pseudonyms erased now and the pseudonyms (of live keys) held back by a legal hold.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("subjects_erase must run inside the caller's transaction")
    ids = sorted(set(subject_ids))
    # Lock the live keys first, in id order (two erasers never wait on each other crosswise),
    # and only then look for holds: a hold placed meanwhile locks the same keys
    # (legal_hold_place), so it either committed before this lock and is seen here, or waits
    # for this transaction and then finds the data erased.
    locked = dict(
        DataKey.objects.select_for_update(of=("self",))
        .filter(subject_id__in=ids, wrapped__isnull=False)
        .order_by("subject_id")
        .values_list("subject_id", "subject__pseudonym")
    )
    held = held_subject_ids(locked) if holds else set()
    live = [i for i in locked if i not in held]
    if live:
        DataKey.objects.filter(subject_id__in=live).update(
            wrapped=None, destroyed_at=now, destroyed_for=cause
        )
        SubjectLookup.objects.filter(subject_id__in=live).delete()
    return [locked[i] for i in live], [locked[i] for i in sorted(held)]
