"""Ombud's access policy, endpoint by endpoint and role by role.

Read `EXPECTED` below as the policy at a glance: one row per API endpoint under /api/v1/, one
column per kind of caller. `test_matrix` then calls every endpoint as every caller, each cell on
fresh records brought to the state where an allowed call really succeeds, and checks the answer.

How a refusal is decided (governance/api/base.py, governance/selectors.py, governance/services.py):

1. Not signed in -> 401 (DRF's IsAuthenticated, with a WWW-Authenticate header).
2. The role may not use this action at all -> 403 (the view's policy gate).
3. The role may use the action, but this object is out of the caller's scope -> 404, so a caller
   cannot learn that a complaint they may not see exists.
4. Otherwise the service checks the actor against this object again, then the record's state.

The source of truth is governance/policies.py; this table is its mirror. When the policy
changes, this table must change with it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, NamedTuple

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient

from audits import reports, sampling
from audits.api.oversight import router as oversight_router
from audits.api.urls import router as ledger_router
from audits.models import Checkpoint, CorrectiveAction, QualitySample
from audits.services import ledger_seal
from governance import policies
from governance.api.urls import router as governance_router
from governance.choices import ComplaintStatus, Role
from governance.models import Appeal
from privacy import services as privacy_services
from privacy import vault
from privacy.api.urls import router as privacy_router
from privacy.choices import AccessPurpose
from privacy.models import AccessLogEntry, LegalHold, PrivacyRequest, RetentionRule, RetentionRun
from tests import factories
from tests.factories import Flow

S = ComplaintStatus


class Expect(NamedTuple):
    status: int
    label: str


# --- the legend ------------------------------------------------------------------------------

OK = Expect(200, "ok")  # allowed; on a list, the cell's own record is in it
NEW = Expect(201, "created")  # allowed, and the write happened
NONE = Expect(200, "sees-none")  # allowed list, but the cell's record is out of the caller's scope
ANON = Expect(401, "anonymous")  # not signed in
DENY = Expect(403, "denied")  # the role may not use this action at all
HIDE = Expect(404, "hidden")  # the role may use the action, but may not see this record

# Who calls. "owner" filed the cell's complaint; "handler" and "lead" work in its department
# (moderation), the handler being the one it is (or will be) assigned to; "other_handler" works
# in copyright.
ROLES = (
    "anonymous",
    "no_role",
    "owner",
    "other_complainant",
    "handler",
    "other_handler",
    "lead",
    "compliance",
    "supervisor",
    "privacy",
    "admin",
)

# fmt: off
_TABLE: dict[str, tuple[Expect, ...]] = {
    #                         anon  none  owner other hndlr o.hnd lead  compl super priv  admin
    "complaint.list":         (ANON, DENY, OK,   NONE, OK,   NONE, OK,   OK,   DENY, DENY, DENY),
    "complaint.create":       (ANON, DENY, NEW,  NEW,  NEW,  NEW,  NEW,  DENY, DENY, DENY, DENY),
    "complaint.retrieve":     (ANON, DENY, OK,   HIDE, OK,   HIDE, OK,   OK,   DENY, DENY, DENY),
    "complaint.acknowledge":  (ANON, DENY, DENY, DENY, OK,   HIDE, OK,   DENY, DENY, DENY, DENY),
    "complaint.triage":       (ANON, DENY, DENY, DENY, OK,   HIDE, OK,   DENY, DENY, DENY, DENY),
    "complaint.assign":       (ANON, DENY, DENY, DENY, OK,   HIDE, OK,   DENY, DENY, DENY, DENY),
    "complaint.investigate":  (ANON, DENY, DENY, DENY, OK,   HIDE, OK,   DENY, DENY, DENY, DENY),
    "complaint.close":        (ANON, DENY, DENY, DENY, OK,   HIDE, OK,   DENY, DENY, DENY, DENY),
    "complaint.withdraw":     (ANON, DENY, OK,   HIDE, OK,   HIDE, OK,   DENY, DENY, DENY, DENY),
    "complaint.rate":         (ANON, DENY, NEW,  HIDE, DENY, DENY, DENY, DENY, DENY, DENY, DENY),
    "complaint.timeline":     (ANON, DENY, DENY, DENY, OK,   HIDE, OK,   OK,   DENY, DENY, DENY),
    "decision.list":          (ANON, DENY, OK,   NONE, OK,   NONE, OK,   OK,   OK,   DENY, DENY),
    "decision.create":        (ANON, DENY, DENY, DENY, NEW,  HIDE, NEW,  DENY, DENY, DENY, DENY),
    "decision.retrieve":      (ANON, DENY, OK,   HIDE, OK,   HIDE, OK,   OK,   OK,   DENY, DENY),
    "appeal.list":            (ANON, DENY, OK,   NONE, OK,   NONE, OK,   OK,   DENY, DENY, DENY),
    "appeal.create":          (ANON, DENY, NEW,  HIDE, DENY, DENY, DENY, DENY, DENY, DENY, DENY),
    "appeal.retrieve":        (ANON, DENY, OK,   HIDE, OK,   HIDE, OK,   OK,   DENY, DENY, DENY),
    "appeal.decide":          (ANON, DENY, DENY, DENY, NEW,  HIDE, NEW,  DENY, DENY, DENY, DENY),
    # The rule book and the reference data are open to every role (policies.can_read_*),
    # the privacy officer's included; only admins publish clauses.
    "policy-clause.list":     (ANON, DENY, OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK),
    "policy-clause.create":   (ANON, DENY, DENY, DENY, DENY, DENY, DENY, DENY, DENY, DENY, NEW),
    "policy-clause.retrieve": (ANON, DENY, OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK),
    "department.list":        (ANON, DENY, OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK),
    "department.retrieve":    (ANON, DENY, OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK),
    "category.list":          (ANON, DENY, OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK),
    "category.retrieve":      (ANON, DENY, OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK),
    # Data subjects, under /api/v1/privacy/: only privacy officers, who verify identities.
    "subject.list":           (ANON, DENY, DENY, DENY, DENY, DENY, DENY, DENY, DENY, OK,   DENY),
    "subject.retrieve":       (ANON, DENY, DENY, DENY, DENY, DENY, DENY, DENY, DENY, OK,   DENY),
    "subject.link_account":   (ANON, DENY, DENY, DENY, DENY, DENY, DENY, DENY, DENY, OK,   DENY),
    # Who decrypted which personal data: compliance officers alone read the access log.
    "access-log.list":        (ANON, DENY, DENY, DENY, DENY, DENY, DENY, OK,   DENY, DENY, DENY),
    # People's requests about their own data: a complainant files and follows their own, a
    # privacy officer records (received elsewhere), verifies, completes and refuses any. The
    # receipt's cell uses another person's completed request, as completing the owner's would
    # erase the data this test checks no refusal leaks; the erasure also closes the requester's
    # account, so the receipt reaches them by e-mail (tests/privacy/test_requests_api.py).
    "privacy-request.list":     (ANON, DENY, OK,   NONE, DENY, DENY, DENY, DENY, DENY, OK,   DENY),
    "privacy-request.create":   (ANON, DENY, NEW,  NEW,  DENY, DENY, DENY, DENY, DENY, NEW,  DENY),
    "privacy-request.retrieve": (ANON, DENY, OK,   HIDE, DENY, DENY, DENY, DENY, DENY, OK,   DENY),
    "privacy-request.verify":   (ANON, DENY, DENY, DENY, DENY, DENY, DENY, DENY, DENY, OK,   DENY),
    "privacy-request.complete": (ANON, DENY, DENY, DENY, DENY, DENY, DENY, DENY, DENY, OK,   DENY),
    "privacy-request.refuse":   (ANON, DENY, DENY, DENY, DENY, DENY, DENY, DENY, DENY, OK,   DENY),
    "privacy-request.receipt":  (ANON, DENY, HIDE, HIDE, DENY, DENY, DENY, DENY, DENY, OK,   DENY),
    # A complainant's own copy of their data (privacy officers answer access requests instead).
    "my-data.list":             (ANON, DENY, OK,   OK,   DENY, DENY, DENY, DENY, DENY, DENY, DENY),
    # Legal holds: placed, read and released by privacy and compliance officers.
    "legal-hold.list":        (ANON, DENY, DENY, DENY, DENY, DENY, DENY, OK,   DENY, OK,   DENY),
    "legal-hold.create":      (ANON, DENY, DENY, DENY, DENY, DENY, DENY, NEW,  DENY, NEW,  DENY),
    "legal-hold.retrieve":    (ANON, DENY, DENY, DENY, DENY, DENY, DENY, OK,   DENY, OK,   DENY),
    "legal-hold.release":     (ANON, DENY, DENY, DENY, DENY, DENY, DENY, OK,   DENY, OK,   DENY),
    # Retention rules and the runs of enforce_retention: privacy officers alone.
    "retention-rule.list":    (ANON, DENY, DENY, DENY, DENY, DENY, DENY, DENY, DENY, OK,   DENY),
    "retention-rule.create":  (ANON, DENY, DENY, DENY, DENY, DENY, DENY, DENY, DENY, NEW,  DENY),
    "retention-rule.retrieve": (ANON, DENY, DENY, DENY, DENY, DENY, DENY, DENY, DENY, OK,   DENY),
    "retention-rule.update":  (ANON, DENY, DENY, DENY, DENY, DENY, DENY, DENY, DENY, OK,   DENY),
    "retention-rule.partial_update":
                              (ANON, DENY, DENY, DENY, DENY, DENY, DENY, DENY, DENY, OK,   DENY),
    "retention-run.list":     (ANON, DENY, DENY, DENY, DENY, DENY, DENY, DENY, DENY, OK,   DENY),
    # The ledger, under /api/v1/ledger/, and a complaint's evidence bundle: compliance officers
    # and supervisors (it holds pseudonyms, references and hashes only).
    "complaint.evidence":     (ANON, DENY, DENY, DENY, DENY, DENY, DENY, OK,   OK,   DENY, DENY),
    "checkpoint.list":        (ANON, DENY, DENY, DENY, DENY, DENY, DENY, OK,   OK,   DENY, DENY),
    "checkpoint.retrieve":    (ANON, DENY, DENY, DENY, DENY, DENY, DENY, OK,   OK,   DENY, DENY),
    "checkpoint.latest":      (ANON, DENY, DENY, DENY, DENY, DENY, DENY, OK,   OK,   DENY, DENY),
    "checkpoint.consistency": (ANON, DENY, DENY, DENY, DENY, DENY, DENY, OK,   OK,   DENY, DENY),
    "ledger-entry.retrieve":  (ANON, DENY, DENY, DENY, DENY, DENY, DENY, OK,   OK,   DENY, DENY),
    "ledger-entry.proof":     (ANON, DENY, DENY, DENY, DENY, DENY, DENY, OK,   OK,   DENY, DENY),
    "ledger-key.list":        (ANON, DENY, DENY, DENY, DENY, DENY, DENY, OK,   OK,   DENY, DENY),
    # DSA statements of reasons and the early warning, under /api/v1/oversight/: compliance
    # officers and supervisors (statements carry no personal data; counts are per category).
    "statement.list":         (ANON, DENY, DENY, DENY, DENY, DENY, DENY, OK,   OK,   DENY, DENY),
    "early-warning.list":     (ANON, DENY, DENY, DENY, DENY, DENY, DENY, OK,   OK,   DENY, DENY),
    # Quality sampling, under /api/v1/oversight/: supervisors draw samples and review blind
    # (never a decision they took part in); compliance officers read samples and re-run draws;
    # corrective actions are followed by oversight and the department's lead, who closes them.
    "sample.list":            (ANON, DENY, DENY, DENY, DENY, DENY, DENY, OK,   OK,   DENY, DENY),
    "sample.create":          (ANON, DENY, DENY, DENY, DENY, DENY, DENY, DENY, NEW,  DENY, DENY),
    "sample.retrieve":        (ANON, DENY, DENY, DENY, DENY, DENY, DENY, OK,   OK,   DENY, DENY),
    "sample.verify":          (ANON, DENY, DENY, DENY, DENY, DENY, DENY, OK,   OK,   DENY, DENY),
    "sample.next":            (ANON, DENY, DENY, DENY, DENY, DENY, DENY, DENY, OK,   DENY, DENY),
    "review.create":          (ANON, DENY, DENY, DENY, DENY, DENY, DENY, DENY, NEW,  DENY, DENY),
    "corrective-action.list": (ANON, DENY, DENY, DENY, DENY, DENY, OK,   OK,   OK,   DENY, DENY),
    "corrective-action.close":
                              (ANON, DENY, DENY, DENY, DENY, DENY, OK,   DENY, DENY, DENY, DENY),
    # Oversight reports: supervisors publish; oversight reads them over the API (everyone
    # reads the published ones on the public transparency page, which is not API).
    "report.list":            (ANON, DENY, DENY, DENY, DENY, DENY, DENY, OK,   OK,   DENY, DENY),
    "report.create":          (ANON, DENY, DENY, DENY, DENY, DENY, DENY, DENY, NEW,  DENY, DENY),
    "report.retrieve":        (ANON, DENY, DENY, DENY, DENY, DENY, DENY, OK,   OK,   DENY, DENY),
}
# fmt: on

EXPECTED: dict[str, dict[str, Expect]] = {
    endpoint: dict(zip(ROLES, row, strict=True)) for endpoint, row in _TABLE.items()
}


# --- the callers -----------------------------------------------------------------------------


def _caller(role: str, f: Flow) -> Any | None:
    """Return the user who plays `role` against the cell's complaint (None when anonymous)."""
    makers: dict[str, Callable[[], Any]] = {
        "anonymous": lambda: None,
        "no_role": lambda: factories.UserFactory(),
        "owner": lambda: f.complainant,
        "other_complainant": lambda: factories.user_with_role(Role.COMPLAINANT),
        "handler": lambda: f.handler,
        "other_handler": lambda: factories.user_with_role(Role.HANDLER, "copyright"),
        "lead": lambda: f.lead,
        "compliance": lambda: factories.user_with_role(Role.COMPLIANCE_OFFICER),
        "supervisor": lambda: factories.user_with_role(Role.SUPERVISOR),
        "privacy": lambda: factories.user_with_role(Role.PRIVACY_OFFICER),
        "admin": lambda: factories.user_with_role(Role.ADMIN),
    }
    return makers[role]()


