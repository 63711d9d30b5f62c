"""Append-only records stay as written: refused by the models, the querysets and the database.

Both CI runs (SQLite and PostgreSQL) execute every test here; a test whose facts differ between
the two branches on `connection.vendor` and asserts the fact of the database it runs on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps
from django.db import DatabaseError, IntegrityError, connection, models, transaction
from django.utils import timezone

from audits.models import (
    AppendOnlyModel,
    LedgerEntry,
    OversightReport,
    QualitySample,
    Review,
    SampleItem,
)
from audits.reports import report_publish
from audits.services import ledger_seal
from audits.triggers import trigger_names
from governance import services
from governance.choices import (
    AutomatedDecision,
    ComplaintStatus,
    DecisionGround,
    DecisionKind,
    DecisionOutcome,
    Role,
)
from governance.errors import ImmutableRecord
from governance.models import (
    ComplaintTransition,
    Decision,
    PolicyClause,
    Rating,
    SlaBreach,
)
from privacy import vault
from privacy.choices import AccessPurpose
from privacy.models import AccessLogEntry
from tests import factories

APPEND_ONLY_LABELS = {
    "audits.LedgerEntry",
    "audits.Checkpoint",
    "audits.MerkleTile",
    "audits.QualitySample",
    "audits.SampleItem",
    "audits.Review",
    "audits.OversightReport",
    "governance.PolicyClause",
    "governance.ComplaintTransition",
    "governance.Decision",
    "governance.Rating",
    "governance.SlaBreach",
    "privacy.AccessLogEntry",
}


@dataclass(frozen=True)
class Tamper:
    """What a tamperer would rewrite in one row of an append-only model."""

    model: type[models.Model]
    field: str
    value: Any


def _later() -> Any:
    return timezone.now() + timedelta(days=365)


TAMPERS = [
    Tamper(LedgerEntry, "event_type", "tampered"),
    Tamper(PolicyClause, "text", "Anything goes."),
    Tamper(ComplaintTransition, "reason", "Rewritten afterwards"),
    Tamper(Decision, "reasons", "Rewritten afterwards"),
    Tamper(Rating, "score", 1),
    Tamper(SlaBreach, "detected_at", None),  # None: a datetime chosen at run time
    Tamper(AccessLogEntry, "purpose", "export"),
    Tamper(QualitySample, "seed", "0" * 64),
    Tamper(SampleItem, "stratum", "moderation/harassment/rejected"),
    Tamper(Review, "verdict", "disagree"),
    Tamper(OversightReport, "document", "{}"),
]
IDS = [t.model._meta.label for t in TAMPERS]


def _value(tamper: Tamper) -> Any:
    return _later() if tamper.value is None else tamper.value


@pytest.fixture
def rows() -> dict[type[models.Model], models.Model]:
    """One stored row of every append-only model.

    The complaint, clause, breach and ledger entries come from the services; the transition,
    decision and rating are inserted directly, since only what happens to a row after its
    INSERT is under test here, not the lifecycle that normally writes it.
    """
    lead = factories.user_with_role(Role.DEPARTMENT_LEAD, "moderation")
    complaint = factories.file_complaint()
    clause = factories.policy_clause()
    at = timezone.now()
    transition = ComplaintTransition(
        complaint=complaint,
        from_status=ComplaintStatus.RECEIVED,
        to_status=ComplaintStatus.ACKNOWLEDGED,
        actor=lead,
        actor_ref="u-test",
        reason="Receipt acknowledged",
        at=at,
    )
    transition.save()
    decision = Decision(
        complaint=complaint,
        kind=DecisionKind.INITIAL,
        outcome=DecisionOutcome.UPHELD,
        actions=["content_removed"],
        ground=DecisionGround.TERMS_OF_SERVICE,
        policy_clause=clause,
        facts="The comments insult the complainant.",
        reasons="Insults break the clause.",
        automated_detection=False,
        automated_decision=AutomatedDecision.NOT_AUTOMATED,
        decided_by=lead,
        decided_at=at,
    )
    decision.save()
    rating = Rating(complaint=complaint, score=4, rated_at=at)
    rating.save()
    services.sla_breaches_escalate(now=at + timedelta(days=30))
    breach = SlaBreach.objects.filter(complaint=complaint).order_by("pk").first()
    assert breach is not None
    assert list(breach.escalated_to.all()) == [lead]
    entry = LedgerEntry.objects.order_by("-seq").first()
    assert entry is not None
    vault.reveal_note(
        lead, complaint.description, purpose=AccessPurpose.CASE_HANDLING, complaint=complaint
    )
    read = AccessLogEntry.objects.get()
    supervisor = factories.user_with_role(Role.SUPERVISOR)
    checkpoint, _new = ledger_seal()
    sample = QualitySample(
        period_start=at.date(),
        period_end=at.date(),
        rate="0.0500",
        min_per_stratum=2,
        double_review_share="0.2000",
        checkpoint=checkpoint,
        seed="a" * 64,
        seed_source=f"checkpoint:{checkpoint.tree_size}:{checkpoint.root_hash}",
        population=1,
        drawn_by=supervisor,
        drawn_by_ref="u-test",
        drawn_at=at,
    )
    sample.save()
    item = SampleItem(
        sample=sample,
        decision=decision,
        stratum="moderation/harassment/upheld",
        double_review=False,
    )
    item.save()
    review = Review(
        item=item,
        reviewer=supervisor,
        reviewer_ref="u-test",
        clause_correct=5,
        facts_adequate=5,
        action_proportionate=5,
        deadline_met=5,
        reasons_clear=5,
        verdict="agree",
        reviewed_at=at,
    )
    review.save()
    report = report_publish(actor=supervisor, period="2025-03")
    return {
        OversightReport: report,
        QualitySample: sample,
        SampleItem: item,
        Review: review,
        AccessLogEntry: read,
        LedgerEntry: entry,
        PolicyClause: clause,
        ComplaintTransition: transition,
        Decision: decision,
        Rating: rating,
        SlaBreach: breach,
    }


def _table(model: type[models.Model]) -> str:
    return model._meta.db_table


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _snapshot(model: type[models.Model]) -> list[tuple[Any, ...]]:
    """Every stored row of `model`, read past the ORM's caches, to compare before and after."""
    columns = [f.column for f in model._meta.concrete_fields]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(_q(c) for c in columns)} FROM {_q(_table(model))} "  # noqa: S608
            f"ORDER BY {_q(model._meta.pk.column)}"
        )
        return list(cursor.fetchall())


