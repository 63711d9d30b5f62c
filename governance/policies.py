"""Who may do what: Ombud's one access policy.

Roles come from `RoleMembership`. Every check is a `can_<verb>_<entity>(user, obj) -> bool`;
every policy-bound list starts from `Model.objects.visible_to(user)`, which calls the
`restrict_*` functions here. Deny by default: a user with no role sees and may do nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet

from .choices import Role

if TYPE_CHECKING:
    from .models import Appeal, Complaint, Decision

_CACHE_ATTR = "_ombud_roles"


@dataclass(frozen=True)
class RoleSet:
    """The active roles of one user, with the departments of their department roles."""

    roles: frozenset[str] = frozenset()
    departments: dict[str, frozenset[int]] = field(default_factory=dict)

    def has(self, *roles: str) -> bool:
        return any(role in self.roles for role in roles)

    def department_ids(self, *roles: str) -> frozenset[int]:
        ids: set[int] = set()
        for role in roles:
            ids |= self.departments.get(role, frozenset())
        return frozenset(ids)


def roles_of(user: Any) -> RoleSet:
    """Return the active roles of `user`, read once and cached on the user object."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return RoleSet()
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is not None:
        return cached
    from .models import RoleMembership

    roles: set[str] = set()
    departments: dict[str, set[int]] = {}
    rows = RoleMembership.objects.filter(user=user, revoked_at__isnull=True).values_list(
        "role", "department_id"
    )
    for role, department_id in rows:
        roles.add(role)
        if department_id is not None:
            departments.setdefault(role, set()).add(department_id)
    if user.is_superuser:
        roles.add(Role.ADMIN)
    result = RoleSet(frozenset(roles), {k: frozenset(v) for k, v in departments.items()})
    setattr(user, _CACHE_ATTR, result)
    return result


def forget_roles(user: Any) -> None:
    """Drop the cached roles of `user` after a grant or revoke."""
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)


def needs_two_factor(user: Any) -> bool:
    """Return whether `user` must give a TOTP code to sign in: everyone but complainants."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return bool(user.is_staff or user.is_superuser or roles_of(user).roles - {Role.COMPLAINANT})


def is_signed_in(user: Any) -> bool:
    """Return whether `user` has completed sign-in: a password, and a TOTP code where needed."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return not needs_two_factor(user) or bool(getattr(user, "is_verified", lambda: False)())


def _staff_departments(user: Any) -> frozenset[int]:
    return roles_of(user).department_ids(Role.HANDLER, Role.DEPARTMENT_LEAD)


def _lead_departments(user: Any) -> frozenset[int]:
    return roles_of(user).department_ids(Role.DEPARTMENT_LEAD)


def _owns(user: Any, complaint: Complaint) -> bool:
    return complaint.complainant.user_id == user.pk


def _affected(user: Any, complaint: Complaint) -> bool:
    subject = complaint.affected_subject
    return subject is not None and subject.user_id == user.pk


# --- endpoint-level gates (may this role use this kind of action at all?) ---------------


def can_list_complaints(user: Any) -> bool:
    """Allow the roles that see some complaints to list them."""
    return roles_of(user).has(
        Role.COMPLAINANT, Role.HANDLER, Role.DEPARTMENT_LEAD, Role.COMPLIANCE_OFFICER
    )


def can_file_complaint(user: Any) -> bool:
    """Allow complainants to file, and handlers and leads to record one received by phone."""
    return roles_of(user).has(Role.COMPLAINANT, Role.HANDLER, Role.DEPARTMENT_LEAD)


def can_work_complaints(user: Any) -> bool:
    """Allow handlers and leads to use the handling actions (acknowledge, triage, ...)."""
    return roles_of(user).has(Role.HANDLER, Role.DEPARTMENT_LEAD)


def can_withdraw_complaints(user: Any) -> bool:
    """Allow complainants, handlers and leads to use the withdraw action."""
    return roles_of(user).has(Role.COMPLAINANT, Role.HANDLER, Role.DEPARTMENT_LEAD)


