"""Erasure against a legal hold placed at the same moment, and what erasure leaves behind:
accounts, mail errors, and a person's records that staff recorded without their account."""

from __future__ import annotations

import logging
import smtplib
import threading
import time
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from governance.choices import Channel, ComplaintStatus, Role
from governance.errors import Conflict
from privacy import services
from privacy.choices import ErasureCause, RequestKind
from privacy.erasure import subjects_erase
from privacy.models import DataKey, DataSubject, LegalHold
from tests import factories

EMAIL = "lan.qingyu.race@example.test"


def _live(subject: DataSubject) -> bool:
    return DataKey.objects.get(subject_id=subject.pk).wrapped is not None


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_hold_placed_while_an_erasure_runs_never_stands_on_erased_data():
    # given: a subject, and an eraser that holds the subject's key locked for a moment
    f = factories.flow_at(ComplaintStatus.CLOSED)
    subject = f.complaint.complainant
    compliance = factories.user_with_role(Role.COMPLIANCE_OFFICER)
    locked = threading.Event()
    outcome: dict[str, Any] = {}

    def erase() -> None:
        try:
            with transaction.atomic():
                outcome["erased"] = subjects_erase(
                    subject_ids=[subject.pk],
                    cause=ErasureCause.DELETION_REQUEST,
                    now=timezone.now(),
                )
                locked.set()
                time.sleep(0.5)  # the hold below is placed meanwhile
        finally:
            locked.set()
            connection.close()

    def hold() -> None:
        try:
            locked.wait(timeout=30)
            services.legal_hold_place(
                actor=compliance,
                subject=subject,
                reason="Court order 2026-31",
                review_on=timezone.localdate() + timedelta(days=30),
            )
            outcome["hold"] = "placed"
        except Conflict as exc:
            outcome["hold"] = exc.message
        finally:
            connection.close()

    # when
    if connection.vendor == "postgresql":
        threads = [threading.Thread(target=erase), threading.Thread(target=hold)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    else:
        # SQLite: every transaction begins IMMEDIATE, so the two run one after the other.
        assert settings.DATABASES["default"]["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
        erase()
        hold()

    # then: the hold waited for the erasure and was refused; no hold stands on erased data
    assert outcome["erased"] == ([subject.pseudonym], [])
    assert "already been erased" in outcome["hold"]
    assert not _live(subject)
    assert not LegalHold.objects.active().filter(subject=subject).exists()


def test_an_erasure_after_a_hold_leaves_the_held_subject_alone():
    f = factories.flow_at(ComplaintStatus.CLOSED)
    subject = f.complaint.complainant
    services.legal_hold_place(
        actor=factories.user_with_role(Role.PRIVACY_OFFICER),
        complaint=f.complaint,
        reason="Regulator's inquiry 2026-4",
        review_on=timezone.localdate() + timedelta(days=30),
    )

    erased, held = subjects_erase(
        subject_ids=[subject.pk], cause=ErasureCause.RETENTION, now=timezone.now()
    )

    assert (erased, held) == ([], [subject.pseudonym])
    assert _live(subject)


def test_a_self_service_deletion_also_covers_what_staff_recorded_under_the_same_email():
    # given: a person files online, and staff also recorded a call from them (no account link)
    person = factories.user_with_role(Role.COMPLAINANT)
    get_user_model().objects.filter(pk=person.pk).update(email=EMAIL)
    person.refresh_from_db()
    online = factories.file_complaint(person)
    handler = factories.user_with_role(Role.HANDLER)
    phoned = factories.file_complaint(
        handler,
        channel=Channel.PHONE,
        complainant_name="Lan Qingyu",
        complainant_email=EMAIL.upper(),
        description="She called about the same account.",
    )
    officer = factories.user_with_role(Role.PRIVACY_OFFICER)

    # when
    request, _created = services.privacy_request_file(actor=person, kind=RequestKind.DELETION)
    services.privacy_request_verify_identity(actor=officer, request=request)
    services.privacy_request_complete(actor=officer, request=request)

    # then: both records are erased
    assert not _live(online.complainant)
    assert not _live(phoned.complainant)


def test_a_refused_receipt_mail_does_not_write_the_erased_address_to_the_log(
    caplog, django_capture_on_commit_callbacks
):
    person = factories.user_with_role(Role.COMPLAINANT)
    get_user_model().objects.filter(pk=person.pk).update(email=EMAIL)
    person.refresh_from_db()
    factories.file_complaint(person)
    officer = factories.user_with_role(Role.PRIVACY_OFFICER)
    request, _created = services.privacy_request_file(actor=person, kind=RequestKind.DELETION)
    services.privacy_request_verify_identity(actor=officer, request=request)
    refused = smtplib.SMTPRecipientsRefused({EMAIL: (550, b"no such user")})

    with (
        mock.patch("privacy.services.requests.send_mail", side_effect=refused),
        caplog.at_level(logging.DEBUG),
        django_capture_on_commit_callbacks(execute=True),
    ):
        services.privacy_request_complete(actor=officer, request=request)

    assert "Could not e-mail the deletion receipt" in caplog.text
    assert EMAIL not in caplog.text
    assert "lan.qingyu" not in caplog.text


def test_retention_blanks_the_account_of_a_person_left_with_no_live_data():
    # given: one complainant whose only complaint closed long ago, another who still has an
    # open complaint besides a closed one
    gone = factories.flow_at(ComplaintStatus.WITHDRAWN)
    stays = factories.flow_at(ComplaintStatus.WITHDRAWN)
    factories.file_complaint(stays.complainant)

    # when
    result = services.retention_enforce(now=timezone.now() + timedelta(days=1097))

    # then: the first account keeps its username but no name or email; the second is untouched
    assert result.erased == [gone.complaint.complainant.pseudonym]
    user_model = get_user_model()
    blank = user_model.objects.get(pk=gone.complainant.pk)
    kept = user_model.objects.get(pk=stays.complainant.pk)
    assert (blank.email, blank.first_name, blank.last_name) == ("", "", "")
    assert blank.is_active
    assert kept.email == stays.complainant.email
