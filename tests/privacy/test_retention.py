"""Retention rules and enforce_retention, judged against a fixed `now` (a frozen clock)."""

from __future__ import annotations

import io
import json
import threading
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from audits.choices import EventType
from audits.models import LedgerEntry
from audits.verification import verify_ledger
from governance import services as governance_services
from governance.choices import ComplaintStatus, Role
from governance.errors import PermissionDenied, ValidationFailed
from governance.models import Complaint
from privacy import services, vault
from privacy.choices import (
    AccessOutcome,
    AccessPurpose,
    ErasureCause,
    RecordClass,
    RetentionEvent,
)
from privacy.models import (
    AccessLogEntry,
    DataKey,
    DataSubject,
    RetentionRule,
    RetentionRun,
    SubjectLookup,
)
from tests import factories

S = ComplaintStatus
DAYS = 1096  # the default period of complainant and account-holder data (migration 0008)


def _after(days: float) -> datetime:
    """A moment `days` after now: the frozen clock the run is judged against."""
    return timezone.now() + timedelta(days=days)


def _closed() -> DataSubject:
    """The complainant of a complaint closed just now (through the services)."""
    return factories.flow_at(S.CLOSED).complaint.complainant


def _withdrawn() -> DataSubject:
    return factories.flow_at(S.WITHDRAWN).complaint.complainant


def _erased(subject: DataSubject) -> bool:
    return DataKey.objects.get(subject_id=subject.pk).wrapped is None


def _privacy_officer() -> Any:
    return factories.user_with_role(Role.PRIVACY_OFFICER, username="privacy-officer")


def _snapshot() -> dict[str, Any]:
    return {
        "live_keys": sorted(
            DataKey.objects.filter(wrapped__isnull=False).values_list("subject_id", flat=True)
        ),
        "lookups": SubjectLookup.objects.count(),
        "ledger": LedgerEntry.objects.count(),
        "runs": RetentionRun.objects.count(),
        "access_log": AccessLogEntry.objects.count(),
    }


def _retention_events() -> list[dict[str, Any]]:
    rows = LedgerEntry.objects.filter(event_type=EventType.RETENTION_ENFORCED).order_by("seq")
    return [json.loads(row.body) for row in rows]


def _log_entry(subject: DataSubject, at: datetime) -> AccessLogEntry:
    entry = AccessLogEntry(
        at=at,
        reader=None,
        reader_ref="u-test",
        subject=subject,
        record=subject.record,
        fields=["email"],
        purpose=AccessPurpose.CASE_HANDLING,
        outcome=AccessOutcome.READ,
    )
    entry.save()
    return entry


# --- the default rules -----------------------------------------------------------------------


def test_the_default_rules_are_seeded_as_documented():
    rules = {r.record_class: r for r in RetentionRule.objects.filter(category__isnull=True)}
    assert {k: (v.period_days, v.counted_from) for k, v in rules.items()} == {
        RecordClass.COMPLAINANT_DATA: (1096, RetentionEvent.COMPLAINT_CLOSED),
        RecordClass.ACCOUNT_HOLDER_DATA: (1096, RetentionEvent.COMPLAINT_CLOSED),
        RecordClass.ACCESS_LOG: (1096, RetentionEvent.READ),
        RecordClass.LEDGER: (None, RetentionEvent.RECORDED),
    }
    assert "PIPL Art. 19" in rules[RecordClass.COMPLAINANT_DATA].legal_basis
    assert "DSA" in rules[RecordClass.LEDGER].legal_basis
    # The migration is the record of the seed; history starts with the first change.
    assert all(rule.history.count() == 0 for rule in rules.values())


# --- setting rules ---------------------------------------------------------------------------


