"""Quality sampling: a reproducible draw of decisions, blind reviews, agreement and corrective
actions.

How a draw cannot be steered
----------------------------
1. The draw first seals the ledger (`ledger_seal`, idempotent): the signed checkpoint's root
   hash covers every entry up to the draw, so nobody could know it before, and nobody can change
   it after without `verify_ledger` noticing.
2. seed = SHA-256(canonical JSON of the statement format, the parameters and the checkpoint's
   origin, size and root). `seed_source` records "checkpoint:<size>:<root>".
3. The population is fixed by that checkpoint, not by the clock: the decisions whose ledger
   entry lies inside the checkpoint, decided in the period, and not superseded by a decision
   also inside it. Decisions recorded later (appeals included) cannot change a past draw.
4. Strata are (department, category, outcome). In each, every decision is ranked by
   SHA-256("<seed>:<stratum>:<decision id>") and the n lowest are drawn, with
   n = min(size, max(min_per_stratum, ceil(rate * size))). Hash ranking, rather than Python's
   `random`, keeps the draw recomputable with any SHA-256 tool and any language or version.
5. Of the items drawn, ceil(double_review_share * count) are reviewed twice: the lowest by
   SHA-256("<seed>:double:<decision id>").
6. One draw per period (a database constraint), and the draw (parameters, seed, seed source,
   chosen decisions) is a ledger event. `sample_verify` recomputes all of it; any difference
   from the stored rows or the ledger event means the draw was steered or tampered with.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from governance import policies
from governance.errors import Conflict, ValidationFailed
from governance.models import Decision
from governance.services.recording import at_or_now, require, sha256_hex, stamp_history
from privacy.pseudonyms import actor_ref

from .choices import CorrectiveActionStatus, EventType, Verdict
from .models import (
    RUBRIC,
    Checkpoint,
    CorrectiveAction,
    LedgerEntry,
    QualitySample,
    Review,
    SampleItem,
)
from .services import canonical_json, ledger_append, ledger_seal

STATEMENT_FORMAT = "ombud-quality-sample/1"
MAX_PROSE = 5000
# Events whose entry brings a decision into the record (object_ref "decision:<id>").
DECISION_EVENTS = (EventType.DECISION_RECORDED, EventType.APPEAL_DECIDED)


# --- the draw, as pure functions ---------------------------------------------------------------


@dataclass(frozen=True)
class DrawParameters:
    """What a supervisor chooses for a draw; everything else follows from the checkpoint."""

    period_start: date
    period_end: date
    rate: Decimal
    min_per_stratum: int
    double_review_share: Decimal

    @classmethod
    def of(cls, sample: QualitySample) -> DrawParameters:
        return cls(
            sample.period_start,
            sample.period_end,
            Decimal(sample.rate),
            sample.min_per_stratum,
            Decimal(sample.double_review_share),
        )

    def canonical(self) -> dict[str, Any]:
        """Return the parameters as the seed statement states them (decimals as fixed text)."""
        return {
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "rate": f"{self.rate:.4f}",
            "min_per_stratum": self.min_per_stratum,
            "double_review_share": f"{self.double_review_share:.4f}",
        }


@dataclass(frozen=True, order=True)
class Drawn:
    """One decision the draw picks, in its stratum."""

    decision_id: int
    stratum: str
    double_review: bool


def seed_source_for(checkpoint: Checkpoint) -> str:
    return f"checkpoint:{checkpoint.tree_size}:{checkpoint.root_hash}"


def draw_seed(params: DrawParameters, checkpoint: Checkpoint) -> str:
    """Return the seed: SHA-256 of the canonical statement of the parameters and checkpoint."""
    statement = {
        "format": STATEMENT_FORMAT,
        "parameters": params.canonical(),
        "checkpoint": {
            "origin": checkpoint.origin,
            "tree_size": checkpoint.tree_size,
            "root_hash": checkpoint.root_hash,
        },
    }
    return hashlib.sha256(canonical_json(statement)).hexdigest()


def _rank(seed: str, label: str, decision_id: int) -> str:
    return hashlib.sha256(f"{seed}:{label}:{decision_id}".encode()).hexdigest()


def choose(
    population: Mapping[str, Sequence[int]], seed: str, params: DrawParameters
) -> list[Drawn]:
    """Return the draw from `population` (stratum -> decision ids) under `seed`, by decision id."""
    picked: list[tuple[int, str]] = []
    for stratum in sorted(population):
        ids = sorted(population[stratum])
        n = min(len(ids), max(params.min_per_stratum, math.ceil(params.rate * len(ids))))
        ranked = sorted((_rank(seed, stratum, i), i) for i in ids)
        picked.extend((i, stratum) for _hash, i in ranked[:n])
    doubles = math.ceil(params.double_review_share * len(picked))
    twice = {i for _hash, i in sorted((_rank(seed, "double", i), i) for i, _s in picked)[:doubles]}
    return sorted(Drawn(i, s, i in twice) for i, s in picked)


# --- the draw, against the database ------------------------------------------------------------


def _day_bounds(params: DrawParameters) -> tuple[datetime, datetime]:
    tz = timezone.get_current_timezone()
    start = datetime.combine(params.period_start, time.min, tzinfo=tz)
    end = datetime.combine(params.period_end + timedelta(days=1), time.min, tzinfo=tz)
    return start, end


def stratum_of(decision: Decision) -> str:
    complaint = decision.complaint
    return f"{complaint.department.code}/{complaint.category.code}/{decision.outcome}"


def population_at(params: DrawParameters, tree_size: int) -> dict[str, list[int]]:
    """Return, by stratum, the decisions in force at `tree_size` that were decided in the period."""
    refs = LedgerEntry.objects.filter(
        seq__lt=tree_size,
        event_type__in=[str(e) for e in DECISION_EVENTS],
        object_ref__startswith="decision:",
    ).values_list("object_ref", flat=True)
    known = sorted({int(ref.split(":", 1)[1]) for ref in refs})
    start, end = _day_bounds(params)
    decisions = (
        Decision.objects.filter(pk__in=known, decided_at__gte=start, decided_at__lt=end)
        .exclude(superseded_by__pk__in=known)
        .select_related("complaint__department", "complaint__category")
        .order_by("pk")
    )
    strata: dict[str, list[int]] = {}
    for decision in decisions:
        strata.setdefault(stratum_of(decision), []).append(decision.pk)
    return strata


def _parse_period(
    period_start: date, period_end: date, rate: Any, min_per_stratum: Any, double_share: Any
) -> DrawParameters:
    errors: dict[str, list[str]] = {}

    def fraction(name: str, value: Any, low_open: bool) -> Decimal:
        try:
            number = Decimal(str(value)).quantize(Decimal("0.0001"))
        except (InvalidOperation, ValueError):
            errors[name] = [_("Give a number between 0 and 1, e.g. 0.05.")]
            return Decimal(0)
        if number > 1 or number < 0 or (low_open and number == 0):
            errors[name] = [
                _("Give a number above 0 and at most 1, e.g. 0.05.")
                if low_open
                else _("Give a number from 0 to 1, e.g. 0.2.")
            ]
        return number

    rate_d = fraction("rate", rate, True)
    share_d = fraction("double_review_share", double_share, False)
    if not isinstance(min_per_stratum, int) or min_per_stratum < 0:
        errors["min_per_stratum"] = [_("Give a whole number, 0 or more.")]
    if period_end < period_start:
        errors["period_end"] = [_("The period must end on or after the day it starts.")]
    for name, day in (("period_start", period_start), ("period_end", period_end)):
        if not 1900 <= day.year <= 2100:
            errors[name] = [_("Give a date between 1900 and 2100.")]
    if errors:
        raise ValidationFailed(_("No sample was drawn; correct the fields named."), fields=errors)
    return DrawParameters(period_start, period_end, rate_d, min_per_stratum, share_d)


def _draw_ledger_data(sample: QualitySample, drawn: Sequence[Drawn]) -> dict[str, Any]:
    return {
        "parameters": DrawParameters.of(sample).canonical(),
        "seed": sample.seed,
        "seed_source": sample.seed_source,
        "population": sample.population,
        "items": [[d.decision_id, d.stratum, d.double_review] for d in drawn],
    }


@transaction.atomic
def sample_draw(
    *,
    actor: Any,
    period_start: date,
    period_end: date,
    rate: Any = Decimal("0.05"),
    min_per_stratum: int = 2,
    double_review_share: Any = Decimal("0.2"),
    now: datetime | None = None,
) -> QualitySample:
    """Seal the ledger, then draw the period's quality sample from the new checkpoint."""
    require(policies.can_draw_samples(actor), _("Only supervisors draw quality samples."))
    params = _parse_period(period_start, period_end, rate, min_per_stratum, double_review_share)
    at = at_or_now(now)
    # Sealing takes the ledger lock (held to commit), so a concurrent draw of the same period
    # waits here and then finds this one, rather than failing on the unique constraint.
    checkpoint, _created = ledger_seal()
    if QualitySample.objects.filter(period_start=period_start, period_end=period_end).exists():
        raise Conflict(
            _(
                "A sample of %(start)s to %(end)s was drawn already; one draw per period keeps "
                "the draw from being repeated until it suits. Review that sample instead."
            )
            % {"start": period_start, "end": period_end}
        )
    population = population_at(params, checkpoint.tree_size)
    size = sum(len(ids) for ids in population.values())
    if size == 0:
        raise ValidationFailed(
            _("No decision in force was decided in that period; choose another period."),
            fields={"period_start": [_("No decisions to sample.")]},
        )
    seed = draw_seed(params, checkpoint)
    drawn = choose(population, seed, params)
    sample = QualitySample(
        period_start=params.period_start,
        period_end=params.period_end,
        rate=params.rate,
        min_per_stratum=params.min_per_stratum,
        double_review_share=params.double_review_share,
        checkpoint=checkpoint,
        seed=seed,
        seed_source=seed_source_for(checkpoint),
        population=size,
        drawn_by=actor,
        drawn_by_ref=actor_ref(actor),
        drawn_at=at,
    )
    sample.save()
    SampleItem.objects.bulk_create(
        SampleItem(
            sample=sample,
            decision_id=d.decision_id,
            stratum=d.stratum,
            double_review=d.double_review,
        )
        for d in drawn
    )
    ledger_append(
        event_type=EventType.SAMPLE_DRAWN,
        object_ref=f"quality_sample:{sample.pk}",
        actor_ref=sample.drawn_by_ref,
        data=_draw_ledger_data(sample, drawn),
        at=at,
    )
    return sample


