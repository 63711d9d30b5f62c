"""The personal-data vault: encryption at rest, checked and logged reads, lookups, key rotation."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.test import override_settings
from django.utils import timezone

from audits.models import LedgerEntry
from audits.verification import verify_ledger
from governance.choices import ComplaintStatus, Role
from governance.errors import Conflict, PermissionDenied
from privacy import keys, services, vault
from privacy.choices import AccessOutcome, AccessPurpose, ErasureCause, SubjectKind
from privacy.erasure import subjects_erase
from privacy.models import (
    AccessLogEntry,
    DataKey,
    DataSubject,
    LegalHold,
    PersonalNote,
    SubjectLookup,
)
from tests import factories

NAME = "Qiao Zhiyuan-7c1e"
EMAIL = "qiao.zhiyuan.7c1e@example.test"
PHONE = "+86 138 0013 7101"
OLD_KEK = "test-1:dGVzdC1vbmx5LWtleS1lbmNyeXB0aW9uLWtleS0zMmI="
NEW_KEK = "test-2:" + base64.b64encode(b"another-test-only-kek-32-bytes!!").decode()


def _staff_subject() -> DataSubject:
    return services.subject_create(
        actor=None, kind=SubjectKind.COMPLAINANT, full_name=NAME, email=EMAIL, phone=PHONE
    )


def _all_bytes(model: Any) -> bytes:
    """Every value of every row of `model`'s table, as raw bytes, read past the ORM."""
    table = connection.ops.quote_name(model._meta.db_table)
    out = bytearray()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - a model's own table name
        for row in cursor.fetchall():
            for value in row:
                out += (
                    bytes(value) if isinstance(value, bytes | memoryview) else str(value).encode()
                )
    return bytes(out)


# --- at rest ---------------------------------------------------------------------------------


def test_personal_fields_are_stored_as_ciphertext_in_live_and_history_rows():
    subject = _staff_subject()
    note = services.note_create(
        actor=None,
        subject=subject,
        kind="complaint_description",
        text=NAME + " wrote",
        at=timezone.now(),
    )

    for model in (DataSubject, DataSubject.history.model, PersonalNote, PersonalNote.history.model):
        raw = _all_bytes(model)
        for secret in (NAME, EMAIL, PHONE, "wrote"):
            assert secret.encode() not in raw, (model, secret)
    assert factories.plain_field(subject, "email") == EMAIL
    assert factories.plain_note(note) == NAME + " wrote"


def test_each_value_has_its_own_nonce_and_is_bound_to_its_record_and_field():
    subject = _staff_subject()
    other = services.subject_create(actor=None, kind=SubjectKind.COMPLAINANT, full_name=NAME)
    data_key = factories._data_key(subject)

    assert bytes(subject.full_name_ct) != bytes(other.full_name_ct)  # same text, fresh nonce
    with pytest.raises(keys.CipherError):  # moved to another field
        keys.decrypt(data_key, subject.record, "email", bytes(subject.full_name_ct))
    with pytest.raises(keys.CipherError):  # moved to another person's record
        keys.decrypt(data_key, other.record, "full_name", bytes(subject.full_name_ct))
    wrapped = DataKey.objects.get(subject=subject)
    with pytest.raises(keys.CipherError):  # a wrapped key moved to another person
        keys.unwrap(wrapped.kek_id, bytes(wrapped.wrapped), other.pseudonym)


def test_the_data_key_is_stored_wrapped_never_in_the_clear():
    subject = _staff_subject()
    stored = DataKey.objects.get(subject=subject)
    data_key = factories._data_key(subject)

    assert stored.kek_id == "test-1"
    assert data_key not in bytes(stored.wrapped)
    assert data_key not in _all_bytes(DataKey)


def test_missing_kek_configuration_says_what_to_set():
    unset = override_settings(OMBUD_KEKS="", OMBUD_KEKS_FILE="")
    short = override_settings(OMBUD_KEKS="k1:bm90LTMyLWJ5dGVz", OMBUD_KEKS_FILE="")
    with unset, pytest.raises(ImproperlyConfigured, match="OMBUD_KEKS"):
        keys.keyring()
    with short, pytest.raises(ImproperlyConfigured, match="32 bytes"):
        keys.keyring()


# --- the lookup index ------------------------------------------------------------------------


