"""Oversight reports: publish a period's figures once, frozen and signed, for anyone to check.

`report_publish` seals the ledger and, still holding the ledger's lock (so no write can land
between the checkpoint and the counting), counts the period's figures in the database
(audits/figures.py), blanks the small cells, and freezes three renderings of the result:

- the document: canonical JSON, what the signature covers first;
- CSV: one row per figure, as (table, row, value, withheld);
- an HTML page per language (English, Simplified Chinese) with SVG charts and no script.

A signed note (C2SP signed-note format, the ledger's Ed25519 key) lists the SHA-256 of each,
the checkpoint the figures were counted at and the report it supersedes, if any. The report is
an append-only row and a ledger event; a correction is a new report superseding it.

`python -m audits.verify_bundle report.json --key KEY [--file report.csv ...]` checks a
downloaded report offline (docs/verifying.md).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from governance import policies
from governance.choices import (
    AppealOutcome,
    AutomatedDecision,
    Channel,
    DecisionAction,
    DecisionGround,
    DecisionKind,
    DecisionOutcome,
)
from governance.deadlines import business_date
from governance.errors import Conflict, ValidationFailed
from governance.models import Category, Department
from governance.services.recording import at_or_now, require, sha256_hex
from privacy.choices import ErasureCause, RequestKind
from privacy.pseudonyms import actor_ref

from . import figures as fig
from . import notes, signing
from .charts import Bar, bar_chart
from .choices import EventType
from .models import Checkpoint, OversightReport
from .services import canonical_json, ledger_append, ledger_seal

REPORT_FORMAT = "ombud-report/1"
LANGUAGES = ("en", "zh-hans")


def min_cell() -> int:
    """Return the smallest count a report publishes (settings.OMBUD_REPORT_MIN_CELL)."""
    return int(getattr(settings, "OMBUD_REPORT_MIN_CELL", fig.DEFAULT_MIN_CELL))


# --- the document ------------------------------------------------------------------------------


def _labels() -> dict[str, Any]:
    """The names the figures' codes stood for when the report was published, in both languages,
    so the frozen report reads the same after a category is renamed."""

    # Lists of [code, English, Chinese], in the order pages show them: canonical JSON sorts
    # an object's keys, but keeps a list's order.
    def choices(values: Any) -> list[list[str]]:
        out = []
        for value, label in values.choices:
            names = []
            for language in LANGUAGES:
                with translation.override(language):
                    names.append(str(label))
            out.append([value, *names])
        return out

    def rows(model: Any) -> list[list[str]]:
        return [
            [code, name, name_zh]
            for code, name, name_zh in model.objects.order_by("code").values_list(
                "code", "name", "name_zh"
            )
        ]

    return {
        "channel": choices(Channel),
        "category": rows(Category),
        "department": rows(Department),
        "decision_kind": choices(DecisionKind),
        "outcome": choices(DecisionOutcome),
        "ground": choices(DecisionGround),
        "action": choices(DecisionAction),
        "automated_decision": choices(AutomatedDecision),
        "appeal_outcome": choices(AppealOutcome),
        "request_kind": choices(RequestKind),
        "erasure_cause": choices(ErasureCause),
    }


def report_document(
    period: fig.Period,
    *,
    number: int,
    checkpoint: Checkpoint,
    as_of: datetime,
    supersedes: OversightReport | None = None,
    correction: str = "",
) -> dict[str, Any]:
    """Count `period`'s figures and return the report's document (not yet signed)."""
    smallest = min_cell()
    published = fig.suppress(fig.period_figures(period, as_of=as_of), smallest)
    return {
        "format": REPORT_FORMAT,
        "origin": signing.key_name(),
        "number": number,
        "period": {
            "label": period.label,
            "kind": period.kind,
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
            "time_zone": settings.OMBUD_BUSINESS_TIME_ZONE,
        },
        "published_at": as_of.isoformat(),
        "checkpoint": {
            "tree_size": checkpoint.tree_size,
            "root_hash": checkpoint.root_hash,
            "note": checkpoint.note,
        },
        "supersedes": (
            None
            if supersedes is None
            else {"number": supersedes.number, "sha256": sha256_hex(supersedes.document)}
        ),
        "correction": correction or None,
        "min_cell": smallest,
        "figures": published.figures,
        "suppressed": published.paths,
        "labels": _labels(),
    }


# --- CSV ---------------------------------------------------------------------------------------


def _rows(value: Any, path: str) -> list[tuple[str, str, Any]]:
    if isinstance(value, dict):
        out = []
        for key, item in value.items():
            out += _rows(item, f"{path}.{key}" if path else key)
        return out
    if isinstance(value, list):
        out = []
        for index, item in enumerate(value):
            out += _rows(item, f"{path}[{index}]")
        return out
    table, _dot, row = path.rpartition(".")
    return [(table, row, value)]


def render_csv(document: dict[str, Any]) -> str:
    """Return the document's figures as CSV: table, row, value, withheld (yes/no)."""
    withheld = set(document["suppressed"])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["table", "row", "value", "withheld"])
    writer.writerow(["report", "period", document["period"]["label"], "no"])
    writer.writerow(["report", "number", document["number"], "no"])
    writer.writerow(["report", "checkpoint_tree_size", document["checkpoint"]["tree_size"], "no"])
    writer.writerow(["report", "min_cell", document["min_cell"], "no"])
    for table, row, value in _rows(document["figures"], ""):
        path = f"{table}.{row}" if table else row
        writer.writerow([table, row, "" if value is None else value, _yes(path in withheld)])
    return out.getvalue()


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


