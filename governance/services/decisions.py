"""Decisions, corrections and appeals: every one a new, immutable row."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from audits.choices import EventType
from audits.services import ledger_append, ledger_deferred
from governance import deadlines, policies
from governance.choices import (
    ACTING_OUTCOMES,
    TEMPORARY_ACTIONS,
    TERRITORIES,
    AppealOutcome,
    AppealStatus,
    AppellantRole,
    AutomatedDecision,
    ComplaintStatus,
    DecisionAction,
    DecisionGround,
    DecisionKind,
    DecisionOutcome,
)
from governance.errors import Conflict, InvalidTransition, PermissionDenied, ValidationFailed
from governance.models import (
    Appeal,
    Complaint,
    Decision,
    PolicyClause,
)
from privacy import services as privacy_services
from privacy.choices import NoteKind
from privacy.pseudonyms import actor_ref

from .complaints import MAX_DESCRIPTION
from .recording import (
    at_or_now,
    lock_complaint,
    require,
    save_complaint,
    sha256_hex,
    stamp_history,
    transition,
)

MAX_TEXT = 5000

# --- decisions -------------------------------------------------------------------------------


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
    clause_day: date | None = None,
    restriction_carried: bool = False,
) -> dict[str, Any]:
    """Validate a decision's content, collecting every problem; return the cleaned values.

    `clause_day` is the day the clause must be in force on (today unless an upheld appeal keeps
    the original clause); a `restriction_carried` over from the original is not re-dated.
    """
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
                _('A decision "%s" takes no action; send ["none"] or nothing.')
                % DecisionOutcome(outcome).label
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
    elif not policy_clause.in_force_on(clause_day or today):
        errors["policy_clause"] = [
            _(
                "%(clause)s is not the version in force on %(day)s; "
                "choose the current version of %(code)s."
            )
            % {"clause": str(policy_clause), "code": policy_clause.code, "day": clause_day or today}
        ]
    owed = {
        "facts": _("State the facts; the complainant is owed them."),
        "reasons": _("State the reasons; the complainant is owed them."),
    }
    for name, value in (("facts", facts), ("reasons", reasons)):
        if not (value or "").strip():
            errors[name] = [owed[name]]
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
        elif restriction_end <= today and not restriction_carried:
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


def decision_ledger_data(decision: Decision) -> dict[str, Any]:
    """Return what the ledger records of a decision.

    The structured content goes in as it is; the free-text facts and reasons go in as SHA-256
    commitments, so the ledger never keeps prose that might name a person, yet any later
    change to them shows.
    """
    clause = decision.policy_clause
    return {
        "complaint": decision.complaint.reference,
        "kind": decision.kind,
        "outcome": decision.outcome,
        "actions": decision.actions,
        "ground": decision.ground,
        "ground_reference": decision.ground_reference,
        "policy_clause": {"code": clause.code, "version": clause.version},
        "facts_sha256": sha256_hex(decision.facts),
        "reasons_sha256": sha256_hex(decision.reasons),
        "automated_detection": decision.automated_detection,
        "automated_decision": decision.automated_decision,
        "territorial_scope": decision.territorial_scope,
        "restriction_end": decision.restriction_end.isoformat()
        if decision.restriction_end
        else None,
        "supersedes": decision.supersedes_id,
        "appeal": decision.appeal_id,
        "appeal_outcome": decision.appeal_outcome or None,
    }


def _decision_ledger(decision: Decision, event: EventType) -> None:
    ledger_append(
        event_type=event,
        object_ref=f"decision:{decision.pk}",
        actor_ref=actor_ref(decision.decided_by),
        data=decision_ledger_data(decision),
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
    complaint = lock_complaint(complaint)
    at = at_or_now(now)
    if supersedes is None:
        # Department first, then state, then "assignee or lead": before assignment there is no
        # assignee, and "wrong state" is the more useful answer to the department's staff.
        require(
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
        require(
            policies.can_decide_complaint(actor, complaint),
            _("Only the assigned handler or a lead of the %s department can decide this complaint.")
            % complaint.department.code,
        )
        _refuse_a_party(actor, complaint)
        kind = DecisionKind.INITIAL
    else:
        if supersedes.complaint_id != complaint.pk:
            raise ValidationFailed(
                _("The correction was not recorded."),
                fields={"supersedes": [_("That decision belongs to another complaint.")]},
            )
        require(
            policies.can_correct_decision(actor, supersedes),
            _("Only a lead of the %s department can correct a decision.")
            % complaint.department.code,
        )
        _refuse_a_party(actor, complaint)
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
                % ComplaintStatus(complaint.status).label
            )
        current = complaint.current_decision()
        if current is None or current.pk != supersedes.pk:
            raise Conflict(
                _("Decision %(old)s has been superseded by %(new)s; correct the decision in force.")
                % {"old": supersedes.pk, "new": current.pk if current else "-"}
            )
        appealed = _appealed_decision(supersedes)
        if appealed is not None and actor.pk in _deciders(appealed):
            # Otherwise the decider under appeal could undo the appeal outcome by "correcting" it.
            raise PermissionDenied(
                _(
                    "You took part in the decision that was appealed; a correction of the "
                    "appeal outcome must come from someone who did not."
                )
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
        today=deadlines.business_date(at),
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
    # The complaint and its history are written before the two ledger entries, so the ledger
    # lock, which serialises every decision, covers only the entries and the commit.
    with ledger_deferred():
        if kind == DecisionKind.INITIAL:
            transition(
                complaint,
                ComplaintStatus.DECIDED,
                actor=actor,
                reason=_("Decision recorded"),
                at=at,
            )
            save_complaint(complaint, actor, _("Decision recorded"), at=at)
        _decision_ledger(decision, EventType.DECISION_RECORDED)
    return decision


# --- appeals ---------------------------------------------------------------------------------


@transaction.atomic
def appeal_file(
    *, actor: Any, decision: Decision, statement: str, now: datetime | None = None
) -> Appeal:
    """Appeal the decision in force, as the complainant or the affected account holder."""
    complaint = lock_complaint(decision.complaint)
    require(
        policies.can_appeal_complaint(actor, complaint),
        _("Only the complainant or the affected account holder can appeal this decision."),
    )
    at = at_or_now(now)
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
    current = complaint.current_decision()
    if current is None or current.pk != decision.pk:
        raise Conflict(
            _("Decision %s is no longer in force; appeal the current decision.") % decision.pk
        )
    deadline = deadlines.add_months(decision.decided_at, _appeal_window_months())
    if at > deadline:
        raise Conflict(
            _("The appeal window closed on %s (six months after the decision).") % deadline.date()
        )
    transition(complaint, ComplaintStatus.APPEALED, actor=actor, reason=_("Appeal filed"), at=at)
    if complaint.complainant.user_id == actor.pk:
        appellant, role = complaint.complainant, AppellantRole.COMPLAINANT
    else:
        # can_appeal_complaint admitted the actor, so they are the affected account holder.
        assert complaint.affected_subject is not None  # noqa: S101
        appellant, role = complaint.affected_subject, AppellantRole.ACCOUNT_HOLDER
    note = privacy_services.note_create(
        actor=actor,
        subject=appellant,
        kind=NoteKind.APPEAL_STATEMENT,
        text=statement.strip(),
        at=at,
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
    stamp_history(appeal, actor, _("Appeal filed"), at=at)
    appeal.save()
    save_complaint(complaint, actor, _("Appeal filed"), at=at)
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


def _appealed_decision(decision: Decision) -> Decision | None:
    """Return the decision an appeal overturned or upheld somewhere down this chain, if any."""
    node: Decision | None = decision
    while node is not None:
        if node.kind == DecisionKind.APPEAL:
            return node.supersedes
        node = node.supersedes
    return None


def _deciders(decision: Decision) -> set[int]:
    ids: set[int] = set()
    node: Decision | None = decision
    while node is not None:
        ids.add(node.decided_by_id)
        node = node.supersedes
    return ids


def _party_to(actor: Any, complaint: Complaint) -> bool:
    """Return whether `actor` is the complainant or the affected account holder."""
    parties = [complaint.complainant, complaint.affected_subject]
    return any(p is not None and p.user_id == actor.pk for p in parties)


def _refuse_a_party(actor: Any, complaint: Complaint) -> None:
    # Nobody decides, or corrects the decision on, a complaint they filed or that is about
    # their own account, whatever their role (ISO 10002 objectivity).
    if _party_to(actor, complaint):
        raise PermissionDenied(
            _(
                "You are a party to complaint %s; another handler or a lead of the department "
                "must decide it."
            )
            % complaint.reference
        )


def _substance(values: dict[str, Any]) -> tuple[Any, ...]:
    """Return what a modification must change at least one of."""
    return (
        values["outcome"],
        sorted(values["actions"]),
        values["restriction_end"],
        sorted(values["territorial_scope"]),
    )


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
    complaint = lock_complaint(appeal.complaint)
    appeal = (
        Appeal.objects.select_for_update(of=("self",)).select_related("decision").get(pk=appeal.pk)
    )
    require(
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
    if _party_to(actor, complaint):
        # Otherwise a member of staff whose own complaint, or own reported account, it is could
        # decide the appeal they or the other side filed.
        raise PermissionDenied(
            _(
                "You are a party to this complaint; another handler or your lead must decide "
                "its appeal."
            )
        )
    if appeal.status != AppealStatus.OPEN:
        raise Conflict(_("Appeal %s has already been decided.") % appeal.pk)
    if outcome not in AppealOutcome.values:
        raise ValidationFailed(
            _("The appeal was not decided."),
            fields={"outcome": [_("Choose one of: %s.") % ", ".join(AppealOutcome.values)]},
        )
    at = at_or_now(now)
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
        if restriction_end is None:
            restriction_end = original.restriction_end
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
        today=deadlines.business_date(at),
        # Upholding may keep the clause the original applied, even if a newer version exists.
        clause_day=deadlines.business_date(original.decided_at)
        if policy_clause is None or policy_clause.pk == original.policy_clause_id
        else None,
        restriction_carried=restriction_end is not None
        and restriction_end == original.restriction_end,
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
        or _substance(cleaned)
        == _substance(
            {
                "outcome": original.outcome,
                "actions": original.actions,
                "restriction_end": original.restriction_end,
                "territorial_scope": original.territorial_scope,
            }
        )
    ):
        raise ValidationFailed(
            _("The appeal was not decided."),
            fields={
                "decision_outcome": [
                    _(
                        "A modification changes the outcome, actions, end date or territory "
                        "without reversing the decision."
                    )
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
    transition(
        complaint, ComplaintStatus.APPEAL_DECIDED, actor=actor, reason=_("Appeal decided"), at=at
    )
    save_complaint(complaint, actor, _("Appeal decided"), at=at)
    appeal.status = AppealStatus.DECIDED
    appeal.decided_at = at
    stamp_history(appeal, actor, _("Appeal decided"), at=at)
    appeal.save()
    _decision_ledger(decision, EventType.APPEAL_DECIDED)
    return decision
