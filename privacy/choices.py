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


class LookupField(models.TextChoices):
    EMAIL = "email", _("Email")
    PHONE = "phone", _("Phone")


class ErasureCause(models.TextChoices):
    DELETION_REQUEST = "deletion_request", _("Deletion request")
    RETENTION = "retention", _("Retention period over")


class AccessPurpose(models.TextChoices):
    CASE_HANDLING = "case_handling", _("Handling the complaint")
    COMPLIANCE_AUDIT = "compliance_audit", _("Compliance audit")
    OWN_DATA = "own_data", _("The person reading their own data")
    PRIVACY_REQUEST = "privacy_request", _("Handling a privacy request")
    EXPORT = "export", _("Copy of the data for its subject")
    LEGAL_HOLD = "legal_hold", _("Review under a legal hold")


class AccessOutcome(models.TextChoices):
    READ = "read", _("Read")
    ERASED = "erased", _("Already erased")


class RecordClass(models.TextChoices):
    COMPLAINANT_DATA = "complainant_data", _("Personal data of a complainant")
    ACCOUNT_HOLDER_DATA = "account_holder_data", _("Personal data of a reported account holder")
    ACCESS_LOG = "access_log", _("Personal-data access log")
    LEDGER = "ledger", _("Ledger (holds no personal data)")


class RetentionEvent(models.TextChoices):
    COMPLAINT_CLOSED = "complaint_closed", _("The last complaint concerned was closed")
    READ = "read", _("The read was logged")
    RECORDED = "recorded", _("The entry was recorded")


class RequestKind(models.TextChoices):
    DELETION = "deletion", _("Deletion")
    ACCESS = "access", _("Access and portability")


class RequestChannel(models.TextChoices):
    SELF_SERVICE = "self_service", _("Signed in, for themselves")
    OTHER = "other", _("Received elsewhere, recorded by a privacy officer")


class RequestStatus(models.TextChoices):
    RECEIVED = "received", _("Received")
    IDENTITY_VERIFIED = "identity_verified", _("Identity verified")
    COMPLETED = "completed", _("Completed")
    REFUSED = "refused", _("Refused")
    ON_HOLD = "on_hold", _("On hold")
