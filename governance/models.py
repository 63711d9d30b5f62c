"""Complaints, decisions, appeals, policy clauses, departments, roles: data and data rules only.

Writes happen in `governance.services`; policy-bound reads start from `visible_to(user)`.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from audits.models import AppendOnlyModel, AppendOnlyQuerySet

from .choices import (
    DEPARTMENT_ROLES,
    TRANSITIONS,
    AppealOutcome,
    AppealStatus,
    AppellantRole,
    AutomatedDecision,
    Channel,
    ComplaintStatus,
    DecisionGround,
    DecisionKind,
    DecisionOutcome,
    DsaCategory,
    Priority,
    Role,
    Severity,
    SlaStage,
    Urgency,
)


def _policies() -> Any:
    # Imported late: the policy module reads these models.
    from . import policies

    return policies


class Department(models.Model):
    """One department of the platform that handles complaints (moderation, copyright, ...)."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(_("name (English)"), max_length=100)
    name_zh = models.CharField(_("name (Chinese)"), max_length=100)
    is_active = models.BooleanField(default=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        verbose_name = _("department")
        verbose_name_plural = _("departments")

    def __str__(self) -> str:
        return f"{self.name} ({self.name_zh})"


class Category(models.Model):
    """One kind of complaint, mapped to a DSA statement category and a default department."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(_("name (English)"), max_length=100)
    name_zh = models.CharField(_("name (Chinese)"), max_length=100)
    dsa_category = models.CharField(max_length=80, choices=DsaCategory.choices)
    default_department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="+")
    default_severity = models.CharField(
        max_length=16, choices=Severity.choices, default=Severity.MEDIUM
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")

    def __str__(self) -> str:
        return f"{self.name} ({self.name_zh})"


class Holiday(models.Model):
    """One public holiday on which working-day deadlines do not run."""

    date = models.DateField(unique=True)
    name = models.CharField(max_length=100)

    history = HistoricalRecords()

    class Meta:
        ordering = ["date"]
        verbose_name = _("holiday")
        verbose_name_plural = _("holidays")

    def __str__(self) -> str:
        return f"{self.date}: {self.name}"


class RoleMembership(models.Model):
    """One role held by one user (scoped to a department for handlers and leads)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="role_memberships"
    )
    role = models.CharField(max_length=32, choices=Role.choices)
    department = models.ForeignKey(
        Department, on_delete=models.PROTECT, null=True, blank=True, related_name="memberships"
    )
    granted_at = models.DateTimeField()
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("role membership")
        verbose_name_plural = _("role memberships")
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(role__in=sorted(DEPARTMENT_ROLES), department__isnull=False)
                    | (~Q(role__in=sorted(DEPARTMENT_ROLES)) & Q(department__isnull=True))
                ),
                name="membership_department_iff_department_role",
            ),
            models.UniqueConstraint(
                fields=["user", "role", "department"],
                condition=Q(revoked_at__isnull=True, department__isnull=False),
                name="membership_unique_active_with_department",
            ),
            models.UniqueConstraint(
                fields=["user", "role"],
                condition=Q(revoked_at__isnull=True, department__isnull=True),
                name="membership_unique_active_without_department",
            ),
        ]

    def __str__(self) -> str:
        scope = f" @ {self.department.code}" if self.department is not None else ""
        return f"{self.user} as {self.get_role_display()}{scope}"


class PolicyClause(AppendOnlyModel):
    """One version of one clause of the platform's rule book; a new version is a new row."""

    code = models.CharField(
        max_length=40,
        validators=[
            RegexValidator(
                r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
                _("Use letters, digits, dots, dashes and underscores, e.g. TOS-4.2."),
            )
        ],
        help_text=_("Stable code, e.g. TOS-4.2."),
    )
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    text = models.TextField()
    effective_from = models.DateField()
    effective_to = models.DateField(
        null=True, blank=True, help_text=_("Last day in force; empty until a sunset is known.")
    )
    published_at = models.DateTimeField()
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["code", "-version"]
        verbose_name = _("policy clause")
        verbose_name_plural = _("policy clauses")
        constraints = [
            models.UniqueConstraint(fields=["code", "version"], name="policy_clause_code_version"),
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True)
                | Q(effective_to__gte=models.F("effective_from")),
                name="policy_clause_effective_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} v{self.version}: {self.title}"


class ReferenceCounter(models.Model):
    """The last complaint number issued in one year (for CMP-YYYY-NNNNNN references)."""

    year = models.PositiveIntegerField(primary_key=True)
    last = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = _("reference counter")

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"


class ComplaintQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> ComplaintQuerySet:
        """Return the complaints `user` may see; none unless a role grants them."""
        return _policies().restrict_complaints(self, user)


