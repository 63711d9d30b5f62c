"""The compliance officer's pages: decision search, ledger-checked audit, evidence, access log."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from audits.services import ledger_seal
from governance import services
from governance.choices import ComplaintStatus, DecisionOutcome
from privacy import vault
from privacy.choices import AccessPurpose
from privacy.models import AccessLogEntry
from tests import factories


def decided(
    *, dept: str = "moderation", category_code: str = "harassment", **decision: Any
) -> factories.Flow:
    """A complaint walked to investigation and decided with `decision`'s overrides."""
    f = factories.flow(dept=dept, category_code=category_code).walk(
        *factories.PATHS[ComplaintStatus.INVESTIGATING]
    )
    f.decision = services.decision_record(
        actor=f.handler, complaint=f.refresh(), **factories.decision_kwargs(**decision)
    )
    f.refresh()
    return f


def business_today() -> date:
    """Today where the pages count their days (they show times in the business's zone)."""
    return timezone.localdate(timezone=ZoneInfo(settings.OMBUD_BUSINESS_TIME_ZONE))


def decision_ref(f: factories.Flow) -> str:
    assert f.decision is not None
    return f"decision:{f.decision.pk}"


def refs_in(response: Any) -> str:
    return response.content.decode()


# --- decision search -----------------------------------------------------------------------------


def test_decision_search_lists_decisions_with_their_facts(page_as, compliance):  # type: ignore[no-untyped-def]
    f = decided()
    response = page_as(compliance).get(reverse("decision-search"))
    assert response.status_code == 200
    body = refs_in(response)
    assert f.complaint.reference in body
    assert reverse("audit-complaint", args=[f.complaint.reference]) in body
    assert "TOS-3.1" in body
    assert f.handler.get_username() in body
    assert "Upheld" in body


def test_decision_search_filters_narrow_the_results(page_as, compliance):  # type: ignore[no-untyped-def]
    upheld = decided()
    rejected = decided(outcome=DecisionOutcome.REJECTED, actions=[])
    security = decided(dept="security", category_code="fraud")
    client = page_as(compliance)
    url = reverse("decision-search")

    def found(**params: str) -> set[str]:
        response = client.get(url, params)
        assert response.status_code == 200, response.content
        body = refs_in(response)
        return {
            f.complaint.reference
            for f in (upheld, rejected, security)
            if f.complaint.reference in body
        }

    everyone = {upheld.complaint.reference, rejected.complaint.reference}
    everyone.add(security.complaint.reference)
    assert found() == everyone
    assert found(outcome="rejected") == {rejected.complaint.reference}
    assert found(department="security") == {security.complaint.reference}
    assert found(category="fraud") == {security.complaint.reference}
    assert found(decider=rejected.handler.get_username()) == {rejected.complaint.reference}
    today = business_today()
    assert found(date_from=str(today - timedelta(days=1)), date_to=str(today + timedelta(days=1)))
    assert found(date_from=str(today + timedelta(days=2))) == set()
    assert found(date_to=str(today - timedelta(days=2))) == set()


def test_decision_search_period_separates_days(page_as, compliance):  # type: ignore[no-untyped-def]
    later = timezone.now() + timedelta(days=3)
    f = factories.flow().walk(*factories.PATHS[ComplaintStatus.INVESTIGATING])
    services.decision_record(
        actor=f.handler, complaint=f.refresh(), now=later, **factories.decision_kwargs()
    )
    today = decided()
    client = page_as(compliance)
    day = business_today() + timedelta(days=3)
    body = refs_in(
        client.get(reverse("decision-search"), {"date_from": str(day - timedelta(days=1))})
    )
    assert f.complaint.reference in body
    assert today.complaint.reference not in body
    body = refs_in(
        client.get(reverse("decision-search"), {"date_to": str(day - timedelta(days=1))})
    )
    assert f.complaint.reference not in body
    assert today.complaint.reference in body


def test_decision_search_bad_filters_give_400(page_as, compliance):  # type: ignore[no-untyped-def]
    client = page_as(compliance)
    response = client.get(
        reverse("decision-search"), {"date_from": "2026-05-10", "date_to": "2026-05-01"}
    )
    assert response.status_code == 400
    assert "Choose a day on or after the first day." in refs_in(response)
    response = client.get(reverse("decision-search"), {"outcome": "maybe"})
    assert response.status_code == 400