# --- the records each cell starts from ---------------------------------------------------------


def _at(status: str) -> Callable[[], Flow]:
    return lambda: factories.flow_at(status)


def _with_clause() -> Flow:
    f = factories.flow_at(S.RECEIVED)
    factories.policy_clause()
    return f


def _appeal_open() -> Flow:
    """An open appeal whose decision was taken by a second lead, so that neither the cell's
    handler nor its lead took part in it and both may decide the appeal. (The rule that a
    decider may not decide the appeal against their own decision is tested in
    tests/governance/test_api.py.)"""
    f = factories.flow_at(S.INVESTIGATING)
    f.step(S.DECIDED, actor=factories.user_with_role(Role.DEPARTMENT_LEAD, "moderation"))
    f.step(S.APPEALED)
    f.refresh()
    return f


def _reported_holder() -> Flow:
    """A complaint about an account whose holder is a person (a data subject with no login)."""
    complainant = factories.user_with_role(Role.COMPLAINANT)
    complaint = factories.file_complaint(complainant, affected_account_handle="@reported")
    return Flow(
        complaint,
        complainant,
        factories.user_with_role(Role.HANDLER, "moderation"),
        factories.user_with_role(Role.DEPARTMENT_LEAD, "moderation"),
    )


def _subject_url(f: Flow, action: str = "") -> str:
    suffix = f"{action}/" if action else ""
    return f"/api/v1/privacy/subjects/{f.complaint.affected_subject.pseudonym}/{suffix}"


