"""Benchmark the ledger: recording decisions, verifying a million entries, serving proofs.

A script, not a test; see bench/README.md. One run creates its own PostgreSQL database
`ombud_bench` on the server named by DATABASE_URL, migrates it, measures, and drops it again
(unless --keep). Every figure is printed beside its baseline or goal from the same run:

1. `decision_record` (the decision row, the transition, the history rows and two ledger
   entries, in one transaction) in decisions per second, against a bare ORM insert
   (`objects.create`) of a decision-sized row into a scratch table, each in its own committed
   transaction;
2. `ledger_seal` and `verify_ledger` over --entries ledger entries, most of them synthetic but
   valid entries written with COPY; verification runs in a child process, so the peak resident
   memory it reports is the verification's own and not left over from filling or sealing;
3. inclusion and consistency proofs at that size, each from a fresh (cold) `StoredTree`.

Everything after `migrate` runs with Django's query log off: with DEBUG on, Django formats and
keeps every query, which would bill the service for each of its queries as production does not.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import hashlib
import io
import json
import os
import pstats
import random
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from audits.models import Checkpoint
    from governance.models import Complaint, PolicyClause

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = "ombud_bench"
# Fixed, bench-only keys: the bench database is thrown away, so nothing real is ever signed.
BENCH_SIGNING_KEY = base64.b64encode(b"bench-only-ledger-signing-seed32").decode()
BENCH_SECRET_KEY = "bench-only-secret-key-never-used-anywhere-else-0123456789"  # noqa: S105
# A fixed, bench-only key-encryption key: the bench's data keys do not depend on a var/keks file
# being there, and bench/api.py's server opens what bench/load.py wrote.
BENCH_KEKS = "bench:" + base64.b64encode(b"bench-only-key-encryption-key-32").decode()
WARMUP = 3  # calls made before timing, so connection set-up and first-use caches are not timed
RESULT_PREFIX = "RESULT "
MB = 1_000_000


# --- figures ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """One measured figure and the goal it is held to."""

    name: str
    value: float
    unit: str
    goal: float
    at_least: bool  # True: the value must reach the goal; False: it must stay under it

    @property
    def passed(self) -> bool:
        return self.value >= self.goal if self.at_least else self.value < self.goal

    def line(self) -> str:
        goal = f"{'>=' if self.at_least else '< '} {self.goal:,g} {self.unit}"
        value = f"{self.value:,.2f} {self.unit}"
        verdict = "PASS" if self.passed else "MISS"
        return f"  {self.name:<40} {value:>20}   goal {goal:<24} {verdict}"


def say(text: str = "") -> None:
    """Print one line of the report at once, so that a long run shows where it is."""
    print(text, flush=True)


def percentile(values: list[float], pct: float) -> float:
    """Return the nearest-rank percentile `pct` (0-100) of `values`."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))  # ceil(n * pct / 100), at least the first
    return ordered[int(rank) - 1]


def median(values: list[float]) -> float:
    """Return the median of `values`, as the 50th nearest-rank percentile."""
    return percentile(values, 50)


def latency(seconds: list[float]) -> str:
    """Describe a list of durations: median and p95 in milliseconds."""
    return f"median {median(seconds) * 1e3:.2f} ms, p95 {percentile(seconds, 95) * 1e3:.2f} ms"


def profiled(label: str, run: Callable[[], object], top: int = 25) -> None:
    """Run `run` under cProfile; print the top functions by own time, then by cumulative time."""
    profiler = cProfile.Profile()
    profiler.runcall(run)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    say(f"--- profile: {label} ---")
    for line in out.getvalue().splitlines():
        if line.strip():
            say(f"    {line}")


def quiet_queries() -> AbstractContextManager[object]:
    """Return a context in which Django keeps no query log, as in production (DEBUG off)."""
    from django.test.utils import override_settings

    return override_settings(DEBUG=False)


# --- the database -------------------------------------------------------------------------------


def bench_url(server_url: str) -> str:
    """Return DATABASE_URL pointed at the bench database on the same server."""
    parts = urlsplit(server_url)
    if parts.scheme not in {"postgres", "postgresql"}:
        raise SystemExit(f"DATABASE_URL must name a PostgreSQL server, not {parts.scheme!r}")
    return urlunsplit(parts._replace(path=f"/{BENCH_DB}"))


