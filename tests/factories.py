"""Factories for tests. Domain objects are made through the real services, so every test
starts from records that carry their history and ledger entries."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from governance import services
from governance.choices import Channel, ComplaintStatus, DecisionGround, DecisionOutcome, Role
from governance.models import Category, Complaint, Decision, Department, PolicyClause


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.test")
    first_name = "Test"
    last_name = factory.Sequence(lambda n: f"Person{n}")
    # An unusable password, stored as such: tests sign in with force_login or tokens.
    password = factory.LazyFunction(lambda: make_password(None))


def superuser() -> Any:
    """Return the bootstrap superuser (an admin by definition) that grants roles in tests."""
    user = UserFactory(username="root", is_superuser=True, is_staff=True)
    return user


def department(code: str = "moderation") -> Department:
    return Department.objects.get(code=code)


def category(code: str = "harassment") -> Category:
    return Category.objects.get(code=code)


def user_with_role(role: str, dept: str | None = None, username: str | None = None) -> Any:
    """Create a user holding `role` (in department `dept` for handlers and leads)."""
    user = UserFactory(username=username) if username else UserFactory()
    if role in {Role.HANDLER, Role.DEPARTMENT_LEAD} and dept is None:
        dept = "moderation"
    services.role_grant(
        actor=superuser(), user=user, role=role, department=department(dept) if dept else None
    )
    return user


def policy_clause(code: str = "TOS-3.1", **kwargs: Any) -> PolicyClause:
    existing = PolicyClause.objects.filter(code=code).order_by("-version").first()
    if existing is not None and not kwargs:
        return existing
    values = {
        "title": f"Clause {code}",
        "text": "Do not harass other people.",
        "effective_from": timezone.localdate() - timedelta(days=30),
    }
    values.update(kwargs)
    return services.policy_clause_publish(actor=superuser(), code=code, **values)


def file_complaint(
    complainant: Any | None = None, category_code: str = "harassment", **kwargs: Any
) -> Complaint:
    """File a complaint as `complainant` (a new complainant user if none is given)."""
    complainant = complainant or user_with_role(Role.COMPLAINANT)
    values = {
        "channel": Channel.WEB_FORM,
        "category": category(category_code),
        "description": "Someone keeps insulting me in the comments.",
        "content_url": "https://video.example.com/v/1",
    }
    values.update(kwargs)
    return services.complaint_file(actor=complainant, **values)


def decision_kwargs(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "outcome": DecisionOutcome.UPHELD,
        "actions": ["content_removed"],
        "ground": DecisionGround.TERMS_OF_SERVICE,
        "policy_clause": policy_clause(),
        "facts": "The comments insult the complainant by name.",
        "reasons": "Insults break clause TOS-3.1; the comments are removed.",
    }
    values.update(overrides)
    return values


class Flow:
    """A complaint walked through its lifecycle by real people holding real roles."""

    def __init__(self, complaint: Complaint, complainant: Any, handler: Any, lead: Any) -> None:
        self.complaint = complaint
        self.complainant = complainant
        self.handler = handler
        self.lead = lead
        self.decision: Decision | None = None

    def refresh(self) -> Complaint:
        self.complaint = Complaint.objects.get(pk=self.complaint.pk)
        return self.complaint

    def step(self, to_status: str, actor: Any | None = None) -> Any:
        """Take the one service step that moves the complaint to `to_status`."""
        c = self.refresh()
        h = actor or self.handler
        if to_status == ComplaintStatus.ACKNOWLEDGED:
            return services.complaint_acknowledge(actor=h, complaint=c)
        if to_status == ComplaintStatus.TRIAGED:
            return services.complaint_triage(actor=h, complaint=c)
        if to_status == ComplaintStatus.ASSIGNED:
            return services.complaint_assign(
                actor=actor or self.lead, complaint=c, assignee=self.handler
            )
        if to_status == ComplaintStatus.INVESTIGATING:
            return services.complaint_start_investigation(actor=h, complaint=c)
        if to_status == ComplaintStatus.DECIDED:
            self.decision = services.decision_record(actor=h, complaint=c, **decision_kwargs())
            return self.decision
        if to_status == ComplaintStatus.CLOSED:
            return services.complaint_close(actor=h, complaint=c)
        if to_status == ComplaintStatus.APPEALED:
            decision = c.current_decision()
            return services.appeal_file(
                actor=actor or self.complainant, decision=decision, statement="Please look again."
            )
        if to_status == ComplaintStatus.APPEAL_DECIDED:
            appeal = c.appeals.get()
            return services.appeal_decide(
                actor=actor or self.lead,
                appeal=appeal,
                outcome="upheld",
                facts="Second look at the same comments.",
                reasons="The first decision was right.",
            )
        if to_status == ComplaintStatus.WITHDRAWN:
            return services.complaint_withdraw(
                actor=actor or self.complainant, complaint=c, reason="Resolved privately."
            )
        raise AssertionError(f"no step leads to {to_status}")

    def walk(self, *statuses: str) -> Flow:
        for status in statuses:
            self.step(status)
        self.refresh()
        return self


# The path from receipt to each status (withdrawn from received).
PATHS: dict[str, list[str]] = {
    ComplaintStatus.RECEIVED: [],
    ComplaintStatus.ACKNOWLEDGED: ["acknowledged"],
    ComplaintStatus.TRIAGED: ["acknowledged", "triaged"],
    ComplaintStatus.ASSIGNED: ["acknowledged", "triaged", "assigned"],
    ComplaintStatus.INVESTIGATING: ["acknowledged", "triaged", "assigned", "investigating"],
    ComplaintStatus.DECIDED: ["acknowledged", "triaged", "assigned", "investigating", "decided"],
    ComplaintStatus.CLOSED: [
        "acknowledged",
        "triaged",
        "assigned",
        "investigating",
        "decided",
        "closed",
    ],
    ComplaintStatus.APPEALED: [
        "acknowledged",
        "triaged",
        "assigned",
        "investigating",
        "decided",
        "appealed",
    ],
    ComplaintStatus.APPEAL_DECIDED: [
        "acknowledged",
        "triaged",
        "assigned",
        "investigating",
        "decided",
        "appealed",
        "appeal_decided",
    ],
    ComplaintStatus.WITHDRAWN: ["withdrawn"],
}


def flow(dept: str = "moderation", category_code: str = "harassment") -> Flow:
    policy_clause()  # published up front, so a later step does not add its ledger entry
    complainant = user_with_role(Role.COMPLAINANT)
    handler = user_with_role(Role.HANDLER, dept)
    lead = user_with_role(Role.DEPARTMENT_LEAD, dept)
    complaint = file_complaint(complainant, category_code=category_code)
    return Flow(complaint, complainant, handler, lead)


def holder_flow(handle: str = "@reported") -> tuple[Flow, Any]:
    """A complaint about a person's account, and that person signed in and linked to it."""
    from privacy.models import DataSubject

    complainant = user_with_role(Role.COMPLAINANT)
    complaint = file_complaint(complainant, affected_account_handle=handle)
    f = Flow(
        complaint,
        complainant,
        user_with_role(Role.HANDLER, "moderation"),
        user_with_role(Role.DEPARTMENT_LEAD, "moderation"),
    )
    holder = user_with_role(Role.COMPLAINANT)
    # Test set-up: the linking service is tested on its own (test_api: link_account).
    DataSubject.objects.filter(pk=complaint.affected_subject_id).update(user=holder)
    return f, holder