def _read_once() -> Flow:
    """A complaint whose description its handler has read once (one access-log entry)."""
    f = factories.flow_at(S.RECEIVED)
    vault.reveal_note(
        f.handler,
        f.complaint.description,
        purpose=AccessPurpose.CASE_HANDLING,
        complaint=f.complaint,
    )
    return f


def _privacy_request(status: str, *, of_owner: bool = True) -> Callable[[], Flow]:
    """A deletion request by the cell's complainant (or another person), brought to `status`."""

    def setup() -> Flow:
        f = factories.flow_at(S.RECEIVED)
        requester = f.complainant if of_owner else factories.user_with_role(Role.COMPLAINANT)
        officer = factories.user_with_role(Role.PRIVACY_OFFICER)
        request, _new = privacy_services.privacy_request_file(actor=requester, kind="deletion")
        if status != "received":
            privacy_services.privacy_request_verify_identity(actor=officer, request=request)
        if status == "completed":
            privacy_services.privacy_request_complete(actor=officer, request=request)
        return f

    return setup


def _request_url(action: str = "") -> Callable[[Flow], str]:
    suffix = f"{action}/" if action else ""
    return lambda f: f"/api/v1/privacy/requests/{PrivacyRequest.objects.get().reference}/{suffix}"


def _held() -> Flow:
    """A complaint under a legal hold placed by a compliance officer."""
    f = factories.flow_at(S.RECEIVED)
    privacy_services.legal_hold_place(
        actor=factories.user_with_role(Role.COMPLIANCE_OFFICER),
        complaint=f.complaint,
        reason="Court order",
        review_on=factories.future(),
    )
    return f


