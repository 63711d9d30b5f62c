"""The compliance officer's pages: decision search, ledger-checked audits, and the access log.

Reads only, through the selectors. The audit page checks every ledger entry about a complaint
against the latest signed checkpoint with the ledger's own proof code (`audits.merkle`) and the
checkpoint's signature with `audits.notes`, the same checks the offline bundle verifier makes.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_safe

from audits import selectors as audit_selectors
from audits.choices import EventType
from audits.selectors import AWAITING, FAILED, LedgerCheck
from governance import policies, selectors
from governance.choices import DecisionKind, DecisionOutcome
from governance.models import Category, Department
from privacy import selectors as privacy_selectors

from .access import DateField, page
from .display import paginate


def _day_start(day: date) -> datetime:
    """The first moment of `day` in the time zone the pages show their times in."""
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


class PeriodForm(forms.Form):
    """A from/to pair of days; both optional, `to` inclusive."""

    date_from = DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = DateField(
        label=_("To"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Inclusive."),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", _("Choose a day on or after the first day."))
        return data

    def narrow(self, items: Any, field_name: str) -> Any:
        """Filter `items` to `field_name` within the chosen days (call after is_valid)."""
        start, end = self.cleaned_data.get("date_from"), self.cleaned_data.get("date_to")
        if start:
            items = items.filter(**{f"{field_name}__gte": _day_start(start)})
        if end:
            items = items.filter(**{f"{field_name}__lt": _day_start(end + timedelta(days=1))})
        return items


# --- decision search -----------------------------------------------------------------------------


class DecisionSearchForm(PeriodForm):
    department = forms.ModelChoiceField(
        label=_("Department"),
        queryset=Department.objects.none(),
        required=False,
        to_field_name="code",
    )
    category = forms.ModelChoiceField(
        label=_("Category"), queryset=Category.objects.none(), required=False, to_field_name="code"
    )
    outcome = forms.ChoiceField(label=_("Outcome"), required=False)
    kind = forms.ChoiceField(label=_("Kind"), required=False)
    decider = forms.CharField(
        label=_("Decided by"), required=False, max_length=150, help_text=_("A username.")
    )

    field_order = ["date_from", "date_to", "department", "category", "outcome", "kind", "decider"]

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["date_from"].label = _("Decided from")
        self.fields["date_to"].label = _("Decided to")
        self.fields["department"].queryset = selectors.department_list(user=user)  # type: ignore[attr-defined]
        self.fields["category"].queryset = selectors.category_list(user=user)  # type: ignore[attr-defined]
        self.fields["outcome"].choices = [("", _("Any outcome")), *DecisionOutcome.choices]  # type: ignore[attr-defined]
        self.fields["kind"].choices = [("", _("Any kind")), *DecisionKind.choices]  # type: ignore[attr-defined]

    def narrow_decisions(self, decisions: Any) -> Any:
        data = self.cleaned_data
        decisions = self.narrow(decisions, "decided_at")
        if data.get("department"):
            decisions = decisions.filter(complaint__department=data["department"])
        if data.get("category"):
            decisions = decisions.filter(complaint__category=data["category"])
        if data.get("outcome"):
            decisions = decisions.filter(outcome=data["outcome"])
        if data.get("kind"):
            decisions = decisions.filter(kind=data["kind"])
        if data.get("decider", "").strip():
            decisions = decisions.filter(decided_by__username=data["decider"].strip())
        return decisions


@require_safe
@page(policies.can_audit_records)
def decision_search(request: HttpRequest) -> HttpResponse:
    """Search every decision by period, department, category, outcome, kind and decider."""
    form = DecisionSearchForm(request.GET or None, user=request.user)
    decisions = selectors.decision_list(user=request.user)
    status = 200
    if form.is_bound:
        if form.is_valid():
            decisions = form.narrow_decisions(decisions)
        else:
            decisions = decisions.none()
            status = 400
    decisions = decisions.order_by("-decided_at", "-pk")
    return render(
        request,
        "ombud/compliance/decision_search.html",
        {"form": form, "page_obj": paginate(request, decisions)},
        status=status,
    )


# --- audit of one complaint ----------------------------------------------------------------------


KIND_LABELS = {
    "history": _("Record changed"),
    "transition": _("Status change"),
    "assignment": _("Assignment"),
    "decision": _("Decision"),
    "appeal": _("Appeal"),
}


def _match_timeline(timeline: list[Any], checks: list[LedgerCheck]) -> list[dict[str, Any]]:
    """Pair each timeline entry with the ledger entries that record the same event."""
    by_ref: dict[str, list[LedgerCheck]] = defaultdict(list)
    transitions: dict[tuple[str, str, datetime], list[LedgerCheck]] = defaultdict(list)
    received: list[LedgerCheck] = []
    assigned: dict[datetime, list[LedgerCheck]] = defaultdict(list)
    for check in checks:
        entry = check.entry
        by_ref[entry.object_ref].append(check)
        data = check.doc.get("data") or {}
        if entry.event_type == EventType.COMPLAINT_TRANSITIONED:
            key = (str(data.get("from")), str(data.get("to")), entry.recorded_at)
            transitions[key].append(check)
        elif entry.event_type == EventType.COMPLAINT_RECEIVED:
            received.append(check)
        elif entry.event_type == EventType.COMPLAINT_ASSIGNED:
            assigned[entry.recorded_at].append(check)
    rows = []
    for item in timeline:
        ledger: list[LedgerCheck] = []
        if item.kind == "transition":
            key = (str(item.details.get("from")), str(item.details.get("to")), item.at)
            ledger = transitions.get(key, [])
        elif item.kind == "decision":
            ledger = by_ref.get(f"decision:{item.details.get('decision')}", [])
        elif item.kind == "appeal":
            ledger = by_ref.get(f"appeal:{item.details.get('appeal')}", [])
        elif item.kind == "assignment":
            ledger = assigned.get(item.at, [])
        elif item.kind == "history" and item.details.get("type") == "+":
            ledger = received
        rows.append({"item": item, "kind": KIND_LABELS.get(item.kind, item.kind), "ledger": ledger})
    return rows


@require_safe
@page(policies.can_audit_records)
def audit_complaint(request: HttpRequest, reference: str) -> HttpResponse:
    """A complaint's whole history, each ledger-recorded step checked against the ledger."""
    complaint = selectors.complaint_get(user=request.user, reference=reference)
    timeline = selectors.complaint_timeline(user=request.user, reference=reference)
    checks = audit_selectors.ledger_entry_checks(
        user=request.user, object_refs=selectors.complaint_ledger_refs(reference=reference)
    )
    return render(
        request,
        "ombud/compliance/audit_complaint.html",
        {
            "complaint": complaint,
            "rows": _match_timeline(timeline, checks),
            "checks": checks,
            "failed": sum(1 for c in checks if c.state == FAILED),
            "awaiting": sum(1 for c in checks if c.state == AWAITING),
        },
    )


