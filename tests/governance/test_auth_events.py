"""Authentication events: each is a line in the security log, and those that change access are
ledger entries naming the account by pseudonym only (governance/auth_events.py)."""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Any
from unittest import mock

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token

from audits.models import LedgerEntry
from audits.verification import verify_ledger
from governance import services
from governance.choices import Role
from governance.models import RoleMembership
from privacy.pseudonyms import actor_ref
from tests import factories

PASSWORD = "a-long-test-passphrase-9"
SECURITY = "ombud.security"


@pytest.fixture
def security_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger=SECURITY)
    return caplog


def _lines(caplog: pytest.LogCaptureFixture, event: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == SECURITY and r.getMessage().startswith(f"event={event} ")
    ]


def _entries(event: str, about: Any = None) -> list[LedgerEntry]:
    """The ledger's entries of one type, in order; with `about`, only those about that account."""
    entries = LedgerEntry.objects.filter(event_type=event).order_by("seq")
    if about is not None:
        entries = entries.filter(object_ref=f"user:{actor_ref(about)}")
    return list(entries)


def _with_password(user: Any) -> Any:
    user.set_password(PASSWORD)
    user.save()
    return user


def _password_step(client: Client, username: str, password: str = PASSWORD) -> Any:
    return client.post(reverse("sign-in"), {"username": username, "password": password})


def _assert_no_personal_data_in_ledger(user: Any) -> None:
    for entry in LedgerEntry.objects.all():
        assert user.username not in entry.body
        assert user.email not in entry.body
        assert "127.0.0.1" not in entry.body


def test_a_complainant_sign_in_is_logged_but_not_ledgered(
    complainant: Any, security_log: Any
) -> None:
    # Anyone may open a complainant's account and sign in and out in a loop: the immutable
    # ledger must not be theirs to fill.
    _with_password(complainant)
    client = Client()
    assert _password_step(client, complainant.username).status_code == 302
    (line,) = _lines(security_log, "signed_in")
    assert f"user={complainant.pk} " in line
    assert 'method="password"' in line
    assert 'ip="127.0.0.1"' in line
    assert PASSWORD not in security_log.text
    assert _entries("account.signed_in") == []
    assert client.post(reverse("sign-out")).status_code == 302
    assert _lines(security_log, "signed_out")
    assert _entries("account.signed_out") == []


def test_the_staff_sign_in_is_ledgered_at_the_code_step_only(
    supervisor: Any, security_log: Any
) -> None:
    _with_password(supervisor)
    device = factories.totp_device(supervisor)
    client = Client()
    assert _password_step(client, supervisor.username)["Location"] == reverse("two-factor")
    assert _entries("account.signed_in") == []
    assert _lines(security_log, "signed_in") == []
    code = factories.totp_code(device)
    assert client.post(reverse("two-factor"), {"token": code}).status_code == 302
    (entry,) = _entries("account.signed_in")
    assert '"method":"password+totp"' in entry.body
    (line,) = _lines(security_log, "signed_in")
    assert 'method="password+totp"' in line
    assert code not in security_log.text
    assert PASSWORD not in security_log.text
    assert verify_ledger().entries == LedgerEntry.objects.count()


def test_a_first_staff_sign_in_logs_the_set_up_and_signs_in_once(
    handler: Any, security_log: Any, django_capture_on_commit_callbacks: Any
) -> None:
    _with_password(handler)
    with django_capture_on_commit_callbacks(execute=True):
        code = factories.setup_code(handler)
    (issued,) = _lines(security_log, "two_factor_code_issued")
    assert f"user={handler.pk} " in issued
    client = Client()
    _password_step(client, handler.username)
    client.post(reverse("two-factor-setup"), {"code": code})
    device = TOTPDevice.objects.get(user=handler, confirmed=False)
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(reverse("two-factor-setup"), {"token": factories.totp_code(device)})
    assert done.status_code == 302
    (line,) = _lines(security_log, "two_factor_enrolled")
    assert f"user={handler.pk} " in line
    assert code not in security_log.text
    assert len(_entries("account.two_factor_code_issued")) == 1
    assert len(_entries("account.two_factor_enrolled")) == 1
    assert len(_entries("account.signed_in")) == 1
    assert verify_ledger().entries == LedgerEntry.objects.count()


