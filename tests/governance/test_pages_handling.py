"""The handler's and department lead's pages: queue, work page, appeals and the lead's view."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from audits import sampling
from audits.models import CorrectiveAction
from governance import services
from governance.choices import ComplaintStatus as S
from governance.choices import Role
from governance.models import Complaint, Decision, SlaBreach
from privacy.models import AccessLogEntry
from tests import factories


def _rows(html: str) -> list[str]:
    """The complaint references of the queue's rows, in order."""
    return re.findall(r'<tr class="[^"]*" data-reference="([^"]+)"', html)


def _row_class(html: str, reference: str) -> str:
    match = re.search(r'<tr class="([^"]*)" data-reference="' + re.escape(reference), html)
    assert match, f"{reference} is not in the page"
    return match.group(1)


def _decide_post(clause: Any, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "decide-outcome": "upheld",
        "decide-policy_clause": clause.pk,
        "decide-ground": "terms_of_service",
        "decide-ground_reference": "",
        "decide-facts": "The comments insult the complainant by name.",
        "decide-reasons": "Insults break clause TOS-3.1; the comments are removed.",
        "decide-actions": ["content_removed"],
        "decide-automated_decision": "not_automated",
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


# --- queue ---------------------------------------------------------------------------------------


def test_queue_orders_by_nearest_deadline_and_marks_overdue(handler, page_as):
    # given: a fresh complaint, one filed ten days ago (its acknowledgement long overdue), a
    # closed one, and one of another department
    now = timezone.now()
    fresh = factories.file_complaint()
    late = factories.file_complaint(now=now - timedelta(days=10))
    closed = factories.flow_at(S.CLOSED).complaint
    elsewhere = factories.file_complaint(category_code="ip_infringement")

    # when
    response = page_as(handler).get(reverse("queue"))

    # then: the overdue one first, marked; closed and foreign ones absent
    assert response.status_code == 200
    html = response.content.decode()
    rows = _rows(html)
    assert rows.index(late.reference) < rows.index(fresh.reference)
    assert closed.reference not in rows
    assert elsewhere.reference not in rows
    assert "overdue" in _row_class(html, late.reference)
    assert "overdue" not in _row_class(html, fresh.reference)
    assert "overdue by" in html


def test_queue_marks_a_deadline_within_a_day_as_due_soon(handler, page_as):
    # given: filed long ago and acknowledged; its triage deadline is past, decision far
    complaint = factories.file_complaint(now=timezone.now() - timedelta(days=10))
    services.complaint_acknowledge(actor=handler, complaint=complaint)
    # pull the triage deadline to 3 hours from now (test set-up, no service sets due times)
    Complaint.objects.filter(pk=complaint.pk).update(
        triage_due_at=timezone.now() + timedelta(hours=3, minutes=5)
    )

    html = page_as(handler).get(reverse("queue")).content.decode()

    assert "due-soon" in _row_class(html, complaint.reference)
    assert "3 h left" in html


def test_queue_filters_by_status_and_assignee(page_as):
    f = factories.flow_at(S.ASSIGNED)
    received = factories.file_complaint()
    client = page_as(f.lead)

    by_status = _rows(client.get(reverse("queue"), {"status": "received"}).content.decode())
    assert received.reference in by_status
    assert f.complaint.reference not in by_status

    mine = _rows(client.get(reverse("queue"), {"assignee": f.handler.username}).content.decode())
    assert mine == [f.complaint.reference]
    unassigned = _rows(client.get(reverse("queue"), {"assignee": "-"}).content.decode())
    assert received.reference in unassigned
    assert f.complaint.reference not in unassigned


def test_queue_makes_no_query_per_row(lead, page_as, django_assert_max_num_queries):
    # given: many complaints, some assigned
    for _ in range(3):
        factories.flow_at(S.ASSIGNED)
    for _ in range(8):
        factories.file_complaint()
    client = page_as(lead)
    client.get(reverse("queue"))  # warm the session

    # then: a fixed number of queries, whatever the number of rows
    with django_assert_max_num_queries(12):
        response = client.get(reverse("queue"))
    assert len(_rows(response.content.decode())) == 11


def test_queue_paginates_by_fifty(handler, page_as):
    for _ in range(51):
        factories.file_complaint()
    client = page_as(handler)

    assert len(_rows(client.get(reverse("queue")).content.decode())) == 50
    assert len(_rows(client.get(reverse("queue"), {"page": 2}).content.decode())) == 1


@pytest.mark.parametrize("name", ["queue", "appeals-queue", "lead"])
def test_complainants_and_supervisors_are_refused(name, complainant, supervisor, page_as):
    for user in (complainant, supervisor):
        assert page_as(user).get(reverse(name)).status_code == 403


def test_compliance_officers_are_refused_the_work_pages(compliance, page_as):
    f = factories.flow_at(S.APPEALED)
    client = page_as(compliance)
    assert client.get(reverse("work-complaint", args=[f.complaint.reference])).status_code == 403
    assert (
        client.get(reverse("work-appeal", args=[f.complaint.appeals.get().pk])).status_code == 403
    )


def test_a_handler_is_refused_the_lead_page(handler, page_as):
    assert page_as(handler).get(reverse("lead")).status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(reverse("queue"))
    assert response.status_code == 302
    assert reverse("sign-in") in response["Location"]


def test_pages_render_in_chinese(page_as):
    f = factories.flow_at(S.APPEALED)
    client = page_as(f.lead, "zh-hans")
    for url in (
        reverse("queue"),
        reverse("work-complaint", args=[f.complaint.reference]),
        reverse("appeals-queue"),
        reverse("work-appeal", args=[f.complaint.appeals.get().pk]),
        reverse("lead"),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert 'lang="zh-hans"' in response.content.decode()


# --- the work page -------------------------------------------------------------------------------


def test_work_page_shows_facts_personal_data_and_logs_the_read(handler, page_as):
    complainant = factories.user_with_role(Role.COMPLAINANT)
    # The service stores its reason in the active language; an earlier page may have left
    # Chinese active in this thread.
    with translation.override("en"):
        complaint = factories.file_complaint(complainant, description="He posts my address daily.")
    before = AccessLogEntry.objects.count()

    response = page_as(handler).get(reverse("work-complaint", args=[complaint.reference]))

    assert response.status_code == 200
    html = response.content.decode()
    assert complaint.reference in html
    assert "He posts my address daily." in html
    assert complainant.email in html
    # one logged read for the contact, one for the description
    assert AccessLogEntry.objects.count() == before + 2
    # only the action its status allows is offered
    assert reverse("work-complaint-action", args=[complaint.reference, "acknowledge"]) in html
    assert reverse("work-complaint-action", args=[complaint.reference, "decide"]) not in html
    assert "Complaint received" in html  # the timeline


def test_a_handler_of_another_department_gets_404(page_as):
    complaint = factories.file_complaint()
    outsider = factories.user_with_role(Role.HANDLER, "copyright")
    client = page_as(outsider)

    assert client.get(reverse("work-complaint", args=[complaint.reference])).status_code == 404
    response = client.post(
        reverse("work-complaint-action", args=[complaint.reference, "acknowledge"]), {}
    )
    assert response.status_code == 404
    assert Complaint.objects.get(pk=complaint.pk).status == S.RECEIVED


def test_full_handling_path_through_the_pages(page_as):
    # given: a complaint, a handler and a lead of its department, a clause in force
    clause = factories.policy_clause()
    handler = factories.user_with_role(Role.HANDLER, "moderation")
    lead = factories.user_with_role(Role.DEPARTMENT_LEAD, "moderation")
    complaint = factories.file_complaint()
    ref = complaint.reference
    as_handler, as_lead = page_as(handler), page_as(lead)

    def act(client: Any, action: str, data: dict[str, Any]) -> Any:
        return client.post(reverse("work-complaint-action", args=[ref, action]), data)

    def status() -> str:
        return Complaint.objects.get(pk=complaint.pk).status

    # acknowledge
    response = act(as_handler, "acknowledge", {"acknowledge-reason": ""})
    assert response.status_code == 302
    assert response["Location"] == reverse("work-complaint", args=[ref])
    assert status() == S.ACKNOWLEDGED

    # triage: critical severity, high urgency gives P1
    page = as_handler.get(reverse("work-complaint", args=[ref])).content.decode()
    assert "Priority from severity and urgency" in page
    response = act(
        as_handler,
        "triage",
        {
            "triage-category": complaint.category_id,
            "triage-department": "",
            "triage-severity": "critical",
            "triage-urgency": "high",
            "triage-reason": "",
        },
    )
    assert response.status_code == 302
    triaged = Complaint.objects.get(pk=complaint.pk)
    assert (triaged.status, triaged.priority) == (S.TRIAGED, "P1")

    # the lead assigns it from the department page
    lead_page = as_lead.get(reverse("lead")).content.decode()
    assert reverse("lead-assign", args=[ref]) in lead_page
    response = as_lead.post(
        reverse("lead-assign", args=[ref]),
        {f"assign-{ref}-assignee": handler.username, f"assign-{ref}-reason": ""},
    )
    assert response.status_code == 302
    assigned = Complaint.objects.get(pk=complaint.pk)
    assert (assigned.status, assigned.assignee) == (S.ASSIGNED, handler)

    # investigate
    assert act(as_handler, "investigate", {"investigate-reason": "Looking"}).status_code == 302
    assert status() == S.INVESTIGATING

    # decide with a clause
    response = act(as_handler, "decide", _decide_post(clause))
    assert response.status_code == 302, response.content.decode()
    assert status() == S.DECIDED
    decision = Decision.objects.get(complaint=complaint)
    assert (decision.outcome, decision.actions, decision.policy_clause, decision.decided_by) == (
        "upheld",
        ["content_removed"],
        clause,
        handler,
    )
    decided_page = as_handler.get(response["Location"]).content.decode()
    assert f"Decision on {ref} recorded." in decided_page
    assert "Content removed" in decided_page  # the action, named

    # close
    assert act(as_handler, "close", {"close-reason": ""}).status_code == 302
    assert status() == S.CLOSED


def test_decide_without_reasons_gives_400_and_records_nothing(page_as):
    f = factories.flow_at(S.INVESTIGATING)
    clause = factories.policy_clause()

    response = page_as(f.handler).post(
        reverse("work-complaint-action", args=[f.complaint.reference, "decide"]),
        _decide_post(clause, **{"decide-reasons": ""}),
    )

    assert response.status_code == 400
    assert 'id="id_decide-reasons_error"' in response.content.decode()
    assert not Decision.objects.filter(complaint=f.complaint).exists()
    assert Complaint.objects.get(pk=f.complaint.pk).status == S.INVESTIGATING


def test_decide_with_a_service_refusal_shows_the_field_message(page_as):
    # an end date on a permanent action: the service refuses, the form says why
    f = factories.flow_at(S.INVESTIGATING)
    clause = factories.policy_clause()

    response = page_as(f.handler).post(
        reverse("work-complaint-action", args=[f.complaint.reference, "decide"]),
        _decide_post(clause, **{"decide-restriction_end": factories.future().isoformat()}),
    )

    assert response.status_code == 400
    assert "Only a temporary restriction has an end date." in response.content.decode()
    assert not Decision.objects.filter(complaint=f.complaint).exists()


def test_decide_a_suspension_with_an_end_date_and_automation_flags(page_as):
    f = factories.flow_at(S.INVESTIGATING)
    clause = factories.policy_clause()
    end = factories.future(14)

    response = page_as(f.lead).post(
        reverse("work-complaint-action", args=[f.complaint.reference, "decide"]),
        _decide_post(
            clause,
            **{
                "decide-actions": ["account_suspended"],
                "decide-restriction_end": end.isoformat(),
                "decide-territorial_scope": ["DE", "FR"],
                "decide-automated_detection": "on",
                "decide-automated_decision": "partially",
            },
        ),
    )

    assert response.status_code == 302
    d = Decision.objects.get(complaint=f.complaint)
    assert (d.actions, d.restriction_end, d.territorial_scope) == (
        ["account_suspended"],
        end,
        ["DE", "FR"],
    )
    assert (d.automated_detection, d.automated_decision, d.decided_by) == (
        True,
        "partially",
        f.lead,
    )


def test_an_out_of_order_action_gives_409(handler, page_as):
    complaint = factories.file_complaint()

    response = page_as(handler).post(
        reverse("work-complaint-action", args=[complaint.reference, "investigate"]),
        {"investigate-reason": ""},
    )

    assert response.status_code == 409
    assert 'role="alert"' in response.content.decode()
    assert Complaint.objects.get(pk=complaint.pk).status == S.RECEIVED


def test_an_unknown_action_gives_404(handler, page_as):
    complaint = factories.file_complaint()
    response = page_as(handler).post(
        reverse("work-complaint-action", args=[complaint.reference, "erase"]), {}
    )
    assert response.status_code == 404


def test_a_bad_triage_gives_400(handler, page_as):
    complaint = factories.file_complaint()
    services.complaint_acknowledge(actor=handler, complaint=complaint)

    response = page_as(handler).post(
        reverse("work-complaint-action", args=[complaint.reference, "triage"]),
        {
            "triage-category": complaint.category_id,
            "triage-department": factories.department("copyright").pk,
            "triage-severity": "high",
            "triage-urgency": "normal",
            "triage-reason": "",
        },
    )

    assert response.status_code == 400
    assert "Say why the complaint moves to another department." in response.content.decode()
    assert Complaint.objects.get(pk=complaint.pk).status == S.ACKNOWLEDGED


def test_a_handler_may_take_a_triaged_complaint_themselves(handler, page_as):
    complaint = factories.file_complaint()
    services.complaint_acknowledge(actor=handler, complaint=complaint)
    services.complaint_triage(actor=handler, complaint=Complaint.objects.get(pk=complaint.pk))
    other = factories.user_with_role(Role.HANDLER, "moderation")
    client = page_as(handler)

    # offering another handler is not possible: the choice is refused
    refused = client.post(
        reverse("work-complaint-action", args=[complaint.reference, "assign"]),
        {"assign-assignee": other.username},
    )
    assert refused.status_code == 400
    taken = client.post(
        reverse("work-complaint-action", args=[complaint.reference, "assign"]),
        {"assign-assignee": handler.username},
    )
    assert taken.status_code == 302
    assert Complaint.objects.get(pk=complaint.pk).assignee == handler


# --- appeals -------------------------------------------------------------------------------------


def test_appeals_queue_lists_open_appeals_oldest_first(page_as):
    first = factories.flow_at(S.APPEALED)
    second = factories.flow_at(S.APPEALED)
    decided = factories.flow_at(S.APPEAL_DECIDED)

    html = page_as(first.lead).get(reverse("appeals-queue")).content.decode()

    assert html.index(first.complaint.reference) < html.index(second.complaint.reference)
    assert decided.complaint.reference not in html


def test_a_lead_decides_an_appeal(page_as):
    f = factories.flow_at(S.APPEALED)
    appeal = f.complaint.appeals.get()
    client = page_as(f.lead)

    page = client.get(reverse("work-appeal", args=[appeal.pk])).content.decode()
    assert "Please look again." in page  # the statement, revealed through the vault
    response = client.post(
        reverse("work-appeal", args=[appeal.pk]),
        {
            "appeal-outcome": "reversed",
            "appeal-decision_outcome": "rejected",
            "appeal-facts": "The comments are banter between friends.",
            "appeal-reasons": "No insult on a second look.",
        },
    )

    assert response.status_code == 302, response.content.decode()
    outcome = Decision.objects.get(appeal=appeal)
    assert (outcome.appeal_outcome, outcome.outcome, outcome.actions) == (
        "reversed",
        "rejected",
        ["none"],
    )
    assert Complaint.objects.get(pk=f.complaint.pk).status == S.APPEAL_DECIDED


def test_the_original_decider_may_not_decide_the_appeal(page_as):
    f = factories.flow_at(S.APPEALED)
    appeal = f.complaint.appeals.get()

    response = page_as(f.handler).post(
        reverse("work-appeal", args=[appeal.pk]),
        {
            "appeal-outcome": "upheld",
            "appeal-facts": "Same comments.",
            "appeal-reasons": "I was right.",
        },
    )

    assert response.status_code == 403
    assert "You took part in the decision under appeal" in response.content.decode()
    assert not Decision.objects.filter(appeal=appeal).exists()


def test_a_decided_appeal_cannot_be_decided_again(page_as):
    f = factories.flow_at(S.APPEAL_DECIDED)
    appeal = f.complaint.appeals.get()
    other = factories.user_with_role(Role.HANDLER, "moderation")

    response = page_as(other).post(
        reverse("work-appeal", args=[appeal.pk]),
        {"appeal-outcome": "upheld", "appeal-facts": "x", "appeal-reasons": "y"},
    )

    assert response.status_code == 409


# --- the lead's page -----------------------------------------------------------------------------


def _corrective_action(decided_flow: Any) -> CorrectiveAction:
    """Draw this month's sample and have a supervisor disagree: one open corrective action."""
    start = timezone.localdate().replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    sample = sampling.sample_draw(
        actor=factories.user_with_role(Role.SUPERVISOR),
        period_start=start,
        period_end=end,
        rate=Decimal("1"),
        min_per_stratum=1,
    )
    sampling.review_record(
        actor=factories.user_with_role(Role.SUPERVISOR),
        item=sample.items.get(decision=decided_flow.decision),
        scores={
            "clause_correct": 4,
            "facts_adequate": 4,
            "action_proportionate": 2,
            "deadline_met": 5,
            "reasons_clear": 3,
        },
        verdict="disagree",
        comment="Too harsh for a first offence.",
    )
    return CorrectiveAction.objects.get()


def test_lead_page_shows_load_overdue_and_escalated(lead, page_as):
    assigned = factories.flow_at(S.ASSIGNED)
    late = factories.file_complaint(now=timezone.now() - timedelta(days=10))
    services.sla_breaches_escalate()
    assert SlaBreach.objects.filter(complaint=late).exists()

    response = page_as(lead).get(reverse("lead"))

    assert response.status_code == 200
    html = response.content.decode()
    overdue = html.split('id="overdue-heading"')[1].split('id="escalated-heading"')[0]
    escalated = html.split('id="escalated-heading"')[1].split('id="corrective-heading"')[0]
    assert late.reference in overdue
    assert assigned.complaint.reference not in overdue
    assert late.reference in escalated
    assert assigned.handler.username in html  # the workload by assignee


def test_lead_assign_refuses_an_untriaged_complaint(lead, handler, page_as):
    complaint = factories.file_complaint()
    ref = complaint.reference

    response = page_as(lead).post(
        reverse("lead-assign", args=[ref]), {f"assign-{ref}-assignee": handler.username}
    )

    assert response.status_code == 409
    assert Complaint.objects.get(pk=complaint.pk).assignee is None


def test_lead_closes_a_corrective_action(page_as):
    f = factories.flow_at(S.DECIDED)
    action = _corrective_action(f)
    client = page_as(f.lead)
    url = reverse("lead-close-action", args=[action.pk])

    page = client.get(reverse("lead")).content.decode()
    assert url in page
    assert "Too harsh for a first offence." in page

    # an empty resolution is refused
    refused = client.post(url, {f"close-{action.pk}-resolution": ""})
    assert refused.status_code == 400
    assert CorrectiveAction.objects.get(pk=action.pk).status == "open"

    response = client.post(
        url, {f"close-{action.pk}-resolution": "Coached the handler on proportionality."}
    )
    assert response.status_code == 302
    closed = CorrectiveAction.objects.get(pk=action.pk)
    assert (closed.status, closed.closed_by, closed.resolution) == (
        "closed",
        f.lead,
        "Coached the handler on proportionality.",
    )
    # closing twice is a conflict
    again = client.post(url, {f"close-{action.pk}-resolution": "Again."})
    assert again.status_code == 409


def test_a_lead_of_another_department_cannot_close_the_action(page_as):
    f = factories.flow_at(S.DECIDED)
    action = _corrective_action(f)
    other = factories.user_with_role(Role.DEPARTMENT_LEAD, "copyright")

    response = page_as(other).post(
        reverse("lead-close-action", args=[action.pk]),
        {f"close-{action.pk}-resolution": "Done."},
    )

    assert response.status_code == 404
    assert CorrectiveAction.objects.get(pk=action.pk).status == "open"
