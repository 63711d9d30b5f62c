"""A complaint's whole life through the pages, in headless Chromium.

People act in their own browser contexts (their own cookies), through the forms a person
uses: a complainant opens an account and files a complaint; a handler gives the set-up code
an administrator issued her, sets up two-factor sign-in, then triages and decides it; the
complainant reads the decision and appeals; the department lead decides the appeal; a
supervisor draws a sample and reviews a decision; the complainant asks for deletion and a
privacy officer completes it; a supervisor publishes a report and the public transparency page
shows it. Each step asserts what the person sees, and
every page visited is photographed in English and in Simplified Chinese, switched with the
page's own language control, into var/screenshots/<this test's name>/.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from audits.models import OversightReport, QualitySample, Review
from governance.choices import ComplaintStatus, Role
from governance.deadlines import business_date
from governance.models import Appeal, Complaint
from privacy.models import PrivacyRequest
from privacy.vault import is_erased
from tests import factories

from .conftest import Screens

PASSWORD = "a-long-e2e-passphrase-7"


def _code_for_key(hex_key: str) -> str:
    return f"{totp(bytes.fromhex(hex_key)):06d}"


def _b32_to_hex(b32: str) -> str:
    import base64

    compact = b32.replace(" ", "")
    return base64.b32decode(compact + "=" * (-len(compact) % 8)).hex()


class Person:
    """One person at their own browser."""

    def __init__(self, chromium: Any, base: str, screens: Screens, who: str) -> None:
        self.context = chromium.new_context(viewport={"width": 1100, "height": 900})
        self.page = self.context.new_page()
        self.base = base
        self.screens = screens
        self.who = who

    def go(self, path: str) -> Any:
        self.page.goto(self.base + path)
        return self.page

    def look(self, name: str, *, expect: str | None = None) -> None:
        """Photograph the page in English, then in Chinese, switching with the page's control."""
        page = self.page
        if expect is not None:
            assert expect in page.inner_text("main"), f"{name}: {expect!r} not shown"
        self.screens.shot(page, f"{self.who}-{name}", "en")
        self._switch("zh-hans")
        assert page.get_attribute("html", "lang") == "zh-hans"
        self.screens.shot(page, f"{self.who}-{name}", "zh-hans")
        self._switch("en")
        assert page.get_attribute("html", "lang") == "en"

    def _switch(self, language: str) -> None:
        self.page.select_option("#language-choice", language)
        with self.page.expect_navigation():
            self.page.click("form.lang button")

    def sign_in(self, username: str, *, device: TOTPDevice | None = None) -> None:
        page = self.go("/accounts/sign-in/")
        page.fill("#id_username", username)
        page.fill("#id_password", PASSWORD)
        _go(page, "main button[type=submit]")
        if device is not None:
            assert "/accounts/two-factor/" in page.url
            page.fill("#id_token", factories.totp_code(device))
            _go(page, "main button[type=submit]")
        assert "Signed in as" in page.inner_text("main") or "/accounts/" not in page.url

    def message(self) -> str:
        return self.page.inner_text(".messages") if self.page.query_selector(".messages") else ""

    def close(self) -> None:
        self.context.close()


