"""The whole API fuzzed from its own OpenAPI schema, as every kind of caller.

Schemathesis reads the schema drf-spectacular generates (the one /api/schema/ serves) and, for
every operation, draws a bounded number of requests from it: valid ones (positive mode) and
ones that break it on purpose (negative mode: wrong types, missing fields, out-of-range
numbers, odd strings). Each request goes to the Django WSGI application in-process, once per
caller: anonymous, and one signed-in user (a DRF token) of each role. Every answer must:

- not be a server error (`not_a_server_error`): odd input is a 400 with field messages, never
  a 500, on SQLite and on PostgreSQL alike (NUL bytes, integers past 64 bits, ...);
- carry a documented status code (`status_code_conformance`). The schema documents the error
  answers of every operation (governance/api/schema.py): 401 and 403 wherever a sign-in and a
  role are required, 400 where the caller sends a body or query parameters, 404 for a record
  out of reach (or a stale page cursor), 409 for a write that conflicts with the record's
  state, 429 where a throttle applies. Documenting them, rather than dropping the check, is
  what lets a client rely on the schema, and it makes the next two checks look at error
  bodies as well;
- have the documented content type and body (`content_type_conformance`,
  `response_schema_conformance`), errors included.

The records a fuzzed path names are sometimes real: half the time a path parameter, and a body
field that names a record (a complaint, a clause, a decision, ...), is swapped for one of the
records seeded below, so the fuzz reaches past the 404 into the views, serializers and
services. Every request runs in a savepoint rolled back after it, so each one meets the same
seeded state whatever ran before (and a failed statement on PostgreSQL cannot poison the
next request). Each caller, operation and mode draws from a fixed seed, so callers meet
different inputs and a failure comes back on the next run; its message carries the request as
a curl command. Every failing operation is reported at once, not only the first.

The records are seeded once for the module, in a transaction rolled back at its end, and one
test per caller walks every operation; Schemathesis' own `schema.parametrize()` would make one
test per operation, each seeding its records again, several times slower. Throttling is
switched off and the cache cleared, so a 429 cannot hide what the view does.
OMBUD_FUZZ_EXAMPLES raises the number of examples for a deeper run by hand.
"""

from __future__ import annotations

import os
import time
import zlib
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import hypothesis
import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from audits import reports, sampling
from audits.models import (
    RUBRIC,
    Checkpoint,
    CorrectiveAction,
    LedgerEntry,
    QualitySample,
    SampleItem,
)
from audits.services import ledger_seal
from config.wsgi import application
from governance.choices import ComplaintStatus, Role
from governance.models import Appeal, Category, Complaint, Decision, Department, PolicyClause
from privacy import services as privacy_services
from privacy.models import DataSubject, LegalHold, PrivacyRequest, RetentionRule
from tests import factories
from tests.factories import Flow

S = ComplaintStatus

CALLERS = (
    "anonymous",
    Role.COMPLAINANT,
    Role.HANDLER,
    Role.DEPARTMENT_LEAD,
    Role.COMPLIANCE_OFFICER,
    Role.SUPERVISOR,
    Role.PRIVACY_OFFICER,
    Role.ADMIN,
)

# Examples per operation, caller and generation mode. Small on purpose: the fuzz runs in CI on
# every change, and it is the breadth (every operation, every caller) that finds the bugs.
MAX_EXAMPLES = int(os.environ.get("OMBUD_FUZZ_EXAMPLES", "5"))

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


RAW_SCHEMA = SchemaGenerator().get_schema(request=None, public=True)
SCHEMA = schemathesis.openapi.from_dict(RAW_SCHEMA)
SCHEMA.app = application
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]


