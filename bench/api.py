"""Benchmark the HTTP API under 16 concurrent clients against a bare Django insert.

A script, not a test; see bench/README.md. It serves the database bench/load.py filled
(`ombud_bench_load`, kept with --keep, or filled now with --load N) with gunicorn on loopback,
and drives it with --clients concurrent clients (threads, each with its own keep-alive
http.client connection), one scenario at a time for --seconds each:

(a) baseline: POST /bench/baseline/, a bare Django view doing one ORM insert of a small row in
    its own transaction (bench/urls.py, served with bench/settings.py; never in production);
(b) decide: POST /api/v1/decisions/ with a handler's token, each request on another complaint
    that handler is investigating (the fill leaves them), through `decision_record`;
(c) queue: GET /api/v1/complaints/?status=...: the open complaints of the handler's department,
    newest first, the first page of 50, as the handler's API client lists them; and the same with
    assigned_to_me=true;
(d) timeline: GET /api/v1/complaints/<reference>/timeline/ of a random decided complaint of the
    department (history, transitions, assignment and decision merged by time).

The baseline runs first and last; every figure is also given as a ratio to their mean, measured
in the same run on the same server, so that a busy machine moves both. Goals: decisions at
least 0.4 of the baseline's throughput, queue and timeline p95 under 50 ms. Exit 1 if missed.
Then the baseline, queue, timeline and decide run again with one client alone (the department's
lead decides what the handlers left), for each request's own latency without the queueing that
16 clients on two cores add. During each scenario a sampler reads what the server's database
sessions wait on from pg_stat_activity, ten times a second.

gunicorn runs 2 x cores + 1 `gthread` workers with one thread each (--workers, --threads): the
gthread worker keeps connections alive, and one thread per process because threads of one
process share its interpreter lock, which the thread holding the ledger lock must win back
after every statement (see docs/performance.md).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import ledger
import load

ledger.BENCH_DB = load.BENCH_DB  # the database bench/load.py fills

from ledger import (  # noqa: E402 - after the database name is set, for clarity
    BENCH_SECRET_KEY,
    BENCH_SIGNING_KEY,
    Figure,
    bench_server_url,
    bench_url,
    keep_or_drop,
    percentile,
    print_summary,
    say,
    setup_django,
)

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
OPEN_STATUSES = ("received", "acknowledged", "triaged", "assigned", "investigating")
DECIDE_RATIO_GOAL = 0.4
LATENCY_GOAL_MS = 50
Request = tuple[str, str, bytes | None, dict[str, str]]


# --- the server -----------------------------------------------------------------------------------


def server_environment(database_url: str) -> dict[str, str]:
    """The environment gunicorn runs in: production mode, bench keys, bench settings."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DEBUG": "0",
        "SECRET_KEY": BENCH_SECRET_KEY,
        "OMBUD_LEDGER_SIGNING_KEY": BENCH_SIGNING_KEY,
        "OMBUD_KEKS": load.BENCH_KEKS,
        "ALLOWED_HOSTS": HOST,
        "SECURE_SSL_REDIRECT": "0",
        "LOG_LEVEL": "WARNING",
        # Keep each worker thread's database connection for the whole run, as in production.
        "DATABASE_CONN_MAX_AGE": "600",
    }


class Server:
    """gunicorn on loopback: --workers processes with --threads threads each (gthread)."""

    def __init__(self, args: argparse.Namespace, database_url: str) -> None:
        command = [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "config.wsgi:application",
            "--chdir",
            str(ROOT),
            "--bind",
            f"{HOST}:{args.port}",
            "--worker-class",
            args.worker_class,
            "--workers",
            str(args.workers),
            "--threads",
            str(args.threads),
            "--keep-alive",
            "75",
            "--backlog",
            "256",
            "--log-level",
            "warning",
        ]
        # Our own gunicorn with fixed arguments: no untrusted input reaches the command.
        self.process = subprocess.Popen(  # noqa: S603
            command, env=server_environment(database_url), start_new_session=True
        )
        self.port = args.port

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}")
            try:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=5)
                conn.request("GET", "/bench/baseline/")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not answer in time")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # gunicorn and its workers, ours only
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


# --- the clients ----------------------------------------------------------------------------------


@dataclass
class Result:
    """What one scenario measured."""

    name: str
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    client_cpu: float = 0.0  # the client process's CPU seconds over the scenario

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def ms(self, pct: float) -> float:
        return percentile(self.latencies, pct) * 1e3

    def line(self) -> str:
        errors = f", errors {self.errors}" if self.errors else ""
        return (
            f"  {self.name:<11}{len(self.latencies):>7,} requests in {self.seconds:5.1f} s = "
            f"{self.rate:8.1f} req/s; p50 {self.ms(50):7.2f} ms, p95 {self.ms(95):7.2f} ms, "
            f"p99 {self.ms(99):7.2f} ms; client CPU {self.client_cpu / self.seconds:.0%} of a "
            f"core{errors}"
        )