def test_sign_up_signs_in_with_a_password(security_log: Any) -> None:
    client = Client()
    data = {"username": "mei", "email": "mei@example.org", "password": PASSWORD}
    assert client.post(reverse("sign-up"), data).status_code == 302
    (line,) = _lines(security_log, "signed_in")
    assert 'method="password"' in line
    # The new account's role is in the ledger (role.granted); its sessions are not (see above).
    assert _entries("account.signed_in") == []
    (granted,) = _entries("role.granted")
    assert "mei" not in granted.body


@pytest.mark.parametrize(
    ("who", "password", "reason"),
    [
        ("known", "wrong-password", "bad_password"),
        ("nobody-by-this-name", PASSWORD, "unknown_user"),
        ("inactive", PASSWORD, "inactive"),
    ],
)
def test_a_failed_password_is_logged_with_its_reason_and_not_ledgered(
    complainant: Any, security_log: Any, who: str, password: str, reason: str
) -> None:
    _with_password(complainant)
    if who == "inactive":
        get_user_model().objects.filter(pk=complainant.pk).update(is_active=False)
    username = who if who == "nobody-by-this-name" else complainant.username
    before = LedgerEntry.objects.count()
    assert _password_step(Client(), username, password).status_code == 200
    (line,) = _lines(security_log, "sign_in_failed")
    assert f'username="{username}"' in line
    assert 'ip="127.0.0.1"' in line
    assert f'reason="{reason}"' in line
    assert password not in security_log.text
    assert LedgerEntry.objects.count() == before


def test_a_wrong_code_is_logged_without_the_code_and_not_ledgered(
    supervisor: Any, security_log: Any
) -> None:
    _with_password(supervisor)
    factories.totp_device(supervisor)
    client = Client()
    _password_step(client, supervisor.username)
    before = LedgerEntry.objects.count()
    client.post(reverse("two-factor"), {"token": "918273"})
    (line,) = _lines(security_log, "sign_in_failed")
    assert 'reason="bad_code"' in line
    assert f'username="{supervisor.username}"' in line
    assert "918273" not in security_log.text
    assert LedgerEntry.objects.count() == before


def test_a_wrong_set_up_code_is_logged_as_such_without_the_code(
    handler: Any, security_log: Any
) -> None:
    _with_password(handler)
    client = Client()
    _password_step(client, handler.username)
    before = LedgerEntry.objects.count()
    client.post(reverse("two-factor-setup"), {"code": "WXYZ-2345-WXYZ-2345"})
    (line,) = _lines(security_log, "sign_in_failed")
    assert 'reason="bad_setup_code"' in line
    assert "WXYZ" not in security_log.text
    assert LedgerEntry.objects.count() == before


def test_a_lockout_of_an_account_is_ledgered_once(complainant: Any, security_log: Any) -> None:
    _with_password(complainant)
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _password_step(client, complainant.username, "wrong-password")
    assert len(_lines(security_log, "locked_out")) == 1
    (entry,) = _entries("account.locked_out")
    assert entry.object_ref == f"user:{actor_ref(complainant)}"
    assert entry.actor_ref == "system:sign-in-lockout"
    # Further attempts while locked are refused and logged, but add nothing to the ledger.
    for _ in range(2):
        assert _password_step(client, complainant.username).status_code == 429
    assert len(_entries("account.locked_out")) == 1
    assert _lines(security_log, "sign_in_failed")[-1].endswith('reason="locked"')
    assert PASSWORD not in security_log.text
    _assert_no_personal_data_in_ledger(complainant)
    assert verify_ledger().entries == LedgerEntry.objects.count()


def test_wrong_codes_lock_the_account_and_ledger_it_once(
    supervisor: Any, security_log: Any
) -> None:
    _with_password(supervisor)
    factories.totp_device(supervisor)
    client = Client()
    _password_step(client, supervisor.username)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("two-factor"), {"token": "000000"})
    assert len(_entries("account.locked_out")) == 1
    assert _entries("account.signed_in") == []


def test_a_lockout_of_an_unknown_name_is_logged_only(security_log: Any) -> None:
    before = LedgerEntry.objects.count()
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT + 1):
        _password_step(client, "no-such-account", "guess")
    assert _lines(security_log, "locked_out")
    assert LedgerEntry.objects.count() == before