def _admin(server_url: str, statement: str) -> None:
    import psycopg
    from psycopg import sql

    query = sql.SQL(statement).format(db=sql.Identifier(BENCH_DB))
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(query)


def recreate_database(server_url: str) -> None:
    """Drop the bench database if it exists and create it empty."""
    _admin(server_url, "DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    _admin(server_url, "CREATE DATABASE {db}")


def drop_database(server_url: str) -> None:
    """Close Django's connections and drop the bench database."""
    from django.db import connections

    connections.close_all()
    _admin(server_url, "DROP DATABASE IF EXISTS {db} WITH (FORCE)")


def bench_server_url() -> str:
    """The PostgreSQL server the bench runs on: DATABASE_URL, or exit saying how to set it."""
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        raise SystemExit(
            "Set DATABASE_URL to a PostgreSQL server, e.g. postgres://postgres@127.0.0.1:5432/postgres"
        )
    return url


def keep_or_drop(server_url: str, *, keep: bool) -> None:
    """At the end of a run: keep the bench database (to look at, or for a later bench) or
    drop it, and say which."""
    if keep:
        say(f"kept database {BENCH_DB}")
    else:
        drop_database(server_url)
        say(f"dropped database {BENCH_DB}")


def setup_django(database_url: str) -> None:
    """Point Django at `database_url` with fixed bench keys and start it."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = database_url
    os.environ["DEBUG"] = "1"
    os.environ["OMBUD_LEDGER_SIGNING_KEY"] = BENCH_SIGNING_KEY
    os.environ.setdefault("SECRET_KEY", BENCH_SECRET_KEY)
    os.environ["OMBUD_KEKS"] = BENCH_KEKS
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    import django

    django.setup()


def migrate() -> None:
    """Create the schema of every app, as a deployment would."""
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def ledger_size() -> int:
    """Return how many entries the ledger holds (its sequence numbers have no gaps)."""
    from audits.models import LedgerEntry

    return LedgerEntry.objects.count()


# --- 1. recording decisions -----------------------------------------------------------------


@dataclass(frozen=True)
class Cast:
    """The people the decision benchmark needs, holding their roles, and the clause applied."""

    complainant: Any
    handler: Any
    lead: Any
    clause: PolicyClause


def make_cast() -> Cast:
    """Create a superuser and, through the services, the roles and clause a decision needs."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from governance import services
    from governance.choices import Role
    from governance.models import Department

    user_model = get_user_model()
    # The bootstrap superuser is made directly, as in the tests: someone has to grant roles.
    root = user_model.objects.create_user(username="bench-root", is_superuser=True, is_staff=True)
    moderation = Department.objects.get(code="moderation")

    def person(username: str, role: str, department: Department | None = None) -> Any:
        user = user_model.objects.create_user(
            username=username, email=f"{username}@example.test", first_name="Bench"
        )
        services.role_grant(actor=root, user=user, role=role, department=department)
        return user

    clause = services.policy_clause_publish(
        actor=root,
        code="TOS-3.1",
        title="Clause TOS-3.1",
        text="Do not harass other people.",
        effective_from=timezone.localdate() - timedelta(days=30),
    )
    return Cast(
        complainant=person("bench-complainant", Role.COMPLAINANT),
        handler=person("bench-handler", Role.HANDLER, moderation),
        lead=person("bench-lead", Role.DEPARTMENT_LEAD, moderation),
        clause=clause,
    )


def prepare_complaint(cast: Cast) -> Complaint:
    """File one complaint and walk it to "investigating" through the services."""
    from governance import services
    from governance.choices import Channel
    from governance.models import Category, Complaint

    complaint = services.complaint_file(
        actor=cast.complainant,
        channel=Channel.WEB_FORM,
        category=Category.objects.get(code="harassment"),
        description="Someone keeps insulting me in the comments.",
        content_url="https://video.example.com/v/1",
    )
    services.complaint_acknowledge(actor=cast.handler, complaint=complaint)
    services.complaint_triage(actor=cast.handler, complaint=complaint)
    services.complaint_assign(actor=cast.lead, complaint=complaint, assignee=cast.handler)
    services.complaint_start_investigation(actor=cast.handler, complaint=complaint)
    return Complaint.objects.get(pk=complaint.pk)


def decision_values(clause: PolicyClause) -> dict[str, Any]:
    """Return the content of the decision recorded on every complaint."""
    from governance.choices import DecisionGround, DecisionOutcome

    return {
        "outcome": DecisionOutcome.UPHELD,
        "actions": ["content_removed"],
        "ground": DecisionGround.TERMS_OF_SERVICE,
        "policy_clause": clause,
        "facts": "The comments insult the complainant by name.",
        "reasons": "Insults break clause TOS-3.1; the comments are removed.",
    }


def fresh_user(user: Any) -> Any:
    """Return a new copy of `user`, as a request would load it: no roles cached on it yet."""
    return type(user).objects.get(pk=user.pk)


def record_decision(cast: Cast, complaint: Complaint, actor: Any) -> float:
    """Record the decision on `complaint` through the service; return the call's seconds."""
    from governance.services import decision_record

    values = decision_values(cast.clause)
    start = time.perf_counter()
    decision_record(actor=actor, complaint=complaint, **values)
    return time.perf_counter() - start


def record_decisions(cast: Cast, complaints: list[Complaint]) -> list[float]:
    """Record a decision on each complaint; return each call's seconds."""
    actors = [fresh_user(cast.handler) for _ in complaints]
    return [record_decision(cast, c, a) for c, a in zip(complaints, actors, strict=True)]


def count_decision_statements(cast: Cast, complaint: Complaint) -> int:
    """Record one decision (untimed); return how many statements it sent besides BEGIN/COMMIT."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from governance.services import decision_record

    actor = fresh_user(cast.handler)
    with CaptureQueriesContext(connection) as captured:
        decision_record(actor=actor, complaint=complaint, **decision_values(cast.clause))
    return sum(q["sql"] not in {"BEGIN", "COMMIT"} for q in captured.captured_queries)


def baseline_model() -> type[Any]:
    """Return an unmanaged model with the decision table's columns, without its constraints.

    The issue's baseline is "a bare ORM insert of a row of the same size": the same fields, the
    same ORM path (`objects.create` in its own transaction), and none of the service's checks,
    history, transition or ledger entry.
    """
    from django.db import models

    class BaselineDecision(models.Model):
        kind = models.CharField(max_length=16)
        outcome = models.CharField(max_length=32)
        actions = models.JSONField()
        ground = models.CharField(max_length=32)
        ground_reference = models.CharField(max_length=500)
        facts = models.TextField()
        reasons = models.TextField()
        automated_detection = models.BooleanField()
        automated_decision = models.CharField(max_length=16)
        territorial_scope = models.JSONField()
        restriction_end = models.DateField(null=True)
        decided_at = models.DateTimeField()
        appeal_outcome = models.CharField(max_length=16)
        complaint_id = models.BigIntegerField()
        decided_by_id = models.IntegerField()
        policy_clause_id = models.BigIntegerField()

        class Meta:
            app_label = "audits"
            managed = False
            db_table = "bench_decision_baseline"

        def __str__(self) -> str:
            return f"baseline row {self.pk}"

    return BaselineDecision


def create_baseline_table(model: type[Any]) -> None:
    """Create the baseline model's table (bench only; the bench database is dropped after)."""
    from django.db import connection

    with connection.schema_editor() as editor:
        editor.create_model(model)


def insert_baseline_row(model: type[Any], cast: Cast, complaint: Complaint) -> float:
    """Insert one decision-sized row through the ORM in its own transaction; return seconds."""
    from django.db import transaction
    from django.utils import timezone

    values = decision_values(cast.clause)
    fields = {
        "kind": "initial",
        "outcome": str(values["outcome"]),
        "actions": values["actions"],
        "ground": str(values["ground"]),
        "ground_reference": "",
        "facts": values["facts"],
        "reasons": values["reasons"],
        "automated_detection": False,
        "automated_decision": "not_automated",
        "territorial_scope": [],
        "restriction_end": None,
        "appeal_outcome": "",
        "complaint_id": complaint.pk,
        "decided_by_id": cast.handler.pk,
        "policy_clause_id": cast.clause.pk,
    }
    start = time.perf_counter()
    with transaction.atomic():
        model.objects.create(decided_at=timezone.now(), **fields)
    return time.perf_counter() - start


def statements_floor(model: type[Any], statements: int, repeats: int) -> float:
    """Return how fast `statements` bare INSERTs commit in one transaction, against one.

    Raw SQL on the connection, no ORM and no Python logic: the ratio bounds what any service
    that sends that many statements per transaction can reach, however lean its Python.
    """
    from django.db import connection, transaction

    sql = (
        # The table name is the bench's own constant; nothing here comes from input.
        f"INSERT INTO {model._meta.db_table} (kind, outcome, actions, ground, "  # noqa: S608
        "ground_reference, "
        "facts, reasons, automated_detection, automated_decision, territorial_scope, "
        "decided_at, appeal_outcome, complaint_id, decided_by_id, policy_clause_id) VALUES "
        "('initial', 'upheld', '[]', 'tos', '', 'f', 'r', false, 'not_automated', '[]', now(), "
        "'', 0, 0, 0)"
    )

    def run(count: int) -> float:
        start = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            for _ in range(count):
                cursor.execute(sql)
        return time.perf_counter() - start

    one, many = [], []
    for _ in range(repeats):
        one.append(run(1))
        many.append(run(statements))
    return median(one) / median(many)


def time_side_by_side(
    model: type[Any], cast: Cast, complaints: list[Complaint]
) -> tuple[list[float], list[float]]:
    """Time a bare insert and a decision per complaint, alternating; return both lists.

    Alternating, the two see the same machine: a disk or a neighbour that slows down for a
    while slows both, and the ratio stays fair.
    """
    actors = [fresh_user(cast.handler) for _ in complaints]
    service, baseline = [], []
    for complaint, actor in zip(complaints, actors, strict=True):
        baseline.append(insert_baseline_row(model, cast, complaint))
        service.append(record_decision(cast, complaint, actor))
    return service, baseline


def bench_decisions(count: int, profile: bool) -> list[Figure]:
    """Measure decision_record against a bare insert; print and return the figures."""
    say(f"== 1. recording decisions ({count}) ==")
    cast = make_cast()
    extra = count if profile else 0
    start = time.perf_counter()
    complaints = [prepare_complaint(cast) for _ in range(WARMUP + 1 + count + extra)]
    say(
        f"  prepared {len(complaints)} complaints in 'investigating' through the services "
        f"in {time.perf_counter() - start:.1f} s"
    )
    warmup, probe = complaints[:WARMUP], complaints[WARMUP]
    timed, spare = complaints[WARMUP + 1 : WARMUP + 1 + count], complaints[WARMUP + 1 + count :]
    model = baseline_model()
    create_baseline_table(model)
    time_side_by_side(model, cast, warmup)
    service, baseline = time_side_by_side(model, cast, timed)
    statements = count_decision_statements(cast, probe)
    service_rate, baseline_rate = count / sum(service), count / sum(baseline)
    say(
        f"  decision_record:  {service_rate:9.1f} decisions/s   "
        f"{statements} statements each, in one transaction"
    )
    say(f"    latency {latency(service)}")
    say(f"  bare ORM insert:  {baseline_rate:9.1f} rows/s        1 query each, own transaction")
    say("    (the two alternate, one of each per complaint)")
    say(f"    latency {latency(baseline)}")
    say(f"  ratio service/baseline: {service_rate / baseline_rate:.3f}")
    floor = statements_floor(model, statements, repeats=max(50, count))
    say(
        f"  floor: {statements} bare SQL INSERTs in one transaction commit at {floor:.3f}x "
        "the rate of one (no ORM, no Python logic)"
    )
    if profile:
        profiled("decision_record", lambda: record_decisions(cast, spare))
    return [
        Figure(
            "decision_record rate / bare ORM insert", service_rate / baseline_rate, "x", 0.5, True
        )
    ]


# --- 2. filling, sealing and verifying ----------------------------------------------------------


def actor_refs(count: int) -> list[str]:
    """Return `count` actor references shaped like the pseudonyms the services record."""
    return [
        f"u-{hashlib.sha256(f'bench-actor:{n}'.encode()).hexdigest()[:16]}" for n in range(count)
    ]


def synthetic_rows(first_seq: int, count: int, first_at: datetime) -> Iterator[tuple[Any, ...]]:
    """Yield valid ledger rows seq first_seq.. shaped as `ledger_append` writes "received" entries.

    Each body is the canonical document {"seq", "at", "type", "ref", "actor", "data"}; its columns
    repeat the document, as verification demands. "complaint.received" is checked against no
    row, so these entries need no complaints behind them.
    """
    from audits.choices import EventType
    from audits.services import canonical_json, leaf_hash

    event_type = str(EventType.COMPLAINT_RECEIVED)
    actors = actor_refs(64)
    step = timedelta(microseconds=997)  # about 1,000 entries a second, microseconds varying
    for offset in range(count):
        seq = first_seq + offset
        at = first_at + step * offset
        ref = f"complaint:CMP-2026-{seq:07d}"
        actor = actors[seq % len(actors)]
        document = {
            "seq": seq,
            "at": at.isoformat(),
            "type": event_type,
            "ref": ref,
            "actor": actor,
            "data": {
                "channel": "web_form",
                "category": "harassment",
                "department": "moderation",
                "priority": "P3",
                "complainant": f"S-{seq:016X}",
                "affected_subject": None,
                "description_ref": f"note:{seq}",
                "content_sha256": hashlib.sha256(ref.encode()).hexdigest(),
            },
        }
        body = canonical_json(document)
        yield seq, at, event_type, ref, actor, body.decode("utf-8"), leaf_hash(body)


def append_synthetic(count: int) -> float:
    """Append `count` synthetic entries after the last one with COPY; return the seconds taken."""
    from django.db import connection, transaction

    from audits.models import LedgerEntry

    last = LedgerEntry.objects.order_by("-seq").values_list("seq", "recorded_at").first()
    first_seq, first_at = (0, None) if last is None else (last[0] + 1, last[1])
    if first_at is None:
        from django.utils import timezone

        first_at = timezone.now()
    first_at += timedelta(milliseconds=1)
    start = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        raw = cursor.connection  # the psycopg connection behind Django's, in the same transaction
        with (
            raw.cursor() as copy_cursor,
            copy_cursor.copy(
                "COPY audits_ledgerentry (seq, recorded_at, event_type, object_ref, actor_ref, "
                "body, leaf_hash) FROM STDIN"
            ) as copy,
        ):
            for row in synthetic_rows(first_seq, count, first_at):
                copy.write_row(row)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE audits_ledgerentry")
    return time.perf_counter() - start


def timed_seal() -> tuple[Checkpoint, float]:
    """Seal the ledger (writing the tiles that filled up); return the checkpoint and seconds."""
    from audits.services import ledger_seal

    start = time.perf_counter()
    checkpoint, created = ledger_seal()
    elapsed = time.perf_counter() - start
    if not created:
        raise RuntimeError(f"nothing new to seal at {checkpoint.tree_size} entries")
    return checkpoint, elapsed


def fill_and_seal(target: int) -> list[Checkpoint]:
    """Seal what part 1 wrote, then fill to half and to `target`, sealing each time."""
    first, seconds = timed_seal()
    say(f"  ledger_seal at {first.tree_size:,} (what part 1 wrote): {seconds:.2f} s")
    if target // 2 <= first.tree_size:
        raise SystemExit(f"--entries must be over twice the {first.tree_size} entries part 1 wrote")
    checkpoints = [first]
    # Half-way is not a multiple of the tile width, so the first seal leaves a partial tile.
    for size in (target // 2 + 1, target):
        count = size - ledger_size()
        seconds = append_synthetic(count)
        say(f"  COPY {count:,} synthetic entries: {seconds:.1f} s ({count / seconds:,.0f}/s)")
        checkpoint, seconds = timed_seal()
        new = checkpoint.tree_size - checkpoints[-1].tree_size
        say(
            f"  ledger_seal at {checkpoint.tree_size:,}: {seconds:.2f} s "
            f"(tiles for {new:,} new entries, {new / seconds:,.0f} entries/s)"
        )
        checkpoints.append(checkpoint)
    return checkpoints


def maxrss_bytes() -> int:
    """Return this process's peak resident set so far, in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def verify_child(profile: bool) -> None:
    """In the child: verify the ledger timed, then under tracemalloc; print one RESULT line."""
    from audits.verification import verify_ledger

    rss_before = maxrss_bytes()
    start = time.perf_counter()
    report = verify_ledger()
    seconds = time.perf_counter() - start
    rss_after = maxrss_bytes()
    tracemalloc.start()
    start = time.perf_counter()
    verify_ledger()
    traced_seconds = time.perf_counter() - start
    _current, heap_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    if profile:
        profiled("verify_ledger", verify_ledger)
    result = {
        "entries": report.entries,
        "checkpoints": report.checkpoints,
        "rows": report.rows,
        "seconds": seconds,
        "traced_seconds": traced_seconds,
        "rss_before": rss_before,
        "rss_after": rss_after,
        "heap_peak": heap_peak,
    }
    say(RESULT_PREFIX + json.dumps(result))


class VerificationChild:
    """A process that verifies the bench ledger when told to, started while this one is small.

    Linux hands a process's peak resident set down to the children it starts (ru_maxrss survives
    fork and exec), so a child started after the fill and the seals would report our peak as
    its own. Started first, it waits on its stdin until `run` says go.
    """

    def __init__(self, database_url: str, profile: bool) -> None:
        command = [sys.executable, str(Path(__file__).resolve()), "--verify-child"]
        if profile:
            command.append("--profile")
        # Our own interpreter running this very file: no untrusted input reaches the command.
        self.process = subprocess.Popen(  # noqa: S603
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "DATABASE_URL": database_url},
        )

    def run(self) -> dict[str, Any]:
        """Let the child verify; relay what it prints and return its figures."""
        stdout, _stderr = self.process.communicate("go\n")
        result = None
        for line in stdout.splitlines():
            if line.startswith(RESULT_PREFIX):
                result = json.loads(line.removeprefix(RESULT_PREFIX))
            else:
                say(line)
        if self.process.returncode != 0 or result is None:
            raise RuntimeError(f"the verification child failed ({self.process.returncode})")
        return result

    def stop(self) -> None:
        """End the child if it is still waiting (the run failed before it was needed)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def child_main(profile: bool) -> int:
    """Wait for the parent's go, then verify; exit quietly if the parent gave up first."""
    if not sys.stdin.readline():
        return 0
    setup_django(os.environ["DATABASE_URL"])
    with quiet_queries():
        verify_child(profile)
    return 0


def settle() -> None:
    """Flush the bulk load's dirty pages now, so that no later figure pays for writing them."""
    from django.db import DatabaseError, connection

    start = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")
    except DatabaseError as exc:  # CHECKPOINT needs a superuser or pg_checkpoint
        say(f"  (no CHECKPOINT after the fill: {exc})")
        return
    say(f"  CHECKPOINT after the fill: {time.perf_counter() - start:.1f} s")


def bench_verification(
    target: int, child: VerificationChild
) -> tuple[list[Figure], list[Checkpoint]]:
    """Fill the ledger to `target` entries, seal it and measure its verification in `child`."""
    say(f"== 2. sealing and verifying {target:,} entries ==")
    checkpoints = fill_and_seal(target)
    settle()
    size = checkpoints[-1].tree_size
    result = child.run()
    if result["entries"] != size:
        raise RuntimeError(f"verification covered {result['entries']} entries, not {size}")
    rate = size / result["seconds"]
    say(
        f"  verify_ledger: {size:,} entries, {result['checkpoints']} checkpoints, rows "
        f"{result['rows']} in {result['seconds']:.2f} s = {rate:,.0f} entries/s"
    )
    rss_growth = (result["rss_after"] - result["rss_before"]) / MB
    say(
        f"  memory: peak RSS of the verifying process {result['rss_after'] / MB:.1f} MB, "
        f"{rss_growth:.1f} MB of it gained during verify_ledger (Django loaded: "
        f"{result['rss_before'] / MB:.1f} MB)"
    )
    say(
        f"  memory: tracemalloc heap peak {result['heap_peak'] / MB:.1f} MB "
        f"(a second pass, traced, took {result['traced_seconds']:.1f} s)"
    )
    figures = [
        Figure("verify_ledger rate", rate, "entries/s", 100_000, True),
        Figure("verify_ledger maxrss growth", rss_growth, "MB", 300, False),
        Figure("verify_ledger heap peak (tracemalloc)", result["heap_peak"] / MB, "MB", 300, False),
    ]
    return figures, checkpoints


# --- 3. proofs ----------------------------------------------------------------------------------


def leaf_of(seq: int) -> bytes:
    """Return the stored leaf hash of entry `seq`."""
    from audits.models import LedgerEntry

    return bytes.fromhex(LedgerEntry.objects.values_list("leaf_hash", flat=True).get(seq=seq))


def time_inclusion_proofs(checkpoint: Checkpoint, seqs: list[int]) -> list[float]:
    """Prove each seq's inclusion from a cold tree and check it; return each proof's seconds."""
    from audits import merkle
    from audits.tree import StoredTree

    size, root = checkpoint.tree_size, bytes.fromhex(checkpoint.root_hash)
    durations = []
    for seq in seqs:
        start = time.perf_counter()
        proof = merkle.inclusion_proof(StoredTree(), seq, size)
        durations.append(time.perf_counter() - start)
        if not merkle.verify_inclusion(leaf_of(seq), seq, size, proof, root):
            raise RuntimeError(f"the inclusion proof of {seq} at {size} does not verify")
    return durations


def time_consistency_proofs(old: Checkpoint, new: Checkpoint, repeats: int) -> list[float]:
    """Prove `old` a prefix of `new` from a cold tree `repeats` times; return the seconds each."""
    from audits import merkle
    from audits.tree import StoredTree

    durations = []
    for _ in range(repeats):
        start = time.perf_counter()
        proof = merkle.consistency_proof(StoredTree(), old.tree_size, new.tree_size)
        durations.append(time.perf_counter() - start)
        if not merkle.verify_consistency(
            old.tree_size,
            new.tree_size,
            bytes.fromhex(old.root_hash),
            bytes.fromhex(new.root_hash),
            proof,
        ):
            raise RuntimeError(f"the consistency proof {old.tree_size}->{new.tree_size} fails")
    return durations


def bench_proofs(checkpoints: list[Checkpoint], count: int, seed: int) -> list[Figure]:
    """Time inclusion proofs at the latest checkpoint and consistency proofs up to it."""
    latest = checkpoints[-1]
    say(f"== 3. proofs at {latest.tree_size:,} entries (fresh StoredTree each) ==")
    rng = random.Random(seed)  # noqa: S311 - picks entries to prove, nothing secret
    seqs = [rng.randrange(latest.tree_size) for _ in range(count)] + [latest.tree_size - 1]
    inclusion = time_inclusion_proofs(latest, seqs)
    say(
        f"  inclusion, {len(seqs)} proofs, all verified: median {median(inclusion) * 1e3:.2f} ms, "
        f"p95 {percentile(inclusion, 95) * 1e3:.2f} ms, max {max(inclusion) * 1e3:.2f} ms"
    )
    consistency: list[float] = []
    for old in checkpoints[:-1]:
        durations = time_consistency_proofs(old, latest, repeats=20)
        consistency += durations
        say(
            f"  consistency {old.tree_size:,} -> {latest.tree_size:,}, 20 proofs, all verified: "
            f"median {median(durations) * 1e3:.2f} ms, p95 {percentile(durations, 95) * 1e3:.2f} ms"
        )
    return [
        Figure("inclusion proof median", median(inclusion) * 1e3, "ms", 50, False),
        Figure("inclusion proof p95", percentile(inclusion, 95) * 1e3, "ms", 50, False),
        Figure("consistency proof median", median(consistency) * 1e3, "ms", 50, False),
        Figure("consistency proof p95", percentile(consistency, 95) * 1e3, "ms", 50, False),
    ]


# --- the run ------------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000, help="ledger size to verify")
    parser.add_argument("--decisions", type=int, default=300, help="decisions to time")
    parser.add_argument("--proofs", type=int, default=200, help="inclusion proofs to time")
    parser.add_argument("--seed", type=int, default=2026, help="seed for the entries proved")
    parser.add_argument("--keep", action="store_true", help=f"keep the {BENCH_DB} database")
    parser.add_argument("--profile", action="store_true", help="print cProfile of the hot parts")
    parser.add_argument("--verify-child", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def run(args: argparse.Namespace, child: VerificationChild) -> list[Figure]:
    """Run the three parts against a migrated, empty bench database."""
    figures = bench_decisions(args.decisions, args.profile)
    verification, checkpoints = bench_verification(args.entries, child)
    figures += verification
    figures += bench_proofs(checkpoints, args.proofs, args.seed)
    return figures


def print_summary(figures: list[Figure], seconds: float) -> None:
    say()
    say("== summary ==")
    for figure in figures:
        say(figure.line())
    passed = sum(f.passed for f in figures)
    say(f"  {passed} of {len(figures)} goals met; the whole run took {seconds:.0f} s")


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.verify_child:
        return child_main(args.profile)
    server_url = bench_server_url()
    started = time.perf_counter()
    child = VerificationChild(bench_url(server_url), args.profile)
    try:
        recreate_database(server_url)
        setup_django(bench_url(server_url))
        migrate()
        say(f"database {BENCH_DB} created and migrated")
        with quiet_queries():
            figures = run(args, child)
    finally:
        child.stop()
        keep_or_drop(server_url, keep=args.keep)
    print_summary(figures, time.perf_counter() - started)
    return 0 if all(f.passed for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
