"""The public transparency page: every published oversight report, its charts and its files.

No sign-in: a published report holds only suppressed aggregates. English at /transparency/,
Simplified Chinese at /zh-hans/transparency/ (audits/urls.py). The files are served exactly as
they were frozen and signed, so a download verifies offline; being frozen, they may be cached.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from governance.errors import NotFound
from governance.pages.limits import limited

from . import reports, selectors, signing
from .models import OversightReport

# A published report never changes; a correction is another report at another address.
_FROZEN = cache_control(public=True, max_age=86400, immutable=True)
# Anyone may read these pages, but no one address may flood them.
_PUBLIC = limited(("public", "ip"), methods=None)


_STYLE = re.compile(r"<style[^>]*>(.*?)</style>", re.DOTALL)


def _style_hashes(html: str) -> list[str]:
    """The Content-Security-Policy sources that admit exactly the page's own <style> blocks."""
    return [
        f"'sha256-{base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()}'"
        for css in _STYLE.findall(html)
    ]


def _report(number: int) -> OversightReport:
    try:
        return selectors.published_report_get(number=number)
    except NotFound as exc:
        raise Http404(str(exc)) from exc


@require_safe
@_PUBLIC
def transparency(request: HttpRequest, language: str) -> HttpResponse:
    """List the published reports, newest period first, each with its headline chart."""
    suffix = "" if language == "en" else f"-{language}"
    entries: list[dict[str, Any]] = []
    with translation.override(language):
        for report in selectors.published_reports():
            document = json.loads(report.document)
            context = reports.report_context(document, language)
            entries.append(
                {
                    "report": report,
                    "superseded_by": getattr(report, "superseded_by", None),
                    "doc": document,
                    "page_url": reverse(f"transparency-report{suffix}", args=[report.number]),
                    "received": context["received"],
                    "decisions": context["decisions"]["total"],
                    "median": context["time"]["median"],
                    "share_decided_in_time": context["deadlines"][2]["share"],
                    "chart": context["charts"]["category"],
                    "published": context["published"],
                }
            )
        page = {
            "entries": entries,
            "language": language,
            "keys": [key.encode() for key in signing.verifier_keys()],
        }
        response = render(request, "audits/transparency.html", page)
    response["Content-Language"] = language
    return response


@require_safe
@_PUBLIC
@_FROZEN
def report_page(request: HttpRequest, number: int, language: str) -> HttpResponse:
    """Serve a report's frozen page in the language of the route."""
    report = _report(number)
    html = report.html_zh_hans if language == "zh-hans" else report.html_en
    response = HttpResponse(html, content_type="text/html; charset=utf-8")
    response["Content-Language"] = language
    # A frozen page carries its style sheet inline, so it reads the same offline; the policy
    # admits that sheet by its hash (what django-csp's csp_update would add, per response).
    response._csp_update = {"style-src": _style_hashes(html)}  # type: ignore[attr-defined]
    return response


# What each download is: the stored column, its media type and its file suffix.
_FILES = {
    "csv": ("csv", "text/csv; charset=utf-8", "csv"),
    "sig": ("signature", "text/plain; charset=utf-8", "sig.txt"),
    "en.html": ("html_en", "text/html; charset=utf-8", "en.html"),
    "zh-hans.html": ("html_zh_hans", "text/html; charset=utf-8", "zh-hans.html"),
}


@require_safe
@_PUBLIC
@_FROZEN
def report_file(request: HttpRequest, number: int, kind: str) -> HttpResponse:
    """Serve one of a report's files as a download: JSON (with its signature), CSV, the
    signed note, or the page in one language."""
    report = _report(number)
    if kind == "json":
        response: HttpResponse = JsonResponse(
            reports.report_bundle(report), json_dumps_params={"ensure_ascii": False, "indent": 1}
        )
        suffix = "json"
    elif kind in _FILES:
        column, media_type, suffix = _FILES[kind]
        response = HttpResponse(getattr(report, column), content_type=media_type)
    else:
        raise Http404(_("No such file; a report offers json, csv, sig, en.html and zh-hans.html."))
    name = reports.report_file_name(report, suffix)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
