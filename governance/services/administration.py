"""Roles and reference data (departments, categories, holidays)."""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from audits.choices import EventType
from audits.models import LedgerEntry
from audits.services import ledger_append, ledger_lock, system_actor_ref
from governance import policies
from governance.choices import (
    DEPARTMENT_ROLES,
    Role,
)
from governance.errors import Conflict, ValidationFailed
from governance.models import (
    AuthenticatorSetupCode,
    Category,
    Department,
    Holiday,
    RoleMembership,
)
from governance.security_log import security_log_on_commit
from privacy.pseudonyms import actor_ref

from .recording import (
    at_or_now,
    full_clean_or_fail,
    require,
    sha256_hex,
    stamp_history,
)

# --- roles and reference data ----------------------------------------------------------------


def role_grant_check(*, user: Any, role: str, department: Department | None) -> None:
    """Validate a grant before it is made (read-only; the admin's form shows its refusals)."""
    errors: dict[str, list[str]] = {}
    if role not in Role.values:
        errors["role"] = [_("Choose one of: %s.") % ", ".join(Role.values)]
    elif role in DEPARTMENT_ROLES and department is None:
        errors["department"] = [_("Handlers and leads belong to a department; choose one.")]
    elif role not in DEPARTMENT_ROLES and department is not None:
        errors["department"] = [_("Only handlers and leads belong to a department.")]
    if errors:
        raise ValidationFailed(_("The role was not granted."), fields=errors)
    if RoleMembership.objects.filter(
        user=user, role=role, department=department, revoked_at__isnull=True
    ).exists():
        raise Conflict(_("%(user)s already holds this role.") % {"user": user.get_username()})


@transaction.atomic
def role_grant(
    *,
    actor: Any,
    user: Any,
    role: str,
    department: Department | None = None,
    reason: str = "",
    now: datetime | None = None,
) -> RoleMembership:
    """Grant `role` to `user` (within `department` for handlers and leads)."""
    require(policies.can_manage_roles(actor), _("Only admins can grant roles."))
    role_grant_check(user=user, role=role, department=department)
    at = at_or_now(now)
    membership = RoleMembership(
        user=user, role=role, department=department, granted_at=at, granted_by=actor
    )
    stamp_history(membership, actor, reason or _("Role granted"), at=at)
    try:
        with transaction.atomic():
            membership.save()
    except IntegrityError as exc:
        # Two admins granting the same role at once: the unique constraint keeps one.
        raise Conflict(
            _("%(user)s already holds this role.") % {"user": user.get_username()}
        ) from exc
    user.groups.add(Group.objects.get(name=role))
    if role == Role.ADMIN and not user.is_staff:
        user.is_staff = True
        user.__dict__[ACCESS_CHANGED_BY] = actor  # for the flag's own ledger entry
        user.save(update_fields=["is_staff"])
    policies.forget_roles(user)
    ledger_append(
        event_type=EventType.ROLE_GRANTED,
        object_ref=f"user:{actor_ref(user)}",
        actor_ref=actor_ref(actor),
        data={"role": role, "department": department.code if department else None},
        at=at,
    )
    security_log_on_commit(
        "role_granted",
        user=user.pk,
        actor=actor.pk,
        role=role,
        department=department.code if department else None,
    )
    return membership


@transaction.atomic
def complainant_register(
    *, username: str, email: str, password: str, now: datetime | None = None
) -> Any:
    """Open a complainant's own account: the one role anyone may take without an admin."""
    username, email = username.strip(), email.strip()
    errors: dict[str, list[str]] = {}
    user_model = get_user_model()
    if not username:
        errors["username"] = [_("Choose a user name.")]
    elif len(username) > 150:
        errors["username"] = [_("Keep the user name under 150 characters.")]
    elif user_model.objects.filter(username__iexact=username).exists():
        errors["username"] = [_("That user name is taken; choose another.")]
    if "@" not in email:
        errors["email"] = [_("Give an email address where decisions can reach you.")]
    candidate = user_model(username=username, email=email)
    try:
        password_validation.validate_password(password, candidate)
    except DjangoValidationError as exc:
        errors["password"] = [str(m) for m in exc.messages]
    if errors:
        raise ValidationFailed(
            _("The account was not opened; correct the fields named."), fields=errors
        )
    at = at_or_now(now)
    candidate.set_password(password)
    try:
        with transaction.atomic():
            candidate.save()
    except IntegrityError as exc:
        raise Conflict(_("That user name is taken; choose another.")) from exc
    membership = RoleMembership(user=candidate, role=Role.COMPLAINANT, granted_at=at)
    stamp_history(membership, candidate, _("Registered as a complainant"), at=at)
    membership.save()
    candidate.groups.add(Group.objects.get(name=Role.COMPLAINANT))
    ledger_append(
        event_type=EventType.ROLE_GRANTED,
        object_ref=f"user:{actor_ref(candidate)}",
        actor_ref=actor_ref(candidate),
        data={"role": Role.COMPLAINANT, "department": None, "self_registered": True},
        at=at,
    )
    security_log_on_commit(
        "role_granted", user=candidate.pk, actor=candidate.pk, role=Role.COMPLAINANT
    )
    return candidate