def _hold_url(action: str = "") -> Callable[[Flow], str]:
    suffix = f"{action}/" if action else ""
    return lambda f: f"/api/v1/privacy/legal-holds/{LegalHold.objects.get().pk}/{suffix}"


def _rule_url(f: Flow) -> str:
    rule = RetentionRule.objects.get(record_class="complainant_data", category=None)
    return f"/api/v1/privacy/retention-rules/{rule.pk}/"


def _retention_run() -> Flow:
    """One run of enforce_retention (on the real clock, so it erases nothing)."""
    f = factories.flow_at(S.RECEIVED)
    privacy_services.retention_enforce()
    return f


def _sealed() -> Flow:
    """A decided complaint and two checkpoints (so there is a consistency proof to ask for)."""
    first = factories.flow_at(S.RECEIVED)
    ledger_seal()
    f = factories.flow_at(S.DECIDED)
    ledger_seal()
    assert first.complaint.pk != f.complaint.pk
    return f


def _this_month() -> dict[str, str]:
    start = timezone.localdate().replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return {"period_start": start.isoformat(), "period_end": end.isoformat()}


def _sampled() -> Flow:
    """A decided complaint drawn into this month's sample by another supervisor."""
    f = factories.flow_at(S.DECIDED)
    sampling.sample_draw(
        actor=factories.user_with_role(Role.SUPERVISOR),
        **{k: date.fromisoformat(v) for k, v in _this_month().items()},
    )
    return f


