"""The figures of an oversight report, counted by the database, and small-cell suppression.

`period_figures` returns every figure of one period as `Tally`s (how many records) and `Stat`s
(a share, a median, a mean, computed from counts). Every figure is one grouped or filtered
aggregate query, or a handful of them; no code here loops over complaints or decisions, so a
month of a million complaints costs a few table scans, not a million Python objects.

`suppress` then blanks the cells a reader could use to single out a person (fewer than
`min_cell` records, 5 by default), and the second-smallest cell of a table in which only one
cell was blanked, so the blanked one cannot be worked out from the table's total. A `Stat`
computed from a blanked count, or from fewer than `min_cell` records, is blanked too.

Every time is counted in the business time zone (`OMBUD_BUSINESS_TIME_ZONE`): the period
2026-10 runs from midnight on 1 October to midnight on 1 November there.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.db.models import (
    Avg,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    Q,
    QuerySet,
)
from django.utils.translation import gettext as _

from governance.choices import (
    AppealOutcome,
    AutomatedDecision,
    Channel,
    ComplaintStatus,
    DecisionAction,
    DecisionGround,
    DecisionKind,
    DecisionOutcome,
)
from governance.errors import ValidationFailed
from governance.models import Appeal, Category, Complaint, Decision, Department, Rating
from governance.services.complaints import REPEAT_WINDOW
from privacy.choices import ErasureCause, RequestKind, RequestStatus
from privacy.models import DataKey, LegalHold, PrivacyRequest

from . import early_warning
from .models import CorrectiveAction, QualitySample, Review

DEFAULT_MIN_CELL = 5


# --- the period ---------------------------------------------------------------------------------


class PeriodKind:
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


# The years a period may name.
_YEARS = (1900, 2100)
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$", re.IGNORECASE)
_YEAR = re.compile(r"^(\d{4})$")


@dataclass(frozen=True)
class Period:
    """A calendar month, quarter or year, named as 2026-10, 2026-Q4 or 2026."""

    kind: str
    label: str
    start: date
    end: date  # the last day, inclusive

    @classmethod
    def parse(cls, text: str) -> Period:
        """Return the period `text` names; ValidationFailed says how to write one."""
        value = (text or "").strip()
        try:
            if not _YEARS[0] <= int(value[:4] or 0) <= _YEARS[1]:
                raise ValueError(value)  # far outside any record; its time zone bounds overflow
            if match := _MONTH.match(value):
                year, month = int(match[1]), int(match[2])
                start = date(year, month, 1)
                end = date(year, month, calendar.monthrange(year, month)[1])
                return cls(PeriodKind.MONTH, f"{year:04d}-{month:02d}", start, end)
            if match := _QUARTER.match(value):
                year, quarter = int(match[1]), int(match[2])
                first = 3 * quarter - 2
                start = date(year, first, 1)
                end = date(year, first + 2, calendar.monthrange(year, first + 2)[1])
                return cls(PeriodKind.QUARTER, f"{year:04d}-Q{quarter}", start, end)
            if match := _YEAR.match(value):
                year = int(match[1])
                return cls(PeriodKind.YEAR, f"{year:04d}", date(year, 1, 1), date(year, 12, 31))
        except ValueError:
            pass  # a month 13 or year 0: the same advice as any other malformed period
        raise ValidationFailed(
            _("No report was made; correct the period."),
            fields={
                "period": [
                    _(
                        "Give a month as YYYY-MM (2026-10), a quarter as YYYY-Qn (2026-Q4) "
                        "or a year as YYYY (2026)."
                    )
                ]
            },
        )

    def bounds(self) -> tuple[datetime, datetime]:
        """Return [first moment, first moment after) of the period in business time."""
        zone = ZoneInfo(settings.OMBUD_BUSINESS_TIME_ZONE)
        start = datetime.combine(self.start, time.min, tzinfo=zone)
        end = datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=zone)
        return start, end


# --- cells --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tally:
    """How many records: a cell that is blanked when small."""

    n: int


@dataclass(frozen=True)
class Stat:
    """A figure computed from records (a share, a median, a mean): blanked when any count in
    `basis` is blanked, or when it rests on fewer than the smallest publishable cell."""

    value: float | None
    basis: tuple[int, ...]


class Table(dict[str, Tally]):
    """A breakdown of one total by one dimension: its cells are suppressed together."""


def _share(part: int, whole: int, *, basis: Iterable[int] | None = None) -> Stat:
    """Return part / whole; by default it rests on the part and on the rest of the whole, since
    either could be worked out from the share and a published total."""
    value = round(part / whole, 4) if whole else None
    return Stat(value, tuple(basis) if basis is not None else (part, whole - part))


def _table(rows: Iterable[tuple[Any, int]], keys: Iterable[str]) -> Table:
    """Return one Tally per key, in `keys`' order, zero where the database found none."""
    found = {str(key): n for key, n in rows}
    return Table((key, Tally(found.get(key, 0))) for key in keys)


