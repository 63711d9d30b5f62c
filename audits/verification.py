"""Verify the whole ledger against itself, its signed checkpoints and the rows it describes.

`verify_ledger` streams the entries in sequence order in constant memory. For each entry it
recomputes the leaf hash from the body and checks the body against the entry's columns; it
grows the Merkle root as it goes and compares it with every checkpoint, whose signatures it
checks first. Apps register `RowCheck`s (in their AppConfig.ready) so that the rows the ledger
describes (decisions, transitions, ...) are compared with what it recorded of them, both ways:
every such entry has its row, and every row has its entry.

The first divergence is raised as `Divergence`, naming the sequence number, the table and what
differs. A database superuser who rewrites, deletes, inserts or reorders anything is caught:
either a hash or a body stops matching, or the root stops matching a signed checkpoint.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Generator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Model, QuerySet

from . import merkle, notes, signing
from .models import Checkpoint, LedgerEntry


class Divergence(Exception):
    """The first place where the stored record and the ledger disagree."""

    def __init__(self, seq: int | None, table: str, what: str) -> None:
        self.seq, self.table, self.what = seq, table, what
        where = f"seq {seq}" if seq is not None else "after the last entry"
        super().__init__(f"{where}, {table}: {what}")


@dataclass(frozen=True)
class RowCheck:
    """How to compare one kind of row with the ledger entries that record it."""

    table: str
    event_types: frozenset[str]
    row_id: Callable[[dict[str, Any]], int]  # the row's pk, read from an entry's document
    queryset: Callable[[], QuerySet[Any]]
    expected: Callable[[Any], dict[str, Any]]  # the document's fields this row determines


_ROW_CHECKS: list[RowCheck] = []


def register_row_check(check: RowCheck) -> None:
    """Have verification compare these rows with their ledger entries (call from ready())."""
    if all(existing.table != check.table for existing in _ROW_CHECKS):
        _ROW_CHECKS.append(check)


@dataclass
class Report:
    """What a verification run covered."""

    entries: int = 0
    checkpoints: int = 0
    rows: dict[str, int] = field(default_factory=dict)


_COLUMNS = "seq, recorded_at, event_type, object_ref, actor_ref, body, leaf_hash"


def _stream(chunk_size: int) -> Generator[tuple[Any, ...], None, None]:
    """Yield every entry in sequence order, a chunk at a time, in constant memory.

    Straight from the driver, with the time read as text: Django's per-row conversions (the
    time-zone-aware timestamp loader above all) cost more than the checks themselves.
    """
    table = LedgerEntry._meta.db_table
    if connection.vendor == "postgresql":
        sql = (
            f"SELECT seq, recorded_at::text, event_type, object_ref, actor_ref, body, leaf_hash "  # noqa: S608
            f'FROM "{table}" ORDER BY seq'
        )
        with transaction.atomic():
            connection.ensure_connection()
            # A named (server-side) cursor streams the rows instead of loading them all.
            with connection.connection.cursor(name="ombud_verify_ledger") as cursor:
                cursor.itersize = chunk_size
                cursor.execute(sql)
                yield from cursor
        return
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT {_COLUMNS} FROM "{table}" ORDER BY seq')  # noqa: S608
        while rows := cursor.fetchmany(chunk_size):
            yield from rows


def _moment(text: str) -> datetime:
    """Parse a stored time (PostgreSQL's text form, or SQLite's naive UTC) as an aware one."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _check_trusted(notes_text: list[str], keys: list[notes.VerifierKey]) -> list[tuple[int, bytes]]:
    """Check checkpoints kept outside the database (archived, or held by a supervisor)."""
    heads = []
    for note in notes_text:
        try:
            statement, _key = notes.verify_checkpoint(note, keys)
        except notes.NoteError as exc:
            raise Divergence(None, "trusted checkpoint", str(exc)) from exc
        if statement.origin != signing.key_name():
            raise Divergence(
                None, "trusted checkpoint", f"it is of another log, {statement.origin}"
            )
        heads.append((statement.tree_size, statement.root_hash))
    return heads


