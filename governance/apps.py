from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GovernanceConfig(AppConfig):
    name = "governance"
    verbose_name = _("Complaint governance")
    default_auto_field = "django.db.models.BigAutoField"
