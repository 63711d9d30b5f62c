"""The public transparency page: no sign-in, English and Simplified Chinese, every published
report with its chart and its files, served exactly as signed."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from audits import reports, signing, verify_bundle
from audits.models import OversightReport
from governance.choices import Role
from tests import factories


@pytest.fixture
def two_reports(supervisor: Any) -> tuple[OversightReport, OversightReport]:
    for i in range(6):
        factories.file_complaint(
            factories.user_with_role(Role.COMPLAINANT),
            content_url=f"https://video.example.com/v/t{i}",
            now=datetime(2025, 3, 3 + i, 10, tzinfo=ZoneInfo("Asia/Shanghai")),
        )
    first = reports.report_publish(actor=supervisor, period="2025-03")
    second = reports.report_publish(
        actor=supervisor, period="2025-03", supersedes=first.number, correction="Recounted."
    )
    return first, second


def test_the_page_lists_every_report_without_sign_in(client: Client, two_reports) -> None:
    response = client.get("/transparency/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'lang="en"' in page
    assert page.count("<svg") == 2  # one chart per report
    assert "superseded by report 2" in page
    assert "Corrects report 1." in page
    for number in (1, 2):
        assert f'href="/transparency/reports/{number}/json"' in page
        assert f'href="/transparency/reports/{number}/csv"' in page
    assert "<script" not in page


def test_the_page_in_simplified_chinese(client: Client, two_reports) -> None:
    response = client.get("/zh-hans/transparency/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'lang="zh-hans"' in page
    assert "透明度" in page
    assert 'href="/zh-hans/transparency/reports/1/"' in page
    frozen = client.get("/zh-hans/transparency/reports/1/")
    assert frozen.content.decode() == OversightReport.objects.get(number=1).html_zh_hans


def test_the_page_shows_the_key_to_verify_with(client: Client, two_reports) -> None:
    page = client.get("/transparency/").content.decode()
    assert signing.current_verifier_key().encode() in page


def test_frozen_files_may_be_cached(client: Client, two_reports) -> None:
    for url in ("/transparency/reports/1/", "/transparency/reports/1/json"):
        assert "immutable" in client.get(url)["Cache-Control"]


def test_the_api_and_admin_still_answer_in_the_visitor_s_language(client: Client) -> None:
    # The Chinese pages live under /zh-hans/; nothing else is pinned to English.
    for url in ("/api/v1/complaints/", "/admin/login/"):
        response = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
        assert response["Content-Language"] == "zh-hans", url
    assert client.get("/transparency/", HTTP_ACCEPT_LANGUAGE="zh-hans")["Content-Language"] == "en"


def test_an_empty_page_says_so(client: Client) -> None:
    response = client.get("/transparency/")
    assert response.status_code == 200
    assert "No report has been published yet." in response.content.decode()


def test_the_files_are_served_as_frozen_and_verify(client: Client, two_reports) -> None:
    report = two_reports[0]
    page = client.get("/transparency/reports/1/")
    assert page.content.decode() == report.html_en
    downloaded = client.get("/transparency/reports/1/json")
    assert downloaded["Content-Type"] == "application/json"
    assert "ombud-report-2025-03-1.json" in downloaded["Content-Disposition"]
    files = {}
    for kind in ("csv", "en.html", "zh-hans.html"):
        response = client.get(f"/transparency/reports/1/{kind}")
        assert response.status_code == 200
        files[kind] = response.content
    assert files["csv"].decode() == report.csv
    assert client.get("/transparency/reports/1/sig").content.decode() == report.signature
    result = verify_bundle.verify_report(
        json.loads(downloaded.content),
        pinned_keys=[signing.current_verifier_key().encode()],
        files=files,
    )
    assert result.files == {"csv": "csv", "en.html": "html.en", "zh-hans.html": "html.zh-hans"}


@pytest.mark.parametrize(
    "url",
    ["/transparency/reports/9/", "/transparency/reports/9/json", "/transparency/reports/1/xml"],
)
def test_a_missing_report_or_file_is_404(client: Client, two_reports, url: str) -> None:
    assert client.get(url).status_code == 404


def test_the_pages_take_no_writes(client: Client, two_reports) -> None:
    for url in ("/transparency/", "/transparency/reports/1/", "/transparency/reports/1/csv"):
        assert client.post(url).status_code == 405
        assert client.delete(url).status_code == 405
    assert OversightReport.objects.count() == 2


def test_the_list_reads_a_bounded_number_of_queries(
    client: Client, two_reports, django_assert_max_num_queries
) -> None:
    with django_assert_max_num_queries(3):
        client.get("/transparency/")
