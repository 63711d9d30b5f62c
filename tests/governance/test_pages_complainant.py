"""The complainant's pages (/my/...) and their own-data page (/my/data/)."""

from __future__ import annotations

import json
from typing import Any

from django.urls import reverse

from governance.choices import ComplaintStatus, Role
from governance.models import Appeal, Complaint, Rating
from privacy.choices import AccessPurpose, RequestKind, RequestStatus
from privacy.models import AccessLogEntry, PrivacyRequest
from tests import factories

# --- my complaints -------------------------------------------------------------------------------


def test_list_shows_own_complaints_newest_first_with_deadline(page_as: Any, complainant: Any):
    older = factories.file_complaint(complainant)
    newer = factories.file_complaint(complainant, category_code="harassment")
    someone_elses = factories.file_complaint()

    response = page_as(complainant).get(reverse("my-complaints"))

    assert response.status_code == 200
    body = response.content.decode()
    assert newer.reference in body
    assert older.reference in body
    assert someone_elses.reference not in body
    assert body.index(newer.reference) < body.index(older.reference)
    assert "Received" in body  # the status label, not the stored value
    assert "Acknowledgement due" in body
    assert reverse("complaint-new") in body


def test_list_marks_overdue(page_as: Any, complainant: Any):
    complaint = factories.file_complaint(complainant)
    # Test set-up: move the deadline into the past without a service (none edits due times).
    Complaint.objects.filter(pk=complaint.pk).update(
        acknowledge_due_at=complaint.received_at.replace(year=complaint.received_at.year - 1)
    )

    body = page_as(complainant).get(reverse("my-complaints")).content.decode()

    assert 'class="overdue"' in body
    assert "overdue" in body


def test_handler_gets_403_on_my_complaints(page_as: Any, handler: Any):
    response = page_as(handler).get(reverse("my-complaints"))
    assert response.status_code == 403


def test_anonymous_is_sent_to_sign_in(client: Any):
    response = client.get(reverse("my-complaints"))
    assert response.status_code == 302
    assert reverse("sign-in") in response["Location"]


def test_pages_in_chinese(page_as: Any, complainant: Any):
    factories.file_complaint(complainant)
    client = page_as(complainant, "zh-hans")
    for name in ("my-complaints", "complaint-new", "my-data"):
        assert client.get(reverse(name)).status_code == 200
    category = factories.category("harassment")
    assert category.name_zh in client.get(reverse("complaint-new")).content.decode()


# --- filing --------------------------------------------------------------------------------------


def test_file_a_complaint_through_the_page(page_as: Any, complainant: Any):
    client = page_as(complainant)
    form_page = client.get(reverse("complaint-new"))
    assert form_page.status_code == 200
    assert 'name="category"' in form_page.content.decode()

    category = factories.category("harassment")
    response = client.post(
        reverse("complaint-new"),
        {
            "category": category.pk,
            "description": "A stranger posts my photos with insults.",
            "content_url": "https://video.example.com/v/9",
            "content_id": "v9",
            "affected_account_handle": "@stranger",
        },
        REMOTE_ADDR="203.0.113.9",
    )

    complaint = Complaint.objects.get(complainant__user=complainant)
    assert response.status_code == 302
    assert response["Location"] == reverse("my-complaint", args=[complaint.reference])
    assert complaint.channel == "web_form"
    assert complaint.category == category
    assert complaint.content_id == "v9"
    assert factories.plain_note(complaint.description) == "A stranger posts my photos with insults."
    assert factories.plain_field(complaint.complainant, "ip_address") == "203.0.113.9"

    detail = client.get(response["Location"])
    assert f"Its reference is {complaint.reference}" in detail.content.decode()
    assert "A stranger posts my photos with insults." in detail.content.decode()
    listing = client.get(reverse("my-complaints")).content.decode()
    assert complaint.reference in listing


