"""Reference data and access: departments, categories, holidays, roles, the rule book."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from audits.models import AppendOnlyModel
from governance.choices import (
    DEPARTMENT_ROLES,
    DsaCategory,
    Role,
    Severity,
)


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

    def in_force_on(self, day: date) -> bool:
        """Return whether this is the version of its code in force on `day`."""
        if self.effective_from > day or (self.effective_to and self.effective_to < day):
            return False
        return not PolicyClause.objects.filter(
            code=self.code, version__gt=self.version, effective_from__lte=day
        ).exists()


class ReferenceCounter(models.Model):
    """The last complaint number issued in one year (for CMP-YYYY-NNNNNN references).

    No history: the counter is bookkeeping, and every number it hands out is recorded anyway,
    in the complaint's own history and its "complaint received" ledger entry.
    """

    year = models.PositiveIntegerField(primary_key=True)
    last = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = _("reference counter")

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"
