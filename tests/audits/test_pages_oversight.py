"""The supervisors' pages: samples drawn, verified and reviewed blind; reports published; the
early warning's spikes; and every page closed to other roles."""

from __future__ import annotations

import itertools
import re
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from audits import sampling
from audits.early_warning import BASELINE_DAYS
from audits.models import CorrectiveAction, OversightReport, QualitySample, Review
from governance import services
from governance.choices import ComplaintStatus, Role
from governance.models import Complaint
from governance.policies import forget_roles
from tests import factories
from tests.factories import Flow

GOOD = {
    "clause_correct": "5",
    "facts_adequate": "4",
    "action_proportionate": "4",
    "deadline_met": "5",
    "reasons_clear": "3",
}
PAGES = [
    ("oversight", []),
    ("sample", ["S"]),
    ("sample-review", ["S"]),
    ("reports", []),
    ("early-warning", []),
]


def _period() -> tuple[date, date]:
    today = timezone.localdate()
    return today - timedelta(days=1), today + timedelta(days=1)


def _decided(n: int) -> list[Flow]:
    return [factories.flow_at(ComplaintStatus.DECIDED) for _ in range(n)]


def _draw_fields(**overrides: Any) -> dict[str, str]:
    start, end = _period()
    values = {
        "period_start": start.isoformat(),
        "period_end": end.isoformat(),
        "rate": "1",
        "min_per_stratum": "2",
        "double_review_share": "0",
    }
    values.update(overrides)
    return values


def _draw(supervisor: Any, **overrides: Any) -> QualitySample:
    start, end = _period()
    values: dict[str, Any] = {
        "period_start": start,
        "period_end": end,
        "rate": "1",
        "min_per_stratum": 2,
        "double_review_share": "0",
    }
    values.update(overrides)
    return sampling.sample_draw(actor=supervisor, **values)


def _supervising(user: Any) -> Any:
    services.role_grant(actor=factories.superuser(), user=user, role=Role.SUPERVISOR)
    forget_roles(user)
    return user


def _named(html: str, username: str) -> bool:
    return re.search(rf"\b{re.escape(username)}\b", html) is not None


# --- samples -----------------------------------------------------------------------------------


def test_supervisor_draws_a_sample_through_the_page(supervisor, page_as):
    flows = _decided(3)
    client = page_as(supervisor)

    response = client.post(reverse("sample-draw"), _draw_fields())

    sample = QualitySample.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("sample", args=[sample.pk])
    assert sample.drawn_by == supervisor
    assert set(sample.items.values_list("decision_id", flat=True)) == {
        f.decision.pk for f in flows if f.decision is not None
    }
    page = client.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert sample.seed in html
    assert sample.seed_source in html
    assert "Verified" in html
    assert "moderation/harassment/upheld" in html
    assert "Review the next item" in html
    home = client.get(reverse("oversight"))
    assert home.status_code == 200
    assert reverse("sample", args=[sample.pk]) in home.content.decode()
    assert "Draw a sample" in home.content.decode()


@pytest.mark.parametrize(
    ("overrides", "field_message"),
    [
        ({"rate": "0"}, "Give a number above 0 and at most 1"),
        ({"rate": "1.5"}, "Give a number above 0 and at most 1"),
        ({"rate": "lots"}, "Enter a number."),
    ],
)
def test_a_bad_rate_draws_nothing(supervisor, page_as, overrides, field_message):
    _decided(1)

    response = page_as(supervisor).post(reverse("sample-draw"), _draw_fields(**overrides))

    assert response.status_code == 400
    assert field_message in response.content.decode()
    assert not QualitySample.objects.exists()


def test_a_second_draw_of_the_period_conflicts(supervisor, page_as):
    _decided(1)
    _draw(supervisor)

    response = page_as(supervisor).post(reverse("sample-draw"), _draw_fields())

    assert response.status_code == 409
    assert QualitySample.objects.count() == 1


def test_compliance_reads_samples_but_does_not_draw(supervisor, compliance, page_as):
    _decided(1)
    sample = _draw(supervisor)
    client = page_as(compliance)

    home = client.get(reverse("oversight"))
    assert home.status_code == 200
    assert "Draw a sample" not in home.content.decode()
    assert client.get(reverse("sample", args=[sample.pk])).status_code == 200
    assert client.post(reverse("sample-draw"), _draw_fields()).status_code == 403
    assert client.get(reverse("sample-review", args=[sample.pk])).status_code == 403


