"""The ledger: gapless numbering, canonical bodies, one transaction with the business write."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from audits.choices import EventType
from audits.models import LedgerEntry
from audits.services import (
    canonical_json,
    leaf_hash,
    ledger_append,
    ledger_deferred,
    system_actor_ref,
)
from governance import services
from governance.choices import Channel, ComplaintStatus, Role
from governance.errors import ValidationFailed
from governance.models import Complaint
from tests import factories

AT = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def _append(n: int = 0, **overrides: Any) -> LedgerEntry:
    values: dict[str, Any] = {
        "event_type": EventType.COMPLAINT_RECEIVED,
        "object_ref": f"test:{n}",
        "actor_ref": system_actor_ref("test"),
        "data": {"n": n},
        "at": AT + timedelta(seconds=n),
    }
    values.update(overrides)
    with transaction.atomic():
        return ledger_append(**values)


def _then_fail(write: Any) -> None:
    """Run `write` in a transaction that then fails, as a business write failing after it."""
    with transaction.atomic():
        write()
        raise RuntimeError("business write failed")


def _last_seq() -> int:
    last = LedgerEntry.objects.order_by("-seq").values_list("seq", flat=True).first()
    return -1 if last is None else last


def _events_of(write: Any) -> list[str]:
    """Run `write` and return the event types it appended, in order."""
    before = _last_seq()
    write()
    return list(
        LedgerEntry.objects.filter(seq__gt=before)
        .order_by("seq")
        .values_list("event_type", flat=True)
    )


# --- deferred entries --------------------------------------------------------------------------


def test_deferred_entries_are_written_in_order_when_the_block_ends():
    # given a block that appends two entries around a write of its own
    before = _last_seq()
    with transaction.atomic(), ledger_deferred():
        first = ledger_append(
            event_type=EventType.COMPLAINT_TRANSITIONED,
            object_ref="test:deferred",
            actor_ref=system_actor_ref("test"),
            data={"n": 1},
            at=AT,
        )
        second = ledger_append(
            event_type=EventType.DECISION_RECORDED,
            object_ref="test:deferred",
            actor_ref=system_actor_ref("test"),
            data={"n": 2},
        )
        # then nothing is written inside the block
        assert _last_seq() == before
    # then both are written in order, numbered on, with the bodies ledger_append builds
    rows = list(LedgerEntry.objects.filter(seq__gt=before).order_by("seq"))
    assert [(r.seq, r.event_type) for r in rows] == [
        (before + 1, EventType.COMPLAINT_TRANSITIONED),
        (before + 2, EventType.DECISION_RECORDED),
    ]
    assert (first.seq, second.seq) == (before + 1, before + 2)
    assert json.loads(rows[0].body)["at"] == AT.isoformat()
    assert json.loads(rows[1].body)["data"] == {"n": 2}
    assert all(r.leaf_hash == leaf_hash(r.body.encode()) for r in rows)


def test_a_deferred_block_that_fails_writes_nothing():
    before = _last_seq()

    def write() -> None:
        with ledger_deferred():
            _append(0)
            raise RuntimeError("business write failed")

    with pytest.raises(RuntimeError), transaction.atomic():
        write()
    assert _last_seq() == before


def _deferred(n: int) -> LedgerEntry:
    return ledger_append(
        event_type=EventType.COMPLAINT_RECEIVED,
        object_ref=f"test:{n}",
        actor_ref=system_actor_ref("test"),
        data={"n": n},
        at=AT,
    )


def test_a_savepoint_rolled_back_inside_a_deferred_block_takes_its_entry_with_it():
    before = _last_seq()

    def failing_part() -> None:
        with transaction.atomic():
            _deferred(2)
            raise RuntimeError("this part failed")

    with transaction.atomic(), ledger_deferred():
        _deferred(1)
        # A nested savepoint whose failure the block catches and carries on after.
        with pytest.raises(RuntimeError):
            failing_part()
        _deferred(3)

    written = LedgerEntry.objects.filter(seq__gt=before).order_by("seq")
    # (an entry appended inside a savepoint is written at once, so none is left queued for it)
    assert sorted(json.loads(e.body)["data"]["n"] for e in written) == [1, 3]


def test_a_deferred_block_whose_failure_the_caller_catches_leaves_neither_rows_nor_entries():
    before = _last_seq()
    complaints = Complaint.objects.count()
    flow = factories.flow_at(ComplaintStatus.RECEIVED)
    seq_after_setup, complaints_after_setup = _last_seq(), Complaint.objects.count()

    with transaction.atomic():
        try:
            with ledger_deferred():
                Complaint.objects.filter(pk=flow.complaint.pk).update(content_id="changed")
                _deferred(1)
                raise RuntimeError("business write failed")
        except RuntimeError:
            pass  # the caller carries on in the same transaction

    assert _last_seq() == seq_after_setup
    assert Complaint.objects.get(pk=flow.complaint.pk).content_id != "changed"
    assert complaints_after_setup == complaints + 1
    assert seq_after_setup > before


def test_a_decision_records_its_entries_in_the_same_order():
    # given a complaint being investigated
    flow = factories.flow_at(ComplaintStatus.INVESTIGATING)
    # when a decision is recorded
    events = _events_of(
        lambda: services.decision_record(
            actor=flow.handler, complaint=flow.complaint, **factories.decision_kwargs()
        )
    )
    # then the transition comes before the decision, as before the entries were deferred
    assert events == [EventType.COMPLAINT_TRANSITIONED, EventType.DECISION_RECORDED]


# --- numbering ---------------------------------------------------------------------------------


def test_ledger_starts_empty_after_migrations():
    # The seeded reference data is written by the migration, not through the ledger.
    assert LedgerEntry.objects.count() == 0


def test_first_entry_is_number_zero():
    entry = _append()

    assert entry.seq == 0
    assert LedgerEntry.objects.get().seq == 0


def test_numbers_have_no_gaps_across_many_appends():
    entries = [_append(n) for n in range(60)]

    assert [e.seq for e in entries] == list(range(60))
    assert list(LedgerEntry.objects.order_by("seq").values_list("seq", flat=True)) == list(
        range(60)
    )


def test_numbers_have_no_gaps_across_service_writes():
    # given: a complaint walked to its decision, appending entries from several services
    factories.flow_at(ComplaintStatus.DECIDED)

    # then
    seqs = list(LedgerEntry.objects.order_by("seq").values_list("seq", flat=True))
    assert len(seqs) > 10
    assert seqs == list(range(len(seqs)))


def test_a_rolled_back_append_leaves_no_gap():
    # given
    _append(0)
    with pytest.raises(RuntimeError, match="business write failed"):
        _then_fail(
            lambda: ledger_append(
                event_type=EventType.COMPLAINT_RECEIVED,
                object_ref="test:doomed",
                actor_ref="system:test",
                data={},
            )
        )

    # when
    entry = _append(1)

    # then
    assert entry.seq == 1
    assert not LedgerEntry.objects.filter(object_ref="test:doomed").exists()


# --- the body ----------------------------------------------------------------------------------


def test_body_is_canonical_json_of_the_whole_entry():
    entry = _append(
        0,
        object_ref="complaint:CMP-2026-000001",
        data={"zeta": 1, "alpha": {"d": [3, 2, 1], "c": None}, "mid": True},
    )

    assert entry.body == (
        '{"actor":"system:test","at":"2026-03-02T02:00:00+00:00",'
        '"data":{"alpha":{"c":null,"d":[3,2,1]},"mid":true,"zeta":1},'
        '"ref":"complaint:CMP-2026-000001","seq":0,"type":"complaint.received"}'
    )
    assert entry.recorded_at == AT
    assert (entry.event_type, entry.object_ref, entry.actor_ref) == (
        "complaint.received",
        "complaint:CMP-2026-000001",
        "system:test",
    )


def test_body_keeps_non_ascii_text_as_utf8():
    entry = _append(0, data={"title": "广告 — Werbung", "emoji": "✓"})

    assert '"title":"广告 — Werbung"' in entry.body
    assert "\\u" not in entry.body
    stored = LedgerEntry.objects.get(seq=entry.seq)
    assert stored.body == entry.body
    assert json.loads(stored.body)["data"]["title"] == "广告 — Werbung"


def test_body_has_no_insignificant_whitespace():
    entry = _append(0, data={"a": [1, 2], "b": {"c": "d e"}})

    assert entry.body == canonical_json(json.loads(entry.body)).decode("utf-8")
    assert ", " not in entry.body
    assert ": " not in entry.body
    assert "\n" not in entry.body


def test_leaf_hash_is_sha256_of_zero_byte_and_body():
    entry = _append(0, data={"title": "投诉"})

    expected = hashlib.sha256(b"\x00" + entry.body.encode("utf-8")).hexdigest()
    assert entry.leaf_hash == expected
    assert LedgerEntry.objects.get(seq=entry.seq).leaf_hash == expected
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").hexdigest()
    # The 0x00 prefix separates leaves from interior nodes (RFC 6962).
    assert entry.leaf_hash != hashlib.sha256(entry.body.encode("utf-8")).hexdigest()


def test_every_stored_entry_hashes_to_its_leaf_hash():
    factories.flow_at(ComplaintStatus.DECIDED)

    for entry in LedgerEntry.objects.all():
        body = entry.body.encode("utf-8")
        assert entry.leaf_hash == hashlib.sha256(b"\x00" + body).hexdigest()
        document = json.loads(entry.body)
        assert canonical_json(document) == body
        assert document["seq"] == entry.seq
        assert document["type"] == entry.event_type
        assert document["ref"] == entry.object_ref
        assert document["actor"] == entry.actor_ref


def test_canonical_json_refuses_values_json_cannot_carry():
    with pytest.raises(ValueError, match="JSON compliant"):
        canonical_json({"x": float("nan")})
    with pytest.raises(TypeError):
        canonical_json({"x": datetime(2026, 1, 1, tzinfo=UTC)})


# --- one transaction with the business write --------------------------------------------------


def test_append_outside_a_transaction_is_refused():
    # The test itself runs inside a transaction, so "outside" is simulated on the connection;
    # the guard reads nothing else.
    wrapper = connections[DEFAULT_DB_ALIAS]
    assert wrapper.in_atomic_block
    wrapper.in_atomic_block = False
    try:
        with pytest.raises(RuntimeError, match="inside the business write's transaction"):
            ledger_append(
                event_type=EventType.COMPLAINT_RECEIVED,
                object_ref="test:0",
                actor_ref="system:test",
                data={},
            )
    finally:
        wrapper.in_atomic_block = True

    assert LedgerEntry.objects.count() == 0


def test_rolled_back_business_write_leaves_no_ledger_entry():
    # given
    complainant = factories.user_with_role(Role.COMPLAINANT)
    before = _last_seq()

    appended: list[int] = []

    def file() -> None:
        factories.file_complaint(complainant)
        appended.append(_last_seq())

    # when: the complaint is filed, then its transaction fails
    with pytest.raises(RuntimeError, match="business write failed"):
        _then_fail(file)

    # then
    assert appended[0] > before
    assert _last_seq() == before
    assert not Complaint.objects.exists()


def test_refused_service_write_appends_nothing(complainant):
    before = _last_seq()

    with pytest.raises(ValidationFailed):
        factories.file_complaint(complainant, description="   ")

    assert _last_seq() == before


# --- which events each write appends -----------------------------------------------------------


def test_first_filing_records_the_subject_then_the_complaint(complainant):
    events = _events_of(lambda: factories.file_complaint(complainant))

    assert events == [EventType.SUBJECT_CREATED, EventType.COMPLAINT_RECEIVED]


def test_later_filing_reuses_the_subject(complainant):
    factories.file_complaint(complainant)

    events = _events_of(lambda: factories.file_complaint(complainant))

    assert events == [EventType.COMPLAINT_RECEIVED]


def test_staff_intake_records_both_subjects_then_the_complaint(handler):
    events = _events_of(
        lambda: services.complaint_file(
            actor=handler,
            channel=Channel.PHONE,
            category=factories.category("harassment"),
            description="Called in about insults under her videos.",
            complainant_name="Wang Fang",
            complainant_phone="+86 10 1234 5678",
            affected_account_handle="@someone",
        )
    )

    assert events == [
        EventType.SUBJECT_CREATED,
        EventType.SUBJECT_CREATED,
        EventType.COMPLAINT_RECEIVED,
    ]


def test_complaint_received_entry_names_the_complaint():
    complaint = factories.file_complaint()

    entry = LedgerEntry.objects.get(event_type=EventType.COMPLAINT_RECEIVED)
    data = json.loads(entry.body)["data"]
    assert entry.object_ref == f"complaint:{complaint.reference}"
    assert data["priority"] == complaint.priority
    assert data["department"] == "moderation"
    assert data["complainant"] == complaint.complainant.pseudonym


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (ComplaintStatus.ACKNOWLEDGED, [EventType.COMPLAINT_TRANSITIONED]),
        (
            ComplaintStatus.TRIAGED,
            [EventType.COMPLAINT_TRANSITIONED, EventType.COMPLAINT_TRIAGED],
        ),
        (
            ComplaintStatus.ASSIGNED,
            [EventType.COMPLAINT_TRANSITIONED, EventType.COMPLAINT_ASSIGNED],
        ),
        (ComplaintStatus.INVESTIGATING, [EventType.COMPLAINT_TRANSITIONED]),
        (
            ComplaintStatus.DECIDED,
            [EventType.COMPLAINT_TRANSITIONED, EventType.DECISION_RECORDED],
        ),
        (ComplaintStatus.CLOSED, [EventType.COMPLAINT_TRANSITIONED]),
        (
            ComplaintStatus.APPEALED,
            [EventType.COMPLAINT_TRANSITIONED, EventType.APPEAL_FILED],
        ),
        (
            ComplaintStatus.APPEAL_DECIDED,
            [EventType.COMPLAINT_TRANSITIONED, EventType.APPEAL_DECIDED],
        ),
    ],
)
def test_each_lifecycle_step_appends_its_events(status, expected):
    # given: a complaint one step before `status`
    path = factories.PATHS[status]
    flow = factories.flow().walk(*path[:-1])

    # when
    events = _events_of(lambda: flow.step(status))

    # then
    assert events == expected


def test_withdrawal_appends_one_transition(complainant):
    complaint = factories.file_complaint(complainant)

    events = _events_of(
        lambda: services.complaint_withdraw(
            actor=complainant, complaint=complaint, reason="Sorted it out."
        )
    )

    assert events == [EventType.COMPLAINT_TRANSITIONED]


def test_rating_appends_one_entry():
    flow = factories.flow_at(ComplaintStatus.CLOSED)

    events = _events_of(
        lambda: services.complaint_rate(actor=flow.complainant, complaint=flow.complaint, score=5)
    )

    assert events == [EventType.COMPLAINT_RATED]


def test_decision_entry_carries_the_decision():
    flow = factories.flow_at(ComplaintStatus.DECIDED)
    decision = flow.decision
    assert decision is not None

    entry = LedgerEntry.objects.get(event_type=EventType.DECISION_RECORDED)

    data = json.loads(entry.body)["data"]
    assert entry.object_ref == f"decision:{decision.pk}"
    assert data["complaint"] == flow.complaint.reference
    assert data["outcome"] == decision.outcome
    # free text goes in as a commitment, never as prose that might name someone
    assert data["reasons_sha256"] == hashlib.sha256(decision.reasons.encode()).hexdigest()
    assert data["facts_sha256"] == hashlib.sha256(decision.facts.encode()).hexdigest()
    assert decision.reasons not in entry.body
    assert decision.facts not in entry.body
    assert data["policy_clause"] == {
        "code": decision.policy_clause.code,
        "version": decision.policy_clause.version,
    }


def test_role_grant_and_policy_publish_append_their_events():
    user = factories.UserFactory()
    factories.superuser()  # made first: making a superuser is itself a ledgered grant

    grant = _events_of(lambda: factories.user_with_role(Role.SUPERVISOR, username=user.username))
    publish = _events_of(lambda: factories.policy_clause("TOS-8.1"))

    assert grant == [EventType.ROLE_GRANTED]
    assert publish == [EventType.POLICY_CLAUSE_PUBLISHED]


# --- no personal data --------------------------------------------------------------------------

NAME = "Zebulon Quixotic-Marchbanks"
EMAIL = "zebulon.quixotic@unusual-domain.test"
PHONE = "+86 138 0013 7741"
HANDLE = "@wombat_whisperer_7731"
DESCRIPTION = "My neighbour Ermintrude Fairweather posted my diary, entry 4417-XQ."


def _ledger_text() -> str:
    return "\n".join(LedgerEntry.objects.values_list("body", flat=True)).lower()


def _assert_absent(text: str, *needles: str) -> None:
    found = [needle for needle in needles if needle.lower() in text]
    assert found == [], f"personal data in the ledger: {found}"


def test_ledger_holds_no_personal_data_of_a_staff_intake(handler):
    # given / when
    services.complaint_file(
        actor=handler,
        channel=Channel.EMAIL,
        category=factories.category("privacy"),
        description=DESCRIPTION,
        complainant_name=NAME,
        complainant_email=EMAIL,
        complainant_phone=PHONE,
        affected_account_handle=HANDLE,
        content_id="acct-1",
    )

    # then
    text = _ledger_text()
    assert "complaint.received" in text
    _assert_absent(
        text,
        NAME,
        "Zebulon",
        "Marchbanks",
        EMAIL,
        "unusual-domain",
        PHONE,
        "0013 7741",
        HANDLE,
        "wombat_whisperer",
        DESCRIPTION,
        "Ermintrude",
        "4417-XQ",
    )


def test_ledger_holds_no_personal_data_of_a_self_filed_complaint():
    # given: a complainant with a distinctive name and address
    user = factories.UserFactory(
        username="quixotic", first_name="Zebulon", last_name="Marchbanks", email=EMAIL
    )
    services.role_grant(actor=factories.superuser(), user=user, role=Role.COMPLAINANT)

    # when
    factories.file_complaint(user, description=DESCRIPTION, affected_account_handle=HANDLE)

    # then
    _assert_absent(
        _ledger_text(), "Zebulon", "Marchbanks", EMAIL, "quixotic", HANDLE, "Ermintrude", "4417-XQ"
    )


def test_ledger_holds_no_personal_data_through_the_whole_lifecycle():
    # given: a complaint through decision, appeal and rating, with personal text at every step
    flow = factories.flow()
    complaint = flow.complaint
    services.complaint_acknowledge(actor=flow.handler, complaint=complaint)
    services.complaint_triage(actor=flow.handler, complaint=complaint)
    services.complaint_assign(actor=flow.lead, complaint=complaint, assignee=flow.handler)
    services.complaint_start_investigation(actor=flow.handler, complaint=complaint)
    decision = services.decision_record(
        actor=flow.handler, complaint=complaint, **factories.decision_kwargs()
    )
    services.complaint_close(actor=flow.handler, complaint=complaint)
    services.complaint_rate(
        actor=flow.complainant, complaint=complaint, score=2, comment="Ermintrude called me twice."
    )
    appeal = services.appeal_file(
        actor=flow.complainant,
        decision=decision,
        statement="My lawyer Bartholomew Oyelaran-Smythe disagrees.",
    )
    services.appeal_decide(
        actor=flow.lead,
        appeal=appeal,
        outcome="upheld",
        facts="Second look at the same comments.",
        reasons="The first decision was right.",
    )
    assert Complaint.objects.get(pk=complaint.pk).status == ComplaintStatus.APPEAL_DECIDED

    # then
    text = _ledger_text()
    _assert_absent(text, "Ermintrude", "Bartholomew", "Oyelaran-Smythe")
    for user in (flow.complainant, flow.handler, flow.lead):
        _assert_absent(text, user.username + '"', user.email, user.last_name)
