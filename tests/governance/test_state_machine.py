"""Property-based tests of the complaint state machine (hypothesis.stateful).

A random sequence of service calls, by people holding every role (and none), on a few
complaints at once. A model predicts each call's outcome: success, or the domain error the
service must raise, in which case nothing at all may change. After every step each complaint's
status must be what its transitions replay to, each state change must have exactly one history
row and one ledger entry, its decisions and appeal must match the transitions, and the ledger
must still hash up; at the end of each run the whole ledger is verified.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db.models import Max
from django.utils import timezone
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from audits.choices import EventType
from audits.models import LedgerEntry
from audits.verification import verify_ledger
from governance import deadlines, services
from governance.choices import (
    ACTING_OUTCOMES,
    TRANSITIONS,
    AppealOutcome,
    AppealStatus,
    Channel,
    ComplaintStatus,
    DecisionKind,
    DecisionOutcome,
    Role,
)
from governance.errors import (
    Conflict,
    DomainError,
    InvalidTransition,
    PermissionDenied,
    ValidationFailed,
)
from governance.models import (
    Appeal,
    Assignment,
    Category,
    Complaint,
    ComplaintTransition,
    Decision,
    Rating,
    SlaBreach,
)
from privacy.models import DataSubject, PersonalNote
from tests import factories

S = ComplaintStatus
E = EventType

# Who takes part: name -> (role, department). "nobody" holds no role at all.
PEOPLE: dict[str, tuple[str | None, str | None]] = {
    "alice": (Role.COMPLAINANT, None),
    "bob": (Role.COMPLAINANT, None),
    "holly": (Role.COMPLAINANT, None),  # the holder of a reported account, linked at filing
    # A handler whose own account is reported: she also signs in as a complainant (see
    # COMPLAINANT_TOO) to appeal, so she is a party to the complaint and must not decide it.
    "dana": (Role.HANDLER, "moderation"),
    "mod_handler": (Role.HANDLER, "moderation"),
    "mod_handler2": (Role.HANDLER, "moderation"),
    "mod_lead": (Role.DEPARTMENT_LEAD, "moderation"),
    "mod_lead2": (Role.DEPARTMENT_LEAD, "moderation"),
    "sec_handler": (Role.HANDLER, "security"),
    "sec_lead": (Role.DEPARTMENT_LEAD, "security"),
    "compliance": (Role.COMPLIANCE_OFFICER, None),
    "supervisor": (Role.SUPERVISOR, None),
    "privacy": (Role.PRIVACY_OFFICER, None),
    "admin": (Role.ADMIN, None),
    "nobody": (None, None),
}
NAMES = sorted(PEOPLE)
STAFF = ["mod_handler", "mod_handler2", "mod_lead", "mod_lead2", "sec_handler", "sec_lead", "dana"]
PUBLIC = ["alice", "bob", "holly", "dana"]
COMPLAINANT_TOO = {"dana"}
HOLDERS = ["holly", "dana"]
# Half the draws come from the people who usually act, so runs get past the first steps;
# the other half from everyone, so wrong roles keep being tried.
staff_or_anyone = st.one_of(st.sampled_from(STAFF), st.sampled_from(NAMES))
public_or_anyone = st.one_of(st.sampled_from(PUBLIC), st.sampled_from(NAMES))
# Filing: the category decides the department (harassment: moderation; fraud: security).
CATEGORY_DEPARTMENT = {"harassment": "moderation", "fraud": "security"}

MAX_COMPLAINTS = 3
Refusal = tuple[type[DomainError], ...]


def role_of(name: str) -> str | None:
    return PEOPLE[name][0]


def complainant(name: str) -> bool:
    return role_of(name) == Role.COMPLAINANT or name in COMPLAINANT_TOO


def staff_of(name: str, department: str) -> bool:
    role, dept = PEOPLE[name]
    return role in {Role.HANDLER, Role.DEPARTMENT_LEAD} and dept == department


def lead_of(name: str, department: str) -> bool:
    return PEOPLE[name] == (Role.DEPARTMENT_LEAD, department)


@dataclass
class ModelDecision:
    pk: int
    kind: str
    decided_by: str
    decided_at: datetime
    outcome: str
    supersedes: int | None


@dataclass
class Case:
    """What the model expects of one complaint."""

    pk: int
    reference: str
    department: str
    owner: str | None  # the person who filed it as complainant (None: staff intake)
    holder: str | None  # the linked holder of the reported account
    status: str = S.RECEIVED
    assignee: str | None = None
    transitions: list[tuple[str, str]] = field(default_factory=list)
    history_rows: int = 1
    events: Counter[str] = field(default_factory=lambda: Counter({E.COMPLAINT_RECEIVED: 1}))
    decisions: list[ModelDecision] = field(default_factory=list)
    appeal: int | None = None
    appeal_decided: bool = False
    rated: bool = False
    sla: set[str] = field(default_factory=set)

    def current(self) -> ModelDecision | None:
        superseded = {d.supersedes for d in self.decisions}
        live = [d for d in self.decisions if d.pk not in superseded]
        return live[-1] if live else None

    def chain(self, pk: int) -> list[ModelDecision]:
        """Return decision `pk` and every one it supersedes, newest first."""
        by_pk = {d.pk: d for d in self.decisions}
        out = []
        node: int | None = pk
        while node is not None:
            out.append(by_pk[node])
            node = by_pk[node].supersedes
        return out

    def move(self, to_status: str) -> None:
        self.transitions.append((self.status, to_status))
        self.status = to_status
        self.history_rows += 1
        self.events[E.COMPLAINT_TRANSITIONED] += 1


def _world() -> dict[str, Any]:
    """Return counts of every table a complaint action may write, for "nothing changed"."""
    models = [
        Complaint,
        Complaint.history.model,
        ComplaintTransition,
        Decision,
        Appeal,
        Appeal.history.model,
        Rating,
        Assignment,
        Assignment.history.model,
        SlaBreach,
        PersonalNote,
        DataSubject,
        LedgerEntry,
    ]
    return {m.__name__: m.objects.count() for m in models}


class ComplaintLifecycle(RuleBasedStateMachine):
    """Random service calls on a few complaints, checked against a model after every step."""

    users: dict[str, Any] = {}  # set by the test before the machine runs

    def __init__(self) -> None:
        super().__init__()
        self.cases: list[Case] = []
        self.now = timezone.now()
        self.ledger_checked = LedgerEntry.objects.count()

    # --- running one call ------------------------------------------------------------------

    def attempt(self, refusal: Refusal, call: Any) -> Any:
        """Run `call`; if the model says it must be refused, check it is and changed nothing."""
        if not refusal:
            return call()
        cases = [c.pk for c in self.cases]
        before = (_world(), list(Complaint.objects.filter(pk__in=cases).order_by("pk").values()))
        with pytest.raises(refusal):
            call()
        after = (_world(), list(Complaint.objects.filter(pk__in=cases).order_by("pk").values()))
        assert after == before, "a refused action changed something"
        return None

    def tick(self, minutes: int = 5) -> datetime:
        # Each step happens a little later, so transitions have a strict order in time.
        self.now += timedelta(minutes=minutes)
        return self.now

    def user(self, name: str) -> Any:
        return self.users[name]

    def complaint(self, case: Case) -> Complaint:
        return Complaint.objects.get(pk=case.pk)

    def pick(self, data: Any, cases: list[Case] | None = None) -> Case:
        pool = self.cases if cases is None else cases
        return data.draw(st.sampled_from(pool), label="complaint")

    def _file(self, filer: str, category_code: str, holder: str | None) -> None:
        role = role_of(filer)
        staff = role in {Role.HANDLER, Role.DEPARTMENT_LEAD}
        refusal: Refusal = () if role == Role.COMPLAINANT or staff else (PermissionDenied,)
        intake = {"complainant_name": "Wu Lan", "complainant_email": "wu@example.test"}
        complaint = self.attempt(
            refusal,
            lambda: services.complaint_file(
                actor=self.user(filer),
                channel=Channel.WEB_FORM,
                category=Category.objects.get(code=category_code),
                description="Someone keeps insulting me in the comments.",
                content_url="https://video.example.com/v/1",
                affected_account_handle="@reported" if holder else "",
                now=self.tick(),
                **(intake if staff else {}),
            ),
        )
        if complaint is None:
            return
        if holder:
            # Test set-up, as in factories.holder_flow: linking is tested on its own.
            DataSubject.objects.filter(pk=complaint.affected_subject_id).update(
                user=self.user(holder)
            )
        self.cases.append(
            Case(
                pk=complaint.pk,
                reference=complaint.reference,
                department=CATEGORY_DEPARTMENT[category_code],
                owner=None if staff else filer,
                holder=holder,
            )
        )

    # --- rules -----------------------------------------------------------------------------
    # Each action is a helper taking the complaint, called from two places: its own rule, where
    # anyone may try it on any complaint, and `advance`, which takes a step the lifecycle
    # allows by someone entitled to it, so that runs get past the first few statuses.

    @initialize(
        starts=st.lists(st.sampled_from(list(factories.PATHS)), min_size=2, max_size=2),
        holder=st.sampled_from(HOLDERS),
    )
    def file_two(self, starts: list[str], holder: str) -> None:
        # Fresh complaints for every example (all examples share one database transaction),
        # walked to a random status first, so that short runs reach the later statuses too.
        self._file("alice", "harassment", holder=holder)
        self._file("bob", "harassment", holder=None)
        for case, start in zip(self.cases, starts, strict=True):
            for status in factories.PATHS[start]:
                self._walk(case, status)
            assert case.status == start

    def _walk(self, case: Case, to_status: str) -> None:
        """Take the step to `to_status` as the people of tests.factories.Flow would."""
        owner = case.owner or "alice"
        if to_status == S.TRIAGED:
            self._triage(case, "mod_handler", move=False, give_reason=False)
        elif to_status == S.ASSIGNED:
            self._assign(case, "mod_lead", "mod_handler", give_reason=False)
        elif to_status == S.DECIDED:
            self._decide(case, "mod_handler", upheld=True, complete=True)
        elif to_status == S.APPEALED:
            self._appeal(None, case, owner, stale=False, statement=True)
        elif to_status == S.APPEAL_DECIDED:
            self._decide_appeal(case, "mod_lead", AppealOutcome.UPHELD)
        elif to_status == S.WITHDRAWN:
            self._withdraw(case, owner, give_reason=True)
        else:
            self._plain(case, "mod_handler", to_status)

    @precondition(lambda self: len(self.cases) < MAX_COMPLAINTS)
    @rule(
        filer=public_or_anyone,
        category_code=st.sampled_from(sorted(CATEGORY_DEPARTMENT)),
        holder=st.sampled_from([None, *HOLDERS]),
    )
    def file(self, filer: str, category_code: str, holder: str | None) -> None:
        self._file(filer, category_code, holder)

    @rule(data=st.data(), actor=staff_or_anyone)
    def acknowledge(self, data: Any, actor: str) -> None:
        self._plain(self.pick(data), actor, S.ACKNOWLEDGED)

    @rule(data=st.data(), actor=staff_or_anyone)
    def start_investigation(self, data: Any, actor: str) -> None:
        self._plain(self.pick(data), actor, S.INVESTIGATING)

    @rule(data=st.data(), actor=staff_or_anyone)
    def close(self, data: Any, actor: str) -> None:
        self._plain(self.pick(data), actor, S.CLOSED)

    @rule(data=st.data(), actor=staff_or_anyone, move=st.booleans(), give_reason=st.booleans())
    def triage(self, data: Any, actor: str, move: bool, give_reason: bool) -> None:
        self._triage(self.pick(data), actor, move, give_reason)

    @rule(
        data=st.data(), actor=staff_or_anyone, assignee=staff_or_anyone, give_reason=st.booleans()
    )
    def assign(self, data: Any, actor: str, assignee: str, give_reason: bool) -> None:
        self._assign(self.pick(data), actor, assignee, give_reason)

    @rule(data=st.data(), actor=staff_or_anyone, upheld=st.booleans(), complete=st.booleans())
    def decide(self, data: Any, actor: str, upheld: bool, complete: bool) -> None:
        self._decide(self.pick(data), actor, upheld, complete)

    @precondition(lambda self: any(c.decisions for c in self.cases))
    @rule(data=st.data(), actor=staff_or_anyone, which=st.sampled_from(["current", "old", "other"]))
    def correct(self, data: Any, actor: str, which: str) -> None:
        self._correct(data, self.pick(data, [c for c in self.cases if c.decisions]), actor, which)

    @precondition(lambda self: any(c.decisions for c in self.cases))
    @rule(data=st.data(), actor=public_or_anyone, stale=st.booleans(), statement=st.booleans())
    def appeal(self, data: Any, actor: str, stale: bool, statement: bool) -> None:
        case = self.pick(data, [c for c in self.cases if c.decisions])
        self._appeal(data, case, actor, stale, statement)

    @precondition(lambda self: any(c.appeal for c in self.cases))
    @rule(data=st.data(), actor=staff_or_anyone, outcome=st.sampled_from(AppealOutcome.values))
    def decide_appeal(self, data: Any, actor: str, outcome: str) -> None:
        self._decide_appeal(self.pick(data, [c for c in self.cases if c.appeal]), actor, outcome)

    @rule(data=st.data(), actor=public_or_anyone, score=st.integers(0, 6))
    def rate(self, data: Any, actor: str, score: int) -> None:
        self._rate(self.pick(data), actor, score)

    @rule(data=st.data(), actor=public_or_anyone, give_reason=st.booleans())
    def withdraw(self, data: Any, actor: str, give_reason: bool) -> None:
        self._withdraw(self.pick(data), actor, give_reason)

    @rule(days=st.integers(0, 120))
    def let_time_pass(self, days: int) -> None:
        self.tick(minutes=days * 24 * 60)

    @rule()
    def escalate_missed_deadlines(self) -> None:
        at = self.tick()
        services.sla_breaches_escalate(now=at)
        for case in self.cases:
            c = self.complaint(case)
            for stage, (due_field, done_field, pending) in services.SLA_STAGES.items():
                due, done = getattr(c, due_field), getattr(c, done_field)
                late = (c.status in pending and due < at) or (done is not None and done > due)
                if late and stage not in case.sla:
                    case.sla.add(stage)
                    case.events[E.SLA_BREACHED] += 1

    @rule(data=st.data())
    def advance(self, data: Any) -> None:
        case = self.pick(data)
        staff = [n for n in STAFF if staff_of(n, case.department)]
        leads = [n for n in staff if lead_of(n, case.department)]
        people = [n for n in (case.owner, case.holder) if n] or ["alice"]

        def one(names: list[str]) -> str:
            return data.draw(st.sampled_from(names))

        steps: dict[str, list[Any]] = {
            S.RECEIVED: [lambda: self._plain(case, one(staff), S.ACKNOWLEDGED)],
            S.ACKNOWLEDGED: [
                lambda: self._triage(case, one(staff), data.draw(st.booleans()), True)
            ],
            S.TRIAGED: [lambda: self._assign(case, one(leads), one(staff), True)],
            S.ASSIGNED: [lambda: self._plain(case, one(staff), S.INVESTIGATING)],
            S.INVESTIGATING: [
                lambda: self._decide(
                    case, one([case.assignee or leads[0], *leads]), data.draw(st.booleans()), True
                )
            ],
            S.DECIDED: [
                lambda: self._plain(case, one(staff), S.CLOSED),
                lambda: self._appeal(data, case, one(people), False, True),
                lambda: self._correct(data, case, one(leads), "current"),
            ],
            S.CLOSED: [
                lambda: self._appeal(data, case, one(people), False, True),
                lambda: self._rate(case, one(people), data.draw(st.integers(1, 5))),
                lambda: self._correct(data, case, one(leads), "current"),
            ],
            S.APPEALED: [
                lambda: self._decide_appeal(
                    case, one(staff), data.draw(st.sampled_from(AppealOutcome.values))
                )
            ],
            S.APPEAL_DECIDED: [
                lambda: self._plain(case, one(staff), S.CLOSED),
                lambda: self._correct(data, case, one(leads), "current"),
            ],
            S.WITHDRAWN: [lambda: self._withdraw(case, one(people), True)],
        }
        data.draw(st.sampled_from(steps[case.status]), label="step")()

    # --- actions ---------------------------------------------------------------------------

    def _plain(self, case: Case, actor: str, to_status: str) -> None:
        service = {
            S.ACKNOWLEDGED: services.complaint_acknowledge,
            S.INVESTIGATING: services.complaint_start_investigation,
            S.CLOSED: services.complaint_close,
        }[to_status]
        refusal: Refusal = ()
        if not staff_of(actor, case.department):
            refusal = (PermissionDenied,)
        elif to_status not in TRANSITIONS[case.status]:
            refusal = (InvalidTransition,)
        done = self.attempt(
            refusal,
            lambda: service(
                actor=self.user(actor), complaint=self.complaint(case), now=self.tick()
            ),
        )
        if done is not None:
            case.move(to_status)

    def _triage(self, case: Case, actor: str, move: bool, give_reason: bool) -> None:
        # Moving changes the category to the other department's one.
        target = next(c for c, d in CATEGORY_DEPARTMENT.items() if d != case.department)
        refusal: Refusal = ()
        if not staff_of(actor, case.department):
            refusal = (PermissionDenied,)
        elif move and not give_reason:
            refusal = (ValidationFailed,)
        elif S.TRIAGED not in TRANSITIONS[case.status]:
            refusal = (InvalidTransition,)
        done = self.attempt(
            refusal,
            lambda: services.complaint_triage(
                actor=self.user(actor),
                complaint=self.complaint(case),
                category=Category.objects.get(code=target) if move else None,
                reason="This is fraud, not harassment." if give_reason else "",
                now=self.tick(),
            ),
        )
        if done is not None:
            case.move(S.TRIAGED)
            case.events[E.COMPLAINT_TRIAGED] += 1
            if move:
                case.department = CATEGORY_DEPARTMENT[target]

    def _assign(self, case: Case, actor: str, assignee: str, give_reason: bool) -> None:
        reassigning = case.status in {S.ASSIGNED, S.INVESTIGATING}
        refusal: Refusal = ()
        if not staff_of(actor, case.department):
            refusal = (PermissionDenied,)
        elif not staff_of(assignee, case.department):
            refusal = (ValidationFailed,)
        elif not lead_of(actor, case.department) and (
            assignee != actor or case.assignee is not None
        ):
            refusal = (PermissionDenied,)
        elif reassigning and case.assignee == assignee:
            refusal = (Conflict,)
        elif reassigning and not give_reason:
            refusal = (ValidationFailed,)
        elif not reassigning and S.ASSIGNED not in TRANSITIONS[case.status]:
            refusal = (InvalidTransition,)
        done = self.attempt(
            refusal,
            lambda: services.complaint_assign(
                actor=self.user(actor),
                complaint=self.complaint(case),
                assignee=self.user(assignee),
                reason="Spreading the load." if give_reason else "",
                now=self.tick(),
            ),
        )
        if done is None:
            return
        if reassigning:
            case.history_rows += 1
        else:
            case.move(S.ASSIGNED)
        case.assignee = assignee
        case.events[E.COMPLAINT_ASSIGNED] += 1

    def _decide(self, case: Case, actor: str, upheld: bool, complete: bool) -> None:
        refusal: Refusal = ()
        if not staff_of(actor, case.department):
            refusal = (PermissionDenied,)
        elif case.status != S.INVESTIGATING:
            refusal = (InvalidTransition,)
        elif (not lead_of(actor, case.department) and case.assignee != actor) or (
            actor in {case.owner, case.holder}  # a party to the complaint
        ):
            refusal = (PermissionDenied,)
        elif not complete:
            refusal = (ValidationFailed,)
        kwargs = factories.decision_kwargs(
            **(
                {}
                if upheld
                else {"outcome": DecisionOutcome.REJECTED, "actions": [], "reasons": "No insult."}
            ),
            **({} if complete else {"facts": "  "}),
        )
        decision = self.attempt(
            refusal,
            lambda: services.decision_record(
                actor=self.user(actor), complaint=self.complaint(case), now=self.tick(), **kwargs
            ),
        )
        if decision is not None:
            case.move(S.DECIDED)
            self._decided(case, decision, actor)

    def _decided(self, case: Case, decision: Decision, actor: str) -> None:
        case.decisions.append(
            ModelDecision(
                decision.pk,
                decision.kind,
                actor,
                decision.decided_at,
                decision.outcome,
                decision.supersedes_id,
            )
        )
        appeal = decision.kind == DecisionKind.APPEAL
        case.events[E.APPEAL_DECIDED if appeal else E.DECISION_RECORDED] += 1

    def _correct(self, data: Any, case: Case, actor: str, which: str) -> None:
        current = case.current()
        assert current is not None
        old = [d for d in case.decisions if d.pk != current.pk]
        others = [d for c in self.cases if c is not case for d in c.decisions]
        target = {"current": [current], "old": old or [current], "other": others or [current]}
        supersedes = data.draw(st.sampled_from(target[which]), label="supersedes")
        refusal: Refusal = ()
        if supersedes not in case.decisions:
            refusal = (ValidationFailed,)
        elif not lead_of(actor, case.department) or actor in {case.owner, case.holder}:
            refusal = (PermissionDenied,)
        elif case.status not in {S.DECIDED, S.CLOSED, S.APPEAL_DECIDED} or (
            supersedes.pk != current.pk
        ):
            refusal = (Conflict,)
        else:
            chain = case.chain(supersedes.pk)
            appealed = next((d.supersedes for d in chain if d.kind == DecisionKind.APPEAL), None)
            if appealed is not None and actor in {d.decided_by for d in case.chain(appealed)}:
                refusal = (PermissionDenied,)
        decision = self.attempt(
            refusal,
            lambda: services.decision_record(
                actor=self.user(actor),
                complaint=self.complaint(case),
                supersedes=Decision.objects.get(pk=supersedes.pk),
                now=self.tick(),
                **factories.decision_kwargs(
                    outcome=DecisionOutcome.PARTIALLY_UPHELD,
                    actions=["content_labelled"],
                    reasons="On a second reading the comments are rude, not insulting.",
                ),
            ),
        )
        if decision is not None:
            self._decided(case, decision, actor)

    def _appeal(self, data: Any, case: Case, actor: str, stale: bool, statement: bool) -> None:
        current = case.current()
        assert current is not None
        old = [d for d in case.decisions if d.pk != current.pk]
        decision = data.draw(st.sampled_from(old)) if data and stale and old else current
        at = self.tick()
        refusal: Refusal = ()
        if not complainant(actor) or actor not in {case.owner, case.holder}:
            refusal = (PermissionDenied,)
        elif not statement:
            refusal = (ValidationFailed,)
        elif (
            case.appeal is not None
            or decision.pk != current.pk
            or at > deadlines.add_months(decision.decided_at, 6)
        ):
            refusal = (Conflict,)
        elif S.APPEALED not in TRANSITIONS[case.status]:
            refusal = (InvalidTransition,)
        appeal = self.attempt(
            refusal,
            lambda: services.appeal_file(
                actor=self.user(actor),
                decision=Decision.objects.get(pk=decision.pk),
                statement="Please look again." if statement else " ",
                now=at,
            ),
        )
        if appeal is not None:
            case.move(S.APPEALED)
            case.appeal = appeal.pk
            case.events[E.APPEAL_FILED] += 1

    def _decide_appeal(self, case: Case, actor: str, outcome: str) -> None:
        assert case.appeal is not None
        appeal = Appeal.objects.get(pk=case.appeal)
        original = next(d for d in case.decisions if d.pk == appeal.decision_id)
        refusal: Refusal = ()
        # Neither a decider of the decision under appeal nor a party to the complaint.
        conflicted = {d.decided_by for d in case.chain(original.pk)} | {case.owner, case.holder}
        if not staff_of(actor, case.department) or actor in conflicted:
            refusal = (PermissionDenied,)
        elif case.appeal_decided:
            refusal = (Conflict,)
        acting = original.outcome in ACTING_OUTCOMES
        changes: dict[str, Any] = {
            AppealOutcome.UPHELD: {},
            AppealOutcome.REVERSED: {"decision_outcome": DecisionOutcome.REJECTED, "actions": []}
            if acting
            else {"decision_outcome": DecisionOutcome.UPHELD, "actions": ["content_removed"]},
            # The same side of the line, with something else changed.
            AppealOutcome.MODIFIED: {
                "decision_outcome": DecisionOutcome.UPHELD,
                "actions": ["account_warned"],
            }
            if acting
            else {"decision_outcome": DecisionOutcome.NO_ACTION, "actions": []},
        }[outcome]
        decision = self.attempt(
            refusal,
            lambda: services.appeal_decide(
                actor=self.user(actor),
                appeal=appeal,
                outcome=outcome,
                facts="Second look at the same comments.",
                reasons="Weighed again against the clause.",
                now=self.tick(),
                **changes,
            ),
        )
        if decision is not None:
            case.move(S.APPEAL_DECIDED)
            case.appeal_decided = True
            self._decided(case, decision, actor)

    def _rate(self, case: Case, actor: str, score: int) -> None:
        refusal: Refusal = ()
        if not complainant(actor) or actor != case.owner:
            refusal = (PermissionDenied,)
        elif case.status != S.CLOSED or case.rated:
            refusal = (Conflict,)
        elif not 1 <= score <= 5:
            refusal = (ValidationFailed,)
        rating = self.attempt(
            refusal,
            lambda: services.complaint_rate(
                actor=self.user(actor), complaint=self.complaint(case), score=score, now=self.tick()
            ),
        )
        if rating is not None:
            case.rated = True
            case.events[E.COMPLAINT_RATED] += 1

    def _withdraw(self, case: Case, actor: str, give_reason: bool) -> None:
        refusal: Refusal = ()
        owner = complainant(actor) and actor == case.owner
        if not (staff_of(actor, case.department) or owner):
            refusal = (PermissionDenied,)
        elif not give_reason:
            refusal = (ValidationFailed,)
        elif S.WITHDRAWN not in TRANSITIONS[case.status]:
            refusal = (InvalidTransition,)
        done = self.attempt(
            refusal,
            lambda: services.complaint_withdraw(
                actor=self.user(actor),
                complaint=self.complaint(case),
                reason="Sorted it out ourselves." if give_reason else "",
                now=self.tick(),
            ),
        )
        if done is not None:
            case.move(S.WITHDRAWN)

    # --- invariants ------------------------------------------------------------------------
    # One invariant reads each complaint's rows once and hands them to the checks below.

    @invariant()
    def every_complaint_is_explained_by_its_history(self) -> None:
        for case in self.cases:
            complaint = self.complaint(case)
            rows = list(ComplaintTransition.objects.filter(complaint=complaint).order_by("id"))
            self.check_status(case, complaint, rows)
            self.check_history(case, rows)
            self.check_ledger(case, rows)
            self.check_decisions(case, complaint)
            self.check_assignment(case, complaint)

    def check_status(self, case: Case, complaint: Complaint, rows: list[Any]) -> None:
        """The status is what the transitions replay to, from "received", and what the model
        expects; each stage's time stamp is the time of the transition that did it."""
        status = S.RECEIVED
        for row in rows:
            assert row.from_status == status, f"{case.reference}: {row} follows {status}"
            assert row.to_status in TRANSITIONS[row.from_status], f"{case.reference}: {row}"
            status = row.to_status
        assert complaint.status == status == case.status, case.reference
        assert [(r.from_status, r.to_status) for r in rows] == case.transitions
        assert [r.at for r in rows] == sorted(r.at for r in rows)
        first_at: dict[str, datetime] = {}
        for row in rows:
            first_at.setdefault(row.to_status, row.at)
        assert complaint.acknowledged_at == first_at.get(S.ACKNOWLEDGED)
        assert complaint.triaged_at == first_at.get(S.TRIAGED)
        assert complaint.decided_at == first_at.get(S.DECIDED)
        ends = [first_at[s] for s in (S.CLOSED, S.WITHDRAWN) if s in first_at]
        assert complaint.closed_at == (min(ends) if ends else None)

    def check_history(self, case: Case, rows: list[Any]) -> None:
        """Each state change has exactly one history row, by the transition's actor, with its
        reason and at its time; the history has no rows the model does not expect."""
        history = list(Complaint.history.model.objects.filter(id=case.pk).order_by("history_id"))
        assert len(history) == case.history_rows, case.reference
        assert (history[0].history_type, history[0].status) == ("+", S.RECEIVED)
        changes = [row for prev, row in itertools.pairwise(history) if prev.status != row.status]
        assert len(changes) == len(rows), case.reference
        for row, transition in zip(changes, rows, strict=True):
            assert row.status == transition.to_status
            assert row.history_user_id == transition.actor_id
            assert row.history_change_reason == transition.reason
            assert row.history_date == transition.at

    def check_ledger(self, case: Case, rows: list[Any]) -> None:
        """The ledger holds exactly the entries the model expects of this complaint, and one
        entry per transition row."""
        refs = [f"complaint:{case.reference}", *(f"decision:{d.pk}" for d in case.decisions)]
        if case.appeal is not None:
            refs.append(f"appeal:{case.appeal}")
        entries = list(
            LedgerEntry.objects.filter(object_ref__in=refs).values_list("event_type", "body")
        )
        assert Counter(kind for kind, _body in entries) == case.events, case.reference
        recorded = sorted(
            json.loads(body)["data"]["transition"]
            for kind, body in entries
            if kind == E.COMPLAINT_TRANSITIONED
        )
        assert recorded == [row.pk for row in rows], case.reference

    def check_decisions(self, case: Case, complaint: Complaint) -> None:
        """Decisions, the appeal, the rating and missed deadlines match the transitions."""
        decisions = list(
            Decision.objects.filter(complaint=complaint)
            .order_by("id")
            .values_list("pk", "kind", "supersedes_id")
        )
        assert decisions == [(d.pk, d.kind, d.supersedes) for d in case.decisions]
        kinds = Counter(kind for _pk, kind, _supersedes in decisions)
        moves = Counter(to for _from, to in case.transitions)
        assert kinds[DecisionKind.INITIAL] == moves[S.DECIDED]
        assert kinds[DecisionKind.APPEAL] == moves[S.APPEAL_DECIDED]
        current, expected = complaint.current_decision(), case.current()
        assert (current and current.pk) == (expected and expected.pk)
        appeals = list(Appeal.objects.filter(complaint=complaint).values_list("status", flat=True))
        decided = AppealStatus.DECIDED if moves[S.APPEAL_DECIDED] else AppealStatus.OPEN
        assert appeals == [decided] * moves[S.APPEALED]
        assert Rating.objects.filter(complaint=complaint).exists() == case.rated
        assert set(complaint.sla_breaches.values_list("stage", flat=True)) == case.sla

    def check_assignment(self, case: Case, complaint: Complaint) -> None:
        """At most one assignment is current, and it is the complaint's assignee."""
        expected = self.users[case.assignee].pk if case.assignee else None
        assert complaint.assignee_id == expected
        current = Assignment.objects.filter(complaint=complaint, ended_at__isnull=True)
        assert list(current.values_list("assignee_id", flat=True)) == (
            [expected] if expected else []
        )

    @invariant()
    def ledger_still_hashes_up(self) -> None:
        # Cheap per step: no gaps, and every entry appended since the last step hashes to its
        # leaf. The full verification (rows, checkpoints) runs once per example, at teardown.
        count = LedgerEntry.objects.count()
        assert LedgerEntry.objects.aggregate(m=Max("seq"))["m"] == count - 1
        for body, leaf in LedgerEntry.objects.filter(seq__gte=self.ledger_checked).values_list(
            "body", "leaf_hash"
        ):
            assert hashlib.sha256(b"\x00" + body.encode()).hexdigest() == leaf
        self.ledger_checked = count

    def teardown(self) -> None:
        for case in self.cases:
            for _from, to_status in case.transitions:
                event(f"reached {to_status}")
        verify_ledger()


def test_any_sequence_of_actions_leaves_complaints_explained_by_their_history() -> None:
    factories.policy_clause()  # published before the runs, so no step adds its entry
    users = {}
    for name, (role, dept) in PEOPLE.items():
        if role is None:
            users[name] = factories.UserFactory(username=name)
        else:
            users[name] = factories.user_with_role(role, dept, username=name)
        if name in COMPLAINANT_TOO:
            services.role_grant(
                actor=factories.superuser(), user=users[name], role=Role.COMPLAINANT
            )
    ComplaintLifecycle.users = users
    run_state_machine_as_test(
        ComplaintLifecycle,
        settings=settings(
            max_examples=25,
            stateful_step_count=20,
            deadline=None,
            derandomize=True,  # the same runs in CI every time
            database=None,  # no .hypothesis/ directory in the tree
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
