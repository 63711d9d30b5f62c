"""Benchmark an oversight report: a month of a million complaints and decisions, counted.

A script, not a test; see bench/README.md. Like bench/ledger.py it creates its own PostgreSQL
database, here `ombud_bench_report` (so it can run beside the other benches, which use
`ombud_bench`), migrates it, fills it, measures and drops it again (unless --keep):

1. the fill: --complaints complaints (default 1,000,000) received in one calendar month that
   ended long ago (three months before the current one, so every deadline of it has passed),
   written by SQL (`INSERT ... SELECT generate_series`) as the services would have left them:
   spread over every category, department, channel, severity and urgency; over --complaints / 4
   data subjects, so complainants repeat; about a tenth about content another complaint is about
   too; acknowledged, triaged and decided mostly on time, some late, a few withdrawn or still
   open; one initial decision per decided complaint, a few corrections, about 2% appealed (the
   appeal row, its statement and the appeal's decision), ratings of about 30% of the decided
   complaints, privacy requests, erasures and legal holds;
2. `period_figures` + `suppress` for that month (what a report counts, without publishing), run
   twice: the first run is the first use of a new connection after the fill, the second finds
   the caches warm; then each section of `period_figures` timed on its own;
3. `report_publish` for that month (seal, count, render JSON, CSV and two HTML pages, sign,
   save, ledger entry), once as measured and once more, as a correction superseding the first,
   under tracemalloc for its Python heap peak.

Parts 2 and 3 run in a child process started before anything else, so its peak resident set is
its own (Linux hands a parent's peak down to the children it starts; see bench/ledger.py).

The data stands alone: no complaint precedes the month (repeat complaints are flagged when a
complaint is filed, so the report's cost does not depend on the months before), and the early
warning, which compares each day with the 28 before,
flags the first days of the month in every category. The ledger holds only what the set-up
wrote through the services (roles, clauses), so the seal inside `report_publish` is small here;
bench/ledger.py measures sealing a ledger of a million entries.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import ledger

ledger.BENCH_DB = "ombud_bench_report"  # read by bench_url, recreate_database, drop_database

from ledger import (  # noqa: E402 - after the database name is set, for clarity
    MB,
    RESULT_PREFIX,
    Figure,
    bench_server_url,
    bench_url,
    keep_or_drop,
    maxrss_bytes,
    migrate,
    print_summary,
    quiet_queries,
    recreate_database,
    say,
    settle,
    setup_django,
)

BENCH_DB = ledger.BENCH_DB
REPORT_GOAL_SECONDS = 10
MEMORY_GOAL_MB = 500

# --- the shape of the month ---------------------------------------------------------------------
# Relative weights; a code the database has and these lack gets OTHER_WEIGHT.
OTHER_WEIGHT = 3
CATEGORY_WEIGHTS = {
    "harassment": 18,
    "ip_infringement": 12,
    "service_quality": 12,
    "fraud": 10,
    "advertising": 9,
    "technical_fault": 9,
    "violence": 8,
    "privacy": 7,
    "political": 6,
    "other": 6,
    "minors": 3,
}
NO_CONTENT_CATEGORIES = ("service_quality", "technical_fault")  # about the service, not content
CHANNEL_WEIGHTS = {
    "web_form": 40,
    "in_app": 30,
    "email": 12,
    "social_media": 7,
    "api": 5,
    "phone": 4,
    "regulator_referral": 2,
}
URGENCY_WEIGHTS = {"high": 15, "normal": 70, "low": 15}
OUTCOME_WEIGHTS = {
    "upheld": 45,
    "partially_upheld": 15,
    "rejected": 25,
    "referred": 5,
    "no_action": 10,
}
ACTION_WEIGHTS = {
    "content_removed": 35,
    "account_warned": 12,
    "content_disabled": 10,
    "content_demoted": 10,
    "content_labelled": 10,
    "account_suspended": 7,
    "content_age_restricted": 5,
    "interaction_restricted": 5,
    "account_terminated": 3,
    "monetisation_restricted": 3,
}
AUTOMATED_WEIGHTS = {"not_automated": 88, "partially": 9, "fully": 3}
SCORE_WEIGHTS = {"1": 18, "2": 9, "3": 14, "4": 26, "5": 33}
OPEN_STATUSES = ("received", "acknowledged", "triaged", "assigned", "investigating")
REQUEST_STATUS_WEIGHTS = {
    "completed": 70,
    "refused": 8,
    "received": 8,
    "identity_verified": 10,
    "on_hold": 4,
}

# Shares of the complaints (the rest are decided).
WITHDRAWN = 0.003
STILL_OPEN = 0.01
# Shares of the decided complaints, as consecutive bands of one random number.
APPEAL_OPEN = 0.003  # appealed, the appeal not yet decided
APPEAL_DECIDED = 0.017  # appealed and decided (about 2% appealed in all)
CORRECTED = 0.003  # a correction supersedes the first decision; closed
NOT_CLOSED = 0.167  # decided, not closed yet; the rest are closed
RATED_OF_CLOSED = 0.37  # about 30% of all decided complaints
# Deadlines met: the rest of each stage is done late.
ACK_ON_TIME = 0.95
TRIAGE_ON_TIME = 0.93
DECIDE_ON_TIME = 0.90

_CODE = re.compile(r"^[A-Za-z0-9_]+$")


def _text_array(values: list[str]) -> str:
    """Return an SQL text[] literal of `values` (our own codes, checked to be plain words)."""
    for value in values:
        if not _CODE.match(value):
            raise ValueError(f"not a plain code: {value!r}")
    return "ARRAY[" + ",".join(f"'{v}'" for v in values) + "]::text[]"


def _lowers(weights: list[float]) -> str:
    """Return the SQL float8[] of the buckets' lower bounds for `width_bucket`, from 0."""
    total = sum(weights)
    bounds, running = [], 0.0
    for weight in weights:
        bounds.append(running / total)
        running += weight
    return "ARRAY[" + ",".join(repr(b) for b in bounds) + "]::float8[]"


def pick(uniform: str, weights: Mapping[str, float]) -> str:
    """SQL: one of `weights`' keys, drawn by the uniform [0, 1) number `uniform`."""
    keys = list(weights)
    return f"({_text_array(keys)})[width_bucket({uniform}, {_lowers(list(weights.values()))})]"


def _interval(amount: int, unit: str) -> str:
    if unit not in {"hours", "days"}:
        raise ValueError(unit)
    return f"interval '{int(amount)} {unit}'"