def test_exact_email_or_phone_finds_the_subject_through_a_keyed_hash_only():
    subject = _staff_subject()
    services.subject_create(actor=None, kind=SubjectKind.COMPLAINANT, email="someone@else.test")

    assert vault.subjects_by_contact(email=EMAIL.upper()) == [subject]
    assert vault.subjects_by_contact(phone="+86 13800137101") == [subject]
    assert vault.subjects_by_contact(email="qiao@example.test") == []
    digests = set(SubjectLookup.objects.filter(subject=subject).values_list("digest", flat=True))
    assert digests == {keys.lookup_digest("email", EMAIL), keys.lookup_digest("phone", PHONE)}
    assert EMAIL.encode() not in _all_bytes(SubjectLookup)
    assert not hasattr(SubjectLookup, "history")  # kept out of history


def test_privacy_officer_finds_a_person_by_exact_email_over_the_api(as_user):
    subject = _staff_subject()
    officer = factories.user_with_role(Role.PRIVACY_OFFICER)

    found = as_user(officer).get("/api/v1/privacy/subjects/", {"email": EMAIL})
    missing = as_user(officer).get("/api/v1/privacy/subjects/")

    assert found.status_code == 200
    assert [row["pseudonym"] for row in found.json()["results"]] == [subject.pseudonym]
    assert EMAIL not in found.content.decode()
    assert missing.status_code == 400
    assert "email" in missing.json()["fields"]


# --- reads: checked and logged ---------------------------------------------------------------


def test_every_decryption_leaves_an_access_log_entry():
    f = factories.flow_at(ComplaintStatus.RECEIVED)
    at = timezone.now()

    contact = vault.reveal_subject(
        f.handler,
        f.complaint.complainant,
        purpose=AccessPurpose.CASE_HANDLING,
        complaint=f.complaint,
    )
    text = vault.reveal_note(
        f.handler,
        f.complaint.description,
        purpose=AccessPurpose.CASE_HANDLING,
        complaint=f.complaint,
    )

    assert contact.get("email") == f.complainant.email
    assert text.get("text") == factories.plain_note(f.complaint.description)
    entries = list(AccessLogEntry.objects.order_by("pk"))
    assert [(e.reader, e.subject, e.purpose, e.outcome) for e in entries] == [
        (f.handler, f.complaint.complainant, "case_handling", "read"),
        (f.handler, f.complaint.complainant, "case_handling", "read"),
    ]
    assert entries[0].record == f.complaint.complainant.record
    assert entries[0].fields == sorted(vault.CONTACT_FIELDS)
    assert entries[1].record == f.complaint.description.record
    assert all(e.at >= at for e in entries)


def test_the_complaint_page_of_the_api_logs_each_read_with_its_purpose(as_user, compliance):
    f = factories.flow_at(ComplaintStatus.RECEIVED)
    url = f"/api/v1/complaints/{f.complaint.reference}/"

    as_user(f.handler).get(url)
    as_user(compliance).get(url)
    as_user(f.complainant).get(url)
    as_user(f.handler).get("/api/v1/complaints/")  # lists decrypt nothing

    purposes = list(AccessLogEntry.objects.order_by("pk").values_list("reader", "purpose"))
    assert purposes == [
        (f.handler.pk, "case_handling"),
        (f.handler.pk, "case_handling"),
        (compliance.pk, "compliance_audit"),
        (compliance.pk, "compliance_audit"),
        (f.complainant.pk, "own_data"),
        (f.complainant.pk, "own_data"),
    ]


@pytest.mark.parametrize("role", ["supervisor", "other_handler", "other_complainant", "admin"])
def test_a_role_without_access_is_refused_and_nothing_is_logged(role, as_user):
    f = factories.flow_at(ComplaintStatus.RECEIVED)
    reader = {
        "supervisor": lambda: factories.user_with_role(Role.SUPERVISOR),
        "other_handler": lambda: factories.user_with_role(Role.HANDLER, "copyright"),
        "other_complainant": lambda: factories.user_with_role(Role.COMPLAINANT),
        "admin": lambda: factories.user_with_role(Role.ADMIN),
    }[role]()

    with pytest.raises(PermissionDenied):
        vault.reveal_note(
            reader,
            f.complaint.description,
            purpose=AccessPurpose.CASE_HANDLING,
            complaint=f.complaint,
        )
    response = as_user(reader).get(f"/api/v1/complaints/{f.complaint.reference}/")

    assert response.status_code in {403, 404}
    assert factories.plain_note(f.complaint.description) not in response.content.decode()
    assert not AccessLogEntry.objects.exists()


