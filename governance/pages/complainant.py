"""The complainant's pages: file a complaint, follow it, read the decision, appeal, rate, withdraw.

Mounted under /my/. Reads go through `governance.selectors` (scoped by `visible_to`), writes through
`governance.services`; the complainant's own words, stored encrypted, are opened through
`privacy.vault`, which checks and logs every read, exactly as the API's serializers do.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from governance import deadlines, policies, selectors, services
from governance.choices import (
    AutomatedDecision,
    Channel,
    ComplaintStatus,
    DecisionAction,
)
from governance.errors import DomainError, NotFound
from governance.models import Appeal, Category, Complaint, Decision
from governance.security_log import client_ip
from privacy import vault
from privacy.choices import AccessPurpose

from .access import form_failed, page
from .display import complaint_due, localised_name

LIST_TEMPLATE = "ombud/complainant/list.html"
NEW_TEMPLATE = "ombud/complainant/new.html"
DETAIL_TEMPLATE = "ombud/complainant/detail.html"


# --- forms -------------------------------------------------------------------------------------


class CategoryChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Category) -> str:
        return localised_name(obj)


class ComplaintForm(forms.Form):
    category = CategoryChoiceField(
        label=gettext_lazy("What is the complaint about?"),
        queryset=Category.objects.none(),
        empty_label=gettext_lazy("Choose a category"),
    )
    description = forms.CharField(
        label=gettext_lazy("What happened?"),
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=gettext_lazy(
            "Describe the content or the service and why it is a problem. "
            "It is stored encrypted and shown only to the people handling your complaint."
        ),
    )
    content_url = forms.URLField(
        label=gettext_lazy("Link to the content"),
        max_length=500,
        required=False,
        assume_scheme="https",
        help_text=gettext_lazy("Optional: the address of the video, post or page."),
    )
    content_id = forms.CharField(
        label=gettext_lazy("Content ID"),
        max_length=200,
        required=False,
        help_text=gettext_lazy("Optional: the ID the platform shows for the content."),
    )
    affected_account_handle = forms.CharField(
        label=gettext_lazy("Account complained about"),
        max_length=200,
        required=False,
        help_text=gettext_lazy("Optional: the handle of the account, for example @name."),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["category"]
        assert isinstance(field, CategoryChoiceField)  # noqa: S101
        field.queryset = selectors.category_list(user=user).order_by("name")


class AppealForm(forms.Form):
    decision = forms.IntegerField(widget=forms.HiddenInput)
    statement = forms.CharField(
        label=gettext_lazy("Why should the decision change?"),
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=gettext_lazy(
            "A person who took no part in the decision reviews your appeal. You can appeal once."
        ),
    )


class RateForm(forms.Form):
    score = forms.TypedChoiceField(
        label=gettext_lazy("How well was your complaint handled?"),
        coerce=int,
        choices=[
            ("", gettext_lazy("Choose a score")),
            (5, gettext_lazy("5: very well")),
            (4, gettext_lazy("4: well")),
            (3, gettext_lazy("3: acceptably")),
            (2, gettext_lazy("2: poorly")),
            (1, gettext_lazy("1: very poorly")),
        ],
    )
    comment = forms.CharField(
        label=gettext_lazy("Comment"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("Optional. You can rate once."),
    )


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Why do you withdraw the complaint?"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


# --- reading -----------------------------------------------------------------------------------


def _own_complaints(user: Any) -> Any:
    """The complaints the user filed, and those about their own account, newest first."""
    return (
        selectors.complaint_list(user=user)
        .filter(Q(complainant__user=user) | Q(affected_subject__user=user))
        .order_by("-received_at", "-pk")
    )


def _own_complaint(user: Any, reference: str) -> Complaint:
    complaint = _own_complaints(user).filter(reference=reference).first()
    if complaint is None:
        raise NotFound(_("No complaint %s is visible to you; check the reference.") % reference)
    return complaint


def _action_labels(actions: Any) -> list[str]:
    labels = dict(DecisionAction.choices)
    return [str(labels.get(a, a)) for a in actions or []]


def _appeal_deadline(decision: Decision) -> datetime:
    return deadlines.add_months(decision.decided_at, int(settings.OMBUD_APPEAL_WINDOW_MONTHS))


def _may_appeal(user: Any, complaint: Complaint, current: Decision | None, appeals: list) -> bool:
    """Whether the appeal form is offered: the service decides, this only avoids a dead form."""
    return (
        current is not None
        and not appeals
        and complaint.status in (ComplaintStatus.DECIDED, ComplaintStatus.CLOSED)
        and policies.can_appeal_complaint(user, complaint)
        and timezone.now() <= _appeal_deadline(current)
    )


def _detail_context(
    request: HttpRequest,
    complaint: Complaint,
    *,
    appeal_form: AppealForm | None = None,
    rate_form: RateForm | None = None,
    withdraw_form: WithdrawForm | None = None,
) -> dict[str, Any]:
    user = request.user
    own = complaint.complainant.user_id == user.pk
    description = None
    if policies.can_see_personal_data(user, complaint):
        description = vault.reveal_note(
            user, complaint.description, purpose=AccessPurpose.OWN_DATA, complaint=complaint
        )

    decisions = list(
        selectors.decision_list(user=user).filter(complaint=complaint).order_by("decided_at", "pk")
    )
    current = next((d for d in reversed(decisions) if not _superseded(d)), None)
    decision_rows = [
        {
            "decision": d,
            "actions": _action_labels(d.actions),
            "automated": d.automated_decision != AutomatedDecision.NOT_AUTOMATED,
            "in_force": current is not None and d.pk == current.pk,
        }
        for d in decisions
    ]

    appeals: list[Appeal] = list(
        selectors.appeal_list(user=user).filter(complaint=complaint).order_by("filed_at", "pk")
    )
    appeal_rows = []
    for appeal in appeals:
        statement = None
        if policies.can_read_appeal_statement(user, appeal):
            statement = vault.reveal_note(
                user, appeal.statement, purpose=AccessPurpose.OWN_DATA, appeal=appeal
            )
        appeal_rows.append(
            {
                "appeal": appeal,
                "statement": statement,
                "outcome": getattr(appeal, "outcome_decision", None),
            }
        )

    rating = getattr(complaint, "rating", None) if own else None
    rating_comment = None
    if rating is not None and rating.comment is not None:
        rating_comment = vault.reveal_note(
            user, rating.comment, purpose=AccessPurpose.OWN_DATA, complaint=complaint
        )

    may_appeal = _may_appeal(user, complaint, current, appeals)
    may_rate = (
        complaint.status == ComplaintStatus.CLOSED
        and rating is None
        and policies.can_rate_complaint(user, complaint)
    )
    may_withdraw = ComplaintStatus.WITHDRAWN in complaint.allowed_next() and (
        policies.can_withdraw_complaint(user, complaint)
    )
    if appeal_form is None and may_appeal and current is not None:
        appeal_form = AppealForm(initial={"decision": current.pk})
    if rate_form is None and may_rate:
        rate_form = RateForm()
    if withdraw_form is None and may_withdraw:
        withdraw_form = WithdrawForm()

    return {
        "complaint": complaint,
        "own": own,
        "category_name": localised_name(complaint.category),
        "due": complaint_due(complaint, timezone.now()),
        "description": description,
        "decisions": decision_rows,
        "current": current,
        "appeals": appeal_rows,
        "appeal_deadline": _appeal_deadline(current) if current is not None else None,
        "rating": rating,
        "rating_comment": rating_comment,
        "appeal_form": appeal_form,
        "rate_form": rate_form,
        "withdraw_form": withdraw_form,
    }


def _superseded(decision: Decision) -> bool:
    try:
        return decision.superseded_by is not None
    except Decision.DoesNotExist:
        return False


# --- views -------------------------------------------------------------------------------------


@require_safe
@page(policies.can_rate_complaints)
def complaint_list(request: HttpRequest) -> HttpResponse:
    """The complainant's complaints, newest first, with the deadline each waits on."""
    now = timezone.now()
    rows = [
        {
            "complaint": c,
            "category_name": localised_name(c.category),
            "due": complaint_due(c, now),
            "own": c.complainant.user_id == request.user.pk,
        }
        for c in _own_complaints(request.user)
    ]
    return render(request, LIST_TEMPLATE, {"rows": rows})