class Complaint(models.Model):
    """One complaint about content, an account or the service, from receipt to closure."""

    reference = models.CharField(max_length=24, unique=True, editable=False)
    channel = models.CharField(max_length=32, choices=Channel.choices)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="complaints")
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="complaints")
    severity = models.CharField(max_length=16, choices=Severity.choices)
    urgency = models.CharField(max_length=16, choices=Urgency.choices, default=Urgency.NORMAL)
    priority = models.CharField(max_length=2, choices=Priority.choices)
    status = models.CharField(
        max_length=32, choices=ComplaintStatus.choices, default=ComplaintStatus.RECEIVED
    )
    content_url = models.URLField(max_length=500, blank=True)
    content_id = models.CharField(max_length=200, blank=True)

    # Personal data lives in the privacy app; the complaint holds only references to it.
    complainant = models.ForeignKey(
        "privacy.DataSubject", on_delete=models.PROTECT, related_name="complaints_filed"
    )
    affected_subject = models.ForeignKey(
        "privacy.DataSubject",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="complaints_about",
        help_text=_("The holder of the reported account, where that is a person."),
    )
    description = models.ForeignKey(
        "privacy.PersonalNote", on_delete=models.PROTECT, related_name="+"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_complaints",
    )

    received_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    triaged_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    acknowledge_due_at = models.DateTimeField()
    triage_due_at = models.DateTimeField()
    decision_due_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    objects = ComplaintQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["-received_at"]
        verbose_name = _("complaint")
        verbose_name_plural = _("complaints")
        indexes = [
            models.Index(fields=["department", "status", "decision_due_at"]),
            models.Index(fields=["status", "decision_due_at"]),
            models.Index(fields=["-received_at", "-id"]),
        ]

    def __str__(self) -> str:
        return self.reference

    def allowed_next(self) -> list[str]:
        """Return the statuses this complaint may move to next, in lifecycle order."""
        allowed = TRANSITIONS[self.status]
        return [status for status in ComplaintStatus.values if status in allowed]


class Assignment(models.Model):
    """One period during which one person handles one complaint."""

    complaint = models.ForeignKey(Complaint, on_delete=models.PROTECT, related_name="assignments")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    assigned_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=500, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["assigned_at"]
        verbose_name = _("assignment")
        verbose_name_plural = _("assignments")
        constraints = [
            models.UniqueConstraint(
                fields=["complaint"],
                condition=Q(ended_at__isnull=True),
                name="assignment_one_current_per_complaint",
            )
        ]

    def __str__(self) -> str:
        return f"{self.complaint_id} -> {self.assignee}"


class ComplaintTransition(AppendOnlyModel):
    """One change of a complaint's status: who, when, from what, to what and why."""

    complaint = models.ForeignKey(Complaint, on_delete=models.PROTECT, related_name="transitions")
    from_status = models.CharField(max_length=32, choices=ComplaintStatus.choices)
    to_status = models.CharField(max_length=32, choices=ComplaintStatus.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    actor_ref = models.CharField(max_length=64)
    reason = models.CharField(max_length=1000)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("complaint transition")
        verbose_name_plural = _("complaint transitions")

    def __str__(self) -> str:
        return f"{self.from_status} -> {self.to_status}"


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


class Rating(AppendOnlyModel):
    """The complainant's one rating of how their closed complaint was handled."""

    complaint = models.OneToOneField(Complaint, on_delete=models.PROTECT, related_name="rating")
    score = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    comment = models.ForeignKey(
        "privacy.PersonalNote", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    rated_at = models.DateTimeField()

    class Meta:
        verbose_name = _("rating")
        verbose_name_plural = _("ratings")
        constraints = [
            models.CheckConstraint(condition=Q(score__gte=1, score__lte=5), name="rating_score_1_5")
        ]

    def __str__(self) -> str:
        return f"{self.score}/5 for complaint {self.complaint_id}"


class SlaBreach(AppendOnlyModel):
    """One missed deadline of one complaint, escalated once to the department's leads."""

    complaint = models.ForeignKey(Complaint, on_delete=models.PROTECT, related_name="sla_breaches")
    stage = models.CharField(max_length=16, choices=SlaStage.choices)
    due_at = models.DateTimeField()
    detected_at = models.DateTimeField()
    escalated_to = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")

    class Meta:
        ordering = ["-detected_at"]
        verbose_name = _("deadline breach")
        verbose_name_plural = _("deadline breaches")
        constraints = [
            models.UniqueConstraint(fields=["complaint", "stage"], name="sla_breach_once_per_stage")
        ]

    def __str__(self) -> str:
        return f"{self.complaint_id} missed {self.stage}"