def _reported() -> Flow:
    """A complaint, and the report of a month long past published by another supervisor."""
    f = factories.flow_at(S.RECEIVED)
    reports.report_publish(actor=factories.user_with_role(Role.SUPERVISOR), period=PAST_MONTH)
    return f


PAST_MONTH = "2025-03"


def _disagreed() -> Flow:
    """A sampled decision another supervisor disagreed with: one open corrective action."""
    f = _sampled()
    sampling.review_record(
        actor=factories.user_with_role(Role.SUPERVISOR),
        item=QualitySample.objects.get().items.get(),
        scores=_SCORES,
        verdict="disagree",
    )
    return f


_SCORES = {
    "clause_correct": 4,
    "facts_adequate": 4,
    "action_proportionate": 2,
    "deadline_met": 5,
    "reasons_clear": 3,
}


def _sample_url(action: str = "") -> Callable[[Flow], str]:
    suffix = f"{action}/" if action else ""
    return lambda f: f"/api/v1/oversight/samples/{QualitySample.objects.get().pk}/{suffix}"


def _sizes() -> tuple[int, int]:
    old, new = Checkpoint.objects.order_by("tree_size").values_list("tree_size", flat=True)[:2]
    return old, new


def _yesterday() -> str:
    """A day before every record of the cell, in any time zone."""
    return (timezone.localdate() - timedelta(days=1)).isoformat()


def _appeal(f: Flow) -> Appeal:
    return f.complaint.appeals.get()


def _complaint_url(f: Flow, action: str = "") -> str:
    suffix = f"{action}/" if action else ""
    return f"/api/v1/complaints/{f.complaint.reference}/{suffix}"


def _decision_body(f: Flow, _user: Any) -> dict[str, Any]:
    return {
        "complaint": f.complaint.reference,
        "outcome": "upheld",
        "actions": ["content_removed"],
        "ground": "terms_of_service",
        "policy_clause": factories.policy_clause().pk,
        "facts": "The comments insult the complainant by name.",
        "reasons": "Insults break clause TOS-3.1; the comments are removed.",
    }


def _no_body(_f: Flow, _user: Any) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class Endpoint:
    """How to call one endpoint, and the records a cell needs for an allowed call to succeed."""

    method: str
    url: Callable[[Flow], str]
    setup: Callable[[], Flow]
    body: Callable[[Flow, Any], dict[str, Any]] = field(default=_no_body)
    # For a list: which key of a row, with which value, identifies the cell's own record.
    listed: Callable[[Flow], tuple[str, Any]] | None = None