def test_a_privacy_officer_changes_a_rule_with_history_and_a_ledger_entry():
    officer = _privacy_officer()
    rule = services.retention_rule_set(
        actor=officer,
        record_class=RecordClass.COMPLAINANT_DATA,
        category=factories.category("harassment"),
        period_days=730,
        counted_from=RetentionEvent.COMPLAINT_CLOSED,
        legal_basis="  PIPL Art. 19: two years suffice for harassment cases.  ",
    )
    assert (rule.period_days, rule.legal_basis) == (
        730,
        "PIPL Art. 19: two years suffice for harassment cases.",
    )
    changed = services.retention_rule_set(
        actor=officer,
        record_class=RecordClass.COMPLAINANT_DATA,
        category=factories.category("harassment"),
        period_days=365,
        counted_from=RetentionEvent.COMPLAINT_CLOSED,
        legal_basis="PIPL Art. 19",
    )
    assert changed.pk == rule.pk
    history = list(changed.history.order_by("history_id"))
    assert [h.history_type for h in history] == ["+", "~"]
    assert [h.history_user_id for h in history] == [officer.pk, officer.pk]
    assert [h.history_change_reason for h in history] == ["Rule set", "Rule changed"]
    entry = LedgerEntry.objects.filter(event_type=EventType.RETENTION_RULE_CHANGED).latest("seq")
    body = json.loads(entry.body)
    assert entry.object_ref == f"retention_rule:{rule.pk}"
    assert body["data"] == {
        "record_class": "complainant_data",
        "category": "harassment",
        "period_days": 365,
        "previous_period_days": 730,
        "counted_from": "complaint_closed",
        "legal_basis": "PIPL Art. 19",
    }
    assert officer.username not in entry.body


def test_setting_a_rule_to_what_it_is_records_nothing():
    rule = RetentionRule.objects.get(record_class=RecordClass.ACCESS_LOG)
    officer = _privacy_officer()
    before = LedgerEntry.objects.count()
    services.retention_rule_set(
        actor=officer,
        record_class=rule.record_class,
        period_days=rule.period_days,
        counted_from=rule.counted_from,
        legal_basis=rule.legal_basis,
    )
    assert LedgerEntry.objects.count() == before
    assert rule.history.count() == 0


@pytest.mark.parametrize(
    ("record_class", "period_days", "counted_from", "field"),
    [
        (RecordClass.ACCESS_LOG, 183, RetentionEvent.READ, "period_days"),
        (RecordClass.LEDGER, 3650, RetentionEvent.RECORDED, "period_days"),
        (RecordClass.COMPLAINANT_DATA, 0, RetentionEvent.COMPLAINT_CLOSED, "period_days"),
        (RecordClass.COMPLAINANT_DATA, -5, RetentionEvent.COMPLAINT_CLOSED, "period_days"),
        (RecordClass.COMPLAINANT_DATA, 30, RetentionEvent.READ, "counted_from"),
        ("passports", 30, RetentionEvent.READ, "record_class"),
    ],
)
def test_a_rule_out_of_bounds_is_refused_with_field_messages(
    record_class: str, period_days: int, counted_from: str, field: str
):
    with pytest.raises(ValidationFailed) as caught:
        services.retention_rule_set(
            actor=_privacy_officer(),
            record_class=record_class,
            period_days=period_days,
            counted_from=counted_from,
            legal_basis="Some basis",
        )
    assert field in caught.value.fields
    assert all(message.strip() for message in caught.value.fields[field])


def test_a_rule_needs_a_legal_basis_and_categories_only_for_personal_data():
    with pytest.raises(ValidationFailed) as caught:
        services.retention_rule_set(
            actor=_privacy_officer(),
            record_class=RecordClass.ACCESS_LOG,
            category=factories.category(),
            period_days=400,
            counted_from=RetentionEvent.READ,
            legal_basis="  ",
        )
    assert set(caught.value.fields) == {"category", "legal_basis"}


@pytest.mark.parametrize("role", [Role.COMPLIANCE_OFFICER, Role.ADMIN, Role.HANDLER])
def test_only_privacy_officers_set_rules(role: str):
    with pytest.raises(PermissionDenied):
        services.retention_rule_set(
            actor=factories.user_with_role(role),
            record_class=RecordClass.ACCESS_LOG,
            period_days=400,
            counted_from=RetentionEvent.READ,
            legal_basis="PIPL Art. 54",
        )
    assert RetentionRule.objects.get(record_class=RecordClass.ACCESS_LOG).period_days == DAYS


# --- what expires ----------------------------------------------------------------------------


