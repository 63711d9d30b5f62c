"""Every policy-bound read of the governance app; each starts from `visible_to(user)`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from . import policies
from .choices import Role
from .errors import NotFound, PermissionDenied, ValidationFailed
from .models import (
    Appeal,
    Category,
    Complaint,
    ComplaintQuerySet,
    Decision,
    Department,
    PolicyClause,
)
from .models.complaints import COMPLAINT_TIMES

_COMPLAINT_RELATED = (
    "category",
    "department",
    "complainant",
    "affected_subject",
    "description",
    "assignee",
)


def complaint_list(*, user: Any) -> ComplaintQuerySet:
    """List the complaints `user` may see, with what the list shows already joined."""
    return Complaint.objects.visible_to(user).select_related(*_COMPLAINT_RELATED)


# What a list of complaints shows (governance.api.serializers.ComplaintOut with no personal
# data): the complaint's own columns, and of its related rows only codes, pseudonyms and names.
# Ciphertexts and the description stay in the database; tests count the list's queries, so a
# field read here that is not loaded would show up as one query per complaint.
_COMPLAINT_LISTED = (
    "reference",
    "status",
    "channel",
    "severity",
    "urgency",
    "priority",
    "content_url",
    "content_id",
    *COMPLAINT_TIMES,
    "category__code",
    "department__code",
    "complainant__pseudonym",
    "complainant__user_id",
    "affected_subject__pseudonym",
    "affected_subject__user_id",
    "assignee__username",
)


def complaint_listing(*, user: Any) -> ComplaintQuerySet:
    """The complaints `user` may see, loaded for a list: what `_COMPLAINT_LISTED` names."""
    return (
        Complaint.objects.visible_to(user)
        .select_related("category", "department", "complainant", "affected_subject", "assignee")
        .only(*_COMPLAINT_LISTED)
    )


def complaint_get(*, user: Any, reference: str, brief: bool = False) -> Complaint:
    """Return one complaint by its public reference, or NotFound if `user` may not see it.

    `brief` loads only its id, reference, department and status, with no related row: for
    callers that check the complaint is visible and then read it their own way (the timeline),
    or hand it to a service that re-reads it under its row lock (a decision).
    """
    if brief:
        rows = Complaint.objects.visible_to(user).only("reference", "department_id", "status")
    else:
        rows = complaint_list(user=user)
    # References are unique: no ORDER BY, which first() would add (see _chronological).
    complaint = next(iter(rows.filter(reference=reference).order_by()[:1]), None)
    if complaint is None:
        raise NotFound(_("No complaint %s is visible to you; check the reference.") % reference)
    return complaint


def assignee_get(*, complaint: Complaint, username: str) -> Any:
    """Return the active handler or lead of the complaint's department with this username.

    One answer for "no such user" and "not in this department", so the caller learns nothing
    about accounts outside the department.
    """
    user = _department_staff([complaint.department_id]).filter(username=username).first()
    if user is None:
        raise ValidationFailed(
            _("The complaint was not assigned."),
            fields={
                "assignee": [
                    _("No handler or lead of the %s department has that username.")
                    % complaint.department.code
                ]
            },
        )
    return user


def _department_staff(department_ids: Iterable[int]) -> QuerySet[Any]:
    return (
        get_user_model()
        .objects.filter(
            is_active=True,
            role_memberships__role__in=[Role.HANDLER, Role.DEPARTMENT_LEAD],
            role_memberships__department_id__in=sorted(department_ids),
            role_memberships__revoked_at__isnull=True,
        )
        .distinct()
        .order_by("username")
    )


def department_staff_list(*, user: Any, department_ids: Iterable[int]) -> QuerySet[Any]:
    """List the active handlers and leads of those of `department_ids` that `user` leads
    (whom a lead may assign complaints to)."""
    led = policies.roles_of(user).department_ids(Role.DEPARTMENT_LEAD)
    return _department_staff(led & set(department_ids))


def decision_list(*, user: Any) -> QuerySet[Decision]:
    """List the decisions `user` may read."""
    return Decision.objects.visible_to(user).select_related(
        "complaint", "policy_clause", "decided_by", "appeal", "superseded_by"
    )


def decision_get(*, user: Any, pk: int) -> Decision:
    """Return one decision, or NotFound if `user` may not read it."""
    decision = decision_list(user=user).filter(pk=pk).first()
    if decision is None:
        raise NotFound(_("No decision %s is visible to you.") % pk)
    return decision


def appeal_list(*, user: Any) -> QuerySet[Appeal]:
    """List the appeals `user` may see."""
    return Appeal.objects.visible_to(user).select_related(
        "complaint__complainant",
        "complaint__affected_subject",
        "decision",
        "appellant",
        "statement",
        "outcome_decision",
    )


def appeal_get(*, user: Any, pk: int) -> Appeal:
    """Return one appeal, or NotFound if `user` may not see it."""
    appeal = appeal_list(user=user).filter(pk=pk).first()
    if appeal is None:
        raise NotFound(_("No appeal %s is visible to you.") % pk)
    return appeal


def policy_clause_list(*, user: Any) -> QuerySet[PolicyClause]:
    """List every version of every clause (the rule book is open to all roles)."""
    if not policies.can_read_policy_clauses(user):
        return PolicyClause.objects.none()
    return PolicyClause.objects.all()


def policy_clause_get(*, user: Any, pk: int) -> PolicyClause:
    """Return one clause version, or NotFound."""
    clause = policy_clause_list(user=user).filter(pk=pk).first()
    if clause is None:
        raise NotFound(_("No policy clause %s exists.") % pk)
    return clause


def department_list(*, user: Any) -> QuerySet[Department]:
    """List the departments (reference data open to every role)."""
    if not policies.can_read_reference_data(user):
        return Department.objects.none()
    return Department.objects.filter(is_active=True)


def category_list(*, user: Any) -> QuerySet[Category]:
    """List the complaint categories (reference data open to every role)."""
    if not policies.can_read_reference_data(user):
        return Category.objects.none()
    return Category.objects.select_related("default_department")


@dataclass(frozen=True)
class TimelineEntry:
    """One moment in a complaint's life, from any of the records that tell it."""

    at: datetime
    kind: str
    summary: str
    actor: str | None
    details: dict[str, Any]


