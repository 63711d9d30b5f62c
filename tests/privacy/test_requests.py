"""People's requests about their data (privacy/services/requests.py): deletion with its signed
receipt, access with its export, legal holds, refusals, deadlines and their escalation."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from io import StringIO
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.core.management import call_command
from django.utils import timezone
from rest_framework.authtoken.models import Token

from audits import notes, signing
from audits.choices import EventType
from audits.models import LedgerEntry
from audits.services import ledger_seal
from audits.verification import verify_ledger
from governance import services as governance_services
from governance.choices import Channel, ComplaintStatus, Role
from governance.errors import Conflict, InvalidTransition, PermissionDenied, ValidationFailed
from privacy import receipts, services, vault
from privacy.choices import AccessOutcome, AccessPurpose, RequestStatus, SubjectKind
from privacy.models import (
    AccessLogEntry,
    DataKey,
    DataSubject,
    LegalHold,
    PrivacyRequest,
    SubjectLookup,
)
from privacy.pseudonyms import actor_ref
from tests import factories
from tests.factories import Flow

S = ComplaintStatus
R = RequestStatus
EMAIL = "pat.example@example.test"


@pytest.fixture
def officer() -> Any:
    return factories.user_with_role(Role.PRIVACY_OFFICER)


def _entries_after(seq: int) -> list[LedgerEntry]:
    return list(LedgerEntry.objects.filter(seq__gt=seq).order_by("seq"))


def _last_seq() -> int:
    return LedgerEntry.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


def _closed_and_rated() -> Flow:
    """A complaint decided, closed and rated with a comment by its complainant."""
    f = factories.flow_at(S.CLOSED)
    governance_services.complaint_rate(
        actor=f.complainant, complaint=f.complaint, score=2, comment="Slow but fair in the end."
    )
    return f


def _phoned_in(handler: Any, email: str = EMAIL) -> Any:
    """A complaint a handler recorded for a person who has no sign-in account."""
    return factories.file_complaint(
        handler,
        channel=Channel.PHONE,
        complainant_name="Pat Example",
        complainant_email=email,
        description="Pat says a stranger posts her address.",
    )


def _verified(officer: Any, request: PrivacyRequest) -> PrivacyRequest:
    return services.privacy_request_verify_identity(actor=officer, request=request)


def _hold(officer: Any, **target: Any) -> LegalHold:
    # Written directly: the hold service is tested on its own; here only its effect matters.
    return LegalHold.objects.create(
        reason="Court order 2025-17 preserves this case's records.",
        review_on=factories.future(90),
        placed_by=officer,
        placed_at=timezone.now(),
        **target,
    )


# --- receiving ---------------------------------------------------------------------------------


def test_a_complainant_files_for_themselves_with_a_due_date_and_a_ledger_entry(complainant):
    # given: received on a Monday morning, business time
    monday = datetime(2025, 3, 3, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    before = _last_seq()

    # when
    request, created = services.privacy_request_file(actor=complainant, kind="deletion", now=monday)

    # then: 15 working days later, same time of day (three weeks, no holidays seeded then)
    assert created
    assert request.status == R.RECEIVED
    assert request.channel == "self_service"
    assert request.requester == complainant
    assert request.lookup_digests == []
    assert request.reference.startswith("PRQ-2025-")
    assert request.due_at == datetime(2025, 3, 24, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    (entry,) = _entries_after(before)
    assert entry.event_type == EventType.PRIVACY_REQUEST_RECEIVED
    assert entry.object_ref == f"privacy_request:{request.reference}"
    assert json.loads(entry.body)["data"]["lookup_fields"] == []
    assert request.history.get().history_user == complainant


def test_the_due_date_follows_the_setting(complainant, settings):
    settings.OMBUD_PRIVACY_REQUEST_DUE = (48, "hours")
    now = timezone.now()

    request, _ = services.privacy_request_file(actor=complainant, kind="access", now=now)

    assert request.due_at == now + timedelta(hours=48)


def test_filing_again_while_open_returns_the_same_request(complainant):
    first, created = services.privacy_request_file(actor=complainant, kind="deletion")
    before = _last_seq()

    again, created_again = services.privacy_request_file(actor=complainant, kind="deletion")
    other_kind, created_other = services.privacy_request_file(actor=complainant, kind="access")

    assert created
    assert not created_again
    assert created_other
    assert again.pk == first.pk
    assert other_kind.pk != first.pk
    assert PrivacyRequest.objects.filter(requester=complainant).count() == 2
    # Only the new access request reached the ledger.
    assert [e.event_type for e in _entries_after(before)] == [EventType.PRIVACY_REQUEST_RECEIVED]


@pytest.mark.parametrize("role", [Role.HANDLER, Role.COMPLIANCE_OFFICER, Role.PRIVACY_OFFICER])
def test_only_complainants_file_for_themselves(role):
    user = factories.user_with_role(role)

    with pytest.raises(PermissionDenied, match="privacy officer records"):
        services.privacy_request_file(actor=user, kind="deletion")


def test_an_unknown_kind_is_refused_with_the_choices(complainant):
    with pytest.raises(ValidationFailed) as excinfo:
        services.privacy_request_file(actor=complainant, kind="rectification")

    assert "deletion, access" in excinfo.value.fields["kind"][0]


def test_an_officer_records_a_request_from_elsewhere_keeping_only_keyed_hashes(officer):
    before = _last_seq()

    request = services.privacy_request_record(
        actor=officer, kind="deletion", email=" Pat.Example@Example.test ", phone="+86 138 0000"
    )

    assert request.channel == "other"
    assert request.requester is None
    assert request.recorded_by == officer
    stored = json.dumps(request.lookup_digests)
    assert "example.test" not in stored.lower()
    assert "138" not in stored
    assert {d["field"] for d in request.lookup_digests} == {"email", "phone"}
    # The digests are kept out of history, and out of the ledger.
    history = request.history.get()
    assert not hasattr(history, "lookup_digests")
    (entry,) = _entries_after(before)
    assert json.loads(entry.body)["data"]["lookup_fields"] == ["email", "phone"]
    for digest in request.lookup_digests:
        assert digest["digest"] not in entry.body


@pytest.mark.parametrize(
    ("email", "phone", "field"),
    [("", "", "email"), ("not-an-email", "", "email"), ("", "call me", "phone")],
)
def test_recording_needs_a_usable_contact(officer, email, phone, field):
    with pytest.raises(ValidationFailed) as excinfo:
        services.privacy_request_record(actor=officer, kind="access", email=email, phone=phone)

    assert field in excinfo.value.fields


def test_only_privacy_officers_record_requests_received_elsewhere(complainant, compliance):
    for user in (complainant, compliance):
        with pytest.raises(PermissionDenied, match="privacy officers"):
            services.privacy_request_record(actor=user, kind="deletion", email=EMAIL)


# --- deletion ----------------------------------------------------------------------------------


def test_self_service_deletion_erases_closes_the_account_and_issues_a_signed_receipt(
    officer, django_capture_on_commit_callbacks
):
    # given: a complainant with a closed, rated complaint, a token and an admin log line
    f = _closed_and_rated()
    user = f.complainant
    old_email, old_username = user.email, user.username
    Token.objects.create(user=user)
    LogEntry.objects.create(
        user=officer,
        content_type=ContentType.objects.get_for_model(user),
        object_id=str(user.pk),
        object_repr=str(user),
        action_flag=CHANGE,
    )
    subject = f.complaint.complainant
    request, _ = services.privacy_request_file(actor=user, kind="deletion")
    request = _verified(officer, request)
    assert request.subjects == [subject.pseudonym]
    before = _last_seq()

    # when
    with django_capture_on_commit_callbacks(execute=True):
        done = services.privacy_request_complete(actor=officer, request=request)

    # then: the key is destroyed, the lookup index gone, the complaint and its decision remain
    request = done.request
    assert done.changed
    assert done.export is None
    assert request.status == R.COMPLETED
    assert request.closed_by == officer
    key = DataKey.objects.get(subject=subject)
    assert key.wrapped is None
    assert key.destroyed_for == "deletion_request"
    assert not SubjectLookup.objects.filter(subject=subject).exists()
    assert vault.is_erased(subject)
    f.refresh()
    assert f.complaint.status == S.CLOSED
    assert f.complaint.decisions.count() == 1
    # the ledger: the erasure (pseudonyms and the reference only), then the completion; closing
    # the account also deactivates it and revokes its API token, entries naming the account by
    # pseudonym
    entries = _entries_after(before)
    account = [e for e in entries if e.event_type.startswith("account.")]
    assert {(e.event_type, e.object_ref) for e in account} == {
        (EventType.API_TOKEN_REVOKED, f"user:{actor_ref(user)}"),
        (EventType.ACCESS_FLAGS_CHANGED, f"user:{actor_ref(user)}"),
    }
    erased, completed = [e for e in entries if e not in account]
    assert erased.event_type == EventType.SUBJECT_ERASED
    assert erased.object_ref == f"privacy_request:{request.reference}"
    assert json.loads(erased.body)["data"] == {
        "cause": "deletion_request",
        "request": request.reference,
        "subjects": [subject.pseudonym],
        "held": [],
    }
    assert completed.event_type == EventType.PRIVACY_REQUEST_CHANGED
    assert json.loads(completed.body)["data"]["to"] == "completed"
    for entry in (erased, completed, *account):
        assert old_email not in entry.body
        assert old_username not in entry.body
    # the receipt names the request, the pseudonym and the erasure entry, signed by the ledger key
    assert request.ledger_seq == erased.seq
    stated = receipts.receipt_verify(request.receipt, [signing.current_verifier_key()])
    assert stated.request == request.reference
    assert stated.erased == (subject.pseudonym,)
    assert stated.ledger == (receipts.LedgerRef(erased.seq, erased.leaf_hash),)
    assert stated.origin == signing.key_name()
    # the sign-in account names nobody and cannot sign in
    account = get_user_model().objects.get(pk=user.pk)
    assert account.username == f"erased-{user.pk}"
    assert (account.email, account.first_name, account.last_name) == ("", "", "")
    assert not account.has_usable_password()
    assert not account.is_active
    assert not Token.objects.filter(user_id=user.pk).exists()
    assert not LogEntry.objects.filter(object_repr=old_username).exists()
    # the request has ended: no lookup digests, and every step's history names its actor
    assert request.lookup_digests == []
    steps = {h.status: h.history_user for h in request.history.all()}
    assert steps == {R.RECEIVED: user, R.IDENTITY_VERIFIED: officer, R.COMPLETED: officer}
    # the requester got the receipt at the address they had
    (message,) = mail.outbox
    assert message.to == [old_email]
    assert request.receipt in message.body


def test_other_channel_deletion_finds_the_person_by_keyed_hash_and_erases_them(officer, handler):
    # given: a complaint phoned in for a person with no account
    complaint = _phoned_in(handler)
    subject = complaint.complainant
    request = services.privacy_request_record(actor=officer, kind="deletion", email=EMAIL.upper())

    # when
    request = _verified(officer, request)
    done = services.privacy_request_complete(actor=officer, request=request)

    # then
    assert request.subjects == [subject.pseudonym]
    assert done.request.status == R.COMPLETED
    assert vault.is_erased(subject)
    assert done.request.lookup_digests == []
    stated = receipts.receipt_verify(done.request.receipt)
    assert stated.erased == (subject.pseudonym,)
    # an erased person can no longer be found by their email
    assert vault.subjects_by_contact(email=EMAIL) == []


def test_completing_twice_is_idempotent(officer):
    f = factories.flow_at(S.RECEIVED)
    request, _ = services.privacy_request_file(actor=f.complainant, kind="deletion")
    first = services.privacy_request_complete(actor=officer, request=_verified(officer, request))
    before = _last_seq()
    history = first.request.history.count()

    again = services.privacy_request_complete(actor=officer, request=first.request)

    assert not again.changed
    assert again.request.receipt == first.request.receipt
    assert _entries_after(before) == []
    assert again.request.history.count() == history


def test_a_second_request_for_an_erased_person_completes_saying_nothing_more_was_held(
    officer, handler
):
    # given: the person's data was erased on a first request
    _phoned_in(handler)
    first = services.privacy_request_record(actor=officer, kind="deletion", email=EMAIL)
    services.privacy_request_complete(actor=officer, request=_verified(officer, first))
    before = _last_seq()

    # when: they ask again
    second = services.privacy_request_record(actor=officer, kind="deletion", email=EMAIL)
    done = services.privacy_request_complete(actor=officer, request=_verified(officer, second))

    # then: completed, nothing erased, and the receipt names the completion entry
    assert done.request.status == R.COMPLETED
    assert EventType.SUBJECT_ERASED not in {e.event_type for e in _entries_after(before)}
    stated = receipts.receipt_verify(done.request.receipt)
    assert stated.erased == ()
    assert "\nnothing-held\n" in done.request.receipt
    completion = LedgerEntry.objects.get(seq=done.request.ledger_seq)
    assert completion.event_type == EventType.PRIVACY_REQUEST_CHANGED
    assert stated.ledger == (receipts.LedgerRef(completion.seq, completion.leaf_hash),)


def test_a_request_about_nobody_on_record_runs_like_any_other_and_names_nothing(officer, handler):
    # given: one person on record, and requests about them and about a stranger
    _phoned_in(handler)
    known = services.privacy_request_record(actor=officer, kind="deletion", email=EMAIL)
    unknown = services.privacy_request_record(
        actor=officer, kind="deletion", email="nobody@example.test"
    )

    # when
    steps = []
    for request in (known, unknown):
        verified = _verified(officer, request)
        done = services.privacy_request_complete(actor=officer, request=verified)
        steps.append((verified.status, done.request.status, bool(done.request.receipt)))

    # then: the same steps and outcomes; the stranger's receipt names nobody
    assert steps[0] == steps[1] == (R.IDENTITY_VERIFIED, R.COMPLETED, True)
    unknown.refresh_from_db()
    assert receipts.receipt_verify(unknown.receipt).erased == ()


def test_a_legal_hold_puts_the_deletion_on_hold_until_it_is_released(officer):
    # given: a complaint under a legal hold, and its complainant's deletion request
    f = factories.flow_at(S.DECIDED)
    subject = f.complaint.complainant
    hold = _hold(officer, complaint=f.complaint)
    request, _ = services.privacy_request_file(actor=f.complainant, kind="deletion")
    request = _verified(officer, request)
    before = _last_seq()

    # when
    done = services.privacy_request_complete(actor=officer, request=request)

    # then: nothing erased, the hold noted, no receipt
    assert done.request.status == R.ON_HOLD
    assert not vault.is_erased(subject)
    assert done.request.receipt == ""
    (entry,) = _entries_after(before)
    assert json.loads(entry.body)["data"] == {
        "from": R.IDENTITY_VERIFIED,
        "to": R.ON_HOLD,
        "held": [subject.pseudonym],
        "erased": [],
    }
    assert get_user_model().objects.get(pk=f.complainant.pk).is_active
    # while the hold stands, completing again is refused and changes nothing
    with pytest.raises(Conflict, match="once the hold is released"):
        services.privacy_request_complete(actor=officer, request=done.request)
    assert not vault.is_erased(subject)

    # when: the hold is released and the request completed again
    LegalHold.objects.filter(pk=hold.pk).update(released_at=timezone.now())
    finished = services.privacy_request_complete(actor=officer, request=done.request)

    # then
    assert finished.request.status == R.COMPLETED
    assert vault.is_erased(subject)
    assert receipts.receipt_verify(finished.request.receipt).erased == (subject.pseudonym,)


def test_a_hold_on_one_of_a_persons_records_lets_the_others_be_erased(officer):
    # given: a person who is a complainant and, linked, a reported account holder
    f, holder = factories.holder_flow()
    own = factories.file_complaint(holder)
    held_subject = f.complaint.affected_subject
    free_subject = own.complainant
    _hold(officer, subject=held_subject)
    request, _ = services.privacy_request_file(actor=holder, kind="deletion")
    request = _verified(officer, request)
    assert sorted(request.subjects) == sorted([held_subject.pseudonym, free_subject.pseudonym])

    # when
    first = services.privacy_request_complete(actor=officer, request=request)

    # then: the free one is erased now, the held one waits
    assert first.request.status == R.ON_HOLD
    assert vault.is_erased(free_subject)
    assert not vault.is_erased(held_subject)

    # when: released, completed
    LegalHold.objects.update(released_at=timezone.now())
    done = services.privacy_request_complete(actor=officer, request=first.request)

    # then: the receipt names both, and both erasure entries
    stated = receipts.receipt_verify(done.request.receipt)
    assert set(stated.erased) == {held_subject.pseudonym, free_subject.pseudonym}
    erasures = LedgerEntry.objects.filter(
        event_type=EventType.SUBJECT_ERASED, object_ref=f"privacy_request:{request.reference}"
    ).order_by("seq")
    assert stated.ledger == tuple(receipts.LedgerRef(e.seq, e.leaf_hash) for e in erasures)
    assert len(stated.ledger) == 2


# --- refusing and the wrong state ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "legal_basis", "missing"),
    [("", "PIPL Art. 47", {"reason"}), ("Unverified", " ", {"legal_basis"}), ("", "", None)],
)
def test_refusing_needs_a_reason_and_a_legal_basis(
    officer, complainant, reason, legal_basis, missing
):
    request, _ = services.privacy_request_file(actor=complainant, kind="deletion")

    with pytest.raises(ValidationFailed) as excinfo:
        services.privacy_request_refuse(
            actor=officer, request=request, reason=reason, legal_basis=legal_basis
        )

    assert set(excinfo.value.fields) == (missing or {"reason", "legal_basis"})
    request.refresh_from_db()
    assert request.status == R.RECEIVED


def test_a_refusal_keeps_commitments_in_the_ledger_and_ends_the_request(officer):
    request = services.privacy_request_record(actor=officer, kind="access", email=EMAIL)
    before = _last_seq()

    refused = services.privacy_request_refuse(
        actor=officer,
        request=request,
        reason="The caller could not answer the verification questions.",
        legal_basis="PIPL Art. 50: the identity of the requester was not verified.",
    )

    assert refused.status == R.REFUSED
    assert refused.lookup_digests == []
    assert refused.closed_by == officer
    (entry,) = _entries_after(before)
    data = json.loads(entry.body)["data"]
    assert set(data) == {"from", "to", "reason_sha256", "legal_basis_sha256"}
    assert "verification questions" not in entry.body


def test_each_wrong_state_answers_409_with_the_allowed_next_steps(officer, complainant):
    request, _ = services.privacy_request_file(actor=complainant, kind="deletion")

    with pytest.raises(InvalidTransition, match="Verify the requester's identity first"):
        services.privacy_request_complete(actor=officer, request=request)
    request = _verified(officer, request)
    with pytest.raises(InvalidTransition, match="Allowed next: completed, on_hold, refused"):
        _verified(officer, request)
    services.privacy_request_refuse(
        actor=officer, request=request, reason="Duplicate", legal_basis="PIPL Art. 47"
    )
    for step in (
        lambda: _verified(officer, request),
        lambda: services.privacy_request_complete(actor=officer, request=request),
        lambda: services.privacy_request_refuse(
            actor=officer, request=request, reason="Again", legal_basis="PIPL Art. 47"
        ),
    ):
        with pytest.raises(InvalidTransition, match="none \\(the request is closed\\)"):
            step()


@pytest.mark.parametrize("role", [Role.COMPLAINANT, Role.HANDLER, Role.COMPLIANCE_OFFICER])
def test_only_privacy_officers_handle_requests(role, complainant):
    request, _ = services.privacy_request_file(actor=complainant, kind="deletion")
    user = complainant if role == Role.COMPLAINANT else factories.user_with_role(role)

    for step in (
        lambda: services.privacy_request_verify_identity(actor=user, request=request),
        lambda: services.privacy_request_complete(actor=user, request=request),
        lambda: services.privacy_request_refuse(
            actor=user, request=request, reason="No", legal_basis="None"
        ),
    ):
        with pytest.raises(PermissionDenied, match="privacy officer"):
            step()


# --- the receipt --------------------------------------------------------------------------------


def _completed_receipt(officer: Any) -> tuple[PrivacyRequest, str]:
    f = factories.flow_at(S.RECEIVED)
    request, _ = services.privacy_request_file(actor=f.complainant, kind="deletion")
    done = services.privacy_request_complete(actor=officer, request=_verified(officer, request))
    return done.request, done.request.receipt


def test_the_receipt_verifies_with_the_ledger_key_and_names_a_real_ledger_entry(officer):
    request, note = _completed_receipt(officer)

    stated = receipts.receipt_verify(note, [signing.current_verifier_key()])

    (ref,) = stated.ledger
    entry = LedgerEntry.objects.get(seq=ref.seq)
    assert entry.leaf_hash == ref.leaf_hash
    assert entry.event_type == EventType.SUBJECT_ERASED
    assert json.loads(entry.body)["data"]["subjects"] == list(stated.erased)
    assert note.startswith(
        f"{signing.key_name()}\ndeletion-receipt v1\nrequest {request.reference}\n"
    )
    # The verifier key as published by the ledger's key endpoint checks it too.
    published = notes.VerifierKey.decode(signing.current_verifier_key().encode())
    assert receipts.receipt_verify(note, [published]) == stated


def test_a_receipt_with_any_byte_changed_fails(officer):
    _request, note = _completed_receipt(officer)
    text_end = note.index("\n\n")
    signature_start = note.index("\u2014 ") + len("\u2014 ") + len(signing.key_name()) + 1

    # A pseudonym, the request, a leaf hash, or the signature itself: each change is caught.
    for position in (note.index("erased ") + 9, note.index("request ") + 9, text_end - 3):
        changed = note[:position] + ("0" if note[position] != "0" else "1") + note[position + 1 :]
        with pytest.raises(notes.NoteError):
            receipts.receipt_verify(changed)
    forged = note[:signature_start] + ("A" if note[signature_start] != "A" else "B")
    forged += note[signature_start + 1 :]
    with pytest.raises(notes.NoteError):
        receipts.receipt_verify(forged)


def test_a_receipt_does_not_verify_under_another_key_or_as_a_checkpoint(officer):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    _request, note = _completed_receipt(officer)
    stranger = notes.VerifierKey(
        signing.key_name(), notes.public_bytes(Ed25519PrivateKey.generate().public_key())
    )

    with pytest.raises(notes.NoteError):
        receipts.receipt_verify(note, [stranger])
    with pytest.raises(notes.NoteError):
        notes.verify_checkpoint(note, [signing.current_verifier_key()])


# --- access and the export ----------------------------------------------------------------------


def _full_history() -> tuple[Flow, Any]:
    """One complainant with an appealed complaint and a second, closed and rated one."""
    f = factories.flow_at(S.APPEALED)
    second = factories.file_complaint(f.complainant, description="The same user again, today.")
    g = Flow(second, f.complainant, f.handler, f.lead).walk(*factories.PATHS[S.CLOSED])
    governance_services.complaint_rate(
        actor=f.complainant, complaint=g.complaint, score=5, comment="Thank you, very quick."
    )
    return f, g


def test_a_complainant_exports_everything_held_about_them_and_each_read_is_logged():
    # given
    f, g = _full_history()
    user = f.complainant
    before = _last_seq()
    logged = AccessLogEntry.objects.count()

    # when
    export = services.privacy_export(actor=user, subjects=DataSubject.objects.filter(user=user))

    # then: their subject, both complaints with descriptions, decisions, appeal and rating
    json.dumps(export)  # ready to serialise as is
    (person,) = export["subjects"]
    assert person["personal_data"] == "read"
    assert person["fields"]["email"] == user.email
    by_ref = {c["reference"]: c for c in export["complaints"]}
    first, second = by_ref[f.complaint.reference], by_ref[g.complaint.reference]
    assert first["description"] == {
        "state": "read",
        "text": factories.plain_note(f.complaint.description),
    }
    assert second["description"]["text"] == "The same user again, today."
    decision = first["decisions"][0]
    assert decision["facts"] == factories.decision_kwargs()["facts"]
    assert decision["policy_clause"] == {"code": "TOS-3.1", "version": 1}
    assert decision["decided_by"].startswith("u-")  # a pseudonym, never a name
    assert first["appeals"][0]["statement"]["text"] == "Please look again."
    assert second["rating"]["score"] == 5
    assert second["rating"]["comment"]["text"] == "Thank you, very quick."
    assert [t["to"] for t in second["transitions"]][-1] == S.CLOSED
    assert export["accounts"][0]["username"] == user.username
    # every decryption is in the access log, with purpose export and the reader
    reads = AccessLogEntry.objects.order_by("pk")[logged:]
    assert len(reads) == 1 + 2 + 1 + 1  # the subject, two descriptions, statement, comment
    assert {(r.purpose, r.reader_id, r.outcome) for r in reads} == {
        (AccessPurpose.EXPORT, user.pk, AccessOutcome.READ)
    }
    # the ledger records the export: pseudonyms and counts, nothing readable
    (entry,) = _entries_after(before)
    assert entry.event_type == EventType.DATA_EXPORTED
    data = json.loads(entry.body)["data"]
    assert data == {
        "request": None,
        "subjects": [person["pseudonym"]],
        "complaints": 2,
        "decisions": 2,
        "appeals": 1,
        "ratings": 1,
        "notes": 4,
    }
    assert user.email not in entry.body
    assert "very quick" not in entry.body


def test_nobody_exports_someone_elses_data_by_themselves(complainant):
    f = factories.flow_at(S.RECEIVED)

    with pytest.raises(PermissionDenied, match="only your own data"):
        services.privacy_export(actor=complainant, subjects=[f.complaint.complainant])


def test_an_officer_answers_an_access_request_received_elsewhere_with_the_export(officer, handler):
    # given
    complaint = _phoned_in(handler)
    request = services.privacy_request_record(actor=officer, kind="access", phone="", email=EMAIL)
    request = _verified(officer, request)
    before = _last_seq()

    # when
    done = services.privacy_request_complete(actor=officer, request=request)

    # then: the copy, logged as read by the officer for export; nothing of it stored
    assert done.request.status == R.COMPLETED
    assert done.export is not None
    assert done.export["request"] == request.reference
    (item,) = done.export["complaints"]
    assert item["reference"] == complaint.reference
    assert item["description"]["text"] == "Pat says a stranger posts her address."
    assert done.export["subjects"][0]["fields"]["full_name"] == "Pat Example"
    exported, completed = _entries_after(before)
    assert exported.event_type == EventType.DATA_EXPORTED
    assert json.loads(completed.body)["data"]["export_seq"] == exported.seq
    assert AccessLogEntry.objects.filter(purpose=AccessPurpose.EXPORT, reader=officer).count() == 2
    history = list(PrivacyRequest.history.filter(pk=request.pk).values())
    assert "stranger" not in json.dumps(history, default=str)
    # completing again answers the request without a second copy
    assert services.privacy_request_complete(actor=officer, request=done.request).export is None


def test_after_erasure_the_export_says_erased_instead_of_failing(officer):
    # given: an erased person (another account of theirs survives: a staff-made record)
    f = factories.flow_at(S.DECIDED)
    subject = f.complaint.complainant
    request, _ = services.privacy_request_file(actor=f.complainant, kind="deletion")
    services.privacy_request_complete(actor=officer, request=_verified(officer, request))

    # when: an officer answers a later access request for the same subject
    access = PrivacyRequest.objects.create(
        reference="PRQ-2025-0000ABCD",
        kind="access",
        channel="other",
        status=R.IDENTITY_VERIFIED,
        subjects=[subject.pseudonym],
        received_at=timezone.now(),
        due_at=timezone.now() + timedelta(days=20),
    )
    done = services.privacy_request_complete(actor=officer, request=access)

    # then
    assert done.export["subjects"][0]["personal_data"] == "erased"
    assert done.export["subjects"][0]["fields"] is None
    assert done.export["complaints"][0]["description"] == {"state": "erased", "text": None}
    assert done.export["complaints"][0]["decisions"][0]["outcome"] == "upheld"


# --- deadlines ----------------------------------------------------------------------------------


def test_overdue_requests_are_escalated_once_to_the_privacy_officers(
    officer, complainant, django_capture_on_commit_callbacks
):
    # given: one overdue request, one not yet due, one overdue but already answered
    long_ago = timezone.now() - timedelta(days=40)
    overdue, _ = services.privacy_request_file(actor=complainant, kind="deletion", now=long_ago)
    fresh, _ = services.privacy_request_file(actor=complainant, kind="access")
    answered = services.privacy_request_record(
        actor=officer, kind="access", email=EMAIL, now=long_ago
    )
    services.privacy_request_refuse(
        actor=officer, request=answered, reason="Duplicate", legal_basis="PIPL Art. 47"
    )
    before = _last_seq()

    # when
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("sla_escalate", stdout=out)

    # then: stamped, recorded and mailed once
    assert "1 overdue privacy request(s) escalated" in out.getvalue()
    overdue.refresh_from_db()
    fresh.refresh_from_db()
    assert overdue.escalated_at is not None
    assert fresh.escalated_at is None
    (entry,) = _entries_after(before)
    assert entry.event_type == EventType.SLA_BREACHED
    assert entry.object_ref == f"privacy_request:{overdue.reference}"
    assert entry.actor_ref == "system:sla_escalate"
    assert json.loads(entry.body)["data"]["stage"] == "privacy_request"
    (message,) = mail.outbox
    assert message.to == [officer.email]
    assert overdue.reference in message.subject
    assert overdue.history.first().history_change_reason.startswith("Overdue")

    # when: run again
    stamped = overdue.escalated_at
    with django_capture_on_commit_callbacks(execute=True):
        again = services.privacy_requests_escalate()

    # then: nothing more
    assert again == 0
    overdue.refresh_from_db()
    assert overdue.escalated_at == stamped
    assert _last_seq() == entry.seq
    assert len(mail.outbox) == 1


def test_a_request_escalated_by_a_concurrent_run_is_skipped(complainant):
    # given: the other run's conditional update won between this run's query and its update
    long_ago = timezone.now() - timedelta(days=40)
    request, _ = services.privacy_request_file(actor=complainant, kind="deletion", now=long_ago)
    PrivacyRequest.objects.filter(pk=request.pk).update(escalated_at=timezone.now())
    before = _last_seq()

    assert services.privacy_requests_escalate() == 0
    assert _last_seq() == before


# --- the ledger after erasure -------------------------------------------------------------------


def test_the_ledger_verifies_after_erasure_and_exports(officer):
    f, _g = _full_history()
    services.privacy_export(actor=f.complainant, subjects=[f.complaint.complainant])
    request, _ = services.privacy_request_file(actor=f.complainant, kind="deletion")
    services.privacy_request_complete(actor=officer, request=_verified(officer, request))
    ledger_seal()

    report = verify_ledger()

    assert report.entries == LedgerEntry.objects.count()
    out = StringIO()
    call_command("verify_ledger", stdout=out)
    assert f"Ledger verified: {report.entries} entries" in out.getvalue()


def test_a_subject_made_after_verification_is_covered_when_completing(officer):
    # given: verified before the person filed anything, then they file a complaint
    user = factories.user_with_role(Role.COMPLAINANT)
    request, _ = services.privacy_request_file(actor=user, kind="deletion")
    request = _verified(officer, request)
    assert request.subjects == []
    complaint = factories.file_complaint(user)

    # when
    done = services.privacy_request_complete(actor=officer, request=request)

    # then
    assert done.request.subjects == [complaint.complainant.pseudonym]
    assert vault.is_erased(complaint.complainant)
    assert DataSubject.objects.filter(user=user, kind=SubjectKind.COMPLAINANT).count() == 1