def flow_at(status: str, **kwargs: Any) -> Flow:
    """Return a complaint brought to `status` through the services."""
    return flow(**kwargs).walk(*PATHS[status])


def future(days: int = 30) -> date:
    return timezone.localdate() + timedelta(days=days)


# --- reading ciphertext in tests ----------------------------------------------------------------
# Tests check what was stored without going through the vault, whose reads are logged.


def _data_key(subject: Any) -> bytes:
    from privacy import keys
    from privacy.models import DataKey

    key = DataKey.objects.get(subject_id=subject.pk)
    assert key.wrapped is not None, f"{subject.pseudonym} has been erased"
    return keys.unwrap(key.kek_id, bytes(key.wrapped), subject.pseudonym)


def plain_note(note: Any) -> str:
    """Return a personal note's text, decrypted directly (no access-log entry)."""
    from privacy import keys

    return keys.decrypt(_data_key(note.subject), note.record, "text", bytes(note.text_ct))


def plain_field(subject: Any, name: str) -> str:
    """Return one personal field of a subject, decrypted directly ("" where none was given)."""
    from privacy import keys

    blob = getattr(subject, f"{name}_ct")
    return (
        "" if blob is None else keys.decrypt(_data_key(subject), subject.record, name, bytes(blob))
    )


def totp_device(user: Any) -> Any:
    """Give `user` a confirmed authenticator (TOTP) device."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return TOTPDevice.objects.create(user=user, name="test", confirmed=True)


def setup_code(user: Any) -> str:
    """Issue `user` an authenticator set-up code, as an operator at the command line would."""
    from governance import services

    return services.two_factor_code_issue(actor=None, user=user)[1]


def totp_code(device: Any) -> str:
    """The code `device`'s authenticator app shows now."""
    from django_otp.oath import totp

    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def sign_in_pages(client: Any, user: Any) -> Any:
    """Sign `client` in as `user` as the sign-in pages would: the session holds the user and,
    for staff, the authenticator device that verified them."""
    from django_otp import DEVICE_ID_SESSION_KEY

    from governance import policies

    client.force_login(user)
    if policies.needs_two_factor(user):
        device = totp_device(user)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return client
