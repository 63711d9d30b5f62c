"""Retention: the rules privacy officers set, and the nightly job that erases what has expired.

A subject's personal data expires when every complaint they filed, or that was made about
their account, is final (closed or withdrawn) and each of those complaints closed longer ago
than the rule for its category says (the class's default rule where the category has none).
Expiry is judged in SQL over the whole table; erasure runs in batches, each its own
transaction, and each batch appends one ledger event naming the pseudonyms it erased.

Two runs at once erase each subject once. On PostgreSQL each batch locks the data keys it
takes with FOR UPDATE SKIP LOCKED, so concurrent runs take disjoint batches, and a key found
destroyed is skipped; on SQLite every transaction begins IMMEDIATE (settings), so the
batches of two runs serialise and the later one finds the keys already destroyed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import reduce
from operator import or_
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from audits.choices import EventType
from audits.services import ledger_append, system_actor_ref
from governance import policies
from governance.choices import ComplaintStatus
from governance.errors import Conflict, PermissionDenied, ValidationFailed
from governance.services.recording import at_or_now, stamp_history
from privacy.choices import ErasureCause, RecordClass, RetentionEvent, SubjectKind
from privacy.erasure import subjects_erase
from privacy.models import (
    AccessLogEntry,
    DataKey,
    DataSubject,
    LegalHold,
    RetentionRule,
    RetentionRun,
)
from privacy.pseudonyms import actor_ref

# The database refuses to delete access-log rows younger than this (privacy migration 0007).
ACCESS_LOG_MIN_DAYS = 184
# The complaint statuses nothing follows: closed (an appeal may still reopen it, which moves
# it out of this set) and withdrawn.
FINAL_STATUSES = (ComplaintStatus.CLOSED, ComplaintStatus.WITHDRAWN)
# The event each class of records is counted from.
COUNTED_FROM: dict[str, str] = {
    RecordClass.COMPLAINANT_DATA: RetentionEvent.COMPLAINT_CLOSED,
    RecordClass.ACCOUNT_HOLDER_DATA: RetentionEvent.COMPLAINT_CLOSED,
    RecordClass.ACCESS_LOG: RetentionEvent.READ,
    RecordClass.LEDGER: RetentionEvent.RECORDED,
}
# The rule class that governs each kind of data subject.
SUBJECT_CLASSES: dict[str, str] = {
    SubjectKind.COMPLAINANT: RecordClass.COMPLAINANT_DATA,
    SubjectKind.ACCOUNT_HOLDER: RecordClass.ACCOUNT_HOLDER_DATA,
}
JOB = "enforce_retention"

# --- rules -----------------------------------------------------------------------------------


def retention_rule_check(
    *,
    record_class: str,
    category: Any = None,
    period_days: int | None,
    counted_from: str,
    legal_basis: str,
) -> None:
    """Validate a rule about to be set (read-only, so the admin's form can show the refusals)."""
    errors: dict[str, list[str]] = {}
    if record_class not in RecordClass.values:
        errors["record_class"] = [
            _("Choose one of: %s.") % ", ".join(RecordClass.values),
        ]
    elif category is not None and record_class not in SUBJECT_CLASSES.values():
        errors["category"] = [
            _("Only rules for complainant or account-holder data vary by category; leave it empty.")
        ]
    if record_class == RecordClass.LEDGER and period_days is not None:
        errors["period_days"] = [
            _("The ledger holds no personal data and is kept for ever; leave the period empty.")
        ]
    elif period_days is not None and period_days <= 0:
        errors["period_days"] = [
            _("Give a positive number of days, or leave it empty to keep the records for ever.")
        ]
    elif (
        record_class == RecordClass.ACCESS_LOG
        and period_days is not None
        and period_days < ACCESS_LOG_MIN_DAYS
    ):
        errors["period_days"] = [
            _("Keep the access log at least %d days (six months); give %d or more.")
            % (ACCESS_LOG_MIN_DAYS, ACCESS_LOG_MIN_DAYS)
        ]
    expected = COUNTED_FROM.get(record_class)
    if expected is not None and counted_from != expected:
        errors["counted_from"] = [
            _("Rules for %(cls)s are counted from %(event)s; choose %(event)s.")
            % {"cls": record_class, "event": expected}
        ]
    if not (legal_basis or "").strip():
        errors["legal_basis"] = [_("Name the legal basis, e.g. PIPL Art. 19 or GDPR Art. 5(1)(e).")]
    if errors:
        raise ValidationFailed(
            _("The retention rule was not set; correct the fields named."), fields=errors
        )


@transaction.atomic
def retention_rule_set(
    *,
    actor: Any,
    record_class: str,
    category: Any = None,
    period_days: int | None,
    counted_from: str,
    legal_basis: str,
    now: datetime | None = None,
) -> RetentionRule:
    """Create or change the rule for one class of records (and category, where given)."""
    if not policies.can_manage_retention(actor):
        raise PermissionDenied(_("Only privacy officers set retention rules; ask one of them."))
    retention_rule_check(
        record_class=record_class,
        category=category,
        period_days=period_days,
        counted_from=counted_from,
        legal_basis=legal_basis,
    )
    legal_basis = legal_basis.strip()
    rule = (
        RetentionRule.objects.select_for_update()
        .filter(record_class=record_class, category=category)
        .first()
    )
    at = at_or_now(now)  # after the lock: the rule's rows are written in time order
    previous = None if rule is None else rule.period_days
    if rule is None:
        rule = RetentionRule(record_class=record_class, category=category)
        reason = _("Rule set")
    elif (rule.period_days, rule.counted_from, rule.legal_basis) == (
        period_days,
        counted_from,
        legal_basis,
    ):
        return rule  # nothing changes, so nothing is recorded
    else:
        reason = _("Rule changed")
    rule.period_days = period_days
    rule.counted_from = counted_from
    rule.legal_basis = legal_basis
    rule.updated_at = at
    stamp_history(rule, actor, reason, at=at)
    try:
        with transaction.atomic():
            rule.save()
    except IntegrityError as exc:
        # A new rule has no row to lock, so two officers can race to it; one loses here.
        raise Conflict(
            _("Another rule for this class was set at the same moment; reload and try again.")
        ) from exc
    ledger_append(
        event_type=EventType.RETENTION_RULE_CHANGED,
        object_ref=f"retention_rule:{rule.pk}",
        actor_ref=actor_ref(actor),
        data={
            "record_class": record_class,
            "category": category.code if category is not None else None,
            "period_days": period_days,
            "previous_period_days": previous,
            "counted_from": counted_from,
            "legal_basis": legal_basis,
        },
        at=at,
    )
    return rule


# --- what has expired ------------------------------------------------------------------------

Rules = dict[tuple[str, int | None], int | None]


def _rules() -> Rules:
    """Return every rule's period by (class, category id); None where kept for ever."""
    return {
        (record_class, category_id): period
        for record_class, category_id, period in RetentionRule.objects.values_list(
            "record_class", "category_id", "period_days"
        )
    }


def _complaint_done(record_class: str, rules: Rules, now: datetime) -> Q | None:
    """Return the complaints past the class's retention period, or None if none can be.

    A category's own rule beats the class's default. `closed_at` is the first closure; an
    appeal decided afterwards closes the complaint again, stamping `updated_at`, so both must
    be past the cutoff.
    """
    own = {cat: days for (cls, cat), days in rules.items() if cls == record_class and cat}
    parts: list[Q] = []
    for category_id, days in sorted(own.items()):
        if days is not None:
            cutoff = now - timedelta(days=days)
            parts.append(Q(category_id=category_id, closed_at__lt=cutoff, updated_at__lt=cutoff))
    default = rules.get((record_class, None))
    if default is not None:
        cutoff = now - timedelta(days=default)
        fallback = Q(closed_at__lt=cutoff, updated_at__lt=cutoff)
        if own:
            fallback &= ~Q(category_id__in=sorted(own))
        parts.append(fallback)
    if not parts:
        return None
    return Q(status__in=FINAL_STATUSES) & reduce(or_, parts)


def _expired_subjects(rules: Rules, now: datetime) -> QuerySet[DataSubject]:
    """Return the live subjects whose every complaint is final and past its period."""
    from governance.models import Complaint

    kinds: list[Q] = []
    for kind, record_class in SUBJECT_CLASSES.items():
        done = _complaint_done(record_class, rules, now)
        if done is None:
            continue  # no period for this class: kept for ever
        filed = Complaint.objects.filter(complainant=OuterRef("pk"))
        about = Complaint.objects.filter(affected_subject=OuterRef("pk"))
        kinds.append(
            Q(kind=kind)
            & (Exists(filed) | Exists(about))
            & ~Exists(filed.exclude(done))
            & ~Exists(about.exclude(done))
        )
    if not kinds:
        return DataSubject.objects.none()
    return DataSubject.objects.filter(reduce(or_, kinds), data_key__wrapped__isnull=False)


def _held() -> Q:
    """Subjects a standing legal hold covers, on them or on a complaint of theirs."""
    active = LegalHold.objects.active()
    return Q(
        Exists(active.filter(subject=OuterRef("pk")))
        | Exists(active.filter(complaint__complainant=OuterRef("pk")))
        | Exists(active.filter(complaint__affected_subject=OuterRef("pk")))
    )


def _access_log_cutoff(rules: Rules, now: datetime) -> datetime | None:
    days = rules.get((RecordClass.ACCESS_LOG, None))
    if days is None:
        return None
    # Never ask for a row the database would refuse (it judges age by its own clock): with an
    # `as of` in the future, the real clock's six months still bound what may go.
    floor = timezone.now() - timedelta(days=ACCESS_LOG_MIN_DAYS, hours=1)
    return min(now - timedelta(days=max(days, ACCESS_LOG_MIN_DAYS)), floor)


# --- the job ---------------------------------------------------------------------------------


@dataclass
class RetentionResult:
    """What a run erased (or, in a dry run, would erase), by pseudonym and count."""

    as_of: datetime
    dry_run: bool
    erased: list[str] = field(default_factory=list)
    held_back: list[str] = field(default_factory=list)
    access_log_removed: int = 0
    access_log_before: datetime | None = None
    ledger_seqs: list[int] = field(default_factory=list)
    run: RetentionRun | None = None

    @property
    def subjects_erased(self) -> int:
        return len(self.erased)


def _chunks(items: Sequence[int], size: int) -> list[Sequence[int]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _delete_access_log(ids: list[int]) -> int:
    # The append-only queryset refuses delete() on purpose; this is the one place that removes
    # rows, and the database trigger still refuses any row younger than six months.
    table = connection.ops.quote_name(AccessLogEntry._meta.db_table)
    placeholders = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE id IN ({placeholders})", ids)  # noqa: S608  # table name from the model, ids bound as parameters
        return cursor.rowcount


def accounts_scrub(erased: list[str]) -> int:
    """Blank the name and email of sign-in accounts left with no live data subject; return how
    many. Django's auth_user is not encrypted, and filing copies those fields into the subject:
    once the subject's data is erased, the account must not keep them in the clear. The account
    itself stays (its owner may still sign in and file again); closing it is a deletion
    request's job."""
    user_ids = set(
        DataSubject.objects.filter(pseudonym__in=erased, user__isnull=False).values_list(
            "user_id", flat=True
        )
    )
    if not user_ids:
        return 0
    still_live = DataSubject.objects.filter(
        user_id__in=user_ids, data_key__wrapped__isnull=False
    ).values_list("user_id", flat=True)
    bare = user_ids - set(still_live)
    return (
        get_user_model()
        .objects.filter(pk__in=sorted(bare))
        .update(email="", first_name="", last_name="")
    )


def retention_enforce(
    *, now: datetime | None = None, dry_run: bool = False, batch_size: int = 1000
) -> RetentionResult:
    """Erase the personal data whose retention period is over, and the expired access log.

    Idempotent: erased subjects and removed log rows are not found again. Held subjects are
    counted as held back and left alone. A dry run writes nothing at all.
    """
    if batch_size < 1:
        raise ValidationFailed(
            _("Nothing was run."), fields={"batch_size": [_("Give a batch size of 1 or more.")]}
        )
    at = at_or_now(now)
    rules = _rules()
    held = _held()
    expired = _expired_subjects(rules, at)
    # One pass over the expired subjects, each marked held or not (the expiry test is the
    # costly part: it reads every complaint of every candidate).
    candidates = list(
        expired.annotate(is_held=ExpressionWrapper(held, output_field=BooleanField()))
        .order_by("pk")
        .values_list("pk", "pseudonym", "is_held")
    )
    wanted = [(pk, pseudonym) for pk, pseudonym, is_held in candidates if not is_held]
    result = RetentionResult(as_of=at, dry_run=dry_run)
    result.held_back = [pseudonym for _pk, pseudonym, is_held in candidates if is_held]
    cutoff = _access_log_cutoff(rules, at)
    result.access_log_before = cutoff
    old_log = AccessLogEntry.objects.filter(at__lt=cutoff) if cutoff else None
    if dry_run:
        result.erased = [pseudonym for _pk, pseudonym in wanted]
        result.access_log_removed = old_log.count() if old_log is not None else 0
        return result

    actor = system_actor_ref(JOB)
    with transaction.atomic():
        run = RetentionRun.objects.create(started_at=timezone.now(), dry_run=False, as_of=at)
    ref = f"retention_run:{run.pk}"
    for chunk in _chunks([pk for pk, _pseudonym in wanted], batch_size):
        with transaction.atomic():
            # Expiry and holds are judged again under the lock: a complaint or a hold may have
            # come since the list was read. SKIP LOCKED leaves a concurrent run's batch to it.
            # The chunk is a run of ascending ids: its bounds select it without a long list
            # of parameters, and a subject that expired since is rightly taken too.
            bounds = (chunk[0], chunk[-1])
            still = expired.filter(~held, pk__range=bounds).values("pk")
            keys = list(
                DataKey.objects.select_for_update(skip_locked=True)
                .filter(subject_id__gte=bounds[0], subject_id__lte=bounds[1])
                .filter(wrapped__isnull=False)
                .filter(subject_id__in=still)
                .order_by("subject_id")
                .values_list("subject_id", flat=True)
            )
            erased, held_now = subjects_erase(
                subject_ids=keys, cause=ErasureCause.RETENTION, now=at
            )
            result.held_back.extend(held_now)
            if erased:
                accounts = accounts_scrub(erased)
                entry = ledger_append(
                    event_type=EventType.RETENTION_ENFORCED,
                    object_ref=ref,
                    actor_ref=actor,
                    data={
                        "cause": str(ErasureCause.RETENTION),
                        "erased": [f"subject:{p}" for p in erased],
                        "subjects_erased": len(erased),
                        "accounts_scrubbed": accounts,
                    },
                    at=at,
                )
                result.erased.extend(erased)
                result.ledger_seqs.append(entry.seq)
    if old_log is not None:
        while True:
            with transaction.atomic():
                ids = list(
                    old_log.select_for_update(skip_locked=True)
                    .order_by("pk")
                    .values_list("pk", flat=True)[:batch_size]
                )
                if not ids:
                    break
                removed = _delete_access_log(ids)
                entry = ledger_append(
                    event_type=EventType.RETENTION_ENFORCED,
                    object_ref=ref,
                    actor_ref=actor,
                    data={
                        "access_log_removed": removed,
                        "access_log_ids": [ids[0], ids[-1]],
                        "read_before": cutoff.isoformat() if cutoff else None,
                    },
                    at=at,
                )
                result.access_log_removed += removed
                result.ledger_seqs.append(entry.seq)
    with transaction.atomic():
        summary = ledger_append(
            event_type=EventType.RETENTION_ENFORCED,
            object_ref=ref,
            actor_ref=actor,
            data={
                "as_of": at.isoformat(),
                "subjects_erased": result.subjects_erased,
                "access_log_removed": result.access_log_removed,
                "held_back": len(result.held_back),
                "batches": list(result.ledger_seqs),
            },
            at=at,
        )
        result.ledger_seqs.append(summary.seq)
        run.finished_at = timezone.now()
        run.subjects_erased = result.subjects_erased
        run.access_log_removed = result.access_log_removed
        run.held_back = len(result.held_back)
        run.ledger_seqs = list(result.ledger_seqs)
        run.save()
    result.run = run
    return result