@dataclass
class SampleCheck:
    """The outcome of re-running a draw: `ok`, or the problems found."""

    sample_id: int
    expected_seed: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def sample_verify(sample: QualitySample) -> SampleCheck:
    """Re-run the draw from its stored parameters and checkpoint; report any difference."""
    check = SampleCheck(sample.pk)
    params = DrawParameters.of(sample)
    parts = sample.seed_source.split(":")
    checkpoint = None
    if len(parts) == 3 and parts[0] == "checkpoint" and parts[1].isdigit():
        checkpoint = Checkpoint.objects.filter(tree_size=int(parts[1]), root_hash=parts[2]).first()
    if checkpoint is None or checkpoint.pk != sample.checkpoint_id:
        check.problems.append(
            _("The seed source %s names no signed checkpoint of this sample.") % sample.seed_source
        )
        return check
    check.expected_seed = draw_seed(params, checkpoint)
    if sample.seed != check.expected_seed:
        check.problems.append(
            _(
                "Steered: the stored seed %(stored)s is not %(expected)s, the seed its "
                "parameters and checkpoint give."
            )
            % {"stored": sample.seed, "expected": check.expected_seed}
        )
    population = population_at(params, checkpoint.tree_size)
    expected = choose(population, check.expected_seed, params)
    stored = sorted(
        Drawn(decision_id, stratum, double)
        for decision_id, stratum, double in sample.items.values_list(
            "decision_id", "stratum", "double_review"
        )
    )
    if stored != expected:
        missing = sorted({d.decision_id for d in expected} - {d.decision_id for d in stored})
        extra = sorted({d.decision_id for d in stored} - {d.decision_id for d in expected})
        check.problems.append(
            _(
                "Steered: the stored items differ from the recomputed draw (missing decisions "
                "%(missing)s, extra decisions %(extra)s, or strata or double reviews changed)."
            )
            % {"missing": missing or "-", "extra": extra or "-"}
        )
    size = sum(len(ids) for ids in population.values())
    if size != sample.population:
        check.problems.append(
            _("The population was %(stored)s decisions; recomputed, it is %(size)s.")
            % {"stored": sample.population, "size": size}
        )
    entry = LedgerEntry.objects.filter(
        event_type=EventType.SAMPLE_DRAWN, object_ref=f"quality_sample:{sample.pk}"
    ).first()
    if entry is None:
        check.problems.append(_("The ledger holds no record of this draw."))
    else:
        if entry.seq < checkpoint.tree_size:
            check.problems.append(_("The draw is recorded before its checkpoint was signed."))
        recorded = json.loads(entry.body)["data"]
        if recorded != _draw_ledger_data(sample, stored):
            check.problems.append(
                _("Ledger entry %s records another draw than the stored sample.") % entry.seq
            )
    return check


