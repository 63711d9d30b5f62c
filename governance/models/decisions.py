"""Decisions and appeals."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from audits.models import AppendOnlyModel, AppendOnlyQuerySet
from governance.choices import (
    AppealOutcome,
    AppealStatus,
    AppellantRole,
    AutomatedDecision,
    DecisionGround,
    DecisionKind,
    DecisionOutcome,
)

from .complaints import Complaint
from .reference import PolicyClause


def _policies() -> Any:
    # Imported late: the policy module reads these models.
    from governance import policies

    return policies


class DecisionQuerySet(AppendOnlyQuerySet):
    def visible_to(self, user: Any) -> DecisionQuerySet:
        """Return the decisions `user` may read; none unless a role grants them."""
        return _policies().restrict_decisions(self, user)


class Decision(AppendOnlyModel):
    """One decision on a complaint; never changed: a correction or appeal outcome is a new row."""

    complaint = models.ForeignKey(Complaint, on_delete=models.PROTECT, related_name="decisions")
    kind = models.CharField(max_length=16, choices=DecisionKind.choices)
    outcome = models.CharField(max_length=32, choices=DecisionOutcome.choices)
    actions = models.JSONField(help_text=_("List of DecisionAction values."))
    ground = models.CharField(max_length=32, choices=DecisionGround.choices)
    ground_reference = models.CharField(
        max_length=500,
        blank=True,
        help_text=_("The legal provision, for a decision on illegal content."),
    )
    policy_clause = models.ForeignKey(PolicyClause, on_delete=models.PROTECT, related_name="+")
    facts = models.TextField()
    reasons = models.TextField()
    automated_detection = models.BooleanField()
    automated_decision = models.CharField(max_length=16, choices=AutomatedDecision.choices)
    territorial_scope = models.JSONField(default=list, blank=True)
    restriction_end = models.DateField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField()
    supersedes = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="superseded_by"
    )
    appeal = models.OneToOneField(
        "Appeal", on_delete=models.PROTECT, null=True, blank=True, related_name="outcome_decision"
    )
    appeal_outcome = models.CharField(
        max_length=16, choices=AppealOutcome.choices, blank=True, default=""
    )

    objects = DecisionQuerySet.as_manager()  # type: ignore[misc]  # narrows the base's manager

    class Meta:
        ordering = ["-decided_at", "-id"]
        # Reports count the decisions of a period.
        indexes = [models.Index(fields=["decided_at"])]
        verbose_name = _("decision")
        verbose_name_plural = _("decisions")
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(kind=DecisionKind.INITIAL, supersedes__isnull=True)
                    | (~Q(kind=DecisionKind.INITIAL) & Q(supersedes__isnull=False))
                ),
                name="decision_supersedes_iff_not_initial",
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind=DecisionKind.APPEAL, appeal__isnull=False) & ~Q(appeal_outcome="")
                    | (~Q(kind=DecisionKind.APPEAL) & Q(appeal__isnull=True, appeal_outcome=""))
                ),
                name="decision_appeal_fields_iff_appeal",
            ),
        ]

    def __str__(self) -> str:
        return f"Decision {self.pk} on complaint {self.complaint_id}: {self.outcome}"


class AppealQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> AppealQuerySet:
        """Return the appeals `user` may see; none unless a role grants them."""
        return _policies().restrict_appeals(self, user)


class Appeal(models.Model):
    """One appeal against a decision, by the complainant or the affected account holder."""

    complaint = models.ForeignKey(Complaint, on_delete=models.PROTECT, related_name="appeals")
    decision = models.ForeignKey(Decision, on_delete=models.PROTECT, related_name="appeals")
    appellant = models.ForeignKey("privacy.DataSubject", on_delete=models.PROTECT, related_name="+")
    appellant_role = models.CharField(max_length=16, choices=AppellantRole.choices)
    statement = models.ForeignKey(
        "privacy.PersonalNote", on_delete=models.PROTECT, related_name="+"
    )
    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    filed_at = models.DateTimeField()
    status = models.CharField(
        max_length=16, choices=AppealStatus.choices, default=AppealStatus.OPEN
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    objects = AppealQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["-filed_at", "-id"]
        verbose_name = _("appeal")
        verbose_name_plural = _("appeals")
        constraints = [
            models.UniqueConstraint(fields=["complaint"], name="appeal_one_per_complaint"),
        ]

    def __str__(self) -> str:
        return f"Appeal {self.pk} on complaint {self.complaint_id}"
