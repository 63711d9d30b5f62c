"""Reads of personal data. Each one passes through here so it can be checked in one place."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from .models import DataSubject, PersonalNote


def note_text(note: PersonalNote | None) -> str | None:
    """Return the text of `note`; callers have already checked the reader may see it."""
    return None if note is None else note.text


def subject_contact(subject: DataSubject) -> dict[str, str]:
    """Return the contact details of `subject`; callers have already checked the reader."""
    return {
        "full_name": subject.full_name,
        "email": subject.email,
        "phone": subject.phone,
        "account_handle": subject.account_handle,
    }


def subject_get(*, user: Any, pseudonym: str) -> DataSubject:
    """Return one data subject by pseudonym, or NotFound if `user` may not look it up."""
    from governance.errors import NotFound

    subject = DataSubject.objects.visible_to(user).filter(pseudonym=pseudonym).first()
    if subject is None:
        raise NotFound(_("No data subject %s is visible to you.") % pseudonym)
    return subject
