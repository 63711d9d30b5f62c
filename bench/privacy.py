"""Benchmark erasure: one subject at a million complaints, and enforce_retention throughput.

A script, not a test; see bench/README.md. Like bench/ledger.py it creates its own PostgreSQL
database (`ombud_bench`, dropped at the end unless --keep), migrates it and measures:

1. erasing one data subject (what completing a deletion request does to the data: the legal-hold
   check, destroying the data key, dropping the lookup index, the ledger event, in one
   transaction), first with a small complaints table and again once it holds --complaints rows,
   so the two figures show whether the cost depends on the table's size;
2. `enforce_retention` over --subjects subjects whose complaints all closed long ago, in
   erased records per second, through the real command's service.

The bulk rows are written by SQL (`INSERT ... SELECT generate_series`): valid rows as the
services would leave them (encrypted fields, a wrapped data key, a lookup digest, a description
note, closed complaints), without history or ledger entries, which neither measure reads.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import datetime, timedelta

from ledger import (
    BENCH_DB,
    Figure,
    bench_server_url,
    bench_url,
    keep_or_drop,
    median,
    migrate,
    percentile,
    print_summary,
    quiet_queries,
    recreate_database,
    say,
    setup_django,
)

SMALL_COMPLAINTS = 10_000
PROBES = 50  # subjects erased one by one at each table size


# --- filling ------------------------------------------------------------------------------------


def fill(subjects: int, complaints: int, closed_at: datetime) -> float:
    """Add `subjects` subjects and `complaints` closed complaints spread over them; return seconds.

    Every subject gets a wrapped data key, an email lookup digest and one description note;
    complaint i belongs to subject i mod `subjects` of this batch.
    """
    from django.db import connection, transaction

    from governance.models import Category

    category = Category.objects.get(code="harassment")
    blob = os.urandom(60)  # stands in for one AES-GCM ciphertext; nothing here reads it
    start = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM privacy_datasubject")
        first = cursor.fetchone()[0] + 1
        cursor.execute(
            "INSERT INTO privacy_datasubject (pseudonym, kind, full_name_ct, email_ct, created_at)"
            " SELECT 'S-B' || lpad(i::text, 12, '0'), 'complainant', %s, %s, %s"
            " FROM generate_series(%s::bigint, %s::bigint) AS i",
            [blob, blob, closed_at, first, first + subjects - 1],
        )
        cursor.execute(
            "INSERT INTO privacy_datakey (subject_id, kek_id, wrapped, created_at, destroyed_for)"
            " SELECT id, 'bench', %s, %s, '' FROM privacy_datasubject WHERE id >= %s",
            [blob, closed_at, first],
        )
        cursor.execute(
            "INSERT INTO privacy_subjectlookup (subject_id, field, digest)"
            " SELECT id, 'email', md5(id::text) || md5(pseudonym) FROM privacy_datasubject"
            " WHERE id >= %s",
            [first],
        )
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM privacy_personalnote")
        first_note = cursor.fetchone()[0] + 1
        cursor.execute(
            "INSERT INTO privacy_personalnote (uid, subject_id, kind, text_ct, created_at)"
            " SELECT gen_random_uuid(), id, 'complaint_description', %s, %s"
            " FROM privacy_datasubject WHERE id >= %s ORDER BY id",
            [blob, closed_at, first],
        )
        cursor.execute("SELECT COUNT(*) FROM governance_complaint")
        have = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO governance_complaint (reference, channel, category_id, department_id,"
            " severity, urgency, priority, status, content_url, content_id, complainant_id,"
            " description_id, received_at, acknowledged_at, triaged_at, decided_at, closed_at,"
            " acknowledge_due_at, triage_due_at, decision_due_at, updated_at)"
            " SELECT 'CMP-B-' || lpad(i::text, 10, '0'), 'web_form', %s, %s, 'high', 'normal',"
            " 'P2', 'closed', '', '', %s::bigint + (i %% %s::bigint),"
            " %s::bigint + (i %% %s::bigint), %s, %s, %s, %s, %s, %s, %s,"
            " %s, %s FROM generate_series(%s::bigint, %s::bigint) AS i",
            [
                category.pk,
                category.default_department_id,
                first,
                subjects,
                first_note,
                subjects,
                *[closed_at] * 9,
                have,
                have + complaints - 1,
            ],
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return time.perf_counter() - start


def complaint_count() -> int:
    from governance.models import Complaint

    return Complaint.objects.count()


# --- 1. erasing one subject ---------------------------------------------------------------------


def erase_one(subject_id: int) -> float:
    """Erase one subject as a deletion request does; return the transaction's seconds."""
    from django.db import transaction
    from django.utils import timezone

    from audits.choices import EventType
    from audits.services import ledger_append, system_actor_ref
    from privacy.choices import ErasureCause
    from privacy.erasure import subjects_erase

    start = time.perf_counter()
    with transaction.atomic():
        erased, held = subjects_erase(
            subject_ids=[subject_id], cause=ErasureCause.DELETION_REQUEST, now=timezone.now()
        )
        ledger_append(
            event_type=EventType.SUBJECT_ERASED,
            object_ref="request:bench",
            actor_ref=system_actor_ref("bench"),
            data={"erased": erased, "held": held},
        )
    seconds = time.perf_counter() - start
    if len(erased) != 1:
        raise RuntimeError(f"subject {subject_id} was not erased ({erased}, held {held})")
    return seconds


