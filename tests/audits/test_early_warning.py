"""Early warning: a spike against the trailing 28 days is flagged; a flat series is not."""

from __future__ import annotations

import itertools
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings

from audits.early_warning import BASELINE_DAYS, category_spikes
from governance.choices import Role
from governance.models import Complaint
from tests import factories

DAY = date(2025, 3, 31)  # the day looked at; every baseline ends the day before
_numbers = itertools.count(1)


def _at(day: date, hour: int = 12, minute: int = 0) -> datetime:
    zone = ZoneInfo(settings.OMBUD_BUSINESS_TIME_ZONE)
    return datetime.combine(day, time(hour, minute), tzinfo=zone)


def _receive(category_code: str, moments: list[datetime]) -> None:
    """Add complaints of one category received at `moments`: copies of one filed through the
    services, inserted in bulk (the count reads only the category and the time received)."""
    template = factories.file_complaint(category_code=category_code)
    category = factories.category(category_code)
    fields: dict[str, Any] = {
        f.attname: getattr(template, f.attname)
        for f in Complaint._meta.concrete_fields
        if f.attname not in {"id", "reference", "category_id", "received_at"}
    }
    Complaint.objects.bulk_create(
        Complaint(
            **fields,
            reference=f"CMP-TEST-{next(_numbers):06d}",
            category_id=category.pk,
            received_at=moment,
        )
        for moment in moments
    )


def _series(category_code: str, history: list[int], today: int) -> None:
    """`history` is the daily count of the 28 days before DAY, oldest first; `today` DAY's."""
    assert len(history) == BASELINE_DAYS
    moments = [
        _at(DAY - timedelta(days=BASELINE_DAYS - i))
        for i, n in enumerate(history)
        for _ in range(n)
    ]
    moments += [_at(DAY)] * today
    _receive(category_code, moments)


def _figures(code: str, **kwargs: Any) -> Any:
    warning = category_spikes(day=DAY, **kwargs)
    return next(c for c in warning.categories if c.category == code)


def test_a_spike_on_the_last_day_is_flagged():
    # given: fraud alternates 4 and 6 a day (mean 5, stddev 1), then 20 arrive in one day
    _series("fraud", [4, 6] * 14, today=20)

    # when
    warning = category_spikes(day=DAY)

    # then
    assert [c.category for c in warning.flagged] == ["fraud"]
    fraud = warning.flagged[0]
    assert (fraud.count, fraud.mean, fraud.stddev, fraud.ratio) == (20, 5.0, 1.0, 4.0)
    assert fraud.threshold == 8.0  # 5 + 3 * 1


def test_a_flat_series_raises_nothing():
    _series("fraud", [12] * BASELINE_DAYS, today=12)
    _series("harassment", [30] * BASELINE_DAYS, today=30)

    warning = category_spikes(day=DAY)

    assert warning.flagged == []
    fraud = _figures("fraud")
    assert (fraud.count, fraud.mean, fraud.stddev, fraud.ratio) == (12, 12.0, 0.0, 1.0)


def test_a_category_with_too_few_complaints_is_not_flagged():
    # 0 a day, then 5: far above the baseline, but under min_count (10)
    _series("minors", [0] * BASELINE_DAYS, today=5)

    minors = _figures("minors")

    assert (minors.count, minors.mean, minors.ratio, minors.flagged) == (5, 0.0, None, False)
    assert minors.count >= minors.threshold  # only the minimum keeps it quiet


def test_the_threshold_and_minimum_come_from_the_settings(settings):
    _series("fraud", [4, 6] * 14, today=9)
    assert not _figures("fraud").flagged  # 9 < 10 complaints
    settings.OMBUD_EARLY_WARNING = {"sigma": 2.0, "min_count": 5}
    fraud = _figures("fraud")
    assert (fraud.threshold, fraud.flagged) == (7.0, True)


def test_every_category_is_listed_even_without_complaints():
    warning = category_spikes(day=DAY)
    codes = [c.category for c in warning.categories]
    assert codes == sorted(factories.category(code).code for code in codes)
    assert len(codes) >= 11
    assert all(c.count == 0 and not c.flagged for c in warning.categories)


def test_the_day_runs_midnight_to_midnight_in_the_business_time_zone(settings):
    settings.OMBUD_EARLY_WARNING = {"sigma": 3.0, "min_count": 1}
    zone = ZoneInfo(settings.OMBUD_BUSINESS_TIME_ZONE)
    assert datetime.combine(DAY, time.min, tzinfo=zone).utcoffset() == timedelta(hours=8)
    _receive(
        "fraud",
        [
            _at(DAY - timedelta(days=1), 23, 59),  # the evening before: baseline
            _at(DAY, 0, 0),  # 16:00 UTC the day before, yet DAY in Shanghai
            _at(DAY, 23, 59),  # 15:59 UTC on DAY
            _at(DAY + timedelta(days=1), 0, 0),  # 16:00 UTC on DAY, but the next business day
        ],
    )

    fraud = _figures("fraud")

    assert fraud.count == 2
    assert fraud.mean == pytest.approx(1 / BASELINE_DAYS, abs=1e-3)


def test_counting_is_done_by_the_database(django_assert_num_queries):
    _series("fraud", [4, 6] * 14, today=20)
    with django_assert_num_queries(2):  # the grouped counts, and the categories
        category_spikes(day=DAY)


# --- the API --------------------------------------------------------------------------------------

URL = "/api/v1/oversight/early-warning/"


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.COMPLIANCE_OFFICER])
def test_supervisors_and_compliance_see_every_category_and_the_flagged_ones(as_user, role):
    _series("fraud", [4, 6] * 14, today=20)
    client = as_user(factories.user_with_role(role))

    response = client.get(URL, {"day": DAY.isoformat()})

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["day"], body["baseline_days"], body["sigma"], body["min_count"]) == (
        "2025-03-31",
        28,
        3.0,
        10,
    )
    assert body["flagged"] == [
        {
            "category": "fraud",
            "count": 20,
            "mean": 5.0,
            "stddev": 1.0,
            "threshold": 8.0,
            "ratio": 4.0,
            "flagged": True,
        }
    ]
    assert {c["category"] for c in body["categories"]} >= {"fraud", "harassment", "other"}


def test_the_day_defaults_to_today_in_business_time(as_user, supervisor):
    from audits.early_warning import business_today

    response = as_user(supervisor).get(URL)
    assert response.status_code == 200
    assert response.json()["day"] == business_today().isoformat()


@pytest.mark.parametrize(
    "role", [Role.COMPLAINANT, Role.HANDLER, Role.DEPARTMENT_LEAD, Role.PRIVACY_OFFICER, Role.ADMIN]
)
def test_other_roles_may_not_read_the_early_warning(as_user, role):
    response = as_user(factories.user_with_role(role)).get(URL)
    assert response.status_code == 403
    assert response.json()["detail"]


def test_the_early_warning_needs_a_sign_in(api):
    assert api.get(URL).status_code == 401


@pytest.mark.parametrize("day", ["31/03/2025", "2025-02-30", "today"])
def test_a_bad_day_is_refused_with_a_field_message(as_user, supervisor, day):
    response = as_user(supervisor).get(URL, {"day": day})
    assert response.status_code == 400
    [message] = response.json()["fields"]["day"]
    assert "YYYY-MM-DD" in message