def test_review_of_the_next_item_is_blind_and_recorded(supervisor, page_as):
    flows = _decided(2)
    sample = _draw(supervisor)
    client = page_as(supervisor)
    url = reverse("sample-review", args=[sample.pk])

    page = client.get(url)

    assert page.status_code == 200
    html = page.content.decode()
    item = sample.items.order_by("id").first()
    assert item is not None
    blind = sampling.blind_view(item)
    assert blind["complaint"]["complainant"] in html
    assert blind["decision"]["decided_by"] in html
    assert blind["policy_clause"]["code"] in html
    for f in flows:
        assert not _named(html, f.complainant.username)
        assert not _named(html, f.handler.username)
        assert f.handler.last_name not in html

    response = client.post(
        url, {"item": str(item.pk), **GOOD, "verdict": "disagree", "comment": "Too harsh."}
    )

    assert response.status_code == 302
    review = Review.objects.get()
    assert (review.item, review.reviewer, review.verdict) == (item, supervisor, "disagree")
    assert review.clause_correct == 5
    assert CorrectiveAction.objects.filter(item=item).exists()
    # the next item is offered, then nothing is left
    second = client.get(url)
    assert second.context["form"].initial["item"] != item.pk
    client.post(
        url,
        {"item": second.context["form"].initial["item"], **GOOD, "verdict": "agree"},
    )
    done = client.get(url)
    assert done.status_code == 200
    assert "Nothing is left for you to review" in done.content.decode()
    # the open corrective action shows on the home page
    assert "Too harsh." in client.get(reverse("oversight")).content.decode()


def test_a_review_missing_scores_is_refused_and_saves_nothing(supervisor, page_as):
    _decided(1)
    sample = _draw(supervisor)
    item = sample.items.get()

    response = page_as(supervisor).post(
        reverse("sample-review", args=[sample.pk]),
        {"item": str(item.pk), "clause_correct": "9", "verdict": "agree"},
    )

    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not Review.objects.exists()


def test_reviewing_ones_own_decision_is_refused(supervisor, page_as):
    (f,) = _decided(1)
    sample = _draw(supervisor)
    item = sample.items.get()
    _supervising(f.handler)
    client = page_as(f.handler)
    url = reverse("sample-review", args=[sample.pk])

    assert "Nothing is left for you to review" in client.get(url).content.decode()
    response = client.post(url, {"item": str(item.pk), **GOOD, "verdict": "agree"})

    assert response.status_code == 403
    assert "took part" in response.content.decode()
    assert not Review.objects.exists()


def _review_twice(sample: QualitySample, supervisor: Any) -> None:
    """Review the sample's three items twice: pairs (agree, agree), (disagree, disagree) and
    (agree, disagree), so p_o 2/3, p_e 4/9 and kappa 0.4."""
    second = factories.user_with_role(Role.SUPERVISOR)
    scores = {k: int(v) for k, v in GOOD.items()}
    for item, (a, b) in zip(
        sample.items.order_by("id"),
        [("agree", "agree"), ("disagree", "disagree"), ("agree", "disagree")],
        strict=True,
    ):
        sampling.review_record(actor=supervisor, item=item, scores=scores, verdict=a)
        sampling.review_record(actor=second, item=item, scores=scores, verdict=b)


def test_kappa_shows_on_a_sample_with_double_reviews(supervisor, page_as):
    _decided(3)
    sample = _draw(supervisor, double_review_share="1")
    _review_twice(sample, supervisor)

    html = page_as(supervisor).get(reverse("sample", args=[sample.pk])).content.decode()

    assert "0.40" in html
    assert "3 double-reviewed pairs" in html
    home = page_as(supervisor).get(reverse("oversight")).content.decode()
    assert "0.40" in home


def test_the_home_page_summarises_its_samples_in_a_fixed_number_of_queries(
    supervisor, page_as, django_assert_max_num_queries
):
    _decided(3)
    start, _end = _period()
    month = _draw(supervisor, double_review_share="1")
    _review_twice(month, supervisor)
    # More samples (of wider periods around the same decisions) must not mean more queries.
    for days in range(2, 7):
        _draw(supervisor, period_start=start - timedelta(days=days))
    samples = list(QualitySample.objects.order_by("pk"))
    client = page_as(supervisor)

    summaries = sampling.sample_summaries(samples)
    # (12 with six samples; reading each sample's summary on its own took 27)
    with django_assert_max_num_queries(12):
        home = client.get(reverse("oversight")).content.decode()

    # then: each summary agrees with the per-sample functions, and the page shows them
    for sample in samples:
        summary = summaries[sample.pk]
        assert summary.verdicts == sampling.sample_verdicts(sample)
        assert summary.agreement == sampling.sample_agreement(sample)
        assert summary.size == sample.items.count()
    assert (summaries[month.pk].size, summaries[month.pk].reviewed) == (3, 3)
    assert "0.40" in home


# --- reports -----------------------------------------------------------------------------------


def test_publish_a_past_month_then_a_second_time_conflicts(supervisor, page_as):
    client = page_as(supervisor)

    response = client.post(reverse("reports-publish"), {"period": "2025-03"})

    assert response.status_code == 302
    report = OversightReport.objects.get()
    assert (report.period, report.published_by) == ("2025-03", supervisor)
    listing = client.get(reverse("reports")).content.decode()
    assert "2025-03" in listing
    assert reverse("transparency-report", args=[report.number]) in listing
    assert reverse("transparency-file", args=[report.number, "csv"]) in listing
    assert reverse("transparency-file", args=[report.number, "sig"]) in listing

    again = client.post(reverse("reports-publish"), {"period": "2025-03"})

    assert again.status_code == 409
    assert "published already" in again.content.decode()
    assert OversightReport.objects.count() == 1


