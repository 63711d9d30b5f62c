"""Crash safety: the server is killed with SIGKILL under concurrent writers, then restarted.

The server is the production one (gunicorn, several worker processes with several threads each)
on a database of this test's own: a temporary SQLite file, or a fresh PostgreSQL database on the
server DATABASE_URL names (pytest-django's test database would not do: it lives inside a
transaction that no other process sees). Writers record decisions, acknowledge complaints and
file new ones through the API; once enough writes have been acknowledged the whole process
group is killed at once, mid-request. After a restart on the same database:

- every write that was acknowledged (a 2xx response reached the writer) is there;
- every decision has its ledger entry and every entry its decision, every status change its
  transition and entry, and each complaint's status is the one its last transition names, so no
  write was left half-done (a write in flight at the kill is either all there or not at all);
- nothing is there that no writer asked for;
- `manage.py verify_ledger` passes, and the restarted server takes more writes.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import queue
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)
GUNICORN = Path(sys.executable).with_name("gunicorn")

TO_DECIDE = 50  # complaints under investigation, ready for a decision
TO_ACKNOWLEDGE = 20  # complaints received, ready to be acknowledged
KILL_AFTER_ACKS = 50  # acknowledged writes before the kill
KILL_AT_LATEST = 30.0  # seconds of load before the kill, however few writes got through
AT_LEAST_ACKS = 10  # fewer acknowledged writes than this would prove little
WRITERS = {"decide": 4, "acknowledge": 2, "file": 2}  # threads of each kind

# Runs in a subprocess on the crash database: a handler, a complainant (each with an API token)
# and the complaints the writers work on, made through the services as tests/factories.py does.
SEED = """
import json, sys
import django
django.setup()
from rest_framework.authtoken.models import Token
from governance.choices import Role
from tests import factories
to_decide, to_acknowledge = int(sys.argv[1]), int(sys.argv[2])
clause = factories.policy_clause()
complainant = factories.user_with_role(Role.COMPLAINANT, username="crash-complainant")
handler = factories.user_with_role(Role.HANDLER, "moderation", username="crash-handler")
lead = factories.user_with_role(Role.DEPARTMENT_LEAD, "moderation", username="crash-lead")
steps = ("acknowledged", "triaged", "assigned", "investigating")
investigating = [
    factories.Flow(factories.file_complaint(complainant), complainant, handler, lead)
    .walk(*steps).complaint.reference
    for _ in range(to_decide)
]
received = [factories.file_complaint(complainant).reference for _ in range(to_acknowledge)]
print(json.dumps({
    "handler": Token.objects.create(user=handler).key,
    "complainant": Token.objects.create(user=complainant).key,
    "clause": clause.pk,
    "investigating": investigating,
    "received": received,
}))
"""

# Runs in a subprocess on the crash database: what is stored, for the checks below.
DUMP = """
import json
import django
django.setup()
from audits.models import LedgerEntry
from governance.models import Complaint, ComplaintTransition, Decision
ledger = []
for seq, event_type, ref, body in LedgerEntry.objects.order_by("seq").values_list(
    "seq", "event_type", "object_ref", "body"
):
    ledger.append([seq, event_type, ref, json.loads(body)["data"].get("transition")])
print(json.dumps({
    "complaints": dict(Complaint.objects.values_list("reference", "status")),
    "decisions": list(Decision.objects.values_list("pk", "complaint__reference", "kind")),
    "transitions": list(
        ComplaintTransition.objects.order_by("at", "pk").values_list(
            "pk", "complaint__reference", "to_status"
        )
    ),
    "ledger": ledger,
}))
"""


# --- the crash database and the server ---------------------------------------------------------


def _env(database_url: str) -> dict[str, str]:
    """The environment of every process on the crash database: production settings (DEBUG
    off) with the suite's test-only keys, which pytest-env has put in this process's env."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=database_url,
        DEBUG="0",
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="0",  # plain http on loopback
        # The writers are two users sending as fast as they can: no throttle may slow them.
        API_THROTTLE_USER="100000/min",
        API_THROTTLE_ANON="100000/min",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        PYTHONUNBUFFERED="1",
    )
    return env