ENDPOINTS: dict[str, Endpoint] = {
    "complaint.list": Endpoint(
        "get",
        lambda f: "/api/v1/complaints/",
        _at(S.RECEIVED),
        listed=lambda f: ("reference", f.complaint.reference),
    ),
    "complaint.create": Endpoint(
        "post",
        lambda f: "/api/v1/complaints/",
        _at(S.RECEIVED),
        # Complainants file for themselves; staff must name who they file for. This body
        # suits both, so the cell tests the role and nothing else.
        body=lambda f, u: {
            "channel": "web_form",
            "category": "harassment",
            "description": "A new complaint filed for the matrix.",
            "complainant_name": "Pat Example",
            "complainant_email": "pat@example.test",
        },
    ),
    "complaint.retrieve": Endpoint("get", _complaint_url, _at(S.RECEIVED)),
    "complaint.acknowledge": Endpoint(
        "post", lambda f: _complaint_url(f, "acknowledge"), _at(S.RECEIVED)
    ),
    "complaint.triage": Endpoint(
        "post", lambda f: _complaint_url(f, "triage"), _at(S.ACKNOWLEDGED)
    ),
    "complaint.assign": Endpoint(
        "post",
        lambda f: _complaint_url(f, "assign"),
        _at(S.TRIAGED),
        # A handler may only take a complaint; a lead may assign to anyone in the department,
        # themselves included. Taking it oneself is allowed to both.
        body=lambda f, u: {"assignee": u.get_username() if u is not None else "nobody"},
    ),
    "complaint.investigate": Endpoint(
        "post", lambda f: _complaint_url(f, "investigate"), _at(S.ASSIGNED)
    ),
    "complaint.close": Endpoint("post", lambda f: _complaint_url(f, "close"), _at(S.DECIDED)),
    "complaint.withdraw": Endpoint(
        "post",
        lambda f: _complaint_url(f, "withdraw"),
        _at(S.RECEIVED),
        body=lambda f, u: {"reason": "Resolved privately."},
    ),
    "complaint.rate": Endpoint(
        "post",
        lambda f: _complaint_url(f, "rate"),
        _at(S.CLOSED),
        body=lambda f, u: {"score": 4, "comment": "Quick and fair."},
    ),
    "complaint.timeline": Endpoint("get", lambda f: _complaint_url(f, "timeline"), _at(S.DECIDED)),
    "decision.list": Endpoint(
        "get",
        lambda f: "/api/v1/decisions/",
        _at(S.DECIDED),
        listed=lambda f: ("id", f.decision.pk),
    ),
    "decision.create": Endpoint(
        "post", lambda f: "/api/v1/decisions/", _at(S.INVESTIGATING), body=_decision_body
    ),
    "decision.retrieve": Endpoint(
        "get", lambda f: f"/api/v1/decisions/{f.decision.pk}/", _at(S.DECIDED)
    ),
    "appeal.list": Endpoint(
        "get",
        lambda f: "/api/v1/appeals/",
        _appeal_open,
        listed=lambda f: ("id", _appeal(f).pk),
    ),
    "appeal.create": Endpoint(
        "post",
        lambda f: "/api/v1/appeals/",
        _at(S.DECIDED),
        body=lambda f, u: {"decision": f.decision.pk, "statement": "Please look again."},
    ),
    "appeal.retrieve": Endpoint("get", lambda f: f"/api/v1/appeals/{_appeal(f).pk}/", _appeal_open),
    "appeal.decide": Endpoint(
        "post",
        lambda f: f"/api/v1/appeals/{_appeal(f).pk}/decide/",
        _appeal_open,
        body=lambda f, u: {
            "outcome": "upheld",
            "facts": "Second look at the same comments.",
            "reasons": "The first decision was right.",
        },
    ),
    "policy-clause.list": Endpoint(
        "get",
        lambda f: "/api/v1/policy-clauses/",
        _with_clause,
        listed=lambda f: ("id", factories.policy_clause().pk),
    ),
    "policy-clause.create": Endpoint(
        "post",
        lambda f: "/api/v1/policy-clauses/",
        _with_clause,
        body=lambda f, u: {
            "code": "TOS-9.1",
            "title": "No spam",
            "text": "Do not post the same message again and again.",
            "effective_from": timezone.localdate().isoformat(),
        },
    ),
    "policy-clause.retrieve": Endpoint(
        "get", lambda f: f"/api/v1/policy-clauses/{factories.policy_clause().pk}/", _with_clause
    ),
    "department.list": Endpoint(
        "get",
        lambda f: "/api/v1/departments/",
        _at(S.RECEIVED),
        listed=lambda f: ("code", "moderation"),
    ),
    "department.retrieve": Endpoint(
        "get", lambda f: "/api/v1/departments/moderation/", _at(S.RECEIVED)
    ),
    "category.list": Endpoint(
        "get",
        lambda f: "/api/v1/categories/",
        _at(S.RECEIVED),
        listed=lambda f: ("code", "harassment"),
    ),
    "category.retrieve": Endpoint(
        "get", lambda f: "/api/v1/categories/harassment/", _at(S.RECEIVED)
    ),
    "subject.list": Endpoint(
        "get",
        lambda f: f"/api/v1/privacy/subjects/?email={f.complainant.email}",
        _reported_holder,
        listed=lambda f: ("pseudonym", f.complaint.complainant.pseudonym),
    ),
    "subject.retrieve": Endpoint("get", _subject_url, _reported_holder),
    "access-log.list": Endpoint(
        "get",
        lambda f: "/api/v1/privacy/access-log/",
        _read_once,
        listed=lambda f: ("id", AccessLogEntry.objects.get().pk),
    ),
    "privacy-request.list": Endpoint(
        "get",
        lambda f: "/api/v1/privacy/requests/",
        _privacy_request("received"),
        listed=lambda f: ("reference", PrivacyRequest.objects.get().reference),
    ),
    "privacy-request.create": Endpoint(
        "post",
        lambda f: "/api/v1/privacy/requests/",
        _at(S.RECEIVED),
        # A complainant asks for themselves; a privacy officer names the person by contact.
        body=lambda f, u: (
            {"kind": "access", "email": "someone@example.test"}
            if policies.can_handle_privacy_requests(u)
            else {"kind": "access"}
        ),
    ),
    "privacy-request.retrieve": Endpoint("get", _request_url(), _privacy_request("received")),
    "privacy-request.verify": Endpoint(
        "post", _request_url("verify"), _privacy_request("received")
    ),
    "privacy-request.complete": Endpoint(
        "post", _request_url("complete"), _privacy_request("identity_verified")
    ),
    "privacy-request.refuse": Endpoint(
        "post",
        _request_url("refuse"),
        _privacy_request("received"),
        body=lambda f, u: {
            "reason": "The person could not prove who they are.",
            "legal_basis": "PIPL Art. 50 (identity not verified)",
        },
    ),
    "privacy-request.receipt": Endpoint(
        "get", _request_url("receipt"), _privacy_request("completed", of_owner=False)
    ),
    "my-data.list": Endpoint("get", lambda f: "/api/v1/privacy/my-data/", _at(S.RECEIVED)),
    "legal-hold.list": Endpoint(
        "get",
        lambda f: "/api/v1/privacy/legal-holds/",
        _held,
        listed=lambda f: ("id", LegalHold.objects.get().pk),
    ),
    "legal-hold.create": Endpoint(
        "post",
        lambda f: "/api/v1/privacy/legal-holds/",
        _at(S.RECEIVED),
        body=lambda f, u: {
            "complaint": f.complaint.reference,
            "reason": "Preserved for a court case.",
            "review_on": "2099-01-31",
        },
    ),
    "legal-hold.retrieve": Endpoint("get", _hold_url(), _held),
    "legal-hold.release": Endpoint(
        "post", _hold_url("release"), _held, body=lambda f, u: {"reason": "The case settled."}
    ),
    "retention-rule.list": Endpoint(
        "get",
        lambda f: "/api/v1/privacy/retention-rules/",
        _at(S.RECEIVED),
        listed=lambda f: ("record_class", "complainant_data"),
    ),
    "retention-rule.create": Endpoint(
        "post",
        lambda f: "/api/v1/privacy/retention-rules/",
        _at(S.RECEIVED),
        body=lambda f, u: {
            "record_class": "complainant_data",
            "category": "harassment",
            "period_days": 730,
            "counted_from": "complaint_closed",
            "legal_basis": "PIPL Art. 19",
        },
    ),
    "retention-rule.retrieve": Endpoint("get", _rule_url, _at(S.RECEIVED)),
    "retention-rule.update": Endpoint(
        "put",
        _rule_url,
        _at(S.RECEIVED),
        body=lambda f, u: {
            "period_days": 1200,
            "counted_from": "complaint_closed",
            "legal_basis": "PIPL Art. 19",
        },
    ),
    "retention-rule.partial_update": Endpoint(
        "patch", _rule_url, _at(S.RECEIVED), body=lambda f, u: {"period_days": 1200}
    ),
    "retention-run.list": Endpoint(
        "get",
        lambda f: "/api/v1/privacy/retention-runs/",
        _retention_run,
        listed=lambda f: ("id", RetentionRun.objects.get().pk),
    ),
    "complaint.evidence": Endpoint("get", lambda f: _complaint_url(f, "evidence"), _sealed),
    "checkpoint.list": Endpoint(
        "get",
        lambda f: "/api/v1/ledger/checkpoints/",
        _sealed,
        listed=lambda f: ("tree_size", _sizes()[1]),
    ),
    "checkpoint.retrieve": Endpoint(
        "get", lambda f: f"/api/v1/ledger/checkpoints/{_sizes()[0]}/", _sealed
    ),
    "checkpoint.latest": Endpoint("get", lambda f: "/api/v1/ledger/checkpoints/latest/", _sealed),
    "checkpoint.consistency": Endpoint(
        "get",
        lambda f: "/api/v1/ledger/checkpoints/{1}/consistency/?from={0}".format(*_sizes()),
        _sealed,
    ),
    "ledger-entry.retrieve": Endpoint("get", lambda f: "/api/v1/ledger/entries/0/", _sealed),
    "ledger-entry.proof": Endpoint("get", lambda f: "/api/v1/ledger/entries/3/proof/", _sealed),
    "ledger-key.list": Endpoint("get", lambda f: "/api/v1/ledger/keys/", _sealed),
    "statement.list": Endpoint(
        "get",
        lambda f: f"/api/v1/oversight/statements/?since={_yesterday()}",
        _at(S.DECIDED),
    ),
    "early-warning.list": Endpoint(
        "get", lambda f: "/api/v1/oversight/early-warning/", _at(S.RECEIVED)
    ),
    "sample.list": Endpoint(
        "get",
        lambda f: "/api/v1/oversight/samples/",
        _sampled,
        listed=lambda f: ("id", QualitySample.objects.get().pk),
    ),
    "sample.create": Endpoint(
        "post",
        lambda f: "/api/v1/oversight/samples/",
        _at(S.DECIDED),
        body=lambda f, u: _this_month(),
    ),
    "sample.retrieve": Endpoint("get", _sample_url(), _sampled),
    "sample.verify": Endpoint("get", _sample_url("verify"), _sampled),
    "sample.next": Endpoint("get", _sample_url("next"), _sampled),
    "review.create": Endpoint(
        "post",
        lambda f: "/api/v1/oversight/reviews/",
        _sampled,
        body=lambda f, u: {
            "item": QualitySample.objects.get().items.get().pk,
            "verdict": "agree",
            **_SCORES,
        },
    ),
    "corrective-action.list": Endpoint(
        "get",
        lambda f: "/api/v1/oversight/corrective-actions/",
        _disagreed,
        listed=lambda f: ("id", CorrectiveAction.objects.get().pk),
    ),
    "corrective-action.close": Endpoint(
        "post",
        lambda f: (
            f"/api/v1/oversight/corrective-actions/{CorrectiveAction.objects.get().pk}/close/"
        ),
        _disagreed,
        body=lambda f, u: {"resolution": "Coached the handler on proportionate action."},
    ),
    "report.list": Endpoint(
        "get",
        lambda f: "/api/v1/oversight/reports/",
        _reported,
        listed=lambda f: ("number", 1),
    ),
    "report.create": Endpoint(
        "post",
        lambda f: "/api/v1/oversight/reports/",
        _at(S.RECEIVED),
        body=lambda f, u: {"period": PAST_MONTH},
    ),
    "report.retrieve": Endpoint("get", lambda f: "/api/v1/oversight/reports/1/", _reported),
    "subject.link_account": Endpoint(
        "post",
        lambda f: _subject_url(f, "link-account"),
        _reported_holder,
        body=lambda f, u: {
            "username": factories.user_with_role(Role.COMPLAINANT, username="holder").username
        },
    ),
}


