"""Publishing oversight reports: frozen, signed, in the ledger, verifiable offline, never
changed; corrected only by a new report that supersedes the old one."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from rest_framework.test import APIClient

from audits import reports, signing, verify_bundle
from audits.choices import EventType
from audits.models import Checkpoint, LedgerEntry, OversightReport
from audits.notes import VerifierKey, public_bytes
from audits.triggers import triggers_lifted
from governance.choices import Role
from governance.errors import (
    Conflict,
    ImmutableRecord,
    PermissionDenied,
    ValidationFailed,
)
from tests import factories

ZONE = ZoneInfo("Asia/Shanghai")


def march(n: int = 6) -> None:
    """File `n` complaints in March 2025, each by a new complainant."""
    for i in range(n):
        factories.file_complaint(
            factories.user_with_role(Role.COMPLAINANT),
            content_url=f"https://video.example.com/v/m{i}",
            now=datetime(2025, 3, 3 + i, 10, tzinfo=ZONE),
        )


@pytest.fixture
def published(supervisor: Any) -> OversightReport:
    march()
    return reports.report_publish(actor=supervisor, period="2025-03")


def pinned() -> list[str]:
    return [signing.current_verifier_key().encode()]


# --- publishing ----------------------------------------------------------------------------------


def test_a_report_is_counted_at_a_fresh_checkpoint_and_recorded_in_the_ledger(published):
    document = json.loads(published.document)
    latest = Checkpoint.objects.order_by("-tree_size").first()
    assert published.checkpoint == latest
    assert document["checkpoint"] == {
        "tree_size": latest.tree_size,
        "root_hash": latest.root_hash,
        "note": latest.note,
    }
    # The checkpoint covers every entry written before the report's own.
    entry = LedgerEntry.objects.get(event_type=EventType.REPORT_PUBLISHED)
    assert entry.seq == latest.tree_size
    assert entry.object_ref == f"report:{published.number}"
    data = json.loads(entry.body)["data"]
    assert (
        data["sha256"]
        == reports.Files(
            published.document, published.csv, published.html_en, published.html_zh_hans
        ).digests()
    )
    assert document["figures"]["complaints"]["received"] == 6
    assert (published.period, published.period_kind, published.number) == ("2025-03", "month", 1)
    assert (published.period_start, published.period_end) == (date(2025, 3, 1), date(2025, 3, 31))


def test_the_csv_and_both_pages_render_the_same_figures(published):
    rows = list(csv.DictReader(io.StringIO(published.csv)))
    by_path = {f"{r['table']}.{r['row']}": r for r in rows}
    assert by_path["complaints.received"]["value"] == "6"
    assert by_path["report.period"]["value"] == "2025-03"
    # 6 complaints by web form: shown; every other channel is 0, also shown.
    assert by_path["complaints.by_channel.web_form"] == {
        "table": "complaints.by_channel",
        "row": "web_form",
        "value": "6",
        "withheld": "no",
    }
    assert "<svg" in published.html_en
    assert "<script" not in published.html_en
    assert "2025-03" in published.html_en
    assert "2025-03" in published.html_zh_hans
    assert 'lang="zh-hans"' in published.html_zh_hans
    assert "投诉" in published.html_zh_hans
    assert "Complaints received" in published.html_en


def test_small_cells_are_withheld_in_every_file(supervisor):
    # given: three complaints only
    march(3)

    # when
    report = reports.report_publish(actor=supervisor, period="2025-03")

    # then
    document = json.loads(report.document)
    assert document["figures"]["complaints"]["received"] is None
    assert "complaints.received" in document["suppressed"]
    row = next(r for r in csv.DictReader(io.StringIO(report.csv)) if r["row"] == "received")
    assert (row["value"], row["withheld"]) == ("", "yes")
    assert ">3<" not in report.html_en


def test_the_signature_verifies_offline_with_the_pinned_key(published, tmp_path: Path):
    bundle = reports.report_bundle(published)
    files = {"report.csv": published.csv.encode(), "en.html": published.html_en.encode()}
    result = verify_bundle.verify_report(bundle, pinned_keys=pinned(), files=files)
    assert (result.number, result.period, result.pinned) == (1, "2025-03", True)
    assert result.tree_size == published.checkpoint.tree_size
    assert result.files == {"report.csv": "csv", "en.html": "html.en"}

    # and from the command line, on the files as downloaded
    path = tmp_path / "report.json"
    path.write_text(json.dumps(bundle, indent=1, ensure_ascii=False), encoding="utf-8")
    html = tmp_path / "report.zh-hans.html"
    html.write_text(published.html_zh_hans, encoding="utf-8")
    argv = [str(path), "--key", pinned()[0], "--file", str(html)]
    assert verify_bundle.main(argv) == 0


@pytest.mark.parametrize(
    "tamper",
    [
        lambda b: b["report"]["figures"]["complaints"].update(received=7),
        lambda b: b["report"].update(number=2),
        lambda b: b["report"]["checkpoint"].update(
            tree_size=b["report"]["checkpoint"]["tree_size"] + 1
        ),
        lambda b: b.update(signature=b["signature"].replace("report 1", "report 2")),
    ],
    ids=["figure", "number", "checkpoint", "signed-text"],
)
def test_an_altered_report_fails_offline(published, tamper):
    bundle = reports.report_bundle(published)
    tamper(bundle)
    with pytest.raises(verify_bundle.BundleError):
        verify_bundle.verify_report(bundle, pinned_keys=pinned())


def test_an_altered_file_or_a_stranger_s_key_fails_offline(published):
    bundle = reports.report_bundle(published)
    with pytest.raises(verify_bundle.BundleError, match="altered"):
        verify_bundle.verify_report(
            bundle, pinned_keys=pinned(), files={"x.csv": published.csv.encode() + b"1\n"}
        )
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    stranger = VerifierKey(
        signing.key_name(), public_bytes(Ed25519PrivateKey.generate().public_key())
    )
    with pytest.raises(verify_bundle.BundleError, match="signature"):
        verify_bundle.verify_report(bundle, pinned_keys=[stranger.encode()])


def test_a_report_s_checkpoint_must_be_signed_too(published):
    bundle = reports.report_bundle(published)
    note = bundle["report"]["checkpoint"]["note"]
    bundle["report"]["checkpoint"]["note"] = note.replace("\n\n", "\ntime 2030-01-01T00:00:00Z\n\n")
    # The document changed, so the report's own digest already fails; the checkpoint check is
    # reached with a document whose digest is re-signed by the right key:
    from audits import notes

    files = reports.Files(
        reports.canonical_json(bundle["report"]).decode(),
        published.csv,
        published.html_en,
        published.html_zh_hans,
    )
    bundle["signature"] = notes.sign_note(
        reports.signed_text(bundle["report"], files), signing.key_name(), signing.signing_key()
    )
    with pytest.raises(verify_bundle.BundleError, match="checkpoint"):
        verify_bundle.verify_report(bundle, pinned_keys=pinned())


# --- never changed -------------------------------------------------------------------------------


def test_a_published_report_cannot_be_altered_through_the_model(published):
    published.document = "{}"
    with pytest.raises(ImmutableRecord):
        published.save()
    with pytest.raises(ImmutableRecord):
        published.delete()
    with pytest.raises(ImmutableRecord):
        OversightReport.objects.filter(pk=published.pk).update(csv="")
    with pytest.raises(ImmutableRecord):
        OversightReport.objects.all().delete()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audits_oversightreport SET document = '{}'",
        "UPDATE audits_oversightreport SET html_en = ''",
        "DELETE FROM audits_oversightreport",
    ],
)
def test_a_published_report_cannot_be_altered_in_the_database(published, statement):
    with (
        pytest.raises(IntegrityError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)
    assert OversightReport.objects.get().document == published.document


def test_lifting_the_triggers_is_caught_by_the_signature(published):
    # A database superuser can lift the triggers; the signature still gives the edit away.
    with triggers_lifted(connection, ["audits_oversightreport"]), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE audits_oversightreport SET document = REPLACE(document, %s, %s)",
            ['"received":6', '"received":60'],
        )
    edited = OversightReport.objects.get()
    assert '"received":60' in edited.document
    with pytest.raises(verify_bundle.BundleError, match="altered"):
        verify_bundle.verify_report(reports.report_bundle(edited), pinned_keys=pinned())


def test_a_published_report_cannot_be_altered_over_the_api(published, supervisor):
    api = APIClient()
    api.force_authenticate(supervisor)
    url = f"/api/v1/oversight/reports/{published.number}/"
    for method in ("put", "patch", "delete"):
        response = getattr(api, method)(url, {"period": "2025-04"}, format="json")
        assert response.status_code == 405, method
    assert OversightReport.objects.get().document == published.document


def test_the_admin_shows_reports_read_only(published, admin_client_root):
    response = admin_client_root.get(f"/admin/audits/oversightreport/{published.pk}/change/")
    assert response.status_code == 200
    assert b'name="_save"' not in response.content
    assert admin_client_root.get("/admin/audits/oversightreport/add/").status_code == 403
    delete = f"/admin/audits/oversightreport/{published.pk}/delete/"
    assert admin_client_root.post(delete, {"post": "yes"}).status_code == 403


@pytest.fixture
def admin_client_root(client: Any) -> Any:
    return factories.sign_in_pages(client, factories.superuser())


# --- corrections ---------------------------------------------------------------------------------


def test_publishing_a_period_twice_is_a_conflict_that_names_the_way_out(published, supervisor):
    with pytest.raises(Conflict, match="supersedes"):
        reports.report_publish(actor=supervisor, period="2025-03")
    assert OversightReport.objects.count() == 1


def test_a_correction_supersedes_and_leaves_the_original_as_it_was(published, supervisor):
    # given
    original = published.document

    # when
    correction = reports.report_publish(
        actor=supervisor,
        period="2025-03",
        supersedes=published.number,
        correction="Two complaints were filed under the wrong category.",
    )

    # then
    published.refresh_from_db()
    assert published.document == original
    assert published.superseded_by == correction
    document = json.loads(correction.document)
    assert document["supersedes"] == {
        "number": 1,
        "sha256": reports.sha256_hex(original),
    }
    assert document["correction"] == "Two complaints were filed under the wrong category."
    result = verify_bundle.verify_report(reports.report_bundle(correction), pinned_keys=pinned())
    assert result.supersedes == 1
    # and the original cannot be superseded a second time
    with pytest.raises(Conflict, match="superseded already, by report 2"):
        reports.report_publish(
            actor=supervisor, period="2025-03", supersedes=1, correction="Again."
        )


@pytest.mark.parametrize(
    ("period", "supersedes", "correction", "error", "field"),
    [
        ("2025-03", 1, "", ValidationFailed, "correction"),
        ("2025-04", 1, "Wrong month.", ValidationFailed, "supersedes"),
        ("2025-03", 99, "No such report.", ValidationFailed, "supersedes"),
        ("2025-03", None, "A correction of nothing.", ValidationFailed, "supersedes"),
        ("2025-3", None, "", ValidationFailed, "period"),
    ],
)
def test_a_bad_correction_is_refused_and_nothing_is_written(
    published, supervisor, period, supersedes, correction, error, field
):
    entries = LedgerEntry.objects.count()
    with pytest.raises(error) as caught:
        reports.report_publish(
            actor=supervisor, period=period, supersedes=supersedes, correction=correction
        )
    if field:
        assert field in caught.value.fields
    assert OversightReport.objects.count() == 1
    assert LedgerEntry.objects.count() == entries


def test_a_period_that_has_not_ended_is_refused(supervisor):
    today = datetime.now(ZONE).date()
    with pytest.raises(ValidationFailed) as caught:
        reports.report_publish(actor=supervisor, period=f"{today:%Y-%m}")
    assert "has not ended" in caught.value.fields["period"][0]
    with pytest.raises(ValidationFailed):
        reports.report_publish(actor=supervisor, period=f"{today:%Y}")


@pytest.mark.parametrize(
    "role", [Role.COMPLIANCE_OFFICER, Role.ADMIN, Role.HANDLER, Role.COMPLAINANT]
)
def test_only_supervisors_publish(role):
    with pytest.raises(PermissionDenied):
        reports.report_publish(actor=factories.user_with_role(role), period="2025-03")
    assert not OversightReport.objects.exists()


def test_a_month_with_a_quality_sample_publishes_and_shows_it(supervisor):
    # given: the hand-built month of test_report_figures, sample and reviews included
    from tests.audits.test_report_figures import build

    build()

    # when
    report = reports.report_publish(actor=supervisor, period="2025-03")

    # then: the sample's row is on both pages; its small counts are withheld
    document = json.loads(report.document)
    assert document["figures"]["quality"]["samples"][0]["items"] is None
    assert "quality.samples.0.items" in document["suppressed"]
    assert "2025-03-01 – 2025-03-31" in report.html_en
    assert "2025-03-01 – 2025-03-31" in report.html_zh_hans
    assert verify_bundle.verify_report(reports.report_bundle(report), pinned_keys=pinned())


def test_quarters_and_years_are_published_too(supervisor):
    march()
    quarter = reports.report_publish(actor=supervisor, period="2025-Q1")
    year = reports.report_publish(actor=supervisor, period="2025")
    assert json.loads(quarter.document)["figures"]["complaints"]["received"] == 6
    assert json.loads(year.document)["period"]["kind"] == "year"
    assert (year.period_start, year.period_end) == (date(2025, 1, 1), date(2025, 12, 31))


# --- the command ---------------------------------------------------------------------------------


def test_the_command_publishes_and_running_it_again_changes_nothing(supervisor, capsys):
    march()
    call_command("publish_report", "--period", "2025-03", "--as", supervisor.username)
    assert "Published report 1 of 2025-03" in capsys.readouterr().out
    call_command("publish_report", "--period", "2025-03", "--as", supervisor.username)
    assert "Nothing published" in capsys.readouterr().out
    assert OversightReport.objects.count() == 1


def test_the_command_explains_a_refusal(supervisor):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="YYYY-MM"):
        call_command("publish_report", "--period", "March", "--as", supervisor.username)
    with pytest.raises(CommandError, match="No user"):
        call_command("publish_report", "--period", "2025-03", "--as", "nobody")


# --- the API -------------------------------------------------------------------------------------


def test_the_api_publishes_lists_and_reads_reports(supervisor, compliance):
    march()
    api = APIClient()
    api.force_authenticate(supervisor)
    created = api.post("/api/v1/oversight/reports/", {"period": "2025-03"}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["number"] == 1
    assert body["supersedes"] is None
    assert body["document"]["figures"]["complaints"]["received"] == 6
    assert body["downloads"]["json"].endswith("/transparency/reports/1/json")
    again = api.post("/api/v1/oversight/reports/", {"period": "2025-03"}, format="json")
    assert again.status_code == 409
    assert "supersedes" in again.json()["detail"]
    bad = api.post("/api/v1/oversight/reports/", {"period": "March"}, format="json")
    assert bad.status_code == 400
    assert "YYYY-MM" in json.dumps(bad.json())

    api.force_authenticate(compliance)
    listed = api.get("/api/v1/oversight/reports/")
    assert [r["number"] for r in listed.json()["results"]] == [1]
    assert (
        api.get("/api/v1/oversight/reports/1/")
        .json()["signature"]
        .startswith(reports.REPORT_FORMAT)
    )
    assert api.get("/api/v1/oversight/reports/7/").status_code == 404
    assert api.post("/api/v1/oversight/reports/", {"period": "2025-04"}).status_code == 403


def test_publishing_waits_for_the_ledger_so_figures_match_the_checkpoint(supervisor):
    # The publication holds the ledger's lock from sealing to commit; whatever the ledger
    # holds at the checkpoint is what was counted. Here: a complaint filed after the report
    # is in a later checkpoint, not in this one's figures.
    march()
    report = reports.report_publish(
        actor=supervisor, period="2025-03", now=datetime(2025, 4, 2, tzinfo=ZONE)
    )
    factories.file_complaint(
        factories.user_with_role(Role.COMPLAINANT),
        content_url="https://video.example.com/v/late",
        now=datetime(2025, 3, 30, tzinfo=ZONE),
    )
    assert json.loads(report.document)["figures"]["complaints"]["received"] == 6
    counted = LedgerEntry.objects.filter(
        seq__lt=report.checkpoint.tree_size, event_type=EventType.COMPLAINT_RECEIVED
    )
    assert counted.count() == 6
    assert LedgerEntry.objects.filter(event_type=EventType.COMPLAINT_RECEIVED).count() == 7


# --- two publishers at once -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_publishers_of_one_period_at_once_publish_one_report():
    import threading

    from django.conf import settings

    if connection.vendor != "postgresql":
        # SQLite serialises writers with BEGIN IMMEDIATE (settings); the threaded run below
        # needs PostgreSQL's concurrent writers to mean anything.
        assert settings.DATABASES["default"]["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
        return
    # given
    march()
    publishers = [factories.user_with_role(Role.SUPERVISOR) for _ in range(2)]
    outcomes: list[Any] = []
    start = threading.Barrier(2)

    def publish(actor: Any) -> None:
        try:
            start.wait()
            outcomes.append(reports.report_publish(actor=actor, period="2025-03"))
        except BaseException as exc:  # handed to the main thread
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=publish, args=(p,)) for p in publishers]

    # when
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    # then: one report, and the other publisher was told so
    published = [o for o in outcomes if isinstance(o, OversightReport)]
    refused = [o for o in outcomes if isinstance(o, Conflict)]
    assert (len(published), len(refused)) == (1, 1), outcomes
    assert OversightReport.objects.count() == 1
    assert LedgerEntry.objects.filter(event_type=EventType.REPORT_PUBLISHED).count() == 1