# --- HTML --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One figure as a page shows it."""

    text: str
    withheld: bool


class _Reader:
    """Reads figures out of a document for one language: labels, numbers, withheld marks."""

    def __init__(self, document: dict[str, Any], language: str) -> None:
        self.doc = document
        self.language = language
        self.withheld = set(document["suppressed"])
        column = 1 + LANGUAGES.index(language)
        self.names = {
            kind: {row[0]: row[column] for row in rows} for kind, rows in document["labels"].items()
        }
        self.order = {
            kind: {row[0]: i for i, row in enumerate(rows)}
            for kind, rows in document["labels"].items()
        }

    def value(self, path: str) -> Any:
        node: Any = self.doc["figures"]
        for part in path.split("."):
            node = node[int(part)] if isinstance(node, list) else node[part]
        return node

    def cell(self, path: str, *, percent: bool = False, unit: str = "") -> Cell:
        value = self.value(path)
        if path in self.withheld:
            return Cell("*", True)
        if value is None:
            return Cell("–", False)
        if percent:
            return Cell(f"{value * 100:.1f}%", False)
        if isinstance(value, float):
            return Cell(f"{value:g}{unit}", False)
        return Cell(f"{value:,}{unit}", False)

    def label(self, kind: str, code: str) -> str:
        return self.names.get(kind, {}).get(code, code)

    def codes(self, path: str, kind: str) -> list[str]:
        """The keys of a table, in the order of its labels (unknown ones last, by code)."""
        order = self.order.get(kind, {})
        return sorted(self.value(path), key=lambda code: (order.get(code, len(order)), code))

    def rows(self, path: str, kind: str) -> list[tuple[str, Cell]]:
        return [
            (self.label(kind, code), self.cell(f"{path}.{code}")) for code in self.codes(path, kind)
        ]

    def bar(self, label: str, path: str, *, percent: bool = False) -> Bar:
        value = None if path in self.withheld else self.value(path)
        return Bar(label, value, self.cell(path, percent=percent).text)

    def chart(self, title: str, path: str, kind: str) -> Any:
        bars = [
            self.bar(self.label(kind, code), f"{path}.{code}") for code in self.codes(path, kind)
        ]
        return bar_chart(title, bars)