def can_rate_complaints(user: Any) -> bool:
    """Allow complainants to use the rating action."""
    return roles_of(user).has(Role.COMPLAINANT)


def can_lead_department(user: Any) -> bool:
    """Allow department leads to open their department's overview."""
    return roles_of(user).has(Role.DEPARTMENT_LEAD)


def can_audit_records(user: Any) -> bool:
    """Allow compliance officers to search decisions and read full, ledger-checked histories."""
    return roles_of(user).has(Role.COMPLIANCE_OFFICER)


def can_view_timelines(user: Any) -> bool:
    """Allow the staff who read complaint histories to open timelines."""
    return roles_of(user).has(Role.HANDLER, Role.DEPARTMENT_LEAD, Role.COMPLIANCE_OFFICER)


def can_list_decisions(user: Any) -> bool:
    """Allow the roles that read some decisions to list them."""
    return roles_of(user).has(
        Role.COMPLAINANT,
        Role.HANDLER,
        Role.DEPARTMENT_LEAD,
        Role.COMPLIANCE_OFFICER,
        Role.SUPERVISOR,
    )


def can_record_decisions(user: Any) -> bool:
    """Allow handlers and leads to record decisions."""
    return roles_of(user).has(Role.HANDLER, Role.DEPARTMENT_LEAD)


def can_list_appeals(user: Any) -> bool:
    """Allow the roles that see some appeals to list them."""
    return roles_of(user).has(
        Role.COMPLAINANT, Role.HANDLER, Role.DEPARTMENT_LEAD, Role.COMPLIANCE_OFFICER
    )


def can_file_appeals(user: Any) -> bool:
    """Allow complainants (and affected account holders, who sign in as complainants) to appeal."""
    return roles_of(user).has(Role.COMPLAINANT)


def can_read_policy_clauses(user: Any) -> bool:
    """Allow every signed-in user with a role to read the rule book."""
    return bool(roles_of(user).roles)


def can_publish_policy_clauses(user: Any) -> bool:
    """Allow admins to publish a clause or a new version of one."""
    return roles_of(user).has(Role.ADMIN)


def can_read_reference_data(user: Any) -> bool:
    """Allow every signed-in user with a role to read departments and categories."""
    return bool(roles_of(user).roles)


def can_read_ledger(user: Any) -> bool:
    """Allow compliance officers and supervisors to read the ledger, its proofs and evidence.

    The ledger holds pseudonyms, references and hashes only, so supervisors may read it whole.
    """
    return roles_of(user).has(Role.COMPLIANCE_OFFICER, Role.SUPERVISOR)


def can_read_statements_of_reasons(user: Any) -> bool:
    """Allow compliance officers and supervisors to export the DSA statements of reasons.

    A statement carries no personal data (audits/statements.py checks every one), so
    supervisors may read them all.
    """
    return roles_of(user).has(Role.COMPLIANCE_OFFICER, Role.SUPERVISOR)


def can_read_early_warning(user: Any) -> bool:
    """Allow supervisors and compliance officers to read daily complaint counts per category."""
    return roles_of(user).has(Role.SUPERVISOR, Role.COMPLIANCE_OFFICER)


def can_publish_reports(user: Any) -> bool:
    """Allow supervisors, the independent oversight, to publish oversight reports."""
    return roles_of(user).has(Role.SUPERVISOR)


def can_read_reports(user: Any) -> bool:
    """Allow supervisors and compliance officers to list reports over the API (anyone may read
    the published ones on the transparency page)."""
    return roles_of(user).has(Role.SUPERVISOR, Role.COMPLIANCE_OFFICER)


def can_draw_samples(user: Any) -> bool:
    """Allow supervisors to draw a quality sample of decisions."""
    return roles_of(user).has(Role.SUPERVISOR)