def _actor_name(user: Any, *, reveal: bool) -> str | None:
    from privacy.pseudonyms import actor_ref

    if user is None:
        return None
    return user.get_username() if reveal else actor_ref(user)


def complaint_timeline(*, user: Any, reference: str) -> list[TimelineEntry]:
    """Merge a complaint's history, transitions, assignments, decisions and appeals by time."""
    if not policies.can_view_timelines(user):
        raise PermissionDenied(_("Your role does not include complaint timelines."))
    complaint = complaint_get(user=user, reference=reference, brief=True)
    reveal = policies.can_see_staff_identity(user, complaint)
    entries: list[TimelineEntry] = []

    # Each history row is compared with the one written before it: write order, which is also
    # time order when the services are called in time order. The sort at the end places each
    # entry by its time.
    previous = None
    for record in _chronological(complaint.history.select_related("history_user"), "history_id"):
        changes: dict[str, Any] = {}
        if previous is not None:
            delta = record.diff_against(previous, excluded_fields=["updated_at"])
            changes = {c.field: {"from": _plain(c.old), "to": _plain(c.new)} for c in delta.changes}
        entries.append(
            TimelineEntry(
                at=record.history_date,
                kind="history",
                summary=record.history_change_reason or record.get_history_type_display(),
                actor=_actor_name(record.history_user, reveal=reveal),
                details={"type": record.history_type, "changes": changes},
            )
        )
        previous = record

    for t in _chronological(complaint.transitions.select_related("actor"), "at"):
        entries.append(
            TimelineEntry(
                at=t.at,
                kind="transition",
                summary=f"{t.from_status} → {t.to_status}",
                actor=_actor_name(t.actor, reveal=reveal) or t.actor_ref,
                details={"from": t.from_status, "to": t.to_status, "reason": t.reason},
            )
        )
    for a in _chronological(
        complaint.assignments.select_related("assignee", "assigned_by"), "assigned_at"
    ):
        entries.append(
            TimelineEntry(
                at=a.assigned_at,
                kind="assignment",
                summary=_("Assigned to %s") % _actor_name(a.assignee, reveal=reveal),
                actor=_actor_name(a.assigned_by, reveal=reveal),
                details={"reason": a.reason, "ended_at": a.ended_at},
            )
        )
    for d in _chronological(
        complaint.decisions.select_related("decided_by", "policy_clause"), "decided_at"
    ):
        entries.append(
            TimelineEntry(
                at=d.decided_at,
                kind="decision",
                summary=f"{d.get_kind_display()}: {d.get_outcome_display()}",
                actor=_actor_name(d.decided_by, reveal=reveal),
                details={
                    "decision": d.pk,
                    "outcome": d.outcome,
                    "actions": d.actions,
                    "policy_clause": str(d.policy_clause),
                    "supersedes": d.supersedes_id,
                    "appeal_outcome": d.appeal_outcome or None,
                },
            )
        )
    for ap in _chronological(complaint.appeals.all(), "filed_at"):
        entries.append(
            TimelineEntry(
                at=ap.filed_at,
                kind="appeal",
                summary=_("Appeal filed against decision %s") % ap.decision_id,
                actor=ap.appellant_role,
                details={"appeal": ap.pk, "status": ap.status},
            )
        )
    entries.sort(key=lambda e: (e.at, _KIND_ORDER.get(e.kind, 9)))
    return entries