@require_safe
@page(policies.can_audit_records)
def audit_evidence(request: HttpRequest, reference: str) -> HttpResponse:
    """Download the complaint's evidence bundle, as the API's evidence endpoint returns it."""
    bundle = selectors.complaint_evidence(user=request.user, reference=reference)
    response = HttpResponse(
        json.dumps(bundle, ensure_ascii=False, indent=2),
        content_type="application/json; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{reference}-evidence.json"'
    return response


# --- access log ------------------------------------------------------------------------------


class AccessLogForm(PeriodForm):
    subject = forms.CharField(
        label=_("Subject pseudonym"), required=False, max_length=64, help_text=_("Exact match.")
    )

    field_order = ["subject", "date_from", "date_to"]


@require_safe
@page(policies.can_read_access_log)
def access_log(request: HttpRequest) -> HttpResponse:
    """Who decrypted whose personal data, when and for what purpose, newest first."""
    form = AccessLogForm(request.GET or None)
    reads = privacy_selectors.access_log_list(user=request.user)
    status = 200
    if form.is_bound:
        if form.is_valid():
            reads = form.narrow(reads, "at")
            if form.cleaned_data["subject"].strip():
                reads = reads.filter(subject__pseudonym=form.cleaned_data["subject"].strip())
        else:
            reads = reads.none()
            status = 400
    page_obj = paginate(request, reads)
    # A read of a complaint's description names the note; find those complaints in one query.
    uids = [u for u in (_uid(r.record) for r in page_obj) if u is not None]
    complaints: dict[str, str] = {}
    if uids:
        described = (
            selectors.complaint_list(user=request.user)
            .filter(description__uid__in=uids)
            .values_list("description__uid", "reference")
        )
        complaints = {f"note:{uid}": reference for uid, reference in described}
    rows = [{"read": r, "complaint": complaints.get(r.record)} for r in page_obj.object_list]
    return render(
        request,
        "ombud/compliance/access_log.html",
        {"form": form, "page_obj": page_obj, "rows": rows},
        status=status,
    )


def _uid(record: str) -> uuid.UUID | None:
    """The note uid in a `note:<uid>` record name, or None if it is not one."""
    if not record.startswith("note:"):
        return None
    try:
        return uuid.UUID(record.removeprefix("note:"))
    except ValueError:
        return None


urlpatterns = [
    path("decisions/", decision_search, name="decision-search"),
    path("complaints/<str:reference>/", audit_complaint, name="audit-complaint"),
    path("complaints/<str:reference>/evidence.json", audit_evidence, name="audit-evidence"),
    path("access-log/", access_log, name="access-log"),
]