def _modes(operation: Any) -> list[GenerationMode]:
    """Positive, plus negative where some input can be made invalid: a body, or a parameter
    that is more than any string (Hypothesis gives up, slowly, on the others)."""
    raw = RAW_SCHEMA["paths"][operation.path][operation.method.lower()]
    negatable = "requestBody" in raw or any(
        p["schema"] != {"type": "string"} for p in raw.get("parameters", [])
    )
    if negatable:
        return [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    return [GenerationMode.POSITIVE]


# --- the seeded records ------------------------------------------------------------------------


def _seed() -> tuple[dict[str, Any], dict[str, list[Any]], dict[str, list[Any]]]:
    """Create one user per role and records of every kind they can reach.

    Return the callers, the real values of each path (by the path up to its parameter) and
    the real values of body fields that name a record.
    """
    people: dict[str, Any] = {
        role: factories.user_with_role(role)
        for role in CALLERS
        if role not in {"anonymous", Role.HANDLER, Role.DEPARTMENT_LEAD}
    }
    people[Role.HANDLER] = factories.user_with_role(Role.HANDLER, "moderation")
    people[Role.DEPARTMENT_LEAD] = factories.user_with_role(Role.DEPARTMENT_LEAD, "moderation")
    complainant = people[Role.COMPLAINANT]
    factories.policy_clause()
    ledger_seal()

    def walk(status: str, **kwargs: Any) -> Flow:
        complaint = factories.file_complaint(complainant, **kwargs)
        flow = Flow(complaint, complainant, people[Role.HANDLER], people[Role.DEPARTMENT_LEAD])
        return flow.walk(*factories.PATHS[status])

    walk(S.RECEIVED, affected_account_handle="@reported")
    walk(S.INVESTIGATING)
    walk(S.DECIDED)
    walk(S.CLOSED)
    appealed = factories.flow_at(S.INVESTIGATING)
    appealed.step(S.DECIDED, actor=factories.user_with_role(Role.DEPARTMENT_LEAD, "moderation"))
    appealed.step(S.APPEALED)
    walk(S.WITHDRAWN)
    privacy_services.legal_hold_place(
        actor=people[Role.COMPLIANCE_OFFICER],
        complaint=Complaint.objects.first(),
        reason="Court order",
        review_on=factories.future(),
    )
    privacy_services.privacy_request_file(actor=complainant, kind="deletion")
    other = factories.user_with_role(Role.COMPLAINANT)
    request, _new = privacy_services.privacy_request_file(actor=other, kind="access")
    privacy_services.privacy_request_verify_identity(
        actor=people[Role.PRIVACY_OFFICER], request=request
    )
    privacy_services.retention_enforce()
    ledger_seal()
    start = timezone.localdate().replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    sampling.sample_draw(
        actor=factories.user_with_role(Role.SUPERVISOR), period_start=start, period_end=end
    )
    item = SampleItem.objects.first()
    if item is not None:
        sampling.review_record(
            actor=factories.user_with_role(Role.SUPERVISOR),
            item=item,
            scores=dict.fromkeys(RUBRIC, 2),
            verdict="disagree",
        )
    reports.report_publish(actor=people[Role.SUPERVISOR], period="2025-03")

    paths: dict[str, list[Any]] = {
        "/api/v1/complaints/": list(Complaint.objects.values_list("reference", flat=True)),
        "/api/v1/decisions/": list(Decision.objects.values_list("pk", flat=True)),
        "/api/v1/appeals/": list(Appeal.objects.values_list("pk", flat=True)),
        "/api/v1/policy-clauses/": list(PolicyClause.objects.values_list("pk", flat=True)),
        "/api/v1/departments/": list(Department.objects.values_list("code", flat=True)),
        "/api/v1/categories/": list(Category.objects.values_list("code", flat=True)),
        "/api/v1/ledger/checkpoints/": list(Checkpoint.objects.values_list("tree_size", flat=True)),
        "/api/v1/ledger/entries/": list(LedgerEntry.objects.values_list("seq", flat=True)[:5]),
        "/api/v1/oversight/corrective-actions/": list(
            CorrectiveAction.objects.values_list("pk", flat=True)
        ),
        "/api/v1/oversight/reports/": [1],
        "/api/v1/oversight/samples/": list(QualitySample.objects.values_list("pk", flat=True)),
        "/api/v1/privacy/legal-holds/": list(LegalHold.objects.values_list("pk", flat=True)),
        "/api/v1/privacy/requests/": list(
            PrivacyRequest.objects.values_list("reference", flat=True)
        ),
        "/api/v1/privacy/retention-rules/": list(
            RetentionRule.objects.values_list("pk", flat=True)[:3]
        ),
        "/api/v1/privacy/subjects/": list(
            DataSubject.objects.values_list("pseudonym", flat=True)[:3]
        ),
    }
    fields: dict[str, list[Any]] = {
        "complaint": paths["/api/v1/complaints/"],
        "decision": paths["/api/v1/decisions/"],
        "supersedes": paths["/api/v1/decisions/"],
        "policy_clause": paths["/api/v1/policy-clauses/"],
        "category": paths["/api/v1/categories/"],
        "department": paths["/api/v1/departments/"],
        "item": list(SampleItem.objects.values_list("pk", flat=True)),
        "subject": paths["/api/v1/privacy/subjects/"],
        "assignee": [people[Role.HANDLER].username],
        "username": [people[Role.COMPLAINANT].username],
        "period_start": [start.isoformat()],
        "period_end": [end.isoformat()],
    }
    return people, paths, fields


@pytest.fixture(scope="module")
def seeded(django_db_setup: Any, django_db_blocker: Any) -> Iterator[Any]:
    """Seed once for the module, inside a transaction rolled back when the module is done
    (each test's own transaction nests inside it as a savepoint)."""
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            yield _seed()
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


# --- the fuzz ----------------------------------------------------------------------------------


def _with_real_records(
    operation: Any, mode: GenerationMode, paths: dict[str, list[Any]], fields: dict[str, Any]
) -> st.SearchStrategy[Any]:
    """Cases of `operation`, where a path parameter or a field naming a record is, half the
    time, a record that exists."""
    known = paths.get(operation.path.split("{")[0], [])

    @st.composite
    def cases(draw: Callable[..., Any]) -> Any:
        case = draw(operation.as_strategy(generation_mode=mode))
        if case.path_parameters and known:
            for name in case.path_parameters:
                if draw(st.booleans()):
                    case.path_parameters[name] = draw(st.sampled_from(known))
        if isinstance(case.body, dict):
            for name in list(case.body):
                if fields.get(name) and draw(st.booleans()):
                    case.body[name] = draw(st.sampled_from(fields[name]))
        return case

    return cases()


@pytest.fixture
def in_process(settings: Any) -> Iterator[None]:
    """Let the WSGI application run inside the test's transaction, unthrottled."""
    settings.ALLOWED_HOSTS = ["localhost", "testserver"]
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_CLASSES": [],
        "DEFAULT_THROTTLE_RATES": {},
    }
    cache.clear()
    # Django's test client does the same: a request must not close the test's connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.mark.parametrize("caller", CALLERS)