def test_decision_search_has_no_n_plus_one(page_as, compliance, django_assert_max_num_queries):  # type: ignore[no-untyped-def]
    for _ in range(4):
        decided()
    client = page_as(compliance)
    client.get(reverse("decision-search"))  # warm the session and role caches
    with django_assert_max_num_queries(12):
        response = client.get(reverse("decision-search"))
    assert response.status_code == 200


def test_decision_search_refuses_handlers_and_supervisors(page_as, handler, supervisor):  # type: ignore[no-untyped-def]
    assert page_as(handler).get(reverse("decision-search")).status_code == 403
    assert page_as(supervisor).get(reverse("decision-search")).status_code == 403


# --- audit of one complaint ----------------------------------------------------------------------


def test_audit_before_sealing_shows_entries_awaiting(page_as, compliance):  # type: ignore[no-untyped-def]
    f = decided()
    response = page_as(compliance).get(reverse("audit-complaint", args=[f.complaint.reference]))
    assert response.status_code == 200
    body = refs_in(response)
    assert "Status change" in body
    assert "investigating" in body  # a transition's summary
    assert "Decision" in body
    assert "TOS-3.1" in body
    assert "awaiting the next checkpoint" in body
    assert "verified" not in body
    assert "FAILED" not in body


def test_audit_after_sealing_shows_verified_with_checkpoint_size(page_as, compliance):  # type: ignore[no-untyped-def]
    f = decided()
    checkpoint, _new = ledger_seal()
    response = page_as(compliance).get(reverse("audit-complaint", args=[f.complaint.reference]))
    assert response.status_code == 200
    body = refs_in(response)
    assert f"Included in checkpoint {checkpoint.tree_size} (tree size), verified" in body
    assert "awaiting the next checkpoint" not in body
    assert "FAILED" not in body
    assert decision_ref(f) in body  # the ledger table names each record


def test_audit_shows_newer_entries_as_awaiting_after_a_seal(page_as, compliance):  # type: ignore[no-untyped-def]
    f = decided()
    ledger_seal()
    services.complaint_close(actor=f.handler, complaint=f.refresh())
    body = refs_in(
        page_as(compliance).get(reverse("audit-complaint", args=[f.complaint.reference]))
    )
    assert "verified" in body
    assert "awaiting the next checkpoint" in body


def test_audit_marks_a_proof_that_does_not_verify(page_as, compliance, monkeypatch):  # type: ignore[no-untyped-def]
    from audits import merkle

    f = decided()
    ledger_seal()
    monkeypatch.setattr(merkle, "verify_inclusion", lambda *args, **kwargs: False)
    response = page_as(compliance).get(reverse("audit-complaint", args=[f.complaint.reference]))
    assert response.status_code == 200
    body = refs_in(response)
    assert "FAILED" in body
    assert "verified" not in body


def test_audit_marks_entries_failed_when_the_checkpoint_signature_is_wrong(  # type: ignore[no-untyped-def]
    page_as, compliance, monkeypatch
):
    from audits import notes

    f = decided()
    ledger_seal()

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise notes.NoteError("bad signature")

    monkeypatch.setattr(notes, "verify_checkpoint", refuse)
    body = refs_in(
        page_as(compliance).get(reverse("audit-complaint", args=[f.complaint.reference]))
    )
    assert "FAILED" in body


def test_audit_of_an_unknown_complaint_is_404(page_as, compliance):  # type: ignore[no-untyped-def]
    response = page_as(compliance).get(reverse("audit-complaint", args=["CMP-1999-000001"]))
    assert response.status_code == 404


def test_audit_refuses_other_roles(page_as, handler, supervisor):  # type: ignore[no-untyped-def]
    f = decided()
    url = reverse("audit-complaint", args=[f.complaint.reference])
    assert page_as(f.handler).get(url).status_code == 403
    assert page_as(supervisor).get(url).status_code == 403
    evidence = reverse("audit-evidence", args=[f.complaint.reference])
    assert page_as(supervisor).get(evidence).status_code == 403


# --- evidence download ---------------------------------------------------------------------------


