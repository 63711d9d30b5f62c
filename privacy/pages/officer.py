"""The privacy officer's pages: people's requests, legal holds, and retention.

/privacy/requests/                         requests by due date, filters, and a form to record one
/privacy/requests/<reference>/             one request, its history and the actions its state allows
/privacy/requests/<reference>/<action>/    POST verify, complete or refuse
/privacy/holds/                            legal holds; place one, release one
/privacy/retention/                        retention rules and the last runs; set a rule

Views read through privacy.selectors and write only through privacy.services, as the API does.
Like the API, the pages show no contact data of a requester and no list of the people a request
covers; an access request's copy of the data is shown once, when the request is completed.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST, require_safe

from governance import policies
from governance import selectors as governance_selectors
from governance.errors import Conflict, DomainError
from governance.models import Category
from governance.pages.access import DateField, form_failed, page
from governance.pages.display import due, paginate
from privacy import selectors, services
from privacy.choices import RecordClass, RequestKind, RequestStatus, RetentionEvent
from privacy.models import PrivacyRequest
from privacy.pseudonyms import actor_ref
from privacy.services.requests import AWAITING_STATUSES as AWAITING

PER_PAGE = 50
RUNS_SHOWN = 20
DUE_SOON = timedelta(days=3)
# The record form shares the list page with the filters, whose field names it would repeat.
RECORD_PREFIX = "record"
# A request waits on Ombud (and can be overdue) in these statuses; on_hold waits on a hold.

LIST_TEMPLATE = "ombud/officer/requests.html"
DETAIL_TEMPLATE = "ombud/officer/request.html"
EXPORT_TEMPLATE = "ombud/officer/export.html"
HOLDS_TEMPLATE = "ombud/officer/holds.html"
RETENTION_TEMPLATE = "ombud/officer/retention.html"


# --- forms -------------------------------------------------------------------------------------
# Fields the services validate are optional here, so the services' own messages reach the form.


def _blank(choices: Any, label: Any) -> list[tuple[str, Any]]:
    return [("", label), *choices]


class RequestFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=gettext_lazy("Status"),
        required=False,
        choices=_blank(RequestStatus.choices, gettext_lazy("Any status")),
    )
    kind = forms.ChoiceField(
        label=gettext_lazy("Kind"),
        required=False,
        choices=_blank(RequestKind.choices, gettext_lazy("Any kind")),
    )


class RecordRequestForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=RequestKind.choices)
    email = forms.CharField(
        label=gettext_lazy("Email the person gave"),
        max_length=254,
        required=False,
        help_text=gettext_lazy("Kept only as a keyed hash, to find their data."),
    )
    phone = forms.CharField(
        label=gettext_lazy("Phone the person gave"),
        max_length=40,
        required=False,
        help_text=gettext_lazy("Give the email, the phone, or both."),
    )


class ActionForm(forms.Form):
    """Verify and complete take no input beyond the button (and the CSRF token)."""


class RefuseForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason for refusing"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("The requester is told this reason."),
    )
    legal_basis = forms.CharField(
        label=gettext_lazy("Legal basis"),
        required=False,
        max_length=1000,
        help_text=gettext_lazy("The article and law that allow the refusal."),
    )


class HoldPlaceForm(forms.Form):
    complaint = forms.CharField(
        label=gettext_lazy("Complaint reference"),
        max_length=24,
        required=False,
        help_text=gettext_lazy("CMP-YYYY-NNNNNN; or leave empty and give a pseudonym."),
    )
    subject = forms.CharField(
        label=gettext_lazy("Data subject pseudonym"),
        max_length=32,
        required=False,
        help_text=gettext_lazy("S-...; give either this or a complaint reference."),
    )
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    review_on = DateField(
        label=gettext_lazy("Review by"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )


class HoldReleaseForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason for releasing"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class RetentionRuleForm(forms.Form):
    record_class = forms.ChoiceField(label=gettext_lazy("Records"), choices=RecordClass.choices)
    category: forms.ModelChoiceField[Category] = forms.ModelChoiceField(
        label=gettext_lazy("Category"),
        queryset=None,
        required=False,
        to_field_name="code",
        empty_label=gettext_lazy("All categories (the class's default rule)"),
    )
    period_days = forms.IntegerField(
        label=gettext_lazy("Kept for (days)"),
        required=False,
        help_text=gettext_lazy("Leave empty to keep the records for ever."),
    )
    counted_from = forms.ChoiceField(
        label=gettext_lazy("Counted from"), choices=RetentionEvent.choices
    )
    legal_basis = forms.CharField(
        label=gettext_lazy("Legal basis"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        categories = governance_selectors.category_list(user=user).order_by("code")
        self.fields["category"].queryset = categories  # type: ignore[attr-defined]


# --- requests ----------------------------------------------------------------------------------


def _requests_context(request: HttpRequest, record_form: forms.Form | None = None) -> dict:
    filters = RequestFilterForm(request.GET or None)
    rows = selectors.privacy_request_list(user=request.user).order_by("due_at", "pk")
    if filters.is_valid():
        if filters.cleaned_data["status"]:
            rows = rows.filter(status=filters.cleaned_data["status"])
        if filters.cleaned_data["kind"]:
            rows = rows.filter(kind=filters.cleaned_data["kind"])
    page_obj = paginate(request, rows, PER_PAGE)
    now = timezone.now()
    items = [
        {
            "request": item,
            "due": due(item.due_at, now, soon=DUE_SOON) if item.status in AWAITING else None,
        }
        for item in page_obj.object_list
    ]
    return {
        "filters": filters,
        "page_obj": page_obj,
        "items": items,
        "record_form": record_form or RecordRequestForm(prefix=RECORD_PREFIX),
    }


@page(policies.can_handle_privacy_requests)
@require_safe
def request_list(request: HttpRequest) -> HttpResponse:
    """Deletion and access requests by due date, with time left and overdue ones marked."""
    return render(request, LIST_TEMPLATE, _requests_context(request))


@page(policies.can_handle_privacy_requests)
@require_POST
def request_record(request: HttpRequest) -> HttpResponse:
    """Record a request received by letter, phone or email to the data protection officer."""
    form = RecordRequestForm(request.POST, prefix=RECORD_PREFIX)
    if not form.is_valid():
        return render(request, LIST_TEMPLATE, _requests_context(request, form), status=400)
    try:
        recorded = services.privacy_request_record(actor=request.user, **form.cleaned_data)
    except DomainError as exc:
        return form_failed(request, LIST_TEMPLATE, _requests_context(request, form), form, exc)
    messages.success(request, _("Request %s recorded.") % recorded.reference)
    return redirect("privacy-request", reference=recorded.reference)


def _detail_context(
    request: HttpRequest, item: PrivacyRequest, forms_given: dict[str, forms.Form] | None = None
) -> dict:
    allowed = services.request_allowed_next(item)
    given = forms_given or {}
    history = [
        {
            "at": h.history_date,
            "status": h.get_status_display(),
            "reason": h.history_change_reason or "",
            "by": actor_ref(h.history_user) if h.history_user_id else "",
        }
        for h in item.history.select_related("history_user").order_by("history_date", "pk")
    ]
    actions = {
        "verify": RequestStatus.IDENTITY_VERIFIED in allowed,
        "complete": RequestStatus.COMPLETED in allowed,
        "refuse": RequestStatus.REFUSED in allowed,
    }
    return {
        "item": item,
        "due": due(item.due_at, timezone.now(), soon=DUE_SOON) if item.status in AWAITING else None,
        "allowed_next": [RequestStatus(s).label for s in allowed],
        "history": history,
        "actions": actions,
        "verify_form": given.get("verify", ActionForm()),
        "complete_form": given.get("complete", ActionForm()),
        "refuse_form": given.get("refuse", RefuseForm()),
        # The refused action's form, when the request's state no longer shows it: its errors
        # are shown on their own above the actions.
        "orphan_form": next(
            (f for name, f in given.items() if name in actions and not actions[name]), None
        ),
    }


@page(policies.can_handle_privacy_requests)
@require_safe
def request_detail(request: HttpRequest, reference: str) -> HttpResponse:
    """One request: its facts, its history, and the actions its status allows."""
    item = selectors.privacy_request_get(user=request.user, reference=reference)
    return render(request, DETAIL_TEMPLATE, _detail_context(request, item))


@page(policies.can_handle_privacy_requests)
@require_POST
def request_action(request: HttpRequest, reference: str, action: str) -> HttpResponse:
    """Verify the requester's identity, complete the request, or refuse it."""
    if action not in ("verify", "complete", "refuse"):
        raise Http404
    item = selectors.privacy_request_get(user=request.user, reference=reference)
    form: forms.Form = RefuseForm(request.POST) if action == "refuse" else ActionForm(request.POST)
    if not form.is_valid():
        context = _detail_context(request, item, {action: form})
        return render(request, DETAIL_TEMPLATE, context, status=400)
    try:
        if action == "verify":
            item = services.privacy_request_verify_identity(actor=request.user, request=item)
            messages.success(request, _("Identity verified for %s.") % item.reference)
        elif action == "refuse":
            item = services.privacy_request_refuse(
                actor=request.user, request=item, **form.cleaned_data
            )
            messages.success(request, _("Request %s refused.") % item.reference)
        else:
            done = services.privacy_request_complete(actor=request.user, request=item)
            if not done.changed:
                raise Conflict(
                    _("Request %s was already completed; there is nothing more to do.")
                    % item.reference
                )
            item = done.request
            if done.export is not None:
                return _export_page(request, item, done.export)
            if item.status == RequestStatus.ON_HOLD:
                messages.warning(
                    request,
                    _(
                        "A legal hold covers some of the data, so request %s is on hold. "
                        "What no hold covers was erased; complete it again once the hold is "
                        "released."
                    )
                    % item.reference,
                )
            else:
                messages.success(
                    request,
                    _("Request %s completed; the deletion receipt is below.") % item.reference,
                )
    except DomainError as exc:
        item = selectors.privacy_request_get(user=request.user, reference=reference)
        context = _detail_context(request, item, {action: form})
        return form_failed(request, DETAIL_TEMPLATE, context, form, exc)
    return redirect("privacy-request", reference=item.reference)


