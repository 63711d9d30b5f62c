"""The demo generator: what it hands the services must pass their checks."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from governance import deadlines
from governance.demo import _Demo
from governance.models import PolicyClause

# At 04:10 UTC the clause revision planned 60 days earlier, at 04:10 UTC on 1 October, falls on
# 1 October both in UTC and in Shanghai, while the evening before in UTC is already 1 October
# in Shanghai: the hours in which a UTC calendar picks the superseded version.
NOW = datetime(2026, 11, 30, 4, 10, tzinfo=UTC)


@pytest.fixture
def demo(admin_user: Any, settings: Any) -> _Demo:
    settings.TIME_ZONE = "UTC"
    settings.OMBUD_BUSINESS_TIME_ZONE = "Asia/Shanghai"
    demo = _Demo(random.Random(2026), NOW)  # noqa: S311 - demo data, not security
    demo.clauses(admin_user)
    demo.replay()  # publishes the revised versions
    return demo


@pytest.mark.parametrize("category", ["harassment", "advertising"])
def test_clause_for_picks_the_version_in_force_on_the_business_day(
    demo: _Demo, category: str
) -> None:
    # given: the category's revised clause comes into force on 1 October, and every hour from
    # two days before that to two days after, in UTC
    assert PolicyClause.objects.get(
        code={"harassment": "TOS-3.1", "advertising": "TOS-4.1"}[category], version=2
    ).effective_from == date(2026, 10, 1)
    start = datetime(2026, 9, 29, tzinfo=UTC)
    moments = [start + timedelta(hours=n) for n in range(4 * 24)]

    for at in moments:
        for _n in range(4):  # the category's clause code is drawn at random
            # when
            clause = demo.clause_for(category, at)

            # then: the check decision_record and appeal_decide apply
            assert clause.in_force_on(deadlines.business_date(at)), (at, str(clause))
