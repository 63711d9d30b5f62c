"""The supervisors' pages, under /oversight/: quality samples (draw, verify, review blind),
the oversight reports (list and publish) and the early warning.

Reads go through `audits.selectors` (and the read-only early warning), writes through
`audits.sampling` and `audits.reports` only, as the API under /api/v1/oversight/ does.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from audits import early_warning, reports, sampling, selectors
from audits.choices import CorrectiveActionStatus, Verdict
from audits.models import RUBRIC, QualitySample, SampleItem
from governance import choices, policies
from governance.errors import DomainError, NotFound
from governance.pages.access import DateField, form_failed, page, refuse

HOME = "ombud/oversight/home.html"
SAMPLE = "ombud/oversight/sample.html"
REVIEW = "ombud/oversight/review.html"
REPORTS = "ombud/oversight/reports.html"
EARLY_WARNING = "ombud/oversight/early_warning.html"

# The longest span the early-warning page counts in one go (one grouped query, but a row per
# category and day to judge).
MAX_SPAN_DAYS = 366


# --- forms -------------------------------------------------------------------------------------


class DrawForm(forms.Form):
    """The parameters `audits.sampling.sample_draw` accepts; the service checks their ranges."""

    period_start = DateField(
        label=gettext_lazy("Period starts"),
        help_text=gettext_lazy("First day of the period, e.g. 2026-10-01."),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    period_end = DateField(
        label=gettext_lazy("Period ends"),
        help_text=gettext_lazy("Last day of the period, inclusive."),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    rate = forms.DecimalField(
        label=gettext_lazy("Sampling rate"),
        help_text=gettext_lazy("Share of each stratum drawn, above 0 and at most 1, e.g. 0.05."),
        max_digits=5,
        decimal_places=4,
        initial=Decimal("0.05"),
    )
    min_per_stratum = forms.IntegerField(
        label=gettext_lazy("Minimum per stratum"),
        help_text=gettext_lazy("Decisions drawn at least from each stratum (if it has them)."),
        min_value=0,
        initial=2,
    )
    double_review_share = forms.DecimalField(
        label=gettext_lazy("Double-review share"),
        help_text=gettext_lazy("Share of the drawn decisions reviewed twice, from 0 to 1."),
        max_digits=5,
        decimal_places=4,
        initial=Decimal("0.2"),
    )


SCORE_CHOICES = [("", "—")] + [(str(n), str(n)) for n in range(1, 6)]


class ReviewForm(forms.Form):
    """One blind review: the rubric's five scores, a verdict and a comment."""

    item = forms.IntegerField(widget=forms.HiddenInput)
    clause_correct = forms.TypedChoiceField(
        label=gettext_lazy("Right policy clause applied"), choices=SCORE_CHOICES, coerce=int
    )
    facts_adequate = forms.TypedChoiceField(
        label=gettext_lazy("Facts adequate"), choices=SCORE_CHOICES, coerce=int
    )
    action_proportionate = forms.TypedChoiceField(
        label=gettext_lazy("Action proportionate"), choices=SCORE_CHOICES, coerce=int
    )
    deadline_met = forms.TypedChoiceField(
        label=gettext_lazy("Deadline met"), choices=SCORE_CHOICES, coerce=int
    )
    reasons_clear = forms.TypedChoiceField(
        label=gettext_lazy("Reasons clear to the complainant"),
        choices=SCORE_CHOICES,
        coerce=int,
        help_text=gettext_lazy("Each score from 1 (poor) to 5 (excellent)."),
    )
    verdict = forms.ChoiceField(
        label=gettext_lazy("Verdict"),
        choices=[("", "—"), *Verdict.choices],
        help_text=gettext_lazy("Disagreeing opens a corrective action for the department."),
    )
    comment = forms.CharField(
        label=gettext_lazy("Comment"),
        required=False,
        max_length=sampling.MAX_PROSE,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


class PublishForm(forms.Form):
    period = forms.CharField(
        label=gettext_lazy("Period"),
        max_length=10,
        help_text=gettext_lazy(
            "A month (2026-10), a quarter (2026-Q3) or a year (2026) that has ended."
        ),
    )
    supersedes = forms.IntegerField(
        label=gettext_lazy("Supersedes report number"),
        required=False,
        min_value=1,
        help_text=gettext_lazy("Only for a correction: the report of the same period it corrects."),
    )
    correction = forms.CharField(
        label=gettext_lazy("Correction"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("What the correction changes and why; it is published."),
    )


class SpanForm(forms.Form):
    first = DateField(label=gettext_lazy("From"), widget=forms.DateInput(attrs={"type": "date"}))
    last = DateField(label=gettext_lazy("To"), widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, last = data.get("first"), data.get("last")
        if first and last:
            if last < first:
                self.add_error("last", _("The range must end on or after the day it starts."))
            elif (last - first).days >= MAX_SPAN_DAYS:
                self.add_error(
                    "last",
                    _("Choose at most %(days)d days at a time.") % {"days": MAX_SPAN_DAYS},
                )
        return data


# --- reading helpers ---------------------------------------------------------------------------


def _sample_summary(sample: QualitySample) -> dict[str, Any]:
    """Return one sample's counts: size, items fully reviewed, verdicts and agreement."""
    items: list[Any] = list(selectors.sample_items(sample))  # annotated with review_count
    return {
        "sample": sample,
        "size": len(items),
        "reviewed": sum(1 for i in items if i.review_count >= i.reviews_needed),
        "verdicts": sampling.sample_verdicts(sample),
        "agreement": sampling.sample_agreement(sample),
        "items": items,
    }


def _home_context(request: HttpRequest, form: DrawForm | None = None) -> dict[str, Any]:
    user = request.user
    listed = list(selectors.sample_list(user=user)[:50])
    summaries = sampling.sample_summaries(listed)
    samples = [{"sample": s, **vars(summaries[s.pk])} for s in listed]
    actions = (
        list(
            selectors.corrective_action_list(user=user).filter(status=CorrectiveActionStatus.OPEN)[
                :100
            ]
        )
        if policies.can_list_corrective_actions(user)
        else []
    )
    can_draw = policies.can_draw_samples(user)
    return {
        "samples": samples,
        "actions": actions,
        "can_draw": can_draw,
        "form": form if form is not None else (DrawForm() if can_draw else None),
        "can_reports": policies.can_read_reports(user),
        "can_early_warning": policies.can_read_early_warning(user),
    }


# --- samples -----------------------------------------------------------------------------------


@page(policies.can_read_samples)
@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """The supervisors' home: samples, the draw form, open corrective actions, links."""
    return render(request, HOME, _home_context(request))


@page(policies.can_draw_samples)
@require_POST
def sample_draw(request: HttpRequest) -> HttpResponse:
    """Draw the period's quality sample through `audits.sampling.sample_draw`."""
    form = DrawForm(request.POST)
    if not form.is_valid():
        return render(request, HOME, _home_context(request, form), status=400)
    try:
        sample = sampling.sample_draw(actor=request.user, **form.cleaned_data)
    except DomainError as error:
        return form_failed(request, HOME, _home_context(request, form), form, error)
    messages.success(
        request,
        _("Sample %(number)s drawn: %(count)s decisions.")
        % {"number": sample.pk, "count": sample.items.count()},
    )
    return redirect("sample", pk=sample.pk)


@page(policies.can_read_samples)
@require_safe
def sample_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One sample: parameters, seed, checkpoint, items by stratum, verdicts, kappa, the re-run."""
    sample = selectors.sample_get(user=request.user, pk=pk)
    summary = _sample_summary(sample)
    items = sorted(summary["items"], key=lambda i: (i.stratum, i.pk))
    return render(
        request,
        SAMPLE,
        {
            **summary,
            "items": items,
            "check": sampling.sample_verify(sample),
            "can_review": policies.can_review_samples(request.user),
        },
    )


def _review_context(
    request: HttpRequest,
    sample: QualitySample,
    form: ReviewForm | None = None,
    item: SampleItem | None = None,
) -> dict[str, Any]:
    """The item under review (the one posted, or the user's next), blind, and the rubric form."""
    if item is None:
        try:
            item = selectors.sample_item_next(user=request.user, sample=sample)
        except NotFound as nothing:
            return {"sample": sample, "blind": None, "nothing": nothing.message, "form": form}
    blind = sampling.blind_view(item)
    return {
        "sample": sample,
        "blind": blind,
        "labels": _blind_labels(blind),
        "form": form if form is not None else ReviewForm(initial={"item": item.pk}),
    }


def _label(options: Any, code: str) -> Any:
    return dict(options.choices).get(code, code)


def _blind_labels(blind: dict[str, Any]) -> dict[str, Any]:
    """Return the blind view's codes as the translated labels a reviewer reads."""
    complaint, decision = blind["complaint"], blind["decision"]
    return {
        "channel": _label(choices.Channel, complaint["channel"]),
        "severity": _label(choices.Severity, complaint["severity"]),
        "kind": _label(choices.DecisionKind, decision["kind"]),
        "outcome": _label(choices.DecisionOutcome, decision["outcome"]),
        "ground": _label(choices.DecisionGround, decision["ground"]),
        "actions": [_label(choices.DecisionAction, a) for a in decision["actions"] or []],
        "appeal_outcome": (
            _label(choices.AppealOutcome, decision["appeal_outcome"])
            if decision["appeal_outcome"]
            else ""
        ),
    }


def _posted_item(request: HttpRequest, sample: QualitySample, pk: Any) -> SampleItem | None:
    """Return the item a review form names, if it is one of `sample`'s."""
    if not isinstance(pk, int):
        return None
    try:
        item = selectors.sample_item_get(user=request.user, pk=pk)
    except NotFound:
        return None
    return item if item.sample_id == sample.pk else None


@page(policies.can_review_samples)
@require_http_methods(["GET", "HEAD", "POST"])
def sample_review(request: HttpRequest, pk: int) -> HttpResponse:
    """Show the next item blind with the rubric; a POST records the review."""
    sample = selectors.sample_get(user=request.user, pk=pk)
    if request.method != "POST":
        return render(request, REVIEW, _review_context(request, sample))
    form = ReviewForm(request.POST)
    if not form.is_valid():
        posted = _posted_item(request, sample, form.cleaned_data.get("item"))
        return render(request, REVIEW, _review_context(request, sample, form, posted), status=400)
    data = dict(form.cleaned_data)
    item = _posted_item(request, sample, data.pop("item"))
    if item is None:
        raise NotFound(_("That item is not in this sample; ask for your next item."))
    verdict, comment = data.pop("verdict"), data.pop("comment")
    scores = {name: data[name] for name in RUBRIC}
    try:
        sampling.review_record(
            actor=request.user, item=item, scores=scores, verdict=verdict, comment=comment
        )
    except DomainError as error:
        if error.status_code == 403:
            return refuse(request, error.message)
        context = _review_context(request, sample, form, item)
        return form_failed(request, REVIEW, context, form, error)
    messages.success(request, _("Your review is recorded."))
    return redirect("sample-review", pk=sample.pk)


# --- reports -----------------------------------------------------------------------------------


def _reports_context(request: HttpRequest, form: PublishForm | None = None) -> dict[str, Any]:
    can_publish = policies.can_publish_reports(request.user)
    return {
        "reports": list(selectors.report_list(user=request.user)),
        "can_publish": can_publish,
        "form": form if form is not None else (PublishForm() if can_publish else None),
    }


@page(policies.can_read_reports)
@require_safe
def report_list(request: HttpRequest) -> HttpResponse:
    """The published oversight reports, with links to their public pages and files."""
    return render(request, REPORTS, _reports_context(request))


@page(policies.can_publish_reports)
@require_POST
def report_publish(request: HttpRequest) -> HttpResponse:
    """Publish a period's report, or a correction superseding one, through the service."""
    form = PublishForm(request.POST)
    if not form.is_valid():
        return render(request, REPORTS, _reports_context(request, form), status=400)
    data = form.cleaned_data
    try:
        report = reports.report_publish(
            actor=request.user,
            period=data["period"],
            supersedes=data["supersedes"],
            correction=data["correction"] or "",
        )
    except DomainError as error:
        return form_failed(request, REPORTS, _reports_context(request, form), form, error)
    messages.success(
        request,
        _("Report %(number)s of %(period)s is published.")
        % {"number": report.number, "period": report.period},
    )
    return redirect("reports")


# --- early warning -----------------------------------------------------------------------------


@page(policies.can_read_early_warning)
@require_safe
def early_warning_page(request: HttpRequest) -> HttpResponse:
    """The category spikes over a chosen range of business days (the last 28 by default)."""
    today = early_warning.business_today()
    default_first = today - timedelta(days=early_warning.BASELINE_DAYS - 1)
    if "first" in request.GET or "last" in request.GET:
        form = SpanForm(request.GET)
    else:
        form = SpanForm({"first": default_first.isoformat(), "last": today.isoformat()})
    if not form.is_valid():
        return render(request, EARLY_WARNING, {"form": form, "result": None}, status=400)
    first: date = form.cleaned_data["first"]
    last: date = form.cleaned_data["last"]
    result = early_warning.spikes_between(first, last)
    return render(request, EARLY_WARNING, {"form": form, "result": result})


urlpatterns = [
    path("", home, name="oversight"),
    path("samples/draw/", sample_draw, name="sample-draw"),
    path("samples/<int:pk>/", sample_detail, name="sample"),
    path("samples/<int:pk>/review/", sample_review, name="sample-review"),
    path("reports/", report_list, name="reports"),
    path("reports/publish/", report_publish, name="reports-publish"),
    path("early-warning/", early_warning_page, name="early-warning"),
]