def _staff(role: str, username: str, dept: str | None = None, *, device: bool = True) -> Any:
    user = factories.user_with_role(role, dept, username=username)
    user.set_password(PASSWORD)
    user.save()
    if device:
        return user, factories.totp_device(user)
    return user, None


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_complaint_from_filing_to_deletion(live_server: Any, chromium: Any, screens: Screens):
    base = live_server.url
    factories.policy_clause()

    # --- a complainant opens an account and files a complaint ---------------------------------
    mei = Person(chromium, base, screens, "complainant")
    page = mei.go("/")
    mei.look("home", expect="File a complaint")
    _go(page, "text=Open an account to file a complaint")
    mei.look("sign-up")
    page.fill("#id_username", "mei")
    page.fill("#id_email", "mei@example.org")
    page.fill("#id_password", PASSWORD)
    _go(page, "main button[type=submit]")
    assert "Your account is open" in mei.message()
    mei.go("/my/complaints/new/")
    mei.look("file-complaint")
    page.select_option("#id_category", label="Harassment and cyber-violence")
    page.fill("#id_description", "A stranger posts insults under every video of mine.")
    page.fill("#id_content_url", "https://video.example/v/123")
    _go(page, "main button[type=submit]")
    reference = re.search(r"[A-Z]+-\d{4}-\d{6}", mei.message() or page.inner_text("main"))
    assert reference, "the complainant sees the complaint's reference"
    reference = reference.group(0)
    mei.look("complaint-filed", expect=reference)
    mei.go("/my/complaints/")
    mei.look("my-complaints", expect=reference)

    # --- a handler signs in for the first time, sets up two-factor, and handles it -----------
    hana_user, _none = _staff(Role.HANDLER, "hana", "moderation", device=False)
    setup_code = factories.setup_code(hana_user)  # handed to her apart from her password
    hana = Person(chromium, base, screens, "handler")
    page = hana.go("/accounts/sign-in/")
    page.fill("#id_username", "hana")
    page.fill("#id_password", PASSWORD)
    _go(page, "main button[type=submit]")
    assert "/accounts/two-factor/setup/" in page.url
    assert page.query_selector("#totp-secret") is None  # no key before the set-up code
    hana.screens.shot(page, "handler-two-factor-setup-code", "en")
    page.fill("#id_code", setup_code)
    _go(page, "main button[type=submit]")
    hana.screens.shot(page, "handler-two-factor-setup", "en")
    secret = page.inner_text("#totp-secret")
    page.fill("#id_token", _code_for_key(_b32_to_hex(secret)))
    _go(page, "main button[type=submit]")
    assert "Two-factor sign-in is set up" in hana.message()
    assert TOTPDevice.objects.get(user__username="hana").confirmed

    page = hana.go("/work/")
    hana.look("queue", expect=reference)
    _go(page, f"text={reference}")
    hana.look("work-complaint", expect="A stranger posts insults")
    _act(page, "acknowledge")
    page.select_option("#id_triage-severity", "high")
    page.select_option("#id_triage-urgency", "normal")
    _act(page, "triage")
    page.select_option("#id_assign-assignee", label="hana")
    _act(page, "assign")
    _act(page, "investigate")
    page.select_option("#id_decide-outcome", "upheld")
    page.select_option("#id_decide-policy_clause", index=1)
    page.fill("#id_decide-facts", "Forty insulting comments from one account in a week.")
    page.fill("#id_decide-reasons", "The comments insult you personally; they were removed.")
    page.check("#id_decide-actions_0")
    _act(page, "decide")
    complaint = Complaint.objects.get(reference=reference)
    assert complaint.status == ComplaintStatus.DECIDED
    hana.look("decided", expect="Upheld")

    # --- the complainant reads the decision with its reasons, and appeals ---------------------
    page = mei.go(f"/my/complaints/{reference}/")
    mei.look("decision", expect="they were removed")
    assert "Upheld" in page.inner_text("main")
    page.fill("#id_statement", "The account still follows me; please suspend it.")
    _go(page, "button:has-text('File the appeal')")
    assert Appeal.objects.filter(decision__complaint=complaint).exists()
    mei.look("appealed", expect="Appeal")

    # --- the department lead, who took no part, decides the appeal ----------------------------
    _lead, lead_device = _staff(Role.DEPARTMENT_LEAD, "leo", "moderation")
    leo = Person(chromium, base, screens, "lead")
    leo.sign_in("leo", device=lead_device)
    page = leo.go("/work/appeals/")
    leo.look("appeals")
    _go(page, "main table a")
    leo.look("appeal", expect="please suspend it")
    page.select_option("#id_appeal-outcome", "upheld")
    page.select_option("#id_appeal-policy_clause", index=1)
    page.fill("#id_appeal-facts", "The account stopped commenting after the removal.")
    page.fill("#id_appeal-reasons", "The removal was enough; no suspension is needed.")
    _go(page, "button:has-text('Record the appeal decision')")
    appeal = Appeal.objects.get(decision__complaint=complaint)
    assert appeal.status != "open"
    leo.look("appeal-decided")

    # --- a supervisor draws this month's sample and reviews a decision, blind ----------------
    _sup, sup_device = _staff(Role.SUPERVISOR, "sue")
    sue = Person(chromium, base, screens, "supervisor")
    sue.sign_in("sue", device=sup_device)
    page = sue.go("/oversight/")
    sue.look("oversight")
    today = business_date(timezone.now())
    page.fill("#id_period_start", today.replace(day=1).isoformat())
    page.fill("#id_period_end", today.isoformat())
    page.fill("#id_rate", "1")
    _go(page, "button:has-text('Draw the sample')")
    sample = QualitySample.objects.get()
    assert sample.items.count() >= 1
    sue.look("sample", expect=sample.seed[:12])
    _go(page, "text=Review the next item")
    sue.look("review")
    assert "hana" not in page.inner_text("main")  # the decider, shown by pseudonym only
    assert "mei" not in page.inner_text("main").split()
    for field in ("clause_correct", "facts_adequate", "action_proportionate"):
        page.select_option(f"#id_{field}", index=4)
    for field in ("deadline_met", "reasons_clear"):
        page.select_option(f"#id_{field}", index=4)
    page.select_option("#id_verdict", "agree")
    _go(page, "button:has-text('Record the review')")
    assert Review.objects.filter(reviewer__username="sue").count() == 1

    # --- the complainant asks for deletion; a privacy officer verifies and completes it -----
    page = mei.go("/my/data/")
    mei.look("my-data")
    page.check("#deletion_confirm")
    _go(page, "button:has-text('Ask for deletion')")
    request = PrivacyRequest.objects.get(kind="deletion")
    mei.look("deletion-asked", expect=request.reference)
    _pia, pia_device = _staff(Role.PRIVACY_OFFICER, "pia")
    pia = Person(chromium, base, screens, "privacy")
    pia.sign_in("pia", device=pia_device)
    page = pia.go("/privacy/requests/")
    pia.look("requests", expect=request.reference)
    _go(page, f"text={request.reference}")
    _go(page, "button:has-text('Identity verified')")
    pia.look("verified")
    _go(page, "button:has-text('Complete request')")
    request.refresh_from_db()
    assert request.status == "completed"
    assert is_erased(complaint.complainant)
    pia.look("completed")

    # --- the supervisor publishes a report; the public transparency page shows it ------------
    page = sue.go("/oversight/reports/")
    page.fill("#id_period", "2025-03")
    _go(page, "main form button[type=submit]")
    report = OversightReport.objects.get()
    sue.look("reports", expect="2025-03")
    public = Person(chromium, base, screens, "public")
    page = public.go("/transparency/")
    assert "2025-03" in page.inner_text("main")
    assert page.query_selector(f"#report-{report.number} svg") is not None
    screens.shot(page, "public-transparency", "en")
    _go(page, "text=简体中文")
    assert page.get_attribute("html", "lang") == "zh-hans"
    assert "2025-03" in page.inner_text("main")
    screens.shot(page, "public-transparency", "zh-hans")

    for person in (mei, hana, leo, sue, pia, public):
        person.close()
    assert len(list(screens.folder.glob("zh-hans/*.png"))) >= 20


def _go(page: Any, selector: str) -> None:
    """Click a link or a form's button and wait for the page it leads to."""
    with page.expect_navigation():
        page.click(selector)


def _act(page: Any, action: str) -> None:
    """Send the work page's form for one action and check it was taken."""
    _go(page, f"form[action$='/{action}/'] button[type=submit]")
    assert "error" not in (page.get_attribute(".messages p", "class") or ""), action
    assert not page.query_selector(".errors"), page.inner_text(".errors")