# --- reviews and corrective actions ------------------------------------------------------------


def _clean_review(scores: Mapping[str, Any], verdict: str, comment: str) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    for name in RUBRIC:
        value = scores.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
            errors[name] = [_("Score from 1 (poor) to 5 (excellent).")]
        clean[name] = value
    unknown = sorted(set(scores) - set(RUBRIC))
    if unknown:
        errors["scores"] = [_("Unknown rubric items: %s.") % ", ".join(unknown)]
    if verdict not in Verdict.values:
        errors["verdict"] = [_("Choose one of: %s.") % ", ".join(Verdict.values)]
    if len(comment) > MAX_PROSE:
        errors["comment"] = [_("Keep the comment under %d characters.") % MAX_PROSE]
    if errors:
        raise ValidationFailed(
            _("The review was not recorded; correct the fields named."), fields=errors
        )
    return clean


@transaction.atomic
def review_record(
    *,
    actor: Any,
    item: SampleItem,
    scores: Mapping[str, Any],
    verdict: str,
    comment: str = "",
    now: datetime | None = None,
) -> Review:
    """Record a supervisor's blind review; a "disagree" opens a corrective action."""
    require(policies.can_review_samples(actor), _("Only supervisors review sampled decisions."))
    # Lock the item so two reviewers cannot both take its last review.
    item = (
        SampleItem.objects.select_for_update(of=("self",))
        .select_related("decision__complaint__department", "sample")
        .get(pk=item.pk)
    )
    require(
        policies.can_review_decision(actor, item.decision),
        _(
            "You took part in this decision's case, so another supervisor must review it; "
            "ask for your next item."
        ),
    )
    comment = (comment or "").strip()
    clean = _clean_review(scores, verdict, comment)
    if item.reviews.filter(reviewer=actor).exists():
        raise Conflict(
            _("You reviewed this item already; a second review needs another supervisor.")
        )
    if item.reviews.count() >= item.reviews_needed:
        raise Conflict(_("This item has all the reviews it needs; ask for your next item."))
    at = at_or_now(now)
    review = Review(
        item=item,
        reviewer=actor,
        reviewer_ref=actor_ref(actor),
        verdict=verdict,
        comment=comment,
        reviewed_at=at,
        **clean,
    )
    review.save()
    ledger_append(
        event_type=EventType.REVIEW_RECORDED,
        object_ref=f"review:{review.pk}",
        actor_ref=review.reviewer_ref,
        data={
            "sample": item.sample_id,
            "item": item.pk,
            "decision": item.decision_id,
            "scores": clean,
            "verdict": verdict,
            "comment_sha256": sha256_hex(comment),
        },
        at=at,
    )
    if verdict == Verdict.DISAGREE and not CorrectiveAction.objects.filter(item=item).exists():
        # One action per item: a second "disagree" on the same decision adds to the evidence
        # (its review) but does not open a duplicate for the lead to close twice.
        action = CorrectiveAction(
            item=item,
            review=review,
            department=item.decision.complaint.department,
            opened_at=at,
        )
        stamp_history(action, actor, "Opened by a disagreeing review", at=at)
        action.save()
        ledger_append(
            event_type=EventType.CORRECTIVE_ACTION_OPENED,
            object_ref=f"corrective_action:{action.pk}",
            actor_ref=review.reviewer_ref,
            data={
                "review": review.pk,
                "decision": item.decision_id,
                "department": action.department.code,
            },
            at=at,
        )
    return review