def _export_page(request: HttpRequest, item: PrivacyRequest, export: dict) -> HttpResponse:
    """Show an access request's copy of the data, produced now and never stored: this answer
    is the only time it exists, so it is shown (and offered as a file) rather than redirected."""
    text = json.dumps(export, ensure_ascii=False, indent=2)
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    context = {
        "item": item,
        "export_text": text,
        "download_href": "data:application/json;charset=utf-8," + quote(text),
        "filename": f"ombud-{item.reference}-{stamp}.json",
    }
    messages.success(
        request, _("Request %s completed; its copy of the data is below.") % item.reference
    )
    response = render(request, EXPORT_TEMPLATE, context)
    response["Cache-Control"] = "no-store"
    return response


# --- legal holds -------------------------------------------------------------------------------


def _holds_context(
    request: HttpRequest,
    place_form: forms.Form | None = None,
    failed_release: tuple[int, forms.Form] | None = None,
) -> dict:
    holds = selectors.legal_hold_list(user=request.user).select_related("placed_by", "released_by")
    rows = []
    for hold in holds:
        if failed_release is not None and failed_release[0] == hold.pk:
            release_form = failed_release[1]
        else:
            release_form = HoldReleaseForm(prefix=f"hold-{hold.pk}")
        rows.append(
            {
                "hold": hold,
                "target": hold.subject.pseudonym
                if hold.subject is not None
                else hold.complaint.reference,
                "placed_by": actor_ref(hold.placed_by),
                "released_by": actor_ref(hold.released_by) if hold.released_by_id else "",
                "release_form": release_form,
            }
        )
    return {
        "rows": rows,
        "place_form": place_form or HoldPlaceForm(),
        # Compliance officers manage holds too, but open none of the other privacy pages.
        "show_nav": policies.can_handle_privacy_requests(request.user),
    }


