"""The demo data set, written through the real services in simulated time order.

Every complaint gets a plan (how far it goes through its lifecycle and when each step happens);
all steps of all plans are then replayed in one global time order, so the ledger's timestamps
rise with its sequence numbers just as in a real deployment.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from audits.services import ledger_seal

from . import deadlines, policies, services
from .choices import (
    AppealOutcome,
    AutomatedDecision,
    Channel,
    ComplaintStatus,
    DecisionAction,
    DecisionGround,
    DecisionOutcome,
    Role,
)
from .models import Category, Complaint, Department, Holiday, PolicyClause, RoleMembership

DEMO_PASSWORD = "ombud-demo-2026"  # noqa: S105 - printed for the demo, never used in production

# (username, role, department or None, first name, last name)
MAIN_ACCOUNTS = [
    ("admin", Role.ADMIN, None, "Ada", "Admin"),
    ("complainant", Role.COMPLAINANT, None, "Li", "Wei"),
    ("handler", Role.HANDLER, "moderation", "Hana", "Handler"),
    ("handler2", Role.HANDLER, "moderation", "Zhang", "Min"),
    ("lead", Role.DEPARTMENT_LEAD, "moderation", "Liu", "Yang"),
    ("compliance", Role.COMPLIANCE_OFFICER, None, "Chen", "Jing"),
    ("supervisor", Role.SUPERVISOR, None, "Sofia", "Supervisor"),
    ("privacy", Role.PRIVACY_OFFICER, None, "Priya", "Privacy"),
]

ROLE_LABELS = {
    Role.ADMIN: "admin (Django admin)",
    Role.COMPLAINANT: "complainant",
    Role.HANDLER: "handler",
    Role.DEPARTMENT_LEAD: "department lead",
    Role.COMPLIANCE_OFFICER: "compliance officer",
    Role.SUPERVISOR: "supervisor",
    Role.PRIVACY_OFFICER: "privacy officer",
}

# code, title, category it serves, text
CLAUSES = [
    (
        "TOS-2.1",
        "Respect for copyright",
        "ip_infringement",
        "Do not upload works you do not hold rights to.",
    ),
    (
        "TOS-2.2",
        "Trademarks and counterfeits",
        "ip_infringement",
        "Do not sell or promote counterfeit goods.",
    ),
    ("TOS-3.1", "No harassment", "harassment", "Do not insult, threaten or shame another person."),
    ("TOS-3.2", "No doxxing", "harassment", "Do not publish another person's private information."),
    (
        "TOS-4.1",
        "Ad disclosure",
        "advertising",
        "Label paid promotion clearly as advertising (广告).",
    ),
    ("TOS-4.2", "Misleading claims", "advertising", "Do not make false claims about products."),
    (
        "TOS-5.1",
        "Public-order content",
        "political",
        "Content endangering public order is not allowed.",
    ),
    (
        "TOS-5.2",
        "Election integrity",
        "political",
        "Do not spread false information about elections.",
    ),
    ("TOS-6.1", "Graphic violence", "violence", "Graphic violence and gore are not allowed."),
    ("TOS-6.2", "Dangerous acts", "violence", "Do not promote dangerous challenges."),
    (
        "TOS-7.1",
        "Personal information",
        "privacy",
        "Do not collect or share personal data unlawfully.",
    ),
    ("TOS-7.2", "Covert recording", "privacy", "Do not share covert recordings of people."),
    ("TOS-8.1", "Scams", "fraud", "Do not deceive users for money or data."),
    ("TOS-8.2", "Fake giveaways", "fraud", "Do not run fake lotteries or giveaways."),
    (
        "TOS-9.1",
        "Minors' safety",
        "minors",
        "Content sexualising or endangering minors is removed.",
    ),
    ("TOS-9.2", "Minors' live streams", "minors", "Minors may not host live commerce streams."),
    ("SVC-1.1", "Service availability", "technical_fault", "We restore service faults promptly."),
    (
        "SVC-1.2",
        "Refunds for faults",
        "technical_fault",
        "Paid features lost to a fault are refunded.",
    ),
    ("SVC-2.1", "Courteous service", "service_quality", "Staff answer courteously and on time."),
    ("SVC-9.9", "General conduct", "other", "Use the platform lawfully and in good faith."),
]

LEGAL_GROUNDS = {
    "ip_infringement": "Copyright Law of the PRC, Art. 52 / 《著作权法》第五十二条",
    "privacy": "Personal Information Protection Law, Art. 10 / 《个人信息保护法》第十条",
    "fraud": "Criminal Law of the PRC, Art. 266 / 《刑法》第二百六十六条",
    "minors": "Law on the Protection of Minors, Art. 74 / 《未成年人保护法》第七十四条",
}

ACTIONS = {
    "ip_infringement": [DecisionAction.CONTENT_REMOVED],
    "harassment": [DecisionAction.CONTENT_REMOVED, DecisionAction.ACCOUNT_WARNED],
    "advertising": [DecisionAction.CONTENT_LABELLED],
    "political": [DecisionAction.CONTENT_DEMOTED],
    "violence": [DecisionAction.CONTENT_AGE_RESTRICTED],
    "privacy": [DecisionAction.CONTENT_REMOVED],
    "fraud": [DecisionAction.ACCOUNT_SUSPENDED],
    "minors": [DecisionAction.CONTENT_REMOVED, DecisionAction.ACCOUNT_TERMINATED],
    "technical_fault": [DecisionAction.NONE],
    "service_quality": [DecisionAction.NONE],
    "other": [DecisionAction.CONTENT_LABELLED],
}

DESCRIPTIONS = {
    "ip_infringement": [
        "This video re-uploads my original short film without permission.",
        "该视频未经授权搬运了我的原创作品，请删除。",
    ],
    "harassment": [
        "This account keeps posting insulting comments about me under every post.",
        "有人在直播间辱骂我，并号召粉丝对我进行网暴。",
    ],
    "advertising": [
        "The influencer promotes a slimming tea without marking it as an ad.",
        "这个博主发布的测评其实是广告，但没有标注。",
    ],
    "political": [
        "This post spreads fabricated claims about the upcoming election.",
        "该内容散布不实的政治谣言。",
    ],
    "violence": [
        "The clip shows a brutal fight with blood and is shown to everyone.",
        "视频中有血腥暴力画面，没有任何提示。",
    ],
    "privacy": [
        "Someone posted my home address and phone number in a comment.",
        "有人未经同意公开了我的身份证照片和住址。",
    ],
    "fraud": [
        "A live-commerce seller took payment and never shipped the goods.",
        "这个账号冒充官方客服，骗我转账。",
    ],
    "minors": [
        "A child appears to be hosting a late-night live stream selling products.",
        "有未成年人在深夜直播带货。",
    ],
    "technical_fault": [
        "My paid membership disappeared after the app update.",
        "更新后无法上传视频，一直提示网络错误。",
    ],
    "service_quality": [
        "Customer service closed my ticket twice without answering.",
        "客服态度很差，问题一直没有解决。",
    ],
    "other": [
        "A livestream uses misleading thumbnails to attract viewers.",
        "其他问题：账号被莫名降权。",
    ],
}

FIRST_NAMES = ["Wang", "Li", "Zhang", "Liu", "Chen", "Anna", "Lukas", "Marie", "João", "Sara"]
LAST_NAMES = ["Fang", "Na", "Wei", "Tao", "Jie", "Schmidt", "Dubois", "Rossi", "Silva", "Berg"]

# Final status, and its weight in the demo population.
FINAL_STATUSES = [
    (ComplaintStatus.RECEIVED, 4),
    (ComplaintStatus.ACKNOWLEDGED, 4),
    (ComplaintStatus.TRIAGED, 4),
    (ComplaintStatus.ASSIGNED, 5),
    (ComplaintStatus.INVESTIGATING, 8),
    (ComplaintStatus.DECIDED, 12),
    (ComplaintStatus.CLOSED, 45),
    (ComplaintStatus.APPEALED, 3),
    (ComplaintStatus.APPEAL_DECIDED, 4),
    ("appeal_closed", 6),
    (ComplaintStatus.WITHDRAWN, 5),
]
ORDER = [
    ComplaintStatus.RECEIVED,
    ComplaintStatus.ACKNOWLEDGED,
    ComplaintStatus.TRIAGED,
    ComplaintStatus.ASSIGNED,
    ComplaintStatus.INVESTIGATING,
    ComplaintStatus.DECIDED,
    ComplaintStatus.CLOSED,
]

CN_HOLIDAYS_2026 = [
    (date(2026, 1, 1), "New Year's Day / 元旦"),
    *[(date(2026, 2, 16) + timedelta(days=i), "Spring Festival / 春节") for i in range(7)],
    (date(2026, 4, 5), "Qingming / 清明节"),
    *[(date(2026, 5, 1) + timedelta(days=i), "Labour Day / 劳动节") for i in range(5)],
    (date(2026, 6, 19), "Dragon Boat / 端午节"),
    (date(2026, 9, 25), "Mid-Autumn / 中秋节"),
    *[(date(2026, 10, 1) + timedelta(days=i), "National Day / 国庆节") for i in range(7)],
]


@dataclass
class DemoResult:
    loaded: bool
    complaints: int
    # (user name, role, API token, authenticator set-up code or "")
    accounts: list[tuple[str, str, str, str]] = field(default_factory=list)


@dataclass(order=True)
class _Step:
    at: datetime
    seq: int
    run: Callable[[], None] = field(compare=False)


class _Demo:
    def __init__(self, rng: random.Random, now: datetime) -> None:
        self.rng = rng
        self.now = now
        self.users: dict[str, Any] = {}
        self.staff: dict[str, dict[str, list[Any]]] = {}
        self.complainants: list[Any] = []
        self.categories = {c.code: c for c in Category.objects.select_related("default_department")}
        self.steps: list[_Step] = []
        self.counter = 0
        self.password_hash: str | None = None

    # -- people --------------------------------------------------------------------------------

    def user(self, username: str, first: str, last: str) -> Any:
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(
            username=username,
            defaults={
                "first_name": first,
                "last_name": last,
                "email": f"{username}@demo.ombud.local",
            },
        )
        if created:
            # One hash for every demo account: hashing 50 passwords separately takes seconds.
            if self.password_hash is None:
                self.password_hash = make_password(DEMO_PASSWORD)
            user.password = self.password_hash
            user.save()
        self.users[username] = user
        return user

    def grant(self, admin: Any, user: Any, role: str, department: Department | None) -> None:
        held = RoleMembership.objects.filter(
            user=user, role=role, department=department, revoked_at__isnull=True
        ).exists()
        if not held:
            services.role_grant(
                actor=admin,
                user=user,
                role=role,
                department=department,
                reason="Demo account",
                now=self.now - timedelta(days=400),
            )

    def people(self) -> Any:
        admin = self.user("admin", "Ada", "Admin")
        if not admin.is_superuser:
            admin.is_superuser = admin.is_staff = True
            admin.save()
        departments = {d.code: d for d in Department.objects.all()}
        for username, role, dept, first, last in MAIN_ACCOUNTS:
            user = self.user(username, first, last)
            self.grant(admin, user, role, departments[dept] if dept else None)
        for code, department in departments.items():
            handlers = (
                [self.users["handler"], self.users["handler2"]] if code == "moderation" else []
            )
            leads = [self.users["lead"]] if code == "moderation" else []
            if code != "moderation":
                for n in (1, 2):
                    u = self.user(f"handler_{code}_{n}", "Handler", f"{code} {n}")
                    self.grant(admin, u, Role.HANDLER, department)
                    handlers.append(u)
                u = self.user(f"lead_{code}", "Lead", code)
                self.grant(admin, u, Role.DEPARTMENT_LEAD, department)
                leads.append(u)
            self.staff[code] = {"handlers": handlers, "leads": leads}
        self.complainants = [self.users["complainant"]]
        for n in range(1, 25):
            u = self.user(
                f"citizen{n:02d}", self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
            )
            self.grant(admin, u, Role.COMPLAINANT, None)
            self.complainants.append(u)
        return admin

    # -- reference data ------------------------------------------------------------------------

    def holidays(self, admin: Any) -> None:
        for day, name in CN_HOLIDAYS_2026:
            if not Holiday.objects.filter(date=day).exists():
                services.reference_record_save(
                    actor=admin,
                    record=Holiday(date=day, name=name),
                    reason="Demo holiday calendar",
                    now=self.now - timedelta(days=399),
                )

    def clauses(self, admin: Any) -> None:
        # Clause days are business days, as the decision services count them.
        start = deadlines.business_date(self.now - timedelta(days=365))
        for code, title, _category, text in CLAUSES:
            if not PolicyClause.objects.filter(code=code).exists():
                services.policy_clause_publish(
                    actor=admin,
                    code=code,
                    title=title,
                    text=text,
                    effective_from=start,
                    now=self.now - timedelta(days=398),
                )
        # Two clauses get a second version part-way through the demo period.
        revised_on = self.now - timedelta(days=60)
        for code, title, text in [
            (
                "TOS-4.1",
                "Ad disclosure (revised)",
                "Label paid promotion as 广告 in the first line.",
            ),
            (
                "TOS-3.1",
                "No harassment or pile-ons",
                "Do not insult, threaten, shame or incite others.",
            ),
        ]:
            if not PolicyClause.objects.filter(code=code, version=2).exists():
                self.at(
                    revised_on - timedelta(days=2),
                    partial(
                        services.policy_clause_publish,
                        actor=admin,
                        code=code,
                        title=title,
                        text=text,
                        effective_from=deadlines.business_date(revised_on),
                        now=revised_on - timedelta(days=2),
                    ),
                )

    def clause_for(self, category: str, on: datetime) -> PolicyClause:
        """Return a clause of `category` in the version in force on the business day of `on`.

        The business day, not the server's: the services check the clause on it, and a moment
        late in the evening in UTC is already the next day in the business time zone.
        """
        codes = [c[0] for c in CLAUSES if c[2] == category]
        code = codes[self.rng.randrange(len(codes))]
        return (
            PolicyClause.objects.filter(code=code, effective_from__lte=deadlines.business_date(on))
            .order_by("-version")
            .first()
        ) or PolicyClause.objects.filter(code=code).order_by("version").first()  # type: ignore[return-value]

    # -- complaint plans -----------------------------------------------------------------------

    def at(self, when: datetime, run: Callable[[], Any]) -> None:
        self.counter += 1
        heapq.heappush(self.steps, _Step(when, self.counter, run))

    def plan(self, admin: Any) -> None:
        statuses, weights = zip(*FINAL_STATUSES, strict=True)
        final = self.rng.choices(statuses, weights=weights)[0]
        category = self.rng.choice(list(self.categories.values()))
        dept = category.default_department.code
        handler = self.rng.choice(self.staff[dept]["handlers"])
        lead = self.staff[dept]["leads"][0]
        appeal_path = final in {
            ComplaintStatus.APPEALED,
            ComplaintStatus.APPEAL_DECIDED,
            "appeal_closed",
        }
        self_filed = appeal_path or self.rng.random() < 0.7
        complainant = self.rng.choice(self.complainants) if self_filed else None
        chinese = self.rng.random() < 0.55
        description = DESCRIPTIONS[category.code][1 if chinese else 0]
        h = lambda lo, hi: timedelta(hours=self.rng.uniform(lo, hi))  # noqa: E731

        gaps = [h(0.2, 30), h(1, 40), h(0.5, 12), h(0.2, 6), h(2, 150), h(1, 72)]
        appeal_gaps = [
            timedelta(days=self.rng.uniform(1, 25)),
            timedelta(days=self.rng.uniform(1, 10)),
            h(1, 48),
        ]
        depth = {
            ComplaintStatus.WITHDRAWN: self.rng.randint(0, 4),
            ComplaintStatus.APPEALED: 6 + 1,
            ComplaintStatus.APPEAL_DECIDED: 6 + 2,
            "appeal_closed": 6 + 3,
        }.get(final, ORDER.index(final) if final in ORDER else 0)
        all_gaps = gaps[: min(depth, 6)] + appeal_gaps[: max(0, depth - 6)]
        span = sum(all_gaps, timedelta())
        t0 = self.now - span - timedelta(hours=self.rng.uniform(1, 24 * 100))
        ref: dict[str, Any] = {}

        def refresh() -> Complaint:
            return Complaint.objects.get(pk=ref["complaint"].pk)

        def file(t: datetime = t0) -> None:
            if complainant is not None:
                channel = self.rng.choice([Channel.WEB_FORM, Channel.IN_APP, Channel.API])
                ref["complaint"] = services.complaint_file(
                    actor=complainant,
                    channel=channel,
                    category=category,
                    description=description,
                    content_url=f"https://video.example.com/v/{self.rng.randrange(10**8)}",
                    now=t,
                )
            else:
                channel = self.rng.choice(
                    [Channel.EMAIL, Channel.PHONE, Channel.SOCIAL_MEDIA, Channel.REGULATOR_REFERRAL]
                )
                ref["complaint"] = services.complaint_file(
                    actor=handler,
                    channel=channel,
                    category=category,
                    description=description,
                    content_id=f"acct-{self.rng.randrange(10**6)}",
                    affected_account_handle=f"@user{self.rng.randrange(10**5)}",
                    complainant_name=" ".join(
                        (self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES))
                    ),
                    complainant_email=f"person{self.rng.randrange(10**6)}@mail.example.com",
                    now=t,
                )

        t = t0
        self.at(t, file)
        steps: list[Callable[[datetime], Any]] = [
            lambda at: services.complaint_acknowledge(actor=handler, complaint=refresh(), now=at),
            lambda at: services.complaint_triage(
                actor=handler,
                complaint=refresh(),
                urgency=self.rng.choice(["high", "normal", "low"]),
                now=at,
            ),
            lambda at: services.complaint_assign(
                actor=lead, complaint=refresh(), assignee=handler, now=at
            ),
            lambda at: services.complaint_start_investigation(
                actor=handler, complaint=refresh(), now=at
            ),
            lambda at: self.decide(handler, refresh(), category.code, at, ref),
            lambda at: services.complaint_close(actor=handler, complaint=refresh(), now=at),
            lambda at: self.appeal(complainant, ref, at),
            lambda at: self.decide_appeal(lead, ref, category.code, at),
            lambda at: services.complaint_close(
                actor=lead, complaint=refresh(), reason="Appeal closed", now=at
            ),
        ]
        for step, gap in zip(steps, all_gaps, strict=False):
            t = t + gap
            self.at(t, partial(step, t))
        if final == ComplaintStatus.WITHDRAWN:
            t = t + h(1, 48)
            withdrawer = complainant or handler

            def withdraw(at: datetime = t, who: Any = withdrawer) -> None:
                services.complaint_withdraw(
                    actor=who,
                    complaint=refresh(),
                    reason="The complainant no longer wishes to pursue it.",
                    now=at,
                )

            self.at(t, withdraw)
        if (
            complainant is not None
            and final in {ComplaintStatus.CLOSED, "appeal_closed"}
            and self.rng.random() < 0.6
        ):
            t = t + h(1, 72)

            def rate(at: datetime = t) -> None:
                services.complaint_rate(
                    actor=complainant,
                    complaint=refresh(),
                    score=self.rng.choices([1, 2, 3, 4, 5], [1, 1, 2, 4, 4])[0],
                    comment=self.rng.choice(
                        ["", "Quick and clear.", "处理得很及时，谢谢。", "Too slow."]
                    ),
                    now=at,
                )

            self.at(t, rate)

    def decide(
        self, handler: Any, complaint: Complaint, category: str, at: datetime, ref: dict[str, Any]
    ) -> None:
        outcome = self.rng.choices(
            [
                DecisionOutcome.UPHELD,
                DecisionOutcome.PARTIALLY_UPHELD,
                DecisionOutcome.REJECTED,
                DecisionOutcome.REFERRED,
                DecisionOutcome.NO_ACTION,
            ],
            weights=[40, 15, 30, 5, 10],
        )[0]
        acting = outcome in {DecisionOutcome.UPHELD, DecisionOutcome.PARTIALLY_UPHELD}
        actions = ACTIONS[category] if acting else [DecisionAction.NONE]
        legal = LEGAL_GROUNDS.get(category)
        automated = self.rng.random() < 0.2
        ref["decision"] = services.decision_record(
            actor=handler,
            complaint=complaint,
            outcome=outcome,
            actions=actions,
            ground=DecisionGround.ILLEGAL_CONTENT
            if legal and acting
            else DecisionGround.TERMS_OF_SERVICE,
            ground_reference=legal if legal and acting else "",
            policy_clause=self.clause_for(category, at),
            facts=self.rng.choice(
                [
                    "Reviewed the reported content and the account's recent history.",
                    "核实了被举报内容及相关证据。",
                ]
            ),
            reasons=(
                "The content breaks the clause applied; the action is limited to what stops "
                "the harm."
                if acting
                else "The reported content does not break the clause applied."
            ),
            automated_detection=automated,
            automated_decision=AutomatedDecision.PARTIALLY
            if automated and self.rng.random() < 0.5
            else AutomatedDecision.NOT_AUTOMATED,
            territorial_scope=self.rng.choice([["CN"], ["CN"], ["DE", "FR"], ["CN", "IE"]]),
            restriction_end=(deadlines.business_date(at) + timedelta(days=30))
            if DecisionAction.ACCOUNT_SUSPENDED in actions
            else None,
            now=at,
        )

    def appeal(self, complainant: Any, ref: dict[str, Any], at: datetime) -> None:
        ref["appeal"] = services.appeal_file(
            actor=complainant,
            decision=ref["decision"],
            statement=self.rng.choice(
                [
                    "I disagree: the decision ignores the evidence I sent.",
                    "我不同意这个处理结果，请重新审核。",
                ]
            ),
            now=at,
        )

    def decide_appeal(self, lead: Any, ref: dict[str, Any], category: str, at: datetime) -> None:
        original = ref["decision"]
        was_acting = original.outcome in {DecisionOutcome.UPHELD, DecisionOutcome.PARTIALLY_UPHELD}
        outcome = self.rng.choices(
            [AppealOutcome.UPHELD, AppealOutcome.REVERSED, AppealOutcome.MODIFIED],
            weights=[50, 35, 15],
        )[0]
        kwargs: dict[str, Any] = {}
        if outcome == AppealOutcome.REVERSED:
            kwargs = (
                {
                    "decision_outcome": DecisionOutcome.REJECTED,
                    "actions": [DecisionAction.NONE],
                    "ground": DecisionGround.TERMS_OF_SERVICE,
                    "ground_reference": "",
                }
                if was_acting
                else {
                    "decision_outcome": DecisionOutcome.UPHELD,
                    "actions": ACTIONS[category]
                    if ACTIONS[category] != [DecisionAction.NONE]
                    else [DecisionAction.CONTENT_LABELLED],
                }
            )
        elif outcome == AppealOutcome.MODIFIED:
            if was_acting:
                kwargs = {
                    "decision_outcome": DecisionOutcome.PARTIALLY_UPHELD
                    if original.outcome == DecisionOutcome.UPHELD
                    else DecisionOutcome.UPHELD
                }
            else:
                kwargs = {
                    "decision_outcome": DecisionOutcome.NO_ACTION
                    if original.outcome != DecisionOutcome.NO_ACTION
                    else DecisionOutcome.REJECTED
                }
        if original.restriction_end and kwargs.get("actions", original.actions) == original.actions:
            kwargs["restriction_end"] = (
                original.restriction_end
                if original.restriction_end > deadlines.business_date(at)
                else None
            )
            if kwargs["restriction_end"] is None:
                kwargs.pop("restriction_end")
        services.appeal_decide(
            actor=lead,
            appeal=ref["appeal"],
            outcome=outcome,
            facts="Second review by the department lead, who took no part in the first decision.",
            reasons={
                AppealOutcome.UPHELD: "The original decision applied the clause correctly.",
                AppealOutcome.REVERSED: "New evidence shows the first decision was wrong.",
                AppealOutcome.MODIFIED: "The first decision was right but its action is adjusted.",
            }[outcome],
            policy_clause=self.clause_for(category, at),
            now=at,
            **kwargs,
        )

    def replay(self) -> None:
        while self.steps:
            heapq.heappop(self.steps).run()


def _accounts(*, setup_codes: bool) -> list[tuple[str, str, str, str]]:
    """The main accounts, each with its API token and, when the demo has just been loaded, a
    set-up code for each staff account (issued as an operator would, at the command line)."""
    rows = []
    user_model = get_user_model()
    for username, role, dept, _first, _last in MAIN_ACCOUNTS:
        user = user_model.objects.get(username=username)
        token, _created = Token.objects.get_or_create(user=user)
        label = ROLE_LABELS[role] + (f", {dept}" if dept else "")
        code = ""
        if setup_codes and policies.needs_two_factor(user):
            code = services.two_factor_code_issue(actor=None, user=user)[1]
        rows.append((username, label, token.key, code))
    rows.append(
        (
            "handler_<dept>_1|2, lead_<dept>",
            "handlers and leads of every other department",
            "-",
            "",
        )
    )
    rows.append(("citizen01 .. citizen24", "more complainants", "-", ""))
    return rows


def load_demo(*, complaints: int = 500, seed: int = 2026) -> DemoResult:
    """Load the demo once (all or nothing); later calls only report the accounts."""
    with transaction.atomic():
        existing = Complaint.objects.count()
        if existing:
            return DemoResult(False, existing, _accounts(setup_codes=False))
        rng = random.Random(seed)  # noqa: S311 - demo data, not security
        demo = _Demo(rng, timezone.now())
        admin = demo.people()
        demo.holidays(admin)
        demo.clauses(admin)
        for _n in range(complaints):
            demo.plan(admin)
        demo.replay()
    # Outside the loading transaction: a checkpoint signs only what has been committed.
    ledger_seal()
    _publish_last_month()
    return DemoResult(True, Complaint.objects.count(), _accounts(setup_codes=True))


def _publish_last_month() -> None:
    """Publish last month's oversight report, so the transparency page has one to show."""
    from audits.reports import report_publish

    first_of_month = deadlines.business_date(timezone.now()).replace(day=1)
    last_month = first_of_month - timedelta(days=1)
    supervisor = get_user_model().objects.get(username="supervisor")
    report_publish(actor=supervisor, period=f"{last_month:%Y-%m}")
