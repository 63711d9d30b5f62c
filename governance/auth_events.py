"""Authentication events: every one goes to the security log; those that change access also go
to the ledger. Connected in `GovernanceConfig.ready()`.

| event                          | security log | ledger                                          |
|--------------------------------|--------------|-------------------------------------------------|
| signed in (staff)              | yes          | `account.signed_in`, with the method            |
| signed in (complainant)        | yes          | no: see below                                   |
| sign-in failure (any reason)   | yes          | no                                              |
| lockout                        | yes          | `account.locked_out`, for an existing account   |
| signed out (staff)             | yes          | `account.signed_out`                            |
| two-factor set up              | yes          | `account.two_factor_enrolled` (its service)     |
| authenticator removed          | yes          | `account.two_factor_removed`                    |
| API token issued / revoked     | yes          | `account.api_token_issued` / `_revoked`         |
| password changed               | yes          | no: who may do what is unchanged                |
| role granted / revoked         | yes          | `role.granted` / `role.revoked` (their services) |
| active, staff or superuser flag changed | yes | `account.access_flags_changed`, with each change |
| lock lifted early (attempts deleted) | yes    | `account.unlocked`, once per ledgered lock      |

Failures stay out of the ledger because anyone can cause them: the ledger is immutable, so
ledgering what an anonymous visitor does at will would let them grow it without bound. For the
same reason a complainant's sign-in and sign-out are logged only: anyone may open a
complainant's account and sign in and out in a loop, and a complainant's session opens nothing
but their own records. Staff sessions, which open other people's, are ledgered.

The ledger may overstate access, never understate it. So a sign-in whose entry cannot be written
fails (the exception leaves `login()` before the session is saved: no cookie, no session), while a
sign-out, lockout or removal whose entry cannot be written still takes effect, with an error in
the log.

Flag changes and early unlocks come from model signals, so they are caught on every path (the
admin, a command, a service); the person who made them is the signed-in user of the request
being served (simple-history's middleware keeps it), or nobody when there is none.

`Client.force_login` in tests calls `login()` with a bare `HttpRequest` that never came over
HTTP (no method, no address). Such a call is not someone signing in through Ombud's pages, and
the suite makes thousands of them, so it is neither logged nor ledgered.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from axes.helpers import get_cool_off, get_failure_limit
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.db.models import Sum
from django.http import HttpRequest
from django.utils import timezone
from simple_history.models import HistoricalRecords

from audits.choices import EventType
from governance import policies, services
from governance.security_log import client_ip, security_log

# accounts.py sends user_login_failed itself, with this sender, when a TOTP code is wrong.
CODE_STEP_SENDER = "governance.pages.accounts"

log = logging.getLogger("ombud.security")


def _over_http(request: HttpRequest | None) -> bool:
    return request is not None and request.method is not None


def _account(user_id: Any) -> Any:
    # Enough of an account to name it by pseudonym, without a query: during a cascade the row
    # may be on its way out.
    return get_user_model()(pk=user_id)


def _acting_user() -> Any:
    """The signed-in user of the request being served, or False (unattributed) if none."""
    request = getattr(HistoricalRecords.context, "request", None)
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else False


def signed_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """Ledger and log a sign-in through the pages."""
    if not _over_http(request):
        return
    # The code step attaches the verified device before login(), as django-otp does after it.
    method = "password+totp" if getattr(user, "otp_device", None) is not None else "password"
    if policies.needs_two_factor(user):
        # Not caught: a staff session the ledger does not know of must not exist.
        services.account_event_record(
            user=user, event=EventType.SIGNED_IN, detail={"method": method}
        )
    security_log("signed_in", user=user.pk, method=method, ip=client_ip(request))


def signed_out(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """Ledger and log the end of a session (nothing when nobody was signed in)."""
    if user is None or not _over_http(request):
        return
    security_log("signed_out", user=user.pk, ip=client_ip(request))
    if not policies.needs_two_factor(user):
        return
    try:
        services.account_event_record(user=user, event=EventType.SIGNED_OUT, detail={})
    except Exception:  # the session must end all the same; the ledger then overstates access
        log.exception("event=ledger_write_failed ledger_event=account.signed_out user=%s", user.pk)


def _failure_reason(sender: Any, credentials: dict[str, Any], request: Any) -> str:
    if sender == CODE_STEP_SENDER:
        return "bad_code"
    failures = getattr(request, "axes_failures_since_start", None)
    if failures is not None and failures > get_failure_limit(request, credentials):
        return "locked"  # refused before any password was checked
    user_model = get_user_model()
    username = credentials.get(user_model.USERNAME_FIELD)
    user = user_model.objects.filter(**{user_model.USERNAME_FIELD: username}).first()
    if user is None:
        return "unknown_user"
    if not user.is_active:
        return "inactive"
    return "bad_password"


def login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """Log a failed password or code; never ledgered, since anyone can cause one."""
    user_model = get_user_model()
    # Only the user name: Django has already masked the password, and a code is never passed.
    security_log(
        "sign_in_failed",
        level=logging.WARNING,
        username=credentials.get(user_model.USERNAME_FIELD, ""),
        ip=client_ip(request),
        reason=_failure_reason(sender, credentials, request),
    )


def locked_out(
    sender: Any, request: HttpRequest, username: str | None, ip_address: str | None, **kwargs: Any
) -> None:
    """Log every lockout; ledger the lock of an existing account's name, once per period.

    django-axes locks a user name and, separately, an address. Only the lock of a name that
    matches an account changes that account's access; it goes to the ledger through
    `account_lockout_record`, which ignores unknown names and repeats within the period, so
    an attacker cannot fill the immutable ledger. Everything else is in the log alone.
    """
    security_log(
        "locked_out",
        level=logging.WARNING,
        username=username or "",
        ip=ip_address or "",
        failures=getattr(request, "axes_failures_since_start", None),
    )
    if not username:
        return
    cool_off = get_cool_off(request) or timedelta(hours=1)
    since = timezone.now() - cool_off
    name_failures = AccessAttempt.objects.filter(
        username=username, attempt_time__gte=since
    ).aggregate(n=Sum("failures_since_start"))["n"]
    if (name_failures or 0) < get_failure_limit(request, {"username": username}):
        return  # the address is locked, not the name
    try:
        services.account_lockout_record(username=username, since=since)
    except Exception:  # the lock holds all the same; the ledger then overstates access
        log.exception("event=ledger_write_failed ledger_event=account.locked_out")


def device_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    """Ledger and log the removal of a confirmed authenticator (an unconfirmed one never
    counted: `two_factor_start` replaces those)."""
    if not instance.confirmed:
        return
    security_log("two_factor_removed", user=instance.user_id, device=instance.pk)
    _record_loss(instance.user_id, EventType.TWO_FACTOR_REMOVED, {"method": "totp"})


def token_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    """Ledger and log a new API token (the admin, `drf_create_token` or the demo made it)."""
    if not created:
        return
    security_log("api_token_issued", user=instance.user_id)
    # Not caught: in the admin's transaction a token the ledger cannot record is not issued.
    services.account_event_record(
        user=_account(instance.user_id),
        event=EventType.API_TOKEN_ISSUED,
        detail={},
        actor=_acting_user(),
    )


def token_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    """Ledger and log a revoked API token (the admin, `drf_create_token -r`, or an erasure)."""
    security_log("api_token_revoked", user=instance.user_id)
    _record_loss(instance.user_id, EventType.API_TOKEN_REVOKED, {})


def _record_loss(user_id: Any, event: EventType, detail: dict[str, Any]) -> None:
    # Access taken away stays taken away even when its entry cannot be written. The write is a
    # savepoint inside the deletion's transaction, so its failure leaves the deletion whole.
    try:
        services.account_event_record(
            user=_account(user_id), event=event, detail=detail, actor=_acting_user()
        )
    except Exception:  # the ledger then overstates access, which is the safe side
        log.exception("event=ledger_write_failed ledger_event=%s user=%s", event, user_id)


def user_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    """Log a password change, and ledger a change of access flags, on any path (the admin's
    form, a command, an erasure)."""
    # AbstractBaseUser.set_password() keeps the new raw password in `_password` until save()
    # has sent this signal; only whether it is set is read here, never its value.
    if not created and getattr(instance, "_password", None) is not None:
        security_log("password_changed", user=instance.pk)
    _flags_saved(instance)


# --- access flags and early unlocks -----------------------------------------------------------

ACCESS_FLAGS = ("is_active", "is_staff", "is_superuser")
_FLAG_CHANGES = "_ombud_access_flag_changes"


def user_saving(
    sender: Any, instance: Any, raw: bool = False, update_fields: Any = None, **kwargs: Any
) -> None:
    """Note which access flags the save about to happen changes (read from the stored row)."""
    instance.__dict__.pop(_FLAG_CHANGES, None)
    if raw or instance._state.adding or instance.pk is None:
        return  # a new account starts with its flags; fixtures are loaded as they are
    fields = [f for f in ACCESS_FLAGS if update_fields is None or f in update_fields]
    if not fields:
        return  # e.g. the last_login update at every sign-in: no read
    stored = type(instance)._default_manager.filter(pk=instance.pk).values(*fields).first()
    if stored is None:
        return
    changes = {
        name: {"from": stored[name], "to": getattr(instance, name)}
        for name in fields
        if stored[name] != getattr(instance, name)
    }
    if changes:
        instance.__dict__[_FLAG_CHANGES] = changes


def _flags_saved(instance: Any) -> None:
    changes = instance.__dict__.pop(_FLAG_CHANGES, None)
    if not changes:
        return
    actor = _acting_user()
    security_log(
        "access_flags_changed",
        user=instance.pk,
        by=getattr(actor, "pk", None),
        **{name: change["to"] for name, change in changes.items()},
    )

    def record() -> None:
        services.account_event_record(
            user=instance, event=EventType.ACCESS_FLAGS_CHANGED, detail=changes, actor=actor
        )

    if any(change["to"] for change in changes.values()):
        record()  # not caught: access granted that the ledger cannot record is not granted
    else:
        try:
            record()
        except Exception:  # access taken away stays taken away; the ledger then overstates it
            log.exception(
                "event=ledger_write_failed ledger_event=%s", EventType.ACCESS_FLAGS_CHANGED
            )


def attempt_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    """Ledger and log the early end of a name's lock: its failed attempts deleted (in the
    admin, or by axes_reset) while the lock was still in force. Attempts that django-axes
    removes once they have run out are not an early end, and pass unrecorded."""
    cool_off = get_cool_off() or timedelta(hours=1)
    since = timezone.now() - cool_off
    if not instance.username or instance.attempt_time < since:
        return
    limit = get_failure_limit(None, {"username": instance.username})
    left = (
        AccessAttempt.objects.filter(username=instance.username, attempt_time__gte=since).aggregate(
            n=Sum("failures_since_start")
        )["n"]
        or 0
    )
    if left >= limit or left + instance.failures_since_start < limit:
        return  # still locked, or was not locked by this attempt
    actor = _acting_user()
    security_log("lock_lifted", username=instance.username, by=getattr(actor, "pk", None))
    services.account_unlock_record(username=instance.username, since=since, actor=actor)
