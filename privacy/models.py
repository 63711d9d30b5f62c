"""Personal data. Every piece of it lives in these models and nowhere else in Ombud."""

from __future__ import annotations

import uuid
from typing import Any, cast

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from audits.models import AppendOnlyModel, AppendOnlyQuerySet

from .choices import (
    AccessOutcome,
    AccessPurpose,
    ErasureCause,
    LookupField,
    NoteKind,
    RecordClass,
    RequestChannel,
    RequestKind,
    RequestStatus,
    RetentionEvent,
    SubjectKind,
)
from .pseudonyms import new_subject_pseudonym


class DataSubjectQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> DataSubjectQuerySet:
        """Return the data subjects `user` may look up; none unless a role grants them."""
        from governance import policies

        return cast(DataSubjectQuerySet, policies.restrict_subjects(self, user))


class LegalHoldQuerySet(models.QuerySet):
    def active(self) -> LegalHoldQuerySet:
        return self.filter(released_at__isnull=True)

    def visible_to(self, user: Any) -> LegalHoldQuerySet:
        """Return holds to the privacy and compliance officers who place and release them."""
        from governance import policies

        return self if policies.can_manage_legal_holds(user) else self.none()


class RetentionQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> RetentionQuerySet:
        """Return retention rules and runs to privacy officers, who set the rules."""
        from governance import policies

        return self if policies.can_manage_retention(user) else self.none()


class PrivacyRequestQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> PrivacyRequestQuerySet:
        """Privacy officers see every request; a person sees the ones they made themselves."""
        from governance import policies

        if policies.can_handle_privacy_requests(user):
            return self
        if getattr(user, "is_authenticated", False):
            return self.filter(requester=user)
        return self.none()


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
    # Personal fields, each AES-256-GCM under this subject's own data key (privacy/keys.py);
    # NULL where the value was not given. Read them only through privacy.vault.
    full_name_ct = models.BinaryField(null=True, editable=False)
    email_ct = models.BinaryField(null=True, editable=False)
    phone_ct = models.BinaryField(null=True, editable=False)
    account_handle_ct = models.BinaryField(null=True, editable=False)
    ip_address_ct = models.BinaryField(null=True, editable=False)
    # Set by the service to its moment (the demo's and a loader's are in the past).
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = DataSubjectQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("data subject")
        verbose_name_plural = _("data subjects")
        indexes = [models.Index(fields=["user", "kind"])]

    def __str__(self) -> str:
        return self.pseudonym

    @property
    def record(self) -> str:
        """The record name its ciphertexts are bound to."""
        return f"subject:{self.pseudonym}"


class DataKey(models.Model):
    """A data subject's own AES-256 key, stored only wrapped by a key-encryption key.

    No history: a copy of the wrapped key in a history row would outlive its destruction.
    Erasure sets `wrapped` to NULL, which makes every ciphertext of the subject unreadable.
    """

    subject = models.OneToOneField(
        DataSubject, on_delete=models.PROTECT, primary_key=True, related_name="data_key"
    )
    kek_id = models.CharField(max_length=64)
    wrapped = models.BinaryField(null=True, editable=False)
    created_at = models.DateTimeField()
    rewrapped_at = models.DateTimeField(null=True, blank=True)
    destroyed_at = models.DateTimeField(null=True, blank=True, db_index=True)
    destroyed_for = models.CharField(max_length=32, choices=ErasureCause.choices, blank=True)

    class Meta:
        verbose_name = _("data key")
        verbose_name_plural = _("data keys")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(destroyed_at__isnull=True, wrapped__isnull=False)
                | models.Q(destroyed_at__isnull=False, wrapped__isnull=True),
                name="data_key_live_or_destroyed",
            )
        ]

    def __str__(self) -> str:
        state = "destroyed" if self.destroyed_at else f"wrapped by {self.kek_id}"
        return f"data key of {self.subject_id} ({state})"


