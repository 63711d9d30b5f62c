"""Writes to the ledger. Other apps' services call `ledger_append` inside their transaction."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from governance.errors import LedgerDiverged

from . import merkle, notes
from .choices import EventType
from .models import Checkpoint, LedgerEntry

# A fixed 64-bit key for pg_advisory_xact_lock; any constant works as long as only the ledger
# uses it. These are the ASCII bytes of "ombudled".
LEDGER_LOCK_KEY = 0x6F6D627564_6C6564


# One encoder for every call: building one per call costs more than the encoding itself
# when verification re-encodes a million bodies.
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def canonical_json(value: Any) -> bytes:
    """Serialise `value` as canonical JSON: sorted keys, no insignificant whitespace, UTF-8."""
    return _CANONICAL.encode(value).encode("utf-8")


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


def ledger_lock() -> None:
    """Take the ledger's lock now, until the transaction ends (it is taken again, harmlessly,
    by the appends that follow). For a service that must read the ledger and decide whether to
    append, so that two at once cannot both decide to."""
    _lock_ledger()


def ledger_append(
    *,
    event_type: EventType,
    object_ref: str,
    actor_ref: str,
    data: dict[str, Any],
    at: datetime | None = None,
) -> LedgerEntry:
    """Append one entry to the ledger inside the caller's transaction (both or neither).

    Inside `ledger_deferred()` the entry is queued and written, numbered, when the block ends;
    the returned object gets its number and body then.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("ledger_append must run inside the business write's transaction")
    event_type = EventType(event_type)  # an unknown type is a programming error: fail loudly
    entry = LedgerEntry(event_type=str(event_type), object_ref=object_ref, actor_ref=actor_ref)
    deferred: tuple[list[_Pending], int] | None = getattr(connection, _PENDING, None)
    if deferred is not None:
        pending, depth = deferred
        if len(connection.savepoint_ids) <= depth:
            pending.append((entry, data, at))
            return entry
        # Inside a savepoint the block did not open: its rows may yet be rolled back while the
        # block goes on, so this entry is written now, inside that savepoint, to go with them
        # (numbered before the entries still queued).
    _write_entries([(entry, data, at)])
    return entry


# Where `ledger_deferred` queues entries, with the savepoint depth they belong to: on the
# connection, which is per thread and alias.
_PENDING = "_ombud_ledger_pending"
# An entry without its number and body yet, its data, and its time (None: when it is written).
_Pending = tuple[LedgerEntry, dict[str, Any], datetime | None]


def _write_entries(items: list[_Pending]) -> None:
    """Number, hash and insert `items` in order, under the ledger lock (one INSERT)."""
    if not items:
        return
    _lock_ledger()
    last = LedgerEntry.objects.aggregate(last=Max("seq"))["last"]
    seq = 0 if last is None else last + 1
    now = timezone.now()
    for entry, data, at in items:
        # Without a time given, the time it is written, under the lock, as the number is taken.
        entry.recorded_at = at or now
        document = {
            "seq": seq,
            "at": entry.recorded_at.isoformat(),
            "type": entry.event_type,
            "ref": entry.object_ref,
            "actor": entry.actor_ref,
            "data": data,
        }
        body = canonical_json(document)
        entry.seq, entry.body, entry.leaf_hash = seq, body.decode("utf-8"), leaf_hash(body)
        seq += 1
    if len(items) == 1:
        items[0][0].save()
    else:
        LedgerEntry.objects.bulk_create([entry for entry, _data, _at in items])


