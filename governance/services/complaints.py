"""Writes of a complaint's lifecycle before its decision: filing, handling steps, rating."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils.translation import gettext as _

from audits.choices import EventType
from audits.services import ledger_append
from governance import deadlines, policies
from governance.choices import (
    PRIORITY_MATRIX,
    Channel,
    ComplaintStatus,
    Role,
    Severity,
    Urgency,
)
from governance.errors import Conflict, ValidationFailed
from governance.models import (
    Assignment,
    Category,
    Complaint,
    Department,
    Rating,
    ReferenceCounter,
)
from privacy import services as privacy_services
from privacy.choices import NoteKind, SubjectKind
from privacy.models import SubjectLookup
from privacy.pseudonyms import actor_ref

from .recording import (
    at_or_now,
    full_clean_or_fail,
    lock_complaint,
    require,
    save_complaint,
    sha256_hex,
    stamp_history,
    transition,
)

SELF_SERVICE_CHANNELS = frozenset({Channel.WEB_FORM, Channel.IN_APP, Channel.API})
MAX_DESCRIPTION = 10000
# A complaint filed within this long after an earlier one by the same complainant, or about the
# same content, is a repeat (oversight reports count them).
REPEAT_WINDOW = timedelta(days=90)


def _holidays_from(start: datetime) -> list[date]:
    return deadlines.holidays_from(start)


def priority_for(severity: str, urgency: str) -> str:
    """Return the priority (P1-P4) for a severity and an urgency."""
    return str(PRIORITY_MATRIX[Severity(severity)][Urgency(urgency)])


def _decision_due(received_at: datetime, priority: str) -> datetime:
    target = deadlines.decision_target(priority)
    return deadlines.due_at(received_at, target, _holidays_from(received_at))


def _next_reference(year: int) -> str:
    # UPDATE ... SET last = last + 1 takes the row lock, so concurrent filings get distinct
    # numbers; the first filing of a year creates the row.
    for _attempt in range(2):
        if ReferenceCounter.objects.filter(year=year).update(last=F("last") + 1):
            number = ReferenceCounter.objects.values_list("last", flat=True).get(year=year)
            return f"CMP-{year}-{number:06d}"
        try:
            with transaction.atomic():
                ReferenceCounter.objects.create(year=year, last=0)
        except IntegrityError:
            pass  # another filing created it first; the update above now finds it
    raise RuntimeError("could not allocate a complaint reference")


# --- complaints ------------------------------------------------------------------------------


def repeats_of(
    *, complainant: Any, content_id: str, content_url: str, at: datetime
) -> tuple[bool, bool]:
    """Return whether a complaint filed at `at` repeats, within REPEAT_WINDOW, an earlier one
    by the same complainant, and one about the same content (same id or URL): index probes.

    The same complainant is the same data subject, or another one with the same email or phone
    (their keyed lookup hashes match): staff record each phoned-in complaint as a new subject.
    """
    earlier = Complaint.objects.filter(received_at__gte=at - REPEAT_WINDOW, received_at__lte=at)
    # The subjects sharing a contact hash with this one (index on field and digest), then
    # their complaints in the window (index on complainant and time).
    contacts = Q(pk__in=[])
    for field_name, digest in SubjectLookup.objects.filter(subject=complainant).values_list(
        "field", "digest"
    ):
        contacts |= Q(field=field_name, digest=digest)
    people = {
        complainant.pk,
        *SubjectLookup.objects.filter(contacts).values_list("subject_id", flat=True),
    }
    same_content = Q()
    if content_id:
        same_content |= Q(content_id=content_id)
    if content_url:
        same_content |= Q(content_url=content_url)
    return (
        earlier.filter(complainant_id__in=people).exists(),
        bool(same_content) and earlier.filter(same_content).exists(),
    )


@transaction.atomic
def complaint_file(
    *,
    actor: Any,
    channel: str,
    category: Category,
    description: str,
    content_url: str = "",
    content_id: str = "",
    affected_account_handle: str = "",
    complainant_name: str = "",
    complainant_email: str = "",
    complainant_phone: str = "",
    ip_address: str = "",
    severity: str | None = None,
    urgency: str | None = None,
    now: datetime | None = None,
) -> Complaint:
    """File a complaint: by the complainant, or by staff recording one received by phone or mail.

    `ip_address` is the self-service filer's address, stored encrypted with their other data
    when their data subject is first recorded; staff intake records none (it would be staff's).
    """
    require(
        policies.can_file_complaint(actor),
        _("Only complainants, handlers and department leads can file complaints."),
    )
    at = at_or_now(now)
    staff_intake = policies.can_work_complaints(actor)
    errors: dict[str, list[str]] = {}
    if channel not in Channel.values:
        errors["channel"] = [_("Choose one of: %s.") % ", ".join(Channel.values)]
    elif not staff_intake and channel not in SELF_SERVICE_CHANNELS:
        errors["channel"] = [
            _("Complainants file through: %s.") % ", ".join(sorted(SELF_SERVICE_CHANNELS))
        ]
    description = (description or "").strip()
    if not description:
        errors["description"] = [_("Describe what happened.")]
    elif len(description) > MAX_DESCRIPTION:
        errors["description"] = [_("Keep the description under %d characters.") % MAX_DESCRIPTION]
    if staff_intake:
        if not complainant_name.strip():
            errors["complainant_name"] = [_("Give the complainant's name when filing for them.")]
        if not (complainant_email.strip() or complainant_phone.strip()):
            errors["complainant_email"] = [
                _("Give an email or a phone number so the complainant can be reached.")
            ]
    else:
        if severity is not None or urgency is not None:
            errors["severity"] = [_("Severity and urgency are set by the handler at triage.")]
    if severity is not None and severity not in Severity.values:
        errors["severity"] = [_("Choose one of: %s.") % ", ".join(Severity.values)]
    if urgency is not None and urgency not in Urgency.values:
        errors["urgency"] = [_("Choose one of: %s.") % ", ".join(Urgency.values)]
    if errors:
        raise ValidationFailed(
            _("The complaint was not filed; correct the fields named."), fields=errors
        )

    # The reference comes first: its counter row is the one lock taken before the ledger's,
    # in every filing, so two filings can never wait on each other in opposite orders.
    reference = _next_reference(deadlines.business_date(at).year)
    if staff_intake:
        complainant = privacy_services.subject_create(
            actor=actor,
            kind=SubjectKind.COMPLAINANT,
            full_name=complainant_name,
            email=complainant_email,
            phone=complainant_phone,
            now=at,
        )
    else:
        complainant = privacy_services.subject_for_user(
            user=actor, kind=SubjectKind.COMPLAINANT
        ) or privacy_services.subject_create(
            actor=actor,
            kind=SubjectKind.COMPLAINANT,
            user=actor,
            full_name=complainant_name or actor.get_full_name(),
            email=complainant_email or actor.email,
            phone=complainant_phone,
            ip_address=ip_address,
            now=at,
        )
    affected = None
    if affected_account_handle.strip():
        affected = privacy_services.subject_create(
            actor=actor,
            kind=SubjectKind.ACCOUNT_HOLDER,
            account_handle=affected_account_handle,
            now=at,
        )
    note = privacy_services.note_create(
        actor=actor,
        subject=complainant,
        kind=NoteKind.COMPLAINT_DESCRIPTION,
        text=description,
        at=at,
    )
    severity = severity or category.default_severity
    urgency = urgency or Urgency.NORMAL
    priority = priority_for(severity, urgency)
    holidays = _holidays_from(at)
    content_url, content_id = content_url.strip(), content_id.strip()
    repeats_complainant, repeats_content = repeats_of(
        complainant=complainant, content_id=content_id, content_url=content_url, at=at
    )
    complaint = Complaint(
        reference=reference,
        channel=channel,
        category=category,
        department=category.default_department,
        severity=severity,
        urgency=urgency,
        priority=priority,
        status=ComplaintStatus.RECEIVED,
        content_url=content_url,
        content_id=content_id,
        repeats_complainant=repeats_complainant,
        repeats_content=repeats_content,
        complainant=complainant,
        affected_subject=affected,
        description=note,
        received_at=at,
        acknowledge_due_at=deadlines.due_at(at, deadlines.acknowledge_target(), holidays),
        triage_due_at=deadlines.due_at(at, deadlines.triage_target(), holidays),
        decision_due_at=_decision_due(at, priority),
        updated_at=at,
    )
    full_clean_or_fail(
        complaint,
        _("The complaint was not filed; correct the fields named."),
        exclude=["reference", "complainant", "description", "affected_subject"],
    )
    save_complaint(complaint, actor, _("Complaint received"), at=at)
    ledger_append(
        event_type=EventType.COMPLAINT_RECEIVED,
        object_ref=f"complaint:{complaint.reference}",
        actor_ref=actor_ref(actor),
        data={
            "channel": channel,
            "category": category.code,
            "department": complaint.department.code,
            "priority": priority,
            "complainant": complainant.pseudonym,
            "affected_subject": affected.pseudonym if affected else None,
            "description_ref": f"note:{note.pk}",
            "content_sha256": sha256_hex(f"{complaint.content_url}|{complaint.content_id}"),
        },
        at=at,
    )
    return complaint


def _handling_step(complaint: Complaint, actor: Any) -> Complaint:
    locked = lock_complaint(complaint)
    require(
        policies.can_handle_complaint(actor, locked),
        _("Only handlers and leads of the %(dept)s department can work on this complaint.")
        % {"dept": locked.department.code},
    )
    return locked


def _plain_step(
    actor: Any, complaint: Complaint, to_status: str, reason: str, now: datetime | None
) -> Complaint:
    """Take a handling step that changes nothing but the status."""
    complaint = _handling_step(complaint, actor)
    at = at_or_now(now)
    transition(complaint, to_status, actor=actor, reason=reason, at=at)
    save_complaint(complaint, actor, reason, at=at)
    return complaint


@transaction.atomic
def complaint_acknowledge(
    *, actor: Any, complaint: Complaint, reason: str = "", now: datetime | None = None
) -> Complaint:
    """Acknowledge receipt of a complaint."""
    return _plain_step(
        actor,
        complaint,
        ComplaintStatus.ACKNOWLEDGED,
        reason.strip() or _("Receipt acknowledged"),
        now,
    )


@transaction.atomic
def complaint_triage(
    *,
    actor: Any,
    complaint: Complaint,
    category: Category | None = None,
    department: Department | None = None,
    severity: str | None = None,
    urgency: str | None = None,
    reason: str = "",
    now: datetime | None = None,
) -> Complaint:
    """Triage a complaint: confirm or correct its category, department, severity and urgency."""
    complaint = _handling_step(complaint, actor)
    at = at_or_now(now)
    errors: dict[str, list[str]] = {}
    if severity is not None and severity not in Severity.values:
        errors["severity"] = [_("Choose one of: %s.") % ", ".join(Severity.values)]
    if urgency is not None and urgency not in Urgency.values:
        errors["urgency"] = [_("Choose one of: %s.") % ", ".join(Urgency.values)]
    new_category = category or complaint.category
    new_department = department or (
        new_category.default_department if category is not None else complaint.department
    )
    moved = new_department.pk != complaint.department_id
    if moved and not reason.strip():
        errors["reason"] = [_("Say why the complaint moves to another department.")]
    if errors:
        raise ValidationFailed(
            _("The complaint was not triaged; correct the fields named."), fields=errors
        )
    reason = reason.strip() or _("Triaged")
    transition(complaint, ComplaintStatus.TRIAGED, actor=actor, reason=reason, at=at)
    complaint.category = new_category
    complaint.department = new_department
    # A new category brings its own default severity unless the handler names one.
    complaint.severity = severity or (
        new_category.default_severity if category is not None else complaint.severity
    )
    complaint.urgency = urgency or complaint.urgency
    complaint.priority = priority_for(complaint.severity, complaint.urgency)
    complaint.decision_due_at = _decision_due(complaint.received_at, complaint.priority)
    save_complaint(complaint, actor, reason, at=at)
    ledger_append(
        event_type=EventType.COMPLAINT_TRIAGED,
        object_ref=f"complaint:{complaint.reference}",
        actor_ref=actor_ref(actor),
        data={
            "category": new_category.code,
            "department": new_department.code,
            "severity": complaint.severity,
            "urgency": complaint.urgency,
            "priority": complaint.priority,
            "decision_due_at": complaint.decision_due_at.isoformat(),
        },
        at=at,
    )
    return complaint


@transaction.atomic
def complaint_assign(
    *,
    actor: Any,
    complaint: Complaint,
    assignee: Any,
    reason: str = "",
    now: datetime | None = None,
) -> Complaint:
    """Assign a triaged complaint to a handler, or reassign one already being handled."""
    complaint = _handling_step(complaint, actor)
    at = at_or_now(now)
    if complaint.department_id not in policies.roles_of(assignee).department_ids(
        Role.HANDLER, Role.DEPARTMENT_LEAD
    ):
        raise ValidationFailed(
            _("The complaint was not assigned."),
            fields={
                "assignee": [
                    _("%(user)s is not a handler or lead of the %(dept)s department.")
                    % {"user": assignee.get_username(), "dept": complaint.department.code}
                ]
            },
        )
    require(
        policies.can_assign_complaint(actor, complaint, assignee),
        _("Handlers can only take a complaint themselves; ask your department lead to assign it."),
    )
    reassigning = complaint.status in {ComplaintStatus.ASSIGNED, ComplaintStatus.INVESTIGATING}
    if reassigning:
        if complaint.assignee_id == assignee.pk:
            raise Conflict(_("The complaint is already assigned to %s.") % assignee.get_username())
        if not reason.strip():
            raise ValidationFailed(
                _("The complaint was not reassigned."),
                fields={"reason": [_("Say why the complaint changes hands.")]},
            )
        current = Assignment.objects.select_for_update().get(
            complaint=complaint, ended_at__isnull=True
        )
        current.ended_at = at
        stamp_history(current, actor, reason, at=at)
        current.save()
    else:
        reason = reason.strip() or _("Assigned")
        transition(complaint, ComplaintStatus.ASSIGNED, actor=actor, reason=reason, at=at)
    assignment = Assignment(
        complaint=complaint, assignee=assignee, assigned_by=actor, assigned_at=at, reason=reason
    )
    stamp_history(assignment, actor, reason, at=at)
    assignment.save()
    complaint.assignee = assignee
    complaint.updated_at = at
    save_complaint(complaint, actor, reason, at=at)
    ledger_append(
        event_type=EventType.COMPLAINT_ASSIGNED,
        object_ref=f"complaint:{complaint.reference}",
        actor_ref=actor_ref(actor),
        data={"assignee": actor_ref(assignee), "reassigned": reassigning},
        at=at,
    )
    return complaint


@transaction.atomic
def complaint_start_investigation(
    *, actor: Any, complaint: Complaint, reason: str = "", now: datetime | None = None
) -> Complaint:
    """Start investigating an assigned complaint."""
    return _plain_step(
        actor,
        complaint,
        ComplaintStatus.INVESTIGATING,
        reason.strip() or _("Investigation started"),
        now,
    )


@transaction.atomic
def complaint_close(
    *, actor: Any, complaint: Complaint, reason: str = "", now: datetime | None = None
) -> Complaint:
    """Close a decided complaint (it can still be appealed within the window)."""
    return _plain_step(
        actor, complaint, ComplaintStatus.CLOSED, reason.strip() or _("Closed after decision"), now
    )


@transaction.atomic
def complaint_withdraw(
    *, actor: Any, complaint: Complaint, reason: str, now: datetime | None = None
) -> Complaint:
    """Withdraw a complaint before it is decided, at the complainant's request."""
    complaint = lock_complaint(complaint)
    require(
        policies.can_withdraw_complaint(actor, complaint),
        _("Only the complainant or the department's staff can withdraw this complaint."),
    )
    if not reason.strip():
        raise ValidationFailed(
            _("The complaint was not withdrawn."),
            fields={"reason": [_("Say why the complaint is withdrawn.")]},
        )
    at = at_or_now(now)
    if policies.can_handle_complaint(actor, complaint):
        recorded_reason = reason.strip()
    else:
        # The complainant's own words may be personal: they go to the privacy app, and the
        # append-only transition keeps only a reference to them.
        note = privacy_services.note_create(
            actor=actor,
            subject=complaint.complainant,
            kind=NoteKind.WITHDRAWAL_REASON,
            text=reason.strip(),
            at=at,
        )
        recorded_reason = _("Withdrawn by the complainant (reason: note %s)") % note.pk
    transition(complaint, ComplaintStatus.WITHDRAWN, actor=actor, reason=recorded_reason, at=at)
    save_complaint(complaint, actor, recorded_reason, at=at)
    return complaint


@transaction.atomic
def complaint_rate(
    *,
    actor: Any,
    complaint: Complaint,
    score: int,
    comment: str = "",
    now: datetime | None = None,
) -> Rating:
    """Record the complainant's one rating (1-5) of a closed complaint's handling."""
    complaint = lock_complaint(complaint)
    require(
        policies.can_rate_complaint(actor, complaint),
        _("Only the complainant can rate the handling of this complaint."),
    )
    if complaint.status != ComplaintStatus.CLOSED:
        raise Conflict(
            _("A complaint can be rated once it is closed; it is %s.")
            % ComplaintStatus(complaint.status).label
        )
    if Rating.objects.filter(complaint=complaint).exists():
        raise Conflict(_("This complaint has already been rated; a rating is given once."))
    if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
        raise ValidationFailed(
            _("The rating was not saved."),
            fields={"score": [_("Give a whole number from 1 to 5.")]},
        )
    at = at_or_now(now)
    note = None
    if comment.strip():
        note = privacy_services.note_create(
            actor=actor,
            subject=complaint.complainant,
            kind=NoteKind.RATING_COMMENT,
            text=comment.strip(),
            at=at,
        )
    rating = Rating(complaint=complaint, score=score, comment=note, rated_at=at)
    rating.save()
    ledger_append(
        event_type=EventType.COMPLAINT_RATED,
        object_ref=f"complaint:{complaint.reference}",
        actor_ref=actor_ref(actor),
        data={"score": score, "comment_ref": f"note:{note.pk}" if note else None},
        at=at,
    )
    return rating
