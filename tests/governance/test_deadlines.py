"""Deadline arithmetic: hours, calendar days, working days, priorities and the appeal window."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from governance import deadlines, services
from governance.choices import Priority, Role, Severity, Urgency
from governance.deadlines import Target, add_months, add_working_days, due_at
from governance.models import Holiday
from tests import factories

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Monday 2 March 2026, 10:00 in Shanghai (02:00 UTC); no weekend or holiday near it but the ones
# a test adds.
MONDAY_10H = datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)
MONDAY_10H_UTC = MONDAY_10H.astimezone(UTC)


def _local(moment: datetime, tz: ZoneInfo = SHANGHAI) -> datetime:
    return moment.astimezone(tz)


def _holiday(day: date, name: str = "Test holiday") -> Holiday:
    return services.reference_record_save(
        actor=factories.superuser(), record=Holiday(date=day, name=name), reason="Test calendar"
    )


# --- targets -----------------------------------------------------------------------------------


def test_hours_target_adds_elapsed_hours():
    assert due_at(MONDAY_10H_UTC, Target(5, "hours")) == MONDAY_10H_UTC + timedelta(hours=5)


def test_hours_target_ignores_weekends_and_holidays():
    friday = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)

    due = due_at(friday, Target(24, "hours"), holidays=[date(2026, 3, 7)])

    assert due == datetime(2026, 3, 7, 12, 0, tzinfo=UTC)


def test_calendar_days_target_counts_weekends_and_holidays():
    friday = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)

    due = due_at(friday, Target(3, "days"), holidays=[date(2026, 3, 9)])

    assert due == datetime(2026, 3, 9, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("amount", "unit"), [(1, "weeks"), (1, "minutes"), (-1, "hours"), (3, "")])
def test_invalid_target_is_refused(amount, unit):
    with pytest.raises(ValueError, match="invalid deadline target"):
        Target(amount, unit)


# --- working days ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (0, date(2026, 3, 2)),
        (1, date(2026, 3, 3)),
        (4, date(2026, 3, 6)),  # Friday
        (5, date(2026, 3, 9)),  # the weekend is skipped
        (10, date(2026, 3, 16)),
        (15, date(2026, 3, 23)),
    ],
)
def test_working_days_skip_weekends(days, expected):
    due = add_working_days(MONDAY_10H, days, holidays=(), tz=SHANGHAI)

    assert _local(due).date() == expected
    assert _local(due).time() == MONDAY_10H.time()


def test_working_days_from_friday_land_on_monday():
    friday = datetime(2026, 3, 6, 16, 30, tzinfo=SHANGHAI)

    due = add_working_days(friday, 1, holidays=(), tz=SHANGHAI)

    assert due == datetime(2026, 3, 9, 16, 30, tzinfo=SHANGHAI)


def test_working_days_skip_explicit_holidays():
    # given: Tuesday and Wednesday are holidays
    holidays = {date(2026, 3, 3), date(2026, 3, 4)}

    # when
    due = add_working_days(MONDAY_10H, 2, holidays=holidays, tz=SHANGHAI)

    # then: Thursday and Friday are the two working days
    assert due == datetime(2026, 3, 6, 10, 0, tzinfo=SHANGHAI)


def test_holiday_on_a_weekend_costs_nothing_extra():
    due = add_working_days(MONDAY_10H, 5, holidays={date(2026, 3, 7)}, tz=SHANGHAI)

    assert _local(due).date() == date(2026, 3, 9)


def test_holiday_outside_the_window_changes_nothing():
    due = add_working_days(
        MONDAY_10H, 3, holidays={date(2026, 3, 1), date(2026, 4, 1)}, tz=SHANGHAI
    )

    assert _local(due).date() == date(2026, 3, 5)


@pytest.mark.parametrize(
    ("start", "expected_day"),
    [
        # Saturday 10:00: first seen on Monday, so one working day runs until Tuesday.
        (datetime(2026, 3, 7, 10, 0, tzinfo=SHANGHAI), date(2026, 3, 10)),
        # Sunday 23:00: likewise.
        (datetime(2026, 3, 8, 23, 0, tzinfo=SHANGHAI), date(2026, 3, 10)),
    ],
)
def test_start_on_a_weekend_counts_from_the_next_working_day(start, expected_day):
    due = add_working_days(start, 1, holidays=(), tz=SHANGHAI)

    assert _local(due).date() == expected_day
    # Monday, the first working day the complaint is seen, is wholly available.
    assert due >= datetime(2026, 3, 10, 0, 0, tzinfo=SHANGHAI)


def test_start_on_a_holiday_counts_from_the_next_working_day():
    # given: Wednesday 4 March is a holiday and the complaint arrives on it
    start = datetime(2026, 3, 4, 10, 0, tzinfo=SHANGHAI)

    # when
    due = add_working_days(start, 1, holidays={date(2026, 3, 4)}, tz=SHANGHAI)

    # then: Thursday is the first working day, so one working day runs until Friday
    assert _local(due).date() == date(2026, 3, 6)


def test_a_later_start_never_gets_an_earlier_working_day_deadline():
    # given: Friday 23:00, then every few hours over the weekend, then Monday 09:00
    start = datetime(2026, 3, 6, 23, 0, tzinfo=SHANGHAI)
    moments = [start + timedelta(hours=h) for h in range(0, 59, 3)]

    # when
    dues = [add_working_days(m, 1, holidays=(), tz=SHANGHAI) for m in moments]

    # then
    assert dues == sorted(dues)


def test_working_days_keep_the_business_time_of_day_when_the_utc_date_differs():
    # given: Thursday 20:00 UTC is already Friday 04:00 in Shanghai
    start = datetime(2026, 3, 5, 20, 0, tzinfo=UTC)

    # when
    due = due_at(start, Target(1, "working_days"))

    # then: one Shanghai working day after Friday is Monday 04:00 there (Sunday 20:00 UTC),
    # not Friday 20:00 UTC as counting in UTC would give
    assert _local(due) == datetime(2026, 3, 9, 4, 0, tzinfo=SHANGHAI)
    assert due == datetime(2026, 3, 8, 20, 0, tzinfo=UTC)
    assert due.utcoffset() == timedelta(0)  # returned in the caller's zone


def test_working_days_use_the_configured_business_time_zone(settings):
    settings.OMBUD_BUSINESS_TIME_ZONE = "UTC"
    start = datetime(2026, 3, 5, 20, 0, tzinfo=UTC)

    due = due_at(start, Target(1, "working_days"))

    assert due == datetime(2026, 3, 6, 20, 0, tzinfo=UTC)


def test_working_days_keep_local_wall_clock_across_a_dst_change():
    berlin = ZoneInfo("Europe/Berlin")
    friday = datetime(2026, 3, 27, 10, 0, tzinfo=berlin)  # CET; summer time starts on the 29th

    due = add_working_days(friday, 1, holidays=(), tz=berlin)

    assert due == datetime(2026, 3, 30, 10, 0, tzinfo=berlin)
    assert due.astimezone(UTC) - friday.astimezone(UTC) == timedelta(days=3, hours=-1)


def test_due_at_passes_holidays_to_working_days():
    due = due_at(MONDAY_10H_UTC, Target(1, "working_days"), holidays=[date(2026, 3, 3)])

    assert _local(due).date() == date(2026, 3, 4)


# --- deadlines of filed complaints -------------------------------------------------------------


@pytest.mark.parametrize(
    ("category_code", "priority", "expected_due"),
    [
        ("minors", Priority.P1, MONDAY_10H_UTC + timedelta(hours=24)),  # critical
        ("harassment", Priority.P2, MONDAY_10H_UTC + timedelta(hours=72)),  # high
        ("ip_infringement", Priority.P3, MONDAY_10H_UTC + timedelta(days=7)),  # medium
        # low: 15 working days, three weeks to the day with no holiday in between
        ("technical_fault", Priority.P4, datetime(2026, 3, 23, 2, 0, tzinfo=UTC)),
    ],
)
def test_filed_complaint_gets_the_decision_deadline_of_its_priority(
    complainant, category_code, priority, expected_due
):
    complaint = factories.file_complaint(
        complainant, category_code=category_code, now=MONDAY_10H_UTC
    )

    complaint.refresh_from_db()
    assert complaint.priority == priority
    assert complaint.received_at == MONDAY_10H_UTC
    assert complaint.decision_due_at == expected_due


def test_filed_complaint_gets_acknowledge_and_triage_deadlines(complainant):
    complaint = factories.file_complaint(complainant, now=MONDAY_10H_UTC)

    complaint.refresh_from_db()
    assert complaint.acknowledge_due_at == MONDAY_10H_UTC + timedelta(hours=24)
    assert complaint.triage_due_at == MONDAY_10H_UTC + timedelta(hours=48)


def test_p4_deadline_skips_holiday_rows(complainant):
    # given: Wednesday 11 March is a public holiday
    _holiday(date(2026, 3, 11))

    # when
    complaint = factories.file_complaint(
        complainant, category_code="technical_fault", now=MONDAY_10H_UTC
    )

    # then: the deadline moves one working day later, to Tuesday 24 March
    complaint.refresh_from_db()
    assert complaint.priority == Priority.P4
    assert _local(complaint.decision_due_at) == datetime(2026, 3, 24, 10, 0, tzinfo=SHANGHAI)


def test_p4_deadline_skips_several_holiday_rows_and_weekends(complainant):
    # given: a holiday week (Monday to Friday, 9-13 March)
    for offset in range(5):
        _holiday(date(2026, 3, 9) + timedelta(days=offset), name="Golden week")

    # when
    complaint = factories.file_complaint(
        complainant, category_code="technical_fault", now=MONDAY_10H_UTC
    )

    # then
    complaint.refresh_from_db()
    assert _local(complaint.decision_due_at) == datetime(2026, 3, 30, 10, 0, tzinfo=SHANGHAI)


def test_p4_deadline_of_a_complaint_filed_on_saturday_counts_from_monday(complainant):
    saturday = datetime(2026, 3, 7, 10, 0, tzinfo=SHANGHAI)

    complaint = factories.file_complaint(complainant, category_code="technical_fault", now=saturday)

    # Monday 9 March is working day 1 of 15 for a complaint first seen that day.
    complaint.refresh_from_db()
    assert _local(complaint.decision_due_at).date() == date(2026, 3, 30)


def _triage(complaint: Any, handler: Any, at: datetime, **changes: Any) -> Any:
    services.complaint_acknowledge(actor=handler, complaint=complaint, now=at)
    return services.complaint_triage(
        actor=handler, complaint=complaint, now=at + timedelta(minutes=5), **changes
    )


@pytest.mark.parametrize(
    ("changes", "priority", "expected_due"),
    [
        ({"urgency": Urgency.HIGH}, Priority.P3, MONDAY_10H_UTC + timedelta(days=7)),
        ({"severity": Severity.CRITICAL}, Priority.P1, MONDAY_10H_UTC + timedelta(hours=24)),
        (
            {"severity": Severity.HIGH, "urgency": Urgency.HIGH},
            Priority.P1,
            MONDAY_10H_UTC + timedelta(hours=24),
        ),
        ({"severity": Severity.MEDIUM}, Priority.P3, MONDAY_10H_UTC + timedelta(days=7)),
    ],
)
def test_triage_recomputes_priority_and_deadline_from_receipt(
    complainant, changes, priority, expected_due
):
    # given: a low-severity P4 complaint received on Monday
    handler = factories.user_with_role(Role.HANDLER, "technical")
    complaint = factories.file_complaint(
        complainant, category_code="technical_fault", now=MONDAY_10H_UTC
    )
    assert complaint.priority == Priority.P4

    # when: triaged a day later
    _triage(complaint, handler, MONDAY_10H_UTC + timedelta(days=1), **changes)

    # then: the deadline counts from receipt, not from triage
    complaint.refresh_from_db()
    assert complaint.priority == priority
    assert complaint.decision_due_at == expected_due


def test_triage_that_keeps_the_priority_keeps_the_deadline(complainant):
    handler = factories.user_with_role(Role.HANDLER, "technical")
    complaint = factories.file_complaint(
        complainant, category_code="technical_fault", now=MONDAY_10H_UTC
    )
    before = complaint.decision_due_at

    _triage(complaint, handler, MONDAY_10H_UTC + timedelta(days=2), urgency=Urgency.LOW)

    complaint.refresh_from_db()
    assert complaint.priority == Priority.P4
    assert complaint.decision_due_at == before


# --- the priority matrix -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "urgency", "priority"),
    [
        ("critical", "high", "P1"),
        ("critical", "normal", "P1"),
        ("critical", "low", "P2"),
        ("high", "high", "P1"),
        ("high", "normal", "P2"),
        ("high", "low", "P3"),
        ("medium", "high", "P2"),
        ("medium", "normal", "P3"),
        ("medium", "low", "P4"),
        ("low", "high", "P3"),
        ("low", "normal", "P4"),
        ("low", "low", "P4"),
    ],
)
def test_priority_matrix(severity, urgency, priority):
    assert services.priority_for(severity, urgency) == priority


def test_priority_matrix_covers_every_severity_and_urgency():
    cells = {(s, u) for s in Severity.values for u in Urgency.values}

    priorities = {services.priority_for(s, u) for s, u in cells}

    assert len(cells) == 12
    assert priorities == set(Priority.values)


@pytest.mark.parametrize(("severity", "urgency"), [("urgent", "high"), ("high", "asap")])
def test_priority_for_refuses_unknown_values(severity, urgency):
    with pytest.raises(ValueError, match="is not a valid"):
        services.priority_for(severity, urgency)


# --- calendar months ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2025, 8, 31), 6, date(2026, 2, 28)),
        (date(2023, 8, 31), 6, date(2024, 2, 29)),  # leap year
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2026, 1, 31), 3, date(2026, 4, 30)),
        (date(2026, 11, 30), 3, date(2027, 2, 28)),  # across the year end
        (date(2026, 12, 15), 1, date(2027, 1, 15)),
        (date(2026, 3, 15), 12, date(2027, 3, 15)),
        (date(2026, 3, 15), 0, date(2026, 3, 15)),
        (date(2026, 3, 31), -1, date(2026, 2, 28)),
        (date(2026, 1, 10), -2, date(2025, 11, 10)),
    ],
)
def test_add_months_clamps_to_the_end_of_the_month(start, months, expected):
    moment = datetime(start.year, start.month, start.day, 17, 45, 30, tzinfo=UTC)

    result = add_months(moment, months)

    assert result.date() == expected
    assert result.timetz() == moment.timetz()


def test_add_months_keeps_the_time_zone():
    moment = datetime(2025, 8, 31, 23, 30, tzinfo=SHANGHAI)

    result = add_months(moment, 6)

    assert result == datetime(2026, 2, 28, 23, 30, tzinfo=SHANGHAI)


# --- configuration -----------------------------------------------------------------------------


def _deadlines_with(settings: Any, **changes: Any) -> dict[str, Any]:
    configured = copy.deepcopy(settings.OMBUD_DEADLINES)
    decide = changes.pop("decide", {})
    configured.update(changes)
    configured["decide"].update(decide)
    return configured


def test_settings_override_changes_the_decision_deadline(settings, complainant):
    # given: P4 shortened to 2 working days
    settings.OMBUD_DEADLINES = _deadlines_with(settings, decide={"P4": (2, "working_days")})

    # when
    complaint = factories.file_complaint(
        complainant, category_code="technical_fault", now=MONDAY_10H_UTC
    )

    # then: Wednesday 10:00 in Shanghai
    complaint.refresh_from_db()
    assert complaint.decision_due_at == datetime(2026, 3, 4, 2, 0, tzinfo=UTC)


def test_settings_override_can_change_the_unit(settings, complainant):
    settings.OMBUD_DEADLINES = _deadlines_with(settings, decide={"P2": (10, "days")})

    complaint = factories.file_complaint(
        complainant, category_code="harassment", now=MONDAY_10H_UTC
    )

    assert complaint.priority == Priority.P2
    assert complaint.decision_due_at == MONDAY_10H_UTC + timedelta(days=10)


def test_settings_override_changes_acknowledge_and_triage_deadlines(settings, complainant):
    settings.OMBUD_DEADLINES = _deadlines_with(
        settings, acknowledge=(2, "hours"), triage=(1, "working_days")
    )

    complaint = factories.file_complaint(complainant, now=MONDAY_10H_UTC)

    assert complaint.acknowledge_due_at == MONDAY_10H_UTC + timedelta(hours=2)
    assert complaint.triage_due_at == MONDAY_10H_UTC + timedelta(days=1)


def test_configured_targets_are_read_at_call_time(settings):
    settings.OMBUD_DEADLINES = _deadlines_with(settings, decide={"P1": (4, "hours")})

    assert deadlines.decision_target("P1") == Target(4, "hours")
    assert deadlines.decision_target("P4") == Target(15, "working_days")