def _check_checkpoints(keys: list[notes.VerifierKey]) -> list[tuple[int, bytes]]:
    heads = []
    for size, root_hex, note, origin in Checkpoint.objects.order_by("tree_size").values_list(
        "tree_size", "root_hash", "note", "origin"
    ):
        where = f"checkpoint {size}"
        try:
            statement, _key = notes.verify_checkpoint(note, keys)
        except notes.NoteError as exc:
            raise Divergence(None, "audits_checkpoint", f"{where}: {exc}") from exc
        if (statement.tree_size, statement.root_hash.hex(), statement.origin) != (
            size,
            root_hex,
            origin,
        ):
            raise Divergence(
                None, "audits_checkpoint", f"{where}: its columns differ from its note"
            )
        if statement.origin != signing.key_name():
            raise Divergence(None, "audits_checkpoint", f"{where}: it is of another log")
        heads.append((size, statement.root_hash))
    return heads


class _RowMatcher:
    """Compares, one chunk of entries at a time, the registered rows with their entries."""

    def __init__(self, checks: list[RowCheck]) -> None:
        self.by_type = {t: c for c in checks for t in c.event_types}
        self.pending: dict[str, list[tuple[int, int, dict[str, Any]]]] = {}
        # Row ids, not counts: an entry that repeats another's ref must not cover a forged row.
        self.seen: dict[str, set[int]] = {c.table: set() for c in checks}
        self.checks = checks

    def note(self, seq: int, event_type: str, doc: dict[str, Any]) -> None:
        check = self.by_type.get(event_type)
        if check is None:
            return
        try:
            row_id = int(check.row_id(doc))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise Divergence(seq, check.table, "the entry names no row it records") from exc
        if row_id in self.seen[check.table]:
            raise Divergence(seq, check.table, f"row {row_id} is recorded twice")
        self.seen[check.table].add(row_id)
        self.pending.setdefault(check.table, []).append((seq, row_id, doc))

    def flush(self) -> None:
        for check in self.checks:
            items = self.pending.pop(check.table, [])
            if not items:
                continue
            rows = check.queryset().in_bulk([row_id for _seq, row_id, _doc in items])
            for seq, row_id, doc in items:
                row = rows.get(row_id)
                if row is None:
                    raise Divergence(seq, check.table, f"row {row_id} recorded here is missing")
                for key, value in check.expected(row).items():
                    recorded = doc.get(key)
                    if recorded != value:
                        field_name = key
                        if isinstance(value, dict) and isinstance(recorded, dict):
                            field_name += "." + next(
                                k
                                for k in sorted({*value, *recorded})
                                if value.get(k) != recorded.get(k)
                            )
                        raise Divergence(
                            seq, check.table, f"row {row_id}: {field_name} differs from the ledger"
                        )

    def finish(self) -> None:
        self.flush()
        for check in self.checks:
            # Every recorded row exists (flush), each once (note); so equal counts mean the
            # rows are exactly the recorded ones.
            total = check.queryset().count()
            if total != len(self.seen[check.table]):
                raise Divergence(
                    None,
                    check.table,
                    f"{total} rows but {len(self.seen[check.table])} ledger entries record them: "
                    "a row was added outside the services",
                )


def verify_ledger(
    *,
    chunk_size: int = 10_000,
    progress: Callable[[int], None] | None = None,
    trusted_checkpoints: list[str] | None = None,
) -> Report:
    """Verify everything; return what was covered, or raise the first Divergence.

    `trusted_checkpoints` are signed notes kept outside the database (archived by
    `seal_ledger --archive`, or held by supervisors). The checkpoints stored in the database
    can be deleted by whoever can rewrite the log, so only these anchor it against a rewrite.

    Everything is read in one snapshot, so writes committed meanwhile cannot look like a
    divergence.
    """
    if connection.in_atomic_block or connection.vendor != "postgresql":
        with transaction.atomic():
            return _verify(chunk_size, progress, trusted_checkpoints or [])
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return _verify(chunk_size, progress, trusted_checkpoints or [])


