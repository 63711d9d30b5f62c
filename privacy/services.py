"""Writes of personal data. Each runs inside the caller's transaction or its own."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from audits.choices import EventType
from audits.services import ledger_append

from .choices import NoteKind, SubjectKind
from .models import DataSubject, PersonalNote
from .pseudonyms import actor_ref


@transaction.atomic
def subject_create(
    *,
    actor: Any,
    kind: SubjectKind,
    user: Any = None,
    full_name: str = "",
    email: str = "",
    phone: str = "",
    account_handle: str = "",
    now: datetime | None = None,
) -> DataSubject:
    """Record a data subject; the ledger gets only the pseudonym, never the data."""
    subject = DataSubject(
        kind=kind,
        user=user,
        full_name=full_name.strip(),
        email=email.strip().lower(),
        phone=phone.strip(),
        account_handle=account_handle.strip(),
    )
    subject._history_user = actor if actor is not None and actor.is_authenticated else None  # type: ignore[attr-defined]
    subject.save()
    ledger_append(
        event_type=EventType.SUBJECT_CREATED,
        object_ref=f"subject:{subject.pseudonym}",
        actor_ref=actor_ref(actor),
        data={"kind": str(kind), "has_account": user is not None},
        at=now,
    )
    return subject


def subject_for_user(*, user: Any, kind: SubjectKind) -> DataSubject | None:
    """Return the existing data subject of this kind linked to `user`, if any."""
    return DataSubject.objects.filter(user=user, kind=kind).order_by("pk").first()


def note_create(*, subject: DataSubject, kind: NoteKind, text: str) -> PersonalNote:
    """Store a piece of free text about `subject`; call inside the owning write's transaction."""
    note = PersonalNote(subject=subject, kind=kind, text=text)
    note.save()
    return note


@transaction.atomic
def subject_link_account(
    *, actor: Any, subject: DataSubject, user: Any, now: datetime | None = None
) -> DataSubject:
    """Link a data subject to the sign-in account of the same person, once identity is verified.

    This is how a reported account holder comes to follow, and appeal, a complaint about them.
    """
    from governance import policies
    from governance.choices import Role
    from governance.errors import Conflict, PermissionDenied, ValidationFailed

    if not policies.can_link_subject_accounts(actor):
        raise PermissionDenied(_("Only privacy officers, who verify identities, link accounts."))
    subject = DataSubject.objects.select_for_update().get(pk=subject.pk)
    if subject.user_id is not None:
        raise Conflict(_("This data subject is already linked to a sign-in account."))
    if not policies.roles_of(user).has(Role.COMPLAINANT):
        raise ValidationFailed(
            _("The account was not linked."),
            fields={"username": [_("Grant this account the complainant role first.")]},
        )
    subject.user = user
    subject._history_user = actor  # type: ignore[attr-defined]
    subject._change_reason = "Identity verified; linked to a sign-in account"  # type: ignore[attr-defined]
    subject.save()
    ledger_append(
        event_type=EventType.SUBJECT_LINKED,
        object_ref=f"subject:{subject.pseudonym}",
        actor_ref=actor_ref(actor),
        data={"account": actor_ref(user)},
        at=now,
    )
    return subject