def test_a_lockout_of_an_address_does_not_ledger_the_name_tried_last(security_log: Any) -> None:
    # One failure for each of several real accounts, all from one address: the address is
    # locked, no account is.
    people = [
        _with_password(factories.user_with_role(Role.COMPLAINANT))
        for _ in range(settings.AXES_FAILURE_LIMIT)
    ]
    client = Client()
    for person in people:
        _password_step(client, person.username, "wrong-password")
    assert _lines(security_log, "locked_out")
    assert _entries("account.locked_out") == []


def test_a_staff_sign_out_by_post_is_logged_and_ledgered(
    page_as: Any, supervisor: Any, security_log: Any
) -> None:
    client = page_as(supervisor)  # force_login: neither logged nor ledgered
    assert _entries("account.signed_in") == []
    assert client.get(reverse("sign-out")).status_code == 405
    assert _entries("account.signed_out") == []
    assert client.post(reverse("sign-out")).status_code == 302
    (entry,) = _entries("account.signed_out")
    assert entry.object_ref == f"user:{actor_ref(supervisor)}"
    (line,) = _lines(security_log, "signed_out")
    assert f"user={supervisor.pk} " in line
    assert verify_ledger().entries == LedgerEntry.objects.count()


def test_force_login_is_neither_logged_nor_ledgered(complainant: Any, security_log: Any) -> None:
    before = LedgerEntry.objects.count()
    Client().force_login(complainant)
    assert LedgerEntry.objects.count() == before
    assert _lines(security_log, "signed_in") == []


def test_a_sign_in_the_ledger_cannot_record_does_not_happen(supervisor: Any) -> None:
    _with_password(supervisor)
    device = factories.totp_device(supervisor)
    client = Client(raise_request_exception=False)
    assert _password_step(client, supervisor.username).status_code == 302
    with mock.patch.object(services, "account_event_record", side_effect=RuntimeError("down")):
        response = client.post(reverse("two-factor"), {"token": factories.totp_code(device)})
    assert response.status_code == 500
    assert "sessionid" not in response.cookies
    assert client.get(reverse("home")).wsgi_request.user.is_anonymous


def test_a_sign_out_the_ledger_cannot_record_still_ends_the_session(
    page_as: Any, supervisor: Any, security_log: Any
) -> None:
    client = page_as(supervisor)
    with mock.patch.object(services, "account_event_record", side_effect=RuntimeError("down")):
        assert client.post(reverse("sign-out")).status_code == 302
    assert client.get(reverse("home")).wsgi_request.user.is_anonymous
    assert any("ledger_write_failed" in r.getMessage() for r in security_log.records)


def test_role_changes_are_logged_as_well_as_ledgered(
    security_log: Any, django_capture_on_commit_callbacks: Any
) -> None:
    root = factories.superuser()
    user = factories.UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        membership = services.role_grant(actor=root, user=user, role=Role.SUPERVISOR)
    (granted,) = _lines(security_log, "role_granted")
    assert f"user={user.pk} " in granted
    assert f"actor={root.pk} " in granted
    assert 'role="supervisor"' in granted
    with django_capture_on_commit_callbacks(execute=True):
        services.role_revoke(actor=root, membership=membership, reason="left the team")
    (revoked,) = _lines(security_log, "role_revoked")
    assert 'role="supervisor"' in revoked
    assert RoleMembership.objects.get(pk=membership.pk).revoked_at is not None
    assert len(_entries("role.revoked")) == 1


def test_removing_a_confirmed_authenticator_is_logged_and_ledgered(
    supervisor: Any, security_log: Any
) -> None:
    confirmed = factories.totp_device(supervisor)
    TOTPDevice.objects.create(user=supervisor, name="unconfirmed", confirmed=False)
    TOTPDevice.objects.filter(user=supervisor, confirmed=False).delete()
    assert _entries("account.two_factor_removed") == []
    confirmed.delete()
    (entry,) = _entries("account.two_factor_removed")
    assert entry.object_ref == f"user:{actor_ref(supervisor)}"
    assert len(_lines(security_log, "two_factor_removed")) == 1
    assert verify_ledger().entries == LedgerEntry.objects.count()