def test_supervisors_see_pseudonyms_only(as_user, supervisor):
    f = factories.flow_at(ComplaintStatus.DECIDED)

    body = as_user(supervisor).get(f"/api/v1/decisions/{f.decision.pk}/").content.decode()

    assert f.complainant.email not in body
    assert not AccessLogEntry.objects.exists()


def test_compliance_reads_the_access_log_newest_first_and_filters_it(as_user, compliance):
    f = factories.flow_at(ComplaintStatus.RECEIVED)
    vault.reveal_note(
        f.handler,
        f.complaint.description,
        purpose=AccessPurpose.CASE_HANDLING,
        complaint=f.complaint,
    )
    vault.reveal_subject(
        f.complainant,
        f.complaint.complainant,
        purpose=AccessPurpose.OWN_DATA,
        complaint=f.complaint,
    )

    body = as_user(compliance).get("/api/v1/privacy/access-log/").json()
    own = as_user(compliance).get("/api/v1/privacy/access-log/", {"purpose": "own_data"}).json()

    assert [row["purpose"] for row in body["results"]] == ["own_data", "case_handling"]
    assert body["results"][1]["reader"] == f.handler.username
    assert body["results"][1]["subject"] == f.complaint.complainant.pseudonym
    assert [row["purpose"] for row in own["results"]] == ["own_data"]
    assert f.complainant.email not in str(body)


# --- the access log is append-only, kept six months at least --------------------------------


def _entry(days_old: int) -> AccessLogEntry:
    """Log one read, dated `days_old` days ago, and return its entry."""
    f = factories.flow_at(ComplaintStatus.RECEIVED)
    vault.reveal_note(
        f.handler,
        f.complaint.description,
        purpose=AccessPurpose.CASE_HANDLING,
        complaint=f.complaint,
        now=timezone.now() - timedelta(days=days_old),
    )
    return AccessLogEntry.objects.get()


def _raw(sql: str, params: list[Any]) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_the_database_refuses_to_change_or_delete_a_young_access_log_entry():
    entry = _entry(days_old=30)
    table = AccessLogEntry._meta.db_table

    with pytest.raises(DatabaseError):
        _raw(f"UPDATE {table} SET purpose = 'export' WHERE id = %s", [entry.pk])  # noqa: S608
    with pytest.raises(DatabaseError):
        _raw(f"DELETE FROM {table} WHERE id = %s", [entry.pk])  # noqa: S608
    assert AccessLogEntry.objects.filter(pk=entry.pk, purpose="case_handling").exists()


def test_the_database_lets_retention_delete_an_entry_past_six_months_but_never_change_it():
    old = _entry(days_old=200)
    table = AccessLogEntry._meta.db_table

    with pytest.raises(DatabaseError):
        _raw(f"UPDATE {table} SET purpose = 'export' WHERE id = %s", [old.pk])  # noqa: S608
    _raw(f"DELETE FROM {table} WHERE id = %s", [old.pk])  # noqa: S608
    assert not AccessLogEntry.objects.filter(pk=old.pk).exists()


# --- erased and held -------------------------------------------------------------------------


def test_after_erasure_reads_answer_erased_and_writes_are_refused(as_user):
    f = factories.flow_at(ComplaintStatus.DECIDED)
    subject = f.complaint.complainant
    with transaction.atomic():
        erased, held = subjects_erase(
            subject_ids=[subject.pk], cause=ErasureCause.DELETION_REQUEST, now=timezone.now()
        )

    revealed = vault.reveal_note(
        f.handler,
        f.complaint.description,
        purpose=AccessPurpose.CASE_HANDLING,
        complaint=f.complaint,
    )
    body = as_user(f.handler).get(f"/api/v1/complaints/{f.complaint.reference}/").json()

    assert (erased, held) == ([subject.pseudonym], [])
    assert (revealed.state, revealed.get("text")) == (vault.ERASED, None)
    assert AccessLogEntry.objects.filter(outcome=AccessOutcome.ERASED).count() == 3
    assert (body["personal_data"], body["description"], body["complainant_contact"]) == (
        "erased",
        None,
        None,
    )
    assert body["status"] == "decided"
    assert not SubjectLookup.objects.filter(subject=subject).exists()
    with pytest.raises(Conflict, match="erased"):
        services.note_create(
            actor=None, subject=subject, kind="rating_comment", text="more", at=timezone.now()
        )