def can_read_samples(user: Any) -> bool:
    """Allow supervisors and compliance officers to read samples, their reviews' scores and
    agreement, and to re-run a draw to verify it."""
    return roles_of(user).has(Role.SUPERVISOR, Role.COMPLIANCE_OFFICER)


def can_review_samples(user: Any) -> bool:
    """Allow supervisors to review sampled decisions blind (which ones: `can_review_decision`)."""
    return roles_of(user).has(Role.SUPERVISOR)


def can_list_corrective_actions(user: Any) -> bool:
    """Allow supervisors, compliance officers and department leads (their own department's)
    to follow corrective actions."""
    return roles_of(user).has(Role.SUPERVISOR, Role.COMPLIANCE_OFFICER, Role.DEPARTMENT_LEAD)


def can_close_corrective_actions(user: Any) -> bool:
    """Allow department leads to use the close action (which ones: their department's)."""
    return roles_of(user).has(Role.DEPARTMENT_LEAD)


def can_link_subject_accounts(user: Any) -> bool:
    """Allow privacy officers, who verify identities, to link a data subject to an account."""
    return roles_of(user).has(Role.PRIVACY_OFFICER)


def can_read_access_log(user: Any) -> bool:
    """Allow compliance officers to read who decrypted which personal data, and why."""
    return roles_of(user).has(Role.COMPLIANCE_OFFICER)


def can_manage_legal_holds(user: Any) -> bool:
    """Allow privacy and compliance officers to place, release and list legal holds."""
    return roles_of(user).has(Role.PRIVACY_OFFICER, Role.COMPLIANCE_OFFICER)


def can_handle_privacy_requests(user: Any) -> bool:
    """Allow privacy officers to record, verify, complete and refuse people's requests."""
    return roles_of(user).has(Role.PRIVACY_OFFICER)


def can_make_privacy_request(user: Any) -> bool:
    """Allow a complainant to ask for a copy of their data or its deletion."""
    return roles_of(user).has(Role.COMPLAINANT)


def can_use_privacy_requests(user: Any) -> bool:
    """Allow the people who make requests and the officers who handle them to list and open
    requests (which ones, `PrivacyRequest.objects.visible_to` decides)."""
    return can_make_privacy_request(user) or can_handle_privacy_requests(user)


def can_manage_retention(user: Any) -> bool:
    """Allow privacy officers to set retention rules and read their runs."""
    return roles_of(user).has(Role.PRIVACY_OFFICER)


def can_issue_authenticator_codes(user: Any) -> bool:
    """Allow superusers to issue authenticator set-up codes (as only they change staff accounts)."""
    return bool(getattr(user, "is_active", False) and getattr(user, "is_superuser", False))


def can_manage_roles(user: Any) -> bool:
    """Allow admins to grant and revoke roles."""
    return roles_of(user).has(Role.ADMIN)


# --- object-level checks ---------------------------------------------------------------------


def can_view_complaint(user: Any, complaint: Complaint) -> bool:
    """Allow compliance, the complaint's department, its complainant and the affected holder."""
    rs = roles_of(user)
    if rs.has(Role.COMPLIANCE_OFFICER):
        return True
    if complaint.department_id in _staff_departments(user):
        return True
    return rs.has(Role.COMPLAINANT) and (_owns(user, complaint) or _affected(user, complaint))


def can_see_personal_data(user: Any, complaint: Complaint) -> bool:
    """Allow the people who handle, audit or filed the complaint to read its personal data."""
    rs = roles_of(user)
    if rs.has(Role.COMPLIANCE_OFFICER) or complaint.department_id in _staff_departments(user):
        return True
    return rs.has(Role.COMPLAINANT) and _owns(user, complaint)


def can_handle_complaint(user: Any, complaint: Complaint) -> bool:
    """Allow handlers and leads of the complaint's department to work on it."""
    return complaint.department_id in _staff_departments(user)


