"""People's requests about their own data: deletion, and access with portability.

A request is received (filed by a signed-in complainant, or recorded by a privacy officer when
it came by another channel), its requester's identity is verified, and it ends completed or
refused; a deletion that a legal hold blocks waits on_hold until the hold is released:

    received -> identity_verified | refused
    identity_verified -> completed | on_hold | refused
    on_hold -> completed | on_hold | refused

Completing is idempotent: completing a completed request returns it unchanged, with no second
erasure and no second ledger entry. No step reveals whether the person asked about exists: a
request for an unknown email is received, verified and completed like any other, and its
receipt names nothing. The ledger gets pseudonyms, counts and SHA-256 commitments only.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _
from rest_framework.authtoken.models import Token

from audits import signing
from audits.choices import EventType
from audits.models import LedgerEntry
from audits.services import ledger_append, system_actor_ref
from governance import deadlines, policies
from governance.choices import Role
from governance.errors import Conflict, InvalidTransition, PermissionDenied, ValidationFailed
from governance.services.recording import at_or_now, sha256_hex, stamp_history
from privacy import keys, receipts, vault
from privacy.choices import (
    AccessPurpose,
    ErasureCause,
    LookupField,
    RequestChannel,
    RequestKind,
    RequestStatus,
)
from privacy.erasure import subjects_erase
from privacy.models import DataSubject, PersonalNote, PrivacyRequest, SubjectLookup
from privacy.pseudonyms import actor_ref

logger = logging.getLogger(__name__)

S = RequestStatus

# The statuses each status may move to, in lifecycle order.
REQUEST_TRANSITIONS: dict[str, tuple[str, ...]] = {
    S.RECEIVED: (S.IDENTITY_VERIFIED, S.REFUSED),
    S.IDENTITY_VERIFIED: (S.COMPLETED, S.ON_HOLD, S.REFUSED),
    S.ON_HOLD: (S.COMPLETED, S.ON_HOLD, S.REFUSED),
    S.COMPLETED: (),
    S.REFUSED: (),
}
OPEN_REQUEST_STATUSES = frozenset({S.RECEIVED, S.IDENTITY_VERIFIED, S.ON_HOLD})
# A request is overdue, and escalated, while it waits on Ombud; on_hold waits on a legal hold.
AWAITING_STATUSES = (S.RECEIVED, S.IDENTITY_VERIFIED)
EXPORT_FORMAT = "ombud-export/v1"


@dataclass(frozen=True)
class Completion:
    """What completing a request gives back: the request, and for an access request the copy
    of the data (None when the request was already completed: the copy is never stored)."""

    request: PrivacyRequest
    export: dict[str, Any] | None = None
    changed: bool = True


def request_allowed_next(request: PrivacyRequest) -> list[str]:
    """Return the statuses `request` may move to next."""
    return list(REQUEST_TRANSITIONS[request.status])


def request_ref(request: PrivacyRequest) -> str:
    """Return the ledger reference of a request."""
    return f"privacy_request:{request.reference}"


# --- small steps -----------------------------------------------------------------------------


def _kind(kind: str) -> RequestKind:
    if kind not in RequestKind.values:
        raise ValidationFailed(
            _("The request was not recorded; correct the fields named."),
            fields={"kind": [_("Choose one of: %s.") % ", ".join(RequestKind.values)]},
        )
    return RequestKind(kind)


def _new_reference(year: int) -> str:
    # Random, not counted: a reference must not tell how many requests others have made.
    while True:
        reference = f"PRQ-{year}-{secrets.token_hex(4).upper()}"
        if not PrivacyRequest.objects.filter(reference=reference).exists():
            return reference


def _lock(request: PrivacyRequest) -> PrivacyRequest:
    # Re-read under a row lock so two officers cannot move the same request at once.
    return PrivacyRequest.objects.select_for_update().get(pk=request.pk)


def _require_handler(actor: Any) -> None:
    if not policies.can_handle_privacy_requests(actor):
        raise PermissionDenied(
            _("Only privacy officers handle people's requests; pass it to one of them.")
        )


def _check_move(request: PrivacyRequest, to_status: str, hint: str = "") -> None:
    allowed = request_allowed_next(request)
    if to_status in allowed:
        return
    message = _(
        "Privacy request %(ref)s is %(status)s and cannot become %(to)s. Allowed next: %(allowed)s."
    ) % {
        "ref": request.reference,
        "status": request.status,
        "to": to_status,
        "allowed": ", ".join(allowed) or _("none (the request is closed)"),
    }
    raise InvalidTransition(f"{message} {hint}".strip())


def _move(
    request: PrivacyRequest,
    to_status: str,
    *,
    actor: Any,
    at: datetime,
    data: dict[str, Any] | None = None,
    reason: str = "",
) -> LedgerEntry:
    """Save `request` in `to_status` with its history, and append the ledger entry."""
    from_status = request.status
    request.status = to_status
    if to_status in (S.COMPLETED, S.REFUSED):
        request.closed_at, request.closed_by = at, actor
        request.lookup_digests = []  # the request has ended: nothing may find the person now
    stamp_history(request, actor, reason or _("Privacy request %s") % to_status, at=at)
    request.save()
    return ledger_append(
        event_type=EventType.PRIVACY_REQUEST_CHANGED,
        object_ref=request_ref(request),
        actor_ref=actor_ref(actor),
        data={"from": from_status, "to": to_status, **(data or {})},
        at=at,
    )


def _covered_subjects(request: PrivacyRequest) -> list[DataSubject]:
    """Return the data subjects a request covers: those recorded at verification, plus any the
    requester's account or the contact given has come to match since."""
    wanted = Q(pseudonym__in=list(request.subjects))
    if request.channel == RequestChannel.SELF_SERVICE and request.requester_id is not None:
        wanted |= Q(user_id=request.requester_id)
        # Staff may have recorded the same person from a call or letter, unlinked to the
        # account: the account's email finds those records by their lookup digest.
        email = (
            get_user_model()
            .objects.filter(pk=request.requester_id)
            .values_list("email", flat=True)
            .first()
        )
        if email:
            wanted |= Q(pk__in=[s.pk for s in vault.subjects_by_contact(email=email)])
    digests = Q(pk__in=[])
    for item in request.lookup_digests:
        digests |= Q(field=item["field"], digest=item["digest"])
    if request.lookup_digests:
        wanted |= Q(pk__in=SubjectLookup.objects.filter(digests).values("subject_id"))
    return list(DataSubject.objects.filter(wanted).order_by("pk"))