@page(policies.can_manage_legal_holds)
@require_safe
def hold_list(request: HttpRequest) -> HttpResponse:
    """Legal holds, standing and released, with forms to place and release them."""
    return render(request, HOLDS_TEMPLATE, _holds_context(request))


@page(policies.can_manage_legal_holds)
@require_POST
def hold_place(request: HttpRequest) -> HttpResponse:
    """Place a legal hold on a complaint's or a data subject's personal data."""
    form = HoldPlaceForm(request.POST)
    if not form.is_valid():
        return render(request, HOLDS_TEMPLATE, _holds_context(request, form), status=400)
    data = form.cleaned_data
    try:
        subject, complaint = selectors.legal_hold_target(
            user=request.user, subject=data["subject"].strip(), complaint=data["complaint"].strip()
        )
        hold = services.legal_hold_place(
            actor=request.user,
            subject=subject,
            complaint=complaint,
            reason=data["reason"],
            review_on=data["review_on"],
        )
    except DomainError as exc:
        return form_failed(request, HOLDS_TEMPLATE, _holds_context(request, form), form, exc)
    messages.success(request, _("Legal hold %s placed.") % hold.pk)
    return redirect("legal-holds")


@page(policies.can_manage_legal_holds)
@require_POST
def hold_release(request: HttpRequest, pk: int) -> HttpResponse:
    """Release a standing legal hold, saying why."""
    hold = selectors.legal_hold_get(user=request.user, pk=pk)
    form = HoldReleaseForm(request.POST, prefix=f"hold-{hold.pk}")
    if not form.is_valid():
        context = _holds_context(request, failed_release=(hold.pk, form))
        return render(request, HOLDS_TEMPLATE, context, status=400)
    try:
        services.legal_hold_release(
            actor=request.user, hold=hold, reason=form.cleaned_data["reason"]
        )
    except DomainError as exc:
        context = _holds_context(request, failed_release=(hold.pk, form))
        return form_failed(request, HOLDS_TEMPLATE, context, form, exc)
    messages.success(request, _("Legal hold %s released.") % hold.pk)
    return redirect("legal-holds")