@transaction.atomic
def corrective_action_close(
    *, actor: Any, action: CorrectiveAction, resolution: str, now: datetime | None = None
) -> CorrectiveAction:
    """Close a corrective action, as a lead of its department, saying what was done."""
    action = (
        CorrectiveAction.objects.select_for_update(of=("self",))
        .select_related("department")
        .get(pk=action.pk)
    )
    require(
        policies.can_close_corrective_action(actor, action),
        _("Only a lead of the %s department can close this corrective action.")
        % action.department.code,
    )
    if action.status != CorrectiveActionStatus.OPEN:
        raise Conflict(_("This corrective action is closed already; nothing more to do."))
    resolution = (resolution or "").strip()
    if not resolution or len(resolution) > MAX_PROSE:
        raise ValidationFailed(
            _("The action was not closed."),
            fields={"resolution": [_("Say what was done, in under %d characters.") % MAX_PROSE]},
        )
    at = at_or_now(now)
    action.status = CorrectiveActionStatus.CLOSED
    action.closed_at = at
    action.closed_by = actor
    action.resolution = resolution
    stamp_history(action, actor, "Closed by the department's lead", at=at)
    action.save()
    ledger_append(
        event_type=EventType.CORRECTIVE_ACTION_CLOSED,
        object_ref=f"corrective_action:{action.pk}",
        actor_ref=actor_ref(actor),
        data={"resolution_sha256": sha256_hex(resolution), "department": action.department.code},
        at=at,
    )
    return action


