"""Database triggers that make a table append-only, installed by migrations.

PostgreSQL gets BEFORE UPDATE OR DELETE row triggers and a BEFORE TRUNCATE statement trigger,
marked ENABLE ALWAYS so that even `session_replication_role = replica` does not silence them.
SQLite gets RAISE(ABORT) triggers. Raw SQL through any client is refused on both.

Beware: on SQLite, Django rebuilds a table to alter it, which drops its triggers. A migration
that alters an append-only model must add `AppendOnlyTriggers` again after the change;
tests/test_tamper.py fails if any append-only table lacks them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import migrations

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION ombud_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ombud: %% on %% is refused: rows of this table are append-only',
        TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END
$$;
"""


# For a log kept for a minimum time (the personal-data access log): rows are never changed, and
# deleted only once older than the trigger's argument in days, by the `at` column.
PG_AGED_FUNCTION = """
CREATE OR REPLACE FUNCTION ombud_refuse_change_or_young_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND OLD.at < now() - make_interval(days => TG_ARGV[0]::int) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'ombud: %% on %% is refused: rows of this table are append-only '
        'and kept %% days at least', TG_OP, TG_TABLE_NAME, TG_ARGV[0]
        USING ERRCODE = 'integrity_constraint_violation';
END
$$;
"""


def _pg_sql(table: str, keep_days: int | None = None) -> list[str]:
    if keep_days is None:
        function, call = PG_FUNCTION, "ombud_refuse_change()"
    else:
        function, call = PG_AGED_FUNCTION, f"ombud_refuse_change_or_young_delete('{keep_days:d}')"
    return [
        PG_FUNCTION,
        function,
        f'DROP TRIGGER IF EXISTS "{table}_append_only" ON "{table}"',
        f'DROP TRIGGER IF EXISTS "{table}_no_truncate" ON "{table}"',
        f'CREATE TRIGGER "{table}_append_only" BEFORE UPDATE OR DELETE ON "{table}" '
        f"FOR EACH ROW EXECUTE FUNCTION {call}",
        f'CREATE TRIGGER "{table}_no_truncate" BEFORE TRUNCATE ON "{table}" '
        "FOR EACH STATEMENT EXECUTE FUNCTION ombud_refuse_change()",
        f'ALTER TABLE "{table}" ENABLE ALWAYS TRIGGER "{table}_append_only"',
        f'ALTER TABLE "{table}" ENABLE ALWAYS TRIGGER "{table}_no_truncate"',
    ]


def _sqlite_sql(table: str, keep_days: int | None = None) -> list[str]:
    sql = []
    for op in ("UPDATE", "DELETE"):
        name = f"{table}_no_{op.lower()}"
        # Django keeps SQLite times as UTC text 'YYYY-MM-DD HH:MM:SS.ffffff', which sorts.
        # ("%%": the statement runs with empty params, so "%%" reaches SQLite as "%".)
        when = (
            f"WHEN OLD.\"at\" >= strftime('%%Y-%%m-%%d %%H:%%M:%%f', 'now', '-{keep_days:d} days') "
            if op == "DELETE" and keep_days is not None
            else ""
        )
        sql.append(f'DROP TRIGGER IF EXISTS "{name}"')
        sql.append(
            f'CREATE TRIGGER "{name}" BEFORE {op} ON "{table}" {when}BEGIN '
            f"SELECT RAISE(ABORT, 'ombud: {op} on {table} is refused: rows of this table are "
            "append-only'); END"
        )
    return sql


def _drop_sql(vendor: str, table: str) -> list[str]:
    if vendor == "postgresql":
        return [
            f'DROP TRIGGER IF EXISTS "{table}_append_only" ON "{table}"',
            f'DROP TRIGGER IF EXISTS "{table}_no_truncate" ON "{table}"',
        ]
    return [
        f'DROP TRIGGER IF EXISTS "{table}_no_update"',
        f'DROP TRIGGER IF EXISTS "{table}_no_delete"',
    ]


def trigger_names(vendor: str, table: str) -> set[str]:
    """Return the names of the triggers that guard `table` on `vendor`."""
    if vendor == "postgresql":
        return {f"{table}_append_only", f"{table}_no_truncate"}
    return {f"{table}_no_update", f"{table}_no_delete"}


class AppendOnlyTriggers(migrations.RunPython):
    """Migration operation: make the named models' tables refuse UPDATE, DELETE and TRUNCATE."""

    def __init__(self, *model_labels: str, keep_days: int | None = None) -> None:
        # keep_days: rows may be deleted once their `at` is that many days old, never sooner.
        self.model_labels = model_labels
        self.keep_days = keep_days
        super().__init__(self._install, self._remove, elidable=False)

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        kwargs = {} if self.keep_days is None else {"keep_days": self.keep_days}
        return ("audits.triggers.AppendOnlyTriggers", list(self.model_labels), kwargs)

    def describe(self) -> str:
        return "Install append-only triggers on " + ", ".join(self.model_labels)

    def _tables(self, apps: Any) -> list[str]:
        return [apps.get_model(label)._meta.db_table for label in self.model_labels]

    def _install(self, apps: Any, schema_editor: Any) -> None:
        vendor = schema_editor.connection.vendor
        for table in self._tables(apps):
            statements = (
                _pg_sql(table, self.keep_days)
                if vendor == "postgresql"
                else _sqlite_sql(table, self.keep_days)
            )
            for statement in statements:
                # Empty params make every driver read "%%" as a literal "%".
                schema_editor.execute(statement, params=())

    def _remove(self, apps: Any, schema_editor: Any) -> None:
        vendor = schema_editor.connection.vendor
        for table in self._tables(apps):
            for statement in _drop_sql(vendor, table):
                schema_editor.execute(statement)


def protected_tables(connection: Any) -> list[str]:
    """Return, from the database catalogue, every table an append-only trigger guards."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT DISTINCT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE t.tgname LIKE %s",
                ["%\\_append\\_only"],
            )
        else:
            cursor.execute(
                "SELECT DISTINCT tbl_name FROM sqlite_master WHERE type = 'trigger' "
                "AND name LIKE %s ESCAPE '\\'",
                ["%\\_no\\_update"],
            )
        return sorted(row[0] for row in cursor.fetchall())


@contextmanager
def triggers_lifted(connection: Any, tables: list[str]) -> Iterator[None]:
    """Lift the append-only triggers of `tables` for the block, then put them back exactly.

    For the suite's flush and for tamper tests that play a database superuser; the application
    never calls it.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # ALTER TABLE refuses while deferred foreign-key checks are pending: run them now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for table in tables:
                for name in sorted(trigger_names("postgresql", table)):
                    cursor.execute(f'ALTER TABLE "{table}" DISABLE TRIGGER "{name}"')
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                for table in tables:
                    for name in sorted(trigger_names("postgresql", table)):
                        cursor.execute(f'ALTER TABLE "{table}" ENABLE ALWAYS TRIGGER "{name}"')
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        return
    with connection.cursor() as cursor:
        placeholders = ", ".join(["%s"] * len(tables)) or "NULL"
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "  # noqa: S608
            f"AND tbl_name IN ({placeholders})",
            tables,
        )
        saved = [
            (name, sql)
            for name, sql in cursor.fetchall()
            if name.endswith(("_no_update", "_no_delete"))
        ]
        for name, _sql in saved:
            cursor.execute(f'DROP TRIGGER "{name}"')
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for _name, sql in saved:
                cursor.execute(sql)