def test_api_tokens_issued_and_revoked_are_logged_and_ledgered_without_the_key(
    handler: Any, security_log: Any
) -> None:
    token = Token.objects.create(user=handler)
    (issued,) = _entries("account.api_token_issued")
    assert issued.object_ref == f"user:{actor_ref(handler)}"
    Token.objects.filter(user=handler).delete()
    (revoked,) = _entries("account.api_token_revoked")
    assert revoked.object_ref == issued.object_ref
    assert len(_lines(security_log, "api_token_issued")) == 1
    assert len(_lines(security_log, "api_token_revoked")) == 1
    assert token.key not in security_log.text
    assert all(token.key not in e.body for e in LedgerEntry.objects.all())
    assert verify_ledger().entries == LedgerEntry.objects.count()


def test_a_token_issued_in_the_admin_is_ledgered(security_log: Any) -> None:
    root = factories.superuser()
    client = Client()
    factories.sign_in_pages(client, root)
    target = factories.UserFactory()
    response = client.post(reverse("admin:authtoken_tokenproxy_add"), {"user": target.pk})
    assert response.status_code == 302
    (entry,) = _entries("account.api_token_issued")
    assert entry.object_ref == f"user:{actor_ref(target)}"
    assert entry.actor_ref == actor_ref(root)  # the admin who issued it


def test_a_password_change_is_logged_without_the_password(
    complainant: Any, security_log: Any
) -> None:
    before = LedgerEntry.objects.count()
    _with_password(complainant)
    (line,) = _lines(security_log, "password_changed")
    assert line == f"event=password_changed user={complainant.pk}"
    assert PASSWORD not in security_log.text
    assert LedgerEntry.objects.count() == before


def test_log_values_cannot_forge_a_line(security_log: Any) -> None:
    _password_step(Client(), 'x" ip="10.0.0.1"\nevent=signed_in user=1', "wrong")
    (line,) = _lines(security_log, "sign_in_failed")
    assert "\n" not in line
    assert 'username="x\\" ip=\\"10.0.0.1\\"\\nevent=signed_in user=1"' in line


def test_tokens_made_and_reset_by_the_command_are_ledgered(handler: Any) -> None:
    from io import StringIO

    from django.core.management import call_command

    call_command("drf_create_token", handler.username, stdout=StringIO())
    call_command("drf_create_token", handler.username, "-r", stdout=StringIO())
    assert len(_entries("account.api_token_issued")) == 2
    assert len(_entries("account.api_token_revoked")) == 1
    assert verify_ledger().entries == LedgerEntry.objects.count()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_token_command_stores_no_token_whose_entry_failed(
    handler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # DRF's command creates the token with get_or_create, whose transaction holds the insert
    # and the receiver's ledger entry: when the entry fails, no token is left behind.
    from io import StringIO

    from django.core.management import call_command

    from governance import services

    def ledger_down(**kwargs: Any) -> None:
        raise RuntimeError("the ledger cannot be written")

    monkeypatch.setattr(services, "account_event_record", ledger_down)
    with pytest.raises(RuntimeError):
        call_command("drf_create_token", handler.username, stdout=StringIO())
    assert not Token.objects.filter(user=handler).exists()


# --- access flags and early unlocks, on every path ----------------------------------------------


def _admin_client() -> tuple[Client, Any]:
    root = factories.superuser()
    client = Client()
    factories.sign_in_pages(client, get_user_model().objects.get(pk=root.pk))
    return client, root


def _user_form(user: Any, **changes: Any) -> dict[str, Any]:
    """The admin's change form for `user`, as its page fills it, with `changes` applied."""
    user = get_user_model().objects.get(pk=user.pk)
    form = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        "initial-date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "initial-date_joined_1": user.date_joined.strftime("%H:%M:%S"),
    }
    flags = {"is_active": user.is_active, "is_staff": user.is_staff, "is_superuser": False}
    flags.update(changes)
    form.update({name: "on" for name, value in flags.items() if value})
    return form


