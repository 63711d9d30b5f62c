"""Fill a PostgreSQL database with a million complaints and their decisions, valid throughout.

A script, not a test; see bench/README.md. It creates its own database `ombud_bench_load` on the
server named by DATABASE_URL (so it can run beside the other benches), migrates it, makes the
people and policy clauses through the services, and then writes --complaints complaints in bulk:
every row the services would have left, computed in Python and streamed with COPY, one
connection per table so that PostgreSQL ingests while Python computes:

- per complaint, a data subject recorded by staff intake (phone, email, ...), its wrapped data
  key (AES-256-GCM under the bench KEK), encrypted name and email (real encryption, one key per
  subject), its email lookup digest and history row; the encrypted description note and its
  history row; the complaint, with a history row for each save;
- the lifecycle as the services walk it: acknowledge, triage, assign (an assignment and its
  history), investigate, decide (the decision row); one transition row per status change;
- the ledger entries in the order and with the bodies the services append them
  (`subject.created`, `complaint.received`, `complaint.transitioned` for every transition,
  `complaint.triaged`, `complaint.assigned`, `decision.recorded`), hashed in Python.

Events of all complaints are merged by time, so ids, history ids and ledger sequence numbers
grow with time as they do in a running system. The newest complaints are left open: --undecided
of them "investigating" in the moderation department, assigned round robin to its 16 handlers
(bench/api.py records decisions on them), and about 1% more at every earlier open stage.

Then the ledger is sealed (a signed checkpoint, Merkle tiles), `verify_ledger` checks the whole
ledger against its checkpoints and every decision and transition row, and a spot check compares
--spot random complaints with their ledger entries and opens their encrypted description.
The fill and the seal are held to the goal (under 10 minutes at a million complaints).
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import json
import os
import random
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import ledger

ledger.BENCH_DB = "ombud_bench_load"  # read by bench_url, recreate_database, drop_database

from ledger import (  # noqa: E402 - after the database name is set, for clarity
    BENCH_KEKS,
    Figure,
    bench_server_url,
    bench_url,
    keep_or_drop,
    migrate,
    print_summary,
    quiet_queries,
    recreate_database,
    say,
    settle,
    setup_django,
)

BENCH_DB = ledger.BENCH_DB
FILL_GOAL_SECONDS = 600
MODERATION_HANDLERS = 16  # one per client of bench/api.py
OTHER_HANDLERS = 2
DAYS = 365  # the complaints are received over the year before the fill
CHUNK = 20_000  # complaints between commits (deferred foreign-key checks queue until commit)
OPEN_SHARE = 0.01
REPLICA = (
    os.environ.get("LOAD_REPLICA") == "1"
)  # besides --undecided, complaints still open at some earlier stage

# The reasons the services record (English, the bench process's language).
R_RECEIVED = "Complaint received"
R_ACK = "Receipt acknowledged"
R_TRIAGED = "Triaged"
R_ASSIGNED = "Assigned"
R_INVESTIGATING = "Investigation started"
R_DECIDED = "Decision recorded"

CHANNELS = ("phone", "email", "regulator_referral", "social_media", "web_form")
DESCRIPTIONS = (
    "Someone keeps insulting me in the comments under my videos.",
    "This live stream sells fake branded goods and the seller ignores messages.",
    "A video uses my music without permission; I hold the rights.",
    "An account posts my photos and my home address.",
    "The advert in this video is not marked as advertising.",
)
DECISIONS = (
    (
        "upheld",
        '["content_removed"]',
        "The comments insult the complainant by name.",
        "Insults break clause TOS-3.1; the comments are removed.",
    ),
    (
        "partially_upheld",
        '["content_labelled"]',
        "The video shows the product without saying it is paid for.",
        "Hidden advertising breaks the clause applied; the video is labelled.",
    ),
    (
        "rejected",
        '["none"]',
        "The content does not name or show the complainant.",
        "Nothing in the content breaks the clause applied.",
    ),
)
ACTIONS_LIST = [[a.strip('[]"')] for _o, a, _f, _r in DECISIONS]  # the same, as lists


# --- the people -----------------------------------------------------------------------------------


@dataclass
class Team:
    """The staff of one department: who takes its complaints in turn, and its lead."""

    department_id: int
    code: str
    handlers: list[Any]
    lead: Any
    next: int = 0

    def take(self) -> Any:
        handler = self.handlers[self.next % len(self.handlers)]
        self.next += 1
        return handler


@dataclass
class Cast:
    """Everyone the fill needs, made through the services, with their actor references."""

    teams: dict[int, Team]
    clause: Any
    compliance: Any
    refs: dict[int, str] = field(default_factory=dict)


def make_cast(start: datetime) -> Cast:
    """Create the staff of every department, a compliance officer and the clause applied."""
    from django.contrib.auth import get_user_model

    from governance import services
    from governance.models import Department
    from privacy.pseudonyms import actor_ref

    user_model = get_user_model()
    # The bootstrap superuser is made directly, as in the tests: someone has to grant roles.
    root = user_model.objects.create_user(username="load-root", is_superuser=True, is_staff=True)

    def person(username: str, role: str, department: Any = None) -> Any:
        user = user_model.objects.create_user(
            username=username, email=f"{username}@example.test", first_name="Load"
        )
        services.role_grant(actor=root, user=user, role=role, department=department, now=start)
        return user

    teams = {}
    for department in Department.objects.order_by("id"):
        count = MODERATION_HANDLERS if department.code == "moderation" else OTHER_HANDLERS
        handlers = [
            person(f"load-handler-{department.code}-{n:02d}", "handler", department)
            for n in range(count)
        ]
        lead = person(f"load-lead-{department.code}", "department_lead", department)
        teams[department.pk] = Team(department.pk, department.code, handlers, lead)
    clause = services.policy_clause_publish(
        actor=root,
        code="TOS-3.1",
        title="Clause TOS-3.1",
        text="Do not harass, deceive or expose other people.",
        effective_from=(start - timedelta(days=1)).date(),
        now=start,
    )
    cast = Cast(
        teams=teams, clause=clause, compliance=person("load-compliance", "compliance_officer")
    )
    for team in teams.values():
        for user in [*team.handlers, team.lead]:
            cast.refs[user.pk] = actor_ref(user)
    return cast


# --- the writers ----------------------------------------------------------------------------------

# Tables in the order their rows may be committed: a row's foreign keys point to earlier tables.
TABLES: dict[str, tuple[str, ...]] = {
    "privacy_datasubject": (
        "id",
        "pseudonym",
        "kind",
        "user_id",
        "full_name_ct",
        "email_ct",
        "phone_ct",
        "account_handle_ct",
        "ip_address_ct",
        "created_at",
    ),
    "privacy_datakey": ("subject_id", "kek_id", "wrapped", "created_at", "destroyed_for"),
    "privacy_subjectlookup": ("subject_id", "field", "digest"),
    "privacy_personalnote": ("id", "uid", "subject_id", "kind", "text_ct", "created_at"),
    "governance_complaint": (
        "id",
        "reference",
        "channel",
        "category_id",
        "department_id",
        "severity",
        "urgency",
        "priority",
        "status",
        "content_url",
        "content_id",
        "repeats_complainant",
        "repeats_content",
        "complainant_id",
        "affected_subject_id",
        "description_id",
        "assignee_id",
        "received_at",
        "acknowledged_at",
        "triaged_at",
        "decided_at",
        "closed_at",
        "acknowledge_due_at",
        "triage_due_at",
        "decision_due_at",
        "updated_at",
    ),
    "governance_complainttransition": (
        "id",
        "complaint_id",
        "from_status",
        "to_status",
        "actor_id",
        "actor_ref",
        "reason",
        "at",
    ),
    "governance_assignment": (
        "id",
        "complaint_id",
        "assignee_id",
        "assigned_by_id",
        "assigned_at",
        "reason",
    ),
    "governance_decision": (
        "id",
        "complaint_id",
        "kind",
        "outcome",
        "actions",
        "ground",
        "ground_reference",
        "policy_clause_id",
        "facts",
        "reasons",
        "automated_detection",
        "automated_decision",
        "territorial_scope",
        "decided_by_id",
        "decided_at",
        "appeal_outcome",
    ),
    "privacy_historicaldatasubject": (
        "id",
        "pseudonym",
        "kind",
        "full_name_ct",
        "email_ct",
        "created_at",
        "history_id",
        "history_date",
        "history_type",
        "history_user_id",
    ),
    "privacy_historicalpersonalnote": (
        "id",
        "uid",
        "kind",
        "text_ct",
        "created_at",
        "subject_id",
        "history_id",
        "history_date",
        "history_type",
        "history_user_id",
    ),
    "governance_historicalcomplaint": (
        "id",
        "reference",
        "channel",
        "severity",
        "urgency",
        "priority",
        "status",
        "content_url",
        "content_id",
        "repeats_complainant",
        "repeats_content",
        "received_at",
        "acknowledged_at",
        "triaged_at",
        "decided_at",
        "closed_at",
        "acknowledge_due_at",
        "triage_due_at",
        "decision_due_at",
        "updated_at",
        "category_id",
        "department_id",
        "complainant_id",
        "affected_subject_id",
        "description_id",
        "assignee_id",
        "history_id",
        "history_date",
        "history_change_reason",
        "history_type",
        "history_user_id",
    ),
    "governance_historicalassignment": (
        "id",
        "assigned_at",
        "reason",
        "complaint_id",
        "assignee_id",
        "assigned_by_id",
        "history_id",
        "history_date",
        "history_change_reason",
        "history_type",
        "history_user_id",
    ),
    "audits_ledgerentry": (
        "seq",
        "recorded_at",
        "event_type",
        "object_ref",
        "actor_ref",
        "body",
        "leaf_hash",
    ),
}
# The id column of each table whose ids the fill hands out (their sequences are moved on after).
ID_COLUMNS = {
    "privacy_datasubject": "id",
    "privacy_subjectlookup": "id",
    "privacy_personalnote": "id",
    "governance_complaint": "id",
    "governance_complainttransition": "id",
    "governance_assignment": "id",
    "governance_decision": "id",
    "privacy_historicaldatasubject": "history_id",
    "privacy_historicalpersonalnote": "history_id",
    "governance_historicalcomplaint": "history_id",
    "governance_historicalassignment": "history_id",
}


class Sinks:
    """One connection per table, each with a COPY open, so the server ingests in parallel.

    Every `commit` ends each COPY and commits the tables in the order of TABLES (parents first:
    the foreign keys are checked at commit), then opens new COPYs.
    """

    def __init__(self, url: str) -> None:
        import psycopg

        self.conns = {table: psycopg.connect(url) for table in TABLES}
        for conn in self.conns.values():
            # Nothing waits on these commits; a crash loses the fill, which is rerun anyway.
            conn.execute("SET synchronous_commit = off")
        self.write: dict[str, Callable[[tuple[Any, ...]], None]] = {}
        self._open()

    def _open(self) -> None:
        self.copies: dict[str, Any] = {}
        self.managers: dict[str, Any] = {}
        for table, columns in TABLES.items():
            cursor = self.conns[table].cursor()
            manager = cursor.copy(
                f"COPY {table} ({', '.join(columns)}) FROM STDIN"  # our own constants
            )
            self.managers[table] = manager
            self.copies[table] = manager.__enter__()
        # Updated in place: the filler holds on to this dict across commits.
        self.write.update({table: copy.write_row for table, copy in self.copies.items()})

    def commit(self, reopen: bool = True) -> None:
        for table in TABLES:
            self.managers[table].__exit__(None, None, None)
        for table in TABLES:
            self.conns[table].commit()
        if reopen:
            self._open()

    def close(self) -> None:
        self.commit(reopen=False)
        for conn in self.conns.values():
            conn.close()


# --- the complaints -------------------------------------------------------------------------------

FILE, ACK, TRIAGE, ASSIGN, INVESTIGATE, DECIDE = range(6)
STATUS_AFTER = ("received", "acknowledged", "triaged", "assigned", "investigating", "decided")


class Case:
    """One complaint being written: its fixed facts and the state it has reached so far."""

    __slots__ = (
        "ack_due",
        "assignee",
        "category",
        "channel",
        "content_url",
        "decision",
        "decision_due",
        "department",
        "description",
        "id",
        "lead",
        "note_id",
        "note_uid",
        "priority",
        "received",
        "ref",
        "severity",
        "stamps",
        "status",
        "steps",
        "subject_id",
        "triage_due",
        "updated",
        "worker",
    )


class Filler:
    """Computes every row of --complaints complaints and streams them to the sinks."""

    def __init__(self, cast: Cast, args: argparse.Namespace, end: datetime) -> None:
        from django.conf import settings
        from django.db import connection

        from governance import deadlines
        from governance.choices import PRIORITY_MATRIX, Severity, Urgency
        from governance.models import Category
        from privacy import keys

        self.cast = cast
        self.n = args.complaints
        self.undecided = min(args.undecided, self.n)
        self.open_other = int(self.n * OPEN_SHARE)
        self.rng = random.Random(args.seed)  # noqa: S311 - synthetic data, nothing secret
        self.end = end
        self.start = end - timedelta(days=DAYS)
        self.keys = keys
        self.ring = keys.keyring()
        self.kek_id = self.ring.newest_id
        self.deadlines = deadlines
        self.zone = settings.OMBUD_BUSINESS_TIME_ZONE
        self.categories = [
            (c.pk, c.code, c.default_department_id, c.default_severity)
            for c in Category.objects.order_by("id")
        ]
        self.moderation_categories = [
            c for c in self.categories if cast.teams[c[2]].code == "moderation"
        ]
        self.department_codes = {t.department_id: t.code for t in cast.teams.values()}
        self.category_codes = {c[0]: c[1] for c in self.categories}
        self.priority = {
            (s, u): str(PRIORITY_MATRIX[Severity(s)][Urgency(u)])
            for s in Severity.values
            for u in Urgency.values
        }
        self.targets = {
            "ack": deadlines.acknowledge_target(),
            "triage": deadlines.triage_target(),
            **{p: deadlines.decision_target(p) for p in ("P1", "P2", "P3", "P4")},
        }
        clause = cast.clause
        self.clause = {"code": clause.code, "version": clause.version}
        self.clause_id = clause.pk
        sha = self.sha256_hex
        self.decision_shas = [(sha(facts), sha(reasons)) for _o, _a, facts, reasons in DECISIONS]
        self.reason_sha = {r: sha(r) for r in (R_ACK, R_TRIAGED, R_ASSIGNED, R_INVESTIGATING)}
        self.reason_sha[R_DECIDED] = sha(R_DECIDED)
        self.next_id: dict[str, int] = {}
        with connection.cursor() as cursor:
            for table, column in ID_COLUMNS.items():
                cursor.execute(f"SELECT COALESCE(MAX({column}), 0) + 1 FROM {table}")  # noqa: S608
                self.next_id[table] = cursor.fetchone()[0]
            cursor.execute("SELECT COALESCE(MAX(seq), -1) + 1 FROM audits_ledgerentry")
            self.seq = cursor.fetchone()[0]
        self.references: dict[int, int] = {}
        self.heap: list[tuple[datetime, int, int, Case]] = []
        self.pushed = 0
        self.entries = 0
        self.decided = 0
        from audits.services import canonical_json

        self.canonical_json = canonical_json

    @staticmethod
    def sha256_hex(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def take_id(self, table: str) -> int:
        value = self.next_id[table]
        self.next_id[table] = value + 1
        return value

    # --- ledger
    def append(self, at: datetime, event_type: str, ref: str, actor: str, data: Any) -> None:
        """Write one ledger entry exactly as `ledger_append` builds it."""
        seq = self.seq
        self.seq += 1
        body = self.canonical_json(
            {
                "seq": seq,
                "at": at.isoformat(),
                "type": event_type,
                "ref": ref,
                "actor": actor,
                "data": data,
            }
        )
        self.write["audits_ledgerentry"](
            (
                seq,
                at,
                event_type,
                ref,
                actor,
                body.decode("utf-8"),
                hashlib.sha256(b"\x00" + body).hexdigest(),
            )
        )
        self.entries += 1

    # --- planning one complaint
    def plan(self, index: int) -> Case:
        """Draw complaint `index` (received in order over the year) and its lifecycle."""
        rng = self.rng
        case = Case()
        received = self.start + timedelta(seconds=(index + rng.random()) * DAYS * 86400 / self.n)
        received = received.replace(microsecond=rng.randrange(1_000_000))
        case.received = received
        left = self.n - index
        if left <= self.undecided:
            category = rng.choice(self.moderation_categories)
            last = INVESTIGATE
        elif left <= self.undecided + self.open_other:
            category = rng.choice(self.categories)
            last = rng.randrange(INVESTIGATE + 1)
        else:
            category = rng.choice(self.categories)
            last = DECIDE
        case.category, _code, case.department, case.severity = category
        team = self.cast.teams[case.department]
        case.worker = team.take()
        case.lead = team.lead
        case.priority = self.priority[(case.severity, "normal")]
        case.channel = CHANNELS[index % len(CHANNELS)]
        case.content_url = f"https://video.example.com/v/load-{index}"
        case.description = DESCRIPTIONS[index % len(DESCRIPTIONS)]
        year = self.deadlines.business_date(received).year
        number = self.references.get(year, 0) + 1
        self.references[year] = number
        case.ref = f"CMP-{year}-{number:06d}"
        case.id = self.take_id("governance_complaint")
        due = self.deadlines.due_at
        case.ack_due = due(received, self.targets["ack"])
        case.triage_due = due(received, self.targets["triage"])
        case.decision_due = due(received, self.targets[case.priority])
        case.decision = index % len(DECISIONS)
        # Step times: mostly within the deadlines, squeezed to end before the fill's `end`.
        gaps = [
            rng.uniform(0.05, 20) * 3600,
            rng.uniform(0.1, 30) * 3600,
            rng.uniform(0.1, 12) * 3600,
            rng.uniform(0.05, 6) * 3600,
            rng.uniform(1, 96) * 3600,
        ][:last]
        room = (self.end - received).total_seconds() * 0.9
        scale = min(1.0, room / sum(gaps)) if gaps else 1.0
        moment, steps = received, [received]
        for gap in gaps:
            moment = moment + timedelta(seconds=gap * scale)
            steps.append(moment.replace(microsecond=rng.randrange(1_000_000)))
        for i in range(1, len(steps)):  # keep the order after dropping the microseconds
            if steps[i] <= steps[i - 1]:
                steps[i] = steps[i - 1] + timedelta(microseconds=1)
        case.steps = steps
        case.status = "received"
        case.stamps = [None, None, None]  # acknowledged, triaged, decided
        case.assignee = None
        case.updated = received
        for step, at in enumerate(steps):
            heapq.heappush(self.heap, (at, self.pushed, step, case))
            self.pushed += 1
        return case

    # --- writing one step
    def final_row(self, case: Case) -> tuple[Any, ...]:
        """Return the complaint row as its last step leaves it (all steps are drawn up front)."""
        steps = case.steps
        last = len(steps) - 1
        return (
            case.id,
            case.ref,
            case.channel,
            case.category,
            case.department,
            case.severity,
            "normal",
            case.priority,
            STATUS_AFTER[last],
            case.content_url,
            "",
            False,
            False,
            case.subject_id,
            None,
            case.note_id,
            case.worker.pk if last >= ASSIGN else None,
            case.received,
            steps[ACK] if last >= ACK else None,
            steps[TRIAGE] if last >= TRIAGE else None,
            steps[DECIDE] if last >= DECIDE else None,
            None,
            case.ack_due,
            case.triage_due,
            case.decision_due,
            steps[last],
        )

    def history(self, case: Case, at: datetime, reason: str, kind: str, user: Any) -> None:
        """Write the history row simple-history writes when the service saves the complaint."""
        ack, tri, dec = case.stamps
        self.write["governance_historicalcomplaint"](
            (
                case.id,
                case.ref,
                case.channel,
                case.severity,
                "normal",
                case.priority,
                case.status,
                case.content_url,
                "",
                False,
                False,
                case.received,
                ack,
                tri,
                dec,
                None,
                case.ack_due,
                case.triage_due,
                case.decision_due,
                case.updated,
                case.category,
                case.department,
                case.subject_id,
                None,
                case.note_id,
                case.assignee.pk if case.assignee is not None else None,
                self.take_id("governance_historicalcomplaint"),
                at,
                reason,
                kind,
                user.pk,
            )
        )

    def transition(self, case: Case, to_status: str, actor: Any, reason: str, at: datetime) -> None:
        transition_id = self.take_id("governance_complainttransition")
        ref = self.cast.refs[actor.pk]
        self.write["governance_complainttransition"](
            (transition_id, case.id, case.status, to_status, actor.pk, ref, reason, at)
        )
        data = {
            "transition": transition_id,
            "from": case.status,
            "to": to_status,
            "reason_sha256": self.reason_sha[reason],
        }
        case.status = to_status
        case.updated = at
        self.append(at, "complaint.transitioned", f"complaint:{case.ref}", ref, data)

    def file(self, case: Case, at: datetime) -> None:
        keys, rng, write = self.keys, self.rng, self.write
        actor = case.worker
        actor_ref = self.cast.refs[actor.pk]
        subject_id = self.take_id("privacy_datasubject")
        pseudonym = f"S-{rng.getrandbits(64):016X}"
        record = f"subject:{pseudonym}"
        data_key = os.urandom(32)
        name = f"Person {case.id}"
        email = f"person{case.id}@example.test"
        name_ct = keys.encrypt(data_key, record, "full_name", name)
        email_ct = keys.encrypt(data_key, record, "email", email)
        write["privacy_datasubject"](
            (subject_id, pseudonym, "complainant", None, name_ct, email_ct, None, None, None, at)
        )
        write["privacy_historicaldatasubject"](
            (
                subject_id,
                pseudonym,
                "complainant",
                name_ct,
                email_ct,
                at,
                self.take_id("privacy_historicaldatasubject"),
                at,
                "+",
                actor.pk,
            )
        )
        kek_id, wrapped = keys.wrap(data_key, pseudonym, self.ring)
        write["privacy_datakey"]((subject_id, kek_id, wrapped, at, ""))
        write["privacy_subjectlookup"]((subject_id, "email", keys.lookup_digest("email", email)))
        self.append(
            at,
            "subject.created",
            record,
            actor_ref,
            {"kind": "complainant", "has_account": False},
        )
        note_id = self.take_id("privacy_personalnote")
        uid = uuid.UUID(int=rng.getrandbits(128), version=4)
        text_ct = keys.encrypt(data_key, f"note:{uid}", "text", case.description)
        write["privacy_personalnote"](
            (note_id, uid, subject_id, "complaint_description", text_ct, at)
        )
        write["privacy_historicalpersonalnote"](
            (
                note_id,
                uid,
                "complaint_description",
                text_ct,
                at,
                subject_id,
                self.take_id("privacy_historicalpersonalnote"),
                at,
                "+",
                actor.pk,
            )
        )
        case.subject_id, case.note_id, case.note_uid = subject_id, note_id, uid
        # The row in its final state now, so every later row that points at it finds it.
        write["governance_complaint"](self.final_row(case))
        self.history(case, at, R_RECEIVED, "+", actor)
        cat_code = self.category_codes[case.category]
        self.append(
            at,
            "complaint.received",
            f"complaint:{case.ref}",
            actor_ref,
            {
                "channel": case.channel,
                "category": cat_code,
                "department": self.department_codes[case.department],
                "priority": case.priority,
                "complainant": pseudonym,
                "affected_subject": None,
                "description_ref": f"note:{note_id}",
                "content_sha256": self.sha256_hex(f"{case.content_url}|"),
            },
        )

    def step(self, at: datetime, step: int, case: Case) -> None:
        """Write what the service of `step` writes, at `at`."""
        actor = case.worker
        ref = f"complaint:{case.ref}"
        if step == FILE:
            self.file(case, at)
        elif step == ACK:
            self.transition(case, "acknowledged", actor, R_ACK, at)
            case.stamps[0] = at
            self.history(case, at, R_ACK, "~", actor)
        elif step == TRIAGE:
            self.transition(case, "triaged", actor, R_TRIAGED, at)
            case.stamps[1] = at
            self.history(case, at, R_TRIAGED, "~", actor)
            cat_code = self.category_codes[case.category]
            self.append(
                at,
                "complaint.triaged",
                ref,
                self.cast.refs[actor.pk],
                {
                    "category": cat_code,
                    "department": self.department_codes[case.department],
                    "severity": case.severity,
                    "urgency": "normal",
                    "priority": case.priority,
                    "decision_due_at": case.decision_due.isoformat(),
                },
            )
        elif step == ASSIGN:
            lead = case.lead
            self.transition(case, "assigned", lead, R_ASSIGNED, at)
            assignment_id = self.take_id("governance_assignment")
            self.write["governance_assignment"](
                (assignment_id, case.id, actor.pk, lead.pk, at, R_ASSIGNED)
            )
            self.write["governance_historicalassignment"](
                (
                    assignment_id,
                    at,
                    R_ASSIGNED,
                    case.id,
                    actor.pk,
                    lead.pk,
                    self.take_id("governance_historicalassignment"),
                    at,
                    R_ASSIGNED,
                    "+",
                    lead.pk,
                )
            )
            case.assignee = actor
            case.updated = at
            self.history(case, at, R_ASSIGNED, "~", lead)
            self.append(
                at,
                "complaint.assigned",
                ref,
                self.cast.refs[lead.pk],
                {"assignee": self.cast.refs[actor.pk], "reassigned": False},
            )
        elif step == INVESTIGATE:
            self.transition(case, "investigating", actor, R_INVESTIGATING, at)
            self.history(case, at, R_INVESTIGATING, "~", actor)
        else:
            self.decide(case, at)

    def decide(self, case: Case, at: datetime) -> None:
        actor = case.worker
        decision_id = self.take_id("governance_decision")
        outcome, actions, facts, reasons = DECISIONS[case.decision]
        self.write["governance_decision"](
            (
                decision_id,
                case.id,
                "initial",
                outcome,
                actions,
                "terms_of_service",
                "",
                self.clause_id,
                facts,
                reasons,
                False,
                "not_automated",
                "[]",
                actor.pk,
                at,
                "",
            )
        )
        self.transition(case, "decided", actor, R_DECIDED, at)
        case.stamps[2] = at
        self.history(case, at, R_DECIDED, "~", actor)
        facts_sha, reasons_sha = self.decision_shas[case.decision]
        self.append(
            at,
            "decision.recorded",
            f"decision:{decision_id}",
            self.cast.refs[actor.pk],
            {
                "complaint": case.ref,
                "kind": "initial",
                "outcome": outcome,
                "actions": ACTIONS_LIST[case.decision],
                "ground": "terms_of_service",
                "ground_reference": "",
                "policy_clause": self.clause,
                "facts_sha256": facts_sha,
                "reasons_sha256": reasons_sha,
                "automated_detection": False,
                "automated_decision": "not_automated",
                "territorial_scope": [],
                "restriction_end": None,
                "supersedes": None,
                "appeal": None,
                "appeal_outcome": None,
            },
        )
        self.decided += 1

    # --- the run
    def run(self, sinks: Sinks, progress: Callable[[int], None]) -> None:
        self.write = sinks.write
        heap = self.heap
        for index in range(self.n):
            case = self.plan(index)
            # Everything that happened before this complaint arrived is written first.
            while heap and heap[0][0] < case.received:
                at, _order, step, item = heapq.heappop(heap)
                self.step(at, step, item)
            if (index + 1) % CHUNK == 0:
                sinks.commit()
                progress(index + 1)
        while heap:
            at, _order, step, item = heapq.heappop(heap)
            self.step(at, step, item)
        sinks.commit()
        progress(self.n)


# --- after the fill -------------------------------------------------------------------------------


def finish_fill(filler: Filler) -> None:
    """Move every id sequence past the ids written, set the reference counters, ANALYZE."""
    from django.db import connection

    from governance.models import ReferenceCounter

    with connection.cursor() as cursor:
        for table, column in ID_COLUMNS.items():
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence(%s, %s), %s, false)",
                [table, column, filler.next_id[table]],
            )
        for year, last in filler.references.items():
            ReferenceCounter.objects.update_or_create(year=year, defaults={"last": last})
        cursor.execute("ANALYZE")


def spot_check(count: int, seed: int) -> int:
    """Compare `count` random complaints with their ledger entries; open their descriptions.

    Checks what verify_ledger does not: the received, triaged and assigned entries against the
    complaint row, one transition entry per transition row in order, one history row per save,
    and that the description decrypts under the subject's own key. Returns the entries checked.
    """
    from django.db.models import Q

    from audits.models import LedgerEntry
    from governance.models import Complaint
    from governance.services.decisions import decision_ledger_data
    from governance.services.recording import sha256_hex, transition_ledger_data
    from privacy import keys
    from privacy.pseudonyms import actor_ref

    rng = random.Random(seed)  # noqa: S311 - picks complaints to check, nothing secret
    last_id = Complaint.objects.order_by("-id").values_list("id", flat=True).first()
    first_id = Complaint.objects.order_by("id").values_list("id", flat=True).first()
    checked = 0
    for complaint_id in rng.sample(range(first_id, last_id + 1), count):
        c = Complaint.objects.select_related(
            "category", "department", "complainant", "description", "assignee"
        ).get(pk=complaint_id)
        decisions = list(c.decisions.select_related("policy_clause", "decided_by", "complaint"))
        refs = [f"complaint:{c.reference}"] + [f"decision:{d.pk}" for d in decisions]
        entries = [
            (e.event_type, json.loads(e.body))
            for e in LedgerEntry.objects.filter(
                Q(object_ref__in=refs) | Q(object_ref=f"subject:{c.complainant.pseudonym}")
            ).order_by("seq")
        ]
        kinds = [kind for kind, _doc in entries]
        transitions = list(c.transitions.order_by("id"))
        saves = c.history.count()
        problem = None
        received = dict(entries[1][1]["data"]) if len(entries) > 1 else {}
        want_received = {
            "channel": c.channel,
            "category": c.category.code,
            "department": c.department.code,
            "priority": c.priority,
            "complainant": c.complainant.pseudonym,
            "affected_subject": None,
            "description_ref": f"note:{c.description_id}",
            "content_sha256": sha256_hex(f"{c.content_url}|{c.content_id}"),
        }
        moved = [e for kind, e in entries if kind == "complaint.transitioned"]
        if kinds[:2] != ["subject.created", "complaint.received"]:
            problem = f"first entries are {kinds[:2]}"
        elif received != want_received:
            problem = "complaint.received differs from the row"
        elif [e["data"] for e in moved] != [transition_ledger_data(t) for t in transitions]:
            problem = "transition entries differ from the transition rows"
        elif [e["at"] for e in moved] != [t.at.isoformat() for t in transitions]:
            problem = "transition times differ"
        elif saves != len(transitions) + 1:
            problem = f"{saves} history rows for {len(transitions)} transitions"
        elif [t.to_status for t in transitions][-1:] != ([c.status] if transitions else []):
            problem = "the last transition is not the complaint's status"
        for d in decisions:
            doc = next((e for kind, e in entries if e["ref"] == f"decision:{d.pk}"), None)
            if doc is None or doc["data"] != decision_ledger_data(d):
                problem = f"decision {d.pk} differs from its entry"
            elif doc["actor"] != actor_ref(d.decided_by):
                problem = f"decision {d.pk} actor differs"
        if c.assignee is not None:
            assigned = next(e for kind, e in entries if kind == "complaint.assigned")
            if assigned["data"]["assignee"] != actor_ref(c.assignee):
                problem = "complaint.assigned names another assignee"
        key = c.complainant.data_key
        data_key = keys.unwrap(key.kek_id, bytes(key.wrapped), c.complainant.pseudonym)
        text = keys.decrypt(data_key, c.description.record, "text", bytes(c.description.text_ct))
        if text not in DESCRIPTIONS:
            problem = "the description does not decrypt to what was written"
        if problem is not None:
            raise RuntimeError(f"spot check of {c.reference}: {problem}")
        checked += len(entries)
    return checked


def counts() -> dict[str, int]:
    """Return the rows of every table the fill writes (planner estimates would be quicker, but
    an exact count is the check that nothing was lost)."""
    from django.db import connection

    result = {}
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - our own constants
            result[table] = cursor.fetchone()[0]
    return result


def database_size() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        return int(cursor.fetchone()[0])


# --- the run --------------------------------------------------------------------------------------


def fill(args: argparse.Namespace, url: str) -> list[Figure]:
    """Make the cast, fill, seal, verify and spot-check; print and return the figures."""
    from audits.services import ledger_seal

    end = datetime.now(UTC) - timedelta(hours=1)
    start = end - timedelta(days=DAYS)
    cast = make_cast(start - timedelta(days=2))
    say(f"== fill: {args.complaints:,} complaints over {DAYS} days ==")
    filler = Filler(cast, args, end)
    sinks = Sinks(url)
    began = time.perf_counter()

    def progress(done: int) -> None:
        seconds = time.perf_counter() - began
        say(
            f"  {done:>9,} complaints, {filler.entries:>10,} ledger entries in {seconds:6.1f} s "
            f"({done / seconds:,.0f} complaints/s)"
        )

    cpu_before = time.process_time()
    filler.run(sinks, progress)
    sinks.close()
    written = time.perf_counter() - began
    say(
        f"  the filling process used {time.process_time() - cpu_before:.1f} s of CPU in "
        f"{written:.1f} s (the rest it waited for the server or for a core)"
    )
    finish_fill(filler)
    filled = time.perf_counter() - began
    rows = counts()
    total_rows = sum(rows.values())
    say(f"  written in {written:.1f} s; sequences, counters and ANALYZE: {filled - written:.1f} s")
    for table, n in rows.items():
        say(f"    {table:<36} {n:>12,}")
    say(f"  {total_rows:,} rows in {filled:.1f} s = {total_rows / filled:,.0f} rows/s")
    started = time.perf_counter()
    checkpoint, _created = ledger_seal()
    sealed = time.perf_counter() - started
    say(f"  ledger_seal at {checkpoint.tree_size:,} entries: {sealed:.1f} s")
    total = filled + sealed
    say(f"  fill + seal: {total:.1f} s; database {database_size() / 1e9:.2f} GB")
    settle()
    check(args)
    goal = FILL_GOAL_SECONDS * args.complaints / 1_000_000
    return [
        Figure(f"fill + seal, {args.complaints:,} complaints", total, "s", goal, False),
        Figure("rows written per second", total_rows / filled, "rows/s", 0, True),
    ]


def check(args: argparse.Namespace) -> None:
    """Spot-check random complaints against the ledger; verify the whole ledger."""
    from audits.verification import verify_ledger

    say("== checks ==")
    started = time.perf_counter()
    checked = spot_check(args.spot, args.seed)
    say(
        f"  spot check: {args.spot} random complaints, {checked} ledger entries match their "
        f"rows, descriptions decrypt ({time.perf_counter() - started:.1f} s)"
    )
    if args.no_verify:
        say("  verify_ledger skipped (--no-verify); run load.py --check-only on the kept DB")
    else:
        started = time.perf_counter()
        report = verify_ledger()
        say(
            f"  verify_ledger: {report.entries:,} entries, {report.checkpoints} checkpoints, "
            f"rows {report.rows} in {time.perf_counter() - started:.1f} s: no divergence"
        )


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--complaints", type=int, default=1_000_000, help="complaints to write")
    parser.add_argument(
        "--undecided",
        type=int,
        default=20_000,
        help="newest complaints left investigating in moderation, for bench/api.py",
    )
    parser.add_argument("--spot", type=int, default=200, help="complaints spot-checked")
    parser.add_argument("--seed", type=int, default=2026, help="seed of the generated data")
    parser.add_argument("--keep", action="store_true", help=f"keep the {BENCH_DB} database")
    parser.add_argument("--no-verify", action="store_true", help="skip verify_ledger at the end")
    parser.add_argument(
        "--check-only",
        action="store_true",
        help=f"only spot-check and verify a kept {BENCH_DB} (no fill; it is kept)",
    )
    return parser.parse_args(argv)


def bench_environment() -> None:
    """Fix the keys the bench database is written under (bench/api.py's server uses them too)."""
    os.environ["OMBUD_KEKS"] = BENCH_KEKS
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # no line per role granted


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    server_url = bench_server_url()
    started = time.perf_counter()
    bench_environment()
    if args.check_only:
        setup_django(bench_url(server_url))
        with quiet_queries():
            check(args)
        say(f"checked {BENCH_DB} in {time.perf_counter() - started:.0f} s")
        return 0
    try:
        recreate_database(server_url)
        setup_django(bench_url(server_url))
        migrate()
        say(f"database {BENCH_DB} created and migrated")
        with quiet_queries():
            figures = fill(args, bench_url(server_url))
    finally:
        keep_or_drop(server_url, keep=args.keep)
    # The rows/s figure has no goal of its own; the summary shows it beside the fill time.
    print_summary(figures, time.perf_counter() - started)
    return 0 if all(f.passed for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