def _execute(*statements: str | tuple[str, list[Any]]) -> None:
    """Run raw SQL in a savepoint, so that a refusal leaves the test's transaction usable."""
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in statements:
            sql, params = statement if isinstance(statement, tuple) else (statement, None)
            cursor.execute(sql, params)


def _append_only_models() -> list[type[models.Model]]:
    return [m for m in apps.get_models() if issubclass(m, AppendOnlyModel)]


def _catalogue_triggers(table: str) -> dict[str, str]:
    """Return {trigger name: definition or enabled flag} for `table` from the catalogue."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname, tgenabled FROM pg_trigger "
                "WHERE tgrelid = %s::regclass AND NOT tgisinternal",
                [_q(table)],
            )
        else:
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s",
                [table],
            )
        return {name: str(detail) for name, detail in cursor.fetchall()}


# --- the models --------------------------------------------------------------------------------


def test_the_append_only_models_are_the_expected_ones():
    assert {m._meta.label for m in _append_only_models()} == APPEND_ONLY_LABELS


@pytest.mark.parametrize("tamper", TAMPERS, ids=IDS)
def test_save_of_an_existing_row_is_refused(rows, tamper):
    # given
    model = tamper.model
    before = _snapshot(model)
    obj = model.objects.get(pk=rows[model].pk)
    setattr(obj, tamper.field, _value(tamper))

    # when / then
    with pytest.raises(ImmutableRecord, match="append-only"):
        obj.save()
    with pytest.raises(ImmutableRecord):
        obj.save(update_fields=[tamper.field])
    assert _snapshot(model) == before


@pytest.mark.parametrize("tamper", TAMPERS, ids=IDS)
def test_delete_of_a_row_is_refused(rows, tamper):
    model = tamper.model
    before = _snapshot(model)

    with pytest.raises(ImmutableRecord, match="append-only"):
        model.objects.get(pk=rows[model].pk).delete()

    assert _snapshot(model) == before


@pytest.mark.parametrize("tamper", TAMPERS, ids=IDS)
def test_queryset_update_is_refused(rows, tamper):
    model = tamper.model
    before = _snapshot(model)

    with pytest.raises(ImmutableRecord, match="update"):
        model.objects.filter(pk=rows[model].pk).update(**{tamper.field: _value(tamper)})
    with pytest.raises(ImmutableRecord):
        model.objects.all().update(**{tamper.field: _value(tamper)})

    assert _snapshot(model) == before


@pytest.mark.parametrize("tamper", TAMPERS, ids=IDS)
def test_queryset_delete_is_refused(rows, tamper):
    model = tamper.model
    before = _snapshot(model)

    with pytest.raises(ImmutableRecord, match="delete"):
        model.objects.filter(pk=rows[model].pk).delete()
    with pytest.raises(ImmutableRecord):
        model.objects.all().delete()

    assert _snapshot(model) == before


@pytest.mark.parametrize("tamper", TAMPERS, ids=IDS)
def test_bulk_update_is_refused(rows, tamper):
    model = tamper.model
    before = _snapshot(model)
    obj = model.objects.get(pk=rows[model].pk)
    setattr(obj, tamper.field, _value(tamper))

    with pytest.raises(ImmutableRecord, match="bulk_update"):
        model.objects.bulk_update([obj], [tamper.field])

    assert _snapshot(model) == before


@pytest.mark.parametrize("tamper", TAMPERS, ids=IDS)
def test_update_or_create_is_refused(rows, tamper):
    model = tamper.model
    before = _snapshot(model)

    with pytest.raises(ImmutableRecord):
        model.objects.update_or_create(pk=rows[model].pk, defaults={tamper.field: _value(tamper)})

    assert _snapshot(model) == before


def test_related_managers_refuse_too(rows):
    complaint = rows[Decision].complaint
    before = _snapshot(Decision), _snapshot(ComplaintTransition)

    with pytest.raises(ImmutableRecord):
        complaint.decisions.update(reasons="Rewritten afterwards")
    with pytest.raises(ImmutableRecord):
        complaint.transitions.all().delete()
    with pytest.raises(ImmutableRecord):
        complaint.sla_breaches.all().delete()

    assert (_snapshot(Decision), _snapshot(ComplaintTransition)) == before


def test_a_new_object_cannot_overwrite_a_stored_row(rows):
    # given: a forged entry reusing the number of a stored one
    stored = rows[LedgerEntry]
    before = _snapshot(LedgerEntry)
    forged = LedgerEntry(
        seq=stored.seq,
        recorded_at=stored.recorded_at,
        event_type="tampered",
        object_ref=stored.object_ref,
        actor_ref=stored.actor_ref,
        body="{}",
        leaf_hash="0" * 64,
    )

    # when / then: save() always inserts, and the primary key refuses the duplicate
    with pytest.raises(IntegrityError), transaction.atomic():
        forged.save()
    assert _snapshot(LedgerEntry) == before


def test_adding_rows_stays_possible(rows):
    # The guards refuse change, not growth: the next version of a clause is a new row.
    clause = rows[PolicyClause]

    newer = factories.policy_clause(clause.code, text="Do not harass anyone, anywhere.")

    assert newer.version == clause.version + 1
    assert PolicyClause.objects.get(pk=clause.pk).text == clause.text


# --- raw SQL against the database triggers -----------------------------------------------------


@pytest.mark.parametrize("tamper", TAMPERS, ids=IDS)
def test_raw_sql_update_is_refused_by_the_database(rows, tamper):
    # given
    model = tamper.model
    column = model._meta.get_field(tamper.field).column
    before = _snapshot(model)

    # when / then
    with pytest.raises(IntegrityError, match="append-only"):
        _execute(
            (
                f"UPDATE {_q(_table(model))} SET {_q(column)} = %s "  # noqa: S608
                f"WHERE {_q(model._meta.pk.column)} = %s",
                [_value(tamper), rows[model].pk],
            )
        )
    assert _snapshot(model) == before


@pytest.mark.parametrize("tamper", TAMPERS, ids=IDS)
def test_raw_sql_delete_is_refused_by_the_database(rows, tamper):
    model = tamper.model
    before = _snapshot(model)
    assert before

    with pytest.raises(IntegrityError, match="append-only"):
        _execute(f"DELETE FROM {_q(_table(model))}")  # noqa: S608

    assert _snapshot(model) == before


@pytest.mark.parametrize("tamper", TAMPERS, ids=IDS)
def test_raw_sql_delete_of_one_row_is_refused_by_the_database(rows, tamper):
    model = tamper.model
    before = _snapshot(model)

    with pytest.raises(IntegrityError, match="append-only"):
        _execute(
            (
                f"DELETE FROM {_q(_table(model))} WHERE {_q(model._meta.pk.column)} = %s",  # noqa: S608
                [rows[model].pk],
            )
        )

    assert _snapshot(model) == before


@pytest.mark.parametrize("tamper", TAMPERS, ids=IDS)
def test_emptying_the_table_is_refused_by_the_database(rows, tamper):
    model = tamper.model
    table = _q(_table(model))
    before = _snapshot(model)

    if connection.vendor == "postgresql":
        # PostgreSQL: TRUNCATE skips row triggers; the statement trigger refuses it. A plain
        # TRUNCATE of a referenced table fails on the foreign keys first, so CASCADE (which
        # would empty the referencing tables too) is what only the trigger stops. The test's
        # own inserts leave deferred foreign-key checks pending, which TRUNCATE would trip over.
        for statement, error, match in (
            (f"TRUNCATE {table}", DatabaseError, None),
            (f"TRUNCATE {table} CASCADE", IntegrityError, r"TRUNCATE .*append-only"),
        ):
            with pytest.raises(error, match=match):
                _execute("SET CONSTRAINTS ALL IMMEDIATE", statement)
    else:
        # SQLite has no TRUNCATE: an unqualified DELETE is its truncate optimisation, which
        # SQLite may only take when no trigger is in the way.
        assert connection.vendor == "sqlite"
        with pytest.raises(IntegrityError, match="append-only"):
            _execute(f"DELETE FROM {table}")  # noqa: S608

    assert _snapshot(model) == before


def test_truncate_of_the_ledger_meets_its_trigger(rows):
    table = _q(_table(LedgerEntry))
    before = _snapshot(LedgerEntry)

    if connection.vendor == "postgresql":
        # No table references the ledger, so nothing but its own trigger can refuse this.
        with pytest.raises(IntegrityError, match=r"TRUNCATE .*append-only"):
            _execute(f"TRUNCATE {table}")
    else:
        # SQLite has no TRUNCATE statement: DELETE, which the triggers guard, is the only way.
        assert connection.vendor == "sqlite"
        with pytest.raises(DatabaseError, match="syntax error"):
            _execute(f"TRUNCATE {table}")

    assert _snapshot(LedgerEntry) == before


def test_triggers_cannot_be_silenced(rows):
    if connection.vendor == "postgresql":
        # ENABLE ALWAYS: the triggers fire in every session_replication_role, replicas included.
        for model in _append_only_models():
            triggers = _catalogue_triggers(_table(model))
            for name in trigger_names("postgresql", _table(model)):
                assert triggers.get(name) == "A", f"{name} is not ENABLE ALWAYS"
        before = _snapshot(LedgerEntry)
        with pytest.raises(IntegrityError, match="append-only"):
            _execute(
                "SET LOCAL session_replication_role = replica",
                f"DELETE FROM {_q(_table(LedgerEntry))}",  # noqa: S608
            )
        assert _snapshot(LedgerEntry) == before
    else:
        # SQLite cannot switch a trigger off from SQL; each one aborts the statement.
        assert connection.vendor == "sqlite"
        for model in _append_only_models():
            table = _table(model)
            triggers = _catalogue_triggers(table)
            for op in ("UPDATE", "DELETE"):
                sql = triggers[f"{table}_no_{op.lower()}"]
                assert f"BEFORE {op} ON" in sql
                assert "RAISE(ABORT" in sql


# --- the catalogue -----------------------------------------------------------------------------


def test_every_append_only_table_has_its_triggers_in_the_catalogue():
    # A later migration that alters an append-only model rebuilds the table on SQLite, which
    # drops its triggers; this lists what the database holds, not what the migrations meant.
    tables = {m._meta.label: _table(m) for m in _append_only_models()}
    assert set(tables) == APPEND_ONLY_LABELS

    missing = {
        label: sorted(trigger_names(connection.vendor, table) - set(_catalogue_triggers(table)))
        for label, table in tables.items()
    }

    assert {label: names for label, names in missing.items() if names} == {}


def test_trigger_names_differ_by_vendor():
    assert trigger_names("postgresql", "t") == {"t_append_only", "t_no_truncate"}
    assert trigger_names("sqlite", "t") == {"t_no_update", "t_no_delete"}


# --- the escalation list of a breach -----------------------------------------------------------


def test_breach_escalation_list_cannot_be_rewritten(rows):
    # given: a breach escalated to the department's lead
    breach = rows[SlaBreach]
    escalated = list(breach.escalated_to.all())
    assert escalated

    # when / then: who was told of a missed deadline is part of the record
    with pytest.raises((ImmutableRecord, DatabaseError)), transaction.atomic():
        breach.escalated_to.clear()
    through = SlaBreach.escalated_to.through
    with pytest.raises(DatabaseError):
        _execute(f"DELETE FROM {_q(through._meta.db_table)}")  # noqa: S608
    assert list(SlaBreach.objects.get(pk=breach.pk).escalated_to.all()) == escalated


# --- history tables ------------------------------------------------------------------------------


def _history_models() -> list[type[models.Model]]:
    return [
        m
        for m in apps.get_models()
        if m.__name__.startswith("Historical") and hasattr(m, "history_id")
    ]


def test_every_history_table_is_append_only_in_the_catalogue():
    histories = _history_models()
    assert {m._meta.label for m in histories} >= {
        "governance.HistoricalComplaint",
        "governance.HistoricalRoleMembership",
        "privacy.HistoricalDataSubject",
    }
    missing = {
        m._meta.label: sorted(
            trigger_names(connection.vendor, _table(m)) - set(_catalogue_triggers(_table(m)))
        )
        for m in histories
    }
    assert {label: names for label, names in missing.items() if names} == {}


def test_raw_sql_cannot_rewrite_a_complaints_history():
    f = factories.flow_at(ComplaintStatus.ACKNOWLEDGED)
    table = _table(f.complaint.history.model)
    before = list(f.complaint.history.values_list("history_id", "status"))
    with pytest.raises(DatabaseError):
        _execute(f"UPDATE {_q(table)} SET status = 'closed'")  # noqa: S608
    with pytest.raises(DatabaseError):
        _execute(f"DELETE FROM {_q(table)}")  # noqa: S608
    assert list(f.complaint.history.values_list("history_id", "status")) == before