# A set-up code: 16 symbols from 32 (80 random bits), none easily mistaken for another, shown
# in groups of four. It works once, for three days, and only for the account it was issued to.
SETUP_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
SETUP_CODE_LENGTH = 16
SETUP_CODE_LIFETIME = timedelta(days=3)


def _setup_code_hash(code: str) -> str:
    """The stored form of a set-up code, however it was typed (case, spaces, dashes)."""
    return sha256_hex("".join(code.split()).replace("-", "").upper())


@transaction.atomic
def two_factor_code_issue(
    *, actor: Any, user: Any, now: datetime | None = None
) -> tuple[AuthenticatorSetupCode, str]:
    """Issue a one-time code that lets `user` link an authenticator app; return it and its row.

    The code itself is returned once and never stored. A newer code withdraws any open one.
    `actor` is the superuser issuing it, or None for an operator at the command line (the
    only way to the first superuser's authenticator).
    """
    from django_otp.plugins.otp_totp.models import TOTPDevice

    if actor is not None:
        require(
            policies.can_issue_authenticator_codes(actor),
            _("Only a superuser issues authenticator set-up codes."),
        )
    user = get_user_model().objects.select_for_update().get(pk=user.pk)
    name = {"user": user.get_username()}
    if not user.is_active:
        raise Conflict(_("%(user)s's account is deactivated; activate it first.") % name)
    if not policies.needs_two_factor(user):
        raise Conflict(
            _("%(user)s signs in with a password alone; grant a staff role first.") % name
        )
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        raise Conflict(
            _(
                "%(user)s already has an authenticator. To replace it, delete it under "
                "Authenticators first, then issue a code."
            )
            % name
        )
    at = at_or_now(now)
    replaced = []
    for earlier in AuthenticatorSetupCode.objects.select_for_update().filter(
        user=user, used_at__isnull=True, withdrawn_at__isnull=True
    ):
        earlier.withdrawn_at = at
        stamp_history(earlier, actor, _("Replaced by a newer set-up code"), at=at)
        earlier.save(update_fields=["withdrawn_at"])
        replaced.append(earlier.pk)
    code = "".join(secrets.choice(SETUP_CODE_ALPHABET) for _i in range(SETUP_CODE_LENGTH))
    code = "-".join(code[i : i + 4] for i in range(0, SETUP_CODE_LENGTH, 4))
    row = AuthenticatorSetupCode(
        user=user,
        code_hash=_setup_code_hash(code),
        issued_at=at,
        issued_by=actor,
        expires_at=at + SETUP_CODE_LIFETIME,
    )
    stamp_history(row, actor, _("Set-up code issued"), at=at)
    row.save()
    ledger_append(
        event_type=EventType.TWO_FACTOR_CODE_ISSUED,
        object_ref=f"user:{actor_ref(user)}",
        actor_ref=system_actor_ref("command-line") if actor is None else actor_ref(actor),
        data={
            "setup_code": row.pk,
            "expires_at": row.expires_at.isoformat(),
            "replaces": replaced,
        },
        at=at,
    )
    security_log_on_commit(
        "two_factor_code_issued",
        user=user.pk,
        actor=None if actor is None else actor.pk,
        setup_code=row.pk,
    )
    return row, code


def _wrong_setup_code() -> ValidationFailed:
    return ValidationFailed(
        _("Two-factor sign-in was not set up."),
        fields={
            "code": [
                _(
                    "That set-up code is not right, or it has been used, replaced or has "
                    "expired. Type it as it was given to you, or ask an administrator for a "
                    "new one."
                )
            ]
        },
    )


def _lock_enrolling_user(user: Any) -> Any:
    """Lock `user`'s row: every change to their set-up codes and devices takes this lock first,
    so issuing, starting and confirming never interleave (and never deadlock on each other)."""
    user = get_user_model().objects.select_for_update().get(pk=user.pk)
    if not user.is_active or not policies.needs_two_factor(user):
        # Deactivated, or no longer staff, since the code was issued: it opens nothing.
        raise Conflict(_("This account cannot set up an authenticator now; ask an administrator."))
    return user