def due_sql(start: str, target: tuple[int, str], zone: str) -> str:
    """SQL: when a stage started at `start` is due under `target`, as governance.deadlines
    computes it (working days skip weekends; the bench has no holidays)."""
    amount, unit = int(target[0]), str(target[1])
    if unit != "working_days":
        return f"({start} + {_interval(amount, unit)})"
    local = f"({start} AT TIME ZONE '{zone}')"
    # A start on a weekend counts from 00:00 on the Monday after.
    shifted = (
        f"(CASE extract(isodow FROM {local}) WHEN 6 THEN date_trunc('day', {local}) + "
        f"interval '2 days' WHEN 7 THEN date_trunc('day', {local}) + interval '1 day' "
        f"ELSE {local} END)"
    )
    weeks, rest = divmod(amount, 5)
    days = (
        f"({weeks * 7 + rest} + CASE WHEN extract(isodow FROM {shifted}) + {rest} > 5 "
        "THEN 2 ELSE 0 END)"
    )
    return f"(({shifted} + make_interval(days => {days}::int)) AT TIME ZONE '{zone}')"


def report_month(today: date) -> str:
    """Return the month three before `today`'s: every timestamp the fill derives from it (at most
    some 50 days after receipt) then lies in the past."""
    index = today.year * 12 + today.month - 1 - 3
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


# --- the people ---------------------------------------------------------------------------------


class Cast:
    """The users the month needs, made through the services, and the clauses applied."""

    def __init__(self, month_start: date) -> None:
        from django.contrib.auth import get_user_model

        from governance import services
        from governance.models import Department

        user_model = get_user_model()
        # The bootstrap superuser is made directly, as in the tests: someone has to grant roles.
        self.root = user_model.objects.create_user(
            username="bench-root", is_superuser=True, is_staff=True
        )

        def person(username: str, role: str, department: Any = None) -> Any:
            user = user_model.objects.create_user(
                username=username, email=f"{username}@example.test", first_name="Bench"
            )
            services.role_grant(actor=self.root, user=user, role=role, department=department)
            return user

        self.supervisor = person("bench-supervisor", "supervisor")
        self.privacy_officer = person("bench-privacy", "privacy_officer")
        self.complainant = person("bench-complainant", "complainant")
        self.handlers: dict[int, int] = {}
        self.leads: dict[int, int] = {}
        for department in Department.objects.order_by("id"):
            self.handlers[department.pk] = person(
                f"bench-handler-{department.code}", "handler", department
            ).pk
            self.leads[department.pk] = person(
                f"bench-lead-{department.code}", "department_lead", department
            ).pk
        effective = month_start - timedelta(days=365)
        self.clauses = [
            services.policy_clause_publish(
                actor=self.root, code=code, title=f"Clause {code}", text=text, effective_from=day
            ).pk
            for code, text, day in (
                ("TOS-3.1", "Do not harass other people.", effective),
                ("TOS-4.2", "Do not post content you have no right to.", effective),
                ("TOS-5.0", "Do not deceive or defraud other people.", effective),
                ("LAW-1", "Content illegal where it is shown is removed there.", effective),
            )
        ]


def by_department(ids: Mapping[int, int]) -> str:
    """SQL: an int[] indexed by department id (ids are small), giving the user for each."""
    fallback = next(iter(ids.values()))
    return (
        "ARRAY[" + ",".join(str(ids.get(i, fallback)) for i in range(1, max(ids) + 1)) + "]::int[]"
    )


# --- filling ------------------------------------------------------------------------------------