def drive(
    name: str,
    port: int,
    makers: list[Callable[[], Request | None]],
    seconds: float,
    expect: int,
    warmup: float = 2.0,
) -> Result:
    """Run one client thread per maker for `warmup` + `seconds`; time the last `seconds`.

    A maker returns the next request of its client, or None when it has nothing left to send.
    """
    result = Result(name)
    lock = threading.Lock()
    start_barrier = threading.Barrier(len(makers) + 1)
    timing = {"start": 0.0, "stop": 0.0}

    def client(make: Callable[[], Request | None]) -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=60)
        mine: list[float] = []
        errors: dict[str, int] = {}
        start_barrier.wait()
        while True:
            now = time.perf_counter()
            if now >= timing["stop"]:
                break
            request = make()
            if request is None:
                break
            method, path, body, headers = request
            began = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as exc:
                status = type(exc).__name__
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=60)
            ended = time.perf_counter()
            if began < timing["start"]:
                continue  # warm-up: connections, worker caches
            if status == expect:
                mine.append(ended - began)
            else:
                errors[str(status)] = errors.get(str(status), 0) + 1
        conn.close()
        with lock:
            result.latencies += mine
            for key, count in errors.items():
                result.errors[key] = result.errors.get(key, 0) + count

    threads = [threading.Thread(target=client, args=(m,), daemon=True) for m in makers]
    for thread in threads:
        thread.start()
    now = time.perf_counter()
    timing["start"], timing["stop"] = now + warmup, now + warmup + seconds
    start_barrier.wait()
    time.sleep(warmup)
    cpu_before = time.process_time()
    for thread in threads:
        thread.join()
    result.client_cpu = time.process_time() - cpu_before
    result.seconds = min(seconds, time.perf_counter() - timing["start"])
    if not result.latencies and result.errors:
        raise RuntimeError(f"{name}: no request succeeded ({result.errors})")
    return result


class WaitSampler:
    """Samples, ten times a second, what the server's database sessions are waiting on.

    Shows where a scenario's time goes on the database side: running, waiting for a lock
    (an advisory lock is the ledger's), or idle waiting for the application (ClientRead).
    """

    def __init__(self, database_url: str) -> None:
        self.url = database_url
        self.counts: dict[str, int] = {}
        self.samples = 0
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stop_event.wait(0.1):
                rows = conn.execute(
                    "SELECT state, wait_event_type, wait_event FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND backend_type = 'client backend'"
                ).fetchall()
                self.samples += 1
                for state, kind, event in rows:
                    if state == "active":
                        key = f"{kind}:{event}" if kind else "running"
                    else:
                        key = state or "?"
                    self.counts[key] = self.counts.get(key, 0) + 1

    def __enter__(self) -> WaitSampler:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_event.set()
        self.thread.join()

    def line(self) -> str:
        busy = {k: v for k, v in self.counts.items() if not k.startswith("idle")}
        parts = sorted(busy.items(), key=lambda kv: -kv[1])[:4]
        shown = ", ".join(f"{k} {v / max(1, self.samples):.1f}" for k, v in parts)
        return f"             database sessions, mean over samples: {shown or 'all idle'}"


# --- the scenarios --------------------------------------------------------------------------------


@dataclass
class Handler:
    """One moderation handler: their token and the complaints they are investigating."""

    username: str
    token: str
    investigating: list[str]


