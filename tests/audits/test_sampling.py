"""Quality sampling: the draw reproduces and cannot be steered unseen, reviews are blind and
conflict-free, agreement is Cohen's kappa, and "disagree" opens a corrective action."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from audits import sampling, selectors
from audits.choices import EventType
from audits.models import (
    Checkpoint,
    CorrectiveAction,
    LedgerEntry,
    QualitySample,
    Review,
    SampleItem,
)
from audits.services import ledger_append
from audits.triggers import triggers_lifted
from governance import services
from governance.choices import ComplaintStatus, DecisionOutcome, Role
from governance.errors import Conflict, ImmutableRecord, NotFound, PermissionDenied
from privacy.pseudonyms import actor_ref
from tests import factories
from tests.factories import PATHS, Flow

S = ComplaintStatus
GOOD = {
    "clause_correct": 5,
    "facts_adequate": 4,
    "action_proportionate": 4,
    "deadline_met": 5,
    "reasons_clear": 3,
}


def _month() -> tuple[Any, Any]:
    today = timezone.localdate()
    start = today.replace(day=1)
    end = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return start, end - timedelta(days=1)


def decided(category: str = "harassment", outcome: str = DecisionOutcome.UPHELD) -> Flow:
    """A complaint decided with `outcome`, by its own handler."""
    f = factories.flow_at(S.INVESTIGATING, category_code=category)
    overrides: dict[str, Any] = {} if outcome == DecisionOutcome.UPHELD else {"outcome": outcome}
    if outcome != DecisionOutcome.UPHELD:
        overrides["actions"] = []
    f.decision = services.decision_record(
        actor=f.handler, complaint=f.refresh(), **factories.decision_kwargs(**overrides)
    )
    return f


def draw(actor: Any, **kwargs: Any) -> QualitySample:
    start, end = _month()
    values: dict[str, Any] = {
        "period_start": start,
        "period_end": end,
        "rate": Decimal("0.25"),
        "min_per_stratum": 2,
        "double_review_share": Decimal("0.5"),
    }
    values.update(kwargs)
    return sampling.sample_draw(actor=actor, **values)


@pytest.fixture
def cases() -> dict[str, list[Flow]]:
    """Six decisions in force this month, in three strata of sizes 4, 1 and 1."""
    return {
        "moderation/harassment/upheld": [decided() for _ in range(4)],
        "moderation/violence/upheld": [decided("violence")],
        "moderation/harassment/rejected": [decided(outcome=DecisionOutcome.REJECTED)],
    }


def _stored(sample: QualitySample) -> list[sampling.Drawn]:
    return sorted(
        sampling.Drawn(d, s, x)
        for d, s, x in sample.items.values_list("decision_id", "stratum", "double_review")
    )


def _verify(pk: int) -> str:
    out = StringIO()
    call_command("draw_sample", verify=pk, stdout=out)
    return out.getvalue()


@pytest.fixture
def superuser_sql() -> Any:
    """Lift the sampling tables' triggers, as a database superuser could."""
    tables = [QualitySample._meta.db_table, SampleItem._meta.db_table]
    with triggers_lifted(connection, tables):
        yield


