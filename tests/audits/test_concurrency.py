"""Concurrent appenders never fork the ledger or leave a gap."""

from __future__ import annotations

import threading

import pytest
from django.conf import settings
from django.db import connection, transaction

from audits.choices import EventType
from audits.models import LedgerEntry
from audits.services import ledger_append, ledger_seal
from audits.verification import verify_ledger

THREADS = 8
APPENDS = 200


def _appender(worker: int, errors: list[BaseException]) -> None:
    try:
        for i in range(APPENDS):
            with transaction.atomic():
                ledger_append(
                    event_type=EventType.REFERENCE_DATA_CHANGED,
                    object_ref=f"worker:{worker}",
                    actor_ref=f"system:worker-{worker}",
                    data={"worker": worker, "i": i},
                )
    except BaseException as exc:  # handed to the main thread, which fails on it
        errors.append(exc)
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_eight_writers_leave_one_gapless_log_that_verifies():
    if connection.vendor != "postgresql":
        # SQLite has one writer at a time by design: every transaction opens with BEGIN
        # IMMEDIATE (settings), which takes the write lock before ledger_append reads max(seq).
        # That setting is the whole of SQLite's serialisation, so it is what this asserts here;
        # the threaded run below needs PostgreSQL's concurrent writers to mean anything.
        assert settings.DATABASES["default"]["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
        return
    # given
    errors: list[BaseException] = []
    workers = [threading.Thread(target=_appender, args=(w, errors)) for w in range(THREADS)]
    # when
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    # then: 1,600 entries numbered 0..1599, each worker's in its own order, and the log verifies
    assert not errors, errors
    seqs = list(LedgerEntry.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(THREADS * APPENDS))
    for w in range(THREADS):
        mine = LedgerEntry.objects.filter(object_ref=f"worker:{w}").order_by("seq")
        assert [e.body.count(f'"i":{i},') for i, e in enumerate(mine)] == [1] * APPENDS
    checkpoint, _created = ledger_seal()
    assert checkpoint.tree_size == THREADS * APPENDS
    assert verify_ledger().entries == THREADS * APPENDS
