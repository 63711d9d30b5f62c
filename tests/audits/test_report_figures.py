"""Every figure of an oversight report, against a data set built by hand through the services.

The data set is March 2025 (business time, Asia/Shanghai), with a few records before it. Each
expected figure below is worked out from the records as they are made; the comments say which
records make it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from audits import figures, sampling
from audits.figures import Period, Stat, Table, Tally, suppress
from governance import services
from governance.choices import Role
from governance.models import Complaint
from privacy import services as privacy_services
from tests import factories

ZONE = ZoneInfo("Asia/Shanghai")
MARCH = Period.parse("2025-03")
AS_OF = datetime(2025, 6, 1, tzinfo=ZONE)  # every deadline of March has passed by then
GOOD = {
    "clause_correct": 5,
    "facts_adequate": 4,
    "action_proportionate": 4,
    "deadline_met": 5,
    "reasons_clear": 3,
}


def at(month: int, day: int, hour: int = 10, year: int = 2025) -> datetime:
    return datetime(year, month, day, hour, tzinfo=ZONE)


@dataclass
class Cast:
    handler: Any
    lead: Any
    privacy: Any
    supervisors: tuple[Any, Any, Any]
    people: dict[str, Any]


def _file(person: Any, when: datetime, *, channel: str = "web_form", **kwargs: Any) -> Complaint:
    values = {"content_url": "", "content_id": ""}
    values.update(kwargs)
    return factories.file_complaint(person, channel=channel, now=when, **values)


def _work(cast: Cast, complaint: Complaint, start: datetime) -> Complaint:
    """Acknowledge, triage, assign and start investigating, an hour apart from `start`."""
    h = cast.handler
    services.complaint_acknowledge(actor=h, complaint=complaint, now=start + timedelta(hours=1))
    complaint.refresh_from_db()
    services.complaint_triage(actor=h, complaint=complaint, now=start + timedelta(hours=2))
    complaint.refresh_from_db()
    services.complaint_assign(
        actor=cast.lead, complaint=complaint, assignee=h, now=start + timedelta(hours=3)
    )
    complaint.refresh_from_db()
    services.complaint_start_investigation(
        actor=h, complaint=complaint, now=start + timedelta(hours=4)
    )
    complaint.refresh_from_db()
    # The hand-built expectations below count these stages as met.
    assert complaint.acknowledged_at <= complaint.acknowledge_due_at
    assert complaint.triaged_at <= complaint.triage_due_at
    return complaint


def _decide(cast: Cast, complaint: Complaint, when: datetime, **kwargs: Any) -> Any:
    values = factories.decision_kwargs(policy_clause=cast.people["clause"])
    values.update(kwargs)
    complaint.refresh_from_db()
    return services.decision_record(actor=cast.handler, complaint=complaint, now=when, **values)


def build() -> Cast:
    clause = factories.policy_clause("TOS-R1", effective_from=date(2025, 1, 1))
    person = {
        name: factories.user_with_role(Role.COMPLAINANT, username=f"person-{name}")
        for name in "ABCD"
    }
    person["clause"] = clause
    cast = Cast(
        handler=factories.user_with_role(Role.HANDLER, "moderation"),
        lead=factories.user_with_role(Role.DEPARTMENT_LEAD, "moderation"),
        privacy=factories.user_with_role(Role.PRIVACY_OFFICER),
        supervisors=(
            factories.user_with_role(Role.SUPERVISOR),
            factories.user_with_role(Role.SUPERVISOR),
            factories.user_with_role(Role.SUPERVISOR),
        ),
        people=person,
    )
    a, b, c, d = (person[n] for n in "ABCD")

    # Before March: P1 (C, content vid-9), decided on 2 March; P2 (D, content vid-7).
    p1 = _work(cast, _file(c, at(2, 20), content_id="vid-9"), at(2, 20))
    _decide(cast, p1, at(3, 2), outcome="rejected", actions=[])  # 240 h to decision
    _file(d, at(11, 20, year=2024), content_id="vid-7")

    # C1: A, in-app, decided in 48 h with two actions, automation involved; appealed and
    # reversed by the lead; closed and rated 4.
    c1 = _work(cast, _file(a, at(3, 3), channel="in_app", content_id="vid-1"), at(3, 3))
    first = _decide(
        cast,
        c1,
        at(3, 5),
        actions=["content_removed", "account_warned"],
        automated_detection=True,
        automated_decision="partially",
    )
    c1.refresh_from_db()
    assert c1.decided_at <= c1.decision_due_at
    appeal = services.appeal_file(
        actor=a, decision=first, statement="Please look again.", now=at(3, 6)
    )
    services.appeal_decide(
        actor=cast.lead,
        appeal=appeal,
        outcome="reversed",
        decision_outcome="rejected",
        actions=[],
        facts="The comment quotes the complainant; it insults nobody.",
        reasons="Quoting is allowed; the removal is undone.",
        now=at(3, 10),
    )
    c1.refresh_from_db()
    services.complaint_close(actor=cast.handler, complaint=c1, now=at(3, 11))
    services.complaint_rate(actor=a, complaint=c1, score=4, now=at(3, 12))

    # C2: A again, through the API, seven days after C1 (a repeat by complainant);
    # acknowledged late, then left: triage and decision missed.
    c2 = _file(a, at(3, 10, 9), channel="api")
    services.complaint_acknowledge(
        actor=cast.handler, complaint=c2, now=c2.acknowledge_due_at + timedelta(hours=1)
    )

    # C3: B, about vid-1 like C1 (a repeat by content); withdrawn before any deadline.
    c3 = _file(b, at(3, 12, 9), content_id="vid-1")
    services.complaint_withdraw(actor=b, complaint=c3, reason="Sorted it out.", now=at(3, 12))

    # C4: C, through the API, about vid-9 like P1 and 23 days after it (a repeat both ways);
    # decided in 60 h on illegality; closed and rated 2.
    c4 = _work(cast, _file(c, at(3, 15), channel="api", content_id="vid-9"), at(3, 15))
    _decide(
        cast,
        c4,
        at(3, 17, 22),
        ground="illegal_content",
        ground_reference="Cybersecurity Law, Art. 12",
    )
    c4.refresh_from_db()
    assert c4.decided_at <= c4.decision_due_at
    services.complaint_close(actor=cast.handler, complaint=c4, now=at(3, 21))
    services.complaint_rate(actor=c, complaint=c4, score=2, now=at(3, 22))

    # C5: D, about vid-7 like P2, but 125 days later: no repeat. Left unhandled.
    _file(d, at(3, 25), content_id="vid-7")

    # C6: a caller, recorded by the handler from the phone. Left unhandled.
    _file(
        cast.handler,
        at(3, 18),
        channel="phone",
        complainant_name="Wang Fang",
        complainant_email="wang.fang@example.test",
    )

    # A spike: ten privacy complaints on 28 March by ten people; the category had none before.
    for i in range(10):
        _file(
            factories.user_with_role(Role.COMPLAINANT),
            at(3, 28) + timedelta(minutes=i),
            category_code="privacy",
            content_url=f"https://video.example.com/v/s{i}",
        )

    # Privacy requests: B asks for deletion (answered in 3 days, erasing B); A asks for a copy
    # (refused in 2 days).
    deletion, _new = privacy_services.privacy_request_file(actor=b, kind="deletion", now=at(3, 5))
    privacy_services.privacy_request_verify_identity(
        actor=cast.privacy, request=deletion, now=at(3, 6)
    )
    privacy_services.privacy_request_complete(actor=cast.privacy, request=deletion, now=at(3, 8))
    access, _new = privacy_services.privacy_request_file(actor=a, kind="access", now=at(3, 7))
    privacy_services.privacy_request_refuse(
        actor=cast.privacy,
        request=access,
        reason="The data is needed for a court case.",
        legal_basis="PIPL Art. 18",
        now=at(3, 9),
    )

    # Legal holds: one on A placed 1 March and standing; one on C placed in February and
    # released 10 March; one on D placed 2 April. Open at the end of March: one.
    def hold(name: str, when: datetime, reason: str) -> Any:
        subject = Complaint.objects.filter(complainant__user=person[name]).first().complainant
        return privacy_services.legal_hold_place(
            actor=cast.privacy,
            subject=subject,
            reason=reason,
            review_on=(when + timedelta(days=180)).date(),
            now=when,
        )

    hold("A", at(3, 1), "Litigation.")
    privacy_services.legal_hold_release(
        actor=cast.privacy, hold=hold("C", at(2, 1), "Inquiry."), reason="Closed.", now=at(3, 10)
    )
    hold("D", at(4, 2), "Audit.")

    # The quality sample of March: every decision in force (P1's, C1's appeal outcome, C4's),
    # each reviewed twice: agree/agree, agree/disagree, disagree/disagree. Kappa = 0.4.
    s1, s2, drawer = cast.supervisors
    sample = sampling.sample_draw(
        actor=drawer,
        period_start=date(2025, 3, 1),
        period_end=date(2025, 3, 31),
        rate=Decimal("1"),
        min_per_stratum=1,
        double_review_share=Decimal("1"),
        now=at(3, 31, 12),
    )
    verdicts = [("agree", "agree"), ("agree", "disagree"), ("disagree", "disagree")]
    for item, (first_verdict, second_verdict) in zip(
        sample.items.order_by("id"), verdicts, strict=True
    ):
        sampling.review_record(
            actor=s1, item=item, scores=GOOD, verdict=first_verdict, now=at(3, 31, 13)
        )
        sampling.review_record(
            actor=s2, item=item, scores=GOOD, verdict=second_verdict, now=at(3, 31, 14)
        )
    return cast


def plain(value: Any) -> Any:
    """Return figures with every Tally and Stat replaced by its number."""
    if isinstance(value, Tally):
        return value.n
    if isinstance(value, Stat):
        return value.value
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def test_every_figure_against_a_hand_built_data_set() -> None:
    # given
    build()

    # when
    got = plain(figures.period_figures(MARCH, as_of=AS_OF))

    # then: complaints received in March: C1-C6 and the ten spike complaints
    complaints = got["complaints"]
    assert complaints["received"] == 16
    assert {k: v for k, v in complaints["by_channel"].items() if v} == {
        "in_app": 1,
        "api": 2,
        "phone": 1,
        "web_form": 12,
    }
    assert {k: v for k, v in complaints["by_category"].items() if v} == {
        "harassment": 6,
        "privacy": 10,
    }
    assert sum(complaints["by_department"].values()) == 16
    # Deadlines: C1 and C4 met each stage; C2 missed each (late, then never done); C5, C6 and
    # the ten spike complaints missed each (never done); C3 was withdrawn before any was due.
    for stage in ("acknowledge", "triage", "decide"):
        assert got["deadlines"][stage] == {
            "met": 2,
            "missed": 13,
            "pending": 0,
            "share_met": round(2 / 15, 4),
        }
    # First decided in March: P1 (240 h), C1 (48 h), C4 (60 h); p90 is rank 1.8 of 3.
    assert got["time_to_decision_hours"] == {"decided": 3, "median": 60.0, "p90": 204.0}
    # Decisions taken in March: P1, C1's first, C1's appeal outcome, C4's.
    decisions = got["decisions"]
    assert decisions["total"] == 4
    assert decisions["by_kind"] == {"initial": 3, "correction": 0, "appeal": 1}
    assert {k: v for k, v in decisions["by_outcome"].items() if v} == {
        "rejected": 2,
        "upheld": 2,
    }
    assert decisions["by_ground"] == {"illegal_content": 1, "terms_of_service": 3}
    assert {k: v for k, v in decisions["by_action"].items() if v} == {
        "content_removed": 2,
        "account_warned": 1,
    }
    # C1's first decision and its appeal outcome (which keeps the detection) were detected
    # automatically; only C1's first decision was partly automated.
    assert decisions["automated_detection"] == 2
    assert decisions["automated_detection_share"] == 0.5
    assert decisions["automated_decision"] == {"fully": 0, "partially": 1, "not_automated": 3}
    assert decisions["automated_decision_share"] == 0.25
    assert got["appeals"] == {
        "filed": 1,
        "decided": 1,
        "by_outcome": {"upheld": 0, "reversed": 1, "modified": 0},
        "reversal_rate": 1.0,
    }
    # Repeats: C2 (A, 7 days after C1), C3 (vid-1 after C1), C4 (C and vid-9 after P1).
    assert got["repeat_complaints"] == {
        "window_days": 90,
        "total": 3,
        "by_kind": {"same_complainant_only": 1, "same_content_only": 1, "both": 1},
        "share": round(3 / 16, 4),
    }
    assert got["satisfaction"] == {
        "ratings": 2,
        "mean": 3.0,
        "distribution": {"1": 0, "2": 1, "3": 0, "4": 1, "5": 0},
    }
    assert got["privacy_requests"] == {
        "deletion": {"received": 1, "completed": 1, "refused": 0, "median_days": 3.0},
        "access": {"received": 1, "completed": 0, "refused": 1, "median_days": 2.0},
    }
    assert got["erasures"] == {"deletion_request": 1, "retention": 0}
    assert got["legal_holds_open"] == 1
    quality = got["quality"]
    assert [(s["population"], s["items"], s["kappa"]) for s in quality["samples"]] == [(3, 3, 0.4)]
    assert quality["reviews"] == 6
    assert quality["verdicts"] == {"agree": 3, "disagree": 3}
    assert quality["double_reviewed_pairs"] == 3
    assert quality["kappa"] == 0.4
    assert quality["rubric_means"] == {name: float(score) for name, score in GOOD.items()}
    # The two items with a "disagree" opened one corrective action each, on 31 March.
    assert quality["corrective_actions"] == {"opened": 2, "closed": 0, "open_at_end": 2}
    spikes = got["early_warning"]["spikes"]
    assert [(s["day"], s["category"], s["count"]) for s in spikes] == [
        ("2025-03-28", "privacy", 10)
    ]


def test_a_stage_not_yet_due_is_pending_not_missed() -> None:
    # given: a complaint received on 31 March, counted before its deadlines
    complaint = _file(factories.user_with_role(Role.COMPLAINANT), at(3, 31, 20))

    # when
    got = plain(figures.period_figures(MARCH, as_of=complaint.acknowledge_due_at))

    # then
    assert got["deadlines"]["acknowledge"] == {
        "met": 0,
        "missed": 0,
        "pending": 1,
        "share_met": None,
    }


def test_percentiles_interpolate_like_percentile_cont() -> None:
    # given: complaints decided after 1, 2, 3 and 10 hours
    person = factories.user_with_role(Role.COMPLAINANT)
    for hours in (1, 2, 3, 10):
        complaint = _file(person, at(3, 4))
        Complaint.objects.filter(pk=complaint.pk).update(
            decided_at=complaint.received_at + timedelta(hours=hours)
        )
    decided = Complaint.objects.filter(decided_at__isnull=False)

    # when
    n, values = figures.percentiles(decided, "decided_at", "received_at", (0.0, 0.5, 0.9, 1.0))

    # then: ranks 0, 1.5, 2.7 and 3 of [1, 2, 3, 10] hours
    assert n == 4
    assert [round(v / 3600, 4) for v in values] == [1.0, 2.5, round(3 + 0.7 * 7, 4), 10.0]


@pytest.mark.parametrize(
    ("text", "kind", "start", "end"),
    [
        ("2026-10", "month", date(2026, 10, 1), date(2026, 10, 31)),
        ("2024-02", "month", date(2024, 2, 1), date(2024, 2, 29)),
        ("2026-Q4", "quarter", date(2026, 10, 1), date(2026, 12, 31)),
        ("2026-q1", "quarter", date(2026, 1, 1), date(2026, 3, 31)),
        ("2026", "year", date(2026, 1, 1), date(2026, 12, 31)),
    ],
)
def test_periods(text: str, kind: str, start: date, end: date) -> None:
    period = Period.parse(text)
    assert (period.kind, period.start, period.end) == (kind, start, end)


@pytest.mark.parametrize("text", ["", "2026-13", "2026-Q5", "Oct 2026", "26-10", "2026-10-01"])
def test_a_malformed_period_says_how_to_write_one(text: str) -> None:
    from governance.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as caught:
        Period.parse(text)
    assert "YYYY-MM" in caught.value.fields["period"][0]


# --- suppression ---------------------------------------------------------------------------------


def test_small_cells_are_withheld_and_zero_is_not() -> None:
    published = suppress({"a": Tally(4), "b": Tally(5), "c": Tally(0), "d": {"e": Tally(1)}}, 5)
    assert published.figures == {"a": None, "b": 5, "c": 0, "d": {"e": None}}
    assert published.paths == ["a", "d.e"]


def test_a_lone_small_cell_in_a_table_takes_the_next_smallest_with_it() -> None:
    # Otherwise the total (published elsewhere) minus the others would give it away.
    table = Table(x=Tally(3), y=Tally(40), z=Tally(12), w=Tally(0))
    published = suppress({"t": table}, 5)
    assert published.figures == {"t": {"x": None, "y": 40, "z": None, "w": 0}}
    assert sorted(published.paths) == ["t.x", "t.z"]


def test_two_small_cells_in_a_table_need_no_third() -> None:
    table = Table(x=Tally(3), y=Tally(2), z=Tally(12))
    published = suppress({"t": table}, 5)
    assert published.figures == {"t": {"x": None, "y": None, "z": 12}}


def test_withheld_cells_that_sum_to_a_small_number_take_another_with_them() -> None:
    # Two cells of 1 beside a total of 52: withheld, they sum to 2, so each must be 1.
    published = suppress({"t": Table(x=Tally(1), y=Tally(1), z=Tally(50))}, 5)
    assert published.figures == {"t": {"x": None, "y": None, "z": None}}
    published = suppress({"t": Table(x=Tally(1), y=Tally(1), z=Tally(4), w=Tally(30))}, 5)
    assert published.figures == {"t": {"x": None, "y": None, "z": None, "w": 30}}


def test_a_mean_is_withheld_with_any_cell_of_its_distribution() -> None:
    # With the count, the mean and all but two cells published, the two could be solved for.
    ratings = {
        "ratings": Tally(32),
        "mean": Stat(4.56, (32, 0, 0, 2, 10, 20)),
        "distribution": Table(
            {"1": Tally(0), "2": Tally(0), "3": Tally(2), "4": Tally(10), "5": Tally(20)}
        ),
    }
    published = suppress({"satisfaction": ratings}, 5)
    assert published.figures["satisfaction"]["mean"] is None
    assert published.figures["satisfaction"]["distribution"]["3"] is None


def test_a_stat_resting_on_a_small_count_is_withheld() -> None:
    published = suppress(
        {
            "median_of_three": Stat(12.5, (3,)),
            "share_with_small_rest": Stat(0.98, (98, 2)),
            "share_fine": Stat(0.5, (50, 50)),
            "share_of_nothing": Stat(0.0, (0, 40)),
            "undefined": Stat(None, (0,)),
        },
        5,
    )
    assert published.figures == {
        "median_of_three": None,
        "share_with_small_rest": None,
        "share_fine": 0.5,
        "share_of_nothing": 0.0,
        "undefined": None,
    }
    assert published.paths == ["median_of_three", "share_with_small_rest"]


def test_the_hand_built_month_published_withholds_its_small_cells() -> None:
    # given
    build()

    # when
    published = suppress(figures.period_figures(MARCH, as_of=AS_OF), 5)

    # then: the 16 complaints show, the single in-app and phone complaints do not
    f = published.figures
    assert f["complaints"]["received"] == 16
    # In-app 1, API 2 and phone 1 are withheld; together only 4, they would still be worked
    # out from the total, so the 12 by web form go too.
    assert f["complaints"]["by_channel"]["in_app"] is None
    assert f["complaints"]["by_channel"]["web_form"] is None
    assert f["complaints"]["by_category"] == {
        **dict.fromkeys(f["complaints"]["by_category"], 0),
        "harassment": 6,
        "privacy": 10,
    }
    assert "complaints.by_channel.phone" in published.paths
    # Four decisions, three appeals figures, two ratings: all too few to show.
    assert f["decisions"]["total"] is None
    assert f["satisfaction"]["mean"] is None
    assert f["appeals"]["reversal_rate"] is None
    assert f["time_to_decision_hours"]["median"] is None
    # Thirteen missed acknowledgements show; the two met, and so the share, do not.
    assert f["deadlines"]["acknowledge"]["missed"] == 13
    assert f["deadlines"]["acknowledge"]["met"] is None
    assert f["deadlines"]["acknowledge"]["share_met"] is None
    # Nothing published is a number below 5 but above 0.
    assert not any(0 < n < 5 for n in _numbers(f) if isinstance(n, int))


def _numbers(value: Any) -> list[Any]:
    """Every number in published figures but record ids, which count nothing."""
    if isinstance(value, dict):
        return [n for k, v in value.items() if k != "id" for n in _numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in _numbers(v)]
    return [value]


def test_the_repeats_are_a_partition_so_their_overlap_gives_nothing_away() -> None:
    # given: the hand-built month has one complaint of each kind of repeat
    build()

    # when
    published = suppress(figures.period_figures(MARCH, as_of=AS_OF), 5).figures

    # then: all three kinds are withheld, and the total with them
    assert published["repeat_complaints"]["by_kind"] == {
        "same_complainant_only": None,
        "same_content_only": None,
        "both": None,
    }
    assert published["repeat_complaints"]["total"] is None


def test_the_migration_marks_earlier_complaints_as_filing_marks_new_ones() -> None:
    # given: the hand-built month, flagged at filing, then the flags wiped as before the
    # migration that added them
    import importlib

    from django.db import connection

    build()
    flags = ("pk", "repeats_complainant", "repeats_content")
    at_filing = sorted(Complaint.objects.values_list(*flags))
    assert sum(1 for _pk, a, b in at_filing if a or b) == 3
    Complaint.objects.update(repeats_complainant=None, repeats_content=None)

    migration = importlib.import_module(
        "governance.migrations.0004_complaint_repeats_and_report_indexes"
    )

    # when
    migration.mark_repeats_on(connection)

    # then
    assert sorted(Complaint.objects.values_list(*flags)) == at_filing


def test_a_caller_recorded_twice_by_staff_is_the_same_complainant() -> None:
    # given: a handler records two phone calls from one person, ten days apart, each as a new
    # data subject, and a third from someone else
    handler = factories.user_with_role(Role.HANDLER, "moderation")

    def call(day: int, email: str) -> Complaint:
        return _file(
            handler,
            at(3, day),
            channel="phone",
            complainant_name="Li Lei",
            complainant_email=email,
        )

    first = call(3, "li.lei@example.test")
    second = call(13, "LI.LEI@example.test ")
    stranger = call(14, "han.meimei@example.test")

    # then: the second is a repeat by the same complainant; the others are not
    assert first.complainant_id != second.complainant_id
    assert (first.repeats_complainant, second.repeats_complainant) == (False, True)
    assert stranger.repeats_complainant is False