def test_held_data_is_only_stored_handlers_get_held_and_no_read_is_logged(as_user):
    f = factories.flow_at(ComplaintStatus.RECEIVED)
    officer = factories.user_with_role(Role.PRIVACY_OFFICER)
    LegalHold.objects.create(
        complaint=f.complaint,
        reason="Court order 2026-17",
        review_on=timezone.localdate() + timedelta(days=90),
        placed_by=officer,
        placed_at=timezone.now(),
    )

    body = as_user(f.handler).get(f"/api/v1/complaints/{f.complaint.reference}/").json()
    assert (body["personal_data"], body["description"]) == ("held", None)
    assert not AccessLogEntry.objects.exists()

    read = vault.reveal_subject(
        officer, f.complaint.complainant, purpose=AccessPurpose.LEGAL_HOLD, complaint=f.complaint
    )
    assert read.get("email") == f.complainant.email
    assert AccessLogEntry.objects.get().purpose == "legal_hold"


# --- key rotation ----------------------------------------------------------------------------


def _ciphertexts() -> dict[str, bytes]:
    values: dict[str, bytes] = {}
    for subject in DataSubject.objects.all():
        for name in vault.CONTACT_FIELDS:
            blob = getattr(subject, f"{name}_ct")
            if blob is not None:
                values[f"{subject.record}.{name}"] = bytes(blob)
    for note in PersonalNote.objects.all():
        values[note.record] = bytes(note.text_ct)
    return values


def test_rotate_keys_rewraps_every_data_key_and_changes_no_ciphertext(capsys):
    flows = [factories.flow_at(ComplaintStatus.APPEALED) for _ in range(3)]
    subject = _staff_subject()
    before = _ciphertexts()
    plain_before = {f.complaint.pk: factories.plain_note(f.complaint.description) for f in flows}
    ledger_before = LedgerEntry.objects.count()

    with override_settings(OMBUD_KEKS=f"{OLD_KEK},{NEW_KEK}"):
        call_command("rotate_keys", "--batch-size", "2")
        first = capsys.readouterr().out
        call_command("rotate_keys")
        second = capsys.readouterr().out

        assert set(DataKey.objects.values_list("kek_id", flat=True)) == {"test-2"}
        assert _ciphertexts() == before
        for f in flows:
            assert factories.plain_note(f.complaint.description) == plain_before[f.complaint.pk]
        assert factories.plain_field(subject, "phone") == PHONE
        rotations = LedgerEntry.objects.filter(event_type="keys.rotated")
        keys_count = DataKey.objects.count()
        assert sum(e.body.count('"count"') for e in rotations) == -(-keys_count // 2)
        assert LedgerEntry.objects.count() == ledger_before + -(-keys_count // 2)
        assert verify_ledger().entries == LedgerEntry.objects.count()
    assert f"Re-wrapped {keys_count} data keys under test-2" in first
    assert "Re-wrapped 0 data keys" in second
    # The old KEK gone from settings, values still open: nothing depends on it any more.
    with override_settings(OMBUD_KEKS=NEW_KEK):
        assert factories.plain_field(subject, "email") == EMAIL


def test_the_filers_ip_address_is_kept_encrypted_with_their_data(as_user, complainant):
    response = as_user(complainant).post(
        "/api/v1/complaints/",
        {"channel": "web_form", "category": "harassment", "description": "Insults again."},
        format="json",
    )

    assert response.status_code == 201
    subject = DataSubject.objects.get(user=complainant)
    assert factories.plain_field(subject, "ip_address") == "127.0.0.1"
    assert b"127.0.0.1" not in _all_bytes(DataSubject)
    assert response.json()["complainant_contact"]["ip_address"] == "127.0.0.1"


def test_the_access_log_filters_on_a_time_with_a_large_offset(as_user, compliance):
    # Found by the schema fuzz: PostgreSQL refuses offsets past ±15:59 (it was a 500).
    response = as_user(compliance).get(
        "/api/v1/privacy/access-log/", {"after": "2834-05-13T22:52:25+17:52"}
    )

    assert response.status_code == 200
    assert response.json()["results"] == []
