"""Management commands: deadline escalation and the demo data set."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import CommandError, call_command
from django.utils import timezone

from audits.choices import EventType
from audits.models import LedgerEntry
from governance import services
from governance.choices import ComplaintStatus, Role, SlaStage
from governance.models import (
    Appeal,
    AuthenticatorSetupCode,
    Complaint,
    Decision,
    Holiday,
    PolicyClause,
    Rating,
    RoleMembership,
    SlaBreach,
)
from privacy.pseudonyms import actor_ref
from tests import factories


def _escalate(capture: Any) -> str:
    """Run the command as cron would, letting its after-commit emails go out."""
    out = StringIO()
    with capture(execute=True):
        call_command("sla_escalate", stdout=out)
    return out.getvalue()


def _breaches() -> set[tuple[int, str]]:
    return set(SlaBreach.objects.values_list("complaint_id", "stage"))


def _state() -> dict[str, Any]:
    return {
        "breaches": sorted(SlaBreach.objects.values_list("complaint_id", "stage", "detected_at")),
        "escalations": sorted(
            SlaBreach.escalated_to.through.objects.values_list("slabreach_id", "user_id")
        ),
        "ledger": LedgerEntry.objects.count(),
        "statuses": sorted(Complaint.objects.values_list("pk", "status")),
        "mails": len(mail.outbox),
    }


@pytest.fixture
def lead() -> Any:
    return factories.user_with_role(Role.DEPARTMENT_LEAD, "moderation", username="mod-lead")


@pytest.fixture
def long_ago() -> Any:
    return timezone.now() - timedelta(days=10)


# --- sla_escalate ------------------------------------------------------------------------------


def test_sla_escalate_records_each_missed_deadline_once(
    lead, long_ago, django_capture_on_commit_callbacks
):
    # given: a harassment complaint (moderation, P2) received ten days ago and never touched
    complaint = factories.file_complaint(now=long_ago)
    assert complaint.decision_due_at < timezone.now()

    # when
    output = _escalate(django_capture_on_commit_callbacks)

    # then: one breach per stage, each at the complaint's own due time
    breaches = {b.stage: b for b in SlaBreach.objects.filter(complaint=complaint)}
    assert set(breaches) == {SlaStage.ACKNOWLEDGE, SlaStage.TRIAGE, SlaStage.DECIDE}
    assert breaches[SlaStage.ACKNOWLEDGE].due_at == complaint.acknowledge_due_at
    assert breaches[SlaStage.TRIAGE].due_at == complaint.triage_due_at
    assert breaches[SlaStage.DECIDE].due_at == complaint.decision_due_at
    for breach in breaches.values():
        assert breach.detected_at > complaint.decision_due_at
        assert list(breach.escalated_to.all()) == [lead]
    assert "3 new breach(es)" in output
    # Escalation marks the complaint; it does not move it through its lifecycle.
    complaint.refresh_from_db()
    assert complaint.status == ComplaintStatus.RECEIVED


def test_sla_escalate_appends_one_ledger_entry_per_breach(
    lead, long_ago, django_capture_on_commit_callbacks
):
    complaint = factories.file_complaint(now=long_ago)
    last_seq = LedgerEntry.objects.order_by("-seq").values_list("seq", flat=True).first()

    _escalate(django_capture_on_commit_callbacks)

    entries = list(LedgerEntry.objects.filter(seq__gt=last_seq))
    assert [e.event_type for e in entries] == [EventType.SLA_BREACHED] * 3
    assert {e.object_ref for e in entries} == {f"complaint:{complaint.reference}"}
    assert {e.actor_ref for e in entries} == {"system:sla_escalate"}
    bodies = [json.loads(e.body)["data"] for e in entries]
    assert sorted(b["stage"] for b in bodies) == sorted(SlaStage.values)
    assert all(b["escalated_to"] == [actor_ref(lead)] for b in bodies)


def test_sla_escalate_emails_the_department_leads(
    lead, long_ago, django_capture_on_commit_callbacks
):
    # given: a lead of another department, who must not hear about moderation's complaints
    other = factories.user_with_role(Role.DEPARTMENT_LEAD, "copyright", username="ip-lead")
    complaint = factories.file_complaint(now=long_ago)

    # when
    _escalate(django_capture_on_commit_callbacks)

    # then
    assert len(mail.outbox) == 3
    assert all(message.to == [lead.email] for message in mail.outbox)
    assert all(complaint.reference in message.subject for message in mail.outbox)
    assert {s for s in SlaStage.values if any(s in m.subject for m in mail.outbox)} == set(
        SlaStage.values
    )
    assert not any(other.email in message.to for message in mail.outbox)
    assert not SlaBreach.objects.filter(escalated_to=other).exists()


def test_sla_escalate_reaches_every_active_lead_and_no_revoked_one(
    lead, long_ago, django_capture_on_commit_callbacks
):
    # given: a second lead, and a third whose role was revoked
    second = factories.user_with_role(Role.DEPARTMENT_LEAD, "moderation", username="mod-lead-2")
    former = factories.user_with_role(Role.DEPARTMENT_LEAD, "moderation", username="mod-lead-3")
    services.role_revoke(
        actor=factories.superuser(),
        membership=RoleMembership.objects.get(user=former),
        reason="Moved to another team",
    )
    complaint = factories.file_complaint(now=long_ago)

    # when
    _escalate(django_capture_on_commit_callbacks)

    # then
    breach = SlaBreach.objects.get(complaint=complaint, stage=SlaStage.DECIDE)
    assert set(breach.escalated_to.all()) == {lead, second}
    recipients = Counter(address for message in mail.outbox for address in message.to)
    assert recipients == {lead.email: 3, second.email: 3}


def test_sla_escalate_a_second_time_adds_nothing(
    lead, long_ago, django_capture_on_commit_callbacks
):
    # given: a first run has recorded everything overdue
    factories.file_complaint(now=long_ago)
    factories.file_complaint(now=long_ago - timedelta(days=1))
    _escalate(django_capture_on_commit_callbacks)
    after_first = _state()
    assert len(after_first["breaches"]) == 6

    # when
    output = _escalate(django_capture_on_commit_callbacks)

    # then
    assert _state() == after_first
    assert "0 new breach(es)" in output


def test_sla_escalate_records_a_later_breach_of_an_already_marked_complaint(
    lead, django_capture_on_commit_callbacks
):
    # given: received 30 hours ago: acknowledgement overdue, triage (48 h) not yet
    complaint = factories.file_complaint(now=timezone.now() - timedelta(hours=30))
    _escalate(django_capture_on_commit_callbacks)
    assert _breaches() == {(complaint.pk, SlaStage.ACKNOWLEDGE)}

    # when: a day later the triage deadline has passed too
    services.sla_breaches_escalate(now=timezone.now() + timedelta(days=1))

    # then
    assert _breaches() == {
        (complaint.pk, SlaStage.ACKNOWLEDGE),
        (complaint.pk, SlaStage.TRIAGE),
    }


def test_sla_escalate_leaves_complaints_within_their_deadlines_alone(
    lead, django_capture_on_commit_callbacks
):
    factories.file_complaint()

    output = _escalate(django_capture_on_commit_callbacks)

    assert _breaches() == set()
    assert mail.outbox == []
    assert "0 new breach(es)" in output


def test_sla_escalate_does_not_mark_deadlines_that_were_met(
    lead, long_ago, django_capture_on_commit_callbacks
):
    # given: one complaint handled in time from receipt to decision, and one only acknowledged
    handler = factories.user_with_role(Role.HANDLER, "moderation")
    on_time = factories.file_complaint(now=long_ago)
    steps = [
        lambda c, at: services.complaint_acknowledge(actor=handler, complaint=c, now=at),
        lambda c, at: services.complaint_triage(actor=handler, complaint=c, now=at),
        lambda c, at: services.complaint_assign(actor=lead, complaint=c, assignee=handler, now=at),
        lambda c, at: services.complaint_start_investigation(actor=handler, complaint=c, now=at),
        lambda c, at: services.decision_record(
            actor=handler, complaint=c, now=at, **factories.decision_kwargs()
        ),
    ]
    for hours, step in enumerate(steps, start=1):
        step(Complaint.objects.get(pk=on_time.pk), long_ago + timedelta(hours=hours))
    acknowledged = factories.file_complaint(now=long_ago)
    services.complaint_acknowledge(
        actor=handler, complaint=acknowledged, now=long_ago + timedelta(hours=2)
    )

    # when
    _escalate(django_capture_on_commit_callbacks)

    # then: the decided complaint has no breach; the other missed only its later deadlines
    assert _breaches() == {
        (acknowledged.pk, SlaStage.TRIAGE),
        (acknowledged.pk, SlaStage.DECIDE),
    }
    assert len(mail.outbox) == 2


def test_sla_escalate_ignores_withdrawn_complaints(
    lead, long_ago, django_capture_on_commit_callbacks
):
    complainant = factories.user_with_role(Role.COMPLAINANT)
    complaint = factories.file_complaint(complainant, now=long_ago)
    services.complaint_withdraw(
        actor=complainant,
        complaint=complaint,
        reason="Resolved privately.",
        now=long_ago + timedelta(minutes=30),
    )

    _escalate(django_capture_on_commit_callbacks)

    assert _breaches() == set()


def test_sla_escalate_processes_complaints_in_batches(lead, long_ago):
    complaints = [factories.file_complaint(now=long_ago) for _ in range(5)]

    counts = services.sla_breaches_escalate(batch_size=2)

    assert counts == {SlaStage.ACKNOWLEDGE: 5, SlaStage.TRIAGE: 5, SlaStage.DECIDE: 5}
    assert _breaches() == {(c.pk, s) for c in complaints for s in SlaStage.values}


def test_sla_escalate_without_a_lead_still_records_the_breach(
    long_ago, django_capture_on_commit_callbacks
):
    complaint = factories.file_complaint(now=long_ago)

    _escalate(django_capture_on_commit_callbacks)

    assert {stage for _pk, stage in _breaches()} == set(SlaStage.values)
    assert not SlaBreach.escalated_to.through.objects.filter(
        slabreach__complaint=complaint
    ).exists()
    assert mail.outbox == []


# --- demo --------------------------------------------------------------------------------------


def _counts() -> dict[str, int]:
    return {
        "complaints": Complaint.objects.count(),
        "decisions": Decision.objects.count(),
        "appeals": Appeal.objects.count(),
        "ratings": Rating.objects.count(),
        "ledger": LedgerEntry.objects.count(),
        "users": get_user_model().objects.count(),
        "memberships": RoleMembership.objects.count(),
        "clauses": PolicyClause.objects.count(),
        "holidays": Holiday.objects.count(),
    }


@pytest.fixture
def demo() -> str:
    out = StringIO()
    call_command("demo", complaints=30, stdout=out)
    return out.getvalue()


def test_demo_loads_complaints_across_the_lifecycle(demo):
    assert "Loaded 30 demo complaints." in demo
    assert Complaint.objects.count() == 30
    statuses = set(Complaint.objects.values_list("status", flat=True))
    assert len(statuses) >= 4
    assert ComplaintStatus.CLOSED in statuses
    assert Decision.objects.exists()
    assert PolicyClause.objects.count() >= 20
    assert Holiday.objects.exists()


def test_demo_writes_through_the_services(demo):
    # Every complaint, decision and role has its ledger entry, so the ledger is real.
    events = Counter(LedgerEntry.objects.values_list("event_type", flat=True))
    assert events[EventType.COMPLAINT_RECEIVED] == Complaint.objects.count()
    assert events[EventType.DECISION_RECORDED] + events[EventType.APPEAL_DECIDED] == (
        Decision.objects.count()
    )
    assert events[EventType.ROLE_GRANTED] == RoleMembership.objects.count()
    seqs = list(LedgerEntry.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(len(seqs)))


def test_demo_creates_the_demo_accounts_with_their_roles(demo):
    roles = {
        (username, role, dept)
        for username, role, dept in RoleMembership.objects.filter(
            revoked_at__isnull=True
        ).values_list("user__username", "role", "department__code")
    }

    assert {
        ("admin", Role.ADMIN, None),
        ("complainant", Role.COMPLAINANT, None),
        ("handler", Role.HANDLER, "moderation"),
        ("handler2", Role.HANDLER, "moderation"),
        ("lead", Role.DEPARTMENT_LEAD, "moderation"),
        ("compliance", Role.COMPLIANCE_OFFICER, None),
        ("supervisor", Role.SUPERVISOR, None),
        ("privacy", Role.PRIVACY_OFFICER, None),
    } <= roles
    assert get_user_model().objects.get(username="admin").is_superuser
    for username in ("admin", "handler", "lead", "compliance"):
        assert username in demo


def test_demo_a_second_time_adds_nothing(demo):
    # given
    before = _counts()

    # when
    out = StringIO()
    call_command("demo", complaints=30, stdout=out)

    # then: the first set-up codes stay open, and none is printed again
    assert _counts() == before
    assert "already present (30 complaints); nothing added" in out.getvalue()
    assert _setup_codes(out.getvalue()) == {}
    assert not AuthenticatorSetupCode.objects.filter(withdrawn_at__isnull=False).exists()


def _setup_codes(output: str) -> dict[str, str]:
    return dict(re.findall(r"^  (\S+) .* set-up code ([A-Z2-9-]{19})$", output, re.MULTILINE))


def test_demo_prints_a_working_set_up_code_for_each_staff_account(demo):
    codes = _setup_codes(demo)
    staff = {"admin", "handler", "handler2", "lead", "compliance", "supervisor", "privacy"}
    assert set(codes) == staff
    user = get_user_model().objects.get(username="handler")
    device, setup = services.two_factor_start(user=user, code=codes["handler"])
    assert setup.user_id == user.pk
    assert device.user_id == user.pk


def test_sla_escalate_records_a_deadline_met_late_between_runs(django_capture_on_commit_callbacks):
    # given: received 30 hours ago, acknowledged 2 hours ago (6 hours late); no run in between
    f = factories.flow()
    received = timezone.now() - timedelta(hours=30)
    f.complaint = services.complaint_file(
        actor=f.complainant,
        channel="web_form",
        category=factories.category(),
        description="Late acknowledgement",
        now=received,
    )
    services.complaint_acknowledge(
        actor=f.handler, complaint=f.complaint, now=timezone.now() - timedelta(hours=2)
    )
    # when
    _escalate(django_capture_on_commit_callbacks)
    # then: the breach is on the record although the step is now done
    assert (f.complaint.pk, SlaStage.ACKNOWLEDGE) in _breaches()
    assert (f.complaint.pk, SlaStage.TRIAGE) not in _breaches()


# --- authenticator_code ----------------------------------------------------------------------


def test_authenticator_code_prints_a_code_that_works_once(handler):
    out, err = StringIO(), StringIO()
    call_command("authenticator_code", handler.username, stdout=out, stderr=err)
    code = out.getvalue().strip()
    assert f"Set-up code for {handler.username}, valid once until" in err.getvalue()
    device, _setup = services.two_factor_start(user=handler, code=code)
    assert device.user_id == handler.pk
    (entry,) = LedgerEntry.objects.filter(event_type=EventType.TWO_FACTOR_CODE_ISSUED)
    assert entry.actor_ref == "system:command-line"


def test_authenticator_code_says_why_it_refuses(complainant):
    with pytest.raises(CommandError, match="No user nobody"):
        call_command("authenticator_code", "nobody")
    with pytest.raises(CommandError, match="password alone"):
        call_command("authenticator_code", complainant.username)
