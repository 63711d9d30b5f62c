"""Writes of personal data. Each runs inside the caller's transaction or its own."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from audits.choices import EventType
from audits.services import ledger_append
from governance.services.recording import at_or_now, stamp_history
from privacy import keys, vault
from privacy.choices import NoteKind, SubjectKind
from privacy.models import DataKey, DataSubject, PersonalNote
from privacy.pseudonyms import actor_ref


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
    ip_address: str = "",
    now: datetime | None = None,
) -> DataSubject:
    """Record a data subject with a data key of their own; their fields are stored encrypted.

    The ledger gets only the pseudonym, never the data. Email and phone are also indexed by a
    keyed hash, so a privacy officer can find the person by an exact match.
    """
    values = {
        "full_name": full_name,
        "email": email.strip().lower(),
        "phone": phone,
        "account_handle": account_handle,
        "ip_address": ip_address,
    }
    at = at_or_now(now)
    subject = DataSubject(kind=kind, user=user, created_at=at)
    data_key = keys.new_data_key()
    vault.seal_subject_fields(subject, data_key, values)
    stamp_history(subject, actor, at=at)
    subject.save()
    kek_id, wrapped = keys.wrap(data_key, subject.pseudonym)
    DataKey.objects.create(subject=subject, kek_id=kek_id, wrapped=wrapped, created_at=at)
    vault.lookups_set(subject, values)
    ledger_append(
        event_type=EventType.SUBJECT_CREATED,
        object_ref=f"subject:{subject.pseudonym}",
        actor_ref=actor_ref(actor),
        data={"kind": str(kind), "has_account": user is not None},
        at=at,
    )
    return subject


def subject_for_user(*, user: Any, kind: SubjectKind) -> DataSubject | None:
    """Return the live data subject of this kind linked to `user`, if any (never an erased one:
    a person whose old data has been erased starts afresh)."""
    return (
        DataSubject.objects.filter(user=user, kind=kind, data_key__wrapped__isnull=False)
        .order_by("pk")
        .first()
    )


def note_create(
    *, actor: Any, subject: DataSubject, kind: NoteKind, text: str, at: datetime
) -> PersonalNote:
    """Store a piece of free text about `subject`, encrypted under their key; call inside the
    owning write's transaction, with its actor and moment (409 if the subject's data has been
    erased)."""
    note = PersonalNote(subject=subject, kind=kind, created_at=at)
    vault.seal_note(note, vault.key_for_writing(subject), text)
    stamp_history(note, actor, at=at)
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
    at = at_or_now(now)
    if subject.user_id is not None:
        raise Conflict(_("This data subject is already linked to a sign-in account."))
    if not policies.roles_of(user).has(Role.COMPLAINANT):
        raise ValidationFailed(
            _("The account was not linked."),
            fields={"username": [_("Grant this account the complainant role first.")]},
        )
    subject.user = user
    stamp_history(subject, actor, "Identity verified; linked to a sign-in account", at=at)
    subject.save()
    ledger_append(
        event_type=EventType.SUBJECT_LINKED,
        object_ref=f"subject:{subject.pseudonym}",
        actor_ref=actor_ref(actor),
        data={"account": actor_ref(user)},
        at=at,
    )
    return subject