def test_a_correction_supersedes_the_report(supervisor, page_as):
    client = page_as(supervisor)
    client.post(reverse("reports-publish"), {"period": "2025-03"})

    response = client.post(
        reverse("reports-publish"),
        {"period": "2025-03", "supersedes": "1", "correction": "Recounted."},
    )

    assert response.status_code == 302
    correction = OversightReport.objects.get(number=2)
    assert correction.supersedes is not None
    assert correction.supersedes.number == 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"period": "March"}, "Give a month as YYYY-MM"),
        ({"period": "2099-01"}, "has not ended"),
        ({"period": "2025-03", "correction": "Why not."}, "give its number"),
    ],
)
def test_a_bad_period_publishes_nothing(supervisor, page_as, fields, message):
    response = page_as(supervisor).post(reverse("reports-publish"), fields)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not OversightReport.objects.exists()


def test_compliance_reads_reports_but_does_not_publish(compliance, page_as):
    client = page_as(compliance)

    page = client.get(reverse("reports"))

    assert page.status_code == 200
    assert "Publish a report" not in page.content.decode()
    assert client.post(reverse("reports-publish"), {"period": "2025-03"}).status_code == 403
    assert not OversightReport.objects.exists()


# --- early warning -----------------------------------------------------------------------------

DAY = date(2025, 3, 31)
_numbers = itertools.count(1)


def _receive(category_code: str, moments: list[datetime]) -> None:
    """Add complaints received at `moments` (as tests/audits/test_early_warning.py does)."""
    template = factories.file_complaint(category_code=category_code)
    category = factories.category(category_code)
    fields: dict[str, Any] = {
        f.attname: getattr(template, f.attname)
        for f in Complaint._meta.concrete_fields
        if f.attname not in {"id", "reference", "category_id", "received_at"}
    }
    Complaint.objects.bulk_create(
        Complaint(
            **fields,
            reference=f"CMP-PAGE-{next(_numbers):06d}",
            category_id=category.pk,
            received_at=moment,
        )
        for moment in moments
    )


def test_early_warning_flags_a_spike(supervisor, page_as):
    zone = ZoneInfo(settings.OMBUD_BUSINESS_TIME_ZONE)
    noon = time(12, tzinfo=zone)
    history = [4, 6] * (BASELINE_DAYS // 2)
    moments = [
        datetime.combine(DAY - timedelta(days=BASELINE_DAYS - i), noon)
        for i, n in enumerate(history)
        for _ in range(n)
    ]
    moments += [datetime.combine(DAY, noon)] * 20
    _receive("fraud", moments)

    response = page_as(supervisor).get(
        reverse("early-warning"), {"first": "2025-03-25", "last": "2025-03-31"}
    )

    assert response.status_code == 200
    spikes = response.context["result"].spikes
    assert [(s.day, s.category, s.count) for s in spikes] == [(DAY, "fraud", 20)]
    html = response.content.decode()
    assert "fraud" in html
    assert "8.00" in html  # threshold: mean 5 + 3 * stddev 1


def test_early_warning_defaults_to_the_last_28_days(compliance, page_as):
    response = page_as(compliance).get(reverse("early-warning"))

    assert response.status_code == 200
    result = response.context["result"]
    assert (result.last - result.first).days == BASELINE_DAYS - 1
    assert "No category spiked" in response.content.decode()


def test_early_warning_refuses_a_backwards_range(supervisor, page_as):
    response = page_as(supervisor).get(
        reverse("early-warning"), {"first": "2025-03-31", "last": "2025-03-01"}
    )

    assert response.status_code == 400
    assert "must end on or after" in response.content.decode()


# --- who may open what -------------------------------------------------------------------------


@pytest.mark.parametrize("role_fixture", ["handler", "lead", "complainant"])
def test_other_roles_get_403_on_every_oversight_page(request, supervisor, page_as, role_fixture):
    _decided(1)
    sample = _draw(supervisor)
    client = page_as(request.getfixturevalue(role_fixture))

    for name, args in PAGES:
        url = reverse(name, args=[sample.pk if a == "S" else a for a in args])
        assert client.get(url).status_code == 403, name
    assert client.post(reverse("sample-draw"), _draw_fields()).status_code == 403
    assert client.post(reverse("reports-publish"), {"period": "2025-03"}).status_code == 403
    assert QualitySample.objects.count() == 1
    assert not OversightReport.objects.exists()


def test_pages_render_in_chinese(supervisor, page_as):
    _decided(2)
    sample = _draw(supervisor, double_review_share="1")
    client = page_as(supervisor, "zh-hans")

    for name, args in PAGES:
        url = reverse(name, args=[sample.pk if a == "S" else a for a in args])
        response = client.get(url)
        assert response.status_code == 200, name
        assert response["Content-Language"] == "zh-hans"
