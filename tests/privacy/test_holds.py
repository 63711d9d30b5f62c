"""Legal holds: who places and releases them, what they record, and what they stop."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from audits.choices import EventType
from audits.models import LedgerEntry
from governance.choices import ComplaintStatus, Role
from governance.errors import Conflict, PermissionDenied, ValidationFailed
from governance.services.recording import sha256_hex
from privacy import services, vault
from privacy.choices import AccessPurpose, ErasureCause
from privacy.erasure import subjects_erase
from privacy.models import DataKey, LegalHold
from tests import factories

S = ComplaintStatus
REASON = "Preserved for the Beijing Internet Court, case (2026) Jing 0491 Min Chu 1234"


def _officer(role: str = Role.COMPLIANCE_OFFICER) -> Any:
    return factories.user_with_role(role)


def _last(event_type: str) -> LedgerEntry:
    return LedgerEntry.objects.filter(event_type=event_type).latest("seq")


@pytest.mark.parametrize("role", [Role.PRIVACY_OFFICER, Role.COMPLIANCE_OFFICER])
def test_an_officer_places_a_hold_on_a_subject_recorded_by_pseudonym_and_commitment(role: str):
    officer = _officer(role)
    subject = factories.flow_at(S.CLOSED).complaint.complainant

    hold = services.legal_hold_place(
        actor=officer, subject=subject, reason=f"  {REASON} ", review_on=factories.future()
    )

    assert hold.active
    assert (hold.reason, hold.placed_by_id) == (REASON, officer.pk)
    entry = _last(EventType.LEGAL_HOLD_PLACED)
    assert entry.object_ref == f"subject:{subject.pseudonym}"
    data = json.loads(entry.body)["data"]
    assert data == {
        "hold": hold.pk,
        "reason_sha256": sha256_hex(REASON),
        "review_on": factories.future().isoformat(),
    }
    assert "Beijing" not in entry.body
    assert officer.username not in entry.body
    history = hold.history.get()
    assert (history.history_user_id, history.history_change_reason) == (
        officer.pk,
        "Legal hold placed",
    )


def test_a_hold_on_a_complaint_covers_its_complainant_and_reported_holder():
    f, _holder = factories.holder_flow()
    services.legal_hold_place(
        actor=_officer(), complaint=f.complaint, reason=REASON, review_on=factories.future()
    )
    assert _last(EventType.LEGAL_HOLD_PLACED).object_ref == f"complaint:{f.complaint.reference}"
    assert vault.is_held(f.complaint.complainant)
    assert f.complaint.affected_subject is not None
    assert vault.is_held(f.complaint.affected_subject)


def test_releasing_a_hold_records_the_reason_as_a_commitment_and_only_once():
    officer = _officer()
    subject = factories.flow_at(S.RECEIVED).complaint.complainant
    hold = services.legal_hold_place(
        actor=officer, subject=subject, reason=REASON, review_on=factories.future()
    )
    released = services.legal_hold_release(
        actor=_officer(Role.PRIVACY_OFFICER), hold=hold, reason="Judgment final; nothing to keep"
    )
    assert not released.active
    assert released.release_reason == "Judgment final; nothing to keep"
    assert not vault.is_held(subject)
    entry = _last(EventType.LEGAL_HOLD_RELEASED)
    assert entry.object_ref == f"subject:{subject.pseudonym}"
    assert json.loads(entry.body)["data"] == {
        "hold": hold.pk,
        "reason_sha256": sha256_hex("Judgment final; nothing to keep"),
    }
    assert "Judgment" not in entry.body
    assert [h.history_type for h in released.history.order_by("history_id")] == ["+", "~"]

    with pytest.raises(Conflict) as caught:
        services.legal_hold_release(actor=officer, hold=hold, reason="Again")
    assert "already released" in caught.value.message


@pytest.mark.parametrize(
    "role", [Role.HANDLER, Role.DEPARTMENT_LEAD, Role.SUPERVISOR, Role.ADMIN, Role.COMPLAINANT]
)
def test_other_roles_neither_place_nor_release_holds(role: str):
    subject = factories.flow_at(S.RECEIVED).complaint.complainant
    with pytest.raises(PermissionDenied):
        services.legal_hold_place(
            actor=_officer(role), subject=subject, reason=REASON, review_on=factories.future()
        )
    hold = services.legal_hold_place(
        actor=_officer(), subject=subject, reason=REASON, review_on=factories.future()
    )
    with pytest.raises(PermissionDenied):
        services.legal_hold_release(actor=_officer(role), hold=hold, reason="No")
    assert LegalHold.objects.get().active


def _today() -> Any:
    return timezone.localdate()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"reason": "  "}, "reason"),
        ({"review_on": None}, "review_on"),
        ({"review_on": _today}, "review_on"),
        ({"review_on": lambda: _today() - timedelta(days=1)}, "review_on"),
        ({"complaint": "the same"}, "subject"),
        ({"subject": None}, "subject"),
    ],
)
def test_a_hold_needs_one_target_a_reason_and_a_review_date_ahead(
    change: dict[str, Any], field: str
):
    f = factories.flow_at(S.RECEIVED)
    values: dict[str, Any] = {
        "subject": f.complaint.complainant,
        "reason": REASON,
        "review_on": factories.future(),
    }
    for name, value in change.items():
        values[name] = f.complaint if value == "the same" else value() if callable(value) else value
    with pytest.raises(ValidationFailed) as caught:
        services.legal_hold_place(actor=_officer(), **values)
    assert field in caught.value.fields
    assert all(message.strip() for message in caught.value.fields[field])
    assert not LegalHold.objects.exists()


def test_a_hold_release_needs_a_reason():
    hold = services.legal_hold_place(
        actor=_officer(),
        subject=factories.flow_at(S.RECEIVED).complaint.complainant,
        reason=REASON,
        review_on=factories.future(),
    )
    with pytest.raises(ValidationFailed) as caught:
        services.legal_hold_release(actor=_officer(), hold=hold, reason=" ")
    assert "reason" in caught.value.fields
    assert LegalHold.objects.get().active


def test_an_erased_subject_cannot_be_held():
    subject = factories.flow_at(S.CLOSED).complaint.complainant
    services.retention_enforce(now=timezone.now() + timedelta(days=1097))
    with pytest.raises(Conflict):
        services.legal_hold_place(
            actor=_officer(), subject=subject, reason=REASON, review_on=factories.future()
        )


def test_held_data_is_only_stored_not_read_and_not_erased_by_a_deletion():
    # given
    f = factories.flow_at(S.INVESTIGATING)
    subject = f.complaint.complainant
    services.legal_hold_place(
        actor=_officer(), complaint=f.complaint, reason=REASON, review_on=factories.future()
    )
    # then: the handler gets "held", not the data; the compliance officer may review it
    shown = vault.reveal_subject(
        f.handler, subject, purpose=AccessPurpose.CASE_HANDLING, complaint=f.complaint
    )
    assert shown.state == vault.HELD
    assert vault.reveal_subject(
        _officer(), subject, purpose=AccessPurpose.LEGAL_HOLD, complaint=f.complaint
    ).readable
    # and a deletion request's erasure leaves it alone
    with transaction.atomic():
        erased, held = subjects_erase(
            subject_ids=[subject.pk], cause=ErasureCause.DELETION_REQUEST, now=timezone.now()
        )
    assert (erased, held) == ([], [subject.pseudonym])
    assert DataKey.objects.get(subject_id=subject.pk).wrapped is not None