# --- the figures --------------------------------------------------------------------------------


def period_figures(period: Period, *, as_of: datetime) -> dict[str, Any]:
    """Return every figure of `period`, unsuppressed, as of `as_of` (pending deadlines are
    judged against it)."""
    start, end = period.bounds()
    complaints = Complaint.objects.filter(received_at__gte=start, received_at__lt=end)
    decisions = Decision.objects.filter(decided_at__gte=start, decided_at__lt=end)
    counted = _complaints(complaints)
    repeats = counted.pop("repeats")
    return {
        "complaints": counted,
        "deadlines": _deadlines(complaints, as_of),
        "time_to_decision_hours": _time_to_decision(start, end),
        "decisions": _decisions(decisions),
        "appeals": _appeals(start, end, decisions),
        "repeat_complaints": repeats,
        "satisfaction": _satisfaction(start, end),
        "privacy_requests": _privacy_requests(start, end),
        "erasures": _erasures(start, end),
        "legal_holds_open": Tally(
            LegalHold.objects.filter(placed_at__lt=end)
            .filter(Q(released_at__isnull=True) | Q(released_at__gte=end))
            .count()
        ),
        "quality": _quality(period, start, end),
        "early_warning": _early_warning(period),
    }


def _grouped(qs: QuerySet[Any], *fields: str) -> list[dict[str, Any]]:
    """Return one row per combination of `fields` with its count `n`: one scan, a few rows."""
    return list(qs.values(*fields).annotate(n=Count("pk")).order_by())


def _sum_by(
    rows: Iterable[dict[str, Any]], field_name: str, names: Mapping[Any, str] | None = None
) -> Iterable[tuple[str, int]]:
    """Sum the grouped rows' counts by one of their fields (named through `names`, if given)."""
    sums: dict[str, int] = {}
    for row in rows:
        key = row[field_name] if names is None else names.get(row[field_name], "")
        sums[str(key)] = sums.get(str(key), 0) + row["n"]
    return sums.items()


def _complaints(qs: QuerySet[Complaint]) -> dict[str, Any]:
    """Complaints received, by channel, category and department, and the repeats among them:
    one grouped scan."""
    rows = _grouped(
        qs, "channel", "category_id", "department_id", "repeats_complainant", "repeats_content"
    )
    categories = dict(Category.objects.order_by("code").values_list("id", "code"))
    departments = dict(Department.objects.order_by("code").values_list("id", "code"))
    received = sum(row["n"] for row in rows)
    # Repeats as a partition (by complainant only, by content only, both), so the overlap of
    # two published counts cannot give a withheld one away.
    kinds = {
        "same_complainant_only": (True, False),
        "same_content_only": (False, True),
        "both": (True, True),
    }
    repeats_by = Table(
        (
            kind,
            Tally(
                sum(
                    row["n"]
                    for row in rows
                    if (bool(row["repeats_complainant"]), bool(row["repeats_content"])) == flags
                )
            ),
        )
        for kind, flags in kinds.items()
    )
    repeats = sum(cell.n for cell in repeats_by.values())
    return {
        "received": Tally(received),
        "by_channel": _table(_sum_by(rows, "channel"), Channel.values),
        "by_category": _table(_sum_by(rows, "category_id", categories), categories.values()),
        "by_department": _table(_sum_by(rows, "department_id", departments), departments.values()),
        "repeats": {
            "window_days": REPEAT_WINDOW.days,
            "total": Tally(repeats),
            "by_kind": repeats_by,
            "share": _share(repeats, received),
        },
    }


# Each deadline: the due field, the field stamped when the stage was done.
_STAGES = {
    "acknowledge": ("acknowledge_due_at", "acknowledged_at"),
    "triage": ("triage_due_at", "triaged_at"),
    "decide": ("decision_due_at", "decided_at"),
}