_KIND_ORDER = {"transition": 0, "assignment": 1, "decision": 2, "appeal": 3, "history": 4}


def _chronological(rows: QuerySet[Any], by: str, tiebreak: str = "pk") -> list[Any]:
    """Return a complaint's few rows of one kind oldest first (by the field `by`, then by
    `tiebreak`), ordered here, not by SQL.

    An ORDER BY cost about a third of compiling the timeline's five queries: Django 5.2
    resolves the ordering's names, and first hashes the selected columns (those not cached on
    their field, such as a join's, go through `inspect` each time). Sorting a handful of rows
    in Python costs a fraction of that.
    """
    return sorted(rows.order_by(), key=lambda row: (getattr(row, by), getattr(row, tiebreak)))


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def complaint_ledger_refs(*, reference: str) -> list[str]:
    """Return the ledger references of a complaint and of its decisions and appeals."""
    complaint = Complaint.objects.filter(reference=reference).first()
    if complaint is None:
        raise NotFound(_("No complaint %s exists; check the reference.") % reference)
    return [
        f"complaint:{complaint.reference}",
        *(f"decision:{pk}" for pk in complaint.decisions.values_list("pk", flat=True)),
        *(f"appeal:{pk}" for pk in complaint.appeals.values_list("pk", flat=True)),
    ]


def complaint_evidence(
    *, user: Any, reference: str, consistency_from: list[int] | None = None
) -> dict[str, Any]:
    """Return the evidence bundle of one complaint for compliance officers and supervisors.

    Not through visible_to: supervisors may not read complaints, yet may verify the ledger's
    record of one; the bundle holds references, pseudonyms and hashes, no personal data.
    """
    from audits.selectors import evidence_bundle

    if not policies.can_read_ledger(user):
        raise PermissionDenied(_("Your role does not include the ledger."))
    return evidence_bundle(
        user=user,
        title=reference,
        object_refs=complaint_ledger_refs(reference=reference),
        consistency_from=consistency_from or (),
    )