def time_erasures(rng: random.Random, count: int) -> list[float]:
    """Erase `count` random live subjects one at a time; return each erasure's seconds."""
    from privacy.models import DataKey

    live = list(DataKey.objects.filter(wrapped__isnull=False).values_list("subject_id", flat=True))
    erase_one(live.pop())  # warm-up: connection, first-use caches
    return [erase_one(subject_id) for subject_id in rng.sample(live, count)]


def bench_erasure(
    args: argparse.Namespace, rng: random.Random, closed_at: datetime
) -> list[Figure]:
    say("== 1. erasing one subject ==")
    small_subjects = max(PROBES * 4, args.subjects // 100)
    seconds = fill(small_subjects, SMALL_COMPLAINTS, closed_at)
    say(f"  filled {small_subjects:,} subjects, {SMALL_COMPLAINTS:,} complaints in {seconds:.1f} s")
    small = time_erasures(rng, PROBES)
    say(
        f"  at {complaint_count():,} complaints: median {median(small) * 1e3:.2f} ms, "
        f"p95 {percentile(small, 95) * 1e3:.2f} ms"
    )
    more_subjects = args.subjects - small_subjects
    more_complaints = args.complaints - SMALL_COMPLAINTS
    seconds = fill(more_subjects, more_complaints, closed_at)
    say(
        f"  filled {more_subjects:,} more subjects, {more_complaints:,} more complaints "
        f"in {seconds:.1f} s"
    )
    large = time_erasures(rng, PROBES)
    at_large = complaint_count()
    say(
        f"  at {at_large:,} complaints: median {median(large) * 1e3:.2f} ms, "
        f"p95 {percentile(large, 95) * 1e3:.2f} ms"
    )
    growth = median(large) / median(small)
    say(f"  median at {at_large:,} / median at {SMALL_COMPLAINTS:,}: {growth:.2f}x")
    return [
        Figure(
            f"erase one subject, p95 at {at_large:,}", percentile(large, 95) * 1e3, "ms", 100, False
        ),
        Figure("erase one subject, large/small table", growth, "x", 2, False),
    ]


# --- 2. enforce_retention -----------------------------------------------------------------------


def bench_retention(batch_size: int) -> list[Figure]:
    from django.utils import timezone

    from privacy.models import DataKey
    from privacy.services import retention_enforce

    expired = DataKey.objects.filter(wrapped__isnull=False).count()
    say(f"== 2. enforce_retention over {expired:,} expired subjects ==")
    start = time.perf_counter()
    run = retention_enforce(now=timezone.now(), batch_size=batch_size)
    seconds = time.perf_counter() - start
    erased = run.subjects_erased
    left = DataKey.objects.filter(wrapped__isnull=False).count()
    say(f"  erased {erased:,} subjects in {seconds:.1f} s ({erased / seconds:,.0f}/s), {left} left")
    if left:
        raise RuntimeError(f"{left} expired subjects were not erased")
    start = time.perf_counter()
    again = retention_enforce(now=timezone.now(), batch_size=batch_size)
    say(f"  a second run erased {again.subjects_erased} in {time.perf_counter() - start:.1f} s")
    return [Figure("enforce_retention throughput", erased / seconds, "records/s", 5000, True)]


# --- the run ------------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--complaints", type=int, default=1_000_000, help="complaints in the table")
    parser.add_argument("--subjects", type=int, default=100_000, help="expired subjects")
    parser.add_argument("--batch-size", type=int, default=1000, help="enforce_retention batch")
    parser.add_argument("--seed", type=int, default=2026, help="seed for the subjects erased")
    parser.add_argument("--keep", action="store_true", help=f"keep the {BENCH_DB} database")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    server_url = bench_server_url()
    if args.complaints <= SMALL_COMPLAINTS or args.subjects <= PROBES * 8:
        raise SystemExit(f"--complaints must exceed {SMALL_COMPLAINTS}, --subjects {PROBES * 8}")
    started = time.perf_counter()
    rng = random.Random(args.seed)  # noqa: S311 - picks subjects to erase, nothing secret
    try:
        recreate_database(server_url)
        setup_django(bench_url(server_url))
        migrate()
        say(f"database {BENCH_DB} created and migrated")
        closed_at = datetime.now().astimezone() - timedelta(days=5 * 365)
        with quiet_queries():
            figures = bench_erasure(args, rng, closed_at)
            figures += bench_retention(args.batch_size)
    finally:
        keep_or_drop(server_url, keep=args.keep)
    print_summary(figures, time.perf_counter() - started)
    return 0 if all(f.passed for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
