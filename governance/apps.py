from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GovernanceConfig(AppConfig):
    name = "governance"
    verbose_name = _("Complaint governance")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Teach ledger verification to compare decisions and transitions with their entries.
        from audits.choices import EventType
        from audits.verification import RowCheck, model_table, register_row_check
        from privacy.pseudonyms import actor_ref

        from .models import ComplaintTransition, Decision
        from .services.decisions import decision_ledger_data
        from .services.recording import transition_ledger_data

        register_row_check(
            RowCheck(
                table=model_table(Decision),
                event_types=frozenset({EventType.DECISION_RECORDED, EventType.APPEAL_DECIDED}),
                row_id=lambda doc: int(doc["ref"].removeprefix("decision:")),
                queryset=lambda: Decision.objects.select_related(
                    "complaint", "policy_clause", "decided_by"
                ),
                expected=lambda d: {
                    "ref": f"decision:{d.pk}",
                    "actor": actor_ref(d.decided_by),
                    "at": d.decided_at.isoformat(),
                    "data": decision_ledger_data(d),
                },
            )
        )
        register_row_check(
            RowCheck(
                table=model_table(ComplaintTransition),
                event_types=frozenset({EventType.COMPLAINT_TRANSITIONED}),
                row_id=lambda doc: int(doc["data"]["transition"]),
                queryset=lambda: ComplaintTransition.objects.select_related("complaint"),
                expected=lambda t: {
                    "ref": f"complaint:{t.complaint.reference}",
                    "actor": t.actor_ref,
                    "at": t.at.isoformat(),
                    "data": transition_ledger_data(t),
                },
            )
        )