def _create(
    *,
    actor: Any,
    kind: RequestKind,
    channel: RequestChannel,
    requester: Any,
    digests: list[dict[str, str]],
    at: datetime,
) -> PrivacyRequest:
    request = PrivacyRequest(
        reference=_new_reference(deadlines.business_date(at).year),
        kind=kind,
        channel=channel,
        status=S.RECEIVED,
        requester=requester,
        lookup_digests=digests,
        received_at=at,
        due_at=deadlines.due_at(
            at, deadlines.privacy_request_target(), deadlines.holidays_from(at)
        ),
        recorded_by=actor,
    )
    stamp_history(request, actor, _("Privacy request received"), at=at)
    request.save()
    ledger_append(
        event_type=EventType.PRIVACY_REQUEST_RECEIVED,
        object_ref=request_ref(request),
        actor_ref=actor_ref(actor),
        data={
            "kind": str(kind),
            "channel": str(channel),
            "due_at": request.due_at.isoformat(),
            # Which contact fields were given, never their values or even their keyed hashes.
            "lookup_fields": sorted(item["field"] for item in digests),
        },
        at=at,
    )
    return request


# --- receiving -------------------------------------------------------------------------------


@transaction.atomic
def privacy_request_file(
    *, actor: Any, kind: str, now: datetime | None = None
) -> tuple[PrivacyRequest, bool]:
    """File a deletion or access request for oneself, signed in; return it and whether it is new.

    Idempotent: while the same person has an open request of the same kind, that one is
    returned (and False) instead of a second one.
    """
    if not policies.can_make_privacy_request(actor):
        raise PermissionDenied(
            _(
                "Only complainants file requests about their own data here; a privacy officer "
                "records requests received by other channels."
            )
        )
    request_kind = _kind(kind)
    at = at_or_now(now)
    # Lock the requester's account: two clicks at once must not open two requests.
    get_user_model().objects.select_for_update().get(pk=actor.pk)
    existing = (
        PrivacyRequest.objects.filter(
            requester=actor, kind=request_kind, status__in=sorted(OPEN_REQUEST_STATUSES)
        )
        .order_by("pk")
        .first()
    )
    if existing is not None:
        return existing, False
    request = _create(
        actor=actor,
        kind=request_kind,
        channel=RequestChannel.SELF_SERVICE,
        requester=actor,
        digests=[],
        at=at,
    )
    return request, True


