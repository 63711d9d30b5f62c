"""Complaints and what happens to them besides decisions: assignments, transitions,
ratings and missed deadlines."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Case, DateTimeField, F, Q, Value, When
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from audits.models import AppendOnlyModel
from governance.choices import (
    TRANSITIONS,
    Channel,
    ComplaintStatus,
    Priority,
    Severity,
    SlaStage,
    Urgency,
)

from .reference import Category, Department


def _policies() -> Any:
    # Imported late: the policy module reads these models.
    from governance import policies

    return policies


# The deadline a complaint's status waits on: its stage and the field holding its due time.
# Once decided (or ended) nothing is pending; appeals have no deadline of their own here.
PENDING_DEADLINE: dict[str, tuple[str, str]] = {
    ComplaintStatus.RECEIVED: (SlaStage.ACKNOWLEDGE, "acknowledge_due_at"),
    ComplaintStatus.ACKNOWLEDGED: (SlaStage.TRIAGE, "triage_due_at"),
    ComplaintStatus.TRIAGED: (SlaStage.DECIDE, "decision_due_at"),
    ComplaintStatus.ASSIGNED: (SlaStage.DECIDE, "decision_due_at"),
    ComplaintStatus.INVESTIGATING: (SlaStage.DECIDE, "decision_due_at"),
}


class ComplaintQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> ComplaintQuerySet:
        """Return the complaints `user` may see; none unless a role grants them."""
        return _policies().restrict_complaints(self, user)

    def with_pending_due(self) -> ComplaintQuerySet:
        """Annotate `pending_due`: the due time the complaint's status waits on, or null."""
        return self.annotate(
            pending_due=Case(
                *(When(status=s, then=F(f)) for s, (_stage, f) in PENDING_DEADLINE.items()),
                default=Value(None),
                output_field=DateTimeField(),
            )
        )

    def pending_overdue(self, now: Any) -> ComplaintQuerySet:
        """Keep the complaints whose pending deadline lies before `now`."""
        overdue = Q()
        for status, (_stage, due_field) in PENDING_DEADLINE.items():
            overdue |= Q(status=status, **{f"{due_field}__lt": now})
        return self.filter(overdue)


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
    # Set when the complaint is filed (governance.services.complaints.repeats_of), so that
    # oversight reports count repeats in one scan instead of a sort over months of complaints.
    repeats_complainant = models.BooleanField(
        null=True,
        editable=False,
        help_text=_("Filed within 90 days of an earlier complaint by the same complainant."),
    )
    repeats_content = models.BooleanField(
        null=True,
        editable=False,
        help_text=_("Filed within 90 days of an earlier complaint about the same content."),
    )

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
            # A handler's own open work: without it, every complaint they ever decided is read.
            models.Index(fields=["assignee", "status"]),
            models.Index(fields=["-received_at", "-id"]),
            # Repeat detection at filing: the latest earlier complaint by content.
            models.Index(fields=["content_id", "received_at"]),
            models.Index(fields=["content_url", "received_at"]),
            models.Index(fields=["complainant", "received_at"]),
            # Reports count by the time of first decision.
            models.Index(fields=["decided_at"]),
        ]

    def __str__(self) -> str:
        return self.reference

    def current_decision(self) -> Any:
        """Return the decision in force: the latest one that nothing supersedes, or None."""
        return (
            self.decisions.filter(superseded_by__isnull=True).order_by("-decided_at", "-id").first()
        )

    def allowed_next(self) -> list[str]:
        """Return the statuses this complaint may move to next, in lifecycle order."""
        return list(_ALLOWED_NEXT[self.status])

    def pending_deadline(self) -> tuple[str, Any] | None:
        """Return (stage, due time) of the deadline the status waits on, or None."""
        pending = PENDING_DEADLINE.get(self.status)
        return None if pending is None else (pending[0], getattr(self, pending[1]))


# The times a complaint keeps of its life and deadlines, in the order the API gives them.
COMPLAINT_TIMES = (
    "received_at",
    "acknowledged_at",
    "triaged_at",
    "decided_at",
    "closed_at",
    "acknowledge_due_at",
    "triage_due_at",
    "decision_due_at",
)

# Each status's next statuses in lifecycle order, worked out once: every complaint in a list
# of fifty asks.
_ALLOWED_NEXT: dict[str, tuple[str, ...]] = {
    status: tuple(s for s in ComplaintStatus.values if s in TRANSITIONS[status])
    for status in ComplaintStatus.values
}


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
