"""The privacy-request API: shapes, the answers that must not reveal whether someone is on record,
400/409 paths, the receipt, the self-service download, and complaints read after an erasure.
Who may call what is in tests/test_permissions_matrix.py."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from rest_framework.test import APIClient

from audits import notes
from governance import services as governance_services
from governance.choices import Channel, ComplaintStatus, Role
from privacy import receipts, services
from privacy.choices import AccessPurpose
from privacy.models import AccessLogEntry, PrivacyRequest
from tests import factories

S = ComplaintStatus
REQUESTS = "/api/v1/privacy/requests/"
EMAIL = "pat.example@example.test"


@pytest.fixture
def officer() -> Any:
    return factories.user_with_role(Role.PRIVACY_OFFICER)


def _url(request: PrivacyRequest | str, action: str = "") -> str:
    reference = request if isinstance(request, str) else request.reference
    return f"{REQUESTS}{reference}/{action + '/' if action else ''}"


def _masked(body: dict[str, Any]) -> dict[str, Any]:
    """A response with what differs between any two requests (reference, times) blanked."""
    changing = {"reference", "received_at", "due_at", "verified_at", "closed_at", "ledger_seq"}
    return {k: ("*" if k in changing and v is not None else v) for k, v in body.items()}


def test_a_complainant_files_and_filing_again_returns_the_open_request(as_user, complainant):
    api = as_user(complainant)

    first = api.post(REQUESTS, {"kind": "deletion"}, format="json")
    again = api.post(REQUESTS, {"kind": "deletion"}, format="json")

    assert first.status_code == 201, first.content
    assert again.status_code == 200
    assert again.json()["reference"] == first.json()["reference"]
    body = first.json()
    assert body["status"] == "received"
    assert body["allowed_next"] == ["identity_verified", "refused"]
    assert body["overdue"] is False
    assert body["has_receipt"] is False
    assert "subjects" not in body
    assert "lookup_digests" not in body
    listed = api.get(REQUESTS).json()["results"]
    assert [r["reference"] for r in listed] == [body["reference"]]


def test_a_complainant_may_not_name_someone_else(as_user, complainant):
    response = as_user(complainant).post(
        REQUESTS, {"kind": "access", "email": EMAIL}, format="json"
    )

    assert response.status_code == 400
    assert "your signed-in account" in response.json()["fields"]["email"][0]
    assert not PrivacyRequest.objects.exists()


def test_an_officer_must_give_a_contact(as_user, officer):
    response = as_user(officer).post(REQUESTS, {"kind": "access"}, format="json")

    assert response.status_code == 400
    assert "email or the phone" in response.json()["fields"]["email"][0]


def test_answers_are_the_same_whether_or_not_the_person_is_on_record(as_user, officer):
    # given: one person on record
    handler = factories.user_with_role(Role.HANDLER, "moderation")
    factories.file_complaint(
        handler, channel=Channel.PHONE, complainant_name="Pat", complainant_email=EMAIL
    )
    api = as_user(officer)

    # when: the same steps for them and for a stranger
    answers = []
    for email in (EMAIL, "nobody@example.test"):
        created = api.post(REQUESTS, {"kind": "deletion", "email": email}, format="json")
        reference = created.json()["reference"]
        verified = api.post(_url(reference, "verify"))
        completed = api.post(_url(reference, "complete"))
        answers.append(
            [
                (r.status_code, _masked(r.json()) if r.status_code < 300 else r.json())
                for r in (created, verified, completed)
            ]
        )

    # then
    assert [code for code, _body in answers[0]] == [201, 200, 200]
    assert answers[0] == answers[1]


def test_refusing_over_the_api_needs_both_fields_and_tells_what_to_write(as_user, officer):
    request = services.privacy_request_record(actor=officer, kind="deletion", email=EMAIL)
    api = as_user(officer)

    missing = api.post(_url(request, "refuse"), {"reason": "Unverified"}, format="json")
    refused = api.post(
        _url(request, "refuse"),
        {"reason": "Unverified caller", "legal_basis": "PIPL Art. 50"},
        format="json",
    )
    again = api.post(_url(request, "refuse"), {"reason": "x", "legal_basis": "y"}, format="json")

    assert missing.status_code == 400
    assert "legal_basis" in missing.json()["fields"]
    assert refused.status_code == 200
    assert refused.json()["status"] == "refused"
    assert refused.json()["legal_basis"] == "PIPL Art. 50"
    assert again.status_code == 409
    assert "none (the request is closed)" in again.json()["detail"]


def test_completing_an_unverified_request_answers_409_saying_what_comes_first(as_user, officer):
    request = services.privacy_request_record(actor=officer, kind="deletion", email=EMAIL)

    response = as_user(officer).post(_url(request, "complete"))

    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"
    assert "Verify the requester's identity first" in response.json()["detail"]


def test_an_unknown_reference_is_404(as_user, officer):
    response = as_user(officer).get(_url("PRQ-2025-DEADBEEF"))

    assert response.status_code == 404
    assert "check the reference" in response.json()["detail"]


def test_the_receipt_comes_with_the_key_that_checks_it(as_user, officer):
    # given: a completed deletion, and a deletion not yet completed
    f = factories.flow_at(S.RECEIVED)
    request, _ = services.privacy_request_file(actor=f.complainant, kind="deletion")
    services.privacy_request_verify_identity(actor=officer, request=request)
    other = services.privacy_request_record(actor=officer, kind="deletion", email=EMAIL)
    api = as_user(officer)
    completed = api.post(_url(request, "complete"))

    # when
    response = api.get(_url(request, "receipt"))
    pending = api.get(_url(other, "receipt"))

    # then
    assert completed.json()["has_receipt"] is True
    assert completed.json()["export"] is None
    assert response.status_code == 200
    body = response.json()
    key = notes.VerifierKey.decode(body["verifier_key"])
    stated = receipts.receipt_verify(body["receipt"], [key])
    assert stated.erased == (f.complaint.complainant.pseudonym,)
    assert pending.status_code == 409
    assert "Ask again once it is" in pending.json()["detail"]


def test_an_access_request_completed_over_the_api_returns_the_copy(as_user, officer):
    f = factories.flow_at(S.DECIDED)
    request, _ = services.privacy_request_file(actor=f.complainant, kind="access")
    services.privacy_request_verify_identity(actor=officer, request=request)

    response = as_user(officer).post(_url(request, "complete"))

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "completed"
    (complaint,) = body["export"]["complaints"]
    assert complaint["reference"] == f.complaint.reference
    assert complaint["decisions"][0]["outcome"] == "upheld"
    assert complaint["description"]["text"] == factories.plain_note(f.complaint.description)


def test_a_complainant_downloads_their_data_as_a_json_file(as_user):
    # given
    f = factories.flow_at(S.CLOSED)
    governance_services.complaint_rate(
        actor=f.complainant, complaint=f.complaint, score=3, comment="It was fine."
    )

    # when
    response = as_user(f.complainant).get("/api/v1/privacy/my-data/")

    # then
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response["Content-Disposition"].startswith('attachment; filename="ombud-my-data-')
    export = json.loads(response.content)
    (complaint,) = export["complaints"]
    assert complaint["description"]["text"] == factories.plain_note(f.complaint.description)
    assert complaint["rating"]["comment"]["text"] == "It was fine."
    assert complaint["decisions"][0]["facts"] == factories.decision_kwargs()["facts"]
    assert {e.purpose for e in AccessLogEntry.objects.filter(reader=f.complainant)} == {
        AccessPurpose.EXPORT
    }


def test_after_erasure_complaints_and_decisions_read_with_the_person_shown_erased(
    as_user, officer, compliance
):
    # given: a decided complaint whose complainant's data was erased on their request
    f = factories.flow_at(S.DECIDED)
    request, _ = services.privacy_request_file(actor=f.complainant, kind="deletion")
    services.privacy_request_verify_identity(actor=officer, request=request)
    services.privacy_request_complete(actor=officer, request=request)

    for reader in (compliance, f.handler):
        api = as_user(reader)

        # when
        complaint = api.get(f"/api/v1/complaints/{f.complaint.reference}/")
        decision = api.get(f"/api/v1/decisions/{f.decision.pk}/")
        timeline = api.get(f"/api/v1/complaints/{f.complaint.reference}/timeline/")

        # then: the record stands, the person reads as erased, and nothing fails
        assert complaint.status_code == 200, complaint.content
        body = complaint.json()
        assert body["personal_data"] == "erased"
        assert body["description"] is None
        assert body["complainant_contact"] is None
        assert body["status"] == S.DECIDED
        assert decision.status_code == 200
        assert decision.json()["outcome"] == "upheld"
        assert timeline.status_code == 200
    # the statistics still count it
    listed = as_user(compliance).get("/api/v1/complaints/").json()["results"]
    assert f.complaint.reference in {c["reference"] for c in listed}


def test_the_schema_describes_the_privacy_request_routes(api: APIClient) -> None:
    document = yaml.safe_load(api.get("/api/schema/").content)

    paths = document["paths"]
    assert "post" in paths["/api/v1/privacy/requests/"]
    assert "post" in paths["/api/v1/privacy/requests/{reference}/complete/"]
    assert "get" in paths["/api/v1/privacy/requests/{reference}/receipt/"]
    assert "get" in paths["/api/v1/privacy/my-data/"]


def test_the_schema_documents_the_409_of_a_receipt_not_yet_issued(api: APIClient) -> None:
    # Found by the schema fuzz: a request not completed has no receipt, and says so with a 409.
    document = yaml.safe_load(api.get("/api/schema/").content)

    receipt = document["paths"]["/api/v1/privacy/requests/{reference}/receipt/"]["get"]
    assert receipt["responses"]["409"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