def test_evidence_download_is_the_complaints_bundle(page_as, compliance, as_user):  # type: ignore[no-untyped-def]
    f = decided()
    ledger_seal()
    response = page_as(compliance).get(reverse("audit-evidence", args=[f.complaint.reference]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response["Content-Disposition"].startswith("attachment;")
    assert f"{f.complaint.reference}-evidence.json" in response["Content-Disposition"]
    bundle = json.loads(response.content)
    refs = {json.loads(e["body"])["ref"] for e in bundle["entries"]}
    assert refs == {f"complaint:{f.complaint.reference}", decision_ref(f)}
    api = as_user(compliance).get(f"/api/v1/complaints/{f.complaint.reference}/evidence/")
    assert api.status_code == 200
    assert api.json() == bundle  # the same content the API returns


# --- access log --------------------------------------------------------------------------------


def test_access_log_lists_a_handlers_read(page_as, compliance):  # type: ignore[no-untyped-def]
    f = decided()
    complaint = f.refresh()
    vault.reveal_subject(
        f.handler, complaint.complainant, purpose=AccessPurpose.CASE_HANDLING, complaint=complaint
    )
    vault.reveal_note(
        f.handler, complaint.description, purpose=AccessPurpose.CASE_HANDLING, complaint=complaint
    )
    assert AccessLogEntry.objects.filter(reader=f.handler).count() == 2
    response = page_as(compliance).get(reverse("access-log"))
    assert response.status_code == 200
    body = refs_in(response)
    assert f.handler.get_username() in body
    assert complaint.complainant.pseudonym in body
    assert "Handling the complaint" in body
    assert reverse("audit-complaint", args=[complaint.reference]) in body


def test_access_log_filters_by_subject_and_date(page_as, compliance):  # type: ignore[no-untyped-def]
    first, second = decided(), decided()
    for f in (first, second):
        c = f.refresh()
        vault.reveal_subject(
            f.handler, c.complainant, purpose=AccessPurpose.CASE_HANDLING, complaint=c
        )
    client = page_as(compliance)
    mine = first.complaint.complainant.pseudonym
    other = second.complaint.complainant.pseudonym
    body = refs_in(client.get(reverse("access-log"), {"subject": mine}))
    assert mine in body
    assert other not in body
    today = business_today()
    body = refs_in(client.get(reverse("access-log"), {"date_from": str(today + timedelta(days=1))}))
    assert mine not in body
    assert other not in body
    body = refs_in(
        client.get(
            reverse("access-log"),
            {"date_from": str(today - timedelta(days=1)), "date_to": str(today)},
        )
    )
    assert mine in body
    assert other in body
    response = client.get(reverse("access-log"), {"date_from": "not a day"})
    assert response.status_code == 400


def test_access_log_is_paginated_keeping_the_filter(page_as, compliance):  # type: ignore[no-untyped-def]
    f = decided()
    c = f.refresh()
    for _ in range(51):
        vault.reveal_subject(
            f.handler, c.complainant, purpose=AccessPurpose.CASE_HANDLING, complaint=c
        )
    client = page_as(compliance)
    pseudonym = c.complainant.pseudonym
    response = client.get(reverse("access-log"), {"subject": pseudonym})
    body = refs_in(response)
    assert "Page 1 of 2" in body
    assert f"subject={pseudonym}&amp;page=2" in body
    second = client.get(reverse("access-log"), {"subject": pseudonym, "page": "2"})
    assert second.status_code == 200
    assert "Page 2 of 2" in refs_in(second)
    assert refs_in(second).count(f"<td>{pseudonym}</td>") == 1


def test_access_log_refuses_other_roles(page_as, handler, supervisor):  # type: ignore[no-untyped-def]
    assert page_as(handler).get(reverse("access-log")).status_code == 403
    assert page_as(supervisor).get(reverse("access-log")).status_code == 403


# --- languages -----------------------------------------------------------------------------------


def test_pages_render_in_chinese(page_as, compliance):  # type: ignore[no-untyped-def]
    f = decided()
    ledger_seal()
    client = page_as(compliance, "zh-hans")
    assert client.get(reverse("decision-search")).status_code == 200
    response = client.get(reverse("audit-complaint", args=[f.complaint.reference]))
    assert response.status_code == 200
    assert 'lang="zh-hans"' in refs_in(response)
    assert client.get(reverse("access-log")).status_code == 200


def test_audit_reads_the_entries_and_the_checkpoint_once(page_as, compliance):  # type: ignore[no-untyped-def]
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    f = decided()
    ledger_seal()
    client = page_as(compliance)
    client.get(reverse("decision-search"))  # warm the session
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("audit-complaint", args=[f.complaint.reference]))
    assert response.status_code == 200
    sql = [q["sql"] for q in ctx.captured_queries]
    assert sum('FROM "audits_checkpoint"' in q for q in sql) == 1
    assert sum('"audits_ledgerentry"."object_ref" IN' in q for q in sql) == 1
    assert len(sql) < 60