@transaction.atomic
def privacy_request_record(
    *, actor: Any, kind: str, email: str = "", phone: str = "", now: datetime | None = None
) -> PrivacyRequest:
    """Record a request received by another channel (letter, phone, e-mail to the DPO).

    Only keyed hashes of the email and phone given are kept, and nobody is looked up yet: the
    answer is the same whether or not Ombud holds anything about the person.
    """
    _require_handler(actor)
    errors: dict[str, list[str]] = {}
    if kind not in RequestKind.values:
        errors["kind"] = [_("Choose one of: %s.") % ", ".join(RequestKind.values)]
    email, phone = (email or "").strip(), (phone or "").strip()
    if not (email or phone):
        errors["email"] = [_("Give the email or the phone the person gave, to find their data.")]
    if email:
        try:
            validate_email(email)
        except DjangoValidationError:
            errors["email"] = [_("Enter the email exactly as the person gave it.")]
    if phone and not any(c.isdigit() for c in phone):
        errors["phone"] = [_("Enter the phone number with its digits, e.g. +86 138 0000 0000.")]
    if errors:
        raise ValidationFailed(
            _("The request was not recorded; correct the fields named."), fields=errors
        )
    digests = [
        {"field": str(name), "digest": keys.lookup_digest(name, value)}
        for name, value in ((LookupField.EMAIL, email), (LookupField.PHONE, phone))
        if value
    ]
    return _create(
        actor=actor,
        kind=RequestKind(kind),
        channel=RequestChannel.OTHER,
        requester=None,
        digests=digests,
        at=at_or_now(now),
    )


# --- handling --------------------------------------------------------------------------------


@transaction.atomic
def privacy_request_verify_identity(
    *, actor: Any, request: PrivacyRequest, now: datetime | None = None
) -> PrivacyRequest:
    """Record that the requester's identity was verified, and which data subjects it covers."""
    _require_handler(actor)
    request = _lock(request)
    at = at_or_now(now)  # after the lock: the request's rows are written in time order
    _check_move(request, S.IDENTITY_VERIFIED)
    request.subjects = sorted(s.pseudonym for s in _covered_subjects(request))
    request.verified_at, request.verified_by = at, actor
    _move(
        request,
        S.IDENTITY_VERIFIED,
        actor=actor,
        at=at,
        data={"subjects": len(request.subjects)},
        reason=_("Identity verified"),
    )
    return request


@transaction.atomic
def privacy_request_refuse(
    *,
    actor: Any,
    request: PrivacyRequest,
    reason: str,
    legal_basis: str,
    now: datetime | None = None,
) -> PrivacyRequest:
    """Refuse a request, saying why and on what legal basis (both are told to the requester)."""
    _require_handler(actor)
    reason, legal_basis = (reason or "").strip(), (legal_basis or "").strip()
    errors: dict[str, list[str]] = {}
    if not reason:
        errors["reason"] = [_("Say why the request is refused; the requester is told.")]
    if not legal_basis:
        errors["legal_basis"] = [
            _("Name the legal basis for refusing, e.g. the article and law that allow it.")
        ]
    if errors:
        raise ValidationFailed(
            _("The request was not refused; correct the fields named."), fields=errors
        )
    request = _lock(request)
    at = at_or_now(now)  # after the lock: the request's rows are written in time order
    _check_move(request, S.REFUSED)
    request.refusal_reason, request.legal_basis = reason, legal_basis
    _move(
        request,
        S.REFUSED,
        actor=actor,
        at=at,
        data={
            "reason_sha256": sha256_hex(reason),
            "legal_basis_sha256": sha256_hex(legal_basis),
        },
        reason=_("Refused"),
    )
    return request


