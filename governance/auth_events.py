"""Authentication events: every one goes to the security log; those that change access also go
to the ledger. Connected in `GovernanceConfig.ready()`.

| event                          | security log | ledger                                          |
|--------------------------------|--------------|-------------------------------------------------|
| signed in (staff)              | yes          | `account.signed_in`, with the method            |
| signed in (complainant)        | yes          | no: see below                                   |
| sign-in failure (any reason)   | yes          | no                                              |
| lockout                        | yes          | `account.locked_out`, for an existing account   |
| signed out (staff)             | yes          | `account.signed_out`                            |
| set-up code issued             | yes          | `account.two_factor_code_issued` (its service)  |
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

Flag changes and early unlocks come from model signals, so they are caught on every path that
saves an account or deletes an attempt (the admin, a command, a service; `QuerySet.update()`
sends no signal, and nothing in Ombud changes these flags that way). The person who made them
is the one a service names (`ACCESS_CHANGED_BY`), else the signed-in user of the request being
served (simple-history's middleware keeps it), else nobody.

`Client.force_login` in tests calls `login()` with a bare `HttpRequest` that never came over
HTTP (no method, no address). Such a call is not someone signing in through Ombud's pages, and
the suite makes thousands of them, so it is neither logged nor ledgered.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

from axes.helpers import get_cool_off, get_failure_limit
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Sum
from django.http import HttpRequest
from django.utils import timezone
from simple_history.models import HistoricalRecords

from audits.choices import EventType
from governance import policies, services
from governance.security_log import client_ip, security_log, security_log_on_commit
from governance.services.administration import ACCESS_CHANGED_BY

# accounts.py sends user_login_failed itself, with this sender, when a TOTP code is wrong.
CODE_STEP_SENDER = "governance.pages.accounts"
# ... and this one for a wrong authenticator set-up code (logged as `bad_setup_code`).
SETUP_CODE_STEP_SENDER = "governance.pages.accounts.setup_code"

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
    if sender == SETUP_CODE_STEP_SENDER:
        return "bad_setup_code"
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
    _flags_saved(instance, created)


# --- access flags and early unlocks -----------------------------------------------------------

ACCESS_FLAGS = ("is_active", "is_staff", "is_superuser")
_FLAG_CHANGES = "_ombud_access_flag_changes"
_FLAG_ACTOR = "_ombud_access_flag_actor"
_FLAG_RECORDED = "_ombud_access_flag_recorded"
# The flags that grant access when an account is made with them (every account starts active).
_GRANTED_AT_CREATION = ("is_staff", "is_superuser")


def _record_flags(instance: Any, changes: dict[str, Any], actor: Any) -> None:
    services.account_event_record(
        user=instance, event=EventType.ACCESS_FLAGS_CHANGED, detail=changes, actor=actor
    )


def user_saving(
    sender: Any, instance: Any, raw: bool = False, update_fields: Any = None, **kwargs: Any
) -> None:
    """Work out which access flags the save about to happen changes, against the stored row,
    and ledger a grant to an existing account now, before the save.

    Read whenever the account has a primary key, even a "new" instance's: saving
    `User(pk=<existing>, ...)` overwrites that row. Access granted is recorded first, so a grant
    the ledger cannot record never reaches the row (the error stops the save, whoever catches
    it), and a save that then fails leaves the ledger overstating access, the safe side.
    Fixtures (`raw`) are loaded as they are.
    """
    for key in (_FLAG_CHANGES, _FLAG_ACTOR, _FLAG_RECORDED):
        instance.__dict__.pop(key, None)
    # Popped here every time: a service's name must not outlive the save it was meant for.
    actor = instance.__dict__.pop(ACCESS_CHANGED_BY, None) or _acting_user()
    if raw:
        return
    fields = [f for f in ACCESS_FLAGS if update_fields is None or f in update_fields]
    if not fields:
        return  # e.g. the last_login update at every sign-in: no read
    stored = None
    if instance.pk is not None:
        stored = type(instance)._default_manager.filter(pk=instance.pk).values(*fields).first()
    if stored is None:  # a new account
        changes = {
            name: {"from": None, "to": True}
            for name in _GRANTED_AT_CREATION
            if name in fields and getattr(instance, name)
        }
    else:
        changes = {
            name: {"from": stored[name], "to": getattr(instance, name)}
            for name in fields
            if stored[name] != getattr(instance, name)
        }
    if not changes:
        return
    instance.__dict__[_FLAG_CHANGES] = changes
    instance.__dict__[_FLAG_ACTOR] = actor
    if stored is not None and any(change["to"] for change in changes.values()):
        _record_flags(instance, changes, actor)  # not caught: no entry, no grant
        instance.__dict__[_FLAG_RECORDED] = True


def _flags_saved(instance: Any, created: bool) -> None:
    """Ledger what `user_saving` left to record after the save, and log every change.

    Left are the flags taken away, and an account made with staff or superuser access (its
    pseudonym needs its new primary key). Access taken away stays taken away when its entry
    cannot be written, with an error in the log (the ledger then overstates access). An account
    made with access its entry cannot record is not made: in autocommit its row, already
    committed, is deleted again; in a transaction the error rolls it back with the rest.
    """
    changes = instance.__dict__.pop(_FLAG_CHANGES, None)
    actor = instance.__dict__.pop(_FLAG_ACTOR, False)
    if not changes:
        return
    if not instance.__dict__.pop(_FLAG_RECORDED, False):
        try:
            _record_flags(instance, changes, actor)
        except Exception:
            if created:
                if not transaction.get_connection().in_atomic_block:
                    type(instance)._default_manager.filter(pk=instance.pk).delete()
                raise
            log.exception(
                "event=ledger_write_failed ledger_event=%s", EventType.ACCESS_FLAGS_CHANGED
            )
    security_log_on_commit(
        "access_flags_changed",
        user=instance.pk,
        by=getattr(actor, "pk", None),
        **{name: change["to"] for name, change in changes.items()},
    )


def _lock_window() -> Any:
    return timezone.now() - (get_cool_off() or timedelta(hours=1))


def _name_locked(username: str, since: Any) -> bool:
    failures = AccessAttempt.objects.filter(username=username, attempt_time__gte=since).aggregate(
        n=Sum("failures_since_start")
    )["n"]
    return (failures or 0) >= get_failure_limit(None, {"username": username})


# Names whose attempts are being deleted, and whether each was locked before the deletion:
# Django sends every pre_delete of a batch, deletes the rows, then sends every post_delete, so
# the first post_delete of a name takes its entry and the others of the batch find none.
_deleting = threading.local()


def attempt_deleting(sender: Any, instance: Any, **kwargs: Any) -> None:
    """Note, before failed attempts are deleted, whether their name is locked.

    Seen before any row goes, so a name locked by attempts from several addresses is seen
    locked even when all are deleted at once. Attempts that have run out (django-axes' own
    clean-up) are not read about.
    """
    since = _lock_window()
    if instance.username and instance.attempt_time >= since:
        names = _deleting.__dict__.setdefault("names", {})
        names[instance.username] = _name_locked(instance.username, since)


def attempt_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    """Log, and ledger once per lock, the early end of a name's lock: its failed attempts
    deleted (in the admin, or by axes_reset) while the lock was in force, leaving it unlocked.
    The log has every such end, of any name; the ledger those of an account whose lock it
    recorded (`account_unlock_record`)."""
    names = _deleting.__dict__.get("names", {})
    if not names.pop(instance.username, False):
        return
    if _name_locked(instance.username, _lock_window()):
        return  # other attempts still hold the lock
    actor = _acting_user()
    services.account_unlock_record(username=instance.username, actor=actor)
    security_log_on_commit("lock_lifted", username=instance.username, by=getattr(actor, "pk", None))
