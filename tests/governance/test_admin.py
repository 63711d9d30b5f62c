"""The Django admin: read-only for append-only records, writes only through the services."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.db import models
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from audits import reports, sampling
from audits.choices import EventType
from audits.models import LedgerEntry
from audits.services import ledger_seal
from governance import services
from governance.choices import ComplaintStatus, Role
from governance.models import (
    AuthenticatorSetupCode,
    Complaint,
    ComplaintTransition,
    Decision,
    Holiday,
    PolicyClause,
    RoleMembership,
)
from privacy import services as privacy_services
from privacy.pseudonyms import actor_ref
from tests import factories


def _login(client: Any, user: Any) -> None:
    # Read the user back: the factory's in-memory password is not the stored one, and a session
    # whose password hash does not match the stored user is dropped on the next request.
    factories.sign_in_pages(client, get_user_model().objects.get(pk=user.pk))
    assert client.get(reverse("admin:index")).wsgi_request.user.pk == user.pk


@pytest.fixture
def root(client: Any) -> Any:
    """The superuser, logged in to the admin."""
    user = factories.superuser()
    _login(client, user)
    return user


@pytest.fixture
def decided() -> factories.Flow:
    return factories.flow_at(ComplaintStatus.DECIDED)


def _url(model: type[models.Model], view: str, *args: Any) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def _row(model: type[models.Model], flow: factories.Flow) -> models.Model:
    if model is Decision:
        assert flow.decision is not None
        return flow.decision
    if model is LedgerEntry:
        return LedgerEntry.objects.order_by("-seq").first()
    return model.objects.filter(complaint=flow.complaint).order_by("pk").first()


def _snapshot(model: type[models.Model]) -> list[dict[str, Any]]:
    return list(model.objects.order_by("pk").values())


READ_ONLY_MODELS = [Decision, LedgerEntry, ComplaintTransition]
READ_ONLY_IDS = [m._meta.label for m in READ_ONLY_MODELS]


# --- append-only records -----------------------------------------------------------------------


@pytest.mark.parametrize("model", READ_ONLY_MODELS, ids=READ_ONLY_IDS)
def test_change_page_of_an_append_only_record_is_read_only(client, root, decided, model):
    obj = _row(model, decided)

    response = client.get(_url(model, "change", obj.pk))

    assert response.status_code == 200
    assert response.context["has_change_permission"] is False
    assert response.context["has_delete_permission"] is False
    content = response.content.decode()
    assert 'name="_save"' not in content
    assert 'name="_continue"' not in content
    assert _url(model, "delete", obj.pk) not in content


def test_decision_change_page_shows_the_decision(client, root, decided):
    decision = decided.decision
    assert decision is not None

    response = client.get(_url(Decision, "change", decision.pk))

    assert decision.reasons in response.content.decode()


@pytest.mark.parametrize("model", READ_ONLY_MODELS, ids=READ_ONLY_IDS)
def test_post_to_the_change_page_changes_nothing(client, root, decided, model):
    # given
    obj = _row(model, decided)
    before = _snapshot(model)
    forged = {
        Decision: {"reasons": "Rewritten in the admin", "outcome": "rejected"},
        LedgerEntry: {"event_type": "tampered", "body": "{}"},
        ComplaintTransition: {"reason": "Rewritten in the admin"},
    }[model]

    # when
    response = client.post(_url(model, "change", obj.pk), forged)

    # then
    assert response.status_code == 403
    assert _snapshot(model) == before


@pytest.mark.parametrize("model", READ_ONLY_MODELS, ids=READ_ONLY_IDS)
def test_delete_page_of_an_append_only_record_is_forbidden(client, root, decided, model):
    obj = _row(model, decided)
    before = _snapshot(model)

    assert client.get(_url(model, "delete", obj.pk)).status_code == 403
    assert client.post(_url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403

    assert _snapshot(model) == before


@pytest.mark.parametrize("model", READ_ONLY_MODELS, ids=READ_ONLY_IDS)
def test_add_page_of_an_append_only_record_is_forbidden(client, root, decided, model):
    before = _snapshot(model)

    assert client.get(_url(model, "add")).status_code == 403
    assert client.post(_url(model, "add"), {"reasons": "Forged"}).status_code == 403

    assert _snapshot(model) == before


@pytest.mark.parametrize("model", READ_ONLY_MODELS, ids=READ_ONLY_IDS)
def test_changelist_offers_no_add_and_no_bulk_delete(client, root, decided, model):
    response = client.get(_url(model, "changelist"))

    assert response.status_code == 200
    assert response.context["has_add_permission"] is False
    assert "delete_selected" not in response.content.decode()


def test_bulk_delete_action_is_refused(client, root, decided):
    decision = decided.decision
    assert decision is not None
    before = _snapshot(Decision)

    response = client.post(
        _url(Decision, "changelist"),
        {"action": "delete_selected", "_selected_action": [decision.pk], "post": "yes"},
    )

    assert response.status_code in {200, 302, 403}
    assert _snapshot(Decision) == before


# --- complaints --------------------------------------------------------------------------------


def test_complaint_admin_has_no_add_and_no_delete(client, root, decided):
    complaint = decided.complaint
    before = _snapshot(Complaint)

    assert client.get(_url(Complaint, "add")).status_code == 403
    assert client.get(_url(Complaint, "delete", complaint.pk)).status_code == 403
    assert client.post(_url(Complaint, "delete", complaint.pk), {"post": "yes"}).status_code == 403
    changelist = client.get(_url(Complaint, "changelist"))
    assert changelist.status_code == 200
    assert changelist.context["has_add_permission"] is False

    assert _snapshot(Complaint) == before


def test_complaint_change_page_is_read_only_and_hides_the_description(client, root, decided):
    complaint = decided.complaint
    before = _snapshot(Complaint)

    page = client.get(_url(Complaint, "change", complaint.pk))
    post = client.post(
        _url(Complaint, "change", complaint.pk), {"status": ComplaintStatus.RECEIVED}
    )

    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert 'name="_save"' not in page.content.decode()
    # The description is personal data; it lives in the privacy app, not on this page.
    assert factories.plain_note(complaint.description) not in page.content.decode()
    assert post.status_code == 403
    assert _snapshot(Complaint) == before


# --- writes through the services ---------------------------------------------------------------


def test_adding_a_policy_clause_publishes_the_next_version(client, root):
    # given: version 1 of TOS-3.1
    first = factories.policy_clause("TOS-3.1")
    last_seq = LedgerEntry.objects.order_by("-seq").values_list("seq", flat=True).first()

    # when
    response = client.post(
        _url(PolicyClause, "add"),
        {
            "code": "TOS-3.1",
            "title": "No harassment or pile-ons",
            "text": "Do not insult, threaten, shame or incite others.",
            "effective_from": (first.effective_from + timedelta(days=1)).isoformat(),
            "effective_to": "",
        },
    )

    # then
    assert response.status_code == 302
    versions = list(
        PolicyClause.objects.filter(code="TOS-3.1")
        .order_by("version")
        .values_list("version", "title", "published_by")
    )
    assert versions == [
        (1, first.title, root.pk),
        (2, "No harassment or pile-ons", root.pk),
    ]
    entries = list(LedgerEntry.objects.filter(seq__gt=last_seq))
    assert [(e.event_type, e.object_ref, e.actor_ref) for e in entries] == [
        (EventType.POLICY_CLAUSE_PUBLISHED, "policy_clause:TOS-3.1:v2", actor_ref(root))
    ]


def test_adding_a_new_policy_clause_code_publishes_version_one(client, root):
    response = client.post(
        _url(PolicyClause, "add"),
        {
            "code": "TOS-12.1",
            "title": "Live commerce",
            "text": "Sellers ship what they sell.",
            "effective_from": timezone.localdate().isoformat(),
            "effective_to": "",
        },
    )

    assert response.status_code == 302
    clause = PolicyClause.objects.get(code="TOS-12.1")
    assert clause.version == 1
    assert LedgerEntry.objects.filter(
        event_type=EventType.POLICY_CLAUSE_PUBLISHED, object_ref="policy_clause:TOS-12.1:v1"
    ).exists()


def test_policy_clause_refused_by_the_service_is_reported_not_a_server_error(client, root):
    # given: version 1 took effect today; a new version cannot take effect before it
    factories.policy_clause("TOS-3.1", effective_from=timezone.localdate())
    before = _snapshot(PolicyClause)

    # when
    response = client.post(
        _url(PolicyClause, "add"),
        {
            "code": "TOS-3.1",
            "title": "Backdated",
            "text": "Backdated text.",
            "effective_from": (timezone.localdate() - timedelta(days=10)).isoformat(),
            "effective_to": "",
        },
    )

    # then: the form comes back with the service's message, and nothing is published
    assert response.status_code == 200
    assert "cannot take effect earlier" in response.content.decode()
    assert _snapshot(PolicyClause) == before


def test_policy_clause_change_and_delete_are_forbidden(client, root):
    clause = factories.policy_clause("TOS-3.1")
    before = _snapshot(PolicyClause)

    change = client.post(
        _url(PolicyClause, "change", clause.pk),
        {"code": clause.code, "title": "Rewritten", "text": "Rewritten", "effective_from": ""},
    )
    delete = client.post(_url(PolicyClause, "delete", clause.pk), {"post": "yes"})

    assert change.status_code == 403
    assert delete.status_code == 403
    assert _snapshot(PolicyClause) == before


def test_adding_a_role_membership_grants_the_role_through_the_service(client, root):
    # given
    user = factories.UserFactory()
    moderation = factories.department("moderation")
    last_seq = LedgerEntry.objects.count() - 1  # seq numbers have no gaps

    # when
    response = client.post(
        _url(RoleMembership, "add"),
        {"user": user.pk, "role": Role.HANDLER, "department": moderation.pk},
    )

    # then
    assert response.status_code == 302
    membership = RoleMembership.objects.get(user=user)
    assert (membership.role, membership.department, membership.granted_by) == (
        Role.HANDLER,
        moderation,
        root,
    )
    assert membership.revoked_at is None
    assert user.groups.filter(name=Role.HANDLER).exists()
    entries = list(LedgerEntry.objects.filter(seq__gt=last_seq))
    assert [(e.event_type, e.object_ref, e.actor_ref) for e in entries] == [
        (EventType.ROLE_GRANTED, f"user:{actor_ref(user)}", actor_ref(root))
    ]
    assert '"department":"moderation"' in entries[0].body
    assert '"role":"handler"' in entries[0].body


def test_adding_the_admin_role_makes_the_user_staff(client, root):
    user = factories.UserFactory()

    response = client.post(_url(RoleMembership, "add"), {"user": user.pk, "role": Role.ADMIN})

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.is_staff
    assert user.groups.filter(name=Role.ADMIN).exists()


def test_revoke_action_revokes_through_the_service(client, root):
    # given
    handler = factories.user_with_role(Role.HANDLER, "moderation")
    membership = RoleMembership.objects.get(user=handler)
    last_seq = LedgerEntry.objects.order_by("-seq").values_list("seq", flat=True).first()

    # when
    response = client.post(
        _url(RoleMembership, "changelist"),
        {"action": "revoke", "_selected_action": [membership.pk]},
    )

    # then
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.revoked_at is not None
    assert not handler.groups.filter(name=Role.HANDLER).exists()
    assert list(
        LedgerEntry.objects.filter(seq__gt=last_seq).values_list("event_type", flat=True)
    ) == [EventType.ROLE_REVOKED]


def test_role_membership_change_and_delete_are_forbidden(client, root):
    handler = factories.user_with_role(Role.HANDLER, "moderation")
    membership = RoleMembership.objects.get(user=handler)

    change = client.post(
        _url(RoleMembership, "change", membership.pk),
        {"user": handler.pk, "role": Role.ADMIN, "department": ""},
    )
    delete = client.post(_url(RoleMembership, "delete", membership.pk), {"post": "yes"})

    assert change.status_code == 403
    assert delete.status_code == 403
    membership.refresh_from_db()
    assert membership.role == Role.HANDLER
    assert membership.revoked_at is None


# --- every page --------------------------------------------------------------------------------


@pytest.fixture
def populated() -> None:
    """Some rows of every registered model: a rated complaint, an appeal, breaches, a token."""
    closed = factories.flow_at(ComplaintStatus.CLOSED)
    services.complaint_rate(
        actor=closed.complainant, complaint=closed.complaint, score=4, comment="Quick."
    )
    factories.flow_at(ComplaintStatus.APPEAL_DECIDED)
    factories.file_complaint()
    services.sla_breaches_escalate(now=timezone.now() + timedelta(days=60))
    services.reference_record_save(
        actor=factories.superuser(),
        record=Holiday(date=timezone.localdate() + timedelta(days=3), name="Test holiday"),
        reason="Test calendar",
    )
    Token.objects.create(user=closed.handler)
    factories.setup_code(closed.handler)
    # A legal hold and a retention run (on the real clock, so it erases nothing).
    privacy_services.legal_hold_place(
        actor=factories.user_with_role(Role.COMPLIANCE_OFFICER),
        complaint=closed.complaint,
        reason="Court order",
        review_on=factories.future(),
    )
    privacy_services.retention_enforce()
    # This month's quality sample, with a "disagree" review that opens a corrective action.
    sample = sampling.sample_draw(
        actor=factories.user_with_role(Role.SUPERVISOR),
        period_start=timezone.localdate().replace(day=1),
        period_end=timezone.localdate(),
    )
    sampling.review_record(
        actor=factories.user_with_role(Role.SUPERVISOR),
        item=sample.items.order_by("pk")[0],
        scores=dict.fromkeys(sampling.RUBRIC, 3),
        verdict="disagree",
    )
    # django-axes' records: a failed and a successful sign-in of a complainant.
    signer = factories.user_with_role(Role.COMPLAINANT)
    signer.set_password("a-long-test-passphrase-9")
    signer.save()
    browser = Client()
    browser.post(
        reverse("sign-in"), {"username": signer.username, "password": "a-long-test-passphrase-9"}
    )
    browser.post(reverse("sign-in"), {"username": signer.username, "password": "wrong"})
    # A published oversight report of a month long past.
    reports.report_publish(actor=factories.user_with_role(Role.SUPERVISOR), period="2025-03")
    # A checkpoint and a tile: with a tile width of 256 the log would need 256 entries, so the
    # tile is sealed from a narrower width (tests/audits/test_seal.py covers real widths).
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("audits.tree.TILE_WIDTH", 4)
        ledger_seal()


REGISTERED = sorted(admin.site._registry, key=lambda m: m._meta.label)
REGISTERED_IDS = [m._meta.label for m in REGISTERED]


@pytest.mark.parametrize("model", REGISTERED, ids=REGISTERED_IDS)
def test_every_changelist_opens_for_the_superuser(client, root, populated, model):
    response = client.get(_url(model, "changelist"))

    assert response.status_code == 200


@pytest.mark.parametrize("model", REGISTERED, ids=REGISTERED_IDS)
def test_every_change_page_opens_for_the_superuser(client, root, populated, model):
    obj = model._default_manager.order_by("pk").first()
    assert obj is not None, f"the populated database has no {model._meta.label}"

    response = client.get(_url(model, "change", obj.pk))

    assert response.status_code == 200


def test_every_governance_and_audits_model_is_registered():
    labels = {m._meta.label for m in admin.site._registry}

    assert {
        "audits.LedgerEntry",
        "governance.Appeal",
        "governance.Assignment",
        "governance.Category",
        "governance.Complaint",
        "governance.ComplaintTransition",
        "governance.Decision",
        "governance.Department",
        "governance.Holiday",
        "governance.PolicyClause",
        "governance.Rating",
        "governance.RoleMembership",
        "governance.SlaBreach",
    } <= labels


# --- who gets in -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        reverse("admin:index"),
        reverse("admin:governance_decision_changelist"),
        reverse("admin:audits_ledgerentry_changelist"),
    ],
)
def test_non_staff_user_is_sent_to_the_login_page(client, complainant, path):
    _login(client, complainant)

    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_anonymous_user_is_sent_to_the_login_page(client):
    response = client.get(reverse("admin:governance_decision_changelist"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_admin_role_holder_can_read_but_not_write_decisions(client, decided, admin_user):
    # given: a staff user holding the admin role, who is not a superuser
    assert admin_user.is_staff
    assert not admin_user.is_superuser
    _login(client, admin_user)
    decision = decided.decision
    assert decision is not None
    before = _snapshot(Decision)

    # when / then
    assert client.get(_url(Decision, "changelist")).status_code == 200
    assert client.get(_url(Decision, "change", decision.pk)).status_code == 200
    assert client.get(_url(Decision, "add")).status_code == 403
    assert client.post(_url(Decision, "delete", decision.pk), {"post": "yes"}).status_code == 403
    assert _snapshot(Decision) == before


def test_groups_hold_no_delete_permission_on_records():
    codenames = set(
        Group.objects.filter(permissions__codename__startswith="delete_").values_list(
            "permissions__codename", flat=True
        )
    )

    assert codenames == set()


# --- an admin who is not a superuser -----------------------------------------------------------


def test_an_admin_cannot_make_themselves_superuser(client):
    # given: a user whose only power is the admin role
    admin_user = factories.user_with_role(Role.ADMIN)
    _login(client, admin_user)
    me = get_user_model().objects.get(pk=admin_user.pk)
    # when: they post the superuser flag on their own account
    client.post(
        reverse("admin:auth_user_change", args=[me.pk]),
        {
            "username": me.username,
            "is_active": "on",
            "is_staff": "on",
            "is_superuser": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )
    # then
    me.refresh_from_db()
    assert not me.is_superuser


def test_an_admin_cannot_take_over_a_staff_account(client):
    admin_user = factories.user_with_role(Role.ADMIN)
    officer = factories.user_with_role(Role.COMPLIANCE_OFFICER)
    _login(client, admin_user)
    change = client.post(
        reverse("admin:auth_user_change", args=[officer.pk]),
        {"username": "renamed", "is_active": "on"},
    )
    password = client.post(
        reverse("admin:auth_user_password_change", args=[officer.pk]),
        {"password1": "Takeover-pass-2026!", "password2": "Takeover-pass-2026!"},
    )
    assert change.status_code == 403
    assert password.status_code == 403
    officer.refresh_from_db()
    assert officer.username != "renamed"
    assert not officer.check_password("Takeover-pass-2026!")


def test_non_admin_roles_hold_no_admin_permissions():
    from django.contrib.auth.models import Group

    for role in Role.values:
        perms = Group.objects.get(name=role).permissions.count()
        assert (perms > 0) == (role == Role.ADMIN), role


# --- authenticators: looked at and removed, never added, edited or read out --------------------


def test_the_admin_cannot_add_or_edit_an_authenticator_nor_read_its_key(client, root):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    owner = factories.user_with_role(Role.SUPERVISOR)
    device = factories.totp_device(owner)
    key = device.key

    assert client.get(_url(TOTPDevice, "add")).status_code == 403
    page = client.get(_url(TOTPDevice, "change", device.pk))
    assert page.status_code == 200
    assert key not in page.content.decode()
    # A POST to the change page changes nothing: no key swap, no confirming or unconfirming.
    client.post(
        _url(TOTPDevice, "change", device.pk),
        {"user": root.pk, "name": "mine", "confirmed": "", "key": "00" * 20},
    )
    device.refresh_from_db()
    assert (device.user_id, device.key, device.confirmed) == (owner.pk, key, True)
    # The QR code and configuration pages, which show the key, are closed.
    assert client.get(f"{_url(TOTPDevice, 'changelist')}{device.pk}/config/").status_code == 403
    assert client.get(f"{_url(TOTPDevice, 'changelist')}{device.pk}/qrcode/").status_code == 403


def test_removing_an_authenticator_in_the_admin_is_ledgered(client, root):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    owner = factories.user_with_role(Role.SUPERVISOR)
    device = factories.totp_device(owner)
    response = client.post(_url(TOTPDevice, "delete", device.pk), {"post": "yes"})
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(pk=device.pk).exists()
    (entry,) = LedgerEntry.objects.filter(event_type=EventType.TWO_FACTOR_REMOVED)
    assert entry.object_ref == f"user:{actor_ref(owner)}"
    assert entry.actor_ref == actor_ref(root)  # the admin who removed it


def test_an_admin_who_is_not_a_superuser_cannot_remove_an_authenticator(client):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    admin_user = factories.user_with_role(Role.ADMIN)
    _login(client, admin_user)
    owner = factories.user_with_role(Role.COMPLIANCE_OFFICER)
    device = factories.totp_device(owner)
    # Removed, the owner could not sign in until a superuser issued them a set-up code.
    response = client.post(_url(TOTPDevice, "delete", device.pk), {"post": "yes"})
    assert response.status_code == 403
    assert TOTPDevice.objects.filter(pk=device.pk).exists()


# --- authenticator set-up codes ----------------------------------------------------------------


def _issue(client: Any, *users: Any) -> Any:
    return client.post(
        reverse("admin:auth_user_changelist"),
        {"action": "issue_setup_codes", "index": 0, "_selected_action": [u.pk for u in users]},
    )


def test_a_superuser_issues_set_up_codes_shown_once_on_their_own_page(client, root):
    handler = factories.user_with_role(Role.HANDLER, "moderation")
    complainant = factories.user_with_role(Role.COMPLAINANT)
    response = _issue(client, handler, complainant)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    (code,) = re.findall(r'<code class="setup-code">([A-Z2-9-]+)</code>', page)
    assert "signs in with a password alone" in page  # the complainant's refusal, as a message
    # Nowhere but on the page: not in the session, a cookie or a message.
    assert code not in str(list(client.session.items()))
    assert code not in str(response.cookies)
    assert code not in str([str(m) for m in get_messages(response.wsgi_request)])
    # The code works for its owner, and the ledger names the superuser who issued it.
    device, _setup = services.two_factor_start(user=handler, code=code)
    assert device.user_id == handler.pk
    (entry,) = LedgerEntry.objects.filter(event_type=EventType.TWO_FACTOR_CODE_ISSUED)
    assert (entry.object_ref, entry.actor_ref) == (f"user:{actor_ref(handler)}", actor_ref(root))
    # The list of codes shows who and when, never the code or its hash.
    row = AuthenticatorSetupCode.objects.get()
    listed = client.get(_url(AuthenticatorSetupCode, "change", row.pk)).content.decode()
    assert row.code_hash not in listed
    assert code not in listed


def test_an_admin_who_is_not_a_superuser_cannot_issue_set_up_codes(client):
    admin_user = factories.user_with_role(Role.ADMIN)
    _login(client, admin_user)
    officer = factories.user_with_role(Role.COMPLIANCE_OFFICER)
    changelist = client.get(reverse("admin:auth_user_changelist")).content.decode()
    assert "issue_setup_codes" not in changelist
    response = _issue(client, officer)
    assert response.status_code == 200  # the list again: no action of theirs was selected
    assert not AuthenticatorSetupCode.objects.exists()