def test_deactivating_an_account_in_the_admin_is_logged_and_ledgered_by_whom(
    complainant: Any, security_log: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client, root = _admin_client()
    url = reverse("admin:auth_user_change", args=[complainant.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, _user_form(complainant, is_active=False))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert not get_user_model().objects.get(pk=complainant.pk).is_active
    (entry,) = _entries("account.access_flags_changed", about=complainant)
    assert entry.actor_ref == actor_ref(root)
    assert json.loads(entry.body)["data"] == {"is_active": {"from": True, "to": False}}
    (line,) = _lines(security_log, "access_flags_changed")
    assert f"user={complainant.pk} by={root.pk} is_active=false" in line
    # Saving the form again changes no flag and adds nothing.
    client.post(url, _user_form(complainant, is_active=False))
    assert len(_entries("account.access_flags_changed", about=complainant)) == 1
    _assert_no_personal_data_in_ledger(complainant)
    assert verify_ledger().entries == LedgerEntry.objects.count()


def test_flags_changed_outside_a_request_are_ledgered_unattributed(complainant: Any) -> None:
    complainant.is_staff = True
    complainant.save()
    complainant.save(update_fields=["last_login"])  # no flag among the fields: nothing read
    (entry,) = _entries("account.access_flags_changed", about=complainant)
    assert entry.actor_ref == "system:unattributed"
    assert json.loads(entry.body)["data"] == {"is_staff": {"from": False, "to": True}}


def test_an_account_made_or_overwritten_with_admin_access_is_ledgered(complainant: Any) -> None:
    user_model = get_user_model()
    made = user_model.objects.create_superuser("root2", "root2@example.org", PASSWORD)
    (entry,) = _entries("account.access_flags_changed", about=made)
    assert json.loads(entry.body)["data"] == {
        "is_staff": {"from": None, "to": True},
        "is_superuser": {"from": None, "to": True},
    }
    # A new object with an existing account's key overwrites that account's row.
    user_model(pk=complainant.pk, username=complainant.username, is_superuser=True).save()
    (overwritten,) = _entries("account.access_flags_changed", about=complainant)
    assert json.loads(overwritten.body)["data"] == {"is_superuser": {"from": False, "to": True}}
    # An ordinary new account grants nothing and adds nothing.
    before = LedgerEntry.objects.count()
    factories.UserFactory()
    assert LedgerEntry.objects.count() == before


def test_a_role_service_s_flag_change_names_the_admin_who_made_it() -> None:
    root = factories.superuser()
    user = factories.UserFactory()
    membership = services.role_grant(actor=root, user=user, role=Role.ADMIN)
    services.role_revoke(actor=root, membership=membership, reason="left")
    granted, revoked = _entries("account.access_flags_changed", about=user)
    assert granted.actor_ref == revoked.actor_ref == actor_ref(root)
    assert json.loads(revoked.body)["data"] == {"is_staff": {"from": True, "to": False}}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_access_granted_outside_a_transaction_is_not_saved_when_the_ledger_fails(
    complainant: Any,
) -> None:
    # The grant's entry is written before the save: in autocommit too, no entry, no grant.
    complainant.is_superuser = True
    with (
        mock.patch.object(services, "account_event_record", side_effect=RuntimeError("down")),
        pytest.raises(RuntimeError),
    ):
        complainant.save()
    assert not get_user_model().objects.get(pk=complainant.pk).is_superuser


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_account_made_with_access_the_ledger_cannot_record_is_not_made() -> None:
    user_model = get_user_model()
    with (
        mock.patch.object(services, "account_event_record", side_effect=RuntimeError("down")),
        pytest.raises(RuntimeError),
    ):
        user_model.objects.create_superuser("root3", "root3@example.org", PASSWORD)
    assert not user_model.objects.filter(username="root3").exists()


def test_a_grant_whose_entry_failed_is_not_saved_even_if_the_error_is_swallowed(
    complainant: Any,
) -> None:
    complainant.is_staff = True
    with (
        mock.patch.object(services, "account_event_record", side_effect=RuntimeError("down")),
        transaction.atomic(),
        contextlib.suppress(RuntimeError),
    ):  # a careless caller, in the same transaction
        complainant.save()
    assert not get_user_model().objects.get(pk=complainant.pk).is_staff


def test_access_granted_that_the_ledger_cannot_record_is_not_granted(complainant: Any) -> None:
    complainant.is_superuser = True
    with (
        mock.patch.object(services, "account_event_record", side_effect=RuntimeError("down")),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        complainant.save()
    assert not get_user_model().objects.get(pk=complainant.pk).is_superuser


def test_access_taken_away_stays_taken_away_when_the_ledger_fails(
    complainant: Any, security_log: Any
) -> None:
    complainant.is_active = False
    with mock.patch.object(services, "account_event_record", side_effect=RuntimeError("down")):
        complainant.save()
    assert not get_user_model().objects.get(pk=complainant.pk).is_active
    assert any("ledger_write_failed" in r.getMessage() for r in security_log.records)


def _lock(user: Any) -> None:
    _with_password(user)
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _password_step(client, user.username, "wrong-password")
    assert len(_entries("account.locked_out")) == 1


def test_lifting_a_lock_in_the_admin_is_logged_and_ledgered_once(
    complainant: Any, security_log: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from axes.models import AccessAttempt

    _lock(complainant)
    client, root = _admin_client()
    attempts = list(AccessAttempt.objects.filter(username=complainant.username))
    assert attempts
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:axes_accessattempt_changelist"),
            {
                "action": "delete_selected",
                "_selected_action": [a.pk for a in attempts],
                "post": "yes",
            },
        )
    assert response.status_code == 302
    assert not AccessAttempt.objects.filter(username=complainant.username).exists()
    (entry,) = _entries("account.unlocked")
    assert entry.object_ref == f"user:{actor_ref(complainant)}"
    assert entry.actor_ref == actor_ref(root)
    assert len(_lines(security_log, "lock_lifted")) == 1
    # The name can sign in again.
    assert _password_step(Client(), complainant.username).status_code == 302
    assert verify_ledger().entries == LedgerEntry.objects.count()


def test_a_lock_from_several_addresses_lifted_at_once_is_ledgered(complainant: Any) -> None:
    from axes.models import AccessAttempt

    _with_password(complainant)
    limit = settings.AXES_FAILURE_LIMIT
    for n in range(limit):  # each failure from another address: no row alone holds the lock
        _password_step(Client(REMOTE_ADDR=f"192.0.2.{n + 1}"), complainant.username, "wrong")
    assert AccessAttempt.objects.filter(username=complainant.username).count() == limit
    assert len(_entries("account.locked_out")) == 1
    AccessAttempt.objects.filter(username=complainant.username).delete()
    (entry,) = _entries("account.unlocked")
    assert entry.actor_ref == "system:unattributed"


def test_each_lock_and_each_early_unlock_is_ledgered_in_pairs(complainant: Any) -> None:
    from axes.models import AccessAttempt

    for _ in range(2):
        client = Client()
        for _ in range(settings.AXES_FAILURE_LIMIT):
            _password_step(client, complainant.username, "wrong-password")
        AccessAttempt.objects.filter(username=complainant.username).delete()
    events = [
        e.event_type
        for e in LedgerEntry.objects.filter(event_type__startswith="account.").order_by("seq")
        if e.event_type in ("account.locked_out", "account.unlocked")
    ]
    assert events == ["account.locked_out", "account.unlocked"] * 2


def test_a_lock_that_outlived_its_entry_s_period_is_still_unlocked_in_the_ledger(
    complainant: Any,
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    # Failures during a lock prolong it beyond the period its ledger entry started.
    long_ago = timezone.now() - timedelta(hours=3)
    services.account_lockout_record(
        username=complainant.username, since=long_ago - timedelta(minutes=15), now=long_ago
    )
    assert services.account_unlock_record(username=complainant.username) is not None
    assert services.account_unlock_record(username=complainant.username) is None  # once


def test_lifting_the_lock_of_a_name_with_no_account_is_logged_only(
    security_log: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from axes.models import AccessAttempt

    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _password_step(client, "nobody-by-this-name", "wrong-password")
    before = LedgerEntry.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        AccessAttempt.objects.filter(username="nobody-by-this-name").delete()
    (line,) = _lines(security_log, "lock_lifted")
    assert 'username="nobody-by-this-name"' in line
    assert LedgerEntry.objects.count() == before


def test_attempts_that_lock_nothing_or_ran_out_lift_nothing(complainant: Any) -> None:
    from datetime import timedelta

    from axes.models import AccessAttempt
    from django.utils import timezone

    _with_password(complainant)
    _password_step(Client(), complainant.username, "wrong-password")  # one failure, no lock
    AccessAttempt.objects.filter(username=complainant.username).delete()
    _lock(complainant)
    AccessAttempt.objects.filter(username=complainant.username).update(
        attempt_time=timezone.now() - timedelta(days=1)
    )  # run out, as django-axes then removes them
    AccessAttempt.objects.filter(username=complainant.username).delete()
    assert _entries("account.unlocked") == []