def test_expired_data_is_erased_and_data_not_yet_expired_is_kept():
    # given: two complaints closed now, and one still open
    expired = _closed()
    also_expired = _withdrawn()
    still_open = factories.flow_at(S.INVESTIGATING).complaint.complainant
    officer = _privacy_officer()
    assert SubjectLookup.objects.filter(subject=expired).exists()

    # when: a day short of three years, nothing goes
    early = services.retention_enforce(now=_after(DAYS - 1))
    # then
    assert early.erased == []
    assert not _erased(expired)

    # when: three years and a day after closure
    result = services.retention_enforce(now=_after(DAYS + 1))
    # then
    assert sorted(result.erased) == sorted([expired.pseudonym, also_expired.pseudonym])
    assert _erased(expired)
    assert _erased(also_expired)
    key = DataKey.objects.get(subject_id=expired.pk)
    assert key.destroyed_for == ErasureCause.RETENTION
    assert not SubjectLookup.objects.filter(subject=expired).exists()
    assert (
        vault.reveal_subject(officer, expired, purpose=AccessPurpose.PRIVACY_REQUEST).state
        == vault.ERASED
    )
    assert not _erased(still_open)
    assert vault.reveal_subject(officer, still_open, purpose=AccessPurpose.PRIVACY_REQUEST).readable
    run = RetentionRun.objects.latest("pk")
    assert (run.subjects_erased, run.dry_run, run.finished_at is not None) == (2, False, True)
    assert run.as_of == result.as_of
    assert run.ledger_seqs == result.ledger_seqs
    verify_ledger()


def test_a_complainant_with_one_open_complaint_keeps_all_their_data():
    f = factories.flow_at(S.CLOSED)
    factories.file_complaint(f.complainant)  # a second complaint, still open
    result = services.retention_enforce(now=_after(DAYS + 1))
    assert f.complaint.complainant.pseudonym not in result.erased
    assert not _erased(f.complaint.complainant)


def test_an_appealed_complaint_is_counted_from_its_last_closure():
    # given: a complaint closed, then appealed: it is not final while the appeal runs
    f = factories.flow_at(S.CLOSED)
    f.step(S.APPEALED)
    result = services.retention_enforce(now=_after(DAYS + 1))
    assert result.erased == []
    # and closed again after the appeal: counted from then, not from the first closure
    f.step(S.APPEAL_DECIDED)
    f.step(S.CLOSED)
    f.refresh()
    assert f.complaint.closed_at < f.complaint.updated_at
    assert services.retention_enforce(now=f.complaint.closed_at + timedelta(days=DAYS + 1)).erased
    assert _erased(f.complaint.complainant)


def test_the_reported_account_holder_is_erased_with_the_complaint_about_them():
    f, _holder = factories.holder_flow()
    f.walk(*factories.PATHS[S.CLOSED])
    holder = f.complaint.affected_subject
    assert holder is not None
    result = services.retention_enforce(now=_after(DAYS + 1))
    assert holder.pseudonym in result.erased
    assert _erased(holder)
    assert _erased(f.complaint.complainant)


def test_a_category_rule_beats_the_default_and_may_keep_for_ever():
    officer = _privacy_officer()
    harassment = _closed()  # category harassment
    other = factories.flow_at(
        S.CLOSED, dept="copyright", category_code="ip_infringement"
    ).complaint.complainant
    services.retention_rule_set(
        actor=officer,
        record_class=RecordClass.COMPLAINANT_DATA,
        category=factories.category("harassment"),
        period_days=30,
        counted_from=RetentionEvent.COMPLAINT_CLOSED,
        legal_basis="PIPL Art. 19",
    )
    result = services.retention_enforce(now=_after(31))
    assert result.erased == [harassment.pseudonym]
    assert not _erased(other)

    services.retention_rule_set(
        actor=officer,
        record_class=RecordClass.COMPLAINANT_DATA,
        category=factories.category("ip_infringement"),
        period_days=None,
        counted_from=RetentionEvent.COMPLAINT_CLOSED,
        legal_basis="Kept for the copyright register.",
    )
    assert services.retention_enforce(now=_after(DAYS * 10)).erased == []
    assert not _erased(other)


# --- legal holds -----------------------------------------------------------------------------


