"""The handler's and department lead's pages: the queue, one complaint's work page with the
actions its status allows, appeals to decide, and the lead's overview of the department.

Reads go through the selectors, writes through the services, exactly as the API does; a
service's refusal is put on the form that was sent, at the refusal's status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.db.models import Count, F, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from audits import sampling
from audits import selectors as audit_selectors
from audits.choices import CorrectiveActionStatus
from governance import deadlines, policies, selectors, services
from governance.choices import (
    PRIORITY_MATRIX,
    TERRITORIES,
    AppealOutcome,
    AppealStatus,
    AutomatedDecision,
    ComplaintStatus,
    DecisionAction,
    DecisionGround,
    DecisionOutcome,
    Role,
    Severity,
    Urgency,
)
from governance.errors import DomainError, NotFound
from governance.models import Appeal, Complaint, ComplaintQuerySet, PolicyClause, SlaBreach
from privacy import vault
from privacy.choices import AccessPurpose

from .access import DateField, apply_errors, page
from .display import complaint_due, due, paginate

S = ComplaintStatus
# What the queue shows: everything still owed a step (closed, withdrawn and decided appeals
# are done with).
QUEUE_STATUSES = [
    S.RECEIVED,
    S.ACKNOWLEDGED,
    S.TRIAGED,
    S.ASSIGNED,
    S.INVESTIGATING,
    S.DECIDED,
    S.APPEALED,
]
UNASSIGNED = "-"


def _open_complaints(user: Any) -> ComplaintQuerySet:
    return (
        selectors.complaint_list(user=user)
        .filter(status__in=[str(s) for s in QUEUE_STATUSES])
        .with_pending_due()
        .order_by(F("pending_due").asc(nulls_last=True), "received_at", "pk")
    )


def _staff_of(user: Any, department_ids: Any) -> Any:
    return selectors.department_staff_list(user=user, department_ids=department_ids)


def _lead_department_ids(user: Any) -> frozenset[int]:
    return policies.roles_of(user).department_ids(Role.DEPARTMENT_LEAD)


def _staff_department_ids(user: Any) -> frozenset[int]:
    return policies.roles_of(user).department_ids(Role.HANDLER, Role.DEPARTMENT_LEAD)


# --- forms ---------------------------------------------------------------------------------------


def _note_field(label: Any = None) -> forms.CharField:
    return forms.CharField(
        label=label or gettext_lazy("Note for the record (optional)"),
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class QueueFilterForm(forms.Form):
    status = forms.ChoiceField(label=gettext_lazy("Status"), required=False)
    assignee = forms.ChoiceField(label=gettext_lazy("Assignee"), required=False)

    def __init__(self, *args: Any, staff: list[Any] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["status"]).choices = [("", _("Any open status"))] + [
            (s.value, s.label) for s in QUEUE_STATUSES
        ]
        if staff is None:
            del self.fields["assignee"]
        else:
            cast(forms.ChoiceField, self.fields["assignee"]).choices = [
                ("", _("Anyone")),
                (UNASSIGNED, _("Unassigned")),
                *[(u.get_username(), u.get_username()) for u in staff],
            ]


class ReasonForm(forms.Form):
    reason = _note_field()


class TriageForm(forms.Form):
    category: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        queryset=None, label=gettext_lazy("Category")
    )
    department: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        queryset=None,
        label=gettext_lazy("Department"),
        required=False,
        empty_label=gettext_lazy("The category's department"),
        help_text=gettext_lazy("Moving the complaint to another department needs a reason."),
    )
    severity = forms.ChoiceField(label=gettext_lazy("Severity"), choices=Severity.choices)
    urgency = forms.ChoiceField(label=gettext_lazy("Urgency"), choices=Urgency.choices)
    reason = _note_field(gettext_lazy("Reason (required when the department changes)"))

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = selectors.category_list(user=user)  # type: ignore[attr-defined]
        self.fields["department"].queryset = selectors.department_list(user=user)  # type: ignore[attr-defined]


class AssignForm(forms.Form):
    assignee = forms.ChoiceField(label=gettext_lazy("Handler"))
    reason = _note_field(gettext_lazy("Reason (required when reassigning)"))

    def __init__(self, *args: Any, staff: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["assignee"]).choices = [
            (u.get_username(), u.get_username()) for u in staff
        ]


def _clauses(user: Any) -> QuerySet[PolicyClause]:
    """The published clause versions in force today, for the clause picker."""
    today = deadlines.business_date(timezone.now())
    return (
        selectors.policy_clause_list(user=user)
        .filter(effective_from__lte=today)
        .filter(Q(effective_to__isnull=True) | Q(effective_to__gte=today))
        .order_by("code", "-version")
    )


_TERRITORY_CHOICES = [(code, code) for code in sorted(TERRITORIES)]


class DecisionContentForm(forms.Form):
    """The content of a decision, field for field as `services.decision_record` takes it."""

    actions = forms.MultipleChoiceField(
        label=gettext_lazy("Actions taken"),
        choices=DecisionAction.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("Only for an upheld or partially upheld complaint."),
    )
    restriction_end = DateField(
        label=gettext_lazy("End of the restriction"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=gettext_lazy("For a temporary restriction such as a suspension."),
    )
    territorial_scope = forms.MultipleChoiceField(
        label=gettext_lazy("Territories where it applies"),
        choices=_TERRITORY_CHOICES,
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
        help_text=gettext_lazy("Leave empty for everywhere."),
    )
    policy_clause: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        queryset=None, label=gettext_lazy("Policy clause applied")
    )
    ground = forms.ChoiceField(
        label=gettext_lazy("Ground"),
        choices=DecisionGround.choices,
        initial=DecisionGround.TERMS_OF_SERVICE,
    )
    ground_reference = forms.CharField(
        label=gettext_lazy("Legal provision"),
        max_length=500,
        required=False,
        help_text=gettext_lazy("Required when the content is illegal under the law."),
    )
    facts = forms.CharField(
        label=gettext_lazy("Facts"), max_length=5000, widget=forms.Textarea(attrs={"rows": 4})
    )
    reasons = forms.CharField(
        label=gettext_lazy("Reasons given to the complainant"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["policy_clause"].queryset = _clauses(user)  # type: ignore[attr-defined]


class DecideForm(DecisionContentForm):
    outcome = forms.ChoiceField(label=gettext_lazy("Outcome"), choices=DecisionOutcome.choices)
    automated_detection = forms.BooleanField(
        label=gettext_lazy("The content was detected by automated means"), required=False
    )
    automated_decision = forms.ChoiceField(
        label=gettext_lazy("Automation in the decision"),
        choices=AutomatedDecision.choices,
        initial=AutomatedDecision.NOT_AUTOMATED,
    )

    field_order = [
        "outcome",
        "policy_clause",
        "ground",
        "ground_reference",
        "facts",
        "reasons",
        "actions",
        "restriction_end",
        "territorial_scope",
        "automated_detection",
        "automated_decision",
    ]


class AppealDecideForm(DecisionContentForm):
    outcome = forms.ChoiceField(label=gettext_lazy("Appeal outcome"), choices=AppealOutcome.choices)
    decision_outcome = forms.ChoiceField(
        label=gettext_lazy("New decision outcome"),
        choices=[("", gettext_lazy("Keep the original outcome")), *DecisionOutcome.choices],
        required=False,
        help_text=gettext_lazy("Required when reversing or modifying the decision."),
    )
    field_order = [
        "outcome",
        "facts",
        "reasons",
        "decision_outcome",
        "actions",
        "restriction_end",
        "territorial_scope",
        "policy_clause",
        "ground",
        "ground_reference",
    ]

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, user=user, **kwargs)
        clause = self.fields["policy_clause"]
        clause.required = False
        clause.empty_label = _("Keep the original clause")  # type: ignore[attr-defined]
        clause.help_text = _("Only when the decision now rests on another clause.")
        ground = self.fields["ground"]
        ground.required = False
        ground.choices = [("", _("Keep the original ground")), *DecisionGround.choices]  # type: ignore[attr-defined]
        ground.initial = ""


class ResolutionForm(forms.Form):
    resolution = forms.CharField(
        label=gettext_lazy("What was done"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


# --- the actions of the work page ----------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """One handling action: the status it leads to, its heading and its button."""

    name: str
    to_status: str
    title: Any
    button: Any


ACTIONS = {
    a.name: a
    for a in [
        Action(
            "acknowledge",
            S.ACKNOWLEDGED,
            gettext_lazy("Acknowledge receipt"),
            gettext_lazy("Acknowledge"),
        ),
        Action("triage", S.TRIAGED, gettext_lazy("Triage"), gettext_lazy("Save triage")),
        Action("assign", S.ASSIGNED, gettext_lazy("Assign"), gettext_lazy("Assign")),
        Action(
            "investigate",
            S.INVESTIGATING,
            gettext_lazy("Start the investigation"),
            gettext_lazy("Start investigating"),
        ),
        Action("decide", S.DECIDED, gettext_lazy("Decide"), gettext_lazy("Record the decision")),
        Action("close", S.CLOSED, gettext_lazy("Close"), gettext_lazy("Close the complaint")),
    ]
}


def _assign_choices(user: Any, complaint: Complaint) -> list[Any]:
    """Whom `user` may assign the complaint to: anyone of the department for its lead,
    themselves for a handler."""
    if complaint.department_id in _lead_department_ids(user):
        return list(
            selectors.department_staff_list(user=user, department_ids=[complaint.department_id])
        )
    return [user]


def _action_form(
    name: str, request: HttpRequest, complaint: Complaint, data: Any = None
) -> forms.Form:
    user = request.user
    if name == "triage":
        return TriageForm(
            data,
            prefix=name,
            user=user,
            initial={
                "category": complaint.category_id,
                "severity": complaint.severity,
                "urgency": complaint.urgency,
            },
        )
    if name == "assign":
        return AssignForm(data, prefix=name, staff=_assign_choices(user, complaint))
    if name == "decide":
        return DecideForm(data, prefix=name, user=user)
    return ReasonForm(data, prefix=name)


def action_labels(codes: list[str]) -> str:
    """Name a decision's actions in the reader's language."""
    labels = dict(DecisionAction.choices)
    return ", ".join(str(labels.get(code, code)) for code in codes)


def _purpose(user: Any, complaint: Complaint) -> AccessPurpose:
    """Say why `user` reads the complaint's personal data, for the access log."""
    if complaint.complainant.user_id == user.pk:
        return AccessPurpose.OWN_DATA
    if policies.can_handle_complaint(user, complaint):
        return AccessPurpose.CASE_HANDLING
    return AccessPurpose.COMPLIANCE_AUDIT


