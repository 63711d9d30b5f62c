"""The append-only base model and the ledger."""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from governance.errors import ImmutableRecord

from .choices import CorrectiveActionStatus, Verdict


def _refuse(what: str, model: type[models.Model] | None = None) -> NoReturn:
    name = model._meta.verbose_name if model is not None else _("record")
    raise ImmutableRecord(
        _(
            "%(name)s rows are append-only: %(what)s is refused. "
            "Record a new entry that references this one instead."
        )
        % {"name": name, "what": what}
    )


class AppendOnlyQuerySet(models.QuerySet):
    """A queryset that can add and read rows but never change or remove them."""

    def update(self, **kwargs: Any) -> NoReturn:
        _refuse("update", self.model)

    def delete(self) -> NoReturn:  # type: ignore[override]
        _refuse("delete", self.model)

    def bulk_update(self, objs: Any, fields: Any, batch_size: Any = None) -> NoReturn:
        _refuse("bulk_update", self.model)

    def update_or_create(self, *args: Any, **kwargs: Any) -> NoReturn:  # type: ignore[override]
        _refuse("update_or_create", self.model)


class AppendOnlyModel(models.Model):
    """Abstract base: a row is written once and never changed or deleted.

    The database refuses too: `audits.triggers.AppendOnlyTriggers` in each concrete model's
    migration installs triggers that reject UPDATE, DELETE and TRUNCATE from any client.
    """

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            _refuse("save of an existing row", type(self))
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:  # type: ignore[override]
        _refuse("delete", type(self))


class LedgerEntry(AppendOnlyModel):
    """One event in Ombud's append-only ledger, numbered without gaps from 0."""

    seq = models.BigIntegerField(primary_key=True, verbose_name=_("sequence number"))
    recorded_at = models.DateTimeField(verbose_name=_("recorded at"))
    # No `choices` here: a new event type must never need a migration that rebuilds this
    # append-only table (on SQLite a rebuild drops its triggers). ledger_append validates it.
    event_type = models.CharField(max_length=64, db_index=True)
    object_ref = models.CharField(
        max_length=128,
        db_index=True,
        help_text=_("The object's reference, e.g. complaint:CMP-2026-000123 or decision:42."),
    )
    actor_ref = models.CharField(
        max_length=64, help_text=_("Pseudonymous id of the actor; never a name.")
    )
    body = models.TextField(
        help_text=_("Canonical JSON (sorted keys, no whitespace, UTF-8) of the whole entry.")
    )
    leaf_hash = models.CharField(max_length=64, help_text=_("SHA-256(0x00 || body), hex."))

    class Meta:
        ordering = ["seq"]
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        constraints = [
            models.CheckConstraint(condition=models.Q(seq__gte=0), name="ledger_seq_gte_0")
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.event_type} {self.object_ref}"


class Checkpoint(AppendOnlyModel):
    """One signed statement of the ledger's size and root hash at a moment."""

    tree_size = models.BigIntegerField(unique=True)
    root_hash = models.CharField(max_length=64, help_text=_("MTH of the first tree_size leaves."))
    origin = models.CharField(max_length=200)
    signed_at = models.DateTimeField()
    key_id = models.CharField(max_length=8, help_text=_("Hex id of the signing key."))
    note = models.TextField(help_text=_("The signed note, exactly as signed."))

    class Meta:
        ordering = ["-tree_size"]
        verbose_name = _("checkpoint")
        verbose_name_plural = _("checkpoints")

    def __str__(self) -> str:
        return f"{self.origin} @ {self.tree_size}"


class MerkleTile(AppendOnlyModel):
    """The hash of one complete, aligned block of leaves, cached so proofs need not read them all.

    Level 1 covers 256 leaves, level 2 covers 65,536 (256 level-1 tiles); a tile is written once
    its block is full and never changes, since the leaves under it never change.
    """

    level = models.PositiveSmallIntegerField()
    index = models.BigIntegerField()
    hash = models.CharField(max_length=64)

    class Meta:
        verbose_name = _("Merkle tile")
        verbose_name_plural = _("Merkle tiles")
        constraints = [
            models.UniqueConstraint(fields=["level", "index"], name="merkle_tile_level_index")
        ]

    def __str__(self) -> str:
        return f"tile {self.level}/{self.index}"