@transaction.atomic
def privacy_request_complete(
    *, actor: Any, request: PrivacyRequest, now: datetime | None = None
) -> Completion:
    """Carry a verified request out: erase (deletion) or produce the copy of the data (access).

    A deletion that a legal hold blocks erases what no hold covers and goes on_hold; complete
    it again once the hold is released. Completing a completed request returns it unchanged.
    """
    _require_handler(actor)
    request = _lock(request)
    at = at_or_now(now)  # after the lock: the request's rows are written in time order
    if request.status == S.COMPLETED:
        return Completion(request, None, changed=False)
    if request.status == S.RECEIVED:
        _check_move(request, S.COMPLETED, _("Verify the requester's identity first."))
    _check_move(request, S.COMPLETED)
    subjects = _covered_subjects(request)
    request.subjects = sorted({*request.subjects, *(s.pseudonym for s in subjects)})
    if request.kind == RequestKind.ACCESS:
        export = _export(actor, subjects, request=request, at=at)
        _move(
            request,
            S.COMPLETED,
            actor=actor,
            at=at,
            data={"export_seq": export["ledger_seq"]},
            reason=_("Copy of the data produced"),
        )
        return Completion(request, export)
    return Completion(_complete_deletion(actor, request, subjects, at))


def _complete_deletion(
    actor: Any, request: PrivacyRequest, subjects: Sequence[DataSubject], at: datetime
) -> PrivacyRequest:
    erased, held = subjects_erase(
        subject_ids=[s.pk for s in subjects], cause=ErasureCause.DELETION_REQUEST, now=at
    )
    if erased:
        ledger_append(
            event_type=EventType.SUBJECT_ERASED,
            object_ref=request_ref(request),
            actor_ref=actor_ref(actor),
            data={
                "cause": str(ErasureCause.DELETION_REQUEST),
                "request": request.reference,
                "subjects": erased,
                "held": held,
            },
            at=at,
        )
    if held:
        if request.status == S.ON_HOLD and not erased:
            raise Conflict(
                _(
                    "A legal hold still covers %(held)s, so request %(ref)s stays on hold and "
                    "nothing was erased. Complete it again once the hold is released, or refuse "
                    "it with the hold's legal basis."
                )
                % {"held": ", ".join(held), "ref": request.reference}
            )
        _move(
            request,
            S.ON_HOLD,
            actor=actor,
            at=at,
            data={"held": held, "erased": erased},
            reason=_("On hold: a legal hold covers some of the data"),
        )
        return request
    # Every erasure this request caused, over all its rounds, is named by the receipt.
    erasures = list(
        LedgerEntry.objects.filter(
            event_type=EventType.SUBJECT_ERASED, object_ref=request_ref(request)
        ).order_by("seq")
    )
    erased_all = sorted({p for e in erasures for p in json.loads(e.body)["data"]["subjects"]})
    recipients = _accounts_close(request, subjects)
    completion = _move(
        request,
        S.COMPLETED,
        actor=actor,
        at=at,
        data={"erasure_seqs": [e.seq for e in erasures], "erased": len(erased_all)},
        reason=_("Erased"),
    )
    # The receipt names the entries that record the erasure; with nothing left to erase, the
    # one that records the completion.
    proof = erasures or [completion]
    receipt = receipts.DeletionReceipt(
        origin=signing.key_name(),
        request=request.reference,
        time=at,
        erased=tuple(erased_all),
        ledger=tuple(receipts.LedgerRef(e.seq, e.leaf_hash) for e in proof),
    )
    request.receipt = receipts.receipt_sign(receipt)
    request.ledger_seq = proof[-1].seq
    stamp_history(request, actor, _("Deletion receipt issued"), at=at)
    request.save(update_fields=["receipt", "ledger_seq"])
    if recipients:
        transaction.on_commit(
            partial(_send_receipt, recipients, request.reference, request.receipt)
        )
    return request


def _accounts_close(request: PrivacyRequest, subjects: Iterable[DataSubject]) -> list[str]:
    """Scrub the sign-in accounts of the person (auth_user is not encrypted) and return the
    addresses they had, to send the receipt to once the transaction commits."""
    user_ids = {s.user_id for s in subjects if s.user_id is not None}
    if request.channel == RequestChannel.SELF_SERVICE and request.requester_id is not None:
        user_ids.add(request.requester_id)
    return accounts_close(user_ids)