def _run(args: list[str], database_url: str, timeout: float = 180) -> str:
    """Run a Python process on the crash database; fail the test with its output if it fails."""
    done = subprocess.run(  # noqa: S603 - our own interpreter, scripts and manage.py
        [sys.executable, *args],
        cwd=BASE_DIR,
        env=_env(database_url),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"{args[0]} {args[1][:40]!r} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return done.stdout


@pytest.fixture
def crash_database(tmp_path: Path) -> Iterator[str]:
    """Yield the URL of a new, empty database: a SQLite file, or a PostgreSQL database made on
    the server DATABASE_URL names and dropped afterwards."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        yield f"sqlite:///{tmp_path / 'crash.sqlite3'}"
        return

    import psycopg

    name = f"ombud_crash_{os.getpid()}_{secrets.token_hex(3)}"
    # The server's maintenance database: DATABASE_URL's own may not exist (pytest-django makes
    # test_<name> beside it and leaves <name> alone).
    admin_url = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            # FORCE: a killed server's connections may not all be gone yet.
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _for_setup(database_url: str) -> str:
    """The URL to migrate and seed through: on PostgreSQL without waiting for each commit to
    reach the disk, which the server under test never does without."""
    if database_url.startswith("sqlite"):
        return database_url
    parts = urlsplit(database_url)
    option = "options=-c%20synchronous_commit%3Doff"
    return urlunsplit(parts._replace(query=f"{parts.query}&{option}" if parts.query else option))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _request(
    port: int, method: str, path: str, token: str, body: Any = None, timeout: float = 30
) -> tuple[int, Any]:
    """Send one request on a new connection; return the status and the decoded JSON body.

    Raises OSError or http.client.HTTPException when no complete response arrives.
    """
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(
            method,
            path,
            body=None if body is None else json.dumps(body),
            headers={
                "Authorization": f"Token {token}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
        )
        response = connection.getresponse()
        raw = response.read()
    finally:
        connection.close()
    try:
        return response.status, json.loads(raw)
    except ValueError:
        return response.status, raw[:300]


class Server:
    """gunicorn serving Ombud on loopback, in a process group of its own so that one SIGKILL
    takes the master and every worker at once, as a power cut or the OOM killer would."""

    def __init__(self, database_url: str, log: Path) -> None:
        self.database_url, self.log_path = database_url, log
        self.port = _free_port()
        self.log = log.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - the venv's own gunicorn
            [
                str(GUNICORN),
                "config.wsgi",
                f"--bind=127.0.0.1:{self.port}",
                "--workers=2",
                "--threads=4",
                "--timeout=60",
                # The default control socket is one path per user, shared with any other
                # gunicorn on the machine.
                "--no-control-socket",
            ],
            cwd=BASE_DIR,
            env=_env(database_url),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, token: str, within: float = 60) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"gunicorn exited {self.process.returncode}:\n{self.tail()}")
            try:
                if _request(self.port, "GET", "/api/v1/categories/", token, timeout=5)[0] == 200:
                    return
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.1)
        pytest.fail(f"gunicorn did not answer within {within} s:\n{self.tail()}")

    def kill(self) -> None:
        """SIGKILL the whole process group: no worker finishes its request or closes cleanly."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def tail(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-3000:]


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[[str], Server]]:
    """Return a function that starts gunicorn on a database; every server is killed at the end,
    whatever happened."""
    if not GUNICORN.exists():
        pytest.fail(f"gunicorn is needed for the crash test: not found at {GUNICORN}.")
    servers: list[Server] = []

    def start(database_url: str) -> Server:
        server = Server(database_url, tmp_path / "gunicorn.log")
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.kill()
        server.log.close()


# --- the load ----------------------------------------------------------------------------------