# --- quality sampling ------------------------------------------------------------------------
# The draw and its reviews are append-only: what was sampled, and what each reviewer said, is
# evidence. Only a corrective action moves (open -> closed), so it keeps a history instead.

RUBRIC = (
    "clause_correct",
    "facts_adequate",
    "action_proportionate",
    "deadline_met",
    "reasons_clear",
)


class QualitySample(AppendOnlyModel):
    """One reproducible draw of decisions in force, for blind quality review, over one period.

    `seed` is SHA-256 over the canonical statement of the parameters and the signed checkpoint
    named in `seed_source`, so anyone can recompute the draw (audits.sampling.sample_verify).
    """

    period_start = models.DateField()
    period_end = models.DateField(help_text=_("Last day of the period, inclusive."))
    rate = models.DecimalField(max_digits=5, decimal_places=4)
    min_per_stratum = models.PositiveIntegerField()
    double_review_share = models.DecimalField(max_digits=5, decimal_places=4)
    checkpoint = models.ForeignKey(Checkpoint, on_delete=models.PROTECT, related_name="+")
    seed = models.CharField(max_length=64, help_text=_("SHA-256, hex."))
    seed_source = models.CharField(
        max_length=200, help_text=_("checkpoint:<tree size>:<root hash> the seed came from.")
    )
    population = models.PositiveIntegerField(help_text=_("Decisions in force in the period."))
    drawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    drawn_by_ref = models.CharField(max_length=64)
    drawn_at = models.DateTimeField()

    class Meta:
        ordering = ["-period_start", "-id"]
        verbose_name = _("quality sample")
        verbose_name_plural = _("quality samples")
        constraints = [
            # One draw per period: a drawer who disliked a sample cannot draw again.
            models.UniqueConstraint(
                fields=["period_start", "period_end"], name="quality_sample_one_per_period"
            ),
            models.CheckConstraint(
                condition=Q(period_end__gte=models.F("period_start")),
                name="quality_sample_period_order",
            ),
            models.CheckConstraint(
                condition=Q(rate__gt=0, rate__lte=1), name="quality_sample_rate_range"
            ),
            models.CheckConstraint(
                condition=Q(double_review_share__gte=0, double_review_share__lte=1),
                name="quality_sample_double_share_range",
            ),
        ]

    def __str__(self) -> str:
        return f"Sample {self.pk}: {self.period_start} to {self.period_end}"


class SampleItem(AppendOnlyModel):
    """One decision drawn into one sample, in its stratum (department/category/outcome)."""

    sample = models.ForeignKey(QualitySample, on_delete=models.PROTECT, related_name="items")
    decision = models.ForeignKey(
        "governance.Decision", on_delete=models.PROTECT, related_name="sample_items"
    )
    stratum = models.CharField(max_length=200)
    double_review = models.BooleanField(help_text=_("Reviewed twice, by two supervisors."))

    class Meta:
        ordering = ["sample", "id"]
        verbose_name = _("sample item")
        verbose_name_plural = _("sample items")
        constraints = [
            models.UniqueConstraint(fields=["sample", "decision"], name="sample_item_once")
        ]

    def __str__(self) -> str:
        return f"Sample {self.sample_id}: decision {self.decision_id}"

    @property
    def reviews_needed(self) -> int:
        """Return how many reviews, by different supervisors, this item is owed."""
        return 2 if self.double_review else 1


def _score(label: Any) -> models.PositiveSmallIntegerField:
    return models.PositiveSmallIntegerField(
        verbose_name=label, help_text=_("1 (poor) to 5 (excellent).")
    )


