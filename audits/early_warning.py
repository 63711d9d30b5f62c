"""Early warning: a category whose complaints spike against its own recent past.

A brewing crisis shows first as more complaints of one kind than usual. Each day's count per
category is compared with the same category's previous 28 days (`BASELINE_DAYS`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from governance.models import Category, Complaint

BASELINE_DAYS = 28


@dataclass(frozen=True)
class CategoryFigures:
    """One category's count on the day, against its baseline."""

    category: str
    count: int
    mean: float
    stddev: float
    threshold: float
    ratio: float | None
    flagged: bool


@dataclass(frozen=True)
class EarlyWarning:
    """Every category's figures for one business day, under one rule."""

    day: date
    baseline_days: int
    sigma: float
    min_count: int
    categories: list[CategoryFigures]

    @property
    def flagged(self) -> list[CategoryFigures]:
        return [c for c in self.categories if c.flagged]


def _config() -> tuple[float, int]:
    raw: dict[str, Any] = dict(getattr(settings, "OMBUD_EARLY_WARNING", {}))
    return float(raw.get("sigma", 3.0)), int(raw.get("min_count", 10))


def business_today() -> date:
    """Return today's date where the business counts its days."""
    return timezone.now().astimezone(ZoneInfo(settings.OMBUD_BUSINESS_TIME_ZONE)).date()


@dataclass(frozen=True)
class Spike:
    """One category flagged on one day."""

    day: date
    category: str
    count: int
    mean: float
    threshold: float


@dataclass(frozen=True)
class SpikeList:
    """Every spike flagged on the days of a span, under one rule."""

    first: date
    last: date
    baseline_days: int
    sigma: float
    min_count: int
    spikes: list[Spike]


def _daily_counts(first: date, last: date) -> dict[int, dict[date, int]]:
    """Return complaints received per category and business day from `first` to `last`:
    one grouped query, at most one row per category and day."""
    zone = ZoneInfo(settings.OMBUD_BUSINESS_TIME_ZONE)
    start = datetime.combine(first, time.min, tzinfo=zone)
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone)
    rows = (
        Complaint.objects.filter(received_at__gte=start, received_at__lt=end)
        .annotate(day=TruncDate("received_at", tzinfo=zone))
        .values("category_id", "day")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts: dict[int, dict[date, int]] = {}
    for row in rows:
        counts.setdefault(row["category_id"], {})[row["day"]] = row["n"]
    return counts


def _figures(
    code: str, by_day: dict[date, int], day: date, sigma: float, min_count: int
) -> CategoryFigures:
    first = day - timedelta(days=BASELINE_DAYS)
    history = [by_day.get(first + timedelta(days=i), 0) for i in range(BASELINE_DAYS)]
    count = by_day.get(day, 0)
    mean = sum(history) / BASELINE_DAYS
    stddev = math.sqrt(sum((n - mean) ** 2 for n in history) / BASELINE_DAYS)
    threshold = mean + sigma * max(stddev, 1.0)
    return CategoryFigures(
        category=code,
        count=count,
        mean=round(mean, 3),
        stddev=round(stddev, 3),
        threshold=round(threshold, 3),
        ratio=round(count / mean, 3) if mean else None,
        flagged=count >= threshold and count >= min_count,
    )


def category_spikes(*, day: date | None = None) -> EarlyWarning:
    """Compare each category's complaints received on `day` (default: today, business time)
    with its previous 28 days, and flag the spikes.

    The rule: with `mean` and `stddev` the mean and (population) standard deviation of the
    category's daily counts over the 28 days before `day`, days without complaints counting as
    0, a category is flagged when

        count >= mean + sigma * max(stddev, 1)   and   count >= min_count

    (`settings.OMBUD_EARLY_WARNING`). The spread is taken as at least one complaint so that a
    perfectly flat history (stddev 0) does not flag a day that merely equals it; `min_count`
    keeps small categories, where a few complaints make a large ratio, quiet. Days run midnight
    to midnight in `OMBUD_BUSINESS_TIME_ZONE`.

    Counted by the database: one grouped query of (category, day, count), at most 29 rows per
    category, whatever the number of complaints.
    """
    sigma, min_count = _config()
    day = day or business_today()
    counts = _daily_counts(day - timedelta(days=BASELINE_DAYS), day)
    figures = [
        _figures(code, counts.get(category_id, {}), day, sigma, min_count)
        for category_id, code in Category.objects.order_by("code").values_list("id", "code")
    ]
    return EarlyWarning(
        day=day, baseline_days=BASELINE_DAYS, sigma=sigma, min_count=min_count, categories=figures
    )


def spikes_between(first: date, last: date) -> SpikeList:
    """Return every spike on the days from `first` to `last`, each day judged as
    `category_spikes` judges it; one grouped query for the whole span."""
    sigma, min_count = _config()
    counts = _daily_counts(first - timedelta(days=BASELINE_DAYS), last)
    spikes: list[Spike] = []
    categories = list(Category.objects.order_by("code").values_list("id", "code"))
    day = first
    while day <= last:
        for category_id, code in categories:
            figures = _figures(code, counts.get(category_id, {}), day, sigma, min_count)
            if figures.flagged:
                spikes.append(Spike(day, code, figures.count, figures.mean, figures.threshold))
        day += timedelta(days=1)
    return SpikeList(first, last, BASELINE_DAYS, sigma, min_count, spikes)