@dataclass
class Load:
    """Concurrent writers and what each of their writes came to."""

    port: int
    seed: dict[str, Any]
    acked: dict[str, list[tuple[str, Any]]] = field(
        default_factory=lambda: {"decide": [], "acknowledge": [], "file": []}
    )
    in_doubt: dict[str, list[str]] = field(
        default_factory=lambda: {"decide": [], "acknowledge": [], "file": []}
    )
    refused: list[str] = field(default_factory=list)  # answers other than 2xx; failed writers
    interrupted: int = 0  # requests cut off by the kill after they reached the server
    lock: threading.Lock = field(default_factory=threading.Lock)
    enough: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.work: dict[str, queue.Queue[str]] = {
            "decide": queue.Queue(),
            "acknowledge": queue.Queue(),
        }
        # A few are kept back for the writes after the restart.
        for reference in self.seed["investigating"][:-2]:
            self.work["decide"].put(reference)
        for reference in self.seed["received"][:-1]:
            self.work["acknowledge"].put(reference)
        self.kept_back = [
            *(("decide", reference) for reference in self.seed["investigating"][-2:]),
            ("acknowledge", self.seed["received"][-1]),
            ("file", "after-restart"),
        ]

    def acked_count(self) -> int:
        return sum(len(done) for done in self.acked.values())

    def request(self, kind: str, reference: str) -> tuple[str, str, dict[str, Any]]:
        """Return the token, path and body of one write of `kind` on `reference` (a complaint's,
        or for a filing the writer's own label)."""
        if kind == "decide":
            return (
                self.seed["handler"],
                "/api/v1/decisions/",
                {
                    "complaint": reference,
                    "outcome": "upheld",
                    "actions": ["content_removed"],
                    "ground": "terms_of_service",
                    "policy_clause": self.seed["clause"],
                    "facts": "The comments insult the complainant by name.",
                    "reasons": "Insults break clause TOS-3.1; the comments are removed.",
                },
            )
        if kind == "acknowledge":
            path = f"/api/v1/complaints/{reference}/acknowledge/"
            return self.seed["handler"], path, {}
        return (
            self.seed["complainant"],
            "/api/v1/complaints/",
            {
                "channel": "web_form",
                "category": "harassment",
                "description": f"Crash-test complaint {reference}.",
                "content_url": "https://video.example.com/v/crash",
            },
        )

    def write(self, kind: str, reference: str) -> bool:
        """Send one write; record what came of it. Return False once the server is gone."""
        token, path, body = self.request(kind, reference)
        try:
            status, answer = _request(self.port, "POST", path, token, body)
        except ConnectionRefusedError:
            with self.lock:
                self.in_doubt[kind].append(reference)  # never reached the server, never applied
            return False
        except (OSError, http.client.HTTPException):
            with self.lock:
                self.in_doubt[kind].append(reference)
                self.interrupted += 1
            return False
        with self.lock:
            if not 200 <= status < 300:
                self.refused.append(f"{kind} {reference}: {status} {answer}")
                return True
            result = {
                "decide": lambda: answer["id"],
                "acknowledge": lambda: answer["status"],
                "file": lambda: answer["reference"],
            }[kind]()
            self.acked[kind].append((reference, result))
            if self.acked_count() >= KILL_AFTER_ACKS:
                self.enough.set()
        return True

    def writer(self, kind: str, number: int) -> None:
        try:
            self.write_until_stopped(kind, number)
        except Exception as exc:  # a writer that dies quietly would thin the load unseen
            with self.lock:
                self.refused.append(f"{kind} writer {number} failed: {exc!r}")

    def write_until_stopped(self, kind: str, number: int) -> None:
        sent = 0
        while not self.stop.is_set():
            if kind == "file":
                reference = f"w{number}-{sent}"
            else:
                try:
                    reference = self.work[kind].get_nowait()
                except queue.Empty:
                    return
            sent += 1
            if not self.write(kind, reference):
                return

    def threads(self) -> list[threading.Thread]:
        return [
            threading.Thread(target=self.writer, args=(kind, n), name=f"{kind}-{n}", daemon=True)
            for kind, count in WRITERS.items()
            for n in range(count)
        ]


# --- the checks --------------------------------------------------------------------------------


