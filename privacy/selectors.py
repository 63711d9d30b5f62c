"""Reads of personal data. Each one passes through here so it can be checked in one place."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from . import vault
from .models import AccessLogEntry, DataSubject, LegalHold, RetentionRule, RetentionRun


def subject_get(*, user: Any, pseudonym: str) -> DataSubject:
    """Return one data subject by pseudonym, or NotFound if `user` may not look it up."""
    from governance.errors import NotFound

    subject = DataSubject.objects.visible_to(user).filter(pseudonym=pseudonym).first()
    if subject is None:
        raise NotFound(_("No data subject %s is visible to you.") % pseudonym)
    return subject


def subject_list(*, user: Any, email: str = "", phone: str = "") -> Any:
    """Return the subjects `user` may look up whose exact email or phone matches.

    The match is on keyed hashes (privacy.vault.subjects_by_contact), never on plaintext; an
    erased person has no lookup left and is not found.
    """
    found = [s.pk for s in vault.subjects_by_contact(email=email, phone=phone)]
    return DataSubject.objects.visible_to(user).filter(pk__in=found).order_by("pk")


def access_log_list(*, user: Any) -> Any:
    """Return the personal-data access log `user` may read (compliance officers), newest first."""
    return (
        AccessLogEntry.objects.visible_to(user)
        .select_related("subject", "reader")
        .order_by("-at", "-pk")
    )


def legal_hold_list(*, user: Any) -> Any:
    """Return the legal holds `user` may manage (privacy and compliance officers), newest first."""
    return LegalHold.objects.visible_to(user).select_related("subject", "complaint").order_by("-pk")


def legal_hold_get(*, user: Any, pk: Any) -> LegalHold:
    """Return one legal hold, or NotFound."""
    from governance.errors import NotFound

    hold = legal_hold_list(user=user).filter(pk=pk).first() if str(pk).isdigit() else None
    if hold is None:
        raise NotFound(_("No legal hold %s is visible to you.") % pk)
    return hold


def legal_hold_target(
    *, user: Any, subject: str = "", complaint: str = ""
) -> tuple[DataSubject | None, Any]:
    """Return the subject (by pseudonym) and complaint (by reference) a hold is to cover.

    Those who manage holds may name any subject or complaint: a hold must be placeable on a
    record before anyone has looked at it.
    """
    from governance import policies
    from governance.errors import ValidationFailed
    from governance.models import Complaint

    if not policies.can_manage_legal_holds(user):
        return None, None
    found_subject = DataSubject.objects.filter(pseudonym=subject).first() if subject else None
    found_complaint = Complaint.objects.filter(reference=complaint).first() if complaint else None
    errors: dict[str, list[str]] = {}
    if subject and found_subject is None:
        errors["subject"] = [_("No data subject has this pseudonym; check it (S-...).")]
    if complaint and found_complaint is None:
        errors["complaint"] = [_("No complaint has this reference; check it (CMP-YYYY-NNNNNN).")]
    if errors:
        raise ValidationFailed(
            _("The legal hold was not placed; correct the fields named."), fields=errors
        )
    return found_subject, found_complaint


def retention_rule_list(*, user: Any) -> Any:
    """Return the retention rules to privacy officers, by class and category."""
    return (
        RetentionRule.objects.visible_to(user)
        .select_related("category")
        .order_by("record_class", "category__code", "pk")
    )


def retention_rule_get(*, user: Any, pk: Any) -> RetentionRule:
    """Return one retention rule, or NotFound."""
    from governance.errors import NotFound

    rule = retention_rule_list(user=user).filter(pk=pk).first() if str(pk).isdigit() else None
    if rule is None:
        raise NotFound(_("No retention rule %s is visible to you.") % pk)
    return rule


def retention_rule_exists(*, user: Any, record_class: str, category: Any = None) -> bool:
    """Return whether a rule for this class (and category) is already set."""
    return (
        retention_rule_list(user=user).filter(record_class=record_class, category=category).exists()
    )


def retention_run_list(*, user: Any) -> Any:
    """Return the runs of enforce_retention to privacy officers, newest first."""
    return RetentionRun.objects.visible_to(user).order_by("-pk")


def privacy_request_list(*, user: Any) -> Any:
    """Return the privacy requests `user` may see (their own, or all to privacy officers)."""
    from .models import PrivacyRequest

    return PrivacyRequest.objects.visible_to(user).order_by("-pk")


def privacy_request_get(*, user: Any, reference: str) -> Any:
    """Return one privacy request by reference, or NotFound if `user` may not see it."""
    from governance.errors import NotFound

    request = privacy_request_list(user=user).filter(reference=reference).first()
    if request is None:
        raise NotFound(
            _("No privacy request %s is visible to you; check the reference you were given.")
            % reference
        )
    return request


def own_subjects(*, user: Any) -> list[DataSubject]:
    """Return the data subjects linked to `user`'s own sign-in account."""
    if not getattr(user, "is_authenticated", False):
        return []
    return list(DataSubject.objects.filter(user_id=user.pk).order_by("pk"))