def test_filing_without_description_gives_400_and_saves_nothing(page_as: Any, complainant: Any):
    category = factories.category("harassment")
    response = page_as(complainant).post(
        reverse("complaint-new"), {"category": category.pk, "description": ""}
    )
    assert response.status_code == 400
    assert 'class="error"' in response.content.decode()
    assert not Complaint.objects.filter(complainant__user=complainant).exists()


def test_filing_whitespace_description_gives_400(page_as: Any, complainant: Any):
    # A description of spaces only must never reach the database.
    category = factories.category("harassment")
    response = page_as(complainant).post(
        reverse("complaint-new"), {"category": category.pk, "description": "   "}
    )
    assert response.status_code == 400
    assert not Complaint.objects.filter(complainant__user=complainant).exists()


def test_handler_gets_403_on_complaint_new(page_as: Any, handler: Any):
    category = factories.category("harassment")
    client = page_as(handler)
    assert client.get(reverse("complaint-new")).status_code == 403
    response = client.post(
        reverse("complaint-new"), {"category": category.pk, "description": "By phone."}
    )
    assert response.status_code == 403
    assert not Complaint.objects.exists()


# --- detail and decision -------------------------------------------------------------------------


def test_decision_with_clause_and_reasons(page_as: Any):
    flow = factories.flow_at("decided")
    decision = flow.decision
    assert decision is not None

    response = page_as(flow.complainant).get(
        reverse("my-complaint", args=[flow.complaint.reference])
    )

    assert response.status_code == 200
    body = response.content.decode()
    assert "Upheld" in body
    assert decision.policy_clause.code in body
    assert decision.policy_clause.title in body
    assert "Do not harass other people." in body
    assert decision.facts in body
    assert "Insults break clause TOS-3.1; the comments are removed." in body
    assert "Content removed" in body
    assert "Incompatible with the terms of service" in body
    assert "Not automated" in body
    assert "Decided" in body
    # The appeal form is offered; rating waits until the complaint is closed.
    assert reverse("my-complaint-appeal", args=[flow.complaint.reference]) in body
    assert reverse("my-complaint-rate", args=[flow.complaint.reference]) not in body
    # The description was revealed through the vault, and the read logged.
    assert AccessLogEntry.objects.filter(
        reader=flow.complainant, purpose=AccessPurpose.OWN_DATA
    ).exists()


def test_another_complainant_gets_404(page_as: Any, complainant: Any):
    flow = factories.flow_at("decided")
    client = page_as(complainant)
    reference = flow.complaint.reference
    assert client.get(reverse("my-complaint", args=[reference])).status_code == 404
    response = client.post(
        reverse("my-complaint-appeal", args=[reference]),
        {"decision": flow.decision.pk, "statement": "Not mine."},  # type: ignore[union-attr]
    )
    assert response.status_code == 404
    assert not Appeal.objects.exists()


def test_staff_get_403_on_detail(page_as: Any, handler: Any, compliance: Any):
    flow = factories.flow_at("decided")
    url = reverse("my-complaint", args=[flow.complaint.reference])
    assert page_as(handler).get(url).status_code == 403
    assert page_as(compliance).get(url).status_code == 403


def test_detail_in_chinese(page_as: Any):
    flow = factories.flow_at("decided")
    response = page_as(flow.complainant, "zh-hans").get(
        reverse("my-complaint", args=[flow.complaint.reference])
    )
    assert response.status_code == 200


# --- appeal --------------------------------------------------------------------------------------


def test_appeal_then_second_appeal_conflicts(page_as: Any):
    flow = factories.flow_at("decided")
    client = page_as(flow.complainant)
    reference = flow.complaint.reference
    url = reverse("my-complaint-appeal", args=[reference])
    decision_id = flow.decision.pk  # type: ignore[union-attr]

    response = client.post(url, {"decision": decision_id, "statement": "They were jokes."})

    assert response.status_code == 302
    appeal = Appeal.objects.get(complaint=flow.complaint)
    assert appeal.decision_id == decision_id
    assert factories.plain_note(appeal.statement) == "They were jokes."
    assert flow.refresh().status == ComplaintStatus.APPEALED

    detail = client.get(reverse("my-complaint", args=[reference])).content.decode()
    assert "They were jokes." in detail  # revealed through the vault
    assert url not in detail  # no second appeal form

    again = client.post(url, {"decision": decision_id, "statement": "Once more."})
    assert again.status_code == 409
    assert "already been appealed" in again.content.decode()
    assert Appeal.objects.filter(complaint=flow.complaint).count() == 1