def can_assign_complaint(user: Any, complaint: Complaint, assignee: Any) -> bool:
    """Allow a lead to assign or reassign within the department, and a handler to take an
    unassigned complaint (never one a colleague holds)."""
    if complaint.department_id in _lead_departments(user):
        return complaint.department_id in _staff_departments(assignee)
    return (
        assignee.pk == user.pk
        and complaint.assignee_id is None
        and complaint.department_id in _staff_departments(user)
    )


def can_withdraw_complaint(user: Any, complaint: Complaint) -> bool:
    """Allow the complainant, or the department's staff on the complainant's word."""
    if complaint.department_id in _staff_departments(user):
        return True
    return roles_of(user).has(Role.COMPLAINANT) and _owns(user, complaint)


def can_decide_complaint(user: Any, complaint: Complaint) -> bool:
    """Allow the assigned handler or a lead of the department to decide."""
    if complaint.department_id in _lead_departments(user):
        return True
    return complaint.assignee_id == user.pk and complaint.department_id in _staff_departments(user)


def can_correct_decision(user: Any, decision: Decision) -> bool:
    """Allow a lead of the complaint's department to record a correction."""
    return decision.complaint.department_id in _lead_departments(user)


def can_appeal_complaint(user: Any, complaint: Complaint) -> bool:
    """Allow the complainant and the affected account holder to appeal."""
    return roles_of(user).has(Role.COMPLAINANT) and (
        _owns(user, complaint) or _affected(user, complaint)
    )


def can_decide_appeal(user: Any, appeal: Appeal) -> bool:
    """Allow handlers and leads of the department (the service also excludes the decider)."""
    return appeal.complaint.department_id in _staff_departments(user)


def can_read_appeal_statement(user: Any, appeal: Appeal) -> bool:
    """Allow the appellant, the department's staff and compliance to read an appeal's statement.

    The complainant and the affected account holder are different people: neither reads the
    other's statement.
    """
    if appeal.appellant.user_id == user.pk:
        return True
    if roles_of(user).has(Role.COMPLIANCE_OFFICER):
        return True
    return appeal.complaint.department_id in _staff_departments(user)


def can_rate_complaint(user: Any, complaint: Complaint) -> bool:
    """Allow only the complainant to rate the handling."""
    return roles_of(user).has(Role.COMPLAINANT) and _owns(user, complaint)


def can_see_staff_identity(user: Any, complaint: Complaint) -> bool:
    """Name the staff on a complaint to compliance and its department; others get pseudonyms.

    Decided per complaint: a supervisor who is also a handler sees names only in their own
    department, and pseudonyms everywhere else.
    """
    if roles_of(user).has(Role.COMPLIANCE_OFFICER):
        return True
    return complaint.department_id in _staff_departments(user)


def can_read_subject_data(
    user: Any,
    subject: Any,
    *,
    complaint: Complaint | None = None,
    appeal: Appeal | None = None,
) -> bool:
    """May `user` decrypt `subject`'s personal data, in the context given?

    A person reads their own; privacy officers read anyone's (they answer people's requests);
    otherwise the complaint or appeal the data belongs to decides: its complainant's data for
    those who may see that complaint's personal data, the affected holder's handle for its
    department and compliance, an appeal statement as `can_read_appeal_statement` says.
    Supervisors never: they see pseudonyms only.
    """
    rs = roles_of(user)
    if not rs.roles:
        return False
    if subject.user_id is not None and subject.user_id == user.pk:
        return True
    if rs.has(Role.PRIVACY_OFFICER):
        return True
    if appeal is not None:
        return appeal.appellant_id == subject.pk and can_read_appeal_statement(user, appeal)
    if complaint is not None:
        if complaint.complainant_id == subject.pk:
            return can_see_personal_data(user, complaint)
        if complaint.affected_subject_id == subject.pk:
            return rs.has(Role.COMPLIANCE_OFFICER) or can_handle_complaint(user, complaint)
    return False