def _sql(statement: str, params: list[Any]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


# --- the draw ----------------------------------------------------------------------------------


def test_draw_takes_strata_with_a_minimum_each(cases, supervisor):
    sample = draw(supervisor)

    items = list(sample.items.all())
    by_stratum: dict[str, int] = {}
    for item in items:
        by_stratum[item.stratum] = by_stratum.get(item.stratum, 0) + 1
    # 4 decisions: max(2, ceil(0.25 * 4)) = 2; a stratum of 1 gives its only decision.
    assert by_stratum == {
        "moderation/harassment/upheld": 2,
        "moderation/violence/upheld": 1,
        "moderation/harassment/rejected": 1,
    }
    assert sample.population == 6
    assert sum(item.double_review for item in items) == 2  # ceil(0.5 * 4)
    in_stratum = {f.decision.pk for f in cases["moderation/harassment/upheld"]}
    assert {i.decision_id for i in items if i.stratum.endswith("harassment/upheld")} <= in_stratum


def test_rate_above_the_minimum_decides_the_count(cases, supervisor):
    sample = draw(supervisor, rate=Decimal("0.6"), min_per_stratum=0, double_review_share=0)

    counts = {
        s: sample.items.filter(stratum=s).count() for s in cases
    }  # ceil(0.6 * 4) = 3, ceil(0.6 * 1) = 1
    assert counts == {
        "moderation/harassment/upheld": 3,
        "moderation/violence/upheld": 1,
        "moderation/harassment/rejected": 1,
    }
    assert not sample.items.filter(double_review=True).exists()


def test_the_same_draw_reproduces(cases, supervisor):
    # given
    sample = draw(supervisor)
    params = sampling.DrawParameters.of(sample)

    # when: anyone recomputes it from the stored parameters and the named checkpoint
    population = sampling.population_at(params, sample.checkpoint.tree_size)
    again = sampling.choose(population, sampling.draw_seed(params, sample.checkpoint), params)

    # then
    assert again == _stored(sample)
    assert sampling.sample_verify(sample).ok
    assert f"Sample {sample.pk} verifies" in _verify(sample.pk)


def test_seed_comes_from_a_checkpoint_signed_for_the_draw(cases, supervisor):
    before = Checkpoint.objects.count()

    sample = draw(supervisor)

    checkpoint = sample.checkpoint
    assert Checkpoint.objects.count() == before + 1  # the draw sealed the ledger first
    assert sample.seed_source == f"checkpoint:{checkpoint.tree_size}:{checkpoint.root_hash}"
    assert sample.seed == sampling.draw_seed(sampling.DrawParameters.of(sample), checkpoint)
    entry = LedgerEntry.objects.get(object_ref=f"quality_sample:{sample.pk}")
    assert entry.event_type == EventType.SAMPLE_DRAWN
    assert entry.seq >= checkpoint.tree_size  # the seed was fixed before the draw's record
    data = json.loads(entry.body)["data"]
    assert data["seed"] == sample.seed
    assert data["seed_source"] == sample.seed_source
    assert data["parameters"]["rate"] == "0.2500"
    assert sorted(row[0] for row in data["items"]) == sorted(
        sample.items.values_list("decision_id", flat=True)
    )
    assert data["items"]
    assert entry.actor_ref == actor_ref(supervisor)


def test_later_decisions_do_not_change_a_past_draw(cases, supervisor):
    # The population is fixed by the checkpoint, not by the clock.
    sample = draw(supervisor)

    decided()  # decided this month, after the draw
    f = cases["moderation/violence/upheld"][0]
    f.walk(S.APPEALED, S.APPEAL_DECIDED)  # the drawn decision is superseded afterwards

    assert sampling.sample_verify(sample).ok


def test_verify_reports_a_tampered_seed(cases, supervisor, superuser_sql):
    sample = draw(supervisor)

    _sql("UPDATE audits_qualitysample SET seed = %s WHERE id = %s", ["0" * 64, sample.pk])

    with pytest.raises(CommandError, match="Steered: the stored seed"):
        _verify(sample.pk)


def test_verify_reports_a_swapped_item(cases, supervisor, superuser_sql):
    # given: a drawn decision of the big stratum swapped for one the draw left out
    sample = draw(supervisor)
    stratum = "moderation/harassment/upheld"
    chosen = set(sample.items.filter(stratum=stratum).values_list("decision_id", flat=True))
    left_out = next(f.decision.pk for f in cases[stratum] if f.decision.pk not in chosen)
    item = sample.items.filter(stratum=stratum).first()

    # when
    _sql("UPDATE audits_sampleitem SET decision_id = %s WHERE id = %s", [left_out, item.pk])

    # then
    with pytest.raises(CommandError, match="Steered: the stored items differ") as exc:
        _verify(sample.pk)
    assert "Ledger entry" in str(exc.value)  # and the draw's ledger event disagrees too


def test_verify_reports_a_draw_made_with_another_seed(cases, supervisor):
    # given: a draw stored whole and consistent (rows and ledger event), but with a seed chosen
    # by hand instead of the one the parameters and checkpoint give
    from audits.services import ledger_seal

    checkpoint, _new = ledger_seal()
    start, end = _month()
    params = sampling.DrawParameters(start, end, Decimal("0.25"), 2, Decimal("0.5"))
    steered = "ab" * 32
    population = sampling.population_at(params, checkpoint.tree_size)
    chosen = sampling.choose(population, steered, params)
    with transaction.atomic():
        sample = QualitySample(
            period_start=start,
            period_end=end,
            rate=params.rate,
            min_per_stratum=2,
            double_review_share=params.double_review_share,
            checkpoint=checkpoint,
            seed=steered,
            seed_source=sampling.seed_source_for(checkpoint),
            population=6,
            drawn_by=supervisor,
            drawn_by_ref=actor_ref(supervisor),
            drawn_at=timezone.now(),
        )
        sample.save()
        for d in chosen:
            SampleItem(
                sample=sample,
                decision_id=d.decision_id,
                stratum=d.stratum,
                double_review=d.double_review,
            ).save()
        ledger_append(
            event_type=EventType.SAMPLE_DRAWN,
            object_ref=f"quality_sample:{sample.pk}",
            actor_ref=sample.drawn_by_ref,
            data=sampling._draw_ledger_data(sample, chosen),
        )

    # when
    check = sampling.sample_verify(sample)

    # then
    assert not check.ok
    assert check.expected_seed != steered
    assert any("Steered: the stored seed" in p for p in check.problems)
    with pytest.raises(CommandError, match="does not verify"):
        _verify(sample.pk)


def test_only_supervisors_draw_and_once_per_period(cases, supervisor, compliance, lead):
    for user in (compliance, lead):
        with pytest.raises(PermissionDenied):
            draw(user)

    draw(supervisor)

    with pytest.raises(Conflict, match="drawn already"):
        draw(factories.user_with_role(Role.SUPERVISOR))


def test_an_empty_period_draws_nothing(supervisor):
    from governance.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        draw(supervisor)
    assert not QualitySample.objects.exists()


def test_command_draws_a_month_as_a_named_supervisor(cases):
    factories.user_with_role(Role.SUPERVISOR, username="sam")
    start, _end = _month()
    out = StringIO()

    call_command("draw_sample", period=start.strftime("%Y-%m"), username="sam", stdout=out)

    sample = QualitySample.objects.get()
    assert f"Drew sample {sample.pk}" in out.getvalue()
    assert sample.period_start == start
    assert sample.rate == Decimal("0.05")
    assert "verifies" in _verify(sample.pk)
    with pytest.raises(CommandError, match="Only supervisors"):
        call_command("draw_sample", period="2025-01", username=factories.UserFactory().username)


# --- who may review what -----------------------------------------------------------------------


def _supervising(user: Any) -> Any:
    services.role_grant(actor=factories.superuser(), user=user, role=Role.SUPERVISOR)
    from governance.policies import forget_roles

    forget_roles(user)
    return user


def _only_item(sample: QualitySample) -> SampleItem:
    return sample.items.get()


def test_supervisor_cannot_review_a_decision_they_took(supervisor):
    # given: a handler who is also a supervisor decided the only decision in the sample
    f = decided()
    _supervising(f.handler)
    sample = draw(supervisor)
    item = _only_item(sample)

    # when / then
    with pytest.raises(PermissionDenied, match="took part"):
        sampling.review_record(actor=f.handler, item=item, scores=GOOD, verdict="agree")
    with pytest.raises(NotFound):
        selectors.sample_item_next(user=f.handler, sample=sample)
    assert selectors.sample_item_next(user=supervisor, sample=sample) == item


def test_supervisor_cannot_review_a_correction_of_their_decision(supervisor):
    # given: the in-force decision is a lead's correction of the supervisor-handler's decision
    f = decided()
    services.decision_record(
        actor=f.lead,
        complaint=f.refresh(),
        supersedes=f.decision,
        **factories.decision_kwargs(reasons="Corrected reasons."),
    )
    _supervising(f.handler)
    sample = draw(supervisor)
    item = _only_item(sample)
    assert item.decision.decided_by == f.lead  # the in-force decision is the correction

    with pytest.raises(PermissionDenied, match="took part"):
        sampling.review_record(actor=f.handler, item=item, scores=GOOD, verdict="agree")


def test_supervisor_cannot_review_an_appeal_outcome_of_their_decision(supervisor):
    # given: the appeal against the supervisor-handler's decision was decided by the lead
    f = decided()
    f.walk(S.APPEALED, S.APPEAL_DECIDED)
    _supervising(f.handler)
    sample = draw(supervisor)
    item = _only_item(sample)
    assert item.decision.appeal_id is not None

    with pytest.raises(PermissionDenied, match="took part"):
        sampling.review_record(actor=f.handler, item=item, scores=GOOD, verdict="agree")
    # ...nor may the lead who decided the appeal, once a supervisor too
    _supervising(f.lead)
    with pytest.raises(PermissionDenied, match="took part"):
        sampling.review_record(actor=f.lead, item=item, scores=GOOD, verdict="agree")


def test_only_supervisors_review(cases, supervisor, compliance):
    item = draw(supervisor).items.first()

    with pytest.raises(PermissionDenied):
        sampling.review_record(actor=compliance, item=item, scores=GOOD, verdict="agree")


def test_double_review_takes_two_different_supervisors(cases, supervisor):
    # given
    sample = draw(supervisor)
    double = sample.items.filter(double_review=True).first()
    single = sample.items.filter(double_review=False).first()
    first, second, third = (factories.user_with_role(Role.SUPERVISOR) for _ in range(3))

    # when / then: one review each, two on the double item, one on the single
    sampling.review_record(actor=first, item=double, scores=GOOD, verdict="agree")
    with pytest.raises(Conflict, match="already"):
        sampling.review_record(actor=first, item=double, scores=GOOD, verdict="agree")
    sampling.review_record(actor=second, item=double, scores=GOOD, verdict="agree")
    with pytest.raises(Conflict, match="all the reviews"):
        sampling.review_record(actor=third, item=double, scores=GOOD, verdict="agree")
    sampling.review_record(actor=first, item=single, scores=GOOD, verdict="agree")
    with pytest.raises(Conflict, match="all the reviews"):
        sampling.review_record(actor=second, item=single, scores=GOOD, verdict="agree")

    assert set(double.reviews.values_list("reviewer", flat=True)) == {first.pk, second.pk}


def test_next_item_skips_what_i_reviewed_and_what_is_done(cases, supervisor):
    sample = draw(supervisor)
    me = factories.user_with_role(Role.SUPERVISOR)
    seen = []

    for _ in range(sample.items.count()):
        item = selectors.sample_item_next(user=me, sample=sample)
        seen.append(item.pk)
        sampling.review_record(actor=me, item=item, scores=GOOD, verdict="agree")

    assert sorted(seen) == sorted(sample.items.values_list("pk", flat=True))
    with pytest.raises(NotFound):
        selectors.sample_item_next(user=me, sample=sample)
    # another supervisor is offered only the double items, which still need a second review
    other = factories.user_with_role(Role.SUPERVISOR)
    assert selectors.sample_item_next(user=other, sample=sample).double_review


def test_review_is_recorded_in_the_ledger_without_its_comment(cases, supervisor):
    item = draw(supervisor).items.first()
    comment = "The reasons never mention the clause."

    review = sampling.review_record(
        actor=supervisor, item=item, scores=GOOD, verdict="agree", comment=comment
    )

    entry = LedgerEntry.objects.get(object_ref=f"review:{review.pk}")
    assert entry.event_type == EventType.REVIEW_RECORDED
    assert comment not in entry.body
    data = json.loads(entry.body)["data"]
    assert data["scores"] == GOOD
    assert data["comment_sha256"] == sampling.sha256_hex(comment)


@pytest.mark.parametrize(
    "scores",
    [
        {**GOOD, "clause_correct": 0},
        {**GOOD, "reasons_clear": 6},
        {k: v for k, v in GOOD.items() if k != "deadline_met"},
        {**GOOD, "tone": 3},
    ],
)
def test_review_needs_every_score_from_1_to_5(cases, supervisor, scores):
    from governance.errors import ValidationFailed

    item = draw(supervisor).items.first()

    with pytest.raises(ValidationFailed):
        sampling.review_record(actor=supervisor, item=item, scores=scores, verdict="agree")
    assert not Review.objects.exists()


# --- agreement ---------------------------------------------------------------------------------


def test_kappa_of_the_textbook_example():
    # Wikipedia, "Cohen's kappa", first worked example: 50 proposals read by two readers,
    # yes/yes 20, yes/no 5, no/yes 10, no/no 15. p_o = 0.7, p_e = 0.5, kappa = 0.4.
    pairs = (
        [("agree", "agree")] * 20
        + [("agree", "disagree")] * 5
        + [("disagree", "agree")] * 10
        + [("disagree", "disagree")] * 15
    )

    result = sampling.cohens_kappa(pairs)

    assert result.n == 50
    assert result.observed == pytest.approx(0.7)
    assert result.expected == pytest.approx(0.5)
    assert result.kappa == pytest.approx(0.4)


def test_kappa_degenerate_cases():
    same = sampling.cohens_kappa([("agree", "agree")] * 7)
    assert (same.n, same.observed, same.expected, same.kappa) == (7, 1.0, 1.0, None)

    assert sampling.cohens_kappa([]) == sampling.Agreement(0, None, None, None)
    # Perfect disagreement on a balanced split: p_o = 0, p_e = 0.5, kappa = -1.
    opposite = sampling.cohens_kappa([("agree", "disagree"), ("disagree", "agree")])
    assert opposite.kappa == pytest.approx(-1.0)


def test_sample_agreement_pairs_the_double_reviews(cases, supervisor):
    sample = draw(supervisor)
    a, b = (factories.user_with_role(Role.SUPERVISOR) for _ in range(2))
    first, second = sample.items.filter(double_review=True)
    sampling.review_record(actor=a, item=first, scores=GOOD, verdict="agree")
    sampling.review_record(actor=b, item=first, scores=GOOD, verdict="agree")
    sampling.review_record(actor=a, item=second, scores=GOOD, verdict="agree")
    sampling.review_record(actor=b, item=second, scores=GOOD, verdict="disagree")

    result = sampling.sample_agreement(sample)

    assert result.n == 2
    assert result.observed == pytest.approx(0.5)
    assert result == sampling.cohens_kappa([("agree", "agree"), ("agree", "disagree")])
    assert sampling.sample_verdicts(sample) == {"agree": 3, "disagree": 1}


# --- corrective actions ------------------------------------------------------------------------


def test_disagree_opens_an_action_the_departments_lead_closes(cases, supervisor):
    # given
    item = draw(supervisor).items.first()
    lead = factories.user_with_role(Role.DEPARTMENT_LEAD, "moderation")
    other_lead = factories.user_with_role(Role.DEPARTMENT_LEAD, "copyright")

    # when: a reviewer disagrees
    review = sampling.review_record(
        actor=supervisor, item=item, scores=GOOD, verdict="disagree", comment="Too harsh."
    )

    # then: an open action for the moderation department, seen by its lead only
    action = CorrectiveAction.objects.get()
    assert (action.item, action.review, action.department.code) == (item, review, "moderation")
    assert action.status == "open"
    assert list(selectors.corrective_action_list(user=lead)) == [action]
    assert list(selectors.corrective_action_list(user=other_lead)) == []
    assert LedgerEntry.objects.filter(
        object_ref=f"corrective_action:{action.pk}", event_type=EventType.CORRECTIVE_ACTION_OPENED
    ).exists()

    # and only the department's lead closes it, once
    for outsider in (other_lead, supervisor):
        with pytest.raises(PermissionDenied):
            sampling.corrective_action_close(actor=outsider, action=action, resolution="Done.")
    closed = sampling.corrective_action_close(
        actor=lead, action=action, resolution="Coached the handler on proportionality."
    )
    assert (closed.status, closed.closed_by) == ("closed", lead)
    with pytest.raises(Conflict):
        sampling.corrective_action_close(actor=lead, action=action, resolution="Again.")
    assert [h.status for h in action.history.order_by("history_id")] == ["open", "closed"]
    entry = LedgerEntry.objects.get(event_type=EventType.CORRECTIVE_ACTION_CLOSED)
    assert "Coached" not in entry.body


def test_agree_opens_no_action_and_a_second_disagree_no_duplicate(cases, supervisor):
    sample = draw(supervisor)
    double = sample.items.filter(double_review=True).first()
    other = factories.user_with_role(Role.SUPERVISOR)

    sampling.review_record(actor=supervisor, item=double, scores=GOOD, verdict="agree")
    assert not CorrectiveAction.objects.exists()
    sampling.review_record(actor=other, item=double, scores=GOOD, verdict="disagree")
    assert CorrectiveAction.objects.count() == 1


# --- the blind view ----------------------------------------------------------------------------


def test_blind_view_holds_no_personal_data(supervisor):
    # given: a complaint recorded by staff with a unique name, e-mail, phone and description
    factories.policy_clause()
    handler = factories.user_with_role(Role.HANDLER, "moderation")
    lead = factories.user_with_role(Role.DEPARTMENT_LEAD, "moderation")
    secrets = {
        "complainant_name": "Zebedee Quillfeather-Marchbanks",
        "complainant_email": "zebedee.q.7731@example.test",
        "complainant_phone": "+44 20 7946 0381",
        "description": "Unmistakable description ZQX-48213 of the insulting comments.",
        "affected_account_handle": "@quillfeather_target_9921",
    }
    complaint = factories.file_complaint(handler, **secrets)
    f = Flow(complaint, None, handler, lead).walk(*PATHS[S.DECIDED])

    # when
    view = sampling.blind_view(selectors.sample_item_next(user=supervisor, sample=draw(supervisor)))

    # then
    text = json.dumps(view, default=str, ensure_ascii=False)
    for value in secrets.values():
        assert value not in text
    for staff in (handler, lead):
        assert staff.username not in text
        assert staff.last_name not in text
    assert view["complaint"]["complainant"] == f.complaint.complainant.pseudonym
    assert view["decision"]["decided_by"] == actor_ref(handler)
    assert view["policy_clause"]["code"] == "TOS-3.1"
    assert view["complaint"]["deadlines_met"] == {
        "acknowledge": True,
        "triage": True,
        "decide": True,
    }


# --- append-only -------------------------------------------------------------------------------


def test_samples_items_and_reviews_are_append_only(cases, supervisor):
    sample = draw(supervisor)
    item = sample.items.first()
    review = sampling.review_record(actor=supervisor, item=item, scores=GOOD, verdict="agree")

    sample.seed = "0" * 64
    with pytest.raises(ImmutableRecord):
        sample.save()
    with pytest.raises(ImmutableRecord):
        item.delete()
    with pytest.raises(ImmutableRecord):
        Review.objects.filter(pk=review.pk).update(verdict="disagree")
    for table, column, value in (
        ("audits_qualitysample", "seed", "0" * 64),
        ("audits_sampleitem", "double_review", True),
        ("audits_review", "verdict", "disagree"),
    ):
        with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
            _sql(f"UPDATE {table} SET {column} = %s", [value])  # noqa: S608
    assert QualitySample.objects.get().seed != "0" * 64
