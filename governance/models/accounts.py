"""Accounts: the one-time codes that let a staff member link an authenticator app."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords


class AuthenticatorSetupCode(models.Model):
    """A one-time code, given to a staff member apart from their password, without which they
    cannot link an authenticator app: so a password that leaks before its owner first signs in
    does not let someone else enrol their own phone as the second factor.

    Only the code's SHA-256 is kept (the code is 80 random bits, shown once to whoever issued
    it). A code is open until it is used, withdrawn (by a newer one) or past `expires_at`.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="authenticator_setup_codes",
    )
    code_hash = models.CharField(max_length=64, unique=True)
    issued_at = models.DateTimeField()
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Empty when an operator issued it at the command line."),
    )
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("authenticator set-up code")
        verbose_name_plural = _("authenticator set-up codes")
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(used_at__isnull=True, withdrawn_at__isnull=True),
                name="setup_code_one_open_per_user",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("issued_at")),
                name="setup_code_expires_after_issue",
            ),
        ]

    def __str__(self) -> str:
        return f"set-up code #{self.pk} for user #{self.user_id}"

    def is_open(self, at: datetime) -> bool:
        """Whether the code can still be used at `at`."""
        return self.used_at is None and self.withdrawn_at is None and at < self.expires_at