def report_context(document: dict[str, Any], language: str) -> dict[str, Any]:
    """Return what the report templates show of `document`, in `language`."""
    r = _Reader(document, language)
    stages = {"acknowledge": _("Acknowledgement"), "triage": _("Triage"), "decide": _("Decision")}
    deadline_bars = [
        r.bar(label, f"deadlines.{s}.share_met", percent=True) for s, label in stages.items()
    ]
    satisfaction_bars = [
        r.bar(f"{score} ★", f"satisfaction.distribution.{score}")
        for score in r.value("satisfaction.distribution")
    ]
    quality = document["figures"]["quality"]
    zone = ZoneInfo(document["period"]["time_zone"])
    published = datetime.fromisoformat(document["published_at"]).astimezone(zone)
    return {
        "doc": document,
        "published": f"{published:%Y-%m-%d %H:%M}",
        "language": language,
        "min_cell": document["min_cell"],
        "withheld_count": len(document["suppressed"]),
        "received": r.cell("complaints.received"),
        "charts": {
            "channel": r.chart(_("Complaints by channel"), "complaints.by_channel", "channel"),
            "category": r.chart(_("Complaints by category"), "complaints.by_category", "category"),
            "department": r.chart(
                _("Complaints by department"), "complaints.by_department", "department"
            ),
            "deadlines": bar_chart(_("Deadlines met"), deadline_bars, maximum=1.0),
            "outcome": r.chart(_("Decisions by outcome"), "decisions.by_outcome", "outcome"),
            "action": r.chart(_("Decisions by action taken"), "decisions.by_action", "action"),
            "satisfaction": bar_chart(_("Ratings by score"), satisfaction_bars),
        },
        "deadlines": [
            {
                "label": label,
                "met": r.cell(f"deadlines.{s}.met"),
                "missed": r.cell(f"deadlines.{s}.missed"),
                "pending": r.cell(f"deadlines.{s}.pending"),
                "share": r.cell(f"deadlines.{s}.share_met", percent=True),
            }
            for s, label in stages.items()
        ],
        "time": {
            "decided": r.cell("time_to_decision_hours.decided"),
            "median": r.cell("time_to_decision_hours.median"),
            "p90": r.cell("time_to_decision_hours.p90"),
        },
        "decisions": {
            "total": r.cell("decisions.total"),
            "by_kind": r.rows("decisions.by_kind", "decision_kind"),
            "by_ground": r.rows("decisions.by_ground", "ground"),
            "automated_detection": r.cell("decisions.automated_detection"),
            "automated_detection_share": r.cell(
                "decisions.automated_detection_share", percent=True
            ),
            "automated_decision": r.rows("decisions.automated_decision", "automated_decision"),
            "automated_decision_share": r.cell("decisions.automated_decision_share", percent=True),
        },
        "appeals": {
            "filed": r.cell("appeals.filed"),
            "decided": r.cell("appeals.decided"),
            "by_outcome": r.rows("appeals.by_outcome", "appeal_outcome"),
            "reversal_rate": r.cell("appeals.reversal_rate", percent=True),
        },
        "repeats": {
            "window_days": r.value("repeat_complaints.window_days"),
            "total": r.cell("repeat_complaints.total"),
            "by_kind": [
                (label, r.cell(f"repeat_complaints.by_kind.{kind}"))
                for kind, label in (
                    ("same_complainant_only", _("Same complainant only")),
                    ("same_content_only", _("Same content only")),
                    ("both", _("Same complainant and same content")),
                )
            ],
            "share": r.cell("repeat_complaints.share", percent=True),
        },
        "satisfaction": {
            "ratings": r.cell("satisfaction.ratings"),
            "mean": r.cell("satisfaction.mean"),
        },
        "requests": [
            {
                "label": r.label("request_kind", kind),
                "received": r.cell(f"privacy_requests.{kind}.received"),
                "completed": r.cell(f"privacy_requests.{kind}.completed"),
                "refused": r.cell(f"privacy_requests.{kind}.refused"),
                "median_days": r.cell(f"privacy_requests.{kind}.median_days"),
            }
            for kind in r.codes("privacy_requests", "request_kind")
        ],
        "erasures": r.rows("erasures", "erasure_cause"),
        "holds_open": r.cell("legal_holds_open"),
        "quality": {
            "samples": [
                {
                    "period_start": s["period_start"],
                    "period_end": s["period_end"],
                    "population": r.cell(f"quality.samples.{i}.population"),
                    "items": r.cell(f"quality.samples.{i}.items"),
                    "kappa": r.cell(f"quality.samples.{i}.kappa"),
                    "seed_source": s["seed_source"],
                }
                for i, s in enumerate(quality["samples"])
            ],
            "reviews": r.cell("quality.reviews"),
            "agree": r.cell("quality.verdicts.agree"),
            "disagree": r.cell("quality.verdicts.disagree"),
            "pairs": r.cell("quality.double_reviewed_pairs"),
            "kappa": r.cell("quality.kappa"),
            "opened": r.cell("quality.corrective_actions.opened"),
            "closed": r.cell("quality.corrective_actions.closed"),
            "open_at_end": r.cell("quality.corrective_actions.open_at_end"),
        },
        "early_warning": document["figures"]["early_warning"],
        "spikes": [
            {**spike, "label": r.label("category", spike["category"])}
            for spike in document["figures"]["early_warning"]["spikes"]
        ],
    }


