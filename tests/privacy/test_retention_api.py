"""The legal-hold and retention endpoints under /api/v1/privacy/: shapes, refusals, N+1 guards.

Every role's answer on every route is in tests/test_permissions_matrix.py; here are the paths
that matrix does not walk (bad input, conflicts, what a response shows and hides).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import yaml
from django.utils import timezone

from governance.choices import ComplaintStatus, Role
from privacy import services
from privacy.choices import RecordClass
from privacy.models import LegalHold, RetentionRule
from tests import factories

S = ComplaintStatus
HOLDS = "/api/v1/privacy/legal-holds/"
RULES = "/api/v1/privacy/retention-rules/"
RUNS = "/api/v1/privacy/retention-runs/"


@pytest.fixture
def privacy() -> Any:
    return factories.user_with_role(Role.PRIVACY_OFFICER)


def _hold(complaint: Any, officer: Any) -> LegalHold:
    return services.legal_hold_place(
        actor=officer, complaint=complaint, reason="Court order", review_on=factories.future()
    )


# --- legal holds -----------------------------------------------------------------------------


def test_a_compliance_officer_places_a_hold_on_a_subject_by_pseudonym(as_user, compliance):
    f = factories.flow_at(S.CLOSED)
    subject = f.complaint.complainant
    email = factories.plain_field(subject, "email")

    response = as_user(compliance).post(
        HOLDS,
        {"subject": subject.pseudonym, "reason": "Police request 17", "review_on": "2099-01-31"},
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["subject"] == subject.pseudonym
    assert body["complaint"] is None
    assert body["active"] is True
    assert body["placed_by"].startswith("u-")
    assert email not in response.content.decode()
    assert compliance.username not in response.content.decode()


def test_a_hold_is_placed_on_a_complaint_by_reference_and_released(as_user, privacy):
    f = factories.flow_at(S.CLOSED)
    client = as_user(privacy)
    placed = client.post(
        HOLDS,
        {"complaint": f.complaint.reference, "reason": "Litigation", "review_on": "2099-01-31"},
    )
    assert placed.status_code == 201, placed.content
    url = f"{HOLDS}{placed.json()['id']}/"
    assert client.get(url).json()["complaint"] == f.complaint.reference

    released = client.post(f"{url}release/", {"reason": "Settled"})
    assert released.status_code == 200, released.content
    assert released.json()["active"] is False
    assert released.json()["release_reason"] == "Settled"

    again = client.post(f"{url}release/", {"reason": "Settled"})
    assert again.status_code == 409
    assert "place a new one" in again.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"subject": "S-NOSUCHSUBJECT00", "complaint": None}, "subject"),
        ({"complaint": "CMP-2020-999999"}, "complaint"),
        ({"complaint": None}, "subject"),  # neither a subject nor a complaint
        ({"reason": ""}, "reason"),
        ({"review_on": "2000-01-01"}, "review_on"),
    ],
)
def test_a_bad_hold_is_refused_with_the_field_named(
    as_user, compliance, body: dict[str, Any], field: str
):
    f = factories.flow_at(S.RECEIVED)
    values = {
        "complaint": f.complaint.reference,
        "reason": "Court order",
        "review_on": "2099-01-31",
        **body,
    }
    values = {k: v for k, v in values.items() if v is not None}
    response = as_user(compliance).post(HOLDS, values)
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]
    assert not LegalHold.objects.exists()


def test_an_unknown_hold_is_404(as_user, compliance):
    assert as_user(compliance).get(f"{HOLDS}999999/").status_code == 404
    assert as_user(compliance).post(f"{HOLDS}abc/release/", {"reason": "x"}).status_code == 404


def test_the_hold_list_takes_a_fixed_number_of_queries(
    as_user, compliance, django_assert_max_num_queries
):
    for _ in range(3):
        _hold(factories.flow_at(S.RECEIVED).complaint, compliance)
    client = as_user(compliance)
    with django_assert_max_num_queries(6):
        response = client.get(HOLDS)
    assert response.status_code == 200
    assert len(response.json()["results"]) == 3


# --- retention rules and runs ----------------------------------------------------------------


def test_a_privacy_officer_lists_and_sets_rules(as_user, privacy):
    client = as_user(privacy)
    listed = client.get(RULES)
    assert listed.status_code == 200
    assert {r["record_class"] for r in listed.json()} == set(RecordClass.values)

    created = client.post(
        RULES,
        {
            "record_class": "complainant_data",
            "category": "harassment",
            "period_days": 400,
            "counted_from": "complaint_closed",
            "legal_basis": "PIPL Art. 19",
        },
    )
    assert created.status_code == 201, created.content
    assert created.json()["category"] == "harassment"

    # Setting it again changes the same rule.
    changed = client.post(
        RULES,
        {
            "record_class": "complainant_data",
            "category": "harassment",
            "period_days": 500,
            "counted_from": "complaint_closed",
            "legal_basis": "PIPL Art. 19",
        },
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["id"] == created.json()["id"]
    assert changed.json()["period_days"] == 500


def test_a_rule_is_changed_by_patch_through_the_service(as_user, privacy):
    rule = RetentionRule.objects.get(record_class=RecordClass.ACCESS_LOG, category=None)
    client = as_user(privacy)

    response = client.patch(f"{RULES}{rule.pk}/", {"period_days": 400})

    assert response.status_code == 200, response.content
    rule.refresh_from_db()
    assert rule.period_days == 400
    assert rule.history.get().history_user_id == privacy.pk

    too_short = client.patch(f"{RULES}{rule.pk}/", {"period_days": 30})
    assert too_short.status_code == 400
    assert "184" in too_short.json()["fields"]["period_days"][0]

    ledger = RetentionRule.objects.get(record_class=RecordClass.LEDGER)
    refused = client.put(
        f"{RULES}{ledger.pk}/",
        {"period_days": 10, "counted_from": "recorded", "legal_basis": "x"},
    )
    assert refused.status_code == 400
    assert "period_days" in refused.json()["fields"]


def test_runs_are_listed_with_counts_only(as_user, privacy):
    factories.flow_at(S.WITHDRAWN)
    services.retention_enforce(now=timezone.now() + timedelta(days=1097))
    response = as_user(privacy).get(RUNS)
    assert response.status_code == 200
    (run,) = response.json()["results"]
    assert run["subjects_erased"] == 1
    assert set(run) == {
        "id",
        "started_at",
        "finished_at",
        "as_of",
        "subjects_erased",
        "access_log_removed",
        "held_back",
        "ledger_seqs",
    }


@pytest.mark.parametrize(
    ("method", "url"),
    [("get", RULES), ("post", RULES), ("get", RUNS), ("get", HOLDS), ("post", HOLDS)],
)
@pytest.mark.parametrize("role", [Role.HANDLER, Role.SUPERVISOR, Role.ADMIN, Role.COMPLAINANT])
def test_other_roles_get_403_and_anonymous_401(api, as_user, method: str, url: str, role: str):
    anonymous = getattr(api, method)(url, {})
    assert anonymous.status_code == 401
    response = getattr(as_user(factories.user_with_role(role)), method)(url, {})
    assert response.status_code == 403
    assert response.json()["detail"].strip()


def test_the_schema_describes_a_rule_as_it_is_answered(api):
    # Found by the schema fuzz: a class's default rule has no category (null), and PATCH takes
    # the change's fields (any of them), not the rule's read-only shape.
    document = yaml.safe_load(api.get("/api/schema/").content)
    schemas = document["components"]["schemas"]
    patch = document["paths"]["/api/v1/privacy/retention-rules/{id}/"]["patch"]

    assert schemas["RetentionRuleOut"]["properties"]["category"]["nullable"] is True
    body = patch["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body == "#/components/schemas/PatchedRetentionRuleChangeInRequest"
    assert "required" not in schemas["PatchedRetentionRuleChangeInRequest"]


def test_a_patch_with_no_field_changes_nothing(as_user, privacy):
    rule = RetentionRule.objects.get(record_class=RecordClass.ACCESS_LOG, category=None)

    response = as_user(privacy).patch(f"{RULES}{rule.pk}/", {})

    assert response.status_code == 200, response.content
    assert response.json()["period_days"] == rule.period_days
    assert response.json()["category"] is None