def _verify(chunk_size: int, progress: Callable[[int], None] | None, trusted: list[str]) -> Report:
    keys = signing.verifier_keys()
    stored = _check_checkpoints(keys)
    heads = sorted({*stored, *_check_trusted(trusted, keys)})
    sizes = [size for size, _root in heads]
    if len(set(sizes)) != len(sizes):
        raise Divergence(None, "audits_checkpoint", "two signed checkpoints of one size differ")
    report = Report(checkpoints=len(stored))
    matcher = _RowMatcher(list(_ROW_CHECKS))
    accumulator = merkle.RootAccumulator()
    head = 0
    while head < len(heads) and heads[head][0] == 0:
        if heads[head][1] != merkle.EMPTY_ROOT:
            raise Divergence(None, "audits_checkpoint", "checkpoint 0 does not sign the empty root")
        head += 1
    expected = 0
    sha256 = hashlib.sha256
    # closing(): a divergence raised mid-stream ends the cursor and its transaction at once,
    # not whenever the generator happens to be collected.
    with closing(_stream(chunk_size)) as rows:
        for seq, recorded_at, event_type, object_ref, actor_ref, body, leaf_hash in rows:
            if isinstance(recorded_at, datetime):  # a driver that already parsed it
                recorded_at = recorded_at.isoformat()
            if seq != expected:
                raise Divergence(
                    expected, "audits_ledgerentry", f"entry {expected} is missing (next is {seq})"
                )
            raw = body.encode("utf-8")
            leaf = sha256(b"\x00" + raw).digest()
            if leaf.hex() != leaf_hash:
                raise Divergence(seq, "audits_ledgerentry", "leaf_hash does not match the body")
            try:
                doc = json.loads(body)
            except ValueError as exc:
                raise Divergence(seq, "audits_ledgerentry", "the body is not JSON") from exc
            if not isinstance(doc, dict) or type(doc.get("seq")) is not int:
                raise Divergence(seq, "audits_ledgerentry", "the body is not a ledger entry")
            # No canonical re-encoding here: it proves nothing the leaf hash and the signed root
            # do not, and costs a third of the loop. ledger_append writes canonical JSON only, and
            # the offline verifier checks the form of every entry it is given.
            columns = {"seq": seq, "type": event_type, "ref": object_ref, "actor": actor_ref}
            for key, value in columns.items():
                if doc.get(key) != value:
                    raise Divergence(
                        seq, "audits_ledgerentry", f"column {key} differs from the body"
                    )
            try:
                same_time = _moment(recorded_at) == _moment(doc.get("at", ""))
            except (TypeError, ValueError):
                same_time = False
            if not same_time:
                raise Divergence(seq, "audits_ledgerentry", "column at differs from the body")
            accumulator.add(leaf)
            matcher.note(seq, event_type, doc)
            expected += 1
            while head < len(heads) and heads[head][0] == expected:
                if accumulator.root() != heads[head][1]:
                    raise Divergence(
                        seq,
                        "audits_ledgerentry",
                        f"the first {expected} entries do not hash to signed checkpoint {expected}",
                    )
                head += 1
            if expected % chunk_size == 0:
                matcher.flush()
                if progress is not None:
                    progress(expected)
    if head < len(heads):
        raise Divergence(
            None,
            "audits_ledgerentry",
            f"the ledger holds {expected} entries but checkpoint {heads[head][0]} was signed over "
            "more: entries were removed",
        )
    matcher.finish()
    report.entries = expected
    report.rows = {table: len(ids) for table, ids in matcher.seen.items()}
    return report


def model_table(model: type[Model]) -> str:
    """Return the table name verification reports for `model`."""
    return str(model._meta.db_table)
