"""Signing in, up and out: passwords hashed with Argon2, a TOTP code for staff, lockout after
repeated failures, and the admin and the API behind the same second factor."""

from __future__ import annotations

from typing import Any

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from audits.models import LedgerEntry
from governance.choices import Role
from governance.models import AuthenticatorSetupCode, RoleMembership
from tests import factories

PASSWORD = "a-long-test-passphrase-9"


def _with_password(user: Any) -> Any:
    user.set_password(PASSWORD)
    user.save()
    return user


def _password_step(client: Client, user: Any, next_url: str = "") -> Any:
    data = {"username": user.get_username(), "password": PASSWORD}
    if next_url:
        data["next"] = next_url
    return client.post(reverse("sign-in"), data)


def test_sign_up_opens_a_complainant_account_signed_in_with_an_argon2_hash() -> None:
    client = Client()
    response = client.post(
        reverse("sign-up"), {"username": "mei", "email": "mei@example.org", "password": PASSWORD}
    )
    assert response.status_code == 302
    user = get_user_model().objects.get(username="mei")
    assert user.password.startswith("argon2$argon2id$")
    assert RoleMembership.objects.filter(user=user, role=Role.COMPLAINANT).exists()
    assert LedgerEntry.objects.filter(event_type="role.granted").exists()
    assert client.get(reverse("home")).wsgi_request.user.pk == user.pk


def test_sign_up_refuses_a_weak_password_and_a_taken_name_saving_nothing() -> None:
    factories.UserFactory(username="taken")
    before = get_user_model().objects.count()
    response = Client().post(
        reverse("sign-up"), {"username": "Taken", "email": "x@example.org", "password": "12345678"}
    )
    assert response.status_code == 400
    assert "That user name is taken" in response.content.decode()
    assert "entirely numeric" in response.content.decode()
    assert get_user_model().objects.count() == before


def test_a_complainant_signs_in_with_a_password_alone(complainant: Any) -> None:
    client = Client()
    _with_password(complainant)
    response = _password_step(client, complainant, next_url="/my/")
    assert response.status_code == 302
    assert response["Location"] == "/my/"
    assert client.get(reverse("home")).wsgi_request.user.pk == complainant.pk


def test_a_staff_member_sets_up_an_authenticator_on_first_sign_in(handler: Any) -> None:
    client = Client()
    _with_password(handler)
    code = factories.setup_code(handler)
    response = _password_step(client, handler)
    assert response["Location"] == reverse("two-factor-setup")
    # Not signed in yet: the password alone opens nothing, and shows no authenticator key.
    assert client.get(reverse("home")).wsgi_request.user.is_anonymous
    page = client.get(reverse("two-factor-setup"))
    assert page.status_code == 200
    assert b"<svg" not in page.content
    assert 'name="code"' in page.content.decode()
    assert not TOTPDevice.objects.filter(user=handler).exists()
    # The set-up code is typed as it came, or in lower case without its dashes.
    given = client.post(reverse("two-factor-setup"), {"code": code.replace("-", " ").lower()})
    assert given["Location"] == reverse("two-factor-setup")
    page = client.get(reverse("two-factor-setup"))
    assert b"<svg" in page.content
    device = TOTPDevice.objects.get(user=handler, confirmed=False)
    wrong = client.post(reverse("two-factor-setup"), {"token": "000000"})
    assert wrong.status_code == 400
    assert not TOTPDevice.objects.get(pk=device.pk).confirmed
    done = client.post(reverse("two-factor-setup"), {"token": factories.totp_code(device)})
    assert done.status_code == 302
    assert TOTPDevice.objects.get(pk=device.pk).confirmed
    assert LedgerEntry.objects.filter(event_type="account.two_factor_enrolled").count() == 1
    assert AuthenticatorSetupCode.objects.get(user=handler).used_at is not None
    request = client.get(reverse("home")).wsgi_request
    assert request.user.pk == handler.pk
    assert request.user.is_verified()


def test_a_password_without_a_set_up_code_enrols_nothing(handler: Any) -> None:
    # given a staff member with no authenticator, whose password someone else holds
    _with_password(handler)
    client = Client()
    _password_step(client, handler)
    # when they try to link their own app with no code, or a made-up one
    for attempt in ("", "AAAA-BBBB-CCCC-DDDD"):
        response = client.post(reverse("two-factor-setup"), {"code": attempt})
        # then no key is shown and no device made
        assert response.status_code == 400
        assert b"<svg" not in response.content
    assert "ask an administrator for a new one" in response.content.decode()
    assert not TOTPDevice.objects.filter(user=handler).exists()
    assert client.get(reverse("home")).wsgi_request.user.is_anonymous