@transaction.atomic
def two_factor_start(
    *, user: Any, code: str, now: datetime | None = None
) -> tuple[Any, AuthenticatorSetupCode]:
    """Check `user`'s set-up code and make a fresh, unconfirmed TOTP device for them.

    Any earlier unconfirmed device goes, so a key seen in an abandoned set-up is worthless.
    The code stays open until `two_factor_enrol` confirms the device with it.
    """
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user = _lock_enrolling_user(user)
    setup = (
        AuthenticatorSetupCode.objects.select_for_update()
        .filter(user=user, code_hash=_setup_code_hash(code or ""))
        .first()
    )
    if setup is None or not setup.is_open(at_or_now(now)):
        raise _wrong_setup_code()
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        raise Conflict(_("This authenticator is already set up; sign in with its code."))
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
    return device, setup


@transaction.atomic
def two_factor_enrol(
    *,
    user: Any,
    device: Any,
    setup_code: AuthenticatorSetupCode,
    token: str,
    now: datetime | None = None,
) -> Any:
    """Confirm `user`'s new TOTP device with a code it produced, using up the set-up code that
    started it; from then on the device is required."""
    user = _lock_enrolling_user(user)
    device = type(device).objects.filter(pk=device.pk, user=user).first()
    setup = AuthenticatorSetupCode.objects.filter(pk=setup_code.pk, user=user).first()
    at = at_or_now(now)
    if device is None:
        raise Conflict(
            _("A newer set-up has replaced this one. Sign in again to set up your authenticator.")
        )
    if device.confirmed:
        raise Conflict(_("This authenticator is already set up; sign in with its code."))
    if setup is None or not setup.is_open(at):
        raise Conflict(
            _(
                "The set-up code has been used, replaced or has expired. Ask an administrator "
                "for a new one, then sign in again."
            )
        )
    if not device.verify_token((token or "").strip()):
        raise ValidationFailed(
            _("The authenticator was not set up."),
            fields={"token": [_("That code is not right; type the 6 digits your app shows now.")]},
        )
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    setup.used_at = at
    stamp_history(setup, user, _("Used to set up an authenticator"), at=at)
    setup.save(update_fields=["used_at"])
    ledger_append(
        event_type=EventType.TWO_FACTOR_ENROLLED,
        object_ref=f"user:{actor_ref(user)}",
        actor_ref=actor_ref(user),
        data={"method": "totp", "setup_code": setup.pk},
        at=at,
    )
    security_log_on_commit("two_factor_enrolled", user=user.pk, device=device.pk)
    return device


# Set on a user object by a service that changes its access flags on someone's behalf; the
# flag change's ledger entry (governance.auth_events) names them.
ACCESS_CHANGED_BY = "_ombud_changed_by"

# Every event that changes who can get in, apart from roles and enrolment (above), which their
# own services record. Failures are deliberately absent: see auth_events.
_ACCOUNT_EVENTS = frozenset(
    {
        EventType.SIGNED_IN,
        EventType.SIGNED_OUT,
        EventType.TWO_FACTOR_REMOVED,
        EventType.API_TOKEN_ISSUED,
        EventType.API_TOKEN_REVOKED,
        EventType.ACCESS_FLAGS_CHANGED,
        EventType.UNLOCKED,
    }
)


@transaction.atomic
def account_event_record(
    *,
    user: Any,
    event: EventType,
    detail: dict[str, Any],
    actor: Any = None,
    now: datetime | None = None,
) -> LedgerEntry:
    """Append an access change of `user`'s account to the ledger, naming it by pseudonym.

    `detail` must hold no personal data (no user name, email or address): the ledger is kept
    for ever and cannot be erased. `actor` defaults to the account itself; pass False when who
    made the change is not known here (a model signal), and the entry names no one.
    """
    if event not in _ACCOUNT_EVENTS:
        raise ValueError(f"{event} is not an account event")
    if actor is False:
        who = system_actor_ref("unattributed")
    else:
        who = actor_ref(user if actor is None else actor)
    return ledger_append(
        event_type=event,
        object_ref=f"user:{actor_ref(user)}",
        actor_ref=who,
        data=detail,
        at=at_or_now(now),
    )


def _last_lock_event(ref: str, since: datetime | None) -> str | None:
    """The ledger's last word on whether the account `ref` is locked (since `since`, if given)."""
    entries = LedgerEntry.objects.filter(
        event_type__in=[EventType.LOCKED_OUT, EventType.UNLOCKED], object_ref=ref
    )
    if since is not None:
        entries = entries.filter(recorded_at__gte=since)
    return entries.order_by("-seq").values_list("event_type", flat=True).first()