class Filler:
    """Writes the month with a handful of `INSERT ... SELECT` statements, each committed on its
    own (the foreign keys are deferred to commit: one transaction would queue every check)."""

    def __init__(self, cast: Cast, month: str, complaints: int, seed: int) -> None:
        from django.conf import settings

        from audits.figures import Period

        self.cast = cast
        self.n = complaints
        self.subjects = max(10, complaints // 4)
        self.seed = seed
        self.period = Period.parse(month)
        self.start, self.end = self.period.bounds()
        self.zone = settings.OMBUD_BUSINESS_TIME_ZONE
        self.deadlines = settings.OMBUD_DEADLINES
        self.blob = b"\x00" * 12 + os.urandom(48)  # stands in for a nonce and a ciphertext
        self.seconds: dict[str, float] = {}

    def sql(self, label: str, statement: str, params: Mapping[str, Any] | None = None) -> int:
        """Run one statement (autocommit); time it under `label`; return the rows it wrote."""
        from django.db import connection

        start = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(statement, {**self.base_params(), **(params or {})})
            rows = cursor.rowcount
        self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - start
        return rows

    def base_params(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "n": self.n,
            "subjects": self.subjects,
            "blob": self.blob,
            "complainant_user": self.cast.complainant.pk,
            "privacy_officer": self.cast.privacy_officer.pk,
            **self.bases,
        }

    def next_ids(self) -> None:
        """Explicit ids start after any row already there; the sequences are moved past them."""
        from django.db import connection

        self.bases: dict[str, int] = {}
        with connection.cursor() as cursor:
            for key, table in (
                ("s0", "privacy_datasubject"),
                ("note0", "privacy_personalnote"),
                ("c0", "governance_complaint"),
                ("d0", "governance_decision"),
                ("a0", "governance_appeal"),
                ("r0", "governance_rating"),
            ):
                cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")  # noqa: S608
                self.bases[key] = cursor.fetchone()[0]

    def run(self) -> float:
        from django.db import connection

        started = time.perf_counter()
        self.next_ids()
        with connection.cursor() as cursor:
            # random() below draws from this seed: INSERT ... SELECT runs in one process, in order.
            cursor.execute("SELECT setseed(%s)", [(self.seed % 2000) / 1000 - 1])
        self.stage_complaints()
        self.fill_subjects()
        self.fill_complaints()
        self.fill_decisions()
        self.fill_appeals()
        self.fill_ratings()
        self.fill_privacy()
        self.finish()
        return time.perf_counter() - started

    # The complaints, staged once in a temporary table that the other inserts read.
    def stage_complaints(self) -> None:
        from governance.choices import PRIORITY_MATRIX, Severity, Urgency
        from governance.models import Category, Department

        categories = list(
            Category.objects.order_by("id").values_list(
                "id", "code", "default_department_id", "default_severity"
            )
        )
        departments = list(Department.objects.order_by("id").values_list("id", flat=True))
        severities = list(Severity.values)
        urgencies = list(Urgency.values)
        cat_lowers = _lowers(
            [CATEGORY_WEIGHTS.get(code, OTHER_WEIGHT) for _, code, _, _ in categories]
        )
        cat_ids = "ARRAY[" + ",".join(str(c[0]) for c in categories) + "]::bigint[]"
        cat_depts = "ARRAY[" + ",".join(str(c[2]) for c in categories) + "]::bigint[]"
        cat_sev = "ARRAY[" + ",".join(str(severities.index(c[3])) for c in categories) + "]::int[]"
        no_content = (
            "ARRAY["
            + ",".join(str(c[0]) for c in categories if c[1] in NO_CONTENT_CATEGORIES)
            + "]::bigint[]"
        )
        dept_ids = "ARRAY[" + ",".join(map(str, departments)) + "]::bigint[]"
        matrix = _text_array([PRIORITY_MATRIX[s][u] for s in severities for u in urgencies])
        urgency = {u: URGENCY_WEIGHTS.get(u, OTHER_WEIGHT) for u in urgencies}
        channels = {c: CHANNEL_WEIGHTS.get(c, 1) for c in self.channel_values()}
        ack_due = due_sql("received_at", self.deadlines["acknowledge"], self.zone)
        triage_due = due_sql("received_at", self.deadlines["triage"], self.zone)
        decide = self.deadlines["decide"]
        decision_due = (
            "CASE priority "
            + " ".join(
                f"WHEN '{p}' THEN {due_sql('received_at', decide[p], self.zone)}" for p in decide
            )
            + " END"
        )
        fate = (
            f"CASE WHEN r_fate < {WITHDRAWN} THEN 'withdrawn' "
            f"WHEN r_fate < {WITHDRAWN + STILL_OPEN} THEN 'open' ELSE 'decided' END"
        )
        b1, b2 = APPEAL_OPEN, APPEAL_OPEN + APPEAL_DECIDED
        b3, b4 = b2 + CORRECTED, b2 + CORRECTED + NOT_CLOSED
        # Every constant above is our own; the values from outside are parameters.
        statement = f"""
        CREATE TEMP TABLE bench_c AS
        WITH g AS (
            SELECT i, random() AS r_cat, random() AS r_chan, random() AS r_sev, random() AS r_sev2,
                random() AS r_urg, random() AS r_dept, random() AS r_subj, random() AS r_content,
                random() AS r_shared, random() AS r_recv, random() AS r_ack, random() AS r_tri,
                random() AS r_dec, random() AS r_dec2, random() AS r_fate, random() AS r_open,
                random() AS r_after, random() AS r_close
            FROM generate_series(0, %(n)s - 1) AS i
        ), p AS (
            SELECT g.*, width_bucket(r_cat, {cat_lowers}) AS k,
                %(start)s::timestamptz + r_recv * (%(end)s::timestamptz - %(start)s::timestamptz)
                    AS received_at,
                {fate} AS fate
            FROM g
        ), q AS (
            SELECT p.*, ({cat_ids})[k] AS category_id,
                CASE WHEN r_dept < 0.1
                    THEN ({dept_ids})[1 + floor(r_dept * 10 * {len(departments)})::int]
                    ELSE ({cat_depts})[k] END AS department_id,
                CASE WHEN r_sev < 0.7 THEN ({cat_sev})[k] ELSE floor(r_sev2 * 4)::int END AS sev,
                array_position({_text_array(urgencies)}, {pick("r_urg", urgency)}) - 1 AS urg,
                {pick("r_chan", channels)} AS channel
            FROM p
        ), r AS (
            SELECT q.*, ({_text_array(severities)})[sev + 1] AS severity,
                ({_text_array(urgencies)})[urg + 1] AS urgency,
                ({matrix})[sev * {len(urgencies)} + urg + 1] AS priority,
                CASE WHEN fate = 'open' THEN floor(r_open * 5)::int ELSE 5 END AS stage
            FROM q
        ), d AS (
            SELECT r.*, {ack_due} AS ack_due, {triage_due} AS triage_due,
                {decision_due} AS decision_due
            FROM r
        ), e AS (
            SELECT d.*, CASE
                WHEN fate = 'withdrawn' AND r_after < 0.6 THEN NULL
                WHEN stage < 1 THEN NULL
                WHEN r_ack < {ACK_ON_TIME} THEN received_at + r_ack * (ack_due - received_at)
                ELSE ack_due + interval '1 hour'
                    + (r_ack - {ACK_ON_TIME}) / {1 - ACK_ON_TIME} * 2 * (ack_due - received_at)
                END AS acknowledged_at
            FROM d
        ), f AS (
            SELECT e.*, CASE
                WHEN fate = 'withdrawn' OR stage < 2 THEN NULL
                WHEN r_tri < {TRIAGE_ON_TIME} THEN GREATEST(acknowledged_at + interval '15 minutes',
                    received_at + r_tri / {TRIAGE_ON_TIME} * 0.95 * (triage_due - received_at))
                ELSE GREATEST(acknowledged_at + interval '15 minutes', triage_due
                    + interval '1 hour' + (r_tri - {TRIAGE_ON_TIME}) / {1 - TRIAGE_ON_TIME}
                    * (triage_due - received_at))
                END AS triaged_at
            FROM e
        ), h AS (
            SELECT f.*, CASE
                WHEN fate <> 'decided' THEN NULL
                WHEN r_dec < {DECIDE_ON_TIME} THEN GREATEST(triaged_at + interval '30 minutes',
                    received_at + (0.1 + 0.85 * r_dec2) * (decision_due - received_at))
                ELSE GREATEST(triaged_at + interval '30 minutes',
                    decision_due + interval '1 hour' + r_dec2 * interval '7 days')
                END AS decided_at
            FROM f
        )
        SELECT i, category_id, department_id, channel, severity, urgency, priority,
            received_at, ack_due, triage_due, decision_due, acknowledged_at, triaged_at, decided_at,
            %(s0)s + floor(r_subj * %(subjects)s)::bigint AS complainant_id,
            CASE
                WHEN category_id = ANY({no_content}) THEN ''
                WHEN r_content < 0.13
                    THEN 'v-s' || floor(r_shared * GREATEST(1, %(n)s / 25))::bigint
                ELSE 'v-' || i
            END AS content_id,
            CASE
                WHEN fate = 'withdrawn' THEN 'withdrawn'
                WHEN fate = 'open' THEN ({_text_array(list(OPEN_STATUSES))})[stage + 1]
                WHEN r_close < {b1} THEN 'appealed'
                WHEN r_close < {b2} THEN 'appeal_decided'
                WHEN r_close < {b3} THEN 'closed'
                WHEN r_close < {b4} THEN 'decided'
                ELSE 'closed'
            END AS status,
            fate = 'decided' AND r_close < {b2} AS appealed,
            fate = 'decided' AND r_close < {b1} AS appeal_open,
            fate = 'decided' AND r_close >= {b2} AND r_close < {b3} AS corrected,
            CASE
                WHEN fate = 'withdrawn'
                    THEN COALESCE(acknowledged_at, received_at) + r_open * interval '2 days'
                WHEN fate = 'decided' AND (r_close >= {b4} OR (r_close >= {b2} AND r_close < {b3}))
                    THEN decided_at + r_after * interval '3 days'
            END AS closed_at,
            CASE WHEN stage >= 3 AND fate <> 'withdrawn' THEN department_id END
                AS assigned_department
        FROM h
        """  # noqa: S608 - every piece is our own constant
        self.sql("stage complaints", statement)
        self.sql("stage complaints", "ANALYZE bench_c")

    @staticmethod
    def channel_values() -> list[str]:
        from governance.choices import Channel

        return list(Channel.values)

    def fill_subjects(self) -> None:
        # Complainants, each with a data key; a few extra subjects erased by retention in the
        # month (their complaints are years old and not in this database).
        self.retired = max(5, self.subjects // 200)
        self.sql(
            "subjects",
            "INSERT INTO privacy_datasubject (id, pseudonym, kind, full_name_ct, email_ct,"
            " created_at)"
            " SELECT %(s0)s + j, 'S-R' || lpad((%(s0)s + j)::text, 12, '0'), 'complainant',"
            " %(blob)s, %(blob)s,"
            " CASE WHEN j < %(subjects)s THEN %(start)s::timestamptz - interval '1 day'"
            " ELSE %(start)s::timestamptz - interval '6 years' END"
            " FROM generate_series(0, %(subjects)s + %(retired)s - 1) AS j",
            {"retired": self.retired},
        )

    def fill_complaints(self) -> None:
        self.sql(
            "description notes",
            "INSERT INTO privacy_personalnote (id, uid, subject_id, kind, text_ct, created_at)"
            " SELECT %(note0)s + i, gen_random_uuid(), complainant_id, 'complaint_description',"
            " %(blob)s, received_at FROM bench_c ORDER BY i",
        )
        handlers = by_department(self.cast.handlers)
        self.sql(
            "complaints",
            "INSERT INTO governance_complaint (id, reference, channel, category_id,"  # noqa: S608
            " department_id, severity, urgency, priority, status, content_url, content_id,"
            " complainant_id, description_id, assignee_id, received_at, acknowledged_at,"
            " triaged_at, decided_at, closed_at, acknowledge_due_at, triage_due_at,"
            " decision_due_at, updated_at)"
            " SELECT %(c0)s + i, 'CMP-B-' || lpad((%(c0)s + i)::text, 10, '0'), channel,"
            " category_id, department_id, severity, urgency, priority, status,"
            " CASE WHEN content_id = '' THEN '' ELSE 'https://video.example.com/v/' || content_id"
            " END, content_id, complainant_id, %(note0)s + i,"
            f" ({handlers})[assigned_department], received_at, acknowledged_at, triaged_at,"
            " decided_at, closed_at, ack_due, triage_due, decision_due,"
            " GREATEST(received_at, acknowledged_at, triaged_at, decided_at, closed_at)"
            " FROM bench_c ORDER BY i",
        )

    def fill_decisions(self) -> None:
        handlers = by_department(self.cast.handlers)
        clauses = "ARRAY[" + ",".join(map(str, self.cast.clauses)) + "]::bigint[]"
        actions = list(ACTION_WEIGHTS)
        count = len(actions)
        acts = _text_array(actions)
        acting = "x.outcome IN ('upheld', 'partially_upheld')"
        # One initial decision per decided complaint, with id d0 + i.
        self.sql(
            "decisions",
            "INSERT INTO governance_decision (id, kind, outcome, actions, ground,"  # noqa: S608
            " ground_reference, facts, reasons, automated_detection, automated_decision,"
            " territorial_scope, decided_at, appeal_outcome, complaint_id, decided_by_id,"
            " policy_clause_id)"
            " SELECT %(d0)s + x.i, 'initial', x.outcome,"
            f" CASE WHEN {acting} THEN CASE WHEN x.r_two < 0.2"
            f" THEN jsonb_build_array(({acts})[x.k1],"
            f" ({acts})[1 + (x.k1 + floor(x.r_k2 * {count - 1})::int) %% {count}])"
            f" ELSE jsonb_build_array(({acts})[x.k1]) END ELSE '[\"none\"]'::jsonb END,"
            " CASE WHEN x.r_ground < 0.2 THEN 'illegal_content' ELSE 'terms_of_service' END,"
            " CASE WHEN x.r_ground < 0.2 THEN 'DSA Art. 16 notice; the law where it is shown'"
            " ELSE '' END,"
            " 'The content was reviewed against the clause applied.',"
            " 'The reviewer weighed the content against the clause and decided as recorded.',"
            " x.r_det < 0.2, x.automated, '[]'::jsonb, x.decided_at, '', %(c0)s + x.i,"
            f" ({handlers})[x.department_id],"
            f" CASE WHEN x.r_ground < 0.2 THEN ({clauses})[{len(self.cast.clauses)}]"
            f" ELSE ({clauses})[1 + floor(x.r_clause * {len(self.cast.clauses) - 1})::int] END"
            " FROM (SELECT c.i, c.decided_at, c.department_id,"
            f" {pick('random()', OUTCOME_WEIGHTS)} AS outcome,"
            f" width_bucket(random(), {_lowers(list(ACTION_WEIGHTS.values()))}) AS k1,"
            " random() AS r_two, random() AS r_k2, random() AS r_ground, random() AS r_det,"
            f" {pick('random()', AUTOMATED_WEIGHTS)} AS automated, random() AS r_clause"
            " FROM bench_c c WHERE c.decided_at IS NOT NULL ORDER BY c.i) x",
        )
        # Corrections: a new decision superseding the first, a few days later.
        self.sql(
            "decisions",
            "INSERT INTO governance_decision (id, kind, outcome, actions, ground, ground_reference,"
            " facts, reasons, automated_detection, automated_decision, territorial_scope,"
            " decided_at, appeal_outcome, complaint_id, decided_by_id, policy_clause_id,"
            " supersedes_id)"
            " SELECT %(d0)s + %(n)s + c.i, 'correction', o.outcome, o.actions, o.ground,"
            " o.ground_reference, o.facts, 'The reasons now name the clause correctly.',"
            " o.automated_detection, o.automated_decision, o.territorial_scope,"
            " o.decided_at + (0.1 + random()) * interval '3 days', '', o.complaint_id,"
            " o.decided_by_id, o.policy_clause_id, o.id"
            " FROM bench_c c JOIN governance_decision o ON o.id = %(d0)s + c.i"
            " WHERE c.corrected ORDER BY c.i",
        )

    def fill_appeals(self) -> None:
        leads = by_department(self.cast.leads)
        self.sql(
            "appeals",
            "CREATE TEMP TABLE bench_a AS SELECT c.i, c.complainant_id, c.department_id,"
            " c.appeal_open, c.decided_at + (0.05 + random()) * interval '10 days' AS filed_at,"
            " random() AS r_decide, random() AS r_outcome FROM bench_c c WHERE c.appealed",
        )
        self.sql(
            "appeals",
            "INSERT INTO privacy_personalnote (id, uid, subject_id, kind, text_ct, created_at)"
            " SELECT %(note0)s + %(n)s + i, gen_random_uuid(), complainant_id, 'appeal_statement',"
            " %(blob)s, filed_at FROM bench_a ORDER BY i",
        )
        self.sql(
            "appeals",
            "INSERT INTO governance_appeal (id, appellant_role, filed_at, status, decided_at,"
            " appellant_id, filed_by_id, statement_id, complaint_id, decision_id)"
            " SELECT %(a0)s + i, 'complainant', filed_at,"
            " CASE WHEN appeal_open THEN 'open' ELSE 'decided' END,"
            " CASE WHEN NOT appeal_open THEN filed_at + (0.05 + r_decide) * interval '7 days' END,"
            " complainant_id, %(complainant_user)s, %(note0)s + %(n)s + i, %(c0)s + i, %(d0)s + i"
            " FROM bench_a ORDER BY i",
        )
        # The appeal's decision: upheld (same outcome), reversed (acting <-> not) or modified.
        acting = "o.outcome IN ('upheld', 'partially_upheld')"
        self.sql(
            "appeals",
            "INSERT INTO governance_decision (id, kind, outcome, actions, ground,"  # noqa: S608
            " ground_reference, facts, reasons, automated_detection, automated_decision,"
            " territorial_scope, decided_at, appeal_outcome, complaint_id, decided_by_id,"
            " policy_clause_id, supersedes_id, appeal_id)"
            " SELECT %(d0)s + %(n)s + a.i, 'appeal', CASE"
            "   WHEN a.r_outcome < 0.7 THEN o.outcome"
            f"  WHEN a.r_outcome < 0.9 THEN CASE WHEN {acting} THEN 'rejected' ELSE 'upheld' END"
            f"  WHEN {acting} THEN 'partially_upheld'"
            "   WHEN o.outcome = 'referred' THEN 'no_action' ELSE 'referred' END,"
            " CASE"
            "   WHEN a.r_outcome < 0.7 THEN o.actions"
            f"  WHEN a.r_outcome < 0.9 THEN CASE WHEN {acting} THEN '[\"none\"]'::jsonb"
            "     ELSE '[\"content_removed\"]'::jsonb END"
            f"  WHEN {acting} THEN CASE WHEN o.actions = '[\"content_labelled\"]'::jsonb"
            "     THEN '[\"content_demoted\"]'::jsonb ELSE '[\"content_labelled\"]'::jsonb END"
            "   ELSE '[\"none\"]'::jsonb END,"
            " o.ground, o.ground_reference, 'A second look at the same content.',"
            " 'The appeal was decided by someone who took no part in the first decision.',"
            " o.automated_detection, 'not_automated', o.territorial_scope, ap.decided_at,"
            " CASE WHEN a.r_outcome < 0.7 THEN 'upheld' WHEN a.r_outcome < 0.9 THEN 'reversed'"
            " ELSE 'modified' END,"
            f" o.complaint_id, ({leads})[a.department_id], o.policy_clause_id, o.id, ap.id"
            " FROM bench_a a JOIN governance_decision o ON o.id = %(d0)s + a.i"
            " JOIN governance_appeal ap ON ap.id = %(a0)s + a.i"
            " WHERE NOT a.appeal_open ORDER BY a.i",
        )

    def fill_ratings(self) -> None:
        self.sql(
            "ratings",
            "CREATE TEMP TABLE bench_r AS SELECT c.i, c.complainant_id,"  # noqa: S608
            " c.closed_at + random() * interval '5 days' AS rated_at,"
            f" {pick('random()', SCORE_WEIGHTS)}::smallint AS score,"
            " random() < 0.1 AS commented"
            f" FROM bench_c c WHERE c.status = 'closed' AND random() < {RATED_OF_CLOSED}",
        )
        self.sql(
            "ratings",
            "INSERT INTO privacy_personalnote (id, uid, subject_id, kind, text_ct, created_at)"
            " SELECT %(note0)s + 2 * %(n)s + i, gen_random_uuid(), complainant_id,"
            " 'rating_comment', %(blob)s, rated_at FROM bench_r WHERE commented ORDER BY i",
        )
        self.sql(
            "ratings",
            "INSERT INTO governance_rating (id, score, rated_at, comment_id, complaint_id)"
            " SELECT %(r0)s + i, score, rated_at,"
            " CASE WHEN commented THEN %(note0)s + 2 * %(n)s + i END, %(c0)s + i"
            " FROM bench_r ORDER BY i",
        )

    def fill_privacy(self) -> None:
        requests = max(20, self.n // 1000)
        holds = max(5, self.n // 50_000)
        kinds = {"deletion": 60, "access": 40}
        channels = {"self_service": 60, "other": 40}
        self.sql(
            "privacy requests",
            "CREATE TEMP TABLE bench_p AS SELECT j,"  # noqa: S608
            f" {pick('random()', kinds)} AS kind, {pick('random()', channels)} AS channel,"
            f" {pick('random()', REQUEST_STATUS_WEIGHTS)} AS status,"
            " %(s0)s + floor(random() * %(subjects)s)::bigint AS subject_id,"
            " %(start)s::timestamptz + random() * (%(end)s::timestamptz - %(start)s::timestamptz)"
            " AS received_at, random() AS r_verify, random() AS r_close"
            " FROM generate_series(0, %(requests)s - 1) AS j",
            {"requests": requests},
        )
        answered = "p.status IN ('completed', 'refused')"
        verified = "p.status IN ('identity_verified', 'completed', 'on_hold')"
        self.sql(
            "privacy requests",
            "INSERT INTO privacy_privacyrequest (reference, kind, channel, status,"  # noqa: S608
            " lookup_digests, subjects, received_at, due_at, verified_at, closed_at,"
            " refusal_reason, legal_basis, receipt, requester_id, recorded_by_id,"
            " verified_by_id, closed_by_id)"
            " SELECT 'PRQ-B-' || lpad(p.j::text, 8, '0'), p.kind, p.channel, p.status, '[]',"
            " jsonb_build_array(s.pseudonym), p.received_at, p.received_at + interval '21 days',"
            f" CASE WHEN {verified} THEN p.received_at + p.r_verify * interval '3 days' END,"
            f" CASE WHEN {answered} THEN p.received_at + (3 + p.r_close * 17) * interval '1 day'"
            " END,"
            " CASE WHEN p.status = 'refused' THEN 'The identity could not be verified.'"
            " ELSE '' END, '', '',"
            " CASE WHEN p.channel = 'self_service' THEN %(complainant_user)s END,"
            " CASE WHEN p.channel = 'other' THEN %(privacy_officer)s END,"
            f" CASE WHEN {verified} THEN %(privacy_officer)s END,"
            f" CASE WHEN {answered} THEN %(privacy_officer)s END"
            " FROM bench_p p JOIN privacy_datasubject s ON s.id = p.subject_id ORDER BY p.j",
        )
        # Keys: live, destroyed by a completed deletion request, or (the old subjects)
        # destroyed by retention during the month.
        self.sql(
            "data keys",
            "INSERT INTO privacy_datakey (subject_id, kek_id, wrapped, created_at, destroyed_at,"
            " destroyed_for)"
            " SELECT s.id, 'bench', CASE WHEN gone.erased_at IS NULL"
            " AND s.id < %(s0)s + %(subjects)s THEN %(blob)s END, s.created_at,"
            " CASE WHEN s.id >= %(s0)s + %(subjects)s THEN %(start)s::timestamptz"
            " + random() * (%(end)s::timestamptz - %(start)s::timestamptz) ELSE gone.erased_at END,"
            " CASE WHEN s.id >= %(s0)s + %(subjects)s THEN 'retention'"
            " WHEN gone.erased_at IS NOT NULL THEN 'deletion_request' ELSE '' END"
            " FROM privacy_datasubject s LEFT JOIN (SELECT p.subject_id,"
            " MIN(r.closed_at) AS erased_at FROM bench_p p JOIN privacy_privacyrequest r"
            " ON r.reference = 'PRQ-B-' || lpad(p.j::text, 8, '0')"
            " WHERE r.kind = 'deletion' AND r.status = 'completed' GROUP BY p.subject_id) gone"
            " ON gone.subject_id = s.id WHERE s.id >= %(s0)s ORDER BY s.id",
        )
        self.sql(
            "legal holds",
            "INSERT INTO privacy_legalhold (subject_id, reason, review_on, placed_by_id,"
            " placed_at, released_by_id, released_at, release_reason)"
            " SELECT x.subject_id, 'Evidence for pending proceedings.', x.placed_at::date + 180,"
            " %(privacy_officer)s, x.placed_at,"
            " CASE WHEN x.r_release < 0.4 THEN %(privacy_officer)s END,"
            " CASE WHEN x.r_release < 0.4 THEN x.placed_at + x.r_when * interval '80 days' END,"
            " CASE WHEN x.r_release < 0.4 THEN 'The proceedings ended.' ELSE '' END"
            " FROM (SELECT %(s0)s + floor(random() * %(subjects)s)::bigint AS subject_id,"
            " %(start)s::timestamptz - random() * interval '60 days' AS placed_at,"
            " random() AS r_release, random() AS r_when FROM generate_series(1, %(holds)s)) x",
            {"holds": holds},
        )

    def finish(self) -> None:
        from django.db import connection

        start = time.perf_counter()
        with connection.cursor() as cursor:
            for table in (
                "privacy_datasubject",
                "privacy_personalnote",
                "governance_complaint",
                "governance_decision",
                "governance_appeal",
                "governance_rating",
            ):
                cursor.execute(
                    "SELECT setval(pg_get_serial_sequence(%s, 'id'),"  # noqa: S608 - our tables
                    f" (SELECT MAX(id) FROM {table}))",
                    [table],
                )
            cursor.execute("DROP TABLE bench_c, bench_a, bench_r, bench_p")
        self.seconds["ANALYZE"] = time.perf_counter() - start
        # The repeat flags complaint_file sets, set for the whole table in the one pass the
        # migration that added them uses for complaints filed before they existed.
        start = time.perf_counter()
        mark_repeats()
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        self.seconds["repeat flags, ANALYZE"] = time.perf_counter() - start


def mark_repeats() -> None:
    """Run the repeat-flag backfill of governance's migration 0004 over every complaint."""
    import importlib

    from django.db import connection

    migration = importlib.import_module(
        "governance.migrations.0004_complaint_repeats_and_report_indexes"
    )
    migration.mark_repeats_on(connection)


def check_deadlines(sample: int = 300) -> int:
    """Recompute the due times of `sample` complaints with governance.deadlines; return how
    many differ from what the fill wrote (there should be none)."""
    from governance import deadlines
    from governance.models import Complaint

    wrong = 0
    for c in Complaint.objects.order_by("?")[:sample]:
        expected = (
            deadlines.due_at(c.received_at, deadlines.acknowledge_target()),
            deadlines.due_at(c.received_at, deadlines.triage_target()),
            deadlines.due_at(c.received_at, deadlines.decision_target(c.priority)),
        )
        if expected != (c.acknowledge_due_at, c.triage_due_at, c.decision_due_at):
            wrong += 1
    return wrong


def describe_data() -> None:
    """Print how many rows of each kind the month holds."""
    from django.db import connection

    queries = {
        "complaints": "SELECT COUNT(*) FROM governance_complaint",
        "data subjects": "SELECT COUNT(*) FROM privacy_datasubject",
        "complainants": "SELECT COUNT(DISTINCT complainant_id) FROM governance_complaint",
        "about shared content": "SELECT COALESCE(SUM(n), 0) FROM (SELECT COUNT(*) AS n"
        " FROM governance_complaint WHERE content_id <> '' GROUP BY content_id"
        " HAVING COUNT(*) > 1) AS shared",
        "decisions": "SELECT COUNT(*) FROM governance_decision",
        "appeals": "SELECT COUNT(*) FROM governance_appeal",
        "ratings": "SELECT COUNT(*) FROM governance_rating",
        "notes": "SELECT COUNT(*) FROM privacy_personalnote",
        "privacy requests": "SELECT COUNT(*) FROM privacy_privacyrequest",
        "legal holds": "SELECT COUNT(*) FROM privacy_legalhold",
    }
    parts = []
    with connection.cursor() as cursor:
        for label, query in queries.items():
            cursor.execute(query)
            parts.append(f"{cursor.fetchone()[0]:,} {label}")
        cursor.execute(
            "SELECT pg_size_pretty(pg_total_relation_size('governance_complaint')),"
            " pg_size_pretty(pg_total_relation_size('governance_decision')),"
            " pg_size_pretty(pg_database_size(current_database()))"
        )
        sizes = cursor.fetchone()
    say("  " + ", ".join(parts[:5]) + ",")
    say("  " + ", ".join(parts[5:]))
    say(f"  sizes: complaints {sizes[0]}, decisions {sizes[1]}, database {sizes[2]}")


# --- the measuring child ------------------------------------------------------------------------


def sections(period: Any, as_of: datetime) -> list[tuple[str, Callable[[], Any]]]:
    """Each part of `period_figures`, called as it calls it, to time on its own."""
    from django.db.models import Q

    from audits import figures as fig
    from governance.models import Complaint, Decision
    from privacy.models import LegalHold

    start, end = period.bounds()
    complaints = Complaint.objects.filter(received_at__gte=start, received_at__lt=end)
    decisions = Decision.objects.filter(decided_at__gte=start, decided_at__lt=end)

    def holds() -> int:
        return (
            LegalHold.objects.filter(placed_at__lt=end)
            .filter(Q(released_at__isnull=True) | Q(released_at__gte=end))
            .count()
        )

    return [
        ("complaints", lambda: fig._complaints(complaints)),
        ("deadlines", lambda: fig._deadlines(complaints, as_of)),
        ("time_to_decision_hours", lambda: fig._time_to_decision(start, end)),
        ("decisions", lambda: fig._decisions(decisions)),
        ("appeals", lambda: fig._appeals(start, end, decisions)),
        ("satisfaction", lambda: fig._satisfaction(start, end)),
        ("privacy_requests", lambda: fig._privacy_requests(start, end)),
        ("erasures", lambda: fig._erasures(start, end)),
        ("legal_holds_open", holds),
        ("quality", lambda: fig._quality(period, start, end)),
        ("early_warning", lambda: fig._early_warning(period)),
    ]


def compute(period: Any, as_of: datetime) -> tuple[Any, float, float]:
    """Count and suppress the figures; return the published figures and both parts' seconds."""
    from audits import figures as fig
    from audits.reports import min_cell

    start = time.perf_counter()
    raw = fig.period_figures(period, as_of=as_of)
    counted = time.perf_counter() - start
    start = time.perf_counter()
    published = fig.suppress(raw, min_cell())
    return published, counted, time.perf_counter() - start


def _fmt(value: Any, spec: str = ",") -> str:
    """Format a published figure; a withheld one (None) shows as "*"."""
    return "*" if value is None else format(value, spec)


def digest(published: Any) -> list[str]:
    """A few of the published figures, to show the month looks like one."""
    f = published.figures
    deadlines = ", ".join(
        f"{stage} {_fmt(f['deadlines'][stage]['share_met'], '.1%')} met"
        for stage in ("acknowledge", "triage", "decide")
    )
    kinds = ", ".join(f"{k} {_fmt(v)}" for k, v in f["decisions"]["by_kind"].items())
    ttd, decisions, appeals = f["time_to_decision_hours"], f["decisions"], f["appeals"]
    repeats, ratings = f["repeat_complaints"], f["satisfaction"]
    requests = ", ".join(
        f"{kind} {_fmt(v['received'])} received/{_fmt(v['completed'])} completed"
        for kind, v in f["privacy_requests"].items()
    )
    erasures = ", ".join(f"{k} {_fmt(v)}" for k, v in f["erasures"].items())
    return [
        f"received {_fmt(f['complaints']['received'])}; {deadlines}",
        f"time to decision: median {_fmt(ttd['median'], '')} h, p90 {_fmt(ttd['p90'], '')} h "
        f"over {_fmt(ttd['decided'])} decided",
        f"decisions {_fmt(decisions['total'])} ({kinds}); automated detection "
        f"{_fmt(decisions['automated_detection_share'], '.1%')}",
        f"appeals filed {_fmt(appeals['filed'])}, decided {_fmt(appeals['decided'])}, "
        f"reversal rate {_fmt(appeals['reversal_rate'], '.1%')}",
        f"repeats {_fmt(repeats['total'])} (same complainant only "
        f"{_fmt(repeats['by_kind']['same_complainant_only'])}, same content only "
        f"{_fmt(repeats['by_kind']['same_content_only'])}, both "
        f"{_fmt(repeats['by_kind']['both'])}); ratings {_fmt(ratings['ratings'])}, "
        f"mean {_fmt(ratings['mean'], '')}",
        f"privacy requests: {requests}; erasures: {erasures}; holds open "
        f"{_fmt(f['legal_holds_open'])}",
        f"early-warning spikes {len(f['early_warning']['spikes'])}; cells withheld "
        f"{len(published.paths)}",
    ]


def measure(task: dict[str, Any]) -> dict[str, Any]:
    """In the child: time the compute twice, each section, and report_publish; trace memory."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from audits.figures import Period
    from audits.reports import report_publish

    period = Period.parse(task["period"])
    actor = get_user_model().objects.get(username=task["supervisor"])
    connection.ensure_connection()  # connecting is not the report's cost
    rss_before = maxrss_bytes()

    published, counted, suppressed = compute(period, timezone.now())
    cold = counted + suppressed
    say(
        f"  period_figures + suppress, first run: {cold:.2f} s (suppress {suppressed * 1e3:.1f} ms)"
    )
    for line in digest(published):
        say(f"    {line}")
    _published, counted, suppressed = compute(period, timezone.now())
    warm = counted + suppressed
    say(f"  period_figures + suppress, second run: {warm:.2f} s")

    say("  each section of period_figures on its own (warm):")
    parts: list[tuple[str, float]] = []
    as_of = timezone.now()
    for name, run in sections(period, as_of):
        start = time.perf_counter()
        try:
            run()
        except Exception as exc:  # a renamed section must not hide the others
            say(f"    {name:<24} could not be timed: {exc!r}")
            continue
        parts.append((name, time.perf_counter() - start))
    total = sum(seconds for _, seconds in parts)
    for name, seconds in sorted(parts, key=lambda p: -p[1]):
        say(f"    {name:<24} {seconds:7.3f} s  {seconds / total:6.1%}")
    say(f"    {'(sum)':<24} {total:7.3f} s")

    start = time.perf_counter()
    first = report_publish(actor=actor, period=period.label)
    publish = time.perf_counter() - start
    rss_after = maxrss_bytes()
    sizes = ", ".join(
        f"{name} {len(getattr(first, name)) / 1000:,.0f} kB"
        for name in ("document", "csv", "html_en", "html_zh_hans")
    )
    say(f"  report_publish: {publish:.2f} s (report {first.number}: {sizes})")

    tracemalloc.start()
    start = time.perf_counter()
    report_publish(
        actor=actor,
        period=period.label,
        supersedes=first.number,
        correction="Bench: the same month counted again, under tracemalloc.",
    )
    traced = time.perf_counter() - start
    _current, heap_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    say(f"  report_publish again, traced (a correction): {traced:.2f} s")
    return {
        "cold": cold,
        "warm": warm,
        "publish": publish,
        "sections": parts,
        "rss_before": rss_before,
        "rss_after": rss_after,
        "heap_peak": heap_peak,
    }


class MeasureChild:
    """A process that measures when told to, started while this one is still small."""

    def __init__(self, database_url: str) -> None:
        command = [sys.executable, str(Path(__file__).resolve()), "--measure-child"]
        # Our own interpreter running this very file: no untrusted input reaches the command.
        self.process = subprocess.Popen(  # noqa: S603
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "DATABASE_URL": database_url},
        )

    def run(self, task: dict[str, Any]) -> dict[str, Any]:
        """Hand the child its task; relay what it prints and return its figures."""
        assert self.process.stdin is not None  # noqa: S101 - Popen was given both pipes
        assert self.process.stdout is not None  # noqa: S101
        self.process.stdin.write(json.dumps(task) + "\n")
        self.process.stdin.close()
        result = None
        for line in self.process.stdout:  # relayed as it comes, so a long run shows progress
            if line.startswith(RESULT_PREFIX):
                result = json.loads(line.removeprefix(RESULT_PREFIX))
            else:
                say(line.rstrip("\n"))
        self.process.wait()
        if self.process.returncode != 0 or result is None:
            raise RuntimeError(f"the measuring child failed ({self.process.returncode})")
        return result

    def stop(self) -> None:
        """End the child if it is still waiting (the run failed before it was needed)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def child_main() -> int:
    """Wait for the parent's task, then measure; exit quietly if the parent gave up first."""
    line = sys.stdin.readline()
    if not line.strip():
        return 0
    setup_django(os.environ["DATABASE_URL"])
    with quiet_queries():
        result = measure(json.loads(line))
    say(RESULT_PREFIX + json.dumps(result))
    return 0


# --- explaining the slowest queries -------------------------------------------------------------


def explain_slowest(month: str, count: int) -> None:
    """Run period_figures once more, logging its queries; EXPLAIN ANALYZE the slowest."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from audits.figures import Period, period_figures

    with CaptureQueriesContext(connection) as captured:
        period_figures(Period.parse(month), as_of=timezone.now())
    queries = sorted(captured.captured_queries, key=lambda q: -float(q["time"]))
    total = sum(float(q["time"]) for q in queries)
    say(f"== the {count} slowest of period_figures' {len(queries)} queries ({total:.2f} s) ==")
    with connection.cursor() as cursor:
        for query in queries[:count]:
            say(f"--- {float(query['time']):.3f} s: {query['sql']}")
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + query["sql"])
            for (line,) in cursor.fetchall():
                say(f"    {line}")


# --- the run ------------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--complaints", type=int, default=1_000_000, help="complaints in the month")
    parser.add_argument("--seed", type=int, default=2026, help="seed of the generated month")
    parser.add_argument("--keep", action="store_true", help=f"keep the {BENCH_DB} database")
    parser.add_argument(
        "--explain",
        type=int,
        nargs="?",
        const=3,
        default=0,
        metavar="N",
        help="print EXPLAIN ANALYZE of period_figures' N slowest queries (3 if no N)",
    )
    parser.add_argument("--measure-child", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def fill_month(args: argparse.Namespace, month: str) -> Cast:
    from audits.figures import Period

    say(f"== 1. filling {month} with {args.complaints:,} complaints ==")
    cast = Cast(Period.parse(month).start)
    filler = Filler(cast, month, args.complaints, args.seed)
    seconds = filler.run()
    steps = ", ".join(f"{label} {s:.1f} s" for label, s in filler.seconds.items())
    say(f"  filled in {seconds:.1f} s ({steps})")
    settle()
    describe_data()
    wrong = check_deadlines()
    say(f"  due times of 300 random complaints recomputed by governance.deadlines: {wrong} differ")
    if wrong:
        raise RuntimeError("the fill's deadlines differ from the service's")
    return cast


def figures_of(result: dict[str, Any]) -> list[Figure]:
    growth = (result["rss_after"] - result["rss_before"]) / MB
    say(
        f"  memory: peak RSS of the measuring process {result['rss_after'] / MB:.1f} MB, "
        f"{growth:.1f} MB of it gained computing and publishing (Django loaded: "
        f"{result['rss_before'] / MB:.1f} MB); tracemalloc heap peak of report_publish "
        f"{result['heap_peak'] / MB:.1f} MB"
    )
    goal = REPORT_GOAL_SECONDS
    return [
        Figure("period_figures + suppress, first run", result["cold"], "s", goal, False),
        Figure("period_figures + suppress, second run", result["warm"], "s", goal, False),
        Figure("report_publish", result["publish"], "s", goal, False),
        Figure("report maxrss growth", growth, "MB", MEMORY_GOAL_MB, False),
        Figure(
            "report heap peak (tracemalloc)", result["heap_peak"] / MB, "MB", MEMORY_GOAL_MB, False
        ),
    ]


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.measure_child:
        return child_main()
    server_url = bench_server_url()
    if args.complaints < 1000:
        raise SystemExit("--complaints must be at least 1,000")
    started = time.perf_counter()
    child = MeasureChild(bench_url(server_url))
    try:
        recreate_database(server_url)
        setup_django(bench_url(server_url))
        migrate()
        say(f"database {BENCH_DB} created and migrated")
        from django.conf import settings
        from django.utils import timezone

        today = timezone.now().astimezone(ZoneInfo(settings.OMBUD_BUSINESS_TIME_ZONE)).date()
        month = report_month(today)
        with quiet_queries():
            cast = fill_month(args, month)
        say(f"== 2-3. the report of {month}, in a fresh process ==")
        result = child.run({"period": month, "supervisor": cast.supervisor.username})
        figures = figures_of(result)
        if args.explain:
            explain_slowest(month, args.explain)
    finally:
        child.stop()
        keep_or_drop(server_url, keep=args.keep)
    print_summary(figures, time.perf_counter() - started)
    return 0 if all(f.passed for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