def test_a_set_up_code_works_only_for_its_owner_once_and_while_open(
    handler: Any, supervisor: Any
) -> None:
    _with_password(handler)
    _with_password(supervisor)
    theirs = factories.setup_code(supervisor)
    client = Client()
    _password_step(client, handler)
    refused = client.post(reverse("two-factor-setup"), {"code": theirs})
    assert refused.status_code == 400
    # A newer code withdraws the older one.
    first = factories.setup_code(handler)
    second = factories.setup_code(handler)
    assert client.post(reverse("two-factor-setup"), {"code": first}).status_code == 400
    assert client.post(reverse("two-factor-setup"), {"code": second}).status_code == 302
    # Replaced between the two steps: the second step sends the person back to sign in.
    factories.setup_code(handler)
    device = TOTPDevice.objects.get(user=handler, confirmed=False)
    response = client.post(reverse("two-factor-setup"), {"token": factories.totp_code(device)})
    assert response["Location"] == reverse("sign-in")
    assert not TOTPDevice.objects.get(pk=device.pk).confirmed
    assert not LedgerEntry.objects.filter(event_type="account.two_factor_enrolled").exists()


def test_a_mistyped_set_up_code_is_not_kept_in_the_failed_attempts(handler: Any) -> None:
    _with_password(handler)
    code = factories.setup_code(handler)
    client = Client()
    _password_step(client, handler)
    typo = code[:-1] + ("2" if code[-1] != "2" else "3")
    assert client.post(reverse("two-factor-setup"), {"code": typo}).status_code == 400
    attempt = AccessAttempt.objects.get(username=handler.username)
    assert typo not in attempt.post_data
    assert code[:14] not in attempt.post_data


def test_a_used_set_up_code_does_not_work_again(handler: Any) -> None:
    _with_password(handler)
    code = factories.setup_code(handler)
    first = Client()
    _password_step(first, handler)
    first.post(reverse("two-factor-setup"), {"code": code})
    device = TOTPDevice.objects.get(user=handler)
    first.post(reverse("two-factor-setup"), {"token": factories.totp_code(device)})
    assert TOTPDevice.objects.get(pk=device.pk).confirmed
    device.delete()  # the phone is lost, and a superuser removes it
    second = Client()
    _password_step(second, handler)
    response = second.post(reverse("two-factor-setup"), {"code": code})
    assert response.status_code == 400
    assert not TOTPDevice.objects.filter(user=handler).exists()


def test_a_set_up_code_that_expires_between_the_steps_sends_back_to_sign_in(
    handler: Any,
) -> None:
    _with_password(handler)
    code = factories.setup_code(handler)
    client = Client()
    _password_step(client, handler)
    assert client.post(reverse("two-factor-setup"), {"code": code}).status_code == 302
    device = TOTPDevice.objects.get(user=handler)
    AuthenticatorSetupCode.objects.filter(user=handler).update(expires_at=timezone.now())
    response = client.post(reverse("two-factor-setup"), {"token": factories.totp_code(device)})
    assert response["Location"] == reverse("sign-in")
    assert not TOTPDevice.objects.get(pk=device.pk).confirmed


def test_wrong_set_up_codes_count_towards_the_lockout(handler: Any) -> None:
    _with_password(handler)
    factories.setup_code(handler)
    client = Client()
    _password_step(client, handler)
    for _ in range(5):
        client.post(reverse("two-factor-setup"), {"code": "AAAA-BBBB-CCCC-DDDD"})
    assert AccessAttempt.objects.get(username=handler.username).failures_since_start == 5
    assert client.get(reverse("two-factor-setup")).status_code == 429


def test_a_staff_member_with_an_authenticator_gives_a_code(supervisor: Any) -> None:
    client = Client()
    _with_password(supervisor)
    device = factories.totp_device(supervisor)
    assert _password_step(client, supervisor)["Location"] == reverse("two-factor")
    bad = client.post(reverse("two-factor"), {"token": "123456"})
    assert bad.status_code == 200
    assert "That code is not right" in bad.content.decode()
    assert client.get(reverse("home")).wsgi_request.user.is_anonymous
    device.refresh_from_db()
    device.throttling_failure_count = 0  # the device's own back-off, tested by django-otp
    device.throttling_failure_timestamp = None
    device.save()
    ok = client.post(reverse("two-factor"), {"token": factories.totp_code(device)})
    assert ok.status_code == 302
    assert client.get(reverse("home")).wsgi_request.user.is_verified()


def test_the_code_step_needs_the_password_step_first(supervisor: Any) -> None:
    factories.totp_device(supervisor)
    response = Client().get(reverse("two-factor"))
    assert response.status_code == 302
    assert response["Location"] == reverse("sign-in")


def test_repeated_wrong_passwords_lock_the_account(complainant: Any) -> None:
    client = Client()
    _with_password(complainant)
    for _ in range(5):
        client.post(reverse("sign-in"), {"username": complainant.username, "password": "wrong"})
    locked = _password_step(client, complainant)
    assert locked.status_code == 429
    assert "Sign-in locked" in locked.content.decode()
    assert client.get(reverse("home")).wsgi_request.user.is_anonymous
    assert AccessAttempt.objects.filter(username=complainant.username).exists()


