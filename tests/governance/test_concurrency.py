"""Concurrent filings: one lock order, distinct gapless references, a ledger that verifies."""

from __future__ import annotations

import threading
import time
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


ROUNDS = 20


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_set_up_codes_issued_used_and_replaced_at_once_keep_the_ledger_true():
    if connection.vendor != "postgresql":
        assert settings.DATABASES["default"]["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
        return
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from audits.choices import EventType
    from audits.models import LedgerEntry
    from governance.errors import Conflict, DomainError
    from governance.models import AuthenticatorSetupCode

    # given: a staff member without an authenticator, and a superuser issuing codes
    user = factories.user_with_role(Role.HANDLER)
    root = factories.superuser()
    codes = [services.two_factor_code_issue(actor=None, user=user)[1]]
    errors: list[BaseException] = []

    issued_all = threading.Event()

    def issuer() -> None:
        try:
            for _ in range(ROUNDS):
                try:
                    codes.append(services.two_factor_code_issue(actor=root, user=user)[1])
                except Conflict:
                    # Enrolled: remove the device (a ledgered removal), so the race goes on.
                    for device in TOTPDevice.objects.filter(user=user, confirmed=True):
                        device.delete()
                time.sleep(0.02)  # pacing, not timing: leave the enrollers a chance to win
        except BaseException as exc:
            errors.append(exc)
        finally:
            issued_all.set()
            connection.close()

    def enroller() -> None:
        try:
            last_rounds = 3  # after the last code: one enroller wins it, the other is refused
            while last_rounds:
                last_rounds -= issued_all.is_set()
                try:
                    device, setup = services.two_factor_start(user=user, code=codes[-1])
                    services.two_factor_enrol(
                        user=user,
                        device=device,
                        setup_code=setup,
                        token=factories.totp_code(device),
                    )
                except DomainError:
                    pass  # replaced, used or already enrolled: refused, as it should be
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=issuer)] + [
        threading.Thread(target=enroller) for _ in range(2)
    ]
    # when
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    # then: no deadlock or lost row, and the ledger tells exactly what the tables hold
    assert not errors, errors
    entries = LedgerEntry.objects.filter(object_ref__startswith="user:")
    enrolled = entries.filter(event_type=EventType.TWO_FACTOR_ENROLLED).count()
    removed = entries.filter(event_type=EventType.TWO_FACTOR_REMOVED).count()
    assert enrolled >= 1
    assert enrolled - removed == TOTPDevice.objects.filter(user=user, confirmed=True).count()
    rows = AuthenticatorSetupCode.objects.filter(user=user)
    assert rows.filter(used_at__isnull=False).count() == enrolled
    assert not rows.filter(used_at__isnull=False, withdrawn_at__isnull=False).exists()
    assert rows.filter(used_at__isnull=True, withdrawn_at__isnull=True).count() <= 1
    assert entries.filter(event_type=EventType.TWO_FACTOR_CODE_ISSUED).count() == rows.count()
    ledger_seal()
    verify_ledger()