# --- agreement ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Agreement:
    """Agreement of two raters: observed (p_o), expected by chance (p_e) and Cohen's kappa.

    `kappa` is None when it is undefined: no pairs, or p_e = 1 (both raters gave one and the
    same verdict throughout, so there is no chance agreement left to beat).
    """

    n: int
    observed: float | None
    expected: float | None
    kappa: float | None


def cohens_kappa(pairs: Iterable[tuple[str, str]]) -> Agreement:
    """Return Cohen's kappa, (p_o - p_e) / (1 - p_e), of two raters' verdicts on the same items."""
    rows = list(pairs)
    n = len(rows)
    if n == 0:
        return Agreement(0, None, None, None)
    first = Counter(a for a, _b in rows)
    second = Counter(b for _a, b in rows)
    observed = Fraction(sum(a == b for a, b in rows), n)
    expected = sum(
        (Fraction(first[c], n) * Fraction(second[c], n) for c in first.keys() | second.keys()),
        Fraction(0),
    )
    kappa = None if expected == 1 else (observed - expected) / (1 - expected)
    return Agreement(n, float(observed), float(expected), None if kappa is None else float(kappa))


def _pairs_by_sample(samples: Iterable[QualitySample]) -> dict[int, list[tuple[str, str]]]:
    """Return, per sample, the two verdicts of every double-reviewed item that has both.

    The earlier review of each item counts as rater A, the later as rater B: which supervisor
    is which differs from item to item, as it always does in blind double review.
    """
    verdicts: dict[int, list[str]] = {}
    sample_of: dict[int, int] = {}
    for sample_id, item_id, verdict in (
        Review.objects.filter(item__sample__in=list(samples), item__double_review=True)
        .order_by("item_id", "reviewed_at", "id")
        .values_list("item__sample_id", "item_id", "verdict")
    ):
        verdicts.setdefault(item_id, []).append(verdict)
        sample_of[item_id] = sample_id
    pairs: dict[int, list[tuple[str, str]]] = {}
    for item_id, given in verdicts.items():
        if len(given) >= 2:
            pairs.setdefault(sample_of[item_id], []).append((given[0], given[1]))
    return pairs


def double_review_pairs(samples: Iterable[QualitySample]) -> list[tuple[str, str]]:
    """Return the two verdicts of every double-reviewed item of `samples` that has both."""
    return [pair for pairs in _pairs_by_sample(samples).values() for pair in pairs]