def prepare(clients: int, seed: int) -> tuple[list[Handler], Handler, list[str], int]:
    """Read what the scenarios need from the loaded database: tokens, complaints, the clause."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from governance.models import Complaint, Department, PolicyClause

    moderation = Department.objects.get(code="moderation")
    users = get_user_model().objects
    handlers = []
    for n in range(clients):
        username = f"load-handler-moderation-{n % load.MODERATION_HANDLERS:02d}"
        token, _created = Token.objects.get_or_create(user=users.get(username=username))
        handlers.append(Handler(username, token.key, []))
    by_user: dict[str, list[str]] = {}
    for reference, username in Complaint.objects.filter(
        department=moderation, status="investigating", assignee__isnull=False
    ).values_list("reference", "assignee__username"):
        by_user.setdefault(username, []).append(reference)
    for handler in handlers:
        pool = by_user.get(handler.username, [])
        # Two clients of one handler (more clients than handlers) split that handler's list.
        share = [h.username for h in handlers].count(handler.username)
        index = [h for h in handlers if h.username == handler.username].index(handler)
        handler.investigating = pool[index::share]
    rng = random.Random(seed)  # noqa: S311 - picks complaints to read, nothing secret
    with connection.cursor() as cursor:
        # A random sample over the whole year without reading a million references.
        cursor.execute(
            "SELECT reference FROM governance_complaint TABLESAMPLE SYSTEM (1) "
            "WHERE department_id = %s AND status = 'decided' LIMIT 5000",
            [moderation.pk],
        )
        decided = [row[0] for row in cursor.fetchall()]
        if len(decided) < 1000:  # a small database: a 1% sample of its pages may hold none
            cursor.execute(
                "SELECT reference FROM governance_complaint WHERE department_id = %s "
                "AND status = 'decided' ORDER BY random() LIMIT 5000",
                [moderation.pk],
            )
            decided = [row[0] for row in cursor.fetchall()]
    rng.shuffle(decided)
    clause = PolicyClause.objects.get(code="TOS-3.1").pk
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS bench_api_baseline (id bigserial PRIMARY KEY, "
            "label varchar(64) NOT NULL, value integer NOT NULL, at timestamptz NOT NULL)"
        )
    # The department's lead may decide any of its complaints: the one-client run decides, as
    # the lead, whatever the handlers' clients left (its list is filled when it starts).
    lead = users.get(username="load-lead-moderation")
    lead_token, _created = Token.objects.get_or_create(user=lead)
    return handlers, Handler(lead.username, lead_token.key, []), decided, clause


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Token {token}", "Host": HOST}


def baseline_makers(clients: int) -> list[Callable[[], Request | None]]:
    body = json.dumps({"label": "baseline"}).encode()
    headers = {"Content-Type": "application/json", "Host": HOST}
    return [lambda: ("POST", "/bench/baseline/", body, headers) for _ in range(clients)]


def decide_makers(
    deciders: list[Handler],
    clause: int,
    lead: Handler | None = None,
    handlers: Sequence[Handler] = (),
) -> list[Callable[[], Request | None]]:
    """One maker per decider; the `lead` among them takes over what `handlers` have left."""

    def maker(handler: Handler) -> Callable[[], Request | None]:
        pending = handler.investigating  # shared: a later scenario takes the ones left
        headers = {**auth(handler.token), "Content-Type": "application/json"}

        def make() -> Request | None:
            if not pending and handler is lead:
                for other in handlers:  # the lead takes over what the handlers left
                    pending.extend(other.investigating)
                    other.investigating.clear()
            if not pending:
                return None
            body = {
                "complaint": pending.pop(),
                "outcome": "upheld",
                "actions": ["content_removed"],
                "ground": "terms_of_service",
                "policy_clause": clause,
                "facts": "The comments insult the complainant by name.",
                "reasons": "Insults break clause TOS-3.1; the comments are removed.",
            }
            return ("POST", "/api/v1/decisions/", json.dumps(body).encode(), headers)

        return make

    return [maker(h) for h in deciders]


def get_makers(paths: Callable[[], str], handlers: list[Handler]) -> list[Callable[[], Request]]:
    def maker(handler: Handler) -> Callable[[], Request]:
        headers = auth(handler.token)
        return lambda: ("GET", paths(), None, headers)

    return [maker(h) for h in handlers]


# --- the run --------------------------------------------------------------------------------------


def run(args: argparse.Namespace, database_url: str) -> list[Figure]:
    handlers, lead, decided, clause = prepare(args.clients, args.seed)
    left = sum(len(h.investigating) for h in handlers)
    say(
        f"  {len(handlers)} clients as {min(args.clients, load.MODERATION_HANDLERS)} moderation "
        f"handlers, {left:,} complaints investigating for them, {len(decided):,} decided "
        "complaints sampled for timelines"
    )
    from django.db import connections

    connections.close_all()
    server = Server(args, database_url)
    try:
        server.wait_ready()
        say(
            f"  gunicorn on {HOST}:{args.port}: {args.workers} workers x {args.threads} threads "
            f"({args.worker_class}"
            + (", keep-alive)" if args.worker_class == "gthread" else ", a connection a request)")
        )
        port, seconds, n = args.port, args.seconds, args.clients
        statuses = "&".join(f"status={s}" for s in OPEN_STATUSES)
        rng = random.Random(args.seed)  # noqa: S311 - picks complaints to read, nothing secret
        results = {}
        say("== scenarios ==")
        for name, makers, expect in (
            ("baseline", baseline_makers(n), 201),
            ("decide", decide_makers(handlers, clause), 201),
            ("queue", get_makers(lambda: f"/api/v1/complaints/?{statuses}", handlers), 200),
            (
                "mine",
                get_makers(lambda: f"/api/v1/complaints/?{statuses}&assigned_to_me=true", handlers),
                200,
            ),
            (
                "timeline",
                get_makers(lambda: f"/api/v1/complaints/{rng.choice(decided)}/timeline/", handlers),
                200,
            ),
            ("baseline2", baseline_makers(n), 201),
            # One client alone: the latency of the request itself, without the queueing that
            # 16 clients on two cores add (figures only; the goals are the 16 clients').
            ("baseline/1", baseline_makers(1), 201),
            ("queue/1", get_makers(lambda: f"/api/v1/complaints/?{statuses}", handlers[:1]), 200),
            (
                "timeline/1",
                get_makers(
                    lambda: f"/api/v1/complaints/{rng.choice(decided)}/timeline/", handlers[:1]
                ),
                200,
            ),
            (
                "decide/1",
                decide_makers([lead], clause, lead, handlers),
                201,
            ),
        ):
            with WaitSampler(database_url) as waits:
                result = drive(name, port, makers, seconds, expect)
            if not result.latencies:
                say(f"  {name:<11}nothing left to send (load more --undecided complaints)")
                continue
            results[name] = result
            say(result.line())
            say(waits.line())
    finally:
        server.stop()
    return summarise(results)


def summarise(results: dict[str, Result]) -> list[Figure]:
    base_rate = (results["baseline"].rate + results["baseline2"].rate) / 2
    base_p95 = (results["baseline"].ms(95) + results["baseline2"].ms(95)) / 2
    say(
        f"== against the baseline (mean of two runs: {base_rate:.1f} req/s, "
        f"p95 {base_p95:.2f} ms) =="
    )
    for name in ("decide", "queue", "mine", "timeline"):
        r = results[name]
        say(
            f"  {name:<10} throughput {r.rate / base_rate:5.2f}x, p50 "
            f"{r.ms(50) / results['baseline'].ms(50):5.2f}x, p95 {r.ms(95) / base_p95:5.2f}x, "
            f"p99 {r.ms(99) / results['baseline'].ms(99):5.2f}x the baseline's"
        )
    alone = results["baseline/1"]
    for name in ("queue/1", "timeline/1", "decide/1"):
        if name not in results:
            continue
        r = results[name]
        say(
            f"  {name:<10} alone: p50 {r.ms(50):6.2f} ms ({r.ms(50) / alone.ms(50):5.2f}x), "
            f"p95 {r.ms(95):6.2f} ms ({r.ms(95) / alone.ms(95):5.2f}x the baseline alone)"
        )
    return [
        Figure(
            "decide throughput / baseline",
            results["decide"].rate / base_rate,
            "x",
            DECIDE_RATIO_GOAL,
            True,
        ),
        Figure("queue p95", results["queue"].ms(95), "ms", LATENCY_GOAL_MS, False),
        Figure("queue (assigned to me) p95", results["mine"].ms(95), "ms", LATENCY_GOAL_MS, False),
        Figure("timeline p95", results["timeline"].ms(95), "ms", LATENCY_GOAL_MS, False),
    ]


def parse_args(argv: list[str]) -> argparse.Namespace:
    cores = os.cpu_count() or 1
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients")
    parser.add_argument("--seconds", type=float, default=15, help="timed seconds per scenario")
    parser.add_argument("--port", type=int, default=8765, help="gunicorn's loopback port")
    parser.add_argument("--workers", type=int, default=2 * cores + 1, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker")
    parser.add_argument(
        "--worker-class",
        choices=["gthread", "sync"],
        default="gthread",
        help="gunicorn's worker: gthread keeps each client's connection open (the clients then "
        "stay with one worker); sync closes it after each answer, so each request goes to "
        "whichever worker is free, as behind a proxy that opens a connection per request",
    )
    parser.add_argument("--seed", type=int, default=2026, help="seed of the complaints read")
    parser.add_argument(
        "--load",
        type=int,
        metavar="N",
        help=f"fill {load.BENCH_DB} with N complaints first (bench/load.py --keep --no-verify)",
    )
    parser.add_argument("--drop", action="store_true", help=f"drop {load.BENCH_DB} at the end")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    server_url = bench_server_url()
    started = time.perf_counter()
    if args.load:
        command = [sys.executable, str(Path(load.__file__)), "--complaints", str(args.load)]
        command += ["--undecided", str(max(2000, args.load // 10)), "--keep", "--no-verify"]
        say(f"== filling {load.BENCH_DB}: {' '.join(command[1:])} ==")
        subprocess.run(command, check=True)  # noqa: S603 - our own interpreter and script
    load.bench_environment()
    database_url = bench_url(server_url)
    try:
        setup_django(database_url)
        from governance.models import Complaint

        say(f"== {load.BENCH_DB}: {Complaint.objects.count():,} complaints ==")
        figures = run(args, database_url)
    finally:
        keep_or_drop(server_url, keep=not args.drop)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    say(f"  (the client process's peak RSS: {peak:.0f} MB)")
    print_summary(figures, time.perf_counter() - started)
    return 0 if all(f.passed for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