@require_http_methods(["GET", "HEAD", "POST"])
@page(policies.can_rate_complaints)
def complaint_new(request: HttpRequest) -> HttpResponse:
    """File a complaint through the web form; on success, go to its page."""
    user = request.user
    if request.method != "POST":
        return render(request, NEW_TEMPLATE, {"form": ComplaintForm(user=user)})
    form = ComplaintForm(request.POST, user=user)
    if not form.is_valid():
        return render(request, NEW_TEMPLATE, {"form": form}, status=400)
    try:
        complaint = services.complaint_file(
            actor=user,
            channel=Channel.WEB_FORM,
            ip_address=client_ip(request),
            **form.cleaned_data,
        )
    except DomainError as error:
        return form_failed(request, NEW_TEMPLATE, {"form": form}, form, error)
    messages.success(
        request,
        _("Your complaint was filed. Its reference is %s; keep it to follow the complaint.")
        % complaint.reference,
    )
    return redirect("my-complaint", reference=complaint.reference)


@require_safe
@page(policies.can_rate_complaints)
def complaint_detail(request: HttpRequest, reference: str) -> HttpResponse:
    """One complaint: status, deadlines, decisions with their reasons, appeal, rating."""
    complaint = _own_complaint(request.user, reference)
    return render(request, DETAIL_TEMPLATE, _detail_context(request, complaint))


