"""Statuses, outcomes and other fixed vocabularies of the governance app."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    COMPLAINANT = "complainant", _("Complainant")
    HANDLER = "handler", _("Handler")
    DEPARTMENT_LEAD = "department_lead", _("Department lead")
    COMPLIANCE_OFFICER = "compliance_officer", _("Compliance officer")
    SUPERVISOR = "supervisor", _("Supervisor")
    PRIVACY_OFFICER = "privacy_officer", _("Privacy officer")
    ADMIN = "admin", _("Administrator")


# Roles whose membership is scoped to one department.
DEPARTMENT_ROLES = frozenset({Role.HANDLER, Role.DEPARTMENT_LEAD})


class Channel(models.TextChoices):
    WEB_FORM = "web_form", _("Web form")
    IN_APP = "in_app", _("In-app")
    EMAIL = "email", _("Email")
    PHONE = "phone", _("Phone")
    SOCIAL_MEDIA = "social_media", _("Social-media mention")
    API = "api", _("API")
    REGULATOR_REFERRAL = "regulator_referral", _("Regulator referral")


class Severity(models.TextChoices):
    CRITICAL = "critical", _("Critical")
    HIGH = "high", _("High")
    MEDIUM = "medium", _("Medium")
    LOW = "low", _("Low")


class Urgency(models.TextChoices):
    HIGH = "high", _("High")
    NORMAL = "normal", _("Normal")
    LOW = "low", _("Low")


class Priority(models.TextChoices):
    P1 = "P1", _("P1 (highest)")
    P2 = "P2", _("P2")
    P3 = "P3", _("P3")
    P4 = "P4", _("P4 (lowest)")


# Priority from severity (rows) and urgency (columns): the usual ITIL-style impact matrix.
PRIORITY_MATRIX: dict[str, dict[str, str]] = {
    Severity.CRITICAL: {
        Urgency.HIGH: Priority.P1,
        Urgency.NORMAL: Priority.P1,
        Urgency.LOW: Priority.P2,
    },
    Severity.HIGH: {
        Urgency.HIGH: Priority.P1,
        Urgency.NORMAL: Priority.P2,
        Urgency.LOW: Priority.P3,
    },
    Severity.MEDIUM: {
        Urgency.HIGH: Priority.P2,
        Urgency.NORMAL: Priority.P3,
        Urgency.LOW: Priority.P4,
    },
    Severity.LOW: {
        Urgency.HIGH: Priority.P3,
        Urgency.NORMAL: Priority.P4,
        Urgency.LOW: Priority.P4,
    },
}


class ComplaintStatus(models.TextChoices):
    RECEIVED = "received", _("Received")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    TRIAGED = "triaged", _("Triaged")
    ASSIGNED = "assigned", _("Assigned")
    INVESTIGATING = "investigating", _("Investigating")
    DECIDED = "decided", _("Decided")
    CLOSED = "closed", _("Closed")
    APPEALED = "appealed", _("Appealed")
    APPEAL_DECIDED = "appeal_decided", _("Appeal decided")
    WITHDRAWN = "withdrawn", _("Withdrawn")


S = ComplaintStatus
# The complaint state machine: each status and the statuses it may move to next.
TRANSITIONS: dict[str, frozenset[str]] = {
    S.RECEIVED: frozenset({S.ACKNOWLEDGED, S.WITHDRAWN}),
    S.ACKNOWLEDGED: frozenset({S.TRIAGED, S.WITHDRAWN}),
    S.TRIAGED: frozenset({S.ASSIGNED, S.WITHDRAWN}),
    S.ASSIGNED: frozenset({S.INVESTIGATING, S.WITHDRAWN}),
    S.INVESTIGATING: frozenset({S.DECIDED, S.WITHDRAWN}),
    S.DECIDED: frozenset({S.CLOSED, S.APPEALED}),
    S.CLOSED: frozenset({S.APPEALED}),
    S.APPEALED: frozenset({S.APPEAL_DECIDED}),
    S.APPEAL_DECIDED: frozenset({S.CLOSED}),
    S.WITHDRAWN: frozenset(),
}
# Statuses in which the complaint still waits for its first decision.
OPEN_STATUSES = frozenset({S.RECEIVED, S.ACKNOWLEDGED, S.TRIAGED, S.ASSIGNED, S.INVESTIGATING})
del S


class DecisionKind(models.TextChoices):
    INITIAL = "initial", _("Initial decision")
    CORRECTION = "correction", _("Correction")
    APPEAL = "appeal", _("Appeal outcome")


class DecisionOutcome(models.TextChoices):
    UPHELD = "upheld", _("Upheld")
    PARTIALLY_UPHELD = "partially_upheld", _("Partially upheld")
    REJECTED = "rejected", _("Rejected")
    REFERRED = "referred", _("Referred")
    NO_ACTION = "no_action", _("No action")


# Outcomes that find the complaint founded and so take at least one action.
ACTING_OUTCOMES = frozenset({DecisionOutcome.UPHELD, DecisionOutcome.PARTIALLY_UPHELD})


class DecisionAction(models.TextChoices):
    CONTENT_REMOVED = "content_removed", _("Content removed")
    CONTENT_DISABLED = "content_disabled", _("Content disabled")
    CONTENT_DEMOTED = "content_demoted", _("Content demoted")
    CONTENT_AGE_RESTRICTED = "content_age_restricted", _("Content age-restricted")
    CONTENT_LABELLED = "content_labelled", _("Content labelled")
    INTERACTION_RESTRICTED = "interaction_restricted", _("Interaction restricted")
    ACCOUNT_WARNED = "account_warned", _("Account warned")
    ACCOUNT_SUSPENDED = "account_suspended", _("Account suspended")
    ACCOUNT_TERMINATED = "account_terminated", _("Account terminated")
    MONETISATION_RESTRICTED = "monetisation_restricted", _("Monetisation restricted")
    NONE = "none", _("None")


# Actions that last for a time and so may carry an end date.
TEMPORARY_ACTIONS = frozenset(
    {
        DecisionAction.CONTENT_DISABLED,
        DecisionAction.CONTENT_DEMOTED,
        DecisionAction.CONTENT_AGE_RESTRICTED,
        DecisionAction.INTERACTION_RESTRICTED,
        DecisionAction.ACCOUNT_SUSPENDED,
        DecisionAction.MONETISATION_RESTRICTED,
    }
)


class DecisionGround(models.TextChoices):
    ILLEGAL_CONTENT = "illegal_content", _("Illegal under the law")
    TERMS_OF_SERVICE = "terms_of_service", _("Incompatible with the terms of service")


class AutomatedDecision(models.TextChoices):
    FULLY = "fully", _("Fully automated")
    PARTIALLY = "partially", _("Partially automated")
    NOT_AUTOMATED = "not_automated", _("Not automated")


class AppealStatus(models.TextChoices):
    OPEN = "open", _("Open")
    DECIDED = "decided", _("Decided")


class AppealOutcome(models.TextChoices):
    UPHELD = "upheld", _("Original decision upheld")
    REVERSED = "reversed", _("Original decision reversed")
    MODIFIED = "modified", _("Original decision modified")


class AppellantRole(models.TextChoices):
    COMPLAINANT = "complainant", _("Complainant")
    ACCOUNT_HOLDER = "account_holder", _("Affected account holder")


class SlaStage(models.TextChoices):
    ACKNOWLEDGE = "acknowledge", _("Acknowledgement")
    TRIAGE = "triage", _("Triage")
    DECIDE = "decide", _("Decision")


# DSA Transparency Database statement categories (shared/reference/dsa-enums.json).
class DsaCategory(models.TextChoices):
    ANIMAL_WELFARE = "STATEMENT_CATEGORY_ANIMAL_WELFARE", _("Animal welfare")
    CONSUMER_INFORMATION = "STATEMENT_CATEGORY_CONSUMER_INFORMATION", _("Consumer information")
    CYBER_VIOLENCE = "STATEMENT_CATEGORY_CYBER_VIOLENCE", _("Cyber violence")
    CYBER_VIOLENCE_AGAINST_WOMEN = (
        "STATEMENT_CATEGORY_CYBER_VIOLENCE_AGAINST_WOMEN",
        _("Cyber violence against women"),
    )
    DATA_PROTECTION = (
        "STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS",
        _("Data protection and privacy violations"),
    )
    ILLEGAL_OR_HARMFUL_SPEECH = (
        "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH",
        _("Illegal or harmful speech"),
    )
    INTELLECTUAL_PROPERTY = (
        "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS",
        _("Intellectual property infringements"),
    )
    CIVIC_DISCOURSE = (
        "STATEMENT_CATEGORY_NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS",
        _("Negative effects on civic discourse or elections"),
    )
    NOT_SPECIFIED_NOTICE = "STATEMENT_CATEGORY_NOT_SPECIFIED_NOTICE", _("Not specified (notice)")
    OTHER_VIOLATION_TC = (
        "STATEMENT_CATEGORY_OTHER_VIOLATION_TC",
        _("Other violation of terms and conditions"),
    )
    PROTECTION_OF_MINORS = "STATEMENT_CATEGORY_PROTECTION_OF_MINORS", _("Protection of minors")
    PUBLIC_SECURITY = "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY", _("Risk for public security")
    SCAMS_AND_FRAUD = "STATEMENT_CATEGORY_SCAMS_AND_FRAUD", _("Scams and fraud")
    SELF_HARM = "STATEMENT_CATEGORY_SELF_HARM", _("Self-harm")
    UNSAFE_PRODUCTS = (
        "STATEMENT_CATEGORY_UNSAFE_AND_PROHIBITED_PRODUCTS",
        _("Unsafe and prohibited products"),
    )
    VIOLENCE = "STATEMENT_CATEGORY_VIOLENCE", _("Violence")


# Where a decision applies: the DSA's EU/EEA country codes, plus mainland China for the
# platform's home market.
TERRITORIES = frozenset(
    {
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FR",
        "GR",
        "HR",
        "HU",
        "IE",
        "IS",
        "IT",
        "LI",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "NO",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
        "CN",
    }
)
