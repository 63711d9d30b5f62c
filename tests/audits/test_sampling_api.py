"""The oversight API for quality sampling: shapes, the review round trip, 400/403/404/409."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from audits.models import CorrectiveAction, QualitySample
from governance.choices import ComplaintStatus, Role
from tests import factories

SCORES = {
    "clause_correct": 5,
    "facts_adequate": 4,
    "action_proportionate": 2,
    "deadline_met": 5,
    "reasons_clear": 3,
}


def _period() -> dict[str, str]:
    from django.utils import timezone

    start = timezone.localdate().replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return {"period_start": start.isoformat(), "period_end": end.isoformat()}


@pytest.fixture
def decided() -> Any:
    return [factories.flow_at(ComplaintStatus.DECIDED) for _ in range(2)]


def _draw(as_user: Any, supervisor: Any, **extra: Any) -> dict[str, Any]:
    response = as_user(supervisor).post(
        "/api/v1/oversight/samples/", {**_period(), "double_review_share": "1", **extra}
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_draw_review_and_close_round_trip(as_user, supervisor, decided, compliance):
    # given: a sample of both decisions, each to be reviewed twice
    sample = _draw(as_user, supervisor)
    assert sample["population"] == 2
    assert len(sample["items"]) == 2
    assert all(i["double_review"] and i["reviews"] == 0 for i in sample["items"])
    assert sample["agreement"] == {"n": 0, "observed": None, "expected": None, "kappa": None}
    url = f"/api/v1/oversight/samples/{sample['id']}/"

    # when: two supervisors take their next items and review them
    reviewers = [factories.user_with_role(Role.SUPERVISOR) for _ in range(2)]
    verdicts = {0: ["agree", "agree"], 1: ["agree", "disagree"]}
    for r, reviewer in enumerate(reviewers):
        client = as_user(reviewer)
        for _ in range(2):
            blind = client.get(url + "next/")
            assert blind.status_code == 200, blind.content
            body = blind.json()
            assert set(body) == {
                "item",
                "sample",
                "stratum",
                "reviews_needed",
                "complaint",
                "decision",
                "policy_clause",
            }
            index = [i["id"] for i in sample["items"]].index(body["item"])
            response = client.post(
                "/api/v1/oversight/reviews/",
                {"item": body["item"], "verdict": verdicts[index][r], "comment": "ok", **SCORES},
            )
            assert response.status_code == 201, response.content
        assert client.get(url + "next/").status_code == 404

    # then: the report shows agreement, verdicts and the corrective action
    report = as_user(compliance).get(url).json()
    assert report["agreement"]["n"] == 2
    assert report["agreement"]["observed"] == 0.5
    assert report["verdicts"] == {"agree": 3, "disagree": 1}
    action_id = CorrectiveAction.objects.get().pk
    assert [i["corrective_action"] for i in report["items"]].count(action_id) == 1
    assert as_user(compliance).get(url + "verify/").json()["ok"] is True

    # and the department's lead sees the action and closes it
    lead = factories.user_with_role(Role.DEPARTMENT_LEAD, "moderation")
    listed = as_user(lead).get("/api/v1/oversight/corrective-actions/").json()["results"]
    assert [(a["id"], a["status"], a["department"]) for a in listed] == [
        (action_id, "open", "moderation")
    ]
    close_url = f"/api/v1/oversight/corrective-actions/{action_id}/close/"
    assert as_user(lead).post(close_url, {}).status_code == 400
    closed = as_user(lead).post(close_url, {"resolution": "Retrained the team."})
    assert closed.status_code == 200
    assert closed.json()["status"] == "closed"
    assert as_user(lead).post(close_url, {"resolution": "Again."}).status_code == 409


def test_second_draw_of_a_period_is_a_conflict(as_user, supervisor, decided):
    _draw(as_user, supervisor)

    response = as_user(supervisor).post("/api/v1/oversight/samples/", _period())

    assert response.status_code == 409
    assert "drawn already" in response.json()["detail"]


@pytest.mark.parametrize(
    "bad",
    [{"rate": "0"}, {"rate": "1.5"}, {"double_review_share": "-0.1"}, {"min_per_stratum": -1}],
)
def test_bad_parameters_are_a_400(as_user, supervisor, decided, bad):
    response = as_user(supervisor).post("/api/v1/oversight/samples/", {**_period(), **bad})

    assert response.status_code == 400, response.content
    assert not QualitySample.objects.exists()


def test_unknown_sample_is_a_404(as_user, supervisor):
    assert as_user(supervisor).get("/api/v1/oversight/samples/999/").status_code == 404
    assert as_user(supervisor).get("/api/v1/oversight/samples/999/next/").status_code == 404


def test_a_decider_who_supervises_gets_403_on_their_own_decision(as_user, supervisor):
    f = factories.flow_at(ComplaintStatus.DECIDED)
    from governance import services

    services.role_grant(actor=factories.superuser(), user=f.handler, role=Role.SUPERVISOR)
    sample = _draw(as_user, supervisor)

    response = as_user(f.handler).post(
        "/api/v1/oversight/reviews/",
        {"item": sample["items"][0]["id"], "verdict": "agree", **SCORES},
    )

    assert response.status_code == 403
    assert "took part" in response.json()["detail"]


def test_sample_list_does_not_grow_queries_with_samples(
    as_user, supervisor, decided, django_assert_max_num_queries
):
    _draw(as_user, supervisor)
    client = as_user(supervisor)
    with django_assert_max_num_queries(6):
        assert len(client.get("/api/v1/oversight/samples/").json()["results"]) == 1