def _deadlines(qs: QuerySet[Complaint], as_of: datetime) -> dict[str, Any]:
    """Per stage, of the complaints received in the period: met (done by the deadline), missed
    (done late, or not done when the deadline passed) and still pending.

    A complaint withdrawn before a stage was done missed that stage only if its deadline had
    passed when it was withdrawn; otherwise the stage is not counted at all.
    """
    withdrawn = Q(status=ComplaintStatus.WITHDRAWN)
    aggregates: dict[str, Any] = {}
    for stage, (due, done) in _STAGES.items():
        not_done = Q(**{f"{done}__isnull": True})
        aggregates[f"{stage}_met"] = Count("id", filter=Q(**{f"{done}__lte": F(due)}))
        aggregates[f"{stage}_missed"] = Count(
            "id",
            filter=Q(**{f"{done}__gt": F(due)})
            | (not_done & withdrawn & Q(closed_at__gt=F(due)))
            | (not_done & ~withdrawn & Q(**{f"{due}__lt": as_of})),
        )
        aggregates[f"{stage}_pending"] = Count(
            "id", filter=not_done & ~withdrawn & Q(**{f"{due}__gte": as_of})
        )
    counts = qs.aggregate(**aggregates)
    out: dict[str, Any] = {}
    for stage in _STAGES:
        met, missed = counts[f"{stage}_met"], counts[f"{stage}_missed"]
        out[stage] = {
            "met": Tally(met),
            "missed": Tally(missed),
            "pending": Tally(counts[f"{stage}_pending"]),
            "share_met": _share(met, met + missed),
        }
    return out


class _Percentiles(Func):
    """PostgreSQL's percentile_cont over several fractions at once: one sort, not one each."""

    function = "percentile_cont"
    template = "%(function)s(%(fractions)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    contains_aggregate = True


def percentiles(
    qs: QuerySet[Any], later: str, earlier: str, fractions: tuple[float, ...]
) -> tuple[int, list[float | None]]:
    """Return the number of rows and the continuous percentiles (as percentile_cont computes
    them: linear interpolation between the two nearest ranks) of `later - earlier`, in seconds.

    PostgreSQL sorts once inside percentile_cont. Elsewhere the database sorts and returns
    the one or two rows around each rank; either way no row but those reaches Python.
    """
    if connection.vendor == "postgresql":
        from django.contrib.postgres.fields import ArrayField

        epoch = Func(
            F(later) - F(earlier),
            template="EXTRACT(EPOCH FROM %(expressions)s)",
            output_field=FloatField(),
        )
        array = "ARRAY[" + ",".join(repr(float(f)) for f in fractions) + "]::float8[]"
        row = qs.aggregate(
            n=Count("pk"),
            p=_Percentiles(epoch, fractions=array, output_field=ArrayField(FloatField())),
        )
        if not row["n"]:
            return 0, [None] * len(fractions)
        return row["n"], [float(v) for v in row["p"]]
    n = qs.count()
    if n == 0:
        return 0, [None] * len(fractions)
    gap = ExpressionWrapper(F(later) - F(earlier), output_field=DurationField())
    ordered = qs.annotate(gap=gap).order_by("gap").values_list("gap", flat=True)
    values: list[float | None] = []
    for fraction in fractions:
        rank = fraction * (n - 1)
        low = int(rank)
        pair = [d.total_seconds() for d in ordered[low : low + 2]]
        upper = pair[1] if len(pair) > 1 else pair[0]
        values.append(pair[0] + (upper - pair[0]) * (rank - low))
    return n, values


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 3600, 2)


def _time_to_decision(start: datetime, end: datetime) -> dict[str, Any]:
    """From receipt to first decision, for the complaints first decided in the period (the
    DSA's "median time needed for taking the action")."""
    decided = Complaint.objects.filter(decided_at__gte=start, decided_at__lt=end)
    n, (median, p90) = percentiles(decided, "decided_at", "received_at", (0.5, 0.9))
    return {
        "decided": Tally(n),
        "median": Stat(_hours(median), (n,)),
        "p90": Stat(_hours(p90), (n,)),
    }


def _carries(action: str) -> Q:
    """A decision whose `actions` (a JSON list) holds `action`."""
    if connection.vendor == "postgresql":
        return Q(actions__contains=[action])  # jsonb containment, no text conversion
    # SQLite has no JSON containment lookup; the JSON text holds the quoted value (no value
    # is a substring of another's quoted form).
    return Q(actions__icontains=f'"{action}"')