class SubjectLookup(models.Model):
    """A keyed hash (HMAC) of a subject's exact email or phone, to find them without plaintext.

    No history, and deleted on erasure: an erased person cannot be recognised by it.
    """

    subject = models.ForeignKey(DataSubject, on_delete=models.CASCADE, related_name="lookups")
    field = models.CharField(max_length=16, choices=LookupField.choices)
    digest = models.CharField(max_length=64)

    class Meta:
        verbose_name = _("subject lookup")
        verbose_name_plural = _("subject lookups")
        indexes = [models.Index(fields=["field", "digest"])]
        constraints = [
            models.UniqueConstraint(fields=["subject", "field"], name="one_lookup_per_field")
        ]

    def __str__(self) -> str:
        return f"{self.field} lookup of {self.subject_id}"


class PersonalNote(models.Model):
    """One piece of free text written by or about a data subject (may hold personal details)."""

    # Both nullable only for history rows written before encryption (their plaintext columns
    # were dropped); the service always sets them.
    uid = models.UUIDField(default=uuid.uuid4, unique=True, null=True, editable=False)
    subject = models.ForeignKey(DataSubject, on_delete=models.PROTECT, related_name="notes")
    kind = models.CharField(max_length=32, choices=NoteKind.choices)
    # The text, AES-256-GCM under the subject's data key; read it only through privacy.vault.
    text_ct = models.BinaryField(null=True, editable=False)
    # Set by the service to the moment of the write it belongs to.
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("personal note")
        verbose_name_plural = _("personal notes")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.subject.pseudonym}"

    @property
    def record(self) -> str:
        """The record name its ciphertext is bound to (known before the row is saved)."""
        return f"note:{self.uid}"


class AccessLogQuerySet(AppendOnlyQuerySet):
    def visible_to(self, user: Any) -> AccessLogQuerySet:
        """Return the access log to compliance officers; nobody else reads it."""
        from governance import policies

        return self if policies.can_read_access_log(user) else self.none()


class AccessLogEntry(AppendOnlyModel):
    """One decryption of personal data: who read what, when and why.

    Append-only in the model and the database; `enforce_retention` removes entries only once
    they are past the access-log rule's period, which is never under six months.
    """

    at = models.DateTimeField(db_index=True)
    reader = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    reader_ref = models.CharField(max_length=64)
    subject = models.ForeignKey(DataSubject, on_delete=models.PROTECT, related_name="+")
    record = models.CharField(max_length=64)
    fields = models.JSONField()
    purpose = models.CharField(max_length=32, choices=AccessPurpose.choices)
    outcome = models.CharField(max_length=16, choices=AccessOutcome.choices)

    objects = AccessLogQuerySet.as_manager()  # type: ignore[misc]  # narrows the base manager

    class Meta:
        verbose_name = _("access log entry")
        verbose_name_plural = _("access log")
        indexes = [models.Index(fields=["subject", "at"])]

    def __str__(self) -> str:
        return f"{self.reader_ref} read {self.record} ({self.purpose}) at {self.at:%Y-%m-%d %H:%M}"


class RetentionRule(models.Model):
    """How long one class of records is kept, counted from which event, and on what basis.

    Rules are data, edited by privacy officers with history. A rule with a category applies to
    that category's complaints and beats the rule without one.
    """

    record_class = models.CharField(max_length=32, choices=RecordClass.choices)
    category = models.ForeignKey(
        "governance.Category", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    period_days = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("Empty: kept for ever.")
    )
    counted_from = models.CharField(max_length=32, choices=RetentionEvent.choices)
    legal_basis = models.TextField()
    updated_at = models.DateTimeField()

    objects = RetentionQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("retention rule")
        verbose_name_plural = _("retention rules")
        constraints = [
            models.UniqueConstraint(
                fields=["record_class", "category"], name="one_rule_per_class_and_category"
            ),
            models.UniqueConstraint(
                fields=["record_class"],
                condition=models.Q(category__isnull=True),
                name="one_default_rule_per_class",
            ),
        ]

    def __str__(self) -> str:
        scope = f" ({self.category})" if self.category_id else ""
        kept = f"{self.period_days} days" if self.period_days is not None else "for ever"
        return f"{self.get_record_class_display()}{scope}: {kept}"


