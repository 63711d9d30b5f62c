"""How every governance write is recorded: who and why in the history, the transition row,
the ledger entry, and the row lock that keeps two writers from crossing."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _

from audits.choices import EventType
from audits.services import ledger_append
from governance.choices import (
    ComplaintStatus,
)
from governance.errors import InvalidTransition, PermissionDenied, ValidationFailed
from governance.models import (
    Complaint,
    ComplaintTransition,
)
from privacy.pseudonyms import actor_ref

# --- small shared steps ----------------------------------------------------------------------


def at_or_now(now: datetime | None) -> datetime:
    """Return `now` when a caller (the demo, a loader, a test) fixes the time, else the clock."""
    return now or timezone.now()


def sha256_hex(text: str) -> str:
    """Return the SHA-256 of `text` as hex: a commitment the ledger keeps instead of prose."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def stamp_history(obj: models.Model, actor: Any, reason: str = "", *, at: datetime) -> None:
    """Tell simple-history who made this change, why, and when: at the service's moment `at`,
    the time its transitions and ledger entries carry, so that a record written with a given
    time (the demo's past months, say) tells one story in every table."""
    obj._history_user = actor if actor is not None and actor.is_authenticated else None  # type: ignore[attr-defined]
    obj._change_reason = reason or None  # type: ignore[attr-defined]
    obj._history_date = at  # type: ignore[attr-defined]


_STAMP = ("_history_user", "_change_reason", "_history_date")


def spend_history_stamp(instance: models.Model, **kwargs: Any) -> None:
    """Forget `instance`'s stamp once its history row is written (connected to simple-history's
    `post_create_historical_record`), so that a later save of the same object, if one ever
    forgot to stamp, is dated at its own moment (and signed by the request's user, if any)
    rather than passed off as the last change."""
    for name in _STAMP:
        instance.__dict__.pop(name, None)


def full_clean_or_fail(obj: models.Model, message: str, **kwargs: Any) -> None:
    """Run the model's own validation, reporting its problems as a ValidationFailed."""
    try:
        obj.full_clean(**kwargs)
    except DjangoValidationError as exc:
        raise ValidationFailed(message, fields=exc.message_dict) from exc


def require(condition: bool, message: str) -> None:
    """Refuse with PermissionDenied(message) unless `condition` holds."""
    if not condition:
        raise PermissionDenied(message)


def lock_complaint(complaint: Complaint) -> Complaint:
    # Re-read under a row lock so two handlers cannot move the same complaint at once.
    return (
        Complaint.objects.select_for_update(of=("self",))
        .select_related("complainant", "affected_subject", "department", "category")
        .get(pk=complaint.pk)
    )


def transition(
    complaint: Complaint, to_status: str, *, actor: Any, reason: str, at: datetime
) -> ComplaintTransition:
    """Move `complaint` to `to_status` (unsaved), recording the transition and its ledger entry."""
    from_status = complaint.status
    allowed = complaint.allowed_next()
    if to_status not in allowed:
        raise InvalidTransition(
            _(
                "Complaint %(ref)s is %(status)s and cannot become %(to)s. "
                "Allowed next: %(allowed)s."
            )
            % {
                "ref": complaint.reference,
                "status": from_status,
                "to": to_status,
                "allowed": ", ".join(allowed) or _("none (the complaint is final)"),
            }
        )
    transition = ComplaintTransition(
        complaint=complaint,
        from_status=from_status,
        to_status=to_status,
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_ref=actor_ref(actor),
        reason=reason,
        at=at,
    )
    transition.save()
    complaint.status = to_status
    complaint.updated_at = at
    stamp_field = {
        ComplaintStatus.ACKNOWLEDGED: "acknowledged_at",
        ComplaintStatus.TRIAGED: "triaged_at",
        ComplaintStatus.DECIDED: "decided_at",
        ComplaintStatus.CLOSED: "closed_at",
        ComplaintStatus.WITHDRAWN: "closed_at",
    }.get(ComplaintStatus(to_status))
    if stamp_field and getattr(complaint, stamp_field) is None:
        setattr(complaint, stamp_field, at)
    ledger_append(
        event_type=EventType.COMPLAINT_TRANSITIONED,
        object_ref=f"complaint:{complaint.reference}",
        actor_ref=transition.actor_ref,
        data=transition_ledger_data(transition),
        at=at,
    )
    return transition


def transition_ledger_data(transition: ComplaintTransition) -> dict[str, Any]:
    """Return what the ledger records of a status change (the reason as a commitment)."""
    return {
        "transition": transition.pk,
        "from": transition.from_status,
        "to": transition.to_status,
        "reason_sha256": sha256_hex(transition.reason),
    }


def save_complaint(complaint: Complaint, actor: Any, reason: str, *, at: datetime) -> None:
    """Save the complaint with who changed it, why and when in its history."""
    stamp_history(complaint, actor, reason, at=at)
    complaint.save()
