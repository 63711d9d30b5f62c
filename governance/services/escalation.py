"""Missed deadlines: recorded once and escalated to the department's leads."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from functools import partial
from typing import Any

from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils.translation import gettext as _

from audits.choices import EventType
from audits.services import ledger_append, system_actor_ref
from governance.choices import (
    OPEN_STATUSES,
    ComplaintStatus,
    Role,
    SlaStage,
)
from governance.models import (
    Complaint,
    SlaBreach,
)
from privacy.pseudonyms import actor_ref

from .recording import (
    at_or_now,
)

logger = logging.getLogger(__name__)

# --- deadlines -------------------------------------------------------------------------------

# For each stage: the complaint's due-time field, the field stamped when the stage is done, and
# the statuses in which it is still pending.
SLA_STAGES: dict[str, tuple[str, str, frozenset[str]]] = {
    SlaStage.ACKNOWLEDGE: (
        "acknowledge_due_at",
        "acknowledged_at",
        frozenset({ComplaintStatus.RECEIVED}),
    ),
    SlaStage.TRIAGE: (
        "triage_due_at",
        "triaged_at",
        frozenset({ComplaintStatus.RECEIVED, ComplaintStatus.ACKNOWLEDGED}),
    ),
    SlaStage.DECIDE: ("decision_due_at", "decided_at", OPEN_STATUSES),
}


def _leads_of(department_id: int) -> list[Any]:
    user_model = get_user_model()
    return list(
        user_model.objects.filter(
            role_memberships__role=Role.DEPARTMENT_LEAD,
            role_memberships__department_id=department_id,
            role_memberships__revoked_at__isnull=True,
            is_active=True,
        ).distinct()
    )


def _notify_leads(
    leads: Iterable[Any], complaint_reference: str, stage: str, due: datetime
) -> None:
    recipients = [lead.email for lead in leads if lead.email]
    if not recipients:
        logger.warning(
            "Breach of %s (%s) recorded, but the department has no lead with an e-mail address",
            complaint_reference,
            stage,
        )
        return
    values = {"ref": complaint_reference, "stage": stage, "due": due.isoformat()}
    try:
        send_mail(
            subject=_("[Ombud] %(ref)s: %(stage)s deadline missed") % values,
            message=_(
                "Complaint %(ref)s missed its %(stage)s deadline (%(due)s).\n"
                "Open it in Ombud to reassign or act on it."
            )
            % values,
            from_email=None,
            recipient_list=recipients,
        )
    except OSError:
        # The breach is recorded either way; a mail outage must not undo it. Say so loudly.
        logger.exception("Could not e-mail the leads about the breach of %s", complaint_reference)


def sla_breaches_escalate(*, now: datetime | None = None, batch_size: int = 500) -> dict[str, int]:
    """Record each newly missed deadline once and escalate it to the department's leads.

    Idempotent and safe to run twice at once: the (complaint, stage) unique constraint lets one
    run win each breach; the other skips it.
    """
    at = at_or_now(now)
    counts = {str(stage): 0 for stage in SLA_STAGES}
    leads_by_department: dict[int, list[Any]] = {}
    actor = system_actor_ref("sla_escalate")
    for stage, (due_field, done_field, pending) in SLA_STAGES.items():
        # Still pending past the deadline, or done late since the last run (a run that did not
        # happen in time must not lose the breach).
        missed = Q(status__in=sorted(pending), **{f"{due_field}__lt": at}) | Q(
            **{f"{done_field}__gt": F(due_field)}
        )
        overdue = (
            Complaint.objects.filter(missed)
            .exclude(sla_breaches__stage=stage)
            .order_by("pk")
            .values_list("pk", "reference", "department_id", due_field)
        )
        last_pk = 0
        while True:
            batch = list(overdue.filter(pk__gt=last_pk)[:batch_size])
            if not batch:
                break
            last_pk = batch[-1][0]
            for pk, reference, department_id, due in batch:
                if department_id not in leads_by_department:
                    leads_by_department[department_id] = _leads_of(department_id)
                leads = leads_by_department[department_id]
                try:
                    with transaction.atomic():
                        breach = SlaBreach(complaint_id=pk, stage=stage, due_at=due, detected_at=at)
                        breach.save()
                        breach.escalated_to.set(leads)
                        ledger_append(
                            event_type=EventType.SLA_BREACHED,
                            object_ref=f"complaint:{reference}",
                            actor_ref=actor,
                            data={
                                "stage": str(stage),
                                "due_at": due.isoformat(),
                                "escalated_to": sorted(actor_ref(lead) for lead in leads),
                            },
                            at=at,
                        )
                        transaction.on_commit(
                            partial(_notify_leads, leads, reference, str(stage), due)
                        )
                except IntegrityError:
                    continue  # another run recorded this breach first
                counts[str(stage)] += 1
    return counts