# --- the tests -------------------------------------------------------------------------------


def _personal_data(f: Flow) -> list[str]:
    """The personal data the cell's records hold; no refusal may echo any of it."""
    subject = f.complaint.complainant
    texts = [
        factories.plain_note(f.complaint.description),
        factories.plain_field(subject, "email"),
        factories.plain_field(subject, "full_name"),
    ]
    appeal = f.complaint.appeals.first()
    if appeal is not None:
        texts.append(factories.plain_note(appeal.statement))
    return [t for t in texts if t]


def _rows(body: Any) -> list[dict[str, Any]]:
    return body["results"] if isinstance(body, dict) else body


CELLS = [
    pytest.param(endpoint, role, expect, id=f"{endpoint}-{role}-{expect.label}")
    for endpoint, row in EXPECTED.items()
    for role, expect in row.items()
]


@pytest.mark.parametrize(("endpoint", "role", "expect"), CELLS)
def test_matrix(api: APIClient, endpoint: str, role: str, expect: Expect) -> None:
    # given: fresh records in the state the endpoint acts on, and the caller
    spec = ENDPOINTS[endpoint]
    f = spec.setup()
    user = _caller(role, f)
    if user is not None:
        api.force_authenticate(user=user)
    body = spec.body(f, user)

    # when
    response = getattr(api, spec.method)(spec.url(f), body, format="json")

    # then
    assert response.status_code == expect.status, response.content.decode()
    if expect.status >= 400:
        payload = response.json()
        assert isinstance(payload.get("detail"), str), payload
        assert payload["detail"].strip()
        raw = response.content.decode()
        readable = json.dumps(payload, ensure_ascii=False)
        for text in _personal_data(f):
            assert text not in raw, f"{endpoint} as {role} leaks {text!r}"
            assert text not in readable, f"{endpoint} as {role} leaks {text!r}"
    if expect.status == 401:
        assert response.has_header("WWW-Authenticate")
    if spec.listed is not None and expect.status == 200:
        key, value = spec.listed(f)
        shown = {row[key] for row in _rows(response.json())}
        if expect is NONE:
            assert value not in shown
        else:
            assert value in shown