# --- retention ---------------------------------------------------------------------------------


def _retention_context(request: HttpRequest, form: forms.Form | None = None) -> dict:
    return {
        "rules": selectors.retention_rule_list(user=request.user),
        "runs": selectors.retention_run_list(user=request.user)[:RUNS_SHOWN],
        "form": form or RetentionRuleForm(user=request.user),
    }


@page(policies.can_manage_retention)
@require_safe
def retention(request: HttpRequest) -> HttpResponse:
    """The retention rules, the last runs and what each erased, and a form to set a rule."""
    return render(request, RETENTION_TEMPLATE, _retention_context(request))


@page(policies.can_manage_retention)
@require_POST
def retention_rule_set(request: HttpRequest) -> HttpResponse:
    """Set (create or change) the rule for a class of records and, optionally, a category."""
    form = RetentionRuleForm(request.POST, user=request.user)
    if not form.is_valid():
        return render(request, RETENTION_TEMPLATE, _retention_context(request, form), status=400)
    try:
        services.retention_rule_set(actor=request.user, **form.cleaned_data)
    except DomainError as exc:
        context = _retention_context(request, form)
        return form_failed(request, RETENTION_TEMPLATE, context, form, exc)
    messages.success(request, _("Retention rule saved."))
    return redirect(reverse("retention"))


urlpatterns = [
    path("requests/", request_list, name="privacy-requests"),
    path("requests/record/", request_record, name="privacy-request-record"),
    path("requests/<str:reference>/", request_detail, name="privacy-request"),
    path("requests/<str:reference>/<str:action>/", request_action, name="privacy-request-action"),
    path("holds/", hold_list, name="legal-holds"),
    path("holds/place/", hold_place, name="legal-hold-place"),
    path("holds/<int:pk>/release/", hold_release, name="legal-hold-release"),
    path("retention/", retention, name="retention"),
    path("retention/rules/", retention_rule_set, name="retention-rule-set"),
]