def decision_participants(decision: Decision) -> set[int]:
    """Return the ids of every user who took part in `decision`'s case.

    Deliberately wide: the deciders of every decision on the complaint (the superseded chain,
    corrections and the appeal outcome, before and after this one), who filed an appeal, who
    assigned or was assigned the complaint, who moved its status, and the complainant and
    affected account holder where they have an account.
    """
    from .models import Appeal, Assignment, ComplaintTransition, Decision

    complaint = decision.complaint
    ids: set[int | None] = set()
    ids.update(
        Decision.objects.filter(complaint_id=complaint.pk).values_list("decided_by_id", flat=True)
    )
    ids.update(
        Appeal.objects.filter(complaint_id=complaint.pk).values_list("filed_by_id", flat=True)
    )
    for assignee, assigner in Assignment.objects.filter(complaint_id=complaint.pk).values_list(
        "assignee_id", "assigned_by_id"
    ):
        ids.update((assignee, assigner))
    ids.update(
        ComplaintTransition.objects.filter(complaint_id=complaint.pk).values_list(
            "actor_id", flat=True
        )
    )
    ids.add(complaint.complainant.user_id)
    if complaint.affected_subject is not None:
        ids.add(complaint.affected_subject.user_id)
    return {i for i in ids if i is not None}


def can_review_decision(user: Any, decision: Decision) -> bool:
    """Allow a supervisor to review a sampled decision they took no part in."""
    return roles_of(user).has(Role.SUPERVISOR) and user.pk not in decision_participants(decision)


def can_close_corrective_action(user: Any, action: Any) -> bool:
    """Allow a lead of the action's department to close it."""
    return action.department_id in _lead_departments(user)


def can_read_held_data(user: Any) -> bool:
    """Under a legal hold data is only stored: the officers who manage holds alone may read it."""
    return can_manage_legal_holds(user)


# --- querysets -------------------------------------------------------------------------------


def _complaint_scope(user: Any, prefix: str = "") -> Q | None:
    rs = roles_of(user)
    if rs.has(Role.COMPLIANCE_OFFICER):
        return Q()
    scope: Q | None = None
    departments = _staff_departments(user)
    if departments:
        scope = Q(**{f"{prefix}department_id__in": sorted(departments)})
    if rs.has(Role.COMPLAINANT):
        own = Q(**{f"{prefix}complainant__user": user}) | Q(
            **{f"{prefix}affected_subject__user": user}
        )
        scope = own if scope is None else scope | own
    return scope


def restrict_complaints(qs: QuerySet, user: Any) -> QuerySet:
    """Limit complaints to those `user` may see."""
    scope = _complaint_scope(user)
    return qs.none() if scope is None else qs.filter(scope)


def restrict_decisions(qs: QuerySet, user: Any) -> QuerySet:
    """Limit decisions to those `user` may read (supervisors read all, blind to identities)."""
    if roles_of(user).has(Role.SUPERVISOR):
        return qs
    scope = _complaint_scope(user, prefix="complaint__")
    return qs.none() if scope is None else qs.filter(scope)


def restrict_subjects(qs: QuerySet, user: Any) -> QuerySet:
    """Limit data subjects to privacy officers, who handle people's requests about their data."""
    return qs if roles_of(user).has(Role.PRIVACY_OFFICER) else qs.none()


def restrict_appeals(qs: QuerySet, user: Any) -> QuerySet:
    """Limit appeals to those `user` may see."""
    scope = _complaint_scope(user, prefix="complaint__")
    return qs.none() if scope is None else qs.filter(scope)


def restrict_corrective_actions(qs: QuerySet, user: Any) -> QuerySet:
    """Limit corrective actions to oversight (all) and leads (their departments')."""
    rs = roles_of(user)
    if rs.has(Role.SUPERVISOR, Role.COMPLIANCE_OFFICER):
        return qs
    leads = _lead_departments(user)
    return qs.filter(department_id__in=sorted(leads)) if leads else qs.none()