def accounts_close(user_ids: Iterable[int]) -> list[str]:
    """Close the given sign-in accounts for good and return the addresses they had.

    The account stays, so the complaints and decisions that point at it stay whole, but it
    names nobody and can no longer sign in: "erased-<id>", no email or name, no password, no
    token, inactive. The admin's change log, which repeats the username, is scrubbed too.
    Runs inside the caller's transaction.
    """
    user_ids = set(user_ids)
    user_model = get_user_model()
    recipients: list[str] = []
    for user in user_model.objects.select_for_update().filter(pk__in=sorted(user_ids)):
        if user.email:
            recipients.append(user.email)
        user.username = f"erased-{user.pk}"
        user.email = ""
        user.first_name = ""
        user.last_name = ""
        user.set_unusable_password()
        user.is_active = False
        user.save()
        Token.objects.filter(user=user).delete()
    if user_ids:
        LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(user_model),
            object_id__in=[str(pk) for pk in user_ids],
        ).update(object_repr="erased")
    return recipients


def _send_receipt(recipients: list[str], reference: str, receipt: str) -> None:
    try:
        send_mail(
            subject=_("[Ombud] Your deletion request %s is complete") % reference,
            message=_(
                "Your data has been erased and your account closed. Below is your signed "
                "deletion receipt; keep it. It names what was erased and the ledger entry that "
                "records it, and anyone can check its signature with Ombud's ledger key.\n\n%s"
            )
            % receipt,
            from_email=None,
            recipient_list=recipients,
        )
    except OSError as exc:
        # The erasure stands either way; the officer can hand the receipt over from the API.
        # No traceback and no exception text: a refused recipient's error quotes the address
        # of the person just erased.
        logger.error(
            "Could not e-mail the deletion receipt of %s (%s)", reference, type(exc).__name__
        )


# --- the copy of a person's data -------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


