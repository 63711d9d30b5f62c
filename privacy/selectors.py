"""Reads of personal data. Each one passes through here so it can be checked in one place."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from .models import DataSubject


def subject_get(*, user: Any, pseudonym: str) -> DataSubject:
    """Return one data subject by pseudonym, or NotFound if `user` may not look it up."""
    from governance.errors import NotFound

    subject = DataSubject.objects.visible_to(user).filter(pseudonym=pseudonym).first()
    if subject is None:
        raise NotFound(_("No data subject %s is visible to you.") % pseudonym)
    return subject