class RetentionRun(models.Model):
    """One run of `enforce_retention`: when, what it erased, and the ledger entries of it."""

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    dry_run = models.BooleanField()
    as_of = models.DateTimeField(help_text=_("The moment expiry was judged against."))
    subjects_erased = models.PositiveIntegerField(default=0)
    access_log_removed = models.PositiveIntegerField(default=0)
    held_back = models.PositiveIntegerField(default=0)
    ledger_seqs = models.JSONField(default=list)

    objects = RetentionQuerySet.as_manager()

    class Meta:
        verbose_name = _("retention run")
        verbose_name_plural = _("retention runs")

    def __str__(self) -> str:
        return f"retention run {self.pk} at {self.started_at:%Y-%m-%d %H:%M}"


class LegalHold(models.Model):
    """A hold on a subject's or a complaint's personal data: kept, and only kept, until released.

    While it stands neither retention nor a deletion request erases the data, and the vault
    decrypts it for nobody but privacy and compliance officers (PIPL Art. 47 para. 2).
    """

    subject = models.ForeignKey(
        DataSubject, on_delete=models.PROTECT, null=True, blank=True, related_name="holds"
    )
    complaint = models.ForeignKey(
        "governance.Complaint",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="legal_holds",
    )
    reason = models.TextField()
    review_on = models.DateField()
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    placed_at = models.DateTimeField()
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    released_at = models.DateTimeField(null=True, blank=True)
    release_reason = models.TextField(blank=True)

    objects = LegalHoldQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("legal hold")
        verbose_name_plural = _("legal holds")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(subject__isnull=False, complaint__isnull=True)
                | models.Q(subject__isnull=True, complaint__isnull=False),
                name="hold_on_subject_or_complaint",
            )
        ]
        indexes = [models.Index(fields=["released_at", "review_on"])]

    def __str__(self) -> str:
        target = (
            f"subject {self.subject_id}" if self.subject_id else f"complaint {self.complaint_id}"
        )
        return f"legal hold {self.pk} on {target}"

    @property
    def active(self) -> bool:
        return self.released_at is None


class PrivacyRequest(models.Model):
    """A person's request to delete, or to receive a copy of, the data Ombud holds on them."""

    reference = models.CharField(max_length=32, unique=True)
    kind = models.CharField(max_length=16, choices=RequestKind.choices)
    channel = models.CharField(max_length=16, choices=RequestChannel.choices)
    status = models.CharField(max_length=24, choices=RequestStatus.choices)
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="privacy_requests",
        help_text=_("The signed-in person who asked for themselves, if they did."),
    )
    # For a request received elsewhere: keyed hashes of the email or phone given, never the
    # plaintext; emptied once the request ends, and kept out of history.
    lookup_digests = models.JSONField(default=list, blank=True)
    subjects = models.JSONField(
        default=list, blank=True, help_text=_("Pseudonyms of the data subjects it covers.")
    )
    received_at = models.DateTimeField()
    due_at = models.DateTimeField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    refusal_reason = models.TextField(blank=True)
    legal_basis = models.TextField(blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    receipt = models.TextField(blank=True, help_text=_("The signed deletion receipt."))
    ledger_seq = models.BigIntegerField(
        null=True, blank=True, help_text=_("The ledger entry that records the erasure.")
    )

    objects = PrivacyRequestQuerySet.as_manager()
    history = HistoricalRecords(excluded_fields=["lookup_digests"])

    class Meta:
        verbose_name = _("privacy request")
        verbose_name_plural = _("privacy requests")
        indexes = [models.Index(fields=["status", "due_at"])]

    def __str__(self) -> str:
        return self.reference