@transaction.atomic
def privacy_export(
    *,
    actor: Any,
    subjects: Iterable[DataSubject] | None = None,
    request: PrivacyRequest | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Return a copy of everything Ombud holds about a person, ready to serialise as JSON.

    Give `subjects` (a complainant's own, for the self-service download) or a verified access
    `request` (a privacy officer answering it). Each decryption is checked and logged in the
    access log with purpose "export", and the ledger records the export (pseudonyms and counts).
    Nothing of the copy is stored.
    """
    at = at_or_now(now)
    if (subjects is None) == (request is None):
        raise ValueError("give either subjects or a request")
    if request is not None:
        _require_handler(actor)
        if request.kind != RequestKind.ACCESS:
            raise Conflict(
                _("Request %s asks for deletion, not a copy; record an access request.")
                % request.reference
            )
        if request.status != S.IDENTITY_VERIFIED:
            raise Conflict(
                _("Request %s is %s; verify the requester's identity before exporting.")
                % (request.reference, RequestStatus(request.status).label)
            )
        return _export(actor, _covered_subjects(request), request=request, at=at)
    chosen = list(subjects or [])
    if not policies.can_make_privacy_request(actor) or any(s.user_id != actor.pk for s in chosen):
        raise PermissionDenied(
            _(
                "You can download only your own data. For someone else's, a privacy officer "
                "answers an access request."
            )
        )
    return _export(actor, chosen, request=None, at=at)


def _export(
    reader: Any,
    subjects: Sequence[DataSubject],
    *,
    request: PrivacyRequest | None,
    at: datetime,
) -> dict[str, Any]:
    from governance.models import Complaint

    ids = {s.pk for s in subjects}
    shown_notes: set[int] = set()

    def note(n: PersonalNote | None, **context: Any) -> dict[str, Any] | None:
        if n is None:
            return None
        shown_notes.add(n.pk)
        revealed = vault.reveal_note(reader, n, purpose=AccessPurpose.EXPORT, now=at, **context)
        return {"state": revealed.state, "text": revealed.get("text")}

    people = []
    for subject in subjects:
        revealed = vault.reveal_subject(reader, subject, purpose=AccessPurpose.EXPORT, now=at)
        people.append(
            {
                "pseudonym": subject.pseudonym,
                "kind": subject.kind,
                "recorded_at": _iso(subject.created_at),
                "personal_data": revealed.state,
                "fields": dict(revealed.values) if revealed.readable else None,
            }
        )

    complaints = (
        Complaint.objects.filter(Q(complainant_id__in=ids) | Q(affected_subject_id__in=ids))
        .select_related(
            "category",
            "department",
            "complainant",
            "description__subject",
            "rating__comment__subject",
        )
        .prefetch_related(
            "transitions",
            "decisions__policy_clause",
            "decisions__decided_by",
            "appeals__statement__subject",
        )
        .order_by("received_at", "pk")
    )
    counts = {"complaints": 0, "decisions": 0, "appeals": 0, "ratings": 0, "notes": 0}
    complaints_out = []
    for complaint in complaints:
        own = complaint.complainant_id in ids
        counts["complaints"] += 1
        entry: dict[str, Any] = {
            "reference": complaint.reference,
            "role": "complainant" if own else "reported_account_holder",
            "status": complaint.status,
            "channel": complaint.channel,
            "category": complaint.category.code,
            "department": complaint.department.code,
            "content_url": complaint.content_url,
            "content_id": complaint.content_id,
            "received_at": _iso(complaint.received_at),
            "acknowledged_at": _iso(complaint.acknowledged_at),
            "triaged_at": _iso(complaint.triaged_at),
            "decided_at": _iso(complaint.decided_at),
            "closed_at": _iso(complaint.closed_at),
            # The description is the complainant's own text, sealed under their key.
            "description": note(complaint.description, complaint=complaint) if own else None,
            "transitions": [
                {
                    "from": t.from_status,
                    "to": t.to_status,
                    "at": _iso(t.at),
                    **({"reason": t.reason} if own else {}),
                }
                for t in sorted(complaint.transitions.all(), key=lambda t: (t.at, t.pk))
            ],
            "decisions": [],
            "appeals": [],
            "rating": None,
        }
        for d in sorted(complaint.decisions.all(), key=lambda d: (d.decided_at, d.pk)):
            counts["decisions"] += 1
            entry["decisions"].append(
                {
                    "id": d.pk,
                    "kind": d.kind,
                    "outcome": d.outcome,
                    "actions": d.actions,
                    "ground": d.ground,
                    "ground_reference": d.ground_reference,
                    "policy_clause": {
                        "code": d.policy_clause.code,
                        "version": d.policy_clause.version,
                    },
                    "facts": d.facts,
                    "reasons": d.reasons,
                    "territorial_scope": d.territorial_scope,
                    "restriction_end": d.restriction_end.isoformat() if d.restriction_end else None,
                    "decided_at": _iso(d.decided_at),
                    # Staff are named by pseudonym: the copy is of the person's data, not theirs.
                    "decided_by": actor_ref(d.decided_by),
                    "supersedes": d.supersedes_id,
                    "appeal_outcome": d.appeal_outcome,
                }
            )
        for appeal in complaint.appeals.all():
            if appeal.appellant_id not in ids:
                continue  # the other party's appeal and statement are theirs, not this person's
            counts["appeals"] += 1
            entry["appeals"].append(
                {
                    "id": appeal.pk,
                    "decision": appeal.decision_id,
                    "appellant_role": appeal.appellant_role,
                    "status": appeal.status,
                    "filed_at": _iso(appeal.filed_at),
                    "decided_at": _iso(appeal.decided_at),
                    "statement": note(appeal.statement, appeal=appeal),
                }
            )
        rating = getattr(complaint, "rating", None) if own else None
        if rating is not None:
            counts["ratings"] += 1
            entry["rating"] = {
                "score": rating.score,
                "rated_at": _iso(rating.rated_at),
                "comment": note(rating.comment, complaint=complaint),
            }
        complaints_out.append(entry)

    # Anything else written by or about them (a withdrawal reason, say).
    other_notes = [
        {"kind": n.kind, "created_at": _iso(n.created_at), **(note(n) or {})}
        for n in PersonalNote.objects.filter(subject_id__in=ids)
        .exclude(pk__in=sorted(shown_notes))
        .select_related("subject")
        .order_by("pk")
    ]
    counts["notes"] = len(shown_notes)

    user_ids = {s.user_id for s in subjects if s.user_id is not None}
    accounts = [
        {
            "username": u.get_username(),
            "email": u.email,
            "first_name": u.first_name,
            "last_name": u.last_name,
            "date_joined": _iso(u.date_joined),
        }
        for u in get_user_model().objects.filter(pk__in=sorted(user_ids)).order_by("pk")
    ]
    requests = [
        {
            "reference": r.reference,
            "kind": r.kind,
            "status": r.status,
            "received_at": _iso(r.received_at),
            "due_at": _iso(r.due_at),
            "closed_at": _iso(r.closed_at),
            "refusal_reason": r.refusal_reason,
            "legal_basis": r.legal_basis,
        }
        for r in PrivacyRequest.objects.filter(requester_id__in=sorted(user_ids)).order_by("pk")
    ]

    pseudonyms = sorted(s.pseudonym for s in subjects)
    entry_ = ledger_append(
        event_type=EventType.DATA_EXPORTED,
        object_ref=request_ref(request) if request is not None else f"own_data:{actor_ref(reader)}",
        actor_ref=actor_ref(reader),
        data={
            "request": request.reference if request is not None else None,
            "subjects": pseudonyms,
            **counts,
        },
        at=at,
    )
    return {
        "format": EXPORT_FORMAT,
        "produced_at": _iso(at),
        "request": request.reference if request is not None else None,
        "ledger_seq": entry_.seq,
        "accounts": accounts,
        "subjects": people,
        "complaints": complaints_out,
        "other_notes": other_notes,
        "privacy_requests": requests,
    }


# --- deadlines -------------------------------------------------------------------------------


def _privacy_officers() -> list[Any]:
    return list(
        get_user_model()
        .objects.filter(
            role_memberships__role=Role.PRIVACY_OFFICER,
            role_memberships__revoked_at__isnull=True,
            is_active=True,
        )
        .distinct()
        .order_by("pk")
    )


def _notify_officers(recipients: list[str], reference: str, due: datetime) -> None:
    if not recipients:
        logger.warning(
            "Privacy request %s is overdue and escalated, but no privacy officer has an e-mail "
            "address",
            reference,
        )
        return
    values = {"ref": reference, "due": due.isoformat()}
    try:
        send_mail(
            subject=_("[Ombud] Privacy request %(ref)s is overdue") % values,
            message=_(
                "Privacy request %(ref)s was due %(due)s and is still open.\n"
                "Open it in Ombud to verify the requester, complete it or refuse it."
            )
            % values,
            from_email=None,
            recipient_list=recipients,
        )
    except OSError as exc:
        # The escalation is recorded either way; a mail outage must not undo it. The error's
        # text (it may quote addresses) stays out of the log.
        logger.error(
            "Could not e-mail the privacy officers about %s (%s)", reference, type(exc).__name__
        )


def privacy_requests_escalate(*, now: datetime | None = None) -> int:
    """Escalate each overdue open request to the privacy officers, once; return how many.

    Idempotent and safe to run twice at once: the conditional update of `escalated_at` lets one
    run win each request; the other skips it.
    """
    cutoff = at_or_now(now)
    officers = _privacy_officers()
    recipients = [o.email for o in officers if o.email]
    escalated_to = sorted(actor_ref(o) for o in officers)
    overdue = (
        PrivacyRequest.objects.filter(
            status__in=AWAITING_STATUSES, due_at__lt=cutoff, escalated_at__isnull=True
        )
        .order_by("pk")
        .values_list("pk", "reference", "due_at")
    )
    count = 0
    for pk, reference, due in overdue:
        # Each request's own moment: the run e-mails as it goes, and may take a while.
        at = at_or_now(now)
        with transaction.atomic():
            won = PrivacyRequest.objects.filter(
                pk=pk, status__in=AWAITING_STATUSES, escalated_at__isnull=True
            ).update(escalated_at=at)
            if not won:
                continue  # another run escalated it first, or it was answered meanwhile
            request = PrivacyRequest.objects.get(pk=pk)
            stamp_history(request, None, _("Overdue: escalated to the privacy officers"), at=at)
            request.save(update_fields=["escalated_at"])  # for the history row
            ledger_append(
                event_type=EventType.SLA_BREACHED,
                object_ref=f"privacy_request:{reference}",
                actor_ref=system_actor_ref("sla_escalate"),
                data={
                    "stage": "privacy_request",
                    "due_at": due.isoformat(),
                    "escalated_to": escalated_to,
                },
                at=at,
            )
            transaction.on_commit(partial(_notify_officers, recipients, reference, due))
        count += 1
    return count