def _decisions(qs: QuerySet[Decision]) -> dict[str, Any]:
    """Every decision taken in the period: first decisions, corrections and appeal outcomes.

    Two scans: one grouped by every categorical field at once, one counting each action.
    """
    rows = _grouped(qs, "kind", "outcome", "ground", "automated_decision", "automated_detection")
    per_action = qs.aggregate(
        **{
            action: Count("pk", filter=_carries(action))
            for action in DecisionAction.values
            if action != DecisionAction.NONE
        },
    )
    total = sum(row["n"] for row in rows)
    detected = sum(row["n"] for row in rows if row["automated_detection"])
    automated = _table(_sum_by(rows, "automated_decision"), AutomatedDecision.values)
    return {
        "total": Tally(total),
        "by_kind": _table(_sum_by(rows, "kind"), DecisionKind.values),
        "by_outcome": _table(_sum_by(rows, "outcome"), DecisionOutcome.values),
        "by_ground": _table(_sum_by(rows, "ground"), DecisionGround.values),
        "by_action": Table((action, Tally(n)) for action, n in per_action.items()),
        "automated_detection": Tally(detected),
        "automated_detection_share": _share(detected, total),
        "automated_decision": automated,
        "automated_decision_share": _share(
            total - automated[AutomatedDecision.NOT_AUTOMATED].n,
            total,
            basis=tuple(cell.n for cell in automated.values()),
        ),
    }


def _appeals(start: datetime, end: datetime, decisions: QuerySet[Decision]) -> dict[str, Any]:
    outcomes = _table(
        decisions.filter(kind=DecisionKind.APPEAL)
        .values_list("appeal_outcome")
        .annotate(n=Count("id"))
        .order_by(),
        AppealOutcome.values,
    )
    decided = sum(c.n for c in outcomes.values())
    reversed_ = outcomes[AppealOutcome.REVERSED].n
    return {
        "filed": Tally(Appeal.objects.filter(filed_at__gte=start, filed_at__lt=end).count()),
        "decided": Tally(decided),
        "by_outcome": outcomes,
        "reversal_rate": _share(reversed_, decided),
    }


def _satisfaction(start: datetime, end: datetime) -> dict[str, Any]:
    """The complainants' ratings (1 to 5) given in the period."""
    ratings = Rating.objects.filter(rated_at__gte=start, rated_at__lt=end)
    summary = ratings.aggregate(n=Count("id"), mean=Avg("score"))
    n = summary["n"]
    mean = None if summary["mean"] is None else round(float(summary["mean"]), 2)
    distribution = _table(
        ratings.values_list("score").annotate(c=Count("id")).order_by(),
        [str(score) for score in range(1, 6)],
    )
    return {
        "ratings": Tally(n),
        # With the count and the mean published, one withheld score could be solved for: the
        # mean rests on every cell of the distribution.
        "mean": Stat(mean, (n, *(cell.n for cell in distribution.values()))),
        "distribution": distribution,
    }


def _privacy_requests(start: datetime, end: datetime) -> dict[str, Any]:
    """Per kind of request: received, completed and refused in the period, and the median days
    from receipt to the answer of those answered in the period."""
    out: dict[str, Any] = {}
    for kind in (RequestKind.DELETION, RequestKind.ACCESS):
        requests = PrivacyRequest.objects.filter(kind=kind)
        answered = requests.filter(
            closed_at__gte=start,
            closed_at__lt=end,
            status__in=[RequestStatus.COMPLETED, RequestStatus.REFUSED],
        )
        counts = answered.aggregate(
            completed=Count("id", filter=Q(status=RequestStatus.COMPLETED)),
            refused=Count("id", filter=Q(status=RequestStatus.REFUSED)),
        )
        n, (median,) = percentiles(answered, "closed_at", "received_at", (0.5,))
        out[str(kind)] = {
            "received": Tally(requests.filter(received_at__gte=start, received_at__lt=end).count()),
            "completed": Tally(counts["completed"]),
            "refused": Tally(counts["refused"]),
            "median_days": Stat(None if median is None else round(median / 86400, 2), (n,)),
        }
    return out


def _erasures(start: datetime, end: datetime) -> dict[str, Any]:
    """Data subjects whose data key was destroyed in the period, by cause."""
    return _table(
        DataKey.objects.filter(destroyed_at__gte=start, destroyed_at__lt=end)
        .values_list("destroyed_for")
        .annotate(n=Count("pk"))
        .order_by(),
        ErasureCause.values,
    )


