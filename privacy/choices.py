from django.db import models
from django.utils.translation import gettext_lazy as _


class SubjectKind(models.TextChoices):
    COMPLAINANT = "complainant", _("Complainant")
    ACCOUNT_HOLDER = "account_holder", _("Reported account holder")


class NoteKind(models.TextChoices):
    COMPLAINT_DESCRIPTION = "complaint_description", _("Complaint description")
    APPEAL_STATEMENT = "appeal_statement", _("Appeal statement")
    RATING_COMMENT = "rating_comment", _("Rating comment")
    WITHDRAWAL_REASON = "withdrawal_reason", _("Withdrawal reason")
