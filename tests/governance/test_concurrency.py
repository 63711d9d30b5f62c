"""Concurrent filings: one lock order, distinct gapless references, a ledger that verifies."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from audits.services import ledger_seal
from audits.verification import verify_ledger
from governance import services
from governance.choices import Channel, Role
from governance.models import Complaint
from tests import factories

THREADS = 4
FILINGS = 20


def _filer(worker: int, complainant: Any, handler: Any, errors: list[BaseException]) -> None:
    try:
        category = factories.category()
        for i in range(FILINGS):
            if i % 2:
                # A returning complainant: no new data subject before the reference.
                services.complaint_file(
                    actor=complainant,
                    channel=Channel.WEB_FORM,
                    category=category,
                    description=f"Filing {worker}-{i}",
                )
            else:
                # Staff intake about a reported account: new data subjects, each with an entry.
                services.complaint_file(
                    actor=handler,
                    channel=Channel.PHONE,
                    category=category,
                    description=f"Call {worker}-{i}",
                    complainant_name="Caller",
                    complainant_phone="+86 138 0000 0000",
                    affected_account_handle=f"@reported{worker}{i}",
                )
    except BaseException as exc:  # handed to the main thread, which fails on it
        errors.append(exc)
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_filings_neither_deadlock_nor_share_a_reference():
    if connection.vendor != "postgresql":
        # SQLite runs one writer at a time (BEGIN IMMEDIATE), so filings cannot interleave.
        assert settings.DATABASES["default"]["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
        return
    # given: the people who file, committed before the threads start
    pairs = [
        (factories.user_with_role(Role.COMPLAINANT), factories.user_with_role(Role.HANDLER))
        for _ in range(THREADS)
    ]
    for complainant, _handler in pairs:
        factories.file_complaint(complainant)  # so each is a returning complainant afterwards
    errors: list[BaseException] = []
    threads = [
        threading.Thread(target=_filer, args=(w, c, h, errors)) for w, (c, h) in enumerate(pairs)
    ]
    # when
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    # then
    assert not errors, errors
    numbers = sorted(int(r[-6:]) for r in Complaint.objects.values_list("reference", flat=True))
    assert numbers == list(range(1, THREADS * (FILINGS + 1) + 1))
    ledger_seal()
    assert verify_ledger().entries > THREADS * FILINGS
