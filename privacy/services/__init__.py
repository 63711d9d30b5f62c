"""Every write of the privacy app. Import services from here: `from privacy import services`."""

from .subjects import note_create, subject_create, subject_for_user, subject_link_account

__all__ = [
    "note_create",
    "subject_create",
    "subject_for_user",
    "subject_link_account",
]