def test_appeal_without_statement_gives_400(page_as: Any):
    flow = factories.flow_at("decided")
    response = page_as(flow.complainant).post(
        reverse("my-complaint-appeal", args=[flow.complaint.reference]),
        {"decision": flow.decision.pk, "statement": ""},  # type: ignore[union-attr]
    )
    assert response.status_code == 400
    assert 'class="error"' in response.content.decode()
    assert not Appeal.objects.exists()
    assert flow.refresh().status == ComplaintStatus.DECIDED


def test_appeal_outcome_is_shown(page_as: Any):
    flow = factories.flow_at("appeal_decided")
    body = (
        page_as(flow.complainant)
        .get(reverse("my-complaint", args=[flow.complaint.reference]))
        .content.decode()
    )
    assert "Original decision upheld" in body
    assert "Please look again." in body
    assert "The first decision was right." in body


# --- rating --------------------------------------------------------------------------------------


def test_rate_a_closed_complaint(page_as: Any):
    flow = factories.flow_at("closed")
    client = page_as(flow.complainant)
    reference = flow.complaint.reference
    detail = client.get(reverse("my-complaint", args=[reference])).content.decode()
    assert reverse("my-complaint-rate", args=[reference]) in detail

    response = client.post(
        reverse("my-complaint-rate", args=[reference]), {"score": "4", "comment": "Quick."}
    )

    assert response.status_code == 302
    rating = Rating.objects.get(complaint=flow.complaint)
    assert rating.score == 4
    assert rating.comment is not None
    assert factories.plain_note(rating.comment) == "Quick."
    detail = client.get(reverse("my-complaint", args=[reference])).content.decode()
    assert "4 out of 5" in detail

    again = client.post(reverse("my-complaint-rate", args=[reference]), {"score": "5"})
    assert again.status_code == 409
    assert Rating.objects.filter(complaint=flow.complaint).count() == 1


def test_bad_score_gives_400(page_as: Any):
    flow = factories.flow_at("closed")
    response = page_as(flow.complainant).post(
        reverse("my-complaint-rate", args=[flow.complaint.reference]), {"score": "9"}
    )
    assert response.status_code == 400
    assert 'class="error"' in response.content.decode()
    assert not Rating.objects.exists()


def test_rating_before_close_gives_409(page_as: Any):
    flow = factories.flow_at("decided")
    response = page_as(flow.complainant).post(
        reverse("my-complaint-rate", args=[flow.complaint.reference]), {"score": "3"}
    )
    assert response.status_code == 409
    assert not Rating.objects.exists()


# --- withdrawal ----------------------------------------------------------------------------------


def test_withdraw_an_open_complaint(page_as: Any, complainant: Any):
    complaint = factories.file_complaint(complainant)
    client = page_as(complainant)
    url = reverse("my-complaint-withdraw", args=[complaint.reference])
    assert url in client.get(reverse("my-complaint", args=[complaint.reference])).content.decode()

    blank = client.post(url, {"reason": ""})
    assert blank.status_code == 400
    assert Complaint.objects.get(pk=complaint.pk).status == ComplaintStatus.RECEIVED

    response = client.post(url, {"reason": "Sorted it out with them."})
    assert response.status_code == 302
    assert Complaint.objects.get(pk=complaint.pk).status == ComplaintStatus.WITHDRAWN

    again = client.post(url, {"reason": "Again."})
    assert again.status_code == 409


