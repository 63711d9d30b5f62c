"""Re-applying erasures after the database is restored from a backup.

A backup taken before an erasure still holds the person's wrapped data key, so restoring it
would bring their data back. The ledger's archive (`seal_ledger --archive DIR`, kept apart from
the database) still records every erasure up to the last archived checkpoint. `erasures_reapply`
reads it, trusting only what a signed checkpoint covers (`audits.archive`), and destroys again
every key the archive says was destroyed but the restored database holds live, closing or
scrubbing the sign-in accounts as the original erasure did. Each batch is one transaction with
one ledger event, and a second run finds nothing left to do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from audits.archive import ArchiveError, archived_entries
from audits.choices import EventType
from audits.services import ledger_append, system_actor_ref
from governance.errors import ValidationFailed
from governance.services.recording import at_or_now
from privacy.choices import ErasureCause
from privacy.erasure import subjects_erase
from privacy.models import DataSubject

from .requests import accounts_close
from .retention import accounts_scrub

_BATCH = 1000


@dataclass
class ReapplyResult:
    archived_erasures: int = 0
    reapplied: list[str] = field(default_factory=list)
    archive_size: int = 0
    ledger_seqs: list[int] = field(default_factory=list)


def _archived_erasures(archive: Path) -> tuple[dict[str, tuple[ErasureCause, int]], int]:
    """Map each pseudonym the archive records as erased to (cause, seq of the entry)."""
    erased: dict[str, tuple[ErasureCause, int]] = {}
    size = 0
    try:
        for document in archived_entries(archive):
            size = document["seq"] + 1
            data = document["data"]
            if document["type"] == EventType.SUBJECT_ERASED:
                cause = ErasureCause(data.get("cause", ErasureCause.DELETION_REQUEST))
                names = data.get("subjects", [])
            elif document["type"] == EventType.RETENTION_ENFORCED and "erased" in data:
                cause = ErasureCause.RETENTION
                names = [ref.removeprefix("subject:") for ref in data["erased"]]
            else:
                continue
            for name in names:
                erased.setdefault(name, (cause, document["seq"]))
    except (ArchiveError, OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValidationFailed(
            _("The ledger archive cannot be trusted, so nothing was erased: %(why)s.")
            % {"why": exc},
            fields={"archive": [_("Give the directory seal_ledger --archive writes to.")]},
        ) from exc
    return erased, size


def erasures_reapply(
    *, archive: Path, now: datetime | None = None, dry_run: bool = False
) -> ReapplyResult:
    """Destroy again every data key the archived ledger records as destroyed."""
    at = at_or_now(now)
    erased, size = _archived_erasures(archive)
    result = ReapplyResult(archived_erasures=len(erased), archive_size=size)
    # The archive may name millions of pseudonyms: they are looked up a batch at a time.
    names = sorted(erased)
    live = sorted(
        row
        for start in range(0, len(names), _BATCH)
        for row in DataSubject.objects.filter(
            pseudonym__in=names[start : start + _BATCH], data_key__wrapped__isnull=False
        ).values_list("pk", "pseudonym", "user_id")
    )
    if dry_run:
        result.reapplied = [pseudonym for _pk, pseudonym, _user in live]
        return result
    actor = system_actor_ref("reapply_erasures")
    for start in range(0, len(live), _BATCH):
        batch = live[start : start + _BATCH]
        for cause in ErasureCause:
            chosen = [row for row in batch if erased[row[1]][0] == cause]
            if chosen:
                with transaction.atomic():
                    _reapply(chosen, cause, erased, actor, at, result)
    return result


def _reapply(
    rows: list[tuple[int, str, Any]],
    cause: ErasureCause,
    erased: dict[str, tuple[ErasureCause, int]],
    actor: str,
    at: datetime,
    result: ReapplyResult,
) -> None:
    done, _held = subjects_erase(
        subject_ids=[pk for pk, _name, _user in rows], cause=cause, now=at, holds=False
    )
    if not done:
        return
    if cause == ErasureCause.DELETION_REQUEST:
        # A completed deletion closed the person's account; one left on hold did not, and
        # kept a live subject. So only accounts left with no live data subject are closed.
        users = {user for _pk, name, user in rows if name in done and user is not None}
        still_live = DataSubject.objects.filter(
            user_id__in=users, data_key__wrapped__isnull=False
        ).values_list("user_id", flat=True)
        accounts_close(users - set(still_live))
    else:
        accounts_scrub(done)
    entry = ledger_append(
        event_type=EventType.SUBJECT_ERASED,
        object_ref=f"restore:{result.archive_size}",
        actor_ref=actor,
        data={
            "cause": str(cause),
            "subjects": done,
            "reapplied_from": sorted({erased[name][1] for name in done}),
        },
        at=at,
    )
    result.reapplied.extend(done)
    result.ledger_seqs.append(entry.seq)
