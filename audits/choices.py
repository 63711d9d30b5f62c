"""Every event type the ledger records, in one place. Each service names the one it appends."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class EventType(models.TextChoices):
    COMPLAINT_RECEIVED = "complaint.received", _("Complaint received")
    COMPLAINT_TRANSITIONED = "complaint.transitioned", _("Complaint status changed")
    COMPLAINT_TRIAGED = "complaint.triaged", _("Complaint triaged")
    COMPLAINT_ASSIGNED = "complaint.assigned", _("Complaint assigned")
    COMPLAINT_RATED = "complaint.rated", _("Complainant rated the handling")
    DECISION_RECORDED = "decision.recorded", _("Decision recorded")
    APPEAL_FILED = "appeal.filed", _("Appeal filed")
    APPEAL_DECIDED = "appeal.decided", _("Appeal decided")
    SLA_BREACHED = "sla.breached", _("Deadline breached and escalated")
    POLICY_CLAUSE_PUBLISHED = "policy_clause.published", _("Policy clause version published")
    REFERENCE_DATA_CHANGED = "reference_data.changed", _("Department, category or holiday changed")
    ROLE_GRANTED = "role.granted", _("Role granted")
    ROLE_REVOKED = "role.revoked", _("Role revoked")
    TWO_FACTOR_CODE_ISSUED = (
        "account.two_factor_code_issued",
        _("Authenticator set-up code issued"),
    )
    TWO_FACTOR_ENROLLED = "account.two_factor_enrolled", _("Two-factor sign-in set up")
    TWO_FACTOR_REMOVED = "account.two_factor_removed", _("Two-factor authenticator removed")
    SIGNED_IN = "account.signed_in", _("Signed in")
    SIGNED_OUT = "account.signed_out", _("Signed out")
    LOCKED_OUT = "account.locked_out", _("Sign-in locked after repeated failures")
    UNLOCKED = "account.unlocked", _("Sign-in lock lifted before it ran out")
    ACCESS_FLAGS_CHANGED = (
        "account.access_flags_changed",
        _("Account activated or deactivated, or admin access changed"),
    )
    API_TOKEN_ISSUED = "account.api_token_issued", _("API token issued")
    API_TOKEN_REVOKED = "account.api_token_revoked", _("API token revoked")
    SUBJECT_CREATED = "subject.created", _("Data subject recorded")
    SUBJECT_LINKED = "subject.linked", _("Data subject linked to a sign-in account")
    SUBJECT_ERASED = "subject.erased", _("Data subject's data key destroyed")
    KEYS_ROTATED = "keys.rotated", _("Data keys re-wrapped under a new key-encryption key")
    RETENTION_ENFORCED = "retention.enforced", _("Expired personal data erased")
    RETENTION_RULE_CHANGED = "retention_rule.changed", _("Retention rule set")
    LEGAL_HOLD_PLACED = "legal_hold.placed", _("Legal hold placed")
    LEGAL_HOLD_RELEASED = "legal_hold.released", _("Legal hold released")
    PRIVACY_REQUEST_RECEIVED = "privacy_request.received", _("Privacy request received")
    PRIVACY_REQUEST_CHANGED = "privacy_request.changed", _("Privacy request status changed")
    DATA_EXPORTED = "privacy.exported", _("Copy of a person's data produced")
    SAMPLE_DRAWN = "quality_sample.drawn", _("Quality sample drawn")
    REVIEW_RECORDED = "review.recorded", _("Blind review recorded")
    CORRECTIVE_ACTION_OPENED = "corrective_action.opened", _("Corrective action opened")
    CORRECTIVE_ACTION_CLOSED = "corrective_action.closed", _("Corrective action closed")
    REPORT_PUBLISHED = "report.published", _("Oversight report published")


class Verdict(models.TextChoices):
    AGREE = "agree", _("Agree with the decision")
    DISAGREE = "disagree", _("Disagree with the decision")


class CorrectiveActionStatus(models.TextChoices):
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")