def test_withdraw_after_decision_gives_409(page_as: Any):
    flow = factories.flow_at("decided")
    response = page_as(flow.complainant).post(
        reverse("my-complaint-withdraw", args=[flow.complaint.reference]),
        {"reason": "Changed my mind."},
    )
    assert response.status_code == 409
    assert flow.refresh().status == ComplaintStatus.DECIDED


# --- my data -------------------------------------------------------------------------------------


def test_my_data_page_and_deletion_request(page_as: Any, complainant: Any):
    client = page_as(complainant)
    page = client.get(reverse("my-data"))
    assert page.status_code == 200
    assert reverse("my-data-export") in page.content.decode()

    response = client.post(reverse("my-data-request"), {"kind": "deletion", "confirm": "on"})

    assert response.status_code == 302
    request = PrivacyRequest.objects.get(requester=complainant)
    assert request.kind == RequestKind.DELETION
    assert request.status == RequestStatus.RECEIVED
    listing = client.get(reverse("my-data")).content.decode()
    assert request.reference in listing
    assert "Deletion" in listing

    # Filing the same kind again while it is open gives back the open request.
    client.post(reverse("my-data-request"), {"kind": "deletion", "confirm": "on"})
    assert PrivacyRequest.objects.filter(requester=complainant).count() == 1


def test_access_request(page_as: Any, complainant: Any):
    response = page_as(complainant).post(reverse("my-data-request"), {"kind": "access"})
    assert response.status_code == 302
    assert PrivacyRequest.objects.get(requester=complainant).kind == RequestKind.ACCESS


def test_deletion_without_confirmation_gives_400(page_as: Any, complainant: Any):
    response = page_as(complainant).post(reverse("my-data-request"), {"kind": "deletion"})
    assert response.status_code == 400
    assert "Tick the box" in response.content.decode()
    assert not PrivacyRequest.objects.exists()


def test_unknown_kind_gives_400(page_as: Any, complainant: Any):
    response = page_as(complainant).post(reverse("my-data-request"), {"kind": "everything"})
    assert response.status_code == 400
    assert "Choose one of" in response.content.decode()
    assert not PrivacyRequest.objects.exists()


def test_refused_request_shows_reason(page_as: Any, complainant: Any):
    from privacy import services as privacy_services

    officer = factories.user_with_role(Role.PRIVACY_OFFICER)
    filed, _ = privacy_services.privacy_request_file(actor=complainant, kind="deletion")
    privacy_services.privacy_request_refuse(
        actor=officer, request=filed, reason="Open court case.", legal_basis="Art. 17(3)(e)"
    )
    body = page_as(complainant).get(reverse("my-data")).content.decode()
    assert "Refused" in body
    assert "Open court case." in body
    assert "Art. 17(3)(e)" in body


def test_export_is_the_real_data_and_logged(page_as: Any, complainant: Any):
    complaint = factories.file_complaint(complainant, description="My own words, exported.")
    assert page_as(complainant).get(reverse("my-data-export")).status_code == 405
    response = page_as(complainant).post(reverse("my-data-export"))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert "attachment" in response["Content-Disposition"]
    export = json.loads(response.content)
    text = json.dumps(export, ensure_ascii=False)
    assert complaint.reference in text
    assert "My own words, exported." in text
    assert AccessLogEntry.objects.filter(reader=complainant, purpose=AccessPurpose.EXPORT).exists()


def test_staff_get_403_on_my_data(page_as: Any, handler: Any):
    client = page_as(handler)
    assert client.get(reverse("my-data")).status_code == 403
    assert client.post(reverse("my-data-export")).status_code == 403
    assert client.post(reverse("my-data-request"), {"kind": "access"}).status_code == 403
    assert not PrivacyRequest.objects.exists()


def test_privacy_officer_gets_403_on_my_data(page_as: Any):
    officer = factories.user_with_role(Role.PRIVACY_OFFICER)
    assert page_as(officer).get(reverse("my-data")).status_code == 403
