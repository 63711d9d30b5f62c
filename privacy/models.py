"""Personal data. Every piece of it lives in these models and nowhere else in Ombud."""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from .choices import NoteKind, SubjectKind
from .pseudonyms import new_subject_pseudonym


class DataSubjectQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> DataSubjectQuerySet:
        """Return the data subjects `user` may look up; none unless a role grants them."""
        from governance import policies

        return cast(DataSubjectQuerySet, policies.restrict_subjects(self, user))


class DataSubject(models.Model):
    """One person whose personal data Ombud holds (a complainant or a reported account holder)."""

    pseudonym = models.CharField(
        max_length=32, unique=True, default=new_subject_pseudonym, editable=False
    )
    kind = models.CharField(max_length=32, choices=SubjectKind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="data_subjects",
        help_text=_("The sign-in account of this person, where they have one."),
    )
    full_name = models.CharField(_("full name"), max_length=200, blank=True)
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    account_handle = models.CharField(_("account handle"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = DataSubjectQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("data subject")
        verbose_name_plural = _("data subjects")
        indexes = [models.Index(fields=["user", "kind"])]

    def __str__(self) -> str:
        return self.pseudonym


class PersonalNote(models.Model):
    """One piece of free text written by or about a data subject (may hold personal details)."""

    subject = models.ForeignKey(DataSubject, on_delete=models.PROTECT, related_name="notes")
    kind = models.CharField(max_length=32, choices=NoteKind.choices)
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("personal note")
        verbose_name_plural = _("personal notes")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.subject.pseudonym}"
