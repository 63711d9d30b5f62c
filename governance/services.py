"""Every write of the governance app.

Each public function is one transaction that checks the actor's permission, validates, writes
the rows and their history, and appends the ledger entry. API views, admin actions, management
commands and tests all come through here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, models, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from audits.choices import EventType
from audits.services import ledger_append, system_actor_ref
from privacy import services as privacy_services
from privacy.choices import NoteKind, SubjectKind
from privacy.pseudonyms import actor_ref

from . import deadlines, policies
from .choices import (
    ACTING_OUTCOMES,
    DEPARTMENT_ROLES,
    OPEN_STATUSES,
    PRIORITY_MATRIX,
    TEMPORARY_ACTIONS,
    TERRITORIES,
    AppealOutcome,
    AppealStatus,
    AppellantRole,
    AutomatedDecision,
    Channel,
    ComplaintStatus,
    DecisionAction,
    DecisionGround,
    DecisionKind,
    DecisionOutcome,
    Role,
    Severity,
    SlaStage,
    Urgency,
)
from .errors import Conflict, InvalidTransition, PermissionDenied, ValidationFailed
from .models import (
    Appeal,
    Assignment,
    Category,
    Complaint,
    ComplaintTransition,
    Decision,
    Department,
    Holiday,
    PolicyClause,
    Rating,
    ReferenceCounter,
    RoleMembership,
    SlaBreach,
)

SELF_SERVICE_CHANNELS = frozenset({Channel.WEB_FORM, Channel.IN_APP, Channel.API})
MAX_TEXT = 5000
MAX_DESCRIPTION = 10000


# --- small shared steps ----------------------------------------------------------------------


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _stamp(obj: models.Model, actor: Any, reason: str = "") -> None:
    """Tell simple-history who made this change and why."""
    obj._history_user = actor if actor is not None and actor.is_authenticated else None  # type: ignore[attr-defined]
    obj._change_reason = reason or None  # type: ignore[attr-defined]


def _full_clean(obj: models.Model, message: str, **kwargs: Any) -> None:
    """Run the model's own validation, reporting its problems as a ValidationFailed."""
    try:
        obj.full_clean(**kwargs)
    except DjangoValidationError as exc:
        raise ValidationFailed(message, fields=exc.message_dict) from exc


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise PermissionDenied(message)


def _lock_complaint(complaint: Complaint) -> Complaint:
    # Re-read under a row lock so two handlers cannot move the same complaint at once.
    return (
        Complaint.objects.select_for_update(of=("self",))
        .select_related("complainant", "affected_subject", "department", "category")
        .get(pk=complaint.pk)
    )


def _holidays_from(start: datetime) -> list[date]:
    first = start.date() - timedelta(days=1)
    return list(
        Holiday.objects.filter(date__gte=first, date__lte=first + timedelta(days=120)).values_list(
            "date", flat=True
        )
    )


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


def _transition(
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
        data={"from": from_status, "to": to_status, "reason_sha256": _sha256(reason)},
        at=at,
    )
    return transition


def _save_complaint(complaint: Complaint, actor: Any, reason: str) -> None:
    _stamp(complaint, actor, reason)
    complaint.save()


# --- complaints ------------------------------------------------------------------------------


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
    severity: str | None = None,
    urgency: str | None = None,
    now: datetime | None = None,
) -> Complaint:
    """File a complaint: by the complainant, or by staff recording one received by phone or mail."""
    _require(
        policies.can_file_complaint(actor),
        _("Only complainants, handlers and department leads can file complaints."),
    )
    at = _now(now)
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
        subject=complainant, kind=NoteKind.COMPLAINT_DESCRIPTION, text=description
    )
    severity = severity or category.default_severity
    urgency = urgency or Urgency.NORMAL
    priority = priority_for(severity, urgency)
    holidays = _holidays_from(at)
    complaint = Complaint(
        reference=_next_reference(at.year),
        channel=channel,
        category=category,
        department=category.default_department,
        severity=severity,
        urgency=urgency,
        priority=priority,
        status=ComplaintStatus.RECEIVED,
        content_url=content_url.strip(),
        content_id=content_id.strip(),
        complainant=complainant,
        affected_subject=affected,
        description=note,
        received_at=at,
        acknowledge_due_at=deadlines.due_at(at, deadlines.acknowledge_target(), holidays),
        triage_due_at=deadlines.due_at(at, deadlines.triage_target(), holidays),
        decision_due_at=_decision_due(at, priority),
        updated_at=at,
    )
    _full_clean(
        complaint,
        _("The complaint was not filed; correct the fields named."),
        exclude=["reference", "complainant", "description", "affected_subject"],
    )
    _save_complaint(complaint, actor, _("Complaint received"))
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
            "content_sha256": _sha256(f"{complaint.content_url}|{complaint.content_id}"),
        },
        at=at,
    )
    return complaint