@transaction.atomic
def account_lockout_record(
    *, username: str, since: datetime, now: datetime | None = None
) -> LedgerEntry | None:
    """Record that the account named `username` is locked, once per lock.

    Only a lock of an existing account is an access change worth keeping for ever. A name that
    matches no account, or a lock of an address, is left to the security log: otherwise anyone
    on the internet could grow the immutable ledger at will by failing to sign in. And while
    the lock lasts, the further failures that prolong it add nothing: a lock is recorded only
    when the ledger's last word since `since` (the start of the lockout period) is not already
    a lock. A lock lifted early and then placed again is two locks.

    django-axes reports every failure while a name is locked; those are answered from the
    ledger without its lock, which is taken (and the ledger read again under it) only to write.
    """
    user_model = get_user_model()
    user = user_model.objects.filter(**{user_model.USERNAME_FIELD: username}).first()
    if user is None:
        return None
    ref = f"user:{actor_ref(user)}"
    if _last_lock_event(ref, since) == EventType.LOCKED_OUT:
        return None
    ledger_lock()  # two sign-ins at once must not both record the lock
    if _last_lock_event(ref, since) == EventType.LOCKED_OUT:
        return None
    return ledger_append(
        event_type=EventType.LOCKED_OUT,
        object_ref=ref,
        actor_ref=system_actor_ref("sign-in-lockout"),
        data={},
        at=at_or_now(now),
    )


@transaction.atomic
def account_unlock_record(
    *, username: str, actor: Any = False, now: datetime | None = None
) -> LedgerEntry | None:
    """Record that the lock of the account named `username` was lifted before it ran out.

    The caller has seen the name locked and then unlocked. Recorded once per lock: only when
    the ledger's last word on the account is `account.locked_out`, however long ago (each
    failure during a lock prolongs it past its entry's own period). So the ledger shows locks
    and early unlocks in pairs, however many attempts are deleted. `actor` is whoever lifted
    it, or False when not known (a command, a signal with no request).
    """
    user_model = get_user_model()
    user = user_model.objects.filter(**{user_model.USERNAME_FIELD: username}).first()
    if user is None:
        return None
    ref = f"user:{actor_ref(user)}"
    ledger_lock()  # two admins at once must not both record the unlock
    if _last_lock_event(ref, None) != EventType.LOCKED_OUT:
        return None
    return account_event_record(
        user=user, event=EventType.UNLOCKED, detail={}, actor=actor, now=now
    )


@transaction.atomic
def role_revoke(
    *, actor: Any, membership: RoleMembership, reason: str, now: datetime | None = None
) -> RoleMembership:
    """Revoke a role membership, keeping it in the history."""
    require(policies.can_manage_roles(actor), _("Only admins can revoke roles."))
    membership = (
        RoleMembership.objects.select_for_update(of=("self",))
        .select_related("user", "department")
        .get(pk=membership.pk)
    )
    if membership.revoked_at is not None:
        raise Conflict(_("This role was already revoked on %s.") % membership.revoked_at.date())
    if not reason.strip():
        raise ValidationFailed(_("The role was not revoked."), fields={"reason": [_("Say why.")]})
    at = at_or_now(now)
    membership.revoked_at = at
    stamp_history(membership, actor, reason, at=at)
    membership.save()
    user = membership.user
    if not RoleMembership.objects.filter(
        user=user, role=membership.role, revoked_at__isnull=True
    ).exists():
        user.groups.remove(Group.objects.get(name=membership.role))
        if membership.role == Role.ADMIN and not user.is_superuser:
            user.is_staff = False
            user.__dict__[ACCESS_CHANGED_BY] = actor  # for the flag's own ledger entry
            user.save(update_fields=["is_staff"])
    policies.forget_roles(user)
    ledger_append(
        event_type=EventType.ROLE_REVOKED,
        object_ref=f"user:{actor_ref(user)}",
        actor_ref=actor_ref(actor),
        data={
            "role": membership.role,
            "department": membership.department.code if membership.department else None,
            "reason_sha256": sha256_hex(reason),
        },
        at=at,
    )
    security_log_on_commit(
        "role_revoked",
        user=user.pk,
        actor=actor.pk,
        role=membership.role,
        department=membership.department.code if membership.department else None,
    )
    return membership


@transaction.atomic
def reference_record_save(
    *, actor: Any, record: Department | Category | Holiday, reason: str, now: datetime | None = None
) -> Department | Category | Holiday:
    """Create or change a department, category or holiday, with its history and ledger entry."""
    require(policies.can_manage_roles(actor), _("Only admins can change reference data."))
    if not reason.strip():
        raise ValidationFailed(
            _("Nothing was saved."), fields={"reason": [_("Say why this changes.")]}
        )
    full_clean_or_fail(record, _("Nothing was saved; correct the fields named."))
    at = at_or_now(now)
    stamp_history(record, actor, reason, at=at)
    record.save()
    fields = {f.attname: f.value_from_object(record) for f in record._meta.concrete_fields}
    ledger_append(
        event_type=EventType.REFERENCE_DATA_CHANGED,
        object_ref=f"{record._meta.model_name}:{record.pk}",
        actor_ref=actor_ref(actor),
        data={k: (v.isoformat() if isinstance(v, date) else v) for k, v in fields.items()},
        at=at,
    )
    return record
