from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GovernanceConfig(AppConfig):
    name = "governance"
    verbose_name = _("Complaint governance")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        self._connect_auth_events()
        from simple_history.signals import post_create_historical_record

        from .services.recording import spend_history_stamp

        post_create_historical_record.connect(
            spend_history_stamp, dispatch_uid="ombud.history.spend_stamp"
        )
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

    def _connect_auth_events(self) -> None:
        # Sign-in, failure, lockout and sign-out come from Django and django-axes; tokens and
        # authenticators are changed by their packages' own admin and commands, so a receiver
        # is the one place every path passes (governance/auth_events.py).
        from axes.models import AccessAttempt
        from axes.signals import user_locked_out
        from django.contrib.auth import get_user_model
        from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
        from django.db.models.signals import post_delete, post_save, pre_delete, pre_save
        from django_otp.plugins.otp_totp.models import TOTPDevice
        from rest_framework.authtoken.models import Token, TokenProxy

        from . import auth_events as ev

        user_logged_in.connect(ev.signed_in, dispatch_uid="ombud.auth.signed_in")
        user_logged_out.connect(ev.signed_out, dispatch_uid="ombud.auth.signed_out")
        user_login_failed.connect(ev.login_failed, dispatch_uid="ombud.auth.login_failed")
        user_locked_out.connect(ev.locked_out, dispatch_uid="ombud.auth.locked_out")
        post_delete.connect(
            ev.device_deleted, sender=TOTPDevice, dispatch_uid="ombud.auth.device_deleted"
        )
        pre_save.connect(ev.user_saving, sender=get_user_model(), dispatch_uid="ombud.auth.flags")
        post_save.connect(ev.user_saved, sender=get_user_model(), dispatch_uid="ombud.auth.user")
        pre_delete.connect(
            ev.attempt_deleting, sender=AccessAttempt, dispatch_uid="ombud.auth.attempt_deleting"
        )
        post_delete.connect(
            ev.attempt_deleted, sender=AccessAttempt, dispatch_uid="ombud.auth.attempt_deleted"
        )
        # The admin edits tokens through DRF's proxy model, whose signals name the proxy.
        for model in (Token, TokenProxy):
            uid = f"ombud.auth.{model.__name__}"
            post_save.connect(ev.token_saved, sender=model, dispatch_uid=f"{uid}.saved")
            post_delete.connect(ev.token_deleted, sender=model, dispatch_uid=f"{uid}.deleted")
