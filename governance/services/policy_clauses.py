"""The rule book: publishing a clause or its next version."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from audits.choices import EventType
from audits.services import ledger_append
from governance import policies
from governance.errors import Conflict, ValidationFailed
from governance.models import (
    PolicyClause,
)
from privacy.pseudonyms import actor_ref

from .recording import (
    at_or_now,
    full_clean_or_fail,
    require,
    sha256_hex,
    stamp_history,
)


def policy_clause_check(
    *,
    code: str,
    title: str,
    text: str,
    effective_from: date | None,
    effective_to: date | None = None,
    lock: bool = False,
) -> PolicyClause | None:
    """Validate a clause about to be published; return the version it follows, if any.

    Read-only, so the admin's form can show the same refusals the service would give.
    """
    errors: dict[str, list[str]] = {}
    code = (code or "").strip()
    if not code:
        errors["code"] = [_("Give the clause a code, e.g. TOS-4.2.")]
    if not (title or "").strip():
        errors["title"] = [_("Give the clause a title.")]
    if not (text or "").strip():
        errors["text"] = [_("Give the clause's text.")]
    if effective_from is None:
        errors["effective_from"] = [_("Give the first day the clause is in force.")]
    elif effective_to is not None and effective_to < effective_from:
        errors["effective_to"] = [_("The last day in force cannot precede the first.")]
    previous = None
    if code:
        versions = PolicyClause.objects.filter(code=code).order_by("-version")
        previous = (versions.select_for_update() if lock else versions).first()
    if (
        previous is not None
        and effective_from is not None
        and effective_from < previous.effective_from
    ):
        errors["effective_from"] = [
            _("Version %(v)s took effect on %(d)s; a new version cannot take effect earlier.")
            % {"v": previous.version, "d": previous.effective_from}
        ]
    if errors:
        raise ValidationFailed(
            _("The clause was not published; correct the fields named."), fields=errors
        )
    return previous


@transaction.atomic
def policy_clause_publish(
    *,
    actor: Any,
    code: str,
    title: str,
    text: str,
    effective_from: date,
    effective_to: date | None = None,
    now: datetime | None = None,
) -> PolicyClause:
    """Publish a clause, or the next version of one; older versions are never rewritten."""
    require(
        policies.can_publish_policy_clauses(actor), _("Only admins can publish policy clauses.")
    )
    at = at_or_now(now)
    # Locking the latest version serialises two publishers of the same code.
    previous = policy_clause_check(
        code=code,
        title=title,
        text=text,
        effective_from=effective_from,
        effective_to=effective_to,
        lock=True,
    )
    code = code.strip()
    clause = PolicyClause(
        code=code,
        version=(previous.version + 1) if previous else 1,
        title=title.strip(),
        text=text.strip(),
        effective_from=effective_from,
        effective_to=effective_to,
        published_at=at,
        published_by=actor if actor.is_authenticated else None,
    )
    full_clean_or_fail(clause, _("The clause was not published; correct the fields named."))
    stamp_history(clause, actor, _("Version published"), at=at)
    try:
        with transaction.atomic():
            clause.save()
    except IntegrityError as exc:
        # A first version has no row to lock, so two publishers can race to it; one loses here.
        raise Conflict(
            _("Another version of %s was published at the same moment; reload and try again.")
            % code
        ) from exc
    ledger_append(
        event_type=EventType.POLICY_CLAUSE_PUBLISHED,
        object_ref=f"policy_clause:{clause.code}:v{clause.version}",
        actor_ref=actor_ref(actor),
        data={
            "code": clause.code,
            "version": clause.version,
            "title": clause.title,
            "text_sha256": sha256_hex(clause.text),
            "effective_from": clause.effective_from.isoformat(),
            "effective_to": clause.effective_to.isoformat() if clause.effective_to else None,
        },
        at=at,
    )
    return clause