@pytest.mark.parametrize("on", ["subject", "complaint"])
def test_held_data_is_not_erased_until_the_hold_is_released(on: str):
    # given
    f = factories.flow_at(S.CLOSED)
    subject = f.complaint.complainant
    free = _closed()
    compliance = factories.user_with_role(Role.COMPLIANCE_OFFICER)
    target = {"subject": subject} if on == "subject" else {"complaint": f.complaint}
    hold = services.legal_hold_place(
        actor=compliance, reason="Court order 2026-17", review_on=factories.future(), **target
    )
    # when
    result = services.retention_enforce(now=_after(DAYS + 1))
    # then
    assert result.erased == [free.pseudonym]
    assert result.held_back == [subject.pseudonym]
    assert RetentionRun.objects.get().held_back == 1
    assert not _erased(subject)
    assert subject.pseudonym not in json.dumps(_retention_events())

    # when: the hold is released, the next run erases the data
    services.legal_hold_release(actor=compliance, hold=hold, reason="Case closed")
    result = services.retention_enforce(now=_after(DAYS + 1))
    assert result.erased == [subject.pseudonym]
    assert result.held_back == []
    assert _erased(subject)


# --- dry run and idempotence -----------------------------------------------------------------


def test_the_dry_run_lists_what_would_go_and_changes_nothing():
    expired = _closed()
    held = _closed()
    services.legal_hold_place(
        actor=factories.user_with_role(Role.PRIVACY_OFFICER),
        subject=held,
        reason="Regulator inquiry",
        review_on=factories.future(),
    )
    _log_entry(expired, timezone.now() - timedelta(days=DAYS + 10))
    before = _snapshot()

    result = services.retention_enforce(now=_after(DAYS + 1), dry_run=True)

    assert result.dry_run
    assert result.erased == [expired.pseudonym]
    assert result.held_back == [held.pseudonym]
    assert result.access_log_removed == 1
    assert result.run is None
    assert result.ledger_seqs == []
    assert _snapshot() == before


def test_a_second_run_erases_nothing():
    _closed()
    first = services.retention_enforce(now=_after(DAYS + 1))
    keys_after_first = _snapshot()["live_keys"]
    second = services.retention_enforce(now=_after(DAYS + 2))
    assert first.subjects_erased == 1
    assert (second.subjects_erased, second.access_log_removed) == (0, 0)
    assert _snapshot()["live_keys"] == keys_after_first
    # each run still records that it ran, with its counts
    last = _retention_events()[-1]
    assert last["ref"] == f"retention_run:{second.run.pk}"
    assert last["data"]["subjects_erased"] == 0
    verify_ledger()


def test_erasure_runs_in_batches_each_with_one_ledger_event_of_pseudonyms_only():
    subjects = [_withdrawn() for _ in range(5)]
    result = services.retention_enforce(now=_after(DAYS + 1), batch_size=2)
    events = _retention_events()
    batches = [e for e in events if "erased" in e["data"]]
    assert [len(e["data"]["erased"]) for e in batches] == [2, 2, 1]
    named = [ref for e in batches for ref in e["data"]["erased"]]
    assert sorted(named) == sorted(f"subject:{s.pseudonym}" for s in subjects)
    summary = events[-1]["data"]
    assert summary["subjects_erased"] == 5
    assert summary["batches"] == [e["seq"] for e in batches]
    assert result.ledger_seqs == [e["seq"] for e in events]
    verify_ledger()


def test_the_ledger_of_a_run_holds_no_personal_data():
    f = factories.flow_at(S.CLOSED)
    email = factories.plain_field(f.complaint.complainant, "email")
    name = factories.plain_field(f.complaint.complainant, "full_name")
    description = factories.plain_note(f.complaint.description)
    services.retention_enforce(now=_after(DAYS + 1))
    text = json.dumps(_retention_events(), ensure_ascii=False)
    for value in (email, name, description):
        assert value
        assert value not in text


# --- the access log --------------------------------------------------------------------------


def test_access_log_entries_older_than_the_rule_go_and_younger_ones_stay():
    subject = _closed()
    now = timezone.now()
    old = _log_entry(subject, now - timedelta(days=DAYS + 5))
    mid = _log_entry(subject, now - timedelta(days=200))
    fresh = _log_entry(subject, now - timedelta(days=1))

    result = services.retention_enforce(now=now)

    assert result.access_log_removed == 1
    assert set(AccessLogEntry.objects.values_list("pk", flat=True)) == {mid.pk, fresh.pk}
    event = next(e for e in _retention_events() if "access_log_removed" in e["data"])
    assert event["data"]["access_log_ids"] == [old.pk, old.pk]
    assert RetentionRun.objects.get().access_log_removed == 1