class Review(AppendOnlyModel):
    """One supervisor's blind review of one sampled decision: five scores, a verdict, a note."""

    item = models.ForeignKey(SampleItem, on_delete=models.PROTECT, related_name="reviews")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reviewer_ref = models.CharField(max_length=64)
    clause_correct = _score(_("right policy clause applied"))
    facts_adequate = _score(_("facts adequate"))
    action_proportionate = _score(_("action proportionate"))
    deadline_met = _score(_("deadline met"))
    reasons_clear = _score(_("reasons clear to the complainant"))
    verdict = models.CharField(max_length=16, choices=Verdict.choices)
    comment = models.TextField(blank=True, help_text=_("Staff prose; the ledger keeps its hash."))
    reviewed_at = models.DateTimeField()

    class Meta:
        ordering = ["item", "reviewed_at", "id"]
        verbose_name = _("review")
        verbose_name_plural = _("reviews")
        constraints = [
            models.UniqueConstraint(fields=["item", "reviewer"], name="review_once_per_reviewer"),
            *[
                models.CheckConstraint(
                    condition=Q(**{f"{name}__gte": 1, f"{name}__lte": 5}),
                    name=f"review_{name}_1_5",
                )
                for name in RUBRIC
            ],
            models.CheckConstraint(
                condition=Q(verdict__in=Verdict.values), name="review_verdict_known"
            ),
        ]

    def __str__(self) -> str:
        return f"Review of item {self.item_id}: {self.verdict}"


class CorrectiveAction(models.Model):
    """One corrective action a "disagree" review opened, owed by the department's leads."""

    item = models.OneToOneField(
        SampleItem, on_delete=models.PROTECT, related_name="corrective_action"
    )
    review = models.ForeignKey(Review, on_delete=models.PROTECT, related_name="+")
    department = models.ForeignKey(
        "governance.Department", on_delete=models.PROTECT, related_name="corrective_actions"
    )
    status = models.CharField(
        max_length=16, choices=CorrectiveActionStatus.choices, default=CorrectiveActionStatus.OPEN
    )
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolution = models.TextField(
        blank=True, help_text=_("Staff prose; the ledger keeps its hash.")
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["-opened_at", "-id"]
        verbose_name = _("corrective action")
        verbose_name_plural = _("corrective actions")
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(
                        status=CorrectiveActionStatus.OPEN,
                        closed_at__isnull=True,
                        closed_by__isnull=True,
                    )
                    | Q(
                        status=CorrectiveActionStatus.CLOSED,
                        closed_at__isnull=False,
                        closed_by__isnull=False,
                    )
                ),
                name="corrective_action_closed_iff_closed_at",
            )
        ]

    def __str__(self) -> str:
        return f"Corrective action {self.pk} ({self.status})"


# --- oversight reports ---------------------------------------------------------------------------


class OversightReport(AppendOnlyModel):
    """One published oversight report of one period: its files frozen, signed, never changed.

    A correction is a new report of the same period that names the one it supersedes; the
    superseded report stays published, marked as such, so the record of what was said stays.
    """

    number = models.PositiveIntegerField(unique=True, help_text=_("Numbered from 1, in order."))
    period = models.CharField(max_length=10, help_text=_("2026-10, 2026-Q4 or 2026."))
    period_kind = models.CharField(max_length=8)
    period_start = models.DateField()
    period_end = models.DateField(help_text=_("Last day of the period, inclusive."))
    checkpoint = models.ForeignKey(Checkpoint, on_delete=models.PROTECT, related_name="+")
    supersedes = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="superseded_by"
    )
    correction = models.TextField(
        blank=True, help_text=_("Why this report replaces the one it supersedes; published.")
    )
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    published_by_ref = models.CharField(max_length=64)
    published_at = models.DateTimeField()
    document = models.TextField(help_text=_("The report as canonical JSON; what is signed."))
    csv = models.TextField(help_text=_("The report's tables as CSV."))
    html_en = models.TextField(help_text=_("The report's page, in English."))
    html_zh_hans = models.TextField(help_text=_("The report's page, in Simplified Chinese."))
    signature = models.TextField(
        help_text=_("A signed note over the SHA-256 of every file, by the ledger's key.")
    )

    class Meta:
        ordering = ["-number"]
        verbose_name = _("oversight report")
        verbose_name_plural = _("oversight reports")
        constraints = [
            # One original per period: any further report of it must supersede, and so explain.
            models.UniqueConstraint(
                fields=["period"],
                condition=Q(supersedes__isnull=True),
                name="oversight_report_one_original_per_period",
            ),
            models.CheckConstraint(
                condition=Q(supersedes__isnull=True) | ~Q(correction=""),
                name="oversight_report_correction_explained",
            ),
        ]

    def __str__(self) -> str:
        return f"Report {self.number} ({self.period})"
