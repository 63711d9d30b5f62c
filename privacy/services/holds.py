"""Legal holds: placed on a subject or a complaint, released with a reason.

While a hold stands, neither retention nor a deletion request erases the data it covers
(`privacy.erasure.subjects_erase` skips it), and the vault decrypts it for nobody but the
officers who manage holds: the data is only stored (PIPL Art. 47 para. 2).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audits.choices import EventType
from audits.services import ledger_append
from governance import policies
from governance.errors import Conflict, PermissionDenied, ValidationFailed
from governance.services.recording import at_or_now, sha256_hex, stamp_history
from privacy.models import DataKey, DataSubject, LegalHold
from privacy.pseudonyms import actor_ref


def hold_ref(hold: LegalHold) -> str:
    """Return the ledger reference of what `hold` covers: subject:<pseudonym> or complaint:<ref>."""
    if hold.subject is not None:
        return f"subject:{hold.subject.pseudonym}"
    if hold.complaint is not None:
        return f"complaint:{hold.complaint.reference}"
    raise ValueError(f"legal hold {hold.pk} covers nothing")  # the check constraint forbids it


@transaction.atomic
def legal_hold_place(
    *,
    actor: Any,
    subject: DataSubject | None = None,
    complaint: Any = None,
    reason: str,
    review_on: date | None,
    now: datetime | None = None,
) -> LegalHold:
    """Place a legal hold on one subject's or one complaint's personal data."""
    if not policies.can_manage_legal_holds(actor):
        raise PermissionDenied(
            _("Only privacy and compliance officers place legal holds; ask one of them.")
        )
    at = at_or_now(now)
    errors: dict[str, list[str]] = {}
    if (subject is None) == (complaint is None):
        errors["subject"] = [
            _("Name either a data subject (by pseudonym) or a complaint (by reference), not both.")
        ]
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = [_("Say why the data must be kept, e.g. the case or authority.")]
    if review_on is None:
        errors["review_on"] = [_("Give the date by which the hold must be reviewed.")]
    elif review_on <= timezone.localdate(at):
        errors["review_on"] = [_("Give a review date after today.")]
    if errors or review_on is None:
        raise ValidationFailed(
            _("The legal hold was not placed; correct the fields named."), fields=errors
        )
    # Lock the keys the hold covers, as an erasure does before it looks for holds: an erasure
    # under way finishes first (and the check below sees it), or waits and sees this hold.
    covered = (
        [subject.pk]
        if subject is not None
        else [i for i in (complaint.complainant_id, complaint.affected_subject_id) if i]
    )
    live = set(
        DataKey.objects.select_for_update()
        .filter(subject_id__in=covered, wrapped__isnull=False)
        .values_list("subject_id", flat=True)
    )
    if subject is not None and subject.pk not in live:
        raise Conflict(
            _("The personal data of %s has already been erased; there is nothing left to hold.")
            % subject.pseudonym
        )
    hold = LegalHold(
        subject=subject,
        complaint=complaint,
        reason=reason,
        review_on=review_on,
        placed_by=actor,
        placed_at=at,
    )
    stamp_history(hold, actor, _("Legal hold placed"), at=at)
    hold.save()
    ledger_append(
        event_type=EventType.LEGAL_HOLD_PLACED,
        object_ref=hold_ref(hold),
        actor_ref=actor_ref(actor),
        data={
            "hold": hold.pk,
            "reason_sha256": sha256_hex(reason),
            "review_on": review_on.isoformat(),
        },
        at=at,
    )
    return hold


@transaction.atomic
def legal_hold_release(
    *, actor: Any, hold: LegalHold, reason: str, now: datetime | None = None
) -> LegalHold:
    """Release a standing legal hold; retention and deletion apply to the data again."""
    if not policies.can_manage_legal_holds(actor):
        raise PermissionDenied(
            _("Only privacy and compliance officers release legal holds; ask one of them.")
        )
    # Locked, so two officers releasing at once cannot both succeed.
    hold = (
        LegalHold.objects.select_for_update(of=("self",))
        .select_related("subject", "complaint")
        .get(pk=hold.pk)
    )
    at = at_or_now(now)  # after the lock: the hold's rows are written in time order
    if hold.released_at is not None:
        raise Conflict(
            _("Legal hold %(id)s was already released on %(at)s; place a new one if needed.")
            % {"id": hold.pk, "at": f"{hold.released_at:%Y-%m-%d}"}
        )
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(
            _("The legal hold was not released; correct the fields named."),
            fields={"reason": [_("Say why the data need no longer be held.")]},
        )
    hold.released_at = at
    hold.released_by = actor
    hold.release_reason = reason
    stamp_history(hold, actor, _("Legal hold released"), at=at)
    hold.save()
    ledger_append(
        event_type=EventType.LEGAL_HOLD_RELEASED,
        object_ref=hold_ref(hold),
        actor_ref=actor_ref(actor),
        data={"hold": hold.pk, "reason_sha256": sha256_hex(reason)},
        at=at,
    )
    return hold
