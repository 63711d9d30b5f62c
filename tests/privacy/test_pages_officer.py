"""The privacy officer's pages (privacy/pages/officer.py): requests, legal holds, retention."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from governance.choices import ComplaintStatus, Role
from privacy import services, vault
from privacy.choices import RequestStatus
from privacy.models import LegalHold, PrivacyRequest, RetentionRule
from tests import factories

R = RequestStatus
EMAIL = "pat.example@example.test"


@pytest.fixture
def officer() -> Any:
    return factories.user_with_role(Role.PRIVACY_OFFICER)


def _deletion_request(status: str = ComplaintStatus.CLOSED) -> tuple[Any, PrivacyRequest]:
    """A complainant with a complaint at `status`, and their own deletion request."""
    f = factories.flow_at(status)
    request, _ = services.privacy_request_file(actor=f.complainant, kind="deletion")
    return f, request


def _act(client: Any, request: PrivacyRequest, action: str, **data: Any) -> Any:
    url = reverse("privacy-request-action", args=[request.reference, action])
    return client.post(url, data)


def _status(request: PrivacyRequest) -> str:
    return PrivacyRequest.objects.get(pk=request.pk).status


# --- the list ----------------------------------------------------------------------------------


def test_the_list_shows_requests_by_due_date_and_marks_the_overdue(officer, complainant, page_as):
    # given: one request filed long ago (overdue) and one filed now
    other = factories.user_with_role(Role.COMPLAINANT)
    late, _ = services.privacy_request_file(
        actor=complainant, kind="access", now=timezone.now() - timedelta(days=60)
    )
    fresh, _ = services.privacy_request_file(actor=other, kind="deletion")

    # when
    response = page_as(officer).get(reverse("privacy-requests"))

    # then: both, the overdue one first and marked
    assert response.status_code == 200
    html = response.content.decode()
    assert html.index(late.reference) < html.index(fresh.reference)
    assert 'class="overdue"' in html
    assert "overdue by" in html
    assert "Time left" in html


def test_the_list_filters_by_status_and_kind(officer, complainant, page_as):
    other = factories.user_with_role(Role.COMPLAINANT)
    access, _ = services.privacy_request_file(actor=complainant, kind="access")
    deletion, _ = services.privacy_request_file(actor=other, kind="deletion")
    services.privacy_request_verify_identity(actor=officer, request=deletion)
    client = page_as(officer)

    by_kind = client.get(reverse("privacy-requests"), {"kind": "access"}).content.decode()
    by_status = client.get(
        reverse("privacy-requests"), {"status": R.IDENTITY_VERIFIED}
    ).content.decode()

    assert access.reference in by_kind
    assert deletion.reference not in by_kind
    assert deletion.reference in by_status
    assert access.reference not in by_status


def test_the_list_reads_in_a_fixed_number_of_queries(
    officer, django_assert_max_num_queries, page_as
):
    for _ in range(6):
        services.privacy_request_file(
            actor=factories.user_with_role(Role.COMPLAINANT), kind="deletion"
        )
    client = page_as(officer)
    client.get(reverse("privacy-requests"))  # warm the session and role caches

    with django_assert_max_num_queries(10):
        response = client.get(reverse("privacy-requests"))

    assert response.status_code == 200
    assert response.content.decode().count("PRQ-") >= 6


def test_the_list_paginates_by_fifty(officer, monkeypatch, page_as):
    from privacy.pages import officer as pages

    monkeypatch.setattr(pages, "PER_PAGE", 2)
    for _ in range(3):
        services.privacy_request_file(
            actor=factories.user_with_role(Role.COMPLAINANT), kind="deletion"
        )
    client = page_as(officer)

    first = client.get(reverse("privacy-requests")).content.decode()
    second = client.get(reverse("privacy-requests"), {"page": 2}).content.decode()

    assert first.count('<th scope="row">') == 2
    assert second.count('<th scope="row">') == 1
    assert "Page 2 of 2" in second


# --- recording a request -----------------------------------------------------------------------


def test_an_officer_records_a_request_received_by_phone(officer, page_as):
    response = page_as(officer).post(
        reverse("privacy-request-record"),
        {"record-kind": "deletion", "record-email": EMAIL, "record-phone": ""},
    )

    created = PrivacyRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("privacy-request", args=[created.reference])
    assert created.channel == "other"
    assert created.status == R.RECEIVED
    assert EMAIL not in str(created.lookup_digests)


def test_recording_without_a_contact_is_refused_with_the_field_message(officer, page_as):
    response = page_as(officer).post(
        reverse("privacy-request-record"),
        {"record-kind": "deletion", "record-email": "", "record-phone": ""},
    )

    assert response.status_code == 400
    assert "Give the email or the phone the person gave" in response.content.decode()
    assert not PrivacyRequest.objects.exists()


# --- handling a request ------------------------------------------------------------------------


def test_a_complainants_deletion_request_is_verified_then_completed_through_the_pages(
    officer, django_capture_on_commit_callbacks, page_as
):
    # given: a complainant's own deletion request, listed for the officer
    f, request = _deletion_request()
    subject = f.complaint.complainant
    client = page_as(officer)
    assert request.reference in client.get(reverse("privacy-requests")).content.decode()
    detail = client.get(reverse("privacy-request", args=[request.reference])).content.decode()
    assert "Verify identity" in detail
    assert "Complete request" not in detail  # not until the identity is verified
    assert f.complainant.email not in detail  # no contact data, as in the API

    # when: verified
    verified = _act(client, request, "verify")

    # then
    assert verified.status_code == 302
    assert verified["Location"] == reverse("privacy-request", args=[request.reference])
    assert _status(request) == R.IDENTITY_VERIFIED

    # when: completed
    with django_capture_on_commit_callbacks(execute=True):
        completed = _act(client, request, "complete")

    # then: erased, with the signed receipt on the request's page
    assert completed.status_code == 302
    done = PrivacyRequest.objects.get(pk=request.pk)
    assert done.status == R.COMPLETED
    assert done.closed_by == officer
    assert vault.is_erased(subject)
    page = client.get(completed["Location"]).content.decode()
    assert "Deletion receipt" in page
    assert done.receipt.splitlines()[0] in page
    assert "completed; the deletion receipt is below" in page


def test_completing_twice_is_a_conflict(officer, page_as):
    _, request = _deletion_request()
    client = page_as(officer)
    assert _act(client, request, "verify").status_code == 302
    assert _act(client, request, "complete").status_code == 302
    receipt = PrivacyRequest.objects.get(pk=request.pk).receipt

    again = _act(client, request, "complete")

    assert again.status_code == 409
    assert "already completed" in again.content.decode()
    assert PrivacyRequest.objects.get(pk=request.pk).receipt == receipt


def test_completing_before_verifying_is_a_conflict(officer, page_as):
    _, request = _deletion_request()

    response = _act(page_as(officer), request, "complete")

    assert response.status_code == 409
    assert "Verify the requester" in response.content.decode()
    assert _status(request) == R.RECEIVED


def test_refusing_without_a_reason_gives_400_and_changes_nothing(officer, page_as):
    _, request = _deletion_request()

    response = _act(page_as(officer), request, "refuse", reason="", legal_basis="")

    assert response.status_code == 400
    html = response.content.decode()
    assert "Say why the request is refused" in html
    assert 'id="id_reason_error"' in html
    refreshed = PrivacyRequest.objects.get(pk=request.pk)
    assert refreshed.status == R.RECEIVED
    assert refreshed.refusal_reason == ""


def test_an_officer_refuses_with_a_reason_and_legal_basis(officer, page_as):
    _, request = _deletion_request()

    response = _act(
        page_as(officer),
        request,
        "refuse",
        reason="The records are needed for a pending court case.",
        legal_basis="PIPL Art. 47",
    )

    assert response.status_code == 302
    refused = PrivacyRequest.objects.get(pk=request.pk)
    assert refused.status == R.REFUSED
    assert refused.legal_basis == "PIPL Art. 47"
    page = page_as(officer).get(response["Location"]).content.decode()
    assert "pending court case" in page
    assert "Refuse request" not in page  # a closed request offers no actions


def test_an_access_request_shows_its_copy_of_the_data_once(officer, page_as):
    f = factories.flow_at(ComplaintStatus.CLOSED)
    request, _ = services.privacy_request_file(actor=f.complainant, kind="access")
    client = page_as(officer)
    _act(client, request, "verify")

    response = _act(client, request, "complete")

    assert response.status_code == 200
    html = response.content.decode()
    assert "ombud-export/v1" in html
    assert f.complaint.reference in html
    assert 'download="ombud-' in html
    assert response["Cache-Control"] == "no-store"
    assert _status(request) == R.COMPLETED


def test_an_unknown_action_or_reference_is_not_found(officer, page_as):
    _, request = _deletion_request()
    client = page_as(officer)

    assert _act(client, request, "erase").status_code == 404
    assert client.get(reverse("privacy-request", args=["PRQ-2025-00000000"])).status_code == 404


# --- legal holds -------------------------------------------------------------------------------


def test_a_legal_hold_placed_on_the_page_blocks_completion_until_released(officer, page_as):
    # given: a complainant's deletion request, verified
    f, request = _deletion_request(ComplaintStatus.DECIDED)
    subject = f.complaint.complainant
    client = page_as(officer)
    _act(client, request, "verify")

    # when: a hold is placed on the complaint through the page
    placed = client.post(
        reverse("legal-hold-place"),
        {
            "complaint": f.complaint.reference,
            "subject": "",
            "reason": "Court order 2025-17 preserves this case's records.",
            "review_on": factories.future(90).isoformat(),
        },
    )

    # then
    assert placed.status_code == 302
    hold = LegalHold.objects.get()
    assert hold.complaint == f.complaint
    assert hold.placed_by == officer
    assert f.complaint.reference in client.get(reverse("legal-holds")).content.decode()

    # when: completed, the request goes on hold and nothing is erased
    first = _act(client, request, "complete")
    assert first.status_code == 302
    assert _status(request) == R.ON_HOLD
    assert not vault.is_erased(subject)

    # and completing again while the hold stands is a conflict
    again = _act(client, request, "complete")
    assert again.status_code == 409
    assert "once the hold is released" in again.content.decode()
    assert not vault.is_erased(subject)

    # when: the hold is released through the page, the request can be completed
    released = client.post(
        reverse("legal-hold-release", args=[hold.pk]),
        {f"hold-{hold.pk}-reason": "The court case has ended."},
    )
    assert released.status_code == 302
    hold.refresh_from_db()
    assert hold.released_by == officer
    assert hold.release_reason == "The court case has ended."
    assert _act(client, request, "complete").status_code == 302
    assert _status(request) == R.COMPLETED
    assert vault.is_erased(subject)


def test_the_holds_page_reads_in_a_fixed_number_of_queries(
    officer, page_as, django_assert_max_num_queries
):
    for _ in range(4):
        services.legal_hold_place(
            actor=officer,
            complaint=factories.file_complaint(),
            reason="Court order.",
            review_on=factories.future(30),
        )
    client = page_as(officer)
    client.get(reverse("legal-holds"))

    with django_assert_max_num_queries(10):
        response = client.get(reverse("legal-holds"))

    assert response.content.decode().count("Court order.") == 4


def test_placing_a_hold_on_nothing_gives_400_and_places_nothing(officer, page_as):
    response = page_as(officer).post(
        reverse("legal-hold-place"),
        {"complaint": "", "subject": "", "reason": "", "review_on": ""},
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert "Name either a data subject" in html
    assert "Say why the data must be kept" in html
    assert not LegalHold.objects.exists()


def test_placing_a_hold_on_an_unknown_complaint_names_the_field(officer, page_as):
    response = page_as(officer).post(
        reverse("legal-hold-place"),
        {
            "complaint": "CMP-2025-999999",
            "reason": "Court order.",
            "review_on": factories.future(30).isoformat(),
        },
    )

    assert response.status_code == 400
    assert "No complaint has this reference" in response.content.decode()
    assert not LegalHold.objects.exists()


def test_a_compliance_officer_places_a_hold_on_a_subject_and_release_needs_a_reason(
    compliance, page_as
):
    f = factories.flow_at(ComplaintStatus.DECIDED)
    subject = f.complaint.complainant
    client = page_as(compliance)
    page = client.get(reverse("legal-holds"))
    assert page.status_code == 200
    assert reverse("retention") not in page.content.decode()  # not their page

    placed = client.post(
        reverse("legal-hold-place"),
        {
            "subject": subject.pseudonym,
            "reason": "Regulator inquiry 7.",
            "review_on": factories.future(30).isoformat(),
        },
    )
    assert placed.status_code == 302
    hold = LegalHold.objects.get()
    assert hold.subject == subject

    refused = client.post(reverse("legal-hold-release", args=[hold.pk]), {})
    assert refused.status_code == 400
    assert "Say why the data need no longer be held" in refused.content.decode()
    hold.refresh_from_db()
    assert hold.released_at is None

    assert (
        client.post(
            reverse("legal-hold-release", args=[hold.pk]), {f"hold-{hold.pk}-reason": "Closed."}
        ).status_code
        == 302
    )
    again = client.post(
        reverse("legal-hold-release", args=[hold.pk]), {f"hold-{hold.pk}-reason": "Again."}
    )
    assert again.status_code == 409
    assert "already released" in again.content.decode()


# --- retention ---------------------------------------------------------------------------------


def test_the_retention_page_lists_rules_and_the_last_runs(officer, page_as):
    services.retention_rule_set(
        actor=officer,
        record_class="access_log",
        period_days=400,
        counted_from="read",
        legal_basis="PIPL Art. 19",
    )
    services.retention_enforce()

    response = page_as(officer).get(reverse("retention"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "400 days" in html
    assert "PIPL Art. 19" in html
    assert "No retention runs yet." not in html


def test_an_officer_sets_a_retention_rule(officer, page_as):
    response = page_as(officer).post(
        reverse("retention-rule-set"),
        {
            "record_class": "complainant_data",
            "category": "harassment",
            "period_days": "1234",
            "counted_from": "complaint_closed",
            "legal_basis": "GDPR Art. 5(1)(e)",
        },
    )

    assert response.status_code == 302
    rule = RetentionRule.objects.get(record_class="complainant_data", category__code="harassment")
    assert rule.period_days == 1234
    assert rule.legal_basis == "GDPR Art. 5(1)(e)"


def test_a_retention_rule_the_service_refuses_gives_400_and_saves_nothing(officer, page_as):
    before = RetentionRule.objects.count()

    response = page_as(officer).post(
        reverse("retention-rule-set"),
        {
            "record_class": "ledger",
            "category": "",
            "period_days": "30",
            "counted_from": "recorded",
            "legal_basis": "",
        },
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert "The ledger holds no personal data" in html
    assert "Name the legal basis" in html
    assert RetentionRule.objects.count() == before


# --- who may open them -------------------------------------------------------------------------


PAGES = ["privacy-requests", "legal-holds", "retention"]


@pytest.mark.parametrize("role", ["handler", "supervisor", "complainant", "lead"])
def test_other_roles_are_refused_every_page(role, request, page_as):
    user = request.getfixturevalue(role)
    _, privacy_request = _deletion_request()
    client = page_as(user)

    for name in PAGES:
        response = client.get(reverse(name))
        assert response.status_code == 403, name
    detail = client.get(reverse("privacy-request", args=[privacy_request.reference]))
    assert detail.status_code == 403
    assert "Verify identity" not in detail.content.decode()  # the request's page is not served
    assert _act(client, privacy_request, "verify").status_code == 403
    assert _status(privacy_request) == R.RECEIVED
    assert client.post(reverse("legal-hold-place"), {}).status_code == 403
    assert client.post(reverse("retention-rule-set"), {}).status_code == 403


def test_a_compliance_officer_opens_holds_but_not_requests_or_retention(compliance, page_as):
    client = page_as(compliance)

    assert client.get(reverse("legal-holds")).status_code == 200
    assert client.get(reverse("privacy-requests")).status_code == 403
    assert client.get(reverse("retention")).status_code == 403


def test_an_anonymous_visitor_is_sent_to_sign_in():
    from django.test import Client

    response = Client().get(reverse("privacy-requests"))

    assert response.status_code == 302
    assert reverse("sign-in") in response["Location"]


def test_the_pages_render_in_chinese(officer, page_as):
    _, request = _deletion_request()
    client = page_as(officer, "zh-hans")

    for url in [
        reverse("privacy-requests"),
        reverse("privacy-request", args=[request.reference]),
        reverse("legal-holds"),
        reverse("retention"),
    ]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert 'lang="zh-hans"' in response.content.decode()