def test_repeated_wrong_codes_lock_the_account(supervisor: Any) -> None:
    client = Client()
    _with_password(supervisor)
    device = factories.totp_device(supervisor)
    _password_step(client, supervisor)
    for _ in range(5):
        client.post(reverse("two-factor"), {"token": "000000"})
    device.refresh_from_db()
    device.throttling_failure_count = 0
    device.throttling_failure_timestamp = None
    device.save()
    locked = client.post(reverse("two-factor"), {"token": factories.totp_code(device)})
    assert locked.status_code == 429
    assert client.get(reverse("home")).wsgi_request.user.is_anonymous


def test_sign_out_needs_a_post_and_ends_the_session(page_as: Any, complainant: Any) -> None:
    client = page_as(complainant)
    assert client.get(reverse("sign-out")).status_code == 405
    assert client.post(reverse("sign-out")).status_code == 302
    assert client.get(reverse("home")).wsgi_request.user.is_anonymous


def test_csrf_is_enforced_on_sign_in(complainant: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    _with_password(complainant)
    assert _password_step(client, complainant).status_code == 403


def test_the_admin_requires_the_second_factor() -> None:
    root = factories.superuser()
    client = Client()
    client.force_login(root)  # a session with a password alone
    response = client.get(reverse("admin:index"), follow=True)
    assert response.redirect_chain[-1][0].startswith(reverse("sign-in"))
    factories.sign_in_pages(client, root)
    assert client.get(reverse("admin:index")).status_code == 200


@pytest.mark.parametrize("verified", [False, True])
def test_an_api_session_counts_only_with_the_second_factor(compliance: Any, verified: bool) -> None:
    client = Client()
    if verified:
        factories.sign_in_pages(client, compliance)
    else:
        client.force_login(compliance)
    response = client.get("/api/v1/decisions/")
    assert response.status_code == (200 if verified else 401)


def test_a_page_sends_a_password_only_staff_session_back_to_sign_in(handler: Any) -> None:
    client = Client()
    client.force_login(handler)
    response = client.get(reverse("home"))
    assert response.status_code == 200  # the front door is open to anyone
    assert response.context["nav"] == []


def test_demo_totp_prints_a_valid_code_only_with_debug(supervisor: Any, settings: Any) -> None:
    from io import StringIO

    from django.core.management import CommandError, call_command

    device = factories.totp_device(supervisor)
    settings.DEBUG = False
    with pytest.raises(CommandError, match="only with DEBUG=1"):
        call_command("demo_totp", supervisor.username)
    settings.DEBUG = True
    out = StringIO()
    call_command("demo_totp", supervisor.username, stdout=out)
    assert device.verify_token(out.getvalue().strip())


def test_signing_in_to_ones_own_account_does_not_clear_anothers_failures(
    complainant: Any,
) -> None:
    victim = _with_password(factories.user_with_role(Role.COMPLAINANT))
    _with_password(complainant)
    client = Client()
    for _ in range(3):
        for _ in range(2):
            client.post(reverse("sign-in"), {"username": victim.username, "password": "wrong"})
        _password_step(Client(), complainant)  # the attacker's own account, same address
    locked = _password_step(Client(), victim)
    assert locked.status_code == 429


def test_each_first_sign_in_gets_a_fresh_authenticator_key(handler: Any) -> None:
    _with_password(handler)
    code = factories.setup_code(handler)
    earlier, later = Client(), Client()
    keys = []
    for client in (earlier, later):
        _password_step(client, handler)
        client.post(reverse("two-factor-setup"), {"code": code})
        keys.append(client.get(reverse("two-factor-setup")).context["secret"])
    assert keys[0] != keys[1]
    # The abandoned key is gone, and the older session must start again.
    assert TOTPDevice.objects.filter(user=handler).count() == 1
    assert earlier.get(reverse("two-factor-setup"))["Location"] == reverse("sign-in")


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("/compliance/decisions/", {"date_to": "9999-12-31"}),
        ("/oversight/early-warning/", {"first": "0001-01-01", "last": "0001-01-02"}),
    ],
)
def test_far_dates_are_refused_not_crashed_on(page_as: Any, url: str, data: dict) -> None:
    user = factories.user_with_role(Role.COMPLIANCE_OFFICER)
    response = page_as(user).get(url, data)
    assert response.status_code == 400
    assert "between 1900 and 2100" in response.content.decode()


def test_far_periods_are_refused_not_crashed_on(page_as: Any, supervisor: Any) -> None:
    client = page_as(supervisor)
    assert client.post("/oversight/reports/publish/", {"period": "9999-Q4"}).status_code == 400
    draw = {
        "period_start": "0001-01-01",
        "period_end": "0001-01-31",
        "rate": "0.1",
        "min_per_stratum": "1",
        "double_review_share": "0",
    }
    response = client.post("/oversight/samples/draw/", draw)
    assert response.status_code == 400
    assert "between 1900 and 2100" in response.content.decode()
