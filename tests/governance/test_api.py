"""The governance API: response shapes, personal data, errors, filters, paging, schema, auth.

Who may call what is the business of tests/test_permissions_matrix.py; this suite checks what
the calls that are allowed (and the ones refused for bad input or state) answer.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import yaml
from django.contrib.auth import get_user_model
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from audits.models import LedgerEntry
from governance import services
from governance.choices import ComplaintStatus, DecisionOutcome, Role
from governance.filters import ComplaintFilter
from governance.models import (
    Appeal,
    Complaint,
    ComplaintTransition,
    Decision,
    PolicyClause,
    Rating,
)
from privacy.models import DataSubject, PersonalNote
from tests import factories
from tests.factories import Flow

S = ComplaintStatus
DESCRIPTION = "Someone keeps insulting me in the comments."  # factories.file_complaint's default

COMPLAINT_FIELDS = {
    "reference",
    "status",
    "allowed_next",
    "channel",
    "category",
    "department",
    "severity",
    "urgency",
    "priority",
    "content_url",
    "content_id",
    "complainant",
    "complainant_contact",
    "affected_subject",
    "description",
    "personal_data",
    "assignee",
    "received_at",
    "acknowledged_at",
    "triaged_at",
    "decided_at",
    "closed_at",
    "acknowledge_due_at",
    "triage_due_at",
    "decision_due_at",
}
DECISION_FIELDS = {
    "id",
    "complaint",
    "kind",
    "outcome",
    "actions",
    "ground",
    "ground_reference",
    "policy_clause",
    "facts",
    "reasons",
    "automated_detection",
    "automated_decision",
    "territorial_scope",
    "restriction_end",
    "decided_by",
    "decided_at",
    "supersedes",
    "superseded_by",
    "appeal",
    "appeal_outcome",
}
APPEAL_FIELDS = {
    "id",
    "complaint",
    "decision",
    "appellant_role",
    "statement",
    "status",
    "filed_at",
    "decided_at",
    "outcome_decision",
}
CLAUSE_FIELDS = {
    "id",
    "code",
    "version",
    "title",
    "text",
    "effective_from",
    "effective_to",
    "published_at",
}


def _complaint_url(complaint: Complaint, action: str = "") -> str:
    suffix = f"{action}/" if action else ""
    return f"/api/v1/complaints/{complaint.reference}/{suffix}"


def _decision_body(complaint: Complaint, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "complaint": complaint.reference,
        "outcome": "upheld",
        "actions": ["content_removed"],
        "ground": "terms_of_service",
        "policy_clause": factories.policy_clause().pk,
        "facts": "The comments insult the complainant by name.",
        "reasons": "Insults break clause TOS-3.1; the comments are removed.",
    }
    body.update(overrides)
    return body


def _fresh(user: Any) -> Any:
    """The user re-read from the database, without the roles a previous call cached on it."""
    return get_user_model().objects.get(pk=user.pk)


# --- response shapes -------------------------------------------------------------------------


def test_complaint_detail_shape(as_user: Callable[[Any], APIClient]) -> None:
    f = factories.flow_at(S.ASSIGNED)

    response = as_user(f.handler).get(_complaint_url(f.complaint))

    assert response.status_code == 200
    body = response.json()
    assert set(body) == COMPLAINT_FIELDS
    assert body["reference"] == f.complaint.reference
    assert body["status"] == "assigned"
    assert body["allowed_next"] == ["investigating", "withdrawn"]
    assert body["category"] == "harassment"
    assert body["department"] == "moderation"
    assert body["complainant"].startswith("S-")  # the data subject's pseudonym
    assert set(body["complainant_contact"]) == {
        "full_name",
        "email",
        "phone",
        "account_handle",
        "ip_address",
    }
    assert body["personal_data"] == "read"


def test_complaint_list_shape(as_user: Callable[[Any], APIClient]) -> None:
    f = factories.flow_at(S.RECEIVED)

    response = as_user(f.handler).get("/api/v1/complaints/")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"next", "previous", "results"}
    assert [row["reference"] for row in body["results"]] == [f.complaint.reference]
    row = body["results"][0]
    assert set(row) == COMPLAINT_FIELDS
    # Lists carry no personal data (each read would be a logged decryption); the detail does.
    assert (row["description"], row["complainant_contact"], row["personal_data"]) == (
        None,
        None,
        None,
    )


def test_decision_detail_shape(as_user: Callable[[Any], APIClient]) -> None:
    f = factories.flow_at(S.DECIDED)

    response = as_user(f.lead).get(f"/api/v1/decisions/{f.decision.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == DECISION_FIELDS
    assert body["complaint"] == f.complaint.reference
    assert body["kind"] == "initial"
    assert body["outcome"] == "upheld"
    assert body["actions"] == ["content_removed"]
    assert set(body["policy_clause"]) == {"id", "code", "version", "title"}
    assert body["policy_clause"]["code"] == "TOS-3.1"
    assert body["supersedes"] is None
    assert body["superseded_by"] is None


def test_appeal_detail_shape(as_user: Callable[[Any], APIClient]) -> None:
    f = factories.flow_at(S.APPEALED)
    appeal = f.complaint.appeals.get()

    response = as_user(f.complainant).get(f"/api/v1/appeals/{appeal.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == APPEAL_FIELDS
    assert body["complaint"] == f.complaint.reference
    assert body["decision"] == f.decision.pk
    assert body["appellant_role"] == "complainant"
    assert body["statement"] == "Please look again."
    assert body["status"] == "open"
    assert body["outcome_decision"] is None


def test_appeal_shows_outcome_decision_once_decided(as_user: Callable[[Any], APIClient]) -> None:
    f = factories.flow_at(S.APPEAL_DECIDED)
    appeal = f.complaint.appeals.get()

    body = as_user(f.handler).get(f"/api/v1/appeals/{appeal.pk}/").json()

    assert body["status"] == "decided"
    assert body["outcome_decision"] == Decision.objects.get(appeal=appeal).pk


def test_policy_clause_detail_shape(as_user: Callable[[Any], APIClient], complainant: Any) -> None:
    clause = factories.policy_clause("TOS-5.5")

    response = as_user(complainant).get(f"/api/v1/policy-clauses/{clause.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == CLAUSE_FIELDS
    assert (body["code"], body["version"]) == ("TOS-5.5", 1)


def test_reference_data_shapes(as_user: Callable[[Any], APIClient], complainant: Any) -> None:
    client = as_user(complainant)

    departments = client.get("/api/v1/departments/").json()
    categories = client.get("/api/v1/categories/").json()

    # Reference data is short and unpaginated.
    assert {"code": "moderation", "name": "Moderation", "name_zh": "审核"} in departments
    harassment = next(c for c in categories if c["code"] == "harassment")
    assert harassment == {
        "code": "harassment",
        "name": "Harassment and cyber-violence",
        "name_zh": "骚扰与网络暴力",
        "dsa_category": "STATEMENT_CATEGORY_CYBER_VIOLENCE",
        "default_department": "moderation",
        "default_severity": "high",
    }


# --- personal data ---------------------------------------------------------------------------


def test_complainant_sees_own_description_and_contact(as_user: Callable[[Any], APIClient]) -> None:
    f = factories.flow_at(S.RECEIVED)

    body = as_user(f.complainant).get(_complaint_url(f.complaint)).json()

    assert body["description"] == DESCRIPTION
    assert body["complainant_contact"] == {
        "full_name": f.complainant.get_full_name(),
        "email": f.complainant.email,
        "phone": "",
        "account_handle": "",
        "ip_address": "",
    }


def test_handler_of_the_department_sees_description_and_contact(
    as_user: Callable[[Any], APIClient],
) -> None:
    f = factories.flow_at(S.RECEIVED)

    body = as_user(f.handler).get(_complaint_url(f.complaint)).json()

    assert body["description"] == DESCRIPTION
    assert body["complainant_contact"]["email"] == f.complainant.email


def test_affected_account_holder_never_sees_the_complainants_data(
    as_user: Callable[[Any], APIClient], complainant: Any
) -> None:
    # given: a complaint about an account whose holder signs in to Ombud
    complaint = factories.file_complaint(complainant, affected_account_handle="@loud_commenter")
    holder = factories.user_with_role(Role.COMPLAINANT)
    DataSubject.objects.filter(pk=complaint.affected_subject_id).update(user=holder)

    # when
    response = as_user(holder).get(_complaint_url(complaint))

    # then: the holder sees the complaint, but not who filed it or what they wrote
    assert response.status_code == 200
    body = response.json()
    assert body["description"] is None
    assert body["complainant_contact"] is None
    raw = response.content.decode()
    for text in (DESCRIPTION, complainant.email, complainant.get_full_name()):
        assert text not in raw


def test_supervisor_never_sees_the_complainants_data(
    as_user: Callable[[Any], APIClient], supervisor: Any
) -> None:
    f = factories.flow_at(S.DECIDED)
    client = as_user(supervisor)

    responses = [
        client.get("/api/v1/decisions/"),
        client.get(f"/api/v1/decisions/{f.decision.pk}/"),
        client.get(_complaint_url(f.complaint)),
    ]

    assert [r.status_code for r in responses] == [200, 200, 403]
    for response in responses:
        raw = response.content.decode()
        for text in (DESCRIPTION, f.complainant.email, f.complainant.get_full_name()):
            assert text not in raw


@pytest.mark.parametrize(
    ("role", "reveals"),
    [
        ("handler", True),
        ("lead", True),
        ("compliance", True),
        ("supervisor", False),
        ("complainant", False),
    ],
)
def test_decided_by_is_a_name_to_staff_and_a_pseudonym_to_others(
    as_user: Callable[[Any], APIClient], role: str, reveals: bool
) -> None:
    f = factories.flow_at(S.DECIDED)
    reader = {
        "handler": f.handler,
        "lead": f.lead,
        "compliance": factories.user_with_role(Role.COMPLIANCE_OFFICER),
        "supervisor": factories.user_with_role(Role.SUPERVISOR),
        "complainant": f.complainant,
    }[role]

    body = as_user(reader).get(f"/api/v1/decisions/{f.decision.pk}/").json()

    if reveals:
        assert body["decided_by"] == f.handler.username
    else:
        assert re.fullmatch(r"u-[0-9a-f]{16}", body["decided_by"])
        assert f.handler.username not in body["decided_by"]


def test_complainant_sees_the_assignee_as_a_pseudonym(
    as_user: Callable[[Any], APIClient],
) -> None:
    f = factories.flow_at(S.ASSIGNED)

    mine = as_user(f.complainant).get(_complaint_url(f.complaint)).json()
    staff = as_user(f.lead).get(_complaint_url(f.complaint)).json()

    assert mine["assignee"].startswith("u-")
    assert mine["assignee"] != f.handler.username
    assert staff["assignee"] == f.handler.username


def test_account_holder_never_sees_the_complainants_appeal_statement(
    as_user: Callable[[Any], APIClient],
) -> None:
    # given: a decided complaint about a signed-in account holder, appealed by the complainant
    f, holder = factories.holder_flow("@loud_commenter")
    complainant = f.complainant
    f.walk(*factories.PATHS[S.APPEALED])
    appeal = Appeal.objects.get(complaint=f.complaint)

    # when
    as_holder = as_user(holder).get(f"/api/v1/appeals/{appeal.pk}/")
    as_complainant = as_user(complainant).get(f"/api/v1/appeals/{appeal.pk}/")

    # then: both parties see the appeal; only the appellant reads the statement
    assert as_holder.status_code == 200
    assert as_holder.json()["statement"] is None
    assert "Please look again." not in as_holder.content.decode()
    assert as_complainant.json()["statement"] == "Please look again."


def test_complainant_never_sees_the_account_holders_appeal_statement(
    as_user: Callable[[Any], APIClient],
) -> None:
    # given: a decided complaint appealed by the affected account holder
    f, holder = factories.holder_flow("@loud_commenter")
    complainant = f.complainant
    f.walk(*factories.PATHS[S.DECIDED])
    f.step(S.APPEALED, actor=holder)
    appeal = Appeal.objects.get(complaint=f.complaint)

    # when
    as_complainant = as_user(complainant).get(f"/api/v1/appeals/{appeal.pk}/")
    as_holder = as_user(holder).get(f"/api/v1/appeals/{appeal.pk}/")
    as_handler = as_user(f.handler).get(f"/api/v1/appeals/{appeal.pk}/")

    # then: the holder's statement reaches the holder and the department, not the complainant
    assert as_complainant.status_code == 200
    assert as_complainant.json()["statement"] is None
    assert "Please look again." not in as_complainant.content.decode()
    assert as_holder.json()["statement"] == "Please look again."
    assert as_handler.json()["statement"] == "Please look again."


# --- filing ----------------------------------------------------------------------------------


def test_filing_a_complaint_returns_201_with_a_reference(
    as_user: Callable[[Any], APIClient], complainant: Any
) -> None:
    response = as_user(complainant).post(
        "/api/v1/complaints/",
        {
            "channel": "web_form",
            "category": "harassment",
            "description": "They post my address under every video.",
            "content_url": "https://video.example.com/v/9",
        },
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    year = timezone.now().year
    assert re.fullmatch(rf"CMP-{year}-\d{{6}}", body["reference"])
    assert body["status"] == "received"
    assert body["allowed_next"] == ["acknowledged", "withdrawn"]
    assert body["department"] == "moderation"
    assert body["priority"] == "P2"  # harassment is high severity, urgency starts normal
    assert body["description"] == "They post my address under every video."
    complaint = Complaint.objects.get(reference=body["reference"])
    assert complaint.complainant.user_id == complainant.pk


def test_references_count_up(as_user: Callable[[Any], APIClient], complainant: Any) -> None:
    client = as_user(complainant)
    body = {"channel": "web_form", "category": "harassment", "description": "Again."}

    first = client.post("/api/v1/complaints/", body).json()["reference"]
    second = client.post("/api/v1/complaints/", body).json()["reference"]

    assert int(second.rsplit("-", 1)[1]) == int(first.rsplit("-", 1)[1]) + 1


def test_staff_file_a_phoned_in_complaint_for_someone(
    as_user: Callable[[Any], APIClient], handler: Any
) -> None:
    response = as_user(handler).post(
        "/api/v1/complaints/",
        {
            "channel": "phone",
            "category": "fraud",
            "description": "A seller took the money and vanished.",
            "complainant_name": "Li Wei",
            "complainant_phone": "+86 10 5555 0100",
            "severity": "critical",
            "urgency": "high",
        },
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["channel"], body["department"], body["priority"]) == ("phone", "security", "P1")
    # The handler is in moderation, and the complaint went to security: out of their sight.
    assert body["complainant_contact"] is None


# --- state conflicts -------------------------------------------------------------------------


def test_illegal_transition_answers_409_listing_the_allowed_next(
    as_user: Callable[[Any], APIClient],
) -> None:
    f = factories.flow_at(S.RECEIVED)
    transitions = ComplaintTransition.objects.count()

    response = as_user(f.handler).post(_complaint_url(f.complaint, "close"), {})

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "invalid_transition"
    assert "Allowed next: acknowledged, withdrawn." in body["detail"]
    assert f.refresh().status == S.RECEIVED
    assert ComplaintTransition.objects.count() == transitions


def test_deciding_before_investigation_answers_409(as_user: Callable[[Any], APIClient]) -> None:
    f = factories.flow_at(S.TRIAGED)
    decisions = Decision.objects.count()

    response = as_user(f.lead).post("/api/v1/decisions/", _decision_body(f.complaint))

    assert response.status_code == 409
    assert "assigned" in response.json()["detail"]
    assert Decision.objects.count() == decisions


def test_withdrawing_a_decided_complaint_answers_409(as_user: Callable[[Any], APIClient]) -> None:
    f = factories.flow_at(S.DECIDED)

    response = as_user(f.complainant).post(
        _complaint_url(f.complaint, "withdraw"), {"reason": "Changed my mind."}
    )

    assert response.status_code == 409
    assert "Allowed next: closed, appealed." in response.json()["detail"]


def test_withdrawn_complaint_says_it_is_final(as_user: Callable[[Any], APIClient]) -> None:
    f = factories.flow_at(S.WITHDRAWN)

    response = as_user(f.handler).post(_complaint_url(f.complaint, "acknowledge"), {})

    assert response.status_code == 409
    assert "final" in response.json()["detail"]


def test_rating_twice_answers_409(as_user: Callable[[Any], APIClient]) -> None:
    f = factories.flow_at(S.CLOSED)
    client = as_user(f.complainant)

    first = client.post(_complaint_url(f.complaint, "rate"), {"score": 5})
    second = client.post(_complaint_url(f.complaint, "rate"), {"score": 1})

    assert first.status_code == 201
    assert set(first.json()) == {"score", "rated_at"}
    assert second.status_code == 409
    assert "already been rated" in second.json()["detail"]
    assert Rating.objects.get(complaint=f.complaint).score == 5


def test_rating_before_closure_answers_409(as_user: Callable[[Any], APIClient]) -> None:
    f = factories.flow_at(S.DECIDED)

    response = as_user(f.complainant).post(_complaint_url(f.complaint, "rate"), {"score": 5})

    assert response.status_code == 409
    assert not Rating.objects.filter(complaint=f.complaint).exists()


def test_second_appeal_answers_409(as_user: Callable[[Any], APIClient]) -> None:
    f = factories.flow_at(S.APPEAL_DECIDED)
    in_force = f.complaint.current_decision()

    response = as_user(f.complainant).post(
        "/api/v1/appeals/", {"decision": in_force.pk, "statement": "Once more, please."}
    )

    assert response.status_code == 409
    assert Appeal.objects.filter(complaint=f.complaint).count() == 1


# --- bad input: 400, every bad field named, nothing half-saved ---------------------------------

COUNTED = (
    Complaint,
    ComplaintTransition,
    Decision,
    Appeal,
    Rating,
    PolicyClause,
    LedgerEntry,
    PersonalNote,
    DataSubject,
)


def _counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in COUNTED}


@dataclass(frozen=True)
class BadInput:
    """One refused request: the complaint's state, who sends it, where, with what, and which
    fields it gets wrong."""

    state: str
    caller: str
    url: Callable[[Flow], str]
    body: Callable[[Flow], dict[str, Any]]
    fields: set[str]


def _filing(**overrides: Any) -> Callable[[Flow | None], dict[str, Any]]:
    def body(_f: Flow | None) -> dict[str, Any]:
        values = {"channel": "web_form", "category": "harassment", "description": "Spam."}
        values.update(overrides)
        return {k: v for k, v in values.items() if v is not None}

    return body


def _deciding(**overrides: Any) -> Callable[[Flow], dict[str, Any]]:
    def body(f: Flow) -> dict[str, Any]:
        values = _decision_body(f.complaint, **overrides)
        return {k: v for k, v in values.items() if v is not None}

    return body


_COMPLAINTS = "/api/v1/complaints/"
_DECISIONS = "/api/v1/decisions/"

BAD_INPUT = {
    "filing: unknown category": BadInput(
        S.RECEIVED, "complainant", lambda f: _COMPLAINTS, _filing(category="no-such"), {"category"}
    ),
    "filing: missing description": BadInput(
        S.RECEIVED, "complainant", lambda f: _COMPLAINTS, _filing(description=None), {"description"}
    ),
    "filing: blank description": BadInput(
        S.RECEIVED,
        "complainant",
        lambda f: _COMPLAINTS,
        _filing(description="   "),
        {"description"},
    ),
    "filing: several bad fields at once": BadInput(
        S.RECEIVED,
        "complainant",
        lambda f: _COMPLAINTS,
        _filing(channel="pigeon", description=None, complainant_email="not-an-email"),
        {"channel", "description", "complainant_email"},
    ),
    "filing: complainant by phone": BadInput(
        S.RECEIVED, "complainant", lambda f: _COMPLAINTS, _filing(channel="phone"), {"channel"}
    ),
    "filing: complainant sets severity": BadInput(
        S.RECEIVED, "complainant", lambda f: _COMPLAINTS, _filing(severity="critical"), {"severity"}
    ),
    "filing: staff without the complainant's name or contact": BadInput(
        S.RECEIVED,
        "handler",
        lambda f: _COMPLAINTS,
        _filing(channel="phone"),
        {"complainant_name", "complainant_email"},
    ),
    "decision: unknown outcome": BadInput(
        S.INVESTIGATING, "handler", lambda f: _DECISIONS, _deciding(outcome="maybe"), {"outcome"}
    ),
    "decision: restriction_end on a permanent action": BadInput(
        S.INVESTIGATING,
        "handler",
        lambda f: _DECISIONS,
        _deciding(restriction_end=factories.future().isoformat()),
        {"restriction_end"},
    ),
    "decision: restriction_end in the past": BadInput(
        S.INVESTIGATING,
        "handler",
        lambda f: _DECISIONS,
        _deciding(
            actions=["account_suspended"],
            restriction_end=(timezone.localdate() - timedelta(days=1)).isoformat(),
        ),
        {"restriction_end"},
    ),
    "decision: facts missing": BadInput(
        S.INVESTIGATING, "handler", lambda f: _DECISIONS, _deciding(facts=None), {"facts"}
    ),
    "decision: facts and reasons blank": BadInput(
        S.INVESTIGATING,
        "handler",
        lambda f: _DECISIONS,
        _deciding(facts=" ", reasons=""),
        {"facts", "reasons"},
    ),
    "decision: illegal content without the law named": BadInput(
        S.INVESTIGATING,
        "handler",
        lambda f: _DECISIONS,
        _deciding(ground="illegal_content"),
        {"ground_reference"},
    ),
    "decision: unknown territory": BadInput(
        S.INVESTIGATING,
        "handler",
        lambda f: _DECISIONS,
        _deciding(territorial_scope=["DE", "XX"]),
        {"territorial_scope"},
    ),
    "decision: rejection that takes an action": BadInput(
        S.INVESTIGATING,
        "handler",
        lambda f: _DECISIONS,
        _deciding(outcome="rejected", actions=["account_warned"]),
        {"actions"},
    ),
    "decision: unknown policy clause": BadInput(
        S.INVESTIGATING,
        "handler",
        lambda f: _DECISIONS,
        _deciding(policy_clause=999_999),
        {"policy_clause"},
    ),
    "assign: no such user": BadInput(
        S.TRIAGED,
        "lead",
        lambda f: _complaint_url(f.complaint, "assign"),
        lambda f: {"assignee": "nobody-here"},
        {"assignee"},
    ),
    "assign: someone outside the department": BadInput(
        S.TRIAGED,
        "lead",
        lambda f: _complaint_url(f.complaint, "assign"),
        lambda f: {"assignee": factories.user_with_role(Role.HANDLER, "copyright").get_username()},
        {"assignee"},
    ),
    "triage: unknown department": BadInput(
        S.ACKNOWLEDGED,
        "handler",
        lambda f: _complaint_url(f.complaint, "triage"),
        lambda f: {"department": "no-such", "reason": "Wrong desk."},
        {"department"},
    ),
    "triage: moving department without a reason": BadInput(
        S.ACKNOWLEDGED,
        "handler",
        lambda f: _complaint_url(f.complaint, "triage"),
        lambda f: {"department": "copyright"},
        {"reason"},
    ),
    "withdraw: no reason": BadInput(
        S.RECEIVED,
        "complainant",
        lambda f: _complaint_url(f.complaint, "withdraw"),
        lambda f: {"reason": ""},
        {"reason"},
    ),
    "rate: score out of range": BadInput(
        S.CLOSED,
        "complainant",
        lambda f: _complaint_url(f.complaint, "rate"),
        lambda f: {"score": 9},
        {"score"},
    ),
    "appeal: blank statement": BadInput(
        S.DECIDED,
        "complainant",
        lambda f: "/api/v1/appeals/",
        lambda f: {"decision": f.decision.pk, "statement": ""},
        {"statement"},
    ),
    "appeal decision: reversal without the new outcome": BadInput(
        S.APPEALED,
        "lead",
        lambda f: f"/api/v1/appeals/{f.complaint.appeals.get().pk}/decide/",
        lambda f: {"outcome": "reversed", "facts": "Looked again.", "reasons": "It was satire."},
        {"decision_outcome"},
    ),
    "appeal decision: unknown outcome": BadInput(
        S.APPEALED,
        "lead",
        lambda f: f"/api/v1/appeals/{f.complaint.appeals.get().pk}/decide/",
        lambda f: {"outcome": "shrug", "facts": "Looked again.", "reasons": "No idea."},
        {"outcome"},
    ),
    "policy clause: ends before it starts": BadInput(
        S.RECEIVED,
        "admin",
        lambda f: "/api/v1/policy-clauses/",
        lambda f: {
            "code": "TOS-8.1",
            "title": "Backwards",
            "text": "This clause ends before it starts.",
            "effective_from": factories.future(10).isoformat(),
            "effective_to": factories.future(5).isoformat(),
        },
        {"effective_to"},
    ),
    "policy clause: bad code and no text": BadInput(
        S.RECEIVED,
        "admin",
        lambda f: "/api/v1/policy-clauses/",
        lambda f: {"code": "-bad code-", "title": "Bad", "effective_from": "2025-01-01"},
        {"code", "text"},
    ),
}


@pytest.mark.parametrize("case", BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_answers_400_naming_each_field_and_saves_nothing(
    as_user: Callable[[Any], APIClient], case: BadInput
) -> None:
    # given
    f = factories.flow_at(case.state)
    caller = {
        "complainant": lambda: f.complainant,
        "handler": lambda: f.handler,
        "lead": lambda: f.lead,
        "admin": lambda: factories.user_with_role(Role.ADMIN),
    }[case.caller]()
    url, body = case.url(f), case.body(f)
    status = f.refresh().status
    before = _counts()

    # when
    response = as_user(caller).post(url, body, format="json")

    # then
    assert response.status_code == 400, response.content.decode()
    payload = response.json()
    assert payload["code"] == "invalid"
    assert isinstance(payload["detail"], str)
    assert len(payload["detail"]) > 10
    assert set(payload["fields"]) == case.fields
    for name, messages in payload["fields"].items():
        assert messages, name
    assert _counts() == before
    assert f.refresh().status == status


def test_service_validation_messages_are_readable(
    as_user: Callable[[Any], APIClient], complainant: Any
) -> None:
    response = as_user(complainant).post("/api/v1/complaints/", _filing(channel="phone")(None))

    assert response.status_code == 400
    payload = response.json()
    assert payload["detail"] == "The complaint was not filed; correct the fields named."
    assert payload["fields"]["channel"] == ["Complainants file through: api, in_app, web_form."]


# --- decisions never change --------------------------------------------------------------------


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_decisions_cannot_be_changed_or_deleted(
    as_user: Callable[[Any], APIClient], method: str
) -> None:
    f = factories.flow_at(S.DECIDED)
    before = model_to_dict(Decision.objects.get(pk=f.decision.pk))
    ledger = LedgerEntry.objects.count()

    response = getattr(as_user(f.lead), method)(
        f"/api/v1/decisions/{f.decision.pk}/",
        {"outcome": "rejected", "facts": "Rewritten.", "reasons": "Rewritten."},
        format="json",
    )

    assert response.status_code == 405
    assert "detail" in response.json()
    assert model_to_dict(Decision.objects.get(pk=f.decision.pk)) == before
    assert LedgerEntry.objects.count() == ledger


def test_a_correction_is_a_new_decision(as_user: Callable[[Any], APIClient]) -> None:
    f = factories.flow_at(S.DECIDED)
    original = model_to_dict(Decision.objects.get(pk=f.decision.pk))

    response = as_user(f.lead).post(
        "/api/v1/decisions/",
        _decision_body(
            f.complaint,
            supersedes=f.decision.pk,
            actions=["content_removed", "account_warned"],
            reasons="Removal, and a warning for repeated insults.",
        ),
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["kind"], body["supersedes"]) == ("correction", f.decision.pk)
    assert model_to_dict(Decision.objects.get(pk=f.decision.pk)) == original
    old = as_user(f.lead).get(f"/api/v1/decisions/{f.decision.pk}/").json()
    assert old["superseded_by"] == body["id"]


# --- appeals ---------------------------------------------------------------------------------


def _appeal_decision_body() -> dict[str, Any]:
    return {
        "outcome": "upheld",
        "facts": "Second look at the same comments.",
        "reasons": "The first decision was right.",
    }


def test_original_decider_may_not_decide_the_appeal(as_user: Callable[[Any], APIClient]) -> None:
    # given: flow.handler recorded the decision under appeal
    f = factories.flow_at(S.APPEALED)
    appeal = f.complaint.appeals.get()
    decisions = Decision.objects.count()

    # when
    response = as_user(f.handler).post(
        f"/api/v1/appeals/{appeal.pk}/decide/", _appeal_decision_body()
    )

    # then
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "permission_denied"
    assert "took part in the decision under appeal" in body["detail"]
    assert "another handler or your lead" in body["detail"]
    assert Decision.objects.count() == decisions
    assert Appeal.objects.get(pk=appeal.pk).status == "open"


@pytest.mark.parametrize("who", ["another_handler", "lead"])
def test_someone_else_in_the_department_decides_the_appeal(
    as_user: Callable[[Any], APIClient], who: str
) -> None:
    f = factories.flow_at(S.APPEALED)
    appeal = f.complaint.appeals.get()
    decider = f.lead if who == "lead" else factories.user_with_role(Role.HANDLER, "moderation")

    response = as_user(decider).post(
        f"/api/v1/appeals/{appeal.pk}/decide/", _appeal_decision_body()
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == DECISION_FIELDS
    assert (body["kind"], body["appeal"], body["appeal_outcome"]) == ("appeal", appeal.pk, "upheld")
    assert body["supersedes"] == f.decision.pk
    assert body["decided_by"] == decider.username
    assert f.refresh().status == S.APPEAL_DECIDED
    assert Appeal.objects.get(pk=appeal.pk).status == "decided"


def test_filing_an_appeal(as_user: Callable[[Any], APIClient]) -> None:
    f = factories.flow_at(S.CLOSED)

    response = as_user(f.complainant).post(
        "/api/v1/appeals/", {"decision": f.decision.pk, "statement": "The removal went too far."}
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == APPEAL_FIELDS
    assert (body["status"], body["statement"]) == ("open", "The removal went too far.")
    assert f.refresh().status == S.APPEALED


# --- policy clauses --------------------------------------------------------------------------


def test_publishing_a_clause_again_adds_version_2_and_leaves_version_1(
    as_user: Callable[[Any], APIClient], admin_user: Any
) -> None:
    # given
    v1 = factories.policy_clause("TOS-7.1", title="Be kind", text="Do not insult others.")
    v1_before = model_to_dict(PolicyClause.objects.get(pk=v1.pk))
    client = as_user(admin_user)

    # when
    response = client.post(
        "/api/v1/policy-clauses/",
        {
            "code": "TOS-7.1",
            "title": "Be kind and fair",
            "text": "Do not insult or threaten others.",
            "effective_from": timezone.localdate().isoformat(),
        },
    )

    # then
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == CLAUSE_FIELDS
    assert (body["code"], body["version"], body["title"]) == ("TOS-7.1", 2, "Be kind and fair")
    assert body["id"] != v1.pk
    assert model_to_dict(PolicyClause.objects.get(pk=v1.pk)) == v1_before
    listed = client.get("/api/v1/policy-clauses/", {"code": "TOS-7.1"}).json()["results"]
    assert sorted(row["version"] for row in listed) == [1, 2]


def test_a_new_version_cannot_take_effect_before_the_old(
    as_user: Callable[[Any], APIClient], admin_user: Any
) -> None:
    factories.policy_clause("TOS-7.2")  # in force since 30 days ago

    response = as_user(admin_user).post(
        "/api/v1/policy-clauses/",
        {
            "code": "TOS-7.2",
            "title": "Backdated",
            "text": "Too early.",
            "effective_from": (timezone.localdate() - timedelta(days=60)).isoformat(),
        },
    )

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"effective_from"}
    assert PolicyClause.objects.filter(code="TOS-7.2").count() == 1


# --- filters ---------------------------------------------------------------------------------


def _references(response: Any) -> set[str]:
    assert response.status_code == 200, response.content.decode()
    return {row["reference"] for row in response.json()["results"]}


def test_complaints_filter_by_status(as_user: Callable[[Any], APIClient], compliance: Any) -> None:
    received = factories.flow_at(S.RECEIVED).complaint
    acknowledged = factories.flow_at(S.ACKNOWLEDGED).complaint
    factories.flow_at(S.TRIAGED)
    client = as_user(compliance)

    assert _references(client.get(_COMPLAINTS, {"status": "acknowledged"})) == {
        acknowledged.reference
    }
    assert _references(client.get(_COMPLAINTS, {"status": ["received", "acknowledged"]})) == {
        received.reference,
        acknowledged.reference,
    }


def test_complaints_filter_by_department(
    as_user: Callable[[Any], APIClient], compliance: Any
) -> None:
    copyright_complaint = factories.file_complaint(category_code="ip_infringement")
    factories.file_complaint(category_code="harassment")

    response = as_user(compliance).get(_COMPLAINTS, {"department": "copyright"})

    assert _references(response) == {copyright_complaint.reference}


def test_complaints_filter_by_priority(
    as_user: Callable[[Any], APIClient], compliance: Any
) -> None:
    p1 = factories.file_complaint(category_code="minors")  # critical severity -> P1
    factories.file_complaint(category_code="harassment")  # high -> P2
    factories.file_complaint(category_code="technical_fault")  # low -> P4

    response = as_user(compliance).get(_COMPLAINTS, {"priority": "P1"})

    assert p1.priority == "P1"
    assert _references(response) == {p1.reference}


def test_unknown_filter_value_is_refused(
    as_user: Callable[[Any], APIClient], compliance: Any
) -> None:
    response = as_user(compliance).get(_COMPLAINTS, {"status": "lost"})

    assert response.status_code == 400
    assert "status" in response.json()["fields"]


def test_decisions_filter_by_outcome(as_user: Callable[[Any], APIClient], compliance: Any) -> None:
    upheld = factories.flow_at(S.DECIDED).decision
    f = factories.flow_at(S.INVESTIGATING)
    rejected = services.decision_record(
        actor=f.handler,
        complaint=f.complaint,
        **factories.decision_kwargs(outcome=DecisionOutcome.REJECTED, actions=[]),
    )
    client = as_user(compliance)

    only_rejected = client.get(_DECISIONS, {"outcome": "rejected"}).json()["results"]
    only_upheld = client.get(_DECISIONS, {"outcome": "upheld"}).json()["results"]

    assert [row["id"] for row in only_rejected] == [rejected.pk]
    assert [row["actions"] for row in only_rejected] == [["none"]]
    assert [row["id"] for row in only_upheld] == [upheld.pk]


# --- paging ----------------------------------------------------------------------------------


def test_cursor_pagination_walks_every_complaint_once(
    as_user: Callable[[Any], APIClient], compliance: Any
) -> None:
    filed = [factories.file_complaint().reference for _ in range(5)]
    client = as_user(compliance)

    first = client.get(_COMPLAINTS, {"page_size": 2}).json()
    assert first["previous"] is None
    assert first["next"]
    assert "cursor=" in first["next"]
    seen = [row["reference"] for row in first["results"]]
    assert seen == filed[::-1][:2]  # newest first

    url = first["next"]
    while url:
        page = client.get(url).json()
        assert len(page["results"]) <= 2
        seen += [row["reference"] for row in page["results"]]
        url = page["next"]

    assert seen == filed[::-1]


def test_page_size_is_capped(as_user: Callable[[Any], APIClient], compliance: Any) -> None:
    factories.file_complaint()

    response = as_user(compliance).get(_COMPLAINTS, {"page_size": 100_000})

    assert response.status_code == 200
    assert response.json()["next"] is None


# --- schema, docs, authentication --------------------------------------------------------------


def test_openapi_schema_describes_the_api(api: APIClient) -> None:
    response = api.get("/api/schema/")

    assert response.status_code == 200
    document = yaml.safe_load(response.content)
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "Ombud API"
    assert "/api/v1/complaints/" in document["paths"]
    assert "post" in document["paths"]["/api/v1/complaints/"]
    assert "/api/v1/appeals/{id}/decide/" in document["paths"]
    # Decisions are never changed: the schema offers no way to.
    assert not {"put", "patch", "delete"} & set(document["paths"]["/api/v1/decisions/{id}/"])


def test_api_docs_page(api: APIClient) -> None:
    response = api.get("/api/docs/")

    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


def test_token_authentication(api: APIClient) -> None:
    f = factories.flow_at(S.RECEIVED)
    token = Token.objects.create(user=f.handler)

    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = api.get(_COMPLAINTS)

    assert response.status_code == 200
    assert _references(response) == {f.complaint.reference}


def test_a_wrong_token_answers_401(api: APIClient) -> None:
    api.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)

    response = api.get(_COMPLAINTS)

    assert response.status_code == 401
    assert "detail" in response.json()
    assert response["WWW-Authenticate"] == "Token"


def test_no_credentials_answers_401_with_a_challenge(api: APIClient) -> None:
    response = api.get(_COMPLAINTS)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_token_of_an_inactive_user_answers_401(api: APIClient, handler: Any) -> None:
    token = Token.objects.create(user=handler)
    get_user_model().objects.filter(pk=handler.pk).update(is_active=False)

    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")

    assert api.get(_COMPLAINTS).status_code == 401


# --- N+1 guards --------------------------------------------------------------------------------

# A list costs a fixed number of queries however many rows it shows: today one for the caller's
# roles and one for the cursor page with its joins. The ceiling leaves room for one more, not for
# one per row; the 5-row and 15-row counts must also be equal.
MAX_LIST_QUERIES = 3


def _complaints_for(n: int, complainant: Any, handler: Any, lead: Any) -> None:
    """File n complaints by one complainant; take every other one as far as assignment."""
    for i in range(n):
        f = Flow(factories.file_complaint(complainant), complainant, handler, lead)
        if i % 2:
            f.walk(*factories.PATHS[S.ASSIGNED])


def _list_queries(api: APIClient, user: Any, url: str) -> tuple[int, int]:
    api.force_authenticate(user=_fresh(user))
    with CaptureQueriesContext(connection) as ctx:
        response = api.get(url, {"page_size": 200})
    assert response.status_code == 200, response.content.decode()
    return len(ctx), len(response.json()["results"])


@pytest.mark.parametrize("reader", ["complainant", "handler", "lead", "compliance"])
def test_complaint_list_queries_do_not_grow_with_rows(
    api: APIClient, django_assert_max_num_queries: Any, reader: str
) -> None:
    complainant = factories.user_with_role(Role.COMPLAINANT)
    handler = factories.user_with_role(Role.HANDLER, "moderation")
    lead = factories.user_with_role(Role.DEPARTMENT_LEAD, "moderation")
    user = {
        "complainant": complainant,
        "handler": handler,
        "lead": lead,
        "compliance": factories.user_with_role(Role.COMPLIANCE_OFFICER),
    }[reader]

    _complaints_for(5, complainant, handler, lead)
    few, rows = _list_queries(api, user, _COMPLAINTS)
    assert rows == 5
    _complaints_for(10, complainant, handler, lead)
    with django_assert_max_num_queries(MAX_LIST_QUERIES):
        many, rows = _list_queries(api, user, _COMPLAINTS)
    assert rows == 15

    assert many == few


def test_complaint_list_by_several_statuses_reads_no_distinct_rows(api: APIClient) -> None:
    # given open complaints in two statuses
    complainant = factories.user_with_role(Role.COMPLAINANT)
    handler = factories.user_with_role(Role.HANDLER, "moderation")
    lead = factories.user_with_role(Role.DEPARTMENT_LEAD, "moderation")
    _complaints_for(4, complainant, handler, lead)
    api.force_authenticate(user=_fresh(handler))
    # when the handler lists them by status
    with CaptureQueriesContext(connection) as ctx:
        response = api.get(_COMPLAINTS, {"status": [S.RECEIVED, S.ASSIGNED]})
    # then each comes once, and without SELECT DISTINCT: at a million complaints it made
    # PostgreSQL sort every open complaint of the department to return a page of 50
    assert response.status_code == 200
    references = [c["reference"] for c in response.json()["results"]]
    assert len(references) == len(set(references)) == 4
    assert not any("DISTINCT" in q["sql"] for q in ctx.captured_queries)


def _decided(n: int) -> Any:
    """n decided complaints in moderation, one in three appealed and decided on appeal."""
    last = None
    for i in range(n):
        last = factories.flow_at(S.APPEAL_DECIDED if i % 3 == 0 else S.DECIDED)
    return last


@pytest.mark.parametrize("reader", ["compliance", "supervisor"])
def test_decision_list_queries_do_not_grow_with_rows(
    api: APIClient, django_assert_max_num_queries: Any, reader: str
) -> None:
    user = factories.user_with_role(
        Role.COMPLIANCE_OFFICER if reader == "compliance" else Role.SUPERVISOR
    )

    _decided(5)
    few, rows = _list_queries(api, user, _DECISIONS)
    assert rows == Decision.objects.count() > 5
    _decided(10)
    with django_assert_max_num_queries(MAX_LIST_QUERIES):
        many, rows = _list_queries(api, user, _DECISIONS)
    assert rows == Decision.objects.count() > 15

    assert many == few


def test_decision_list_queries_for_a_handler(
    api: APIClient, django_assert_max_num_queries: Any
) -> None:
    last = _decided(5)
    few, _rows = _list_queries(api, last.handler, _DECISIONS)
    _decided(10)
    with django_assert_max_num_queries(MAX_LIST_QUERIES):
        many, rows = _list_queries(api, last.handler, _DECISIONS)
    # The handler works in moderation, where every one of these complaints is.
    assert rows == Decision.objects.count()

    assert many == few


@pytest.mark.parametrize("reader", ["compliance", "lead"])
def test_appeal_list_queries_do_not_grow_with_rows(
    api: APIClient, django_assert_max_num_queries: Any, reader: str
) -> None:
    user = (
        factories.user_with_role(Role.COMPLIANCE_OFFICER)
        if reader == "compliance"
        else factories.user_with_role(Role.DEPARTMENT_LEAD, "moderation")
    )

    for i in range(5):
        factories.flow_at(S.APPEALED if i % 2 else S.APPEAL_DECIDED)
    few, rows = _list_queries(api, user, "/api/v1/appeals/")
    assert rows == 5
    for i in range(10):
        factories.flow_at(S.APPEALED if i % 2 else S.APPEAL_DECIDED)
    with django_assert_max_num_queries(MAX_LIST_QUERIES):
        many, rows = _list_queries(api, user, "/api/v1/appeals/")
    assert rows == 15

    assert many == few


def test_policy_clause_list_queries_do_not_grow_with_rows(
    api: APIClient, django_assert_max_num_queries: Any, complainant: Any
) -> None:
    for i in range(5):
        factories.policy_clause(f"TOS-1.{i}")
    few, rows = _list_queries(api, complainant, "/api/v1/policy-clauses/")
    assert rows == 5
    for i in range(5, 15):
        factories.policy_clause(f"TOS-1.{i}")
    with django_assert_max_num_queries(MAX_LIST_QUERIES):
        many, rows = _list_queries(api, complainant, "/api/v1/policy-clauses/")
    assert rows == 15

    assert many == few


def test_assigning_an_unknown_or_outside_user_gives_one_answer(
    as_user: Callable[[Any], APIClient],
) -> None:
    f = factories.flow_at(S.TRIAGED)
    outsider = factories.user_with_role(Role.HANDLER, "copyright")
    url = _complaint_url(f.complaint, "assign")
    unknown = as_user(f.lead).post(url, {"assignee": "nobody-at-all"}, format="json")
    outside = as_user(f.lead).post(url, {"assignee": outsider.username}, format="json")
    assert unknown.status_code == outside.status_code == 400
    assert unknown.json()["fields"] == outside.json()["fields"]


def test_a_supervisor_who_is_also_a_handler_sees_names_only_in_their_department(
    as_user: Callable[[Any], APIClient],
) -> None:
    own = factories.flow_at(S.DECIDED)
    other = factories.flow_at(S.DECIDED, dept="copyright", category_code="ip_infringement")
    both = factories.user_with_role(Role.SUPERVISOR)
    services.role_grant(
        actor=factories.superuser(),
        user=both,
        role=Role.HANDLER,
        department=factories.department("moderation"),
    )
    client = as_user(type(both).objects.get(pk=both.pk))
    mine = client.get(f"/api/v1/decisions/{own.decision.pk}/").json()
    theirs = client.get(f"/api/v1/decisions/{other.decision.pk}/").json()
    assert mine["decided_by"] == own.handler.username
    assert theirs["decided_by"].startswith("u-")


def test_linking_the_account_holder_lets_them_appeal(as_user: Callable[[Any], APIClient]) -> None:
    # given: a decided complaint about an account whose holder later signs in
    complainant = factories.user_with_role(Role.COMPLAINANT)
    complaint = factories.file_complaint(complainant, affected_account_handle="@holder")
    f = Flow(
        complaint,
        complainant,
        factories.user_with_role(Role.HANDLER, "moderation"),
        factories.user_with_role(Role.DEPARTMENT_LEAD, "moderation"),
    )
    f.walk(*factories.PATHS[S.DECIDED])
    holder = factories.user_with_role(Role.COMPLAINANT, username="the-holder")
    privacy_officer = factories.user_with_role(Role.PRIVACY_OFFICER)
    pseudonym = complaint.affected_subject.pseudonym
    # when: the privacy officer links them, once identity is verified
    linked = as_user(privacy_officer).post(
        f"/api/v1/privacy/subjects/{pseudonym}/link-account/",
        {"username": "the-holder"},
        format="json",
    )
    again = as_user(privacy_officer).post(
        f"/api/v1/privacy/subjects/{pseudonym}/link-account/",
        {"username": "the-holder"},
        format="json",
    )
    # then: the holder sees the complaint (not who filed it) and may appeal
    assert linked.status_code == 200
    assert linked.json() == {"pseudonym": pseudonym, "kind": "account_holder", "linked": True}
    assert again.status_code == 409
    seen = as_user(holder).get(_complaint_url(complaint)).json()
    assert seen["complainant"] is None
    assert seen["description"] is None
    appealed = as_user(holder).post(
        "/api/v1/appeals/",
        {"decision": f.decision.pk, "statement": "My post was fine."},
        format="json",
    )
    assert appealed.status_code == 201
    assert appealed.json()["appellant_role"] == "account_holder"


# --- found by the schema fuzz (tests/test_api_fuzz.py) ------------------------------------------


def _schema(api: APIClient) -> dict[str, Any]:
    return yaml.safe_load(api.get("/api/schema/").content)


@pytest.mark.parametrize(
    "url", ["/api/v1/decisions/®/", "/api/v1/appeals/abc/", "/api/v1/policy-clauses/1x/"]
)
def test_an_id_that_is_not_a_number_answers_404_not_500(
    url: str, as_user: Callable[[Any], APIClient], compliance: Any
) -> None:
    response = as_user(compliance).get(url)

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


def test_a_path_under_the_api_that_names_no_route_answers_json(api: APIClient) -> None:
    response = api.get("/api/v1/complaints/not-a-reference/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "not_found"


def test_every_refusal_carries_a_code(api: APIClient) -> None:
    response = api.get(_COMPLAINTS)

    assert response.status_code == 401
    assert response.json() == {
        "detail": "Authentication credentials were not provided.",
        "code": "not_authenticated",
    }


def test_the_schema_documents_each_operations_error_answers(api: APIClient) -> None:
    paths = _schema(api)["paths"]

    def codes(path: str, method: str) -> set[str]:
        return set(paths[path][method]["responses"])

    # A list with filters and pages; a record by id; a write on a record's state.
    assert {"400", "401", "403", "404"} <= codes(_COMPLAINTS, "get")
    assert {"401", "403", "404"} <= codes("/api/v1/decisions/{id}/", "get")
    assert "400" not in codes("/api/v1/decisions/{id}/", "get")
    assert {"400", "401", "403", "404", "409"} <= codes(
        "/api/v1/complaints/{reference}/acknowledge/", "post"
    )
    # A body that names a record (here a complaint) may name one the caller cannot see.
    assert "404" in codes(_DECISIONS, "post")
    error = paths[_COMPLAINTS]["get"]["responses"]["403"]["content"]["application/json"]
    assert error["schema"] == {"$ref": "#/components/schemas/Error"}


def test_the_schema_gives_the_timeline_as_one_plain_list(
    api: APIClient, as_user: Callable[[Any], APIClient], compliance: Any
) -> None:
    f = factories.flow_at(S.RECEIVED)

    operation = _schema(api)["paths"]["/api/v1/complaints/{reference}/timeline/"]["get"]
    response = as_user(compliance).get(_complaint_url(f.complaint, "timeline"))

    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["type"] == (
        "array"
    )
    # The complaint filters do not apply to one complaint's history.
    assert [p["name"] for p in operation["parameters"]] == ["reference"]
    assert isinstance(response.json(), list)


def test_the_timeline_tells_the_complaint_in_order(
    as_user: Callable[[Any], APIClient], compliance: Any
) -> None:
    # The timeline's rows are ordered in Python, not by SQL (selectors._chronological).
    f = factories.flow_at(S.APPEAL_DECIDED)

    entries = as_user(compliance).get(_complaint_url(f.complaint, "timeline")).json()

    times = [e["at"] for e in entries]
    assert times == sorted(times)
    moves = [
        (e["details"]["from"], e["details"]["to"]) for e in entries if e["kind"] == "transition"
    ]
    assert moves[0][0] == S.RECEIVED
    assert moves[-1][1] == S.APPEAL_DECIDED
    assert all(a[1] == b[0] for a, b in itertools.pairwise(moves)), moves
    statuses = [
        e["details"]["changes"]["status"]
        for e in entries
        if e["kind"] == "history" and "status" in e["details"]["changes"]
    ]
    # Each history row is compared with the one before it, so the statuses chain too.
    assert [c["from"] for c in statuses[1:]] == [c["to"] for c in statuses[:-1]]
    assert statuses[-1]["to"] == S.APPEAL_DECIDED
    decisions = [e["details"]["decision"] for e in entries if e["kind"] == "decision"]
    assert len(decisions) == 2
    assert decisions == sorted(decisions)
    assert [e["kind"] for e in entries].count("appeal") == 1


def test_the_timeline_compares_each_history_row_with_the_one_written_before_it(
    as_user: Callable[[Any], APIClient], compliance: Any
) -> None:
    # A service may be given an earlier moment than the last one written (a backfill): the
    # changes are still those of each write, shown at the time it carries.
    f = factories.flow_at(S.RECEIVED)
    services.complaint_acknowledge(
        actor=f.handler, complaint=f.refresh(), now=timezone.now() - timedelta(days=1)
    )

    entries = as_user(compliance).get(_complaint_url(f.complaint, "timeline")).json()

    history = [e for e in entries if e["kind"] == "history"]
    assert [e["details"]["type"] for e in history] == ["~", "+"]  # placed by time
    assert history[0]["details"]["changes"]["status"] == {
        "from": S.RECEIVED,
        "to": S.ACKNOWLEDGED,
    }
    assert history[1]["details"]["changes"] == {}


def test_a_time_filter_takes_any_offset_python_reads(
    as_user: Callable[[Any], APIClient], compliance: Any
) -> None:
    # Found by the schema fuzz: PostgreSQL refuses offsets past ±15:59 (a 500); the filter now
    # compares the same instant in UTC.
    f = factories.flow_at(S.RECEIVED)

    later = as_user(compliance).get(_COMPLAINTS, {"received_after": "2834-05-13T22:52:25+17:52"})
    earlier = as_user(compliance).get(_COMPLAINTS, {"received_before": "2834-05-13T22:52+17:52"})

    assert _references(later) == set()
    assert _references(earlier) == {f.complaint.reference}


def test_a_time_with_no_utc_instant_is_refused_with_the_field_named(
    as_user: Callable[[Any], APIClient], compliance: Any
) -> None:
    response = as_user(compliance).get(_DECISIONS, {"decided_before": "9999-12-31T23:00:00-05:00"})

    assert response.status_code == 400
    assert "decided_before" in response.json()["fields"]


# --- ComplaintOut builds its fields itself: they must be DRF's own ------------------------------


@pytest.mark.parametrize("zone", ["UTC", "Asia/Shanghai"])
@pytest.mark.parametrize("listing", [True, False])
def test_complaint_representation_equals_drf_s_generic_one(zone: str, listing: bool) -> None:
    """ComplaintOut.to_representation skips DRF's walk over its fields for speed; for every
    kind of reader, complaint and time zone it must give exactly what that walk gives."""
    from types import SimpleNamespace

    from rest_framework import serializers as drf

    from governance.api.serializers import ComplaintOut
    from governance.selectors import complaint_get, complaint_list, complaint_listing

    holder_case, holder = factories.holder_flow()
    holder_case.walk(S.ACKNOWLEDGED, S.TRIAGED, S.ASSIGNED)
    cases = [factories.flow_at(status) for status in (S.RECEIVED, S.DECIDED, S.APPEAL_DECIDED)]
    cases.append(holder_case)
    compliance = factories.user_with_role(Role.COMPLIANCE_OFFICER)
    outsider = factories.user_with_role(Role.HANDLER, "copyright")
    compared = 0
    with timezone.override(zone):
        for case in cases:
            for reader in (case.complainant, case.handler, case.lead, compliance, holder, outsider):
                if listing:
                    rows = list(complaint_listing(user=reader).filter(pk=case.complaint.pk))
                else:
                    rows = list(complaint_list(user=reader).filter(pk=case.complaint.pk))
                    if rows:  # as the detail view reads it
                        rows = [complaint_get(user=reader, reference=case.complaint.reference)]
                for complaint in rows:
                    serializer = ComplaintOut(
                        complaint,
                        context={"request": SimpleNamespace(user=reader), "listing": listing},
                    )
                    fast = serializer.to_representation(complaint)
                    generic = drf.ModelSerializer.to_representation(serializer, complaint)
                    assert fast == dict(generic)
                    assert list(fast) == list(generic)  # the same order of keys, too
                    compared += 1
    # every case was read by its own complainant, handler and lead and by compliance
    assert compared >= 4 * len(cases)


def test_filter_forms_are_built_once_per_language_and_share_no_fields() -> None:
    rows = Complaint.objects.none()
    first = ComplaintFilter(data={"status": ["received"]}, queryset=rows)
    second = ComplaintFilter(data={"status": ["bogus"]}, queryset=rows)
    with translation.override("zh-hans"):
        chinese = ComplaintFilter(data={}, queryset=rows)
        chinese_form = chinese.form

    assert type(first.form) is type(second.form)
    assert type(chinese_form) is not type(first.form)
    assert first.form.fields["status"] is not second.form.fields["status"]
    assert first.is_valid()
    assert first.form.cleaned_data["status"] == ["received"]
    assert not second.is_valid()
    assert "status" in second.form.errors
