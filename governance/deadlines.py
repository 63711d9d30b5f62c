"""Deadline arithmetic: hours, calendar days and working days that skip weekends and holidays."""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings

from .choices import Priority


@dataclass(frozen=True)
class Target:
    """A deadline target: `amount` of `unit` (hours, days or working_days)."""

    amount: int
    unit: str

    def __post_init__(self) -> None:
        if self.unit not in {"hours", "days", "working_days"} or self.amount < 0:
            raise ValueError(f"invalid deadline target {self.amount} {self.unit}")


def _target(raw: Any) -> Target:
    return Target(int(raw[0]), str(raw[1]))


def _config() -> dict[str, Any]:
    return dict(settings.OMBUD_DEADLINES)


def acknowledge_target() -> Target:
    """Return the configured acknowledgement target."""
    return _target(_config()["acknowledge"])


def triage_target() -> Target:
    """Return the configured triage target."""
    return _target(_config()["triage"])


def decision_target(priority: str) -> Target:
    """Return the configured decision target for `priority`."""
    return _target(_config()["decide"][Priority(priority)])


def privacy_request_target() -> Target:
    """Return the configured time to answer a person's deletion or access request."""
    return _target(settings.OMBUD_PRIVACY_REQUEST_DUE)


def holidays_from(start: datetime) -> list[date]:
    """Return the holidays that can fall inside a deadline starting at `start` (120 days on)."""
    from .models import Holiday

    first = start.date() - timedelta(days=1)
    return list(
        Holiday.objects.filter(date__gte=first, date__lte=first + timedelta(days=120)).values_list(
            "date", flat=True
        )
    )


def add_working_days(
    start: datetime, days: int, holidays: Iterable[date], tz: ZoneInfo
) -> datetime:
    """Return the moment `days` working days after `start`, at the same local time of day.

    Saturdays, Sundays and `holidays` (local dates in `tz`) do not count. A start on a day off
    is taken as received at 00:00 on the next working day, so a complaint filed on Saturday is
    never due before one filed the Friday before it.
    """
    off = set(holidays)
    local = start.astimezone(tz)
    day = local.date()
    clock = local.timetz().replace(tzinfo=None)
    if day.weekday() >= 5 or day in off:
        while day.weekday() >= 5 or day in off:
            day += timedelta(days=1)
        clock = time(0)
    remaining = days
    while remaining > 0:
        day += timedelta(days=1)
        if day.weekday() < 5 and day not in off:
            remaining -= 1
    # Rebuild the local wall-clock time on the target day, then go back to the caller's zone.
    moment = datetime.combine(day, clock, tzinfo=tz)
    return moment.astimezone(start.tzinfo)


def due_at(start: datetime, target: Target, holidays: Iterable[date] = ()) -> datetime:
    """Return when a stage that started at `start` is due under `target`."""
    if target.unit == "hours":
        return start + timedelta(hours=target.amount)
    if target.unit == "days":
        return start + timedelta(days=target.amount)
    tz = ZoneInfo(settings.OMBUD_BUSINESS_TIME_ZONE)
    return add_working_days(start, target.amount, holidays, tz)


def business_date(moment: datetime) -> date:
    """Return the calendar date of `moment` where the business counts its days."""
    return moment.astimezone(ZoneInfo(settings.OMBUD_BUSINESS_TIME_ZONE)).date()


def add_months(moment: datetime, months: int) -> datetime:
    """Return `moment` plus whole calendar months, clamped to the month's last day."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)