def _failed(
    request: HttpRequest,
    complaint: Complaint,
    form: forms.Form,
    error: DomainError | None,
    **forms_given: Any,
) -> HttpResponse:
    """Re-render the complaint's page with `form`'s problems (400 for a form that did not
    validate, the service's status for a refusal)."""
    context = _detail_context(request, complaint, **forms_given)
    if error is None:
        return render(request, DETAIL_TEMPLATE, context, status=400)
    return form_failed(request, DETAIL_TEMPLATE, context, form, error)


@require_POST
@page(policies.can_file_appeals)
def complaint_appeal(request: HttpRequest, reference: str) -> HttpResponse:
    """Appeal the decision in force."""
    complaint = _own_complaint(request.user, reference)
    form = AppealForm(request.POST)
    if not form.is_valid():
        return _failed(request, complaint, form, None, appeal_form=form)
    decision = (
        selectors.decision_list(user=request.user)
        .filter(complaint=complaint, pk=form.cleaned_data["decision"])
        .first()
    )
    if decision is None:
        raise NotFound(_("That decision is not on this complaint; reload the page."))
    try:
        services.appeal_file(
            actor=request.user, decision=decision, statement=form.cleaned_data["statement"]
        )
    except DomainError as error:
        return _failed(request, complaint, form, error, appeal_form=form)
    messages.success(request, _("Your appeal was filed. You will see its outcome here."))
    return redirect("my-complaint", reference=complaint.reference)


@require_POST
@page(policies.can_rate_complaints)
def complaint_rate(request: HttpRequest, reference: str) -> HttpResponse:
    """Rate the handling of a closed complaint, once."""
    complaint = _own_complaint(request.user, reference)
    form = RateForm(request.POST)
    if not form.is_valid():
        return _failed(request, complaint, form, None, rate_form=form)
    try:
        services.complaint_rate(actor=request.user, complaint=complaint, **form.cleaned_data)
    except DomainError as error:
        return _failed(request, complaint, form, error, rate_form=form)
    messages.success(request, _("Thank you: your rating was saved."))
    return redirect("my-complaint", reference=complaint.reference)


@require_POST
@page(policies.can_rate_complaints)
def complaint_withdraw(request: HttpRequest, reference: str) -> HttpResponse:
    """Withdraw a complaint that is not yet decided."""
    complaint = _own_complaint(request.user, reference)
    form = WithdrawForm(request.POST)
    if not form.is_valid():
        return _failed(request, complaint, form, None, withdraw_form=form)
    try:
        services.complaint_withdraw(
            actor=request.user, complaint=complaint, reason=form.cleaned_data["reason"]
        )
    except DomainError as error:
        return _failed(request, complaint, form, error, withdraw_form=form)
    messages.success(request, _("Your complaint was withdrawn."))
    return redirect("my-complaint", reference=complaint.reference)


urlpatterns = [
    path("complaints/", complaint_list, name="my-complaints"),
    path("complaints/new/", complaint_new, name="complaint-new"),
    path("complaints/<str:reference>/", complaint_detail, name="my-complaint"),
    path("complaints/<str:reference>/appeal/", complaint_appeal, name="my-complaint-appeal"),
    path("complaints/<str:reference>/rate/", complaint_rate, name="my-complaint-rate"),
    path("complaints/<str:reference>/withdraw/", complaint_withdraw, name="my-complaint-withdraw"),
]
