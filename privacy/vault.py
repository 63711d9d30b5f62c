"""The one way in and out of personal data: sealing values under a person's key, and opening
them for a reader who may see them, with an access-log entry for every opening.

Writes (`seal_*`, `key_*`) run inside the calling service's transaction. Reads (`reveal_*`)
check the reader with `governance.policies.can_read_subject_data`, refuse with PermissionDenied
(and log nothing, as nothing was read), answer "erased" once the key is destroyed and "held"
to readers a legal hold shuts out, and otherwise decrypt and log who read what, when and why.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from governance import policies
from governance.errors import Conflict, PermissionDenied

from . import keys
from .choices import AccessOutcome, AccessPurpose, LookupField
from .models import AccessLogEntry, DataKey, DataSubject, LegalHold, PersonalNote, SubjectLookup
from .pseudonyms import actor_ref

CONTACT_FIELDS = ("full_name", "email", "phone", "account_handle", "ip_address")
READ = "read"
ERASED = "erased"
HELD = "held"


@dataclass(frozen=True)
class Revealed:
    """What a reader gets: the values, or the state that stands in for them."""

    state: str  # READ, ERASED or HELD
    values: dict[str, str] = field(default_factory=dict)

    @property
    def readable(self) -> bool:
        return self.state == READ

    def get(self, name: str) -> str | None:
        return self.values.get(name) if self.readable else None


# --- keys ------------------------------------------------------------------------------------


def key_for_writing(subject: DataSubject) -> bytes:
    """Return `subject`'s data key to seal new values (409 once it has been destroyed).

    The key row stays locked until the caller's transaction ends, so an erasure (a deletion
    request, a retention run) cannot destroy it between this read and the new value's write:
    the eraser waits, or skips this subject until its next run.
    """
    key = DataKey.objects.select_for_update().filter(subject_id=subject.pk).first()
    if key is None or key.wrapped is None:
        raise Conflict(
            _("The personal data of %s has been erased; nothing more is stored about them.")
            % subject.pseudonym
        )
    return keys.unwrap(key.kek_id, bytes(key.wrapped), subject.pseudonym)


def is_erased(subject: DataSubject) -> bool:
    """Return whether `subject`'s data key has been destroyed."""
    return DataKey.objects.filter(subject_id=subject.pk, wrapped__isnull=True).exists()


# --- sealing ---------------------------------------------------------------------------------


def seal_subject_fields(subject: DataSubject, data_key: bytes, values: Mapping[str, str]) -> None:
    """Set the ciphertext of each contact field given (empty values are stored as NULL)."""
    for name, value in values.items():
        if name not in CONTACT_FIELDS:
            raise ValueError(f"{name} is not a personal field of a data subject")
        text = (value or "").strip()
        blob = keys.encrypt(data_key, subject.record, name, text) if text else None
        setattr(subject, f"{name}_ct", blob)


def lookups_set(subject: DataSubject, values: Mapping[str, str]) -> None:
    """Index `subject` by the keyed hash of their exact email and phone, where given."""
    for name in (LookupField.EMAIL, LookupField.PHONE):
        value = (values.get(str(name)) or "").strip()
        if value:
            SubjectLookup.objects.update_or_create(
                subject=subject, field=name, defaults={"digest": keys.lookup_digest(name, value)}
            )


def seal_note(note: PersonalNote, data_key: bytes, text: str) -> None:
    """Set the ciphertext of a note's text."""
    note.text_ct = keys.encrypt(data_key, note.record, "text", text)


def subjects_by_contact(*, email: str = "", phone: str = "") -> list[DataSubject]:
    """Return the live subjects whose exact email or phone matches; no plaintext is searched."""
    wanted = Q(pk__in=[])
    if email.strip():
        wanted |= Q(field=LookupField.EMAIL, digest=keys.lookup_digest("email", email))
    if phone.strip():
        wanted |= Q(field=LookupField.PHONE, digest=keys.lookup_digest("phone", phone))
    ids = SubjectLookup.objects.filter(wanted).values("subject_id")
    return list(DataSubject.objects.filter(pk__in=ids).order_by("pk"))


# --- legal holds -----------------------------------------------------------------------------


def held_subject_ids(subject_ids: Iterable[int]) -> set[int]:
    """Return which of `subject_ids` a standing legal hold covers, on them or their complaints."""
    from governance.models import Complaint

    ids = list(subject_ids)
    active = LegalHold.objects.active()
    if not ids or not active.exists():  # the usual case, and one cheap query
        return set()
    held = set(active.filter(subject_id__in=ids).values_list("subject_id", flat=True))
    held_complaints = active.filter(complaint__isnull=False)
    for complainant_id, affected_id in Complaint.objects.filter(
        Q(complainant_id__in=ids) | Q(affected_subject_id__in=ids),
        pk__in=held_complaints.values("complaint_id"),
    ).values_list("complainant_id", "affected_subject_id"):
        held |= {complainant_id, affected_id} & set(ids)
    return held


def is_held(subject: DataSubject) -> bool:
    return bool(held_subject_ids([subject.pk]))


# --- reading ---------------------------------------------------------------------------------


def _open(
    reader: Any,
    subject: DataSubject,
    record: str,
    blobs: Mapping[str, bytes | memoryview | None],
    *,
    purpose: AccessPurpose,
    complaint: Any = None,
    appeal: Any = None,
    now: datetime | None = None,
) -> Revealed:
    if not policies.can_read_subject_data(reader, subject, complaint=complaint, appeal=appeal):
        raise PermissionDenied(_("You may not read this person's data."))
    key = DataKey.objects.filter(subject_id=subject.pk).first()
    erased = key is None or key.wrapped is None
    if not erased and is_held(subject) and not policies.can_read_held_data(reader):
        # Held data is only stored; nothing was decrypted, so nothing is logged.
        return Revealed(HELD)
    values: dict[str, str] = {}
    if key is not None and key.wrapped is not None:
        data_key = keys.unwrap(key.kek_id, bytes(key.wrapped), subject.pseudonym)
        values = {
            name: keys.decrypt(data_key, record, name, bytes(blob)) if blob is not None else ""
            for name, blob in blobs.items()
        }
    AccessLogEntry(
        at=now or timezone.now(),
        reader=reader if getattr(reader, "is_authenticated", False) else None,
        reader_ref=actor_ref(reader),
        subject=subject,
        record=record,
        fields=sorted(blobs),
        purpose=purpose,
        outcome=AccessOutcome.ERASED if erased else AccessOutcome.READ,
    ).save()
    return Revealed(ERASED) if erased else Revealed(READ, values)


def reveal_subject(
    reader: Any,
    subject: DataSubject,
    *,
    purpose: AccessPurpose,
    fields: Iterable[str] = CONTACT_FIELDS,
    complaint: Any = None,
    now: datetime | None = None,
) -> Revealed:
    """Decrypt `subject`'s contact fields for `reader` (checked and logged)."""
    blobs = {name: getattr(subject, f"{name}_ct") for name in fields}
    return _open(
        reader, subject, subject.record, blobs, purpose=purpose, complaint=complaint, now=now
    )


def reveal_note(
    reader: Any,
    note: PersonalNote,
    *,
    purpose: AccessPurpose,
    complaint: Any = None,
    appeal: Any = None,
    now: datetime | None = None,
) -> Revealed:
    """Decrypt a note's text for `reader` (checked and logged); the value is under "text"."""
    return _open(
        reader,
        note.subject,
        note.record,
        {"text": note.text_ct},
        purpose=purpose,
        complaint=complaint,
        appeal=appeal,
        now=now,
    )