def _problems(state: dict[str, Any], load: Load) -> list[str]:
    """Return every way the stored state breaks the promises above (empty when it keeps them)."""
    problems: list[str] = []
    complaints: dict[str, str] = state["complaints"]
    decisions = {pk: (reference, kind) for pk, reference, kind in state["decisions"]}
    ledger = state["ledger"]
    entries = {(event_type, ref) for _seq, event_type, ref, _t in ledger}
    logged_transitions = {t for _seq, event_type, _ref, t in ledger if t is not None}

    # Every acknowledged write is there.
    for reference, decision_id in load.acked["decide"]:
        if decisions.get(decision_id, (None,))[0] != reference:
            problems.append(f"acknowledged decision {decision_id} on {reference} is missing")
        if complaints.get(reference) != "decided":
            problems.append(
                f"{reference} was decided (acknowledged) but is {complaints.get(reference)}"
            )
    for reference, _status in load.acked["acknowledge"]:
        if complaints.get(reference) != "acknowledged":
            problems.append(
                f"{reference} was acknowledged (acknowledged) but is {complaints.get(reference)}"
            )
    for _key, reference in load.acked["file"]:
        if reference not in complaints:
            problems.append(f"acknowledged filing {reference} is missing")

    # No decision without its ledger entry, and no entry without its decision.
    for pk in decisions:
        if ("decision.recorded", f"decision:{pk}") not in entries:
            problems.append(f"decision {pk} has no ledger entry")
    for _seq, event_type, ref, _t in ledger:
        if (
            event_type == "decision.recorded"
            and int(ref.removeprefix("decision:")) not in decisions
        ):
            problems.append(f"ledger entry {ref} has no decision")

    # Nothing half-written: each complaint has its receipt in the ledger, its status is the one
    # its last transition names, and a decided complaint has exactly one decision.
    last_status: dict[str, str] = {}
    for pk, reference, to_status in state["transitions"]:
        last_status[reference] = to_status
        if pk not in logged_transitions:
            problems.append(f"transition {pk} of {reference} has no ledger entry")
    per_complaint: dict[str, int] = {}
    for reference, _kind in decisions.values():
        per_complaint[reference] = per_complaint.get(reference, 0) + 1
    for reference, status in complaints.items():
        if ("complaint.received", f"complaint:{reference}") not in entries:
            problems.append(f"{reference} has no complaint.received ledger entry")
        if last_status.get(reference, "received") != status:
            problems.append(f"{reference} is {status}, its last transition says otherwise")
        if (status == "decided") != (per_complaint.get(reference, 0) == 1):
            problems.append(
                f"{reference} is {status} with {per_complaint.get(reference, 0)} decisions"
            )

    # Nothing is there that no writer asked for.
    asked = {reference for reference, _ in load.acked["decide"]} | set(load.in_doubt["decide"])
    for pk, (reference, _kind) in decisions.items():
        if reference not in asked:
            problems.append(f"decision {pk} on {reference} was never requested")
    seeded = set(load.seed["investigating"]) | set(load.seed["received"])
    filed = {reference for _key, reference in load.acked["file"]}
    unasked = set(complaints) - seeded - filed
    if len(unasked) > len(load.in_doubt["file"]):
        problems.append(f"{len(unasked)} complaints that no acknowledged filing made: {unasked}")

    seqs = [seq for seq, *_ in ledger]
    if seqs != list(range(len(seqs))):
        problems.append("the ledger's sequence numbers have gaps")
    return problems


# --- the test ----------------------------------------------------------------------------------


def test_acknowledged_writes_survive_a_sigkill_mid_load(
    crash_database: str, start_server: Callable[[str], Server]
) -> None:
    # given: a migrated database with complaints ready for decision and acknowledgment
    setup_url = _for_setup(crash_database)
    _run(["manage.py", "migrate", "--no-input", "-v", "0"], setup_url)
    seed = json.loads(_run(["-c", SEED, str(TO_DECIDE), str(TO_ACKNOWLEDGE)], setup_url))
    server = start_server(crash_database)
    server.wait_ready(seed["handler"])
    load = Load(port=server.port, seed=seed)

    # when: concurrent writers run until enough writes are acknowledged, and the server is
    # killed while they are still sending
    writers = load.threads()
    for thread in writers:
        thread.start()
    load.enough.wait(timeout=KILL_AT_LATEST)
    server.kill()
    load.stop.set()
    for thread in writers:
        thread.join(timeout=60)

    # then: the load was real, and every answer before the kill was a success
    assert not load.refused, f"writes refused under load: {load.refused[:5]}\n{server.tail()}"
    assert load.acked_count() >= AT_LEAST_ACKS, f"only {load.acked_count()} writes acknowledged"
    assert load.interrupted >= 1, "the kill found no request in flight; nothing was tested"

    # when: the server is restarted on the same database and takes more writes
    restarted = start_server(crash_database)
    restarted.wait_ready(seed["handler"])
    load.port = restarted.port
    acked_before = load.acked_count()
    for kind, reference in load.kept_back:
        assert load.write(kind, reference), f"{kind} {reference} failed after the restart"
    assert not load.refused, f"writes refused after the restart: {load.refused}"
    assert load.acked_count() == acked_before + len(load.kept_back)
    restarted.kill()

    # then: every acknowledged write is there, whole, with its ledger entry, and the ledger
    # verifies end to end
    print(  # shown with -s or on failure: what the kill met
        {kind: len(done) for kind, done in load.acked.items()},
        "acknowledged;",
        {kind: len(doubt) for kind, doubt in load.in_doubt.items()},
        f"in doubt, {load.interrupted} cut off mid-request",
    )
    state = json.loads(_run(["-c", DUMP], crash_database))
    problems = _problems(state, load)
    assert not problems, "\n".join(problems[:20])
    verified = _run(["manage.py", "verify_ledger"], crash_database)
    assert "Ledger verified" in verified