def test_the_access_log_keeps_six_months_whatever_the_clock_says():
    # A run judged far in the future may not ask the database for rows it would refuse.
    subject = _closed()
    now = timezone.now()
    mid = _log_entry(subject, now - timedelta(days=200))
    young = _log_entry(subject, now - timedelta(days=100))
    result = services.retention_enforce(now=now + timedelta(days=5 * DAYS))
    assert result.access_log_removed == 1
    assert set(AccessLogEntry.objects.values_list("pk", flat=True)) == {young.pk}
    assert not AccessLogEntry.objects.filter(pk=mid.pk).exists()


# --- the command -----------------------------------------------------------------------------


def test_the_command_dry_run_lists_and_the_real_run_erases():
    # given: a complaint closed long ago (the command runs on the real clock)
    subject = _closed()
    long_ago = timezone.now() - timedelta(days=DAYS + 3)
    Complaint.objects.filter(complainant=subject).update(closed_at=long_ago, updated_at=long_ago)
    before = _snapshot()

    out = io.StringIO()
    call_command("enforce_retention", "--dry-run", stdout=out)
    assert f"subject:{subject.pseudonym}" in out.getvalue()
    assert "Would erase the personal data of 1 data subject(s)" in out.getvalue()
    assert _snapshot() == before

    out = io.StringIO()
    call_command("enforce_retention", "--batch-size", "10", stdout=out)
    assert "Erased the personal data of 1 data subject(s)" in out.getvalue()
    assert _erased(subject)

    out = io.StringIO()
    call_command("enforce_retention", stdout=out)
    assert "Erased the personal data of 0 data subject(s)" in out.getvalue()
    call_command("verify_ledger", stdout=io.StringIO())


def test_a_batch_size_below_one_is_refused():
    with pytest.raises(ValidationFailed) as caught:
        services.retention_enforce(batch_size=0)
    assert "batch_size" in caught.value.fields


# --- two runs at once ------------------------------------------------------------------------


def _run(now: datetime, results: list[Any], errors: list[BaseException], gate: Any) -> None:
    try:
        gate.wait(timeout=30)
        results.append(services.retention_enforce(now=now, batch_size=3))
    except BaseException as exc:  # handed to the main thread, which fails on it
        errors.append(exc)
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_runs_at_once_erase_each_subject_once():
    # given: twenty expired subjects, committed before the runs start
    subjects = []
    handler = factories.user_with_role(Role.HANDLER)
    for i in range(20):
        complaint = factories.file_complaint()
        governance_services.complaint_withdraw(
            actor=handler, complaint=complaint, reason=f"Resolved privately {i}."
        )
        subjects.append(complaint.complainant)
    now = _after(DAYS + 1)
    results: list[Any] = []
    errors: list[BaseException] = []

    # when
    if connection.vendor == "postgresql":
        gate = threading.Barrier(2)
        runs = [threading.Thread(target=_run, args=(now, results, errors, gate)) for _ in "ab"]
        for run in runs:
            run.start()
        for run in runs:
            run.join(timeout=120)
    else:
        # SQLite has one writer at a time: every transaction begins IMMEDIATE (settings), so the
        # batches of two runs serialise; the later run finds the keys destroyed.
        assert settings.DATABASES["default"]["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
        gate = threading.Barrier(1)
        _run(now, results, errors, gate)
        _run(now, results, errors, gate)

    # then: every subject erased once, by one run or the other, and named in one event
    assert not errors, errors
    assert len(results) == 2
    erased = [p for r in results for p in r.erased]
    assert sorted(erased) == sorted(s.pseudonym for s in subjects)
    named = [ref for event in _retention_events() for ref in event["data"].get("erased", [])]
    assert sorted(named) == sorted(f"subject:{s.pseudonym}" for s in subjects)
    assert sum(RetentionRun.objects.values_list("subjects_erased", flat=True)) == 20
    assert not DataKey.objects.filter(
        subject__in=[s.pk for s in subjects], wrapped__isnull=False
    ).exists()
    verify_ledger()
