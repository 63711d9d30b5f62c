"""Every page, requested by every role: allowed roles get the page, all others the 403 page.

The matrix below is written out by hand, page by page, so a change in a policy shows up here as
a failing cell. A page served behind `page(...)` but missing from the matrix fails the test, so
no new page escapes it. A refused response carries none of the record's data.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audits import sampling
from governance.choices import ComplaintStatus, Role
from governance.pages.access import PageRule, page_rules
from privacy import services as privacy_services
from privacy.choices import RequestKind
from tests import factories

C, H, L, CO, S, P, A = (
    Role.COMPLAINANT,
    Role.HANDLER,
    Role.DEPARTMENT_LEAD,
    Role.COMPLIANCE_OFFICER,
    Role.SUPERVISOR,
    Role.PRIVACY_OFFICER,
    Role.ADMIN,
)

# Which roles each page admits. Admins work in the Django admin, so no page admits them.
MATRIX: dict[str, set[str]] = {
    # the complainant's own complaints and data
    "my-complaints": {C},
    "complaint-new": {C},
    "my-complaint": {C},
    "my-complaint-appeal": {C},
    "my-complaint-rate": {C},
    "my-complaint-withdraw": {C},
    "my-data": {C},
    "my-data-request": {C},
    "my-data-export": {C},
    # handling
    "queue": {H, L},
    "work-complaint": {H, L},
    "work-complaint-action": {H, L},
    "appeals-queue": {H, L},
    "work-appeal": {H, L},
    "lead": {L},
    "lead-assign": {L},
    "lead-close-action": {L},
    # compliance
    "decision-search": {CO},
    "audit-complaint": {CO},
    "audit-evidence": {CO},
    "access-log": {CO},
    # oversight
    "oversight": {S, CO},
    "sample": {S, CO},
    "sample-draw": {S},
    "sample-review": {S},
    "reports": {S, CO},
    "reports-publish": {S},
    "early-warning": {S, CO},
    # privacy
    "privacy-requests": {P},
    "privacy-request": {P},
    "privacy-request-record": {P},
    "privacy-request-action": {P},
    "legal-holds": {P, CO},
    "legal-hold-place": {P, CO},
    "legal-hold-release": {P, CO},
    "retention": {P},
    "retention-rule-set": {P},
}

ROLES = [C, H, L, CO, S, P, A, "no role"]


def _pages() -> list[PageRule]:
    return sorted(page_rules(), key=lambda rule: rule.name)


@pytest.fixture
def world() -> dict[str, Any]:
    """One record of every kind a page may show, in the moderation department."""
    appealed = factories.flow_at(ComplaintStatus.APPEALED)
    decided = factories.flow_at(ComplaintStatus.DECIDED)
    supervisor = factories.user_with_role(Role.SUPERVISOR)
    sample = sampling.sample_draw(
        actor=supervisor,
        period_start=timezone.localdate().replace(day=1),
        period_end=timezone.localdate(),
    )
    request, _created = privacy_services.privacy_request_file(
        actor=decided.complainant, kind=RequestKind.DELETION
    )
    hold = privacy_services.legal_hold_place(
        actor=factories.user_with_role(Role.PRIVACY_OFFICER),
        complaint=decided.complaint,
        reason="Court order",
        review_on=factories.future(),
    )
    return {
        "complaint": appealed.complaint,
        "complainant": appealed.complainant,
        "appeal": appealed.complaint.appeals.get(),
        "sample": sample,
        "request": request,
        "hold": hold,
    }


def _url(rule: PageRule, world: dict[str, Any]) -> str:
    """The page's address, filled with a record of the world that fits its route."""
    kwargs: dict[str, Any] = {}
    route = rule.pattern
    if "<str:reference>" in route:
        is_privacy = rule.name.startswith("privacy-request")
        kwargs["reference"] = (
            world["request"].reference if is_privacy else world["complaint"].reference
        )
    if "<int:pk>" in route:
        if "appeal" in rule.name:
            kwargs["pk"] = world["appeal"].pk
        elif "sample" in rule.name:
            kwargs["pk"] = world["sample"].pk
        elif "hold" in rule.name:
            kwargs["pk"] = world["hold"].pk
        else:
            kwargs["pk"] = 1
    if "<str:action>" in route:
        kwargs["action"] = "acknowledge"
    return reverse(rule.name, kwargs=kwargs)


def _user(role: str, world: dict[str, Any]) -> Any:
    if role == C:
        return world["complainant"]
    if role == "no role":
        return factories.UserFactory()
    return factories.user_with_role(role, "moderation" if role in {H, L} else None)


def test_every_page_is_in_the_matrix() -> None:
    names = {rule.name for rule in _pages()}
    assert names - set(MATRIX) == set(), "pages missing from MATRIX"
    assert set(MATRIX) - names == set(), "MATRIX lists pages that are not routed"


@pytest.mark.parametrize("role", ROLES)
def test_each_role_requests_every_page(role: str, world: dict[str, Any]) -> None:
    user = _user(role, world)
    client = factories.sign_in_pages(Client(), user)
    wrong: list[str] = []
    for rule in _pages():
        url = _url(rule, world)
        allowed = role in MATRIX.get(rule.name, set())
        response = client.get(url)
        if response.status_code == 405:  # a POST-only action: post nothing
            response = client.post(url, {})
        if allowed and response.status_code in {403, 500}:
            wrong.append(f"{rule.name} {url}: {response.status_code}, expected access")
        if not allowed:
            # The address itself comes back (the language switch returns to it); nothing else.
            body = response.content.decode().replace(url, "")
            if response.status_code != 403:
                wrong.append(f"{rule.name} {url}: {response.status_code}, expected 403")
            elif world["complaint"].reference in body or world["request"].reference in body:
                wrong.append(f"{rule.name} {url}: the 403 page shows the record")
    assert not wrong, "\n".join(wrong)


def test_anonymous_visitors_are_sent_to_sign_in(world: dict[str, Any]) -> None:
    client = Client()
    for rule in _pages():
        url = _url(rule, world)
        response = client.get(url)
        if response.status_code == 405:
            response = client.post(url, {})
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("sign-in")), url


@pytest.mark.parametrize(
    "name", ["home", "sign-in", "sign-up", "transparency", "transparency-zh-hans"]
)
def test_public_pages_open_without_sign_in(name: str) -> None:
    assert Client().get(reverse(name)).status_code == 200