def render_html(document: dict[str, Any], language: str) -> str:
    """Return the report's frozen page in `language`."""
    with translation.override(language):
        return render_to_string("audits/report.html", report_context(document, language))


# --- signing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Files:
    """A report's frozen files, by name."""

    document: str
    csv: str
    html_en: str
    html_zh_hans: str

    def digests(self) -> dict[str, str]:
        return {
            "json": sha256_hex(self.document),
            "csv": sha256_hex(self.csv),
            "html.en": sha256_hex(self.html_en),
            "html.zh-hans": sha256_hex(self.html_zh_hans),
        }


def signed_text(document: dict[str, Any], files: Files) -> str:
    """Return the text the report's signature covers: what it is, and each file's SHA-256."""
    supersedes = document["supersedes"]
    checkpoint = document["checkpoint"]
    root = bytes.fromhex(checkpoint["root_hash"])
    lines = [
        REPORT_FORMAT,
        f"origin {document['origin']}",
        f"report {document['number']}",
        f"period {document['period']['label']}",
        f"checkpoint {checkpoint['tree_size']} {base64.b64encode(root).decode()}",
        f"supersedes {supersedes['number'] if supersedes else '-'}",
        *(f"sha256 {name} {digest}" for name, digest in files.digests().items()),
    ]
    return "\n".join(lines) + "\n"


def report_bundle(report: OversightReport) -> dict[str, Any]:
    """Return the downloadable JSON: the document, its signature and the verifier keys."""
    return {
        "format": REPORT_FORMAT,
        "report": json.loads(report.document),
        "signature": report.signature,
        "keys": [key.encode() for key in signing.verifier_keys()],
    }


def report_file_name(report: OversightReport, suffix: str) -> str:
    return f"ombud-report-{report.period}-{report.number}.{suffix}"


# --- publishing --------------------------------------------------------------------------------