def _personal_data(user: Any, complaint: Complaint) -> dict[str, Any] | None:
    """Decrypt the complainant's contact and the description (each read checked and logged)."""
    if not policies.can_see_personal_data(user, complaint):
        return None
    purpose = _purpose(user, complaint)
    contact = vault.reveal_subject(
        user, complaint.complainant, purpose=purpose, complaint=complaint
    )
    note = vault.reveal_note(user, complaint.description, purpose=purpose, complaint=complaint)
    return {
        "state": contact.state,
        "contact": contact.values if contact.readable else None,
        "description": note.get("text"),
    }


def _complaint_page(
    request: HttpRequest,
    complaint: Complaint,
    failed: tuple[str, forms.Form] | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    names = [a.name for a in ACTIONS.values() if a.to_status in complaint.allowed_next()]
    if failed is not None and failed[0] not in names:
        names.append(failed[0])
    forms_by_name = {name: _action_form(name, request, complaint) for name in names}
    if failed is not None:
        forms_by_name[failed[0]] = failed[1]
    actions = [
        {
            "name": name,
            "title": ACTIONS[name].title,
            "button": ACTIONS[name].button,
            "form": forms_by_name[name],
        }
        for name in names
        # Only the assigned handler or a lead decides; others are not offered the form.
        if name != "decide"
        or policies.can_decide_complaint(user, complaint)
        or (failed is not None and failed[0] == name)
    ]
    context = {
        "complaint": complaint,
        "due": complaint_due(complaint, timezone.now()),
        "personal": _personal_data(user, complaint),
        "assignee": complaint.assignee.get_username() if complaint.assignee else None,
        "timeline": selectors.complaint_timeline(user=user, reference=complaint.reference),
        "decisions": [
            {"decision": d, "actions": action_labels(d.actions)}
            for d in selectors.decision_list(user=user).filter(complaint=complaint)
        ],
        "actions": actions,
        "matrix": _matrix(),
    }
    return render(request, "ombud/handling/complaint.html", context, status=status)


def _matrix() -> list[dict[str, Any]]:
    """The priority each severity and urgency gives, for the triage form's table."""
    return [
        {
            "severity": severity.label,
            "cells": [PRIORITY_MATRIX[severity][urgency] for urgency in Urgency],
        }
        for severity in Severity
    ]


def _call(name: str, request: HttpRequest, complaint: Complaint, form: forms.Form) -> Any:
    """Call the service behind action `name` with the form's cleaned data."""
    actor = request.user
    data = form.cleaned_data
    if name == "acknowledge":
        return services.complaint_acknowledge(
            actor=actor, complaint=complaint, reason=data["reason"]
        )
    if name == "triage":
        return services.complaint_triage(
            actor=actor,
            complaint=complaint,
            category=data["category"],
            department=data["department"],
            severity=data["severity"],
            urgency=data["urgency"],
            reason=data["reason"],
        )
    if name == "assign":
        assignee = selectors.assignee_get(complaint=complaint, username=data["assignee"])
        return services.complaint_assign(
            actor=actor, complaint=complaint, assignee=assignee, reason=data["reason"]
        )
    if name == "investigate":
        return services.complaint_start_investigation(
            actor=actor, complaint=complaint, reason=data["reason"]
        )
    if name == "decide":
        return services.decision_record(
            actor=actor,
            complaint=complaint,
            outcome=data["outcome"],
            policy_clause=data["policy_clause"],
            facts=data["facts"],
            reasons=data["reasons"],
            ground=data["ground"],
            ground_reference=data["ground_reference"],
            actions=data["actions"],
            automated_detection=data["automated_detection"],
            automated_decision=data["automated_decision"],
            territorial_scope=data["territorial_scope"],
            restriction_end=data["restriction_end"],
        )
    return services.complaint_close(actor=actor, complaint=complaint, reason=data["reason"])


_DONE = {
    "acknowledge": gettext_lazy("Receipt of %s acknowledged."),
    "triage": gettext_lazy("%s triaged."),
    "assign": gettext_lazy("%s assigned."),
    "investigate": gettext_lazy("Investigation of %s started."),
    "decide": gettext_lazy("Decision on %s recorded."),
    "close": gettext_lazy("%s closed."),
}


# --- views: queue and complaint ------------------------------------------------------------------


@page(policies.can_work_complaints)
@require_safe
def queue(request: HttpRequest) -> HttpResponse:
    """The complaints the handler or lead may work, the nearest pending deadline first."""
    user = request.user
    leads = _lead_department_ids(user)
    staff = (
        list(selectors.department_staff_list(user=user, department_ids=leads)) if leads else None
    )
    filters = QueueFilterForm(request.GET or None, staff=staff)
    complaints = _open_complaints(user)
    if filters.is_valid():
        if filters.cleaned_data.get("status"):
            complaints = complaints.filter(status=filters.cleaned_data["status"])
        assignee = filters.cleaned_data.get("assignee")
        if assignee == UNASSIGNED:
            complaints = complaints.filter(assignee__isnull=True)
        elif assignee:
            complaints = complaints.filter(assignee__username=assignee)
    page_obj = paginate(request, complaints)
    now = timezone.now()
    rows = [{"complaint": c, "due": due(c.pending_due, now)} for c in page_obj]  # type: ignore[attr-defined]
    context = {"filters": filters, "rows": rows, "page_obj": page_obj}
    return render(request, "ombud/handling/queue.html", context)


@page(policies.can_work_complaints)
@require_safe
def work_complaint(request: HttpRequest, reference: str) -> HttpResponse:
    """One complaint: its facts, personal data where allowed, timeline and next actions."""
    complaint = selectors.complaint_get(user=request.user, reference=reference)
    return _complaint_page(request, complaint)


@page(policies.can_work_complaints)
@require_POST
def work_complaint_action(request: HttpRequest, reference: str, action: str) -> HttpResponse:
    """Take one handling step on a complaint through its service."""
    if action not in ACTIONS:
        raise NotFound(_("There is no such action on a complaint."))
    complaint = selectors.complaint_get(user=request.user, reference=reference)
    form = _action_form(action, request, complaint, request.POST)
    if not form.is_valid():
        return _complaint_page(request, complaint, failed=(action, form), status=400)
    try:
        result = _call(action, request, complaint, form)
    except DomainError as exc:
        apply_errors(form, exc)
        fresh = selectors.complaint_get(user=request.user, reference=reference)
        return _complaint_page(request, fresh, failed=(action, form), status=exc.status_code)
    messages.success(request, _DONE[action] % reference)
    moved = isinstance(result, Complaint) and not policies.can_handle_complaint(
        request.user, result
    )
    if moved:
        # Triaged into another department: it has left this user's queue.
        return redirect("queue")
    return redirect("work-complaint", reference=reference)


# --- views: appeals ------------------------------------------------------------------------------


def _open_appeals(user: Any) -> QuerySet[Appeal]:
    return (
        selectors.appeal_list(user=user)
        .filter(status=AppealStatus.OPEN)
        .select_related("complaint__department", "complaint__category", "decision")
        .order_by("filed_at", "pk")
    )


@page(policies.can_work_complaints)
@require_safe
def appeals_queue(request: HttpRequest) -> HttpResponse:
    """The open appeals of the user's departments, oldest first."""
    departments = _staff_department_ids(request.user)
    appeals = _open_appeals(request.user).filter(complaint__department_id__in=sorted(departments))
    page_obj = paginate(request, appeals)
    return render(request, "ombud/handling/appeals.html", {"page_obj": page_obj})


def _appeal_page(
    request: HttpRequest, appeal: Appeal, form: forms.Form | None = None, status: int = 200
) -> HttpResponse:
    user = request.user
    statement = None
    if policies.can_read_appeal_statement(user, appeal):
        statement = vault.reveal_note(
            user, appeal.statement, purpose=_purpose(user, appeal.complaint), appeal=appeal
        )
    context = {
        "appeal": appeal,
        "complaint": appeal.complaint,
        "decision": appeal.decision,
        "decision_actions": action_labels(appeal.decision.actions),
        "decided_by": appeal.decision.decided_by.get_username(),
        "statement": statement,
        "form": form
        or (AppealDecideForm(prefix="appeal", user=user) if appeal.status == "open" else None),
    }
    return render(request, "ombud/handling/appeal.html", context, status=status)


def _appeal_get(user: Any, pk: int) -> Appeal:
    appeal = selectors.appeal_get(user=user, pk=pk)
    if not policies.can_decide_appeal(user, appeal):
        # Visible (say, the user's own appeal as a complainant) but not theirs to decide.
        raise NotFound(_("No appeal %s is yours to decide.") % pk)
    return appeal


@page(policies.can_work_complaints)
@require_http_methods(["GET", "HEAD", "POST"])
def work_appeal(request: HttpRequest, pk: int) -> HttpResponse:
    """One appeal: the statement, the decision under appeal, and the form to decide it."""
    user = request.user
    appeal = _appeal_get(user, pk)
    if request.method != "POST":
        return _appeal_page(request, appeal)
    form = AppealDecideForm(request.POST, prefix="appeal", user=user)
    if not form.is_valid():
        return _appeal_page(request, appeal, form, status=400)
    data = form.cleaned_data
    upheld = data["outcome"] == AppealOutcome.UPHELD
    try:
        services.appeal_decide(
            actor=user,
            appeal=appeal,
            outcome=data["outcome"],
            facts=data["facts"],
            reasons=data["reasons"],
            decision_outcome=data["decision_outcome"] or None,
            # Upholding keeps the original actions; otherwise the boxes ticked are the new ones.
            actions=None if upheld else data["actions"],
            policy_clause=data["policy_clause"],
            ground=data["ground"] or None,
            ground_reference=data["ground_reference"] or None,
            territorial_scope=data["territorial_scope"] or None,
            restriction_end=data["restriction_end"],
        )
    except DomainError as exc:
        apply_errors(form, exc)
        return _appeal_page(request, _appeal_get(user, pk), form, status=exc.status_code)
    messages.success(request, _("Appeal %s decided.") % appeal.pk)
    return redirect("appeals-queue")


# --- views: the department lead ------------------------------------------------------------------


def _lead_page(
    request: HttpRequest,
    failed_assign: tuple[str, forms.Form] | None = None,
    failed_close: tuple[int, forms.Form] | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    departments = sorted(_lead_department_ids(user))
    staff = list(_staff_of(user, departments))
    complaints = _open_complaints(user).filter(department_id__in=departments)
    now = timezone.now()
    by_assignee = (
        complaints.exclude(assignee__isnull=True)
        .values("assignee__username")
        .annotate(n=Count("pk"))
        .order_by("assignee__username")
    )
    unassigned = []
    for c in complaints.filter(assignee__isnull=True):
        form: forms.Form | None = None
        if c.status == S.TRIAGED:
            form = AssignForm(prefix=f"assign-{c.reference}", staff=staff)
            if failed_assign is not None and failed_assign[0] == c.reference:
                form = failed_assign[1]
        unassigned.append({"complaint": c, "due": due(c.pending_due, now), "form": form})  # type: ignore[attr-defined]
    overdue = [
        {"complaint": c, "due": due(c.pending_due, now)}  # type: ignore[attr-defined]
        for c in complaints.pending_overdue(now)
    ]
    breaches = (
        SlaBreach.objects.filter(
            complaint__in=selectors.complaint_list(user=user).filter(
                department_id__in=departments, status__in=[str(s) for s in QUEUE_STATUSES]
            )
        )
        .select_related("complaint")
        .order_by("-detected_at", "-pk")
    )
    corrective = []
    for action in audit_selectors.corrective_action_list(user=user):
        form = None
        if action.status == CorrectiveActionStatus.OPEN:
            form = ResolutionForm(prefix=f"close-{action.pk}")
            if failed_close is not None and failed_close[0] == action.pk:
                form = failed_close[1]
        corrective.append({"action": action, "form": form})
    context = {
        "open_count": complaints.count(),
        "by_assignee": by_assignee,
        "unassigned": unassigned,
        "overdue": overdue,
        "breaches": breaches,
        "corrective": corrective,
    }
    return render(request, "ombud/handling/lead.html", context, status=status)


@page(policies.can_lead_department)
@require_safe
def lead(request: HttpRequest) -> HttpResponse:
    """The lead's department: workload by assignee, unassigned, overdue and escalated
    complaints, and the corrective actions owed."""
    return _lead_page(request)


@page(policies.can_lead_department)
@require_POST
def lead_assign(request: HttpRequest, reference: str) -> HttpResponse:
    """Assign a triaged complaint to a handler of the department."""
    user = request.user
    complaint = selectors.complaint_get(user=user, reference=reference)
    if complaint.department_id not in _lead_department_ids(user):
        raise NotFound(_("No complaint %s is in a department you lead.") % reference)
    staff = list(
        selectors.department_staff_list(user=user, department_ids=[complaint.department_id])
    )
    form = AssignForm(request.POST, prefix=f"assign-{reference}", staff=staff)
    if not form.is_valid():
        return _lead_page(request, failed_assign=(reference, form), status=400)
    try:
        assignee = selectors.assignee_get(
            complaint=complaint, username=form.cleaned_data["assignee"]
        )
        services.complaint_assign(
            actor=user, complaint=complaint, assignee=assignee, reason=form.cleaned_data["reason"]
        )
    except DomainError as exc:
        apply_errors(form, exc)
        return _lead_page(request, failed_assign=(reference, form), status=exc.status_code)
    messages.success(
        request,
        _("%(ref)s assigned to %(user)s.") % {"ref": reference, "user": assignee.get_username()},
    )
    return redirect("lead")


@page(policies.can_lead_department)
@require_POST
def lead_close_action(request: HttpRequest, pk: int) -> HttpResponse:
    """Close a corrective action of the department, saying what was done."""
    user = request.user
    action = audit_selectors.corrective_action_get(user=user, pk=pk)
    form = ResolutionForm(request.POST, prefix=f"close-{pk}")
    if not form.is_valid():
        return _lead_page(request, failed_close=(pk, form), status=400)
    try:
        sampling.corrective_action_close(
            actor=user, action=action, resolution=form.cleaned_data["resolution"]
        )
    except DomainError as exc:
        apply_errors(form, exc)
        return _lead_page(request, failed_close=(pk, form), status=exc.status_code)
    messages.success(request, _("Corrective action %s closed.") % pk)
    return redirect("lead")


urlpatterns = [
    path("", queue, name="queue"),
    path("complaints/<str:reference>/", work_complaint, name="work-complaint"),
    path(
        "complaints/<str:reference>/<str:action>/",
        work_complaint_action,
        name="work-complaint-action",
    ),
    path("appeals/", appeals_queue, name="appeals-queue"),
    path("appeals/<int:pk>/", work_appeal, name="work-appeal"),
    path("lead/", lead, name="lead"),
    path("lead/assign/<str:reference>/", lead_assign, name="lead-assign"),
    path("lead/actions/<int:pk>/close/", lead_close_action, name="lead-close-action"),
]