@contextmanager
def ledger_deferred() -> Iterator[None]:
    """Queue the ledger entries appended in the block; write them, in order, when it ends.

    The ledger lock, taken by the first entry written, is held until the transaction commits,
    so every other writer of the ledger waits for everything the holder does after it. A
    service that writes rows after its first ledger entry wraps those writes in this block: the
    rows go first, then the entries (same bodies, same order, same times), and the lock covers
    only the entries and the commit. Nested blocks write with the outermost one.

    Code in the block must not read a returned entry's `seq` or query the ledger. The block is
    its own savepoint: if it raises, its rows go with its queued entries, even when the caller
    catches the exception and carries on in the same transaction.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("ledger_deferred must run inside the business write's transaction")
    if getattr(connection, _PENDING, None) is not None:
        yield
        return
    pending: list[_Pending] = []
    with transaction.atomic():
        setattr(connection, _PENDING, (pending, len(connection.savepoint_ids)))
        try:
            yield
        finally:
            setattr(connection, _PENDING, None)
        _write_entries(pending)  # not reached if the block raised: nothing is written


def system_actor_ref(name: str) -> str:
    """Return the actor reference used for scheduled jobs (no person behind them)."""
    return f"system:{name}"


__all__ = ["canonical_json", "leaf_hash", "ledger_append", "ledger_deferred", "system_actor_ref"]


def _write_tiles(size: int) -> None:
    """Cache the hash of every block of leaves that has filled up since the last seal."""
    from .models import MerkleTile
    from .tree import TILE_WIDTH, StoredTree

    tree = StoredTree()
    for level in (1, 2):
        width = TILE_WIDTH**level
        have = MerkleTile.objects.filter(level=level).aggregate(n=Max("index"))["n"]
        start = 0 if have is None else have + 1
        full = size // width
        step = max(1, 4096 // (TILE_WIDTH ** (level - 1)))  # read about 1M hashes at a time
        for first in range(start, full, step):
            last = min(full, first + step)
            if level == 1:
                below = tree.leaf_hashes(first * width, last * width)
            else:
                rows = (
                    MerkleTile.objects.filter(
                        level=1, index__gte=first * TILE_WIDTH, index__lt=last * TILE_WIDTH
                    )
                    .order_by("index")
                    .values_list("hash", flat=True)
                )
                below = [bytes.fromhex(h) for h in rows]
            if len(below) != (last - first) * TILE_WIDTH:
                raise LedgerDiverged(
                    f"Level-{level} tiles {first}..{last} lack blocks beneath them."
                )
            MerkleTile.objects.bulk_create(
                [
                    MerkleTile(
                        level=level,
                        index=i,
                        hash=merkle.LeafList(below)
                        .subtree((i - first) * TILE_WIDTH, (i - first + 1) * TILE_WIDTH)
                        .hex(),
                    )
                    for i in range(first, last)
                ]
            )


def _root_from_leaves(size: int, latest: Checkpoint | None) -> bytes:
    """Fold every stored leaf hash in order; check the prefix against `latest` on the way."""
    signed_size = latest.tree_size if latest is not None else -1
    signed_root = latest.root_hash if latest is not None else ""
    accumulator = merkle.RootAccumulator()
    rows = LedgerEntry.objects.order_by("seq").values_list("seq", "leaf_hash")
    for seq, leaf in rows.iterator(chunk_size=20_000):
        if seq != accumulator.size:
            raise LedgerDiverged(
                f"Ledger entry {accumulator.size} is missing. Nothing was signed; "
                "run verify_ledger."
            )
        accumulator.add(bytes.fromhex(leaf))
        if accumulator.size == signed_size and accumulator.root().hex() != signed_root:
            raise LedgerDiverged(
                f"The first {signed_size} entries no longer hash to signed checkpoint "
                f"{signed_size}. Nothing was signed; run verify_ledger."
            )
    if accumulator.size != size:
        raise LedgerDiverged("The ledger changed while it was sealed; nothing was signed.")
    return accumulator.root()


def ledger_seal(*, now: datetime | None = None) -> tuple[Checkpoint, bool]:
    """Sign a checkpoint over the whole ledger; return it and whether it is new.

    Idempotent: when nothing was appended since the last checkpoint, that one is returned.
    Two sealers at once serialise on the ledger lock, so each size is signed once.
    """
    from . import signing

    with transaction.atomic():
        _lock_ledger()
        last = LedgerEntry.objects.aggregate(last=Max("seq"))["last"]
        size = 0 if last is None else last + 1
        latest = Checkpoint.objects.order_by("-tree_size").first()
        if latest is not None and latest.tree_size == size:
            return latest, False
        if latest is not None and size < latest.tree_size:
            raise LedgerDiverged(
                f"The ledger holds {size} entries but checkpoint {latest.tree_size} was signed: "
                "entries were removed. Nothing was signed; run verify_ledger."
            )
        # The root comes from the leaves themselves, never from cached tiles, and the log must
        # still hash to the last signed root: sealing must not bless a rewritten history.
        root = _root_from_leaves(size, latest)
        _write_tiles(size)
        signed_at = (now or timezone.now()).replace(microsecond=0)
        statement = notes.Checkpoint(signing.key_name(), size, root, signed_at)
        key = signing.signing_key()
        note = notes.sign_checkpoint(statement, signing.key_name(), key)
        checkpoint = Checkpoint(
            tree_size=size,
            root_hash=root.hex(),
            origin=signing.key_name(),
            signed_at=signed_at,
            key_id=signing.current_verifier_key().id.hex(),
            note=note,
        )
        checkpoint.save()
        return checkpoint, True
