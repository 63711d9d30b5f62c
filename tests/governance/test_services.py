"""Services against a real database: the lifecycle, validation, permissions and what they write."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from audits.choices import EventType
from audits.models import LedgerEntry
from audits.verification import verify_ledger
from governance import policies, services
from governance.choices import (
    TRANSITIONS,
    AppealOutcome,
    Channel,
    ComplaintStatus,
    DecisionGround,
    DecisionKind,
    DecisionOutcome,
    Role,
)
from governance.errors import Conflict, InvalidTransition, PermissionDenied, ValidationFailed
from governance.models import (
    Appeal,
    Assignment,
    AuthenticatorSetupCode,
    Complaint,
    ComplaintTransition,
    Decision,
    Holiday,
    PolicyClause,
    Rating,
    RoleMembership,
)
from privacy import services as privacy_services
from privacy.choices import SubjectKind
from privacy.models import DataSubject, PersonalNote
from privacy.pseudonyms import actor_ref
from tests import factories
from tests.factories import PATHS, flow, flow_at

ALL = list(ComplaintStatus.values)


def _counts() -> dict[str, int]:
    models = [Complaint, Decision, Appeal, Rating, ComplaintTransition, LedgerEntry, PersonalNote]
    return {m.__name__: m.objects.count() for m in models}


# --- the state machine -----------------------------------------------------------------------


def _expressible(from_status: str, to_status: str) -> bool:
    # No action leads back to "received" (filing creates it; test_nothing_returns_to_received),
    # and "appeal_decided" is reached only by deciding an appeal: where no appeal exists there
    # is nothing a caller could ask for (deciding one twice: test_decide_appeal_twice).
    if to_status == ComplaintStatus.RECEIVED:
        return False
    # An appeal names the decision it appeals; before a decision there is none to name.
    has_decision = from_status in {
        ComplaintStatus.DECIDED,
        ComplaintStatus.CLOSED,
        ComplaintStatus.APPEALED,
        ComplaintStatus.APPEAL_DECIDED,
    }
    if to_status == ComplaintStatus.APPEALED and not has_decision:
        return False
    has_appeal = from_status in {ComplaintStatus.APPEALED, ComplaintStatus.APPEAL_DECIDED}
    return to_status != ComplaintStatus.APPEAL_DECIDED or has_appeal


LEGAL = [(a, b) for a in ALL for b in sorted(TRANSITIONS[a])]
ILLEGAL = [(a, b) for a in ALL for b in ALL if b not in TRANSITIONS[a] and _expressible(a, b)]


@pytest.mark.parametrize(("from_status", "to_status"), LEGAL)
def test_every_legal_transition_succeeds_and_is_recorded(from_status, to_status):
    # given
    f = flow_at(from_status)
    ledger_before = LedgerEntry.objects.count()
    # when
    f.step(to_status)
    # then
    complaint = f.refresh()
    assert complaint.status == to_status
    last = ComplaintTransition.objects.filter(complaint=complaint).order_by("-id").first()
    assert (last.from_status, last.to_status) == (from_status, to_status)
    assert last.reason
    assert last.actor is not None
    assert LedgerEntry.objects.filter(
        seq__gte=ledger_before, event_type=EventType.COMPLAINT_TRANSITIONED
    ).exists()


@pytest.mark.parametrize(("from_status", "to_status"), ILLEGAL)
def test_every_illegal_transition_is_refused_and_nothing_changes(from_status, to_status):
    # given
    f = flow_at(from_status)
    before = _counts()
    # when / then
    with pytest.raises(Conflict) as exc:
        f.step(to_status)
    assert f.refresh().status == from_status
    assert _counts() == before
    if isinstance(exc.value, InvalidTransition):
        for allowed in Complaint(status=from_status).allowed_next():
            assert allowed in exc.value.message


def test_every_status_pair_is_in_the_table():
    assert set(TRANSITIONS) == set(ALL)
    assert (
        len(LEGAL)
        + len(ILLEGAL)
        + sum(1 for a in ALL for b in ALL if not _expressible(a, b) and b not in TRANSITIONS[a])
        == len(ALL) ** 2
    )


def test_nothing_returns_to_received():
    assert all(ComplaintStatus.RECEIVED not in nexts for nexts in TRANSITIONS.values())


def test_paths_cover_every_status():
    assert set(PATHS) == set(ALL)


def test_appeal_before_any_decision_has_nothing_to_appeal():
    f = flow_at(ComplaintStatus.INVESTIGATING)
    assert f.complaint.current_decision() is None


def test_decide_appeal_twice_is_refused():
    f = flow_at(ComplaintStatus.APPEAL_DECIDED)
    with pytest.raises(Conflict):
        f.step(ComplaintStatus.APPEAL_DECIDED)


def test_transition_history_records_actor_and_reason():
    f = flow_at(ComplaintStatus.ACKNOWLEDGED)
    record = f.complaint.history.order_by("-history_date").first()
    assert record.history_user == f.handler
    assert record.history_change_reason == "Receipt acknowledged"
    assert record.status == ComplaintStatus.ACKNOWLEDGED


def test_history_is_dated_at_the_moment_the_service_records():
    # given: a complaint filed and worked on at moments in the past (as the demo replays them)
    filed = timezone.now() - timedelta(days=40)
    handler = factories.user_with_role(Role.HANDLER, "moderation")
    complaint = factories.file_complaint(now=filed)
    services.complaint_acknowledge(
        actor=handler, complaint=complaint, now=filed + timedelta(hours=1)
    )
    services.complaint_triage(actor=handler, complaint=complaint, now=filed + timedelta(hours=3))

    # then: each history row carries its service's time, not the time the test ran
    dated = [h.history_date for h in complaint.history.order_by("history_id")]
    moments = [t.at for t in complaint.transitions.order_by("at", "id")]
    assert dated == [filed, filed + timedelta(hours=1), filed + timedelta(hours=3)]
    assert moments == dated[1:]


# --- filing ----------------------------------------------------------------------------------


def test_file_complaint_keeps_personal_data_in_the_privacy_app(complainant):
    # when
    c = factories.file_complaint(complainant, description="Zhang San at 13800138000 insulted me")
    # then
    assert c.reference.startswith(f"CMP-{timezone.now().year}-")
    assert c.status == ComplaintStatus.RECEIVED
    assert c.complainant.user == complainant
    assert factories.plain_note(c.description) == "Zhang San at 13800138000 insulted me"
    row = Complaint.objects.filter(pk=c.pk).values().get()
    assert not any("13800138000" in str(v) for v in row.values())
    assert not any("13800138000" in e.body for e in LedgerEntry.objects.all())


def test_second_filing_reuses_the_complainants_data_subject(complainant):
    a = factories.file_complaint(complainant)
    b = factories.file_complaint(complainant)
    assert a.complainant_id == b.complainant_id
    assert int(b.reference[-6:]) == int(a.reference[-6:]) + 1


def test_priority_and_department_come_from_the_category(complainant):
    c = factories.file_complaint(complainant, category_code="minors")
    assert (c.department.code, c.severity, c.priority) == ("moderation", "critical", "P1")
    c = factories.file_complaint(complainant, category_code="service_quality")
    assert (c.department.code, c.severity, c.priority) == ("customer_service", "low", "P4")


def test_complainant_cannot_use_staff_channels_or_set_severity(complainant):
    with pytest.raises(ValidationFailed) as exc:
        factories.file_complaint(complainant, channel=Channel.PHONE, severity="critical")
    assert set(exc.value.fields) == {"channel", "severity"}


def test_staff_intake_needs_the_complainants_name_and_contact(handler):
    before = _counts()
    with pytest.raises(ValidationFailed) as exc:
        services.complaint_file(
            actor=handler, channel=Channel.PHONE, category=factories.category(), description="x"
        )
    assert set(exc.value.fields) == {"complainant_name", "complainant_email"}
    assert _counts() == before
    c = services.complaint_file(
        actor=handler,
        channel=Channel.PHONE,
        category=factories.category(),
        description="Caller reports bullying.",
        complainant_name="Wang Fang",
        complainant_phone="+86 138 0000 0000",
        affected_account_handle="@bully",
    )
    assert c.complainant.user is None
    assert factories.plain_field(c.complainant, "full_name") == "Wang Fang"
    assert factories.plain_field(c.affected_subject, "account_handle") == "@bully"


def test_empty_description_is_refused_and_nothing_is_saved(complainant):
    before = _counts()
    subjects = DataSubject.objects.count()
    with pytest.raises(ValidationFailed) as exc:
        factories.file_complaint(complainant, description="   ")
    assert "description" in exc.value.fields
    assert _counts() == before
    assert DataSubject.objects.count() == subjects


def test_roles_without_filing_rights_are_refused(compliance, supervisor):
    for user in (compliance, supervisor):
        with pytest.raises(PermissionDenied):
            factories.file_complaint(user)


# --- handling --------------------------------------------------------------------------------


def test_handler_of_another_department_cannot_work_the_complaint():
    f = flow()
    outsider = factories.user_with_role(Role.HANDLER, "copyright")
    with pytest.raises(PermissionDenied):
        services.complaint_acknowledge(actor=outsider, complaint=f.complaint)
    assert f.refresh().status == ComplaintStatus.RECEIVED


def test_triage_to_another_department_needs_a_reason_and_recomputes_priority():
    f = flow_at(ComplaintStatus.ACKNOWLEDGED)
    with pytest.raises(ValidationFailed) as exc:
        services.complaint_triage(
            actor=f.handler, complaint=f.complaint, category=factories.category("ip_infringement")
        )
    assert "reason" in exc.value.fields
    c = services.complaint_triage(
        actor=f.handler,
        complaint=f.complaint,
        category=factories.category("ip_infringement"),
        urgency="high",
        reason="It is a copyright claim.",
    )
    assert c.department.code == "copyright"
    assert (c.severity, c.urgency, c.priority) == ("medium", "high", "P2")
    assert c.decision_due_at == c.received_at + timedelta(hours=72)


def test_handler_may_take_a_complaint_but_not_hand_it_to_someone_else():
    f = flow_at(ComplaintStatus.TRIAGED)
    colleague = factories.user_with_role(Role.HANDLER, "moderation")
    with pytest.raises(PermissionDenied):
        services.complaint_assign(actor=f.handler, complaint=f.complaint, assignee=colleague)
    c = services.complaint_assign(actor=f.handler, complaint=f.complaint, assignee=f.handler)
    assert (c.status, c.assignee) == (ComplaintStatus.ASSIGNED, f.handler)


def test_assignee_must_belong_to_the_department():
    f = flow_at(ComplaintStatus.TRIAGED)
    outsider = factories.user_with_role(Role.HANDLER, "security")
    with pytest.raises(ValidationFailed) as exc:
        services.complaint_assign(actor=f.lead, complaint=f.complaint, assignee=outsider)
    assert "assignee" in exc.value.fields


def test_reassignment_needs_a_reason_and_ends_the_previous_assignment():
    f = flow_at(ComplaintStatus.INVESTIGATING)
    colleague = factories.user_with_role(Role.HANDLER, "moderation")
    with pytest.raises(ValidationFailed):
        services.complaint_assign(actor=f.lead, complaint=f.complaint, assignee=colleague)
    c = services.complaint_assign(
        actor=f.lead, complaint=f.complaint, assignee=colleague, reason="Holiday cover"
    )
    assert (c.status, c.assignee) == (ComplaintStatus.INVESTIGATING, colleague)
    rows = list(Assignment.objects.filter(complaint=c).order_by("assigned_at"))
    assert [a.assignee for a in rows] == [f.handler, colleague]
    assert rows[0].ended_at is not None
    assert rows[1].ended_at is None


def test_complainant_withdraws_with_a_reason_but_not_someone_elses_complaint():
    f = flow()
    stranger = factories.user_with_role(Role.COMPLAINANT)
    with pytest.raises(PermissionDenied):
        services.complaint_withdraw(actor=stranger, complaint=f.complaint, reason="no")
    with pytest.raises(ValidationFailed):
        services.complaint_withdraw(actor=f.complainant, complaint=f.complaint, reason=" ")
    c = services.complaint_withdraw(actor=f.complainant, complaint=f.complaint, reason="Sorted")
    assert c.status == ComplaintStatus.WITHDRAWN
    assert c.closed_at is not None


# --- decisions -------------------------------------------------------------------------------


def test_decision_is_recorded_with_its_ledger_entry():
    f = flow_at(ComplaintStatus.INVESTIGATING)
    d = services.decision_record(
        actor=f.handler, complaint=f.complaint, **factories.decision_kwargs()
    )
    assert (d.kind, d.decided_by, d.supersedes) == (DecisionKind.INITIAL, f.handler, None)
    assert f.refresh().status == ComplaintStatus.DECIDED
    entry = LedgerEntry.objects.get(
        event_type=EventType.DECISION_RECORDED, object_ref=f"decision:{d.pk}"
    )
    assert '"outcome":"upheld"' in entry.body
    assert '"policy_clause":{"code":"TOS-3.1","version":1}' in entry.body


def test_only_the_assignee_or_a_lead_decides():
    f = flow_at(ComplaintStatus.INVESTIGATING)
    colleague = factories.user_with_role(Role.HANDLER, "moderation")
    with pytest.raises(PermissionDenied):
        services.decision_record(
            actor=colleague, complaint=f.complaint, **factories.decision_kwargs()
        )
    d = services.decision_record(actor=f.lead, complaint=f.complaint, **factories.decision_kwargs())
    assert d.decided_by == f.lead


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"outcome": "maybe"}, "outcome"),
        ({"actions": ["content_removed", "none"]}, "actions"),
        ({"actions": ["content_removed", "content_removed"]}, "actions"),
        ({"actions": ["explode"]}, "actions"),
        ({"outcome": DecisionOutcome.REJECTED, "actions": ["content_removed"]}, "actions"),
        ({"ground": DecisionGround.ILLEGAL_CONTENT}, "ground_reference"),
        ({"ground": "vibes"}, "ground"),
        ({"facts": ""}, "facts"),
        ({"reasons": " "}, "reasons"),
        ({"policy_clause": None}, "policy_clause"),
        ({"territorial_scope": ["XX"]}, "territorial_scope"),
        ({"restriction_end": factories.future()}, "restriction_end"),
        (
            {"actions": ["account_suspended"], "restriction_end": timezone.localdate()},
            "restriction_end",
        ),
        ({"automated_decision": "robot"}, "automated_decision"),
    ],
)
def test_bad_decision_is_refused_with_the_field_named_and_nothing_saved(overrides, field):
    f = flow_at(ComplaintStatus.INVESTIGATING)
    before = _counts()
    with pytest.raises(ValidationFailed) as exc:
        services.decision_record(
            actor=f.handler, complaint=f.complaint, **factories.decision_kwargs(**overrides)
        )
    assert field in exc.value.fields
    assert _counts() == before
    assert f.refresh().status == ComplaintStatus.INVESTIGATING


def test_temporary_restriction_takes_an_end_date_and_rejection_defaults_to_no_action():
    f = flow_at(ComplaintStatus.INVESTIGATING)
    d = services.decision_record(
        actor=f.handler,
        complaint=f.complaint,
        **factories.decision_kwargs(
            actions=["account_suspended"], restriction_end=factories.future(7)
        ),
    )
    assert d.restriction_end == factories.future(7)
    g = flow_at(ComplaintStatus.INVESTIGATING)
    d = services.decision_record(
        actor=g.handler,
        complaint=g.complaint,
        **factories.decision_kwargs(outcome="rejected", actions=[]),
    )
    assert d.actions == ["none"]


def test_a_superseded_clause_version_cannot_be_applied():
    f = flow_at(ComplaintStatus.INVESTIGATING)
    old = factories.policy_clause()
    factories.policy_clause(effective_from=timezone.localdate() - timedelta(days=1), title="v2")
    with pytest.raises(ValidationFailed) as exc:
        services.decision_record(
            actor=f.handler, complaint=f.complaint, **factories.decision_kwargs(policy_clause=old)
        )
    assert "policy_clause" in exc.value.fields


def test_correction_is_a_new_decision_by_a_lead_superseding_the_one_in_force():
    f = flow_at(ComplaintStatus.DECIDED)
    original = f.decision
    with pytest.raises(PermissionDenied):
        services.decision_record(
            actor=f.handler,
            complaint=f.complaint,
            supersedes=original,
            **factories.decision_kwargs(),
        )
    fix = services.decision_record(
        actor=f.lead,
        complaint=f.complaint,
        supersedes=original,
        **factories.decision_kwargs(outcome="partially_upheld", actions=["content_labelled"]),
    )
    assert (fix.kind, fix.supersedes) == (DecisionKind.CORRECTION, original)
    assert f.refresh().current_decision() == fix
    assert f.complaint.status == ComplaintStatus.DECIDED
    original.refresh_from_db()
    assert original.outcome == DecisionOutcome.UPHELD
    with pytest.raises(Conflict):
        services.decision_record(
            actor=f.lead, complaint=f.complaint, supersedes=original, **factories.decision_kwargs()
        )


def test_decision_cannot_be_recorded_before_investigation():
    f = flow_at(ComplaintStatus.ASSIGNED)
    with pytest.raises(InvalidTransition) as exc:
        services.decision_record(
            actor=f.handler, complaint=f.complaint, **factories.decision_kwargs()
        )
    assert "investigating" in exc.value.message


# --- appeals ---------------------------------------------------------------------------------


def test_appeal_is_refused_to_the_original_decider():
    f = flow_at(ComplaintStatus.APPEALED)
    appeal = f.complaint.appeals.get()
    with pytest.raises(PermissionDenied) as exc:
        services.appeal_decide(
            actor=f.handler, appeal=appeal, outcome="upheld", facts="f", reasons="r"
        )
    assert "took part" in exc.value.message
    assert f.refresh().status == ComplaintStatus.APPEALED
    assert not Decision.objects.filter(appeal=appeal).exists()


def test_appeal_is_refused_to_anyone_in_the_chain_of_decisions():
    f = flow_at(ComplaintStatus.DECIDED)
    fix = services.decision_record(
        actor=f.lead, complaint=f.complaint, supersedes=f.decision, **factories.decision_kwargs()
    )
    appeal = services.appeal_file(actor=f.complainant, decision=fix, statement="No.")
    for decider in (f.handler, f.lead):
        with pytest.raises(PermissionDenied):
            services.appeal_decide(
                actor=decider, appeal=appeal, outcome="upheld", facts="f", reasons="r"
            )
    other = factories.user_with_role(Role.HANDLER, "moderation")
    d = services.appeal_decide(actor=other, appeal=appeal, outcome="upheld", facts="f", reasons="r")
    assert d.supersedes == fix


def test_reversal_is_a_new_decision_that_flips_the_outcome():
    f = flow_at(ComplaintStatus.APPEALED)
    appeal = f.complaint.appeals.get()
    with pytest.raises(ValidationFailed):
        services.appeal_decide(
            actor=f.lead,
            appeal=appeal,
            outcome=AppealOutcome.REVERSED,
            facts="f",
            reasons="r",
            decision_outcome=DecisionOutcome.PARTIALLY_UPHELD,
            actions=["content_labelled"],
        )
    d = services.appeal_decide(
        actor=f.lead,
        appeal=appeal,
        outcome=AppealOutcome.REVERSED,
        facts="New evidence.",
        reasons="The comments were quotes, not insults.",
        decision_outcome=DecisionOutcome.REJECTED,
        actions=[],
    )
    assert (d.kind, d.appeal, d.appeal_outcome) == (DecisionKind.APPEAL, appeal, "reversed")
    assert (d.outcome, d.actions, d.supersedes) == ("rejected", ["none"], f.decision)
    appeal.refresh_from_db()
    assert appeal.status == "decided"
    assert appeal.decided_at is not None
    assert f.refresh().status == ComplaintStatus.APPEAL_DECIDED


def test_upholding_keeps_the_outcome_and_modifying_must_change_it():
    f = flow_at(ComplaintStatus.APPEALED)
    appeal = f.complaint.appeals.get()
    with pytest.raises(ValidationFailed):
        services.appeal_decide(
            actor=f.lead,
            appeal=appeal,
            outcome="upheld",
            facts="f",
            reasons="r",
            decision_outcome="rejected",
        )
    with pytest.raises(ValidationFailed):
        services.appeal_decide(
            actor=f.lead,
            appeal=appeal,
            outcome="modified",
            facts="f",
            reasons="r",
            decision_outcome="upheld",
            actions=["content_removed"],
        )
    d = services.appeal_decide(
        actor=f.lead,
        appeal=appeal,
        outcome="modified",
        facts="f",
        reasons="r",
        decision_outcome="partially_upheld",
        actions=["content_demoted"],
    )
    assert (d.outcome, d.actions) == ("partially_upheld", ["content_demoted"])


def test_only_the_complainant_or_affected_holder_appeals_once_within_six_months():
    f = flow_at(ComplaintStatus.CLOSED)
    decision = f.complaint.current_decision()
    stranger = factories.user_with_role(Role.COMPLAINANT)
    with pytest.raises(PermissionDenied):
        services.appeal_file(actor=stranger, decision=decision, statement="x")
    with pytest.raises(ValidationFailed):
        services.appeal_file(actor=f.complainant, decision=decision, statement="")
    late = decision.decided_at + timedelta(days=200)
    with pytest.raises(Conflict) as exc:
        services.appeal_file(actor=f.complainant, decision=decision, statement="x", now=late)
    assert "window closed" in exc.value.message
    services.appeal_file(actor=f.complainant, decision=decision, statement="Please reconsider.")
    with pytest.raises(Conflict):
        services.appeal_file(actor=f.complainant, decision=decision, statement="Again")


def test_affected_account_holder_may_appeal():
    f = flow_at(ComplaintStatus.DECIDED)
    holder = factories.user_with_role(Role.COMPLAINANT)
    subject = privacy_services.subject_create(
        actor=holder, kind=SubjectKind.ACCOUNT_HOLDER, user=holder, account_handle="@me"
    )
    Complaint.objects.filter(pk=f.complaint.pk).update(affected_subject=subject)  # test set-up
    appeal = services.appeal_file(actor=holder, decision=f.decision, statement="My video was fine.")
    assert (appeal.appellant, appeal.appellant_role) == (subject, "account_holder")


def test_a_party_to_the_complaint_cannot_decide_its_appeal():
    # given a handler whose own account was reported, who appealed the decision as its holder
    f, holder = factories.holder_flow()
    services.role_grant(
        actor=factories.superuser(),
        user=holder,
        role=Role.HANDLER,
        department=factories.department(),
    )
    f.walk(*PATHS[ComplaintStatus.DECIDED])
    appeal = services.appeal_file(actor=holder, decision=f.decision, statement="My video was fine.")
    # when she decides her own appeal, then it is refused and nothing is written
    before = _counts()
    with pytest.raises(PermissionDenied) as exc:
        services.appeal_decide(
            actor=holder,
            appeal=appeal,
            outcome="upheld",
            facts="f",
            reasons="r",
        )
    assert "party" in exc.value.message
    assert _counts() == before
    assert f.refresh().status == ComplaintStatus.APPEALED


@pytest.mark.parametrize("role", [Role.HANDLER, Role.DEPARTMENT_LEAD])
def test_a_party_to_the_complaint_cannot_decide_or_correct_it(role):
    # given a member of staff whose own account was reported, with a role in its department
    f, holder = factories.holder_flow()
    services.role_grant(
        actor=factories.superuser(), user=holder, role=role, department=factories.department()
    )
    f.walk(*PATHS[ComplaintStatus.INVESTIGATING])
    if role == Role.HANDLER:
        services.complaint_assign(
            actor=f.lead, complaint=f.refresh(), assignee=holder, reason="She knows the case."
        )
    decision = factories.decision_kwargs()  # publishes the clause, so before counting
    correction = factories.decision_kwargs(outcome="rejected", actions=[])
    before = _counts()

    # when they decide it, then it is refused and nothing is written
    with pytest.raises(PermissionDenied) as exc:
        services.decision_record(actor=holder, complaint=f.refresh(), **decision)
    assert "party" in exc.value.message
    assert _counts() == before

    # and once someone else has decided, a lead who is a party cannot correct it either
    if role == Role.DEPARTMENT_LEAD:
        f.walk(ComplaintStatus.DECIDED)
        before = _counts()
        with pytest.raises(PermissionDenied):
            services.decision_record(
                actor=holder,
                complaint=f.refresh(),
                supersedes=f.decision,
                **correction,
            )
        assert _counts() == before


# --- ratings ---------------------------------------------------------------------------------


def test_rating_once_after_closure_by_the_complainant_only():
    f = flow_at(ComplaintStatus.DECIDED)
    with pytest.raises(Conflict):
        services.complaint_rate(actor=f.complainant, complaint=f.complaint, score=5)
    f.step(ComplaintStatus.CLOSED)
    with pytest.raises(PermissionDenied):
        services.complaint_rate(actor=f.handler, complaint=f.complaint, score=5)
    with pytest.raises(ValidationFailed):
        services.complaint_rate(actor=f.complainant, complaint=f.complaint, score=6)
    r = services.complaint_rate(
        actor=f.complainant, complaint=f.complaint, score=4, comment="Quick"
    )
    assert (r.score, factories.plain_note(r.comment)) == (4, "Quick")
    with pytest.raises(Conflict):
        services.complaint_rate(actor=f.complainant, complaint=f.complaint, score=1)


# --- policy clauses, roles, reference data ---------------------------------------------------


def test_new_clause_version_never_rewrites_the_old_one(admin_user):
    v1 = factories.policy_clause("TOS-9.9")
    v2 = services.policy_clause_publish(
        actor=admin_user,
        code="TOS-9.9",
        title="New",
        text="New text",
        effective_from=timezone.localdate(),
    )
    assert (v1.version, v2.version) == (1, 2)
    v1.refresh_from_db()
    assert v1.title == "Clause TOS-9.9"
    with pytest.raises(ValidationFailed) as exc:
        services.policy_clause_publish(
            actor=admin_user,
            code="TOS-9.9",
            title="t",
            text="x",
            effective_from=timezone.localdate() - timedelta(days=365),
        )
    assert "effective_from" in exc.value.fields
    assert PolicyClause.objects.filter(code="TOS-9.9").count() == 2


def test_only_admins_publish_clauses(handler, compliance):
    for user in (handler, compliance):
        with pytest.raises(PermissionDenied):
            services.policy_clause_publish(
                actor=user, code="X-1", title="t", text="x", effective_from=timezone.localdate()
            )


def test_role_grant_and_revoke_change_access_at_once(admin_user):
    user = factories.UserFactory()
    with pytest.raises(ValidationFailed):
        services.role_grant(actor=admin_user, user=user, role=Role.HANDLER)
    m = services.role_grant(
        actor=admin_user, user=user, role=Role.HANDLER, department=factories.department()
    )
    assert policies.can_work_complaints(user)
    assert user.groups.filter(name="handler").exists()
    with pytest.raises(Conflict):
        services.role_grant(
            actor=admin_user, user=user, role=Role.HANDLER, department=factories.department()
        )
    services.role_revoke(actor=admin_user, membership=m, reason="Left the team")
    # Roles are cached per user object (one request); the next request reads the revocation.
    user = type(user).objects.get(pk=user.pk)
    assert not policies.can_work_complaints(user)
    assert not user.groups.filter(name="handler").exists()
    assert RoleMembership.objects.get(pk=m.pk).revoked_at is not None
    assert LedgerEntry.objects.filter(event_type=EventType.ROLE_REVOKED).exists()


def test_non_admins_cannot_grant_roles(lead):
    with pytest.raises(PermissionDenied):
        services.role_grant(actor=lead, user=factories.UserFactory(), role=Role.SUPERVISOR)


def test_admin_role_grants_django_admin_access(admin_user):
    user = factories.UserFactory()
    services.role_grant(actor=admin_user, user=user, role=Role.ADMIN)
    user.refresh_from_db()
    assert user.is_staff
    assert Group.objects.get(name="admin") in user.groups.all()


def test_reference_data_changes_need_a_reason(admin_user):
    holiday = Holiday(date=timezone.localdate(), name="Founders' day")
    with pytest.raises(ValidationFailed):
        services.reference_record_save(actor=admin_user, record=holiday, reason="")
    services.reference_record_save(actor=admin_user, record=holiday, reason="Company holiday")
    assert holiday.history.get().history_change_reason == "Company holiday"
    assert LedgerEntry.objects.filter(event_type=EventType.REFERENCE_DATA_CHANGED).exists()


# --- regressions from review -----------------------------------------------------------------


def test_upholding_an_appeal_keeps_the_restriction_end_date():
    f = flow_at(ComplaintStatus.INVESTIGATING)
    end = factories.future(30)
    f.decision = services.decision_record(
        actor=f.handler,
        complaint=f.complaint,
        **factories.decision_kwargs(actions=["account_suspended"], restriction_end=end),
    )
    appeal = services.appeal_file(actor=f.complainant, decision=f.decision, statement="Too harsh")
    d = services.appeal_decide(
        actor=f.lead, appeal=appeal, outcome="upheld", facts="f", reasons="r"
    )
    assert d.restriction_end == end


def test_upholding_may_keep_the_clause_version_the_original_applied():
    # given: decided under v1; v2 takes effect five days later; the appeal is decided on day 10
    f = flow_at(ComplaintStatus.APPEALED)
    original_clause = f.decision.policy_clause
    factories.policy_clause(effective_from=timezone.localdate() + timedelta(days=5), title="v2")
    appeal = f.complaint.appeals.get()
    later = timezone.now() + timedelta(days=10)
    # when
    d = services.appeal_decide(
        actor=f.lead, appeal=appeal, outcome="upheld", facts="f", reasons="r", now=later
    )
    # then: upholding keeps v1; a new decision on day 10 would have to apply v2
    assert d.policy_clause == original_clause
    assert not original_clause.in_force_on((later + timedelta(days=1)).date())


def test_modifying_only_the_end_date_is_a_modification():
    f = flow_at(ComplaintStatus.INVESTIGATING)
    f.decision = services.decision_record(
        actor=f.handler,
        complaint=f.complaint,
        **factories.decision_kwargs(
            actions=["account_suspended"], restriction_end=factories.future(60)
        ),
    )
    appeal = services.appeal_file(actor=f.complainant, decision=f.decision, statement="Too long")
    d = services.appeal_decide(
        actor=f.lead,
        appeal=appeal,
        outcome="modified",
        facts="f",
        reasons="Shorter suspension.",
        decision_outcome="upheld",
        actions=["account_suspended"],
        restriction_end=factories.future(7),
    )
    assert d.restriction_end == factories.future(7)


def test_the_decider_under_appeal_cannot_correct_the_appeal_outcome():
    # given: the lead decided, another lead reversed it on appeal
    f = flow_at(ComplaintStatus.INVESTIGATING)
    f.decision = services.decision_record(
        actor=f.lead, complaint=f.complaint, **factories.decision_kwargs()
    )
    appeal = services.appeal_file(actor=f.complainant, decision=f.decision, statement="No")
    other_lead = factories.user_with_role(Role.DEPARTMENT_LEAD, "moderation")
    outcome = services.appeal_decide(
        actor=other_lead,
        appeal=appeal,
        outcome="reversed",
        facts="f",
        reasons="r",
        decision_outcome="rejected",
        actions=[],
    )
    # when / then: the first lead may not "correct" the reversal away
    with pytest.raises(PermissionDenied):
        services.decision_record(
            actor=f.lead, complaint=f.complaint, supersedes=outcome, **factories.decision_kwargs()
        )
    fix = services.decision_record(
        actor=other_lead,
        complaint=f.complaint,
        supersedes=outcome,
        **factories.decision_kwargs(outcome="rejected", actions=[], reasons="Typo fixed."),
    )
    assert fix.kind == DecisionKind.CORRECTION


def test_a_handler_cannot_take_over_a_colleagues_complaint():
    f = flow_at(ComplaintStatus.INVESTIGATING)
    colleague = factories.user_with_role(Role.HANDLER, "moderation")
    with pytest.raises(PermissionDenied):
        services.complaint_assign(
            actor=colleague, complaint=f.complaint, assignee=colleague, reason="Mine now"
        )
    assert f.refresh().assignee == f.handler


def test_the_complainants_withdrawal_reason_is_kept_as_personal_data():
    f = flow()
    services.complaint_withdraw(
        actor=f.complainant, complaint=f.complaint, reason="My neighbour Li Lei sorted it out"
    )
    transition = ComplaintTransition.objects.get(complaint=f.complaint, to_status="withdrawn")
    assert "Li Lei" not in transition.reason
    notes = PersonalNote.objects.filter(kind="withdrawal_reason")
    assert any("Li Lei" in factories.plain_note(n) for n in notes)


def test_clause_in_force_and_reference_year_follow_the_business_calendar(settings):
    # given: 20:00 UTC on 31 December is already 1 January in Shanghai
    settings.OMBUD_BUSINESS_TIME_ZONE = "Asia/Shanghai"
    late = datetime(2026, 12, 31, 20, 0, tzinfo=UTC)
    c = factories.file_complaint(now=late)
    assert c.reference.startswith("CMP-2027-")
    # and a clause that takes effect on the business day, not the UTC day, applies then
    clause = factories.policy_clause("TOS-NY", effective_from=late.date() + timedelta(days=1))
    f = flow_at(ComplaintStatus.INVESTIGATING)
    d = services.decision_record(
        actor=f.handler,
        complaint=f.complaint,
        now=late,
        **factories.decision_kwargs(policy_clause=clause),
    )
    assert d.policy_clause == clause


# --- authenticator set-up codes --------------------------------------------------------------


def test_a_set_up_code_is_issued_once_hashed_and_ledgered(handler):
    root = factories.superuser()
    at = timezone.now()
    row, code = services.two_factor_code_issue(actor=root, user=handler, now=at)
    assert re.fullmatch(r"[A-HJ-NP-Z2-9]{4}(-[A-HJ-NP-Z2-9]{4}){3}", code)
    # Only the hash of the code as typed without dashes is kept, in the row and its history.
    assert row.code_hash == hashlib.sha256(code.replace("-", "").encode()).hexdigest()
    stored = [*AuthenticatorSetupCode.objects.values().get().values()]
    stored += [v for h in row.history.values() for v in h.values()]
    assert not any(code.replace("-", "") in str(v) or code in str(v) for v in stored)
    assert row.expires_at == at + timedelta(days=3)
    assert row.history.get().history_user_id == root.pk
    (entry,) = LedgerEntry.objects.filter(event_type=EventType.TWO_FACTOR_CODE_ISSUED)
    assert (entry.object_ref, entry.actor_ref) == (f"user:{actor_ref(handler)}", actor_ref(root))
    assert code not in entry.body
    # From the command line: no one signed in, the operator named as such.
    services.two_factor_code_issue(actor=None, user=handler)
    latest = LedgerEntry.objects.filter(event_type=EventType.TWO_FACTOR_CODE_ISSUED).last()
    assert latest.actor_ref == "system:command-line"
    row.refresh_from_db()
    assert row.withdrawn_at is not None  # replaced by the newer one
    assert verify_ledger().entries == LedgerEntry.objects.count()


@pytest.mark.parametrize("who", ["handler_admin", "admin_role"])
def test_only_a_superuser_issues_set_up_codes(handler, who):
    actor = factories.user_with_role(Role.ADMIN) if who == "admin_role" else handler
    with pytest.raises(PermissionDenied):
        services.two_factor_code_issue(actor=actor, user=handler)
    assert not AuthenticatorSetupCode.objects.exists()
    assert not LedgerEntry.objects.filter(event_type=EventType.TWO_FACTOR_CODE_ISSUED).exists()


def test_a_set_up_code_is_refused_where_it_would_mean_nothing(handler, complainant):
    root = factories.superuser()
    with pytest.raises(Conflict, match="password alone"):
        services.two_factor_code_issue(actor=root, user=complainant)
    factories.totp_device(handler)
    with pytest.raises(Conflict, match="already has an authenticator"):
        services.two_factor_code_issue(actor=root, user=handler)
    leaver = factories.user_with_role(Role.SUPERVISOR)
    leaver.is_active = False
    leaver.save()
    with pytest.raises(Conflict, match="deactivated"):
        services.two_factor_code_issue(actor=root, user=leaver)
    assert not AuthenticatorSetupCode.objects.exists()


def test_a_set_up_code_expires_and_is_used_up_by_its_enrolment(handler):
    at = timezone.now()
    row, code = services.two_factor_code_issue(actor=None, user=handler, now=at)
    with pytest.raises(ValidationFailed) as late:
        services.two_factor_start(user=handler, code=code, now=at + timedelta(days=3))
    assert "code" in late.value.fields
    device, setup = services.two_factor_start(user=handler, code=code.lower(), now=at)
    assert setup.pk == row.pk
    with pytest.raises(Conflict, match="expired"):
        services.two_factor_enrol(
            user=handler,
            device=device,
            setup_code=setup,
            token=factories.totp_code(device),
            now=at + timedelta(days=3),
        )
    enrolled = services.two_factor_enrol(
        user=handler, device=device, setup_code=setup, token=factories.totp_code(device), now=at
    )
    assert enrolled.confirmed
    row.refresh_from_db()
    assert row.used_at == at
    assert [h.history_type for h in row.history.order_by("history_id")] == ["+", "~"]
    with pytest.raises(ValidationFailed):
        services.two_factor_start(user=handler, code=code, now=at)
    (entry,) = LedgerEntry.objects.filter(event_type=EventType.TWO_FACTOR_ENROLLED)
    assert f'"setup_code":{row.pk}' in entry.body


def test_a_history_stamp_is_spent_by_the_save_it_dates(admin_user):
    from governance.services.recording import stamp_history

    department = factories.department()
    past = timezone.now() - timedelta(days=30)
    stamp_history(department, admin_user, "Renamed", at=past)
    department.save()
    first = department.history.order_by("-history_id").first()
    assert (first.history_date, first.history_user_id) == (past, admin_user.pk)
    assert not {"_history_date", "_history_user", "_change_reason"} & set(vars(department))
    # A later save that forgot to stamp is not passed off as the earlier change.
    department.save()
    second = department.history.order_by("-history_id").first()
    assert second.history_date > past
    assert (second.history_user_id, second.history_change_reason) == (None, None)


def test_a_complaint_filed_at_a_given_moment_dates_its_person_and_note_there_too():
    complainant = factories.user_with_role(Role.COMPLAINANT)
    filed = timezone.now() - timedelta(days=40)
    complaint = factories.file_complaint(complainant, now=filed)
    note = complaint.description
    subject = complaint.complainant
    assert (note.created_at, subject.created_at) == (filed, filed)
    (row,) = note.history.all()
    assert (row.history_date, row.history_user_id) == (filed, complainant.pk)