def _quality(period: Period, start: datetime, end: datetime) -> dict[str, Any]:
    """The quality samples drawn of periods inside this one: reviews, verdicts, agreement of
    double reviews (Cohen's kappa over every double-reviewed pair), rubric means, and the
    corrective actions opened, closed and still open."""
    from .sampling import RUBRIC, cohens_kappa, double_review_pairs, sample_agreement

    samples = list(
        QualitySample.objects.filter(period_start__gte=period.start, period_end__lte=period.end)
        .annotate(items_n=Count("items", distinct=True))
        .order_by("period_start", "id")
    )
    reviews = Review.objects.filter(item__sample__in=samples)
    summary = reviews.aggregate(
        n=Count("id"),
        agree=Count("id", filter=Q(verdict="agree")),
        disagree=Count("id", filter=Q(verdict="disagree")),
        **{f"mean_{name}": Avg(name) for name in RUBRIC},
    )
    agreements = [sample_agreement(s) for s in samples]
    pooled = cohens_kappa(double_review_pairs(samples))
    pairs = pooled.n
    actions = CorrectiveAction.objects.all()
    return {
        "samples": [
            {
                "id": s.pk,
                "period_start": s.period_start.isoformat(),
                "period_end": s.period_end.isoformat(),
                "population": Tally(s.population),
                "items": Tally(s.items_n),
                "seed_source": s.seed_source,
                "kappa": Stat(None if a.kappa is None else round(a.kappa, 3), (a.n,)),
            }
            for s, a in zip(samples, agreements, strict=True)
        ],
        "reviews": Tally(summary["n"]),
        "verdicts": Table(agree=Tally(summary["agree"]), disagree=Tally(summary["disagree"])),
        "double_reviewed_pairs": Tally(pairs),
        "kappa": Stat(None if pooled.kappa is None else round(pooled.kappa, 3), (pairs,)),
        "rubric_means": {
            name: Stat(
                None if summary[f"mean_{name}"] is None else round(summary[f"mean_{name}"], 2),
                (summary["n"],),
            )
            for name in RUBRIC
        },
        "corrective_actions": {
            "opened": Tally(actions.filter(opened_at__gte=start, opened_at__lt=end).count()),
            "closed": Tally(actions.filter(closed_at__gte=start, closed_at__lt=end).count()),
            "open_at_end": Tally(
                actions.filter(opened_at__lt=end)
                .filter(Q(closed_at__isnull=True) | Q(closed_at__gte=end))
                .count()
            ),
        },
    }


def _early_warning(period: Period) -> dict[str, Any]:
    """The days and categories the early warning flagged in the period."""
    warning = early_warning.spikes_between(period.start, period.end)
    return {
        "baseline_days": warning.baseline_days,
        "sigma": warning.sigma,
        "min_count": warning.min_count,
        "spikes": [
            {
                "day": spike.day.isoformat(),
                "category": spike.category,
                "count": Tally(spike.count),
                "baseline_mean": spike.mean,
                "threshold": spike.threshold,
            }
            for spike in warning.spikes
        ],
    }


# --- suppression --------------------------------------------------------------------------------


@dataclass
class Suppressed:
    """Published figures: counts and stats as plain numbers, blanked cells as None, and the
    dotted path of every blanked cell."""

    figures: dict[str, Any]
    paths: list[str] = field(default_factory=list)


def _small(n: int, min_cell: int) -> bool:
    return 0 < n < min_cell


def _secondary(table: Mapping[str, Tally], min_cell: int) -> set[str]:
    """Return the keys to blank in `table`: its small cells, then the smallest other non-zero
    cells until the blanked ones cannot be worked out from the table's total: at least two of
    them, together at least `min_cell` (two cells of 1 beside a published total give each
    other away)."""
    blank = {key for key, cell in table.items() if _small(cell.n, min_cell)}
    if not blank:
        return blank
    others = sorted((cell.n, key) for key, cell in table.items() if key not in blank and cell.n)
    while others and (len(blank) < 2 or sum(table[k].n for k in blank) < min_cell):
        blank.add(others.pop(0)[1])
    return blank


def suppress(figures: Mapping[str, Any], min_cell: int = DEFAULT_MIN_CELL) -> Suppressed:
    """Return `figures` ready to publish: small cells and what could reveal them blanked."""
    out = Suppressed({})

    def walk(value: Any, path: str) -> Any:
        if isinstance(value, Tally):
            if _small(value.n, min_cell):
                out.paths.append(path)
                return None
            return value.n
        if isinstance(value, Stat):
            if value.value is not None and any(_small(n, min_cell) for n in value.basis):
                out.paths.append(path)
                return None
            return value.value
        if isinstance(value, Table):
            blank = _secondary(value, min_cell)
            result: dict[str, int | None] = {}
            for key, cell in value.items():
                if key in blank:
                    out.paths.append(f"{path}.{key}")
                    result[key] = None
                else:
                    result[key] = cell.n
            return result
        if isinstance(value, Mapping):
            return {k: walk(v, f"{path}.{k}" if path else k) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, f"{path}.{i}") for i, v in enumerate(value)]
        return value

    out.figures = walk(figures, "")
    return out