def _check_supersedes(period: fig.Period, supersedes: Any, correction: str) -> Any:
    original = (
        OversightReport.objects.filter(period=period.label, supersedes__isnull=True)
        .only("number")
        .first()
    )
    if supersedes is None:
        if correction.strip():
            raise ValidationFailed(
                _("No report was made; correct the fields named."),
                fields={
                    "supersedes": [
                        _("A correction names the report it supersedes; give its number.")
                    ]
                },
            )
        if original is not None:
            current = (
                OversightReport.objects.filter(period=period.label).order_by("-number").first()
            )
            raise Conflict(
                _(
                    "Report %(number)s of %(period)s is published already and is never changed. "
                    "To correct it, publish a new report that supersedes it, with the reason."
                )
                % {"number": current.number if current else original.number, "period": period.label}
            )
        return None
    target = (
        supersedes
        if isinstance(supersedes, OversightReport)
        else OversightReport.objects.filter(number=supersedes).first()
    )
    if target is None:
        raise ValidationFailed(
            _("No report was made; correct the fields named."),
            fields={
                "supersedes": [
                    _("No report %(number)s is published; name a published report of the period.")
                    % {"number": supersedes}
                ]
            },
        )
    if target.period != period.label:
        raise ValidationFailed(
            _("No report was made; correct the fields named."),
            fields={
                "supersedes": [
                    _("Report %(number)s is of %(other)s; a correction is of the same period.")
                    % {"number": target.number, "other": target.period}
                ]
            },
        )
    if OversightReport.objects.filter(supersedes=target).exists():
        newer = OversightReport.objects.get(supersedes=target)
        raise Conflict(
            _(
                "Report %(number)s was superseded already, by report %(newer)s; "
                "supersede that one instead."
            )
            % {"number": target.number, "newer": newer.number}
        )
    if not correction.strip():
        raise ValidationFailed(
            _("No report was made; correct the fields named."),
            fields={"correction": [_("Say what the correction changes and why; it is published.")]},
        )
    return target


@transaction.atomic
def report_publish(
    *,
    actor: Any,
    period: str,
    supersedes: Any = None,
    correction: str = "",
    now: datetime | None = None,
) -> OversightReport:
    """Seal the ledger, count the period's figures, and publish them frozen and signed."""
    require(policies.can_publish_reports(actor), _("Only supervisors publish oversight reports."))
    parsed = fig.Period.parse(period)
    at = at_or_now(now)
    if parsed.end >= business_date(at):
        raise ValidationFailed(
            _("No report was made; correct the period."),
            fields={
                "period": [
                    _("%(period)s has not ended; publish it from %(day)s on.")
                    % {"period": parsed.label, "day": parsed.end + timedelta(days=1)}
                ]
            },
        )
    correction = (correction or "").strip()
    # Sealing takes the ledger's lock and holds it to commit: no write lands between the
    # checkpoint and the counting, so the figures are those of the ledger it signs. A second
    # publisher of the same period waits here and then meets the first one's report.
    checkpoint, _created = ledger_seal(now=at)
    target = _check_supersedes(parsed, supersedes, correction)
    number = (OversightReport.objects.aggregate(n=Max("number"))["n"] or 0) + 1
    document = report_document(
        parsed,
        number=number,
        checkpoint=checkpoint,
        as_of=at,
        supersedes=target,
        correction=correction,
    )
    text = canonical_json(document).decode("utf-8")
    # Every page is drawn from the document as stored, as the transparency page draws it later.
    document = json.loads(text)
    files = Files(
        document=text,
        csv=render_csv(document),
        html_en=render_html(document, "en"),
        html_zh_hans=render_html(document, "zh-hans"),
    )
    signature = notes.sign_note(
        signed_text(document, files), signing.key_name(), signing.signing_key()
    )
    report = OversightReport(
        number=number,
        period=parsed.label,
        period_kind=parsed.kind,
        period_start=parsed.start,
        period_end=parsed.end,
        checkpoint=checkpoint,
        supersedes=target,
        correction=correction,
        published_by=actor,
        published_by_ref=actor_ref(actor),
        published_at=at,
        document=files.document,
        csv=files.csv,
        html_en=files.html_en,
        html_zh_hans=files.html_zh_hans,
        signature=signature,
    )
    report.save()
    ledger_append(
        event_type=EventType.REPORT_PUBLISHED,
        object_ref=f"report:{number}",
        actor_ref=report.published_by_ref,
        data={
            "period": parsed.label,
            "checkpoint": checkpoint.tree_size,
            "supersedes": target.number if target else None,
            "correction_sha256": sha256_hex(correction) if correction else None,
            "sha256": files.digests(),
            "signature_sha256": hashlib.sha256(signature.encode()).hexdigest(),
        },
        at=at,
    )
    return report