def test_fuzz(caller: str, seeded: Any, in_process: None, capsys: Any) -> None:
    people, paths, fields = seeded
    headers = {}
    if caller != "anonymous":
        token, _new = Token.objects.get_or_create(user=people[caller])
        headers["Authorization"] = f"Token {token.key}"
    # Every anonymous request stops at the sign-in check, whatever its input: a few suffice.
    examples = 2 if caller == "anonymous" else MAX_EXAMPLES
    failures: list[str] = []
    calls = 0
    started, cpu = time.monotonic(), time.process_time()
    for operation in OPERATIONS:
        for mode in _modes(operation):
            # A fixed seed per caller, operation and mode: each caller meets other inputs, and
            # every run meets the same ones (reproducible without Hypothesis' example database).
            @hypothesis.seed(zlib.crc32(f"{caller} {operation.label} {mode.value}".encode()))
            @hypothesis.settings(
                max_examples=examples,
                deadline=None,
                database=None,
                # No shrinking: it would replay requests for minutes; the report has the case.
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @hypothesis.given(case=_with_real_records(operation, mode, paths, fields))
            def fuzz(case: Any) -> None:
                nonlocal calls
                calls += 1
                with transaction.atomic():
                    try:
                        case.call_and_validate(headers=headers, checks=CHECKS)
                    finally:
                        transaction.set_rollback(True)

            try:
                fuzz()
            except hypothesis.errors.Unsatisfiable:
                pass  # nothing in this operation's input could be made invalid after all
            except (Exception, BaseExceptionGroup) as exc:  # all reported together, below
                failures.append(f"{operation.label} [{mode.value}]: {exc}")
    with capsys.disabled():
        elapsed, cpu = time.monotonic() - started, time.process_time() - cpu
        print(f"\n{caller}: {calls} requests in {elapsed:.1f} s ({cpu:.1f} s of CPU)")
    assert not failures, f"{len(failures)} failing operations:\n\n" + "\n\n".join(failures)