def _handling_step(complaint: Complaint, actor: Any) -> Complaint:
    locked = _lock_complaint(complaint)
    _require(
        policies.can_handle_complaint(actor, locked),
        _("Only handlers and leads of the %(dept)s department can work on this complaint.")
        % {"dept": locked.department.code},
    )
    return locked


@transaction.atomic
def complaint_acknowledge(
    *, actor: Any, complaint: Complaint, reason: str = "", now: datetime | None = None
) -> Complaint:
    """Acknowledge receipt of a complaint."""
    complaint = _handling_step(complaint, actor)
    reason = reason.strip() or _("Receipt acknowledged")
    _transition(complaint, ComplaintStatus.ACKNOWLEDGED, actor=actor, reason=reason, at=_now(now))
    _save_complaint(complaint, actor, reason)
    return complaint


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
    at = _now(now)
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
    _transition(complaint, ComplaintStatus.TRIAGED, actor=actor, reason=reason, at=at)
    complaint.category = new_category
    complaint.department = new_department
    # A new category brings its own default severity unless the handler names one.
    complaint.severity = severity or (
        new_category.default_severity if category is not None else complaint.severity
    )
    complaint.urgency = urgency or complaint.urgency
    complaint.priority = priority_for(complaint.severity, complaint.urgency)
    complaint.decision_due_at = _decision_due(complaint.received_at, complaint.priority)
    _save_complaint(complaint, actor, reason)
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
    at = _now(now)
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
    _require(
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
        _stamp(current, actor, reason)
        current.save()
    else:
        reason = reason.strip() or _("Assigned")
        _transition(complaint, ComplaintStatus.ASSIGNED, actor=actor, reason=reason, at=at)
    assignment = Assignment(
        complaint=complaint, assignee=assignee, assigned_by=actor, assigned_at=at, reason=reason
    )
    _stamp(assignment, actor, reason)
    assignment.save()
    complaint.assignee = assignee
    complaint.updated_at = at
    _save_complaint(complaint, actor, reason)
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
    complaint = _handling_step(complaint, actor)
    reason = reason.strip() or _("Investigation started")
    _transition(complaint, ComplaintStatus.INVESTIGATING, actor=actor, reason=reason, at=_now(now))
    _save_complaint(complaint, actor, reason)
    return complaint


@transaction.atomic
def complaint_close(
    *, actor: Any, complaint: Complaint, reason: str = "", now: datetime | None = None
) -> Complaint:
    """Close a decided complaint (it can still be appealed within the window)."""
    complaint = _handling_step(complaint, actor)
    reason = reason.strip() or _("Closed after decision")
    _transition(complaint, ComplaintStatus.CLOSED, actor=actor, reason=reason, at=_now(now))
    _save_complaint(complaint, actor, reason)
    return complaint


@transaction.atomic
def complaint_withdraw(
    *, actor: Any, complaint: Complaint, reason: str, now: datetime | None = None
) -> Complaint:
    """Withdraw a complaint before it is decided, at the complainant's request."""
    complaint = _lock_complaint(complaint)
    _require(
        policies.can_withdraw_complaint(actor, complaint),
        _("Only the complainant or the department's staff can withdraw this complaint."),
    )
    if not reason.strip():
        raise ValidationFailed(
            _("The complaint was not withdrawn."),
            fields={"reason": [_("Say why the complaint is withdrawn.")]},
        )
    _transition(
        complaint, ComplaintStatus.WITHDRAWN, actor=actor, reason=reason.strip(), at=_now(now)
    )
    _save_complaint(complaint, actor, reason.strip())
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
    complaint = _lock_complaint(complaint)
    _require(
        policies.can_rate_complaint(actor, complaint),
        _("Only the complainant can rate the handling of this complaint."),
    )
    if complaint.status != ComplaintStatus.CLOSED:
        raise Conflict(
            _("A complaint can be rated once it is closed; it is %s.") % complaint.status
        )
    if Rating.objects.filter(complaint=complaint).exists():
        raise Conflict(_("This complaint has already been rated; a rating is given once."))
    if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
        raise ValidationFailed(
            _("The rating was not saved."),
            fields={"score": [_("Give a whole number from 1 to 5.")]},
        )
    at = _now(now)
    note = None
    if comment.strip():
        note = privacy_services.note_create(
            subject=complaint.complainant, kind=NoteKind.RATING_COMMENT, text=comment.strip()
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


# --- decisions -------------------------------------------------------------------------------


def current_decision(complaint: Complaint) -> Decision | None:
    """Return the decision in force on `complaint`: the latest one nothing supersedes."""
    return (
        Decision.objects.filter(complaint=complaint, superseded_by__isnull=True)
        .order_by("-decided_at", "-id")
        .first()
    )


def clause_in_force(clause: PolicyClause, on: date) -> bool:
    """Return whether `clause` is the version of its code in force on `on`."""
    if clause.effective_from > on or (clause.effective_to and clause.effective_to < on):
        return False
    return not PolicyClause.objects.filter(
        code=clause.code, version__gt=clause.version, effective_from__lte=on
    ).exists()


def _clean_decision(
    *,
    outcome: Any,
    actions: Any,
    ground: Any,
    ground_reference: str,
    policy_clause: PolicyClause | None,
    facts: str,
    reasons: str,
    automated_detection: Any,
    automated_decision: Any,
    territorial_scope: Any,
    restriction_end: date | None,
    today: date,
) -> dict[str, Any]:
    """Validate a decision's content, collecting every problem; return the cleaned values."""
    errors: dict[str, list[str]] = {}
    if outcome not in DecisionOutcome.values:
        errors["outcome"] = [_("Choose one of: %s.") % ", ".join(DecisionOutcome.values)]
    actions = list(actions or [])
    unknown = [a for a in actions if a not in DecisionAction.values]
    if unknown:
        errors["actions"] = [_("Unknown actions: %s.") % ", ".join(map(str, unknown))]
    elif len(set(actions)) != len(actions):
        errors["actions"] = [_("List each action once.")]
    elif DecisionAction.NONE in actions and len(actions) > 1:
        errors["actions"] = [_("'none' cannot be combined with other actions.")]
    elif outcome in ACTING_OUTCOMES:
        # An upheld service complaint (a fault, poor service) may restrict nothing.
        actions = actions or [DecisionAction.NONE]
    elif outcome in DecisionOutcome.values:
        if actions and actions != [DecisionAction.NONE]:
            errors["actions"] = [
                _('A %s decision takes no action; send ["none"] or nothing.') % outcome
            ]
        actions = [DecisionAction.NONE]
    if ground not in DecisionGround.values:
        errors["ground"] = [_("Choose one of: %s.") % ", ".join(DecisionGround.values)]
    elif ground == DecisionGround.ILLEGAL_CONTENT and not ground_reference.strip():
        errors["ground_reference"] = [_("Name the legal provision the content breaks.")]
    if len(ground_reference) > 500:
        errors["ground_reference"] = [_("Keep the legal reference under 500 characters.")]
    if policy_clause is None:
        errors["policy_clause"] = [_("Choose the policy clause applied.")]
    elif not clause_in_force(policy_clause, today):
        errors["policy_clause"] = [
            _(
                "%(clause)s is not the version in force today; "
                "choose the current version of %(code)s."
            )
            % {"clause": str(policy_clause), "code": policy_clause.code}
        ]
    for name, value in (("facts", facts), ("reasons", reasons)):
        if not (value or "").strip():
            errors[name] = [_("State the %s; the complainant is owed them.") % name]
        elif len(value) > MAX_TEXT:
            errors[name] = [_("Keep this under %d characters.") % MAX_TEXT]
    if not isinstance(automated_detection, bool):
        errors["automated_detection"] = [_("Say true or false.")]
    if automated_decision not in AutomatedDecision.values:
        errors["automated_decision"] = [
            _("Choose one of: %s.") % ", ".join(AutomatedDecision.values)
        ]
    scope = list(territorial_scope or [])
    bad_scope = [c for c in scope if c not in TERRITORIES]
    if bad_scope:
        errors["territorial_scope"] = [
            _("Unknown territory codes: %s. Use EU/EEA country codes or CN.")
            % ", ".join(map(str, bad_scope))
        ]
    if restriction_end is not None:
        if not set(actions) & TEMPORARY_ACTIONS:
            errors["restriction_end"] = [_("Only a temporary restriction has an end date.")]
        elif restriction_end <= today:
            errors["restriction_end"] = [_("The end date must lie in the future.")]
    if errors:
        raise ValidationFailed(
            _("The decision was not recorded; correct the fields named."), fields=errors
        )
    return {
        "outcome": outcome,
        "actions": actions,
        "ground": ground,
        "ground_reference": ground_reference.strip(),
        "policy_clause": policy_clause,
        "facts": facts.strip(),
        "reasons": reasons.strip(),
        "automated_detection": automated_detection,
        "automated_decision": automated_decision,
        "territorial_scope": sorted(set(scope)),
        "restriction_end": restriction_end,
    }


def _decision_ledger(decision: Decision, event: EventType) -> None:
    clause = decision.policy_clause
    ledger_append(
        event_type=event,
        object_ref=f"decision:{decision.pk}",
        actor_ref=actor_ref(decision.decided_by),
        data={
            "complaint": decision.complaint.reference,
            "kind": decision.kind,
            "outcome": decision.outcome,
            "actions": decision.actions,
            "ground": decision.ground,
            "ground_reference": decision.ground_reference,
            "policy_clause": {"code": clause.code, "version": clause.version},
            "facts": decision.facts,
            "reasons": decision.reasons,
            "automated_detection": decision.automated_detection,
            "automated_decision": decision.automated_decision,
            "territorial_scope": decision.territorial_scope,
            "restriction_end": decision.restriction_end.isoformat()
            if decision.restriction_end
            else None,
            "supersedes": decision.supersedes_id,
            "appeal": decision.appeal_id,
            "appeal_outcome": decision.appeal_outcome or None,
        },
        at=decision.decided_at,
    )


@transaction.atomic
def decision_record(
    *,
    actor: Any,
    complaint: Complaint,
    outcome: str,
    policy_clause: PolicyClause | None,
    facts: str,
    reasons: str,
    ground: str = DecisionGround.TERMS_OF_SERVICE,
    actions: Sequence[str] = (),
    ground_reference: str = "",
    automated_detection: bool = False,
    automated_decision: str = AutomatedDecision.NOT_AUTOMATED,
    territorial_scope: Sequence[str] = (),
    restriction_end: date | None = None,
    supersedes: Decision | None = None,
    now: datetime | None = None,
) -> Decision:
    """Record the decision on an investigated complaint, or a lead's correction of one."""
    complaint = _lock_complaint(complaint)
    at = _now(now)
    if supersedes is None:
        # Department first, then state, then "assignee or lead": before assignment there is no
        # assignee, and "wrong state" is the more useful answer to the department's staff.
        _require(
            policies.can_handle_complaint(actor, complaint),
            _("Only handlers and leads of the %s department can decide this complaint.")
            % complaint.department.code,
        )
        if complaint.status != ComplaintStatus.INVESTIGATING:
            raise InvalidTransition(
                _(
                    "Complaint %(ref)s is %(status)s; a decision is recorded while it is "
                    "investigating. Allowed next: %(allowed)s."
                )
                % {
                    "ref": complaint.reference,
                    "status": complaint.status,
                    "allowed": ", ".join(complaint.allowed_next()) or "-",
                }
            )
        _require(
            policies.can_decide_complaint(actor, complaint),
            _("Only the assigned handler or a lead of the %s department can decide this complaint.")
            % complaint.department.code,
        )
        kind = DecisionKind.INITIAL
    else:
        if supersedes.complaint_id != complaint.pk:
            raise ValidationFailed(
                _("The correction was not recorded."),
                fields={"supersedes": [_("That decision belongs to another complaint.")]},
            )
        _require(
            policies.can_correct_decision(actor, supersedes),
            _("Only a lead of the %s department can correct a decision.")
            % complaint.department.code,
        )
        if complaint.status not in {
            ComplaintStatus.DECIDED,
            ComplaintStatus.CLOSED,
            ComplaintStatus.APPEAL_DECIDED,
        }:
            raise Conflict(
                _(
                    "A decision can be corrected once decided and while no appeal is pending; "
                    "the complaint is %s."
                )
                % complaint.status
            )
        current = current_decision(complaint)
        if current is None or current.pk != supersedes.pk:
            raise Conflict(
                _("Decision %(old)s has been superseded by %(new)s; correct the decision in force.")
                % {"old": supersedes.pk, "new": current.pk if current else "-"}
            )
        kind = DecisionKind.CORRECTION
    cleaned = _clean_decision(
        outcome=outcome,
        actions=actions,
        ground=ground,
        ground_reference=ground_reference,
        policy_clause=policy_clause,
        facts=facts,
        reasons=reasons,
        automated_detection=automated_detection,
        automated_decision=automated_decision,
        territorial_scope=territorial_scope,
        restriction_end=restriction_end,
        today=timezone.localdate(at),
    )
    decision = Decision(
        complaint=complaint,
        kind=kind,
        decided_by=actor,
        decided_at=at,
        supersedes=supersedes,
        **cleaned,
    )
    decision.save()
    if kind == DecisionKind.INITIAL:
        _transition(
            complaint, ComplaintStatus.DECIDED, actor=actor, reason=_("Decision recorded"), at=at
        )
        _save_complaint(complaint, actor, _("Decision recorded"))
    _decision_ledger(decision, EventType.DECISION_RECORDED)
    return decision


# --- appeals ---------------------------------------------------------------------------------


@transaction.atomic
def appeal_file(
    *, actor: Any, decision: Decision, statement: str, now: datetime | None = None
) -> Appeal:
    """Appeal the decision in force, as the complainant or the affected account holder."""
    complaint = _lock_complaint(decision.complaint)
    _require(
        policies.can_appeal_complaint(actor, complaint),
        _("Only the complainant or the affected account holder can appeal this decision."),
    )
    at = _now(now)
    if not statement.strip():
        raise ValidationFailed(
            _("The appeal was not filed."),
            fields={"statement": [_("Say why the decision should change.")]},
        )
    if len(statement) > MAX_DESCRIPTION:
        raise ValidationFailed(
            _("The appeal was not filed."),
            fields={"statement": [_("Keep the statement under %d characters.") % MAX_DESCRIPTION]},
        )
    if Appeal.objects.filter(complaint=complaint).exists():
        raise Conflict(
            _(
                "This complaint has already been appealed and the appeal is final here; you may "
                "turn to a certified out-of-court dispute settlement body."
            )
        )
    current = current_decision(complaint)
    if current is None or current.pk != decision.pk:
        raise Conflict(
            _("Decision %s is no longer in force; appeal the current decision.") % decision.pk
        )
    deadline = deadlines.add_months(decision.decided_at, _appeal_window_months())
    if at > deadline:
        raise Conflict(
            _("The appeal window closed on %s (six months after the decision).") % deadline.date()
        )
    _transition(complaint, ComplaintStatus.APPEALED, actor=actor, reason=_("Appeal filed"), at=at)
    if complaint.complainant.user_id == actor.pk:
        appellant, role = complaint.complainant, AppellantRole.COMPLAINANT
    else:
        # can_appeal_complaint admitted the actor, so they are the affected account holder.
        assert complaint.affected_subject is not None  # noqa: S101
        appellant, role = complaint.affected_subject, AppellantRole.ACCOUNT_HOLDER
    note = privacy_services.note_create(
        subject=appellant, kind=NoteKind.APPEAL_STATEMENT, text=statement.strip()
    )
    appeal = Appeal(
        complaint=complaint,
        decision=decision,
        appellant=appellant,
        appellant_role=role,
        statement=note,
        filed_by=actor,
        filed_at=at,
    )
    _stamp(appeal, actor, _("Appeal filed"))
    appeal.save()
    _save_complaint(complaint, actor, _("Appeal filed"))
    ledger_append(
        event_type=EventType.APPEAL_FILED,
        object_ref=f"appeal:{appeal.pk}",
        actor_ref=actor_ref(actor),
        data={
            "complaint": complaint.reference,
            "decision": decision.pk,
            "appellant": appellant.pseudonym,
            "appellant_role": role,
            "statement_ref": f"note:{note.pk}",
        },
        at=at,
    )
    return appeal


def _appeal_window_months() -> int:
    from django.conf import settings

    return int(settings.OMBUD_APPEAL_WINDOW_MONTHS)


def _deciders(decision: Decision) -> set[int]:
    ids: set[int] = set()
    node: Decision | None = decision
    while node is not None:
        ids.add(node.decided_by_id)
        node = node.supersedes
    return ids


@transaction.atomic
def appeal_decide(
    *,
    actor: Any,
    appeal: Appeal,
    outcome: str,
    facts: str,
    reasons: str,
    decision_outcome: str | None = None,
    actions: Sequence[str] | None = None,
    policy_clause: PolicyClause | None = None,
    ground: str | None = None,
    ground_reference: str | None = None,
    territorial_scope: Sequence[str] | None = None,
    restriction_end: date | None = None,
    now: datetime | None = None,
) -> Decision:
    """Decide an appeal as someone other than its deciders: a new decision superseding the old."""
    complaint = _lock_complaint(appeal.complaint)
    appeal = (
        Appeal.objects.select_for_update(of=("self",)).select_related("decision").get(pk=appeal.pk)
    )
    _require(
        policies.can_decide_appeal(actor, appeal),
        _("Only handlers and leads of the %s department can decide this appeal.")
        % complaint.department.code,
    )
    original = appeal.decision
    if actor.pk in _deciders(original):
        raise PermissionDenied(
            _(
                "You took part in the decision under appeal; another handler or your lead must "
                "decide the appeal."
            )
        )
    if appeal.status != AppealStatus.OPEN:
        raise Conflict(_("Appeal %s has already been decided.") % appeal.pk)
    if outcome not in AppealOutcome.values:
        raise ValidationFailed(
            _("The appeal was not decided."),
            fields={"outcome": [_("Choose one of: %s.") % ", ".join(AppealOutcome.values)]},
        )
    at = _now(now)
    if outcome == AppealOutcome.UPHELD:
        if decision_outcome not in (None, original.outcome) or (
            actions is not None and list(actions) != list(original.actions)
        ):
            raise ValidationFailed(
                _("The appeal was not decided."),
                fields={
                    "decision_outcome": [_("Upholding keeps the original outcome and actions.")]
                },
            )
        decision_outcome, actions = original.outcome, list(original.actions)
    elif decision_outcome is None:
        raise ValidationFailed(
            _("The appeal was not decided."),
            fields={"decision_outcome": [_("Give the new outcome when reversing or modifying.")]},
        )
    cleaned = _clean_decision(
        outcome=decision_outcome,
        actions=actions if actions is not None else original.actions,
        ground=ground or original.ground,
        ground_reference=ground_reference
        if ground_reference is not None
        else original.ground_reference,
        policy_clause=policy_clause or original.policy_clause,
        facts=facts,
        reasons=reasons,
        automated_detection=original.automated_detection,
        automated_decision=AutomatedDecision.NOT_AUTOMATED,
        territorial_scope=territorial_scope
        if territorial_scope is not None
        else original.territorial_scope,
        restriction_end=restriction_end,
        today=timezone.localdate(at),
    )
    was_acting = original.outcome in ACTING_OUTCOMES
    now_acting = cleaned["outcome"] in ACTING_OUTCOMES
    if outcome == AppealOutcome.REVERSED and was_acting == now_acting:
        raise ValidationFailed(
            _("The appeal was not decided."),
            fields={
                "decision_outcome": [
                    _("A reversal turns an upheld complaint into a rejected one or back.")
                ]
            },
        )
    if outcome == AppealOutcome.MODIFIED and (
        was_acting != now_acting
        or (cleaned["outcome"], cleaned["actions"]) == (original.outcome, list(original.actions))
    ):
        raise ValidationFailed(
            _("The appeal was not decided."),
            fields={
                "decision_outcome": [
                    _("A modification changes the outcome or actions without reversing them.")
                ]
            },
        )
    decision = Decision(
        complaint=complaint,
        kind=DecisionKind.APPEAL,
        decided_by=actor,
        decided_at=at,
        supersedes=original,
        appeal=appeal,
        appeal_outcome=outcome,
        **cleaned,
    )
    decision.save()
    _transition(
        complaint, ComplaintStatus.APPEAL_DECIDED, actor=actor, reason=_("Appeal decided"), at=at
    )
    _save_complaint(complaint, actor, _("Appeal decided"))
    appeal.status = AppealStatus.DECIDED
    appeal.decided_at = at
    _stamp(appeal, actor, _("Appeal decided"))
    appeal.save()
    _decision_ledger(decision, EventType.APPEAL_DECIDED)
    return decision


# --- policy clauses --------------------------------------------------------------------------


@transaction.atomic
def policy_clause_publish(
    *,
    actor: Any,
    code: str,
    title: str,
    text: str,
    effective_from: date,
    effective_to: date | None = None,
    now: datetime | None = None,
) -> PolicyClause:
    """Publish a clause, or the next version of one; older versions are never rewritten."""
    _require(
        policies.can_publish_policy_clauses(actor), _("Only admins can publish policy clauses.")
    )
    at = _now(now)
    errors: dict[str, list[str]] = {}
    code = (code or "").strip()
    if not code:
        errors["code"] = [_("Give the clause a code, e.g. TOS-4.2.")]
    if not (title or "").strip():
        errors["title"] = [_("Give the clause a title.")]
    if not (text or "").strip():
        errors["text"] = [_("Give the clause's text.")]
    if effective_to is not None and effective_to < effective_from:
        errors["effective_to"] = [_("The last day in force cannot precede the first.")]
    previous = (
        PolicyClause.objects.select_for_update().filter(code=code).order_by("-version").first()
        if code
        else None
    )
    if previous is not None and effective_from < previous.effective_from:
        errors["effective_from"] = [
            _("Version %(v)s took effect on %(d)s; a new version cannot take effect earlier.")
            % {"v": previous.version, "d": previous.effective_from}
        ]
    if errors:
        raise ValidationFailed(
            _("The clause was not published; correct the fields named."), fields=errors
        )
    clause = PolicyClause(
        code=code,
        version=(previous.version + 1) if previous else 1,
        title=title.strip(),
        text=text.strip(),
        effective_from=effective_from,
        effective_to=effective_to,
        published_at=at,
        published_by=actor if actor.is_authenticated else None,
    )
    _full_clean(clause, _("The clause was not published; correct the fields named."))
    _stamp(clause, actor, _("Version published"))
    clause.save()
    ledger_append(
        event_type=EventType.POLICY_CLAUSE_PUBLISHED,
        object_ref=f"policy_clause:{clause.code}:v{clause.version}",
        actor_ref=actor_ref(actor),
        data={
            "code": clause.code,
            "version": clause.version,
            "title": clause.title,
            "text_sha256": _sha256(clause.text),
            "effective_from": clause.effective_from.isoformat(),
            "effective_to": clause.effective_to.isoformat() if clause.effective_to else None,
        },
        at=at,
    )
    return clause


# --- roles and reference data ----------------------------------------------------------------


@transaction.atomic
def role_grant(
    *,
    actor: Any,
    user: Any,
    role: str,
    department: Department | None = None,
    reason: str = "",
    now: datetime | None = None,
) -> RoleMembership:
    """Grant `role` to `user` (within `department` for handlers and leads)."""
    _require(policies.can_manage_roles(actor), _("Only admins can grant roles."))
    errors: dict[str, list[str]] = {}
    if role not in Role.values:
        errors["role"] = [_("Choose one of: %s.") % ", ".join(Role.values)]
    elif role in DEPARTMENT_ROLES and department is None:
        errors["department"] = [_("Handlers and leads belong to a department; choose one.")]
    elif role not in DEPARTMENT_ROLES and department is not None:
        errors["department"] = [_("Only handlers and leads belong to a department.")]
    if errors:
        raise ValidationFailed(_("The role was not granted."), fields=errors)
    at = _now(now)
    if RoleMembership.objects.filter(
        user=user, role=role, department=department, revoked_at__isnull=True
    ).exists():
        raise Conflict(_("%(user)s already holds this role.") % {"user": user.get_username()})
    membership = RoleMembership(
        user=user, role=role, department=department, granted_at=at, granted_by=actor
    )
    _stamp(membership, actor, reason or _("Role granted"))
    membership.save()
    user.groups.add(Group.objects.get(name=role))
    if role == Role.ADMIN and not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    policies.forget_roles(user)
    ledger_append(
        event_type=EventType.ROLE_GRANTED,
        object_ref=f"user:{actor_ref(user)}",
        actor_ref=actor_ref(actor),
        data={"role": role, "department": department.code if department else None},
        at=at,
    )
    return membership


@transaction.atomic
def role_revoke(
    *, actor: Any, membership: RoleMembership, reason: str, now: datetime | None = None
) -> RoleMembership:
    """Revoke a role membership, keeping it in the history."""
    _require(policies.can_manage_roles(actor), _("Only admins can revoke roles."))
    membership = (
        RoleMembership.objects.select_for_update(of=("self",))
        .select_related("user", "department")
        .get(pk=membership.pk)
    )
    if membership.revoked_at is not None:
        raise Conflict(_("This role was already revoked on %s.") % membership.revoked_at.date())
    if not reason.strip():
        raise ValidationFailed(_("The role was not revoked."), fields={"reason": [_("Say why.")]})
    at = _now(now)
    membership.revoked_at = at
    _stamp(membership, actor, reason)
    membership.save()
    user = membership.user
    if not RoleMembership.objects.filter(
        user=user, role=membership.role, revoked_at__isnull=True
    ).exists():
        user.groups.remove(Group.objects.get(name=membership.role))
        if membership.role == Role.ADMIN and not user.is_superuser:
            user.is_staff = False
            user.save(update_fields=["is_staff"])
    policies.forget_roles(user)
    ledger_append(
        event_type=EventType.ROLE_REVOKED,
        object_ref=f"user:{actor_ref(user)}",
        actor_ref=actor_ref(actor),
        data={
            "role": membership.role,
            "department": membership.department.code if membership.department else None,
            "reason_sha256": _sha256(reason),
        },
        at=at,
    )
    return membership


@transaction.atomic
def reference_record_save(
    *, actor: Any, record: Department | Category | Holiday, reason: str, now: datetime | None = None
) -> Department | Category | Holiday:
    """Create or change a department, category or holiday, with its history and ledger entry."""
    _require(policies.can_manage_roles(actor), _("Only admins can change reference data."))
    if not reason.strip():
        raise ValidationFailed(
            _("Nothing was saved."), fields={"reason": [_("Say why this changes.")]}
        )
    _full_clean(record, _("Nothing was saved; correct the fields named."))
    _stamp(record, actor, reason)
    record.save()
    fields = {f.attname: f.value_from_object(record) for f in record._meta.concrete_fields}
    ledger_append(
        event_type=EventType.REFERENCE_DATA_CHANGED,
        object_ref=f"{record._meta.model_name}:{record.pk}",
        actor_ref=actor_ref(actor),
        data={k: (v.isoformat() if isinstance(v, date) else v) for k, v in fields.items()},
        at=_now(now),
    )
    return record


# --- deadlines -------------------------------------------------------------------------------

# For each stage: the complaint's due-time field and the statuses in which it is still pending.
SLA_STAGES: dict[str, tuple[str, frozenset[str]]] = {
    SlaStage.ACKNOWLEDGE: ("acknowledge_due_at", frozenset({ComplaintStatus.RECEIVED})),
    SlaStage.TRIAGE: (
        "triage_due_at",
        frozenset({ComplaintStatus.RECEIVED, ComplaintStatus.ACKNOWLEDGED}),
    ),
    SlaStage.DECIDE: ("decision_due_at", OPEN_STATUSES),
}


def _leads_of(department_id: int) -> list[Any]:
    user_model = get_user_model()
    return list(
        user_model.objects.filter(
            role_memberships__role=Role.DEPARTMENT_LEAD,
            role_memberships__department_id=department_id,
            role_memberships__revoked_at__isnull=True,
            is_active=True,
        ).distinct()
    )


def _notify_leads(
    leads: Iterable[Any], complaint_reference: str, stage: str, due: datetime
) -> None:
    recipients = [lead.email for lead in leads if lead.email]
    if recipients:
        send_mail(
            subject=f"[Ombud] {complaint_reference}: {stage} deadline missed",
            message=(
                f"Complaint {complaint_reference} missed its {stage} deadline "
                f"({due.isoformat()}).\n"
                "Open it in Ombud to reassign or act on it."
            ),
            from_email=None,
            recipient_list=recipients,
            fail_silently=True,
        )


def sla_breaches_escalate(*, now: datetime | None = None, batch_size: int = 500) -> dict[str, int]:
    """Record each newly missed deadline once and escalate it to the department's leads.

    Idempotent and safe to run twice at once: the (complaint, stage) unique constraint lets one
    run win each breach; the other skips it.
    """
    at = _now(now)
    counts = {str(stage): 0 for stage in SLA_STAGES}
    leads_by_department: dict[int, list[Any]] = {}
    actor = system_actor_ref("sla_escalate")
    for stage, (due_field, pending) in SLA_STAGES.items():
        overdue = (
            Complaint.objects.filter(status__in=sorted(pending), **{f"{due_field}__lt": at})
            .exclude(sla_breaches__stage=stage)
            .order_by("pk")
            .values_list("pk", "reference", "department_id", due_field)
        )
        last_pk = 0
        while True:
            batch = list(overdue.filter(pk__gt=last_pk)[:batch_size])
            if not batch:
                break
            last_pk = batch[-1][0]
            for pk, reference, department_id, due in batch:
                if department_id not in leads_by_department:
                    leads_by_department[department_id] = _leads_of(department_id)
                leads = leads_by_department[department_id]
                try:
                    with transaction.atomic():
                        breach = SlaBreach(complaint_id=pk, stage=stage, due_at=due, detected_at=at)
                        breach.save()
                        breach.escalated_to.set(leads)
                        ledger_append(
                            event_type=EventType.SLA_BREACHED,
                            object_ref=f"complaint:{reference}",
                            actor_ref=actor,
                            data={
                                "stage": str(stage),
                                "due_at": due.isoformat(),
                                "escalated_to": sorted(actor_ref(lead) for lead in leads),
                            },
                            at=at,
                        )
                        transaction.on_commit(
                            partial(_notify_leads, leads, reference, str(stage), due)
                        )
                except IntegrityError:
                    continue  # another run recorded this breach first
                counts[str(stage)] += 1
    return counts