def _routed_actions() -> set[str]:
    """Every (basename, action) the API router serves, as "basename.action"."""
    routed: set[str] = set()
    registry = [
        *governance_router.registry,
        *privacy_router.registry,
        *ledger_router.registry,
        *oversight_router.registry,
    ]
    router = governance_router  # routes and method maps do not depend on the router instance
    for _prefix, viewset, basename in registry:
        for route in router.get_routes(viewset):
            for action in router.get_method_map(viewset, route.mapping).values():
                routed.add(f"{basename}.{action}")
    return routed


def test_matrix_covers_every_routed_endpoint() -> None:
    # A new endpoint without a row here would escape the policy check above.
    assert set(EXPECTED) == _routed_actions()
    assert set(ENDPOINTS) == set(EXPECTED)


def test_every_role_has_a_caller() -> None:
    # The columns cover every role there is, plus the anonymous caller and a user with none.
    named = {
        "owner": Role.COMPLAINANT,
        "other_complainant": Role.COMPLAINANT,
        "handler": Role.HANDLER,
        "other_handler": Role.HANDLER,
        "lead": Role.DEPARTMENT_LEAD,
        "compliance": Role.COMPLIANCE_OFFICER,
        "supervisor": Role.SUPERVISOR,
        "privacy": Role.PRIVACY_OFFICER,
        "admin": Role.ADMIN,
    }
    assert set(named.values()) == set(Role.values)
    assert set(ROLES) == {"anonymous", "no_role", *named}
    f = factories.flow_at(S.RECEIVED)
    for column, role in named.items():
        user = _caller(column, f)
        assert (
            get_user_model()
            .objects.filter(
                pk=user.pk, role_memberships__role=role, role_memberships__revoked_at__isnull=True
            )
            .exists()
        ), column