@dataclass(frozen=True)
class SampleSummary:
    """What a list of samples shows of each: its size, the items fully reviewed, the verdicts
    given and the double reviewers' agreement."""

    size: int
    reviewed: int
    verdicts: dict[str, int]
    agreement: Agreement


def sample_summaries(samples: Sequence[QualitySample]) -> dict[int, SampleSummary]:
    """Summarise `samples` in three grouped queries, whatever their number."""
    ids = [sample.pk for sample in samples]
    size: Counter[int] = Counter()
    reviewed: Counter[int] = Counter()
    for item in (
        SampleItem.objects.filter(sample_id__in=ids)
        .only("sample_id", "double_review")
        .annotate(review_count=Count("reviews"))
    ):
        size[item.sample_id] += 1
        reviewed[item.sample_id] += item.review_count >= item.reviews_needed
    verdicts: dict[int, dict[str, int]] = {i: dict.fromkeys(Verdict.values, 0) for i in ids}
    for sample_id, verdict, count in (
        Review.objects.filter(item__sample_id__in=ids)
        .values_list("item__sample_id", "verdict")
        .annotate(n=Count("id"))
        .order_by()
    ):
        verdicts[sample_id][verdict] = count
    pairs = _pairs_by_sample(samples)
    return {
        i: SampleSummary(size[i], reviewed[i], verdicts[i], cohens_kappa(pairs.get(i, [])))
        for i in ids
    }


def sample_agreement(sample: QualitySample) -> Agreement:
    """Return the agreement of the sample's double-reviewed items that have both reviews."""
    return cohens_kappa(double_review_pairs([sample]))


def sample_verdicts(sample: QualitySample) -> dict[str, int]:
    """Return how many reviews of `sample` gave each verdict."""
    counts = Counter(Review.objects.filter(item__sample=sample).values_list("verdict", flat=True))
    return {verdict: counts.get(verdict, 0) for verdict in Verdict.values}


# --- the blind view ----------------------------------------------------------------------------


def _met(done: datetime | None, due: datetime | None) -> bool | None:
    return None if done is None or due is None else done <= due


def blind_view(item: SampleItem) -> dict[str, Any]:
    """Return what a reviewer sees of one item: the case, with people as pseudonyms only.

    Nothing here is decrypted: the complaint's description and every contact field stay in
    the vault, the complainant is their subject pseudonym and the decider their actor_ref.
    """
    decision = item.decision
    complaint = decision.complaint
    clause = decision.policy_clause
    return {
        "item": item.pk,
        "sample": item.sample_id,
        "stratum": item.stratum,
        "reviews_needed": item.reviews_needed,
        "complaint": {
            "reference": complaint.reference,
            "category": complaint.category.code,
            "department": complaint.department.code,
            "channel": complaint.channel,
            "severity": complaint.severity,
            "complainant": complaint.complainant.pseudonym,
            "received_at": complaint.received_at,
            "acknowledged_at": complaint.acknowledged_at,
            "acknowledge_due_at": complaint.acknowledge_due_at,
            "triaged_at": complaint.triaged_at,
            "triage_due_at": complaint.triage_due_at,
            "decided_at": complaint.decided_at,
            "decision_due_at": complaint.decision_due_at,
            "deadlines_met": {
                "acknowledge": _met(complaint.acknowledged_at, complaint.acknowledge_due_at),
                "triage": _met(complaint.triaged_at, complaint.triage_due_at),
                "decide": _met(complaint.decided_at, complaint.decision_due_at),
            },
        },
        "decision": {
            "id": decision.pk,
            "kind": decision.kind,
            "outcome": decision.outcome,
            "actions": decision.actions,
            "ground": decision.ground,
            "ground_reference": decision.ground_reference,
            "facts": decision.facts,
            "reasons": decision.reasons,
            "decided_at": decision.decided_at,
            "decided_by": actor_ref(decision.decided_by),
            "supersedes": decision.supersedes_id,
            "appeal_outcome": decision.appeal_outcome,
        },
        "policy_clause": {
            "code": clause.code,
            "version": clause.version,
            "title": clause.title,
            "text": clause.text,
        },
    }
