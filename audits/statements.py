"""DSA statements of reasons: a decision in the Transparency Database's format, and a check of
every rule of that format before a statement leaves Ombud.

The fields, enumerations and rules are those of the Commission's DSA Transparency Database API,
as summarised in the shared reference `dsa-statement-of-reasons.md`. `statement_from_decision`
is a pure mapping; `validate` runs one check per row of the reference's rules table, each named
after the field that row governs (`RULE_NAMES`), and returns every violation found.

Choices the reference leaves to us:

- Only a decision that restricts something gets a statement: a visibility, monetary or account
  restriction (DSA Art. 17(1)). A warning restricts nothing, nor does "none". A decision whose
  territorial scope lies wholly outside the EU/EEA (mainland China only) restricts nothing the
  DSA covers and gets none either; codes outside the EU/EEA are left out of `territorial_scope`,
  and an empty scope (the whole service) is sent as no scope.
- Corrections and appeal outcomes: the reference has no way to update or withdraw a statement,
  and a `puid` is never reused. So the export takes the decision *in force* (`Complaint.
  current_decision`): a decision superseded before it was exported never gets a statement; one
  superseded after keeps the statement already filed, and its successor, if it restricts
  something, gets its own statement with its own `puid`, whose facts name the `puid` it replaces.
- `puid` is the deployment's origin (`OMBUD_ORIGIN`, made safe for the pattern) and the
  decision's id: stable across exports and never naming a person.
- Ombud does not record what kind of content was reported, so `content_type` is
  `CONTENT_TYPE_OTHER`, said to be an account for account-only decisions and "not recorded"
  otherwise; `content_date` is the day the complaint was received (the content existed by then),
  `application_date` the day of the decision, both in the business time zone.
- `source_type`: the platform's own notice channels (web form, in-app, API) are Art. 16 notices;
  e-mail, phone, social-media mentions and regulator referrals are other notifications. The
  notifier's identity is personal data and is never sent (`source_identity` is optional).
- Statements are data for the Commission, in English whatever the caller's language; the
  violation messages are for our staff and are translated.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.translation import gettext as _

from governance.choices import (
    AutomatedDecision,
    Channel,
    DecisionAction,
    DecisionGround,
    DecisionKind,
    DsaCategory,
)
from governance.deadlines import business_date

if TYPE_CHECKING:
    from governance.models import Decision

Statement = dict[str, Any]

# --- the reference's enumerations (dsa-enums.json) ---------------------------------------------

DECISION_VISIBILITIES = (
    "DECISION_VISIBILITY_CONTENT_REMOVED",
    "DECISION_VISIBILITY_CONTENT_DISABLED",
    "DECISION_VISIBILITY_CONTENT_DEMOTED",
    "DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED",
    "DECISION_VISIBILITY_CONTENT_INTERACTION_RESTRICTED",
    "DECISION_VISIBILITY_CONTENT_LABELLED",
    "DECISION_VISIBILITY_OTHER",
)
DECISION_MONETARIES = (
    "DECISION_MONETARY_SUSPENSION",
    "DECISION_MONETARY_TERMINATION",
    "DECISION_MONETARY_OTHER",
)
DECISION_PROVISIONS = (
    "DECISION_PROVISION_PARTIAL_SUSPENSION",
    "DECISION_PROVISION_TOTAL_SUSPENSION",
    "DECISION_PROVISION_PARTIAL_TERMINATION",
    "DECISION_PROVISION_TOTAL_TERMINATION",
)
DECISION_ACCOUNTS = ("DECISION_ACCOUNT_SUSPENDED", "DECISION_ACCOUNT_TERMINATED")
ACCOUNT_TYPES = ("ACCOUNT_TYPE_BUSINESS", "ACCOUNT_TYPE_PRIVATE")
DECISION_GROUNDS = ("DECISION_GROUND_ILLEGAL_CONTENT", "DECISION_GROUND_INCOMPATIBLE_CONTENT")
CONTENT_TYPES = (
    "CONTENT_TYPE_APP",
    "CONTENT_TYPE_AUDIO",
    "CONTENT_TYPE_IMAGE",
    "CONTENT_TYPE_PRODUCT",
    "CONTENT_TYPE_SYNTHETIC_MEDIA",
    "CONTENT_TYPE_TEXT",
    "CONTENT_TYPE_VIDEO",
    "CONTENT_TYPE_OTHER",
)
STATEMENT_CATEGORIES = tuple(DsaCategory.values)
# fmt: off
KEYWORDS = (
    "KEYWORD_ADULT_SEXUAL_MATERIAL", "KEYWORD_AGE_SPECIFIC_RESTRICTIONS",
    "KEYWORD_AGE_SPECIFIC_RESTRICTIONS_MINORS", "KEYWORD_ANIMAL_HARM",
    "KEYWORD_BIOMETRIC_DATA_BREACH", "KEYWORD_BULLYING_AGAINST_GIRLS",
    "KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL", "KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL_DEEPFAKE",
    "KEYWORD_CONTENT_PROMOTING_EATING_DISORDERS", "KEYWORD_COORDINATED_HARM",
    "KEYWORD_COPYRIGHT_INFRINGEMENT", "KEYWORD_CYBER_BULLYING_INTIMIDATION",
    "KEYWORD_CYBER_HARASSMENT", "KEYWORD_CYBER_HARASSMENT_AGAINST_WOMEN",
    "KEYWORD_CYBER_INCITEMENT", "KEYWORD_CYBER_STALKING", "KEYWORD_CYBER_STALKING_AGAINST_WOMEN",
    "KEYWORD_DATA_FALSIFICATION", "KEYWORD_DEFAMATION", "KEYWORD_DESIGN_INFRINGEMENT",
    "KEYWORD_DISCRIMINATION", "KEYWORD_FEMALE_GENDERED_DISINFORMATION",
    "KEYWORD_GEOGRAPHIC_INDICATIONS_INFRINGEMENT", "KEYWORD_GEOGRAPHICAL_REQUIREMENTS",
    "KEYWORD_GOODS_SERVICES_NOT_PERMITTED", "KEYWORD_GROOMING_SEXUAL_ENTICEMENT_MINORS",
    "KEYWORD_HATE_SPEECH", "KEYWORD_HIDDEN_ADVERTISEMENT", "KEYWORD_HUMAN_EXPLOITATION",
    "KEYWORD_HUMAN_TRAFFICKING", "KEYWORD_ILLEGAL_ORGANIZATIONS",
    "KEYWORD_IMPERSONATION_ACCOUNT_HIJACKING", "KEYWORD_INAUTHENTIC_ACCOUNTS",
    "KEYWORD_INAUTHENTIC_LISTINGS", "KEYWORD_INAUTHENTIC_USER_REVIEWS",
    "KEYWORD_INCITEMENT_AGAINST_WOMEN", "KEYWORD_INCITEMENT_VIOLENCE_HATRED",
    "KEYWORD_INSUFFICIENT_INFORMATION_ON_TRADERS", "KEYWORD_LANGUAGE_REQUIREMENTS",
    "KEYWORD_MISINFORMATION_DISINFORMATION", "KEYWORD_MISLEADING_INFO_CONSUMER_RIGHTS",
    "KEYWORD_MISLEADING_INFO_GOODS_SERVICES", "KEYWORD_MISSING_PROCESSING_GROUND",
    "KEYWORD_NON_CONSENSUAL_IMAGE_SHARING", "KEYWORD_NON_CONSENSUAL_IMAGE_SHARING_AGAINST_WOMEN",
    "KEYWORD_NON_CONSENSUAL_MATERIAL_DEEPFAKE",
    "KEYWORD_NON_CONSENSUAL_MATERIAL_DEEPFAKE_AGAINST_WOMEN", "KEYWORD_NONCOMPLIANCE_PRICING",
    "KEYWORD_NUDITY", "KEYWORD_PATENT_INFRINGEMENT", "KEYWORD_PHISHING",
    "KEYWORD_PROHIBITED_PRODUCTS", "KEYWORD_PYRAMID_SCHEMES", "KEYWORD_RIGHT_TO_BE_FORGOTTEN",
    "KEYWORD_RISK_ENVIRONMENTAL_DAMAGE", "KEYWORD_RISK_PUBLIC_HEALTH", "KEYWORD_SELF_MUTILATION",
    "KEYWORD_STALKING", "KEYWORD_SUICIDE", "KEYWORD_TERRORIST_CONTENT",
    "KEYWORD_TRADE_SECRET_INFRINGEMENT", "KEYWORD_TRADEMARK_INFRINGEMENT",
    "KEYWORD_TRAFFICKING_WOMEN_GIRLS", "KEYWORD_UNLAWFUL_SALE_ANIMALS", "KEYWORD_UNSAFE_CHALLENGES",
    "KEYWORD_UNSAFE_PRODUCTS", "KEYWORD_VIOLATION_EU_LAW", "KEYWORD_VIOLATION_NATIONAL_LAW",
    "KEYWORD_OTHER",
)
# fmt: on
SOURCE_TYPES = (
    "SOURCE_ARTICLE_16",
    "SOURCE_TRUSTED_FLAGGER",
    "SOURCE_TYPE_OTHER_NOTIFICATION",
    "SOURCE_VOLUNTARY",
)
AUTOMATED_DECISIONS = (
    "AUTOMATED_DECISION_FULLY",
    "AUTOMATED_DECISION_PARTIALLY",
    "AUTOMATED_DECISION_NOT_AUTOMATED",
)
YES_NO = ("Yes", "No")
# fmt: off
EUROPEAN_COUNTRY_CODES = (
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IS",
    "IT", "LI", "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI", "SK",
)
ALL_LANGUAGES = frozenset({
    "AB", "AA", "AF", "AK", "SQ", "AM", "AR", "AN", "HY", "AS", "AV", "AE", "AY", "AZ", "BM", "BA",
    "EU", "BE", "BN", "BH", "BI", "BS", "BR", "BG", "MY", "CA", "KM", "CH", "CE", "NY", "ZH", "CU",
    "CV", "KW", "CO", "CR", "HR", "CS", "DA", "DV", "NL", "DZ", "EN", "EO", "ET", "EE", "FO", "FJ",
    "FI", "FR", "FF", "GD", "GL", "LG", "KA", "DE", "KI", "EL", "KL", "GN", "GU", "HT", "HA", "HE",
    "HZ", "HI", "HO", "HU", "IS", "IO", "IG", "ID", "IA", "IE", "IU", "IK", "GA", "IT", "JA", "JV",
    "KN", "KR", "KS", "KK", "RW", "KV", "KG", "KO", "KJ", "KU", "KY", "LO", "LA", "LV", "LB", "LI",
    "LN", "LT", "LU", "MK", "MG", "MS", "ML", "MT", "GV", "MI", "MR", "MH", "RO", "MN", "NA", "NV",
    "ND", "NG", "NE", "SE", "NO", "NB", "NN", "II", "OC", "OJ", "OR", "OM", "OS", "PI", "PA", "PS",
    "FA", "PL", "PT", "QU", "RM", "RN", "RU", "SM", "SG", "SA", "SC", "SR", "SN", "SD", "SI", "SK",
    "SL", "SO", "ST", "NR", "ES", "SU", "SW", "SS", "SV", "TL", "TY", "TG", "TA", "TT", "TE", "TH",
    "BO", "TI", "TO", "TS", "TN", "TR", "TK", "TW", "UG", "UK", "UR", "UZ", "VE", "VI", "VO", "WA",
    "CY", "FY", "WO", "XH", "YI", "YO", "ZA", "ZU",
})
# fmt: on
END_DATE_FIELDS = (
    "end_date_account_restriction",
    "end_date_monetary_restriction",
    "end_date_service_restriction",
    "end_date_visibility_restriction",
)

# --- from our vocabulary to theirs --------------------------------------------------------------

A = DecisionAction
VISIBILITY_OF_ACTION: dict[str, str] = {
    A.CONTENT_REMOVED: "DECISION_VISIBILITY_CONTENT_REMOVED",
    A.CONTENT_DISABLED: "DECISION_VISIBILITY_CONTENT_DISABLED",
    A.CONTENT_DEMOTED: "DECISION_VISIBILITY_CONTENT_DEMOTED",
    A.CONTENT_AGE_RESTRICTED: "DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED",
    A.CONTENT_LABELLED: "DECISION_VISIBILITY_CONTENT_LABELLED",
    A.INTERACTION_RESTRICTED: "DECISION_VISIBILITY_CONTENT_INTERACTION_RESTRICTED",
}
# Visibility restrictions that last for a time, so the decision's end date is theirs.
TEMPORARY_VISIBILITY = frozenset(
    {A.CONTENT_DISABLED, A.CONTENT_DEMOTED, A.CONTENT_AGE_RESTRICTED, A.INTERACTION_RESTRICTED}
)
# Monetisation is restricted until the decision's end date (indefinitely without one).
MONETARY_OF_ACTION: dict[str, str] = {A.MONETISATION_RESTRICTED: "DECISION_MONETARY_SUSPENSION"}
ACCOUNT_OF_ACTION: dict[str, str] = {
    A.ACCOUNT_SUSPENDED: "DECISION_ACCOUNT_SUSPENDED",
    A.ACCOUNT_TERMINATED: "DECISION_ACCOUNT_TERMINATED",
}
# A warning leaves the account as it was; "none" is no action. Neither is a restriction.
NON_RESTRICTING_ACTIONS = frozenset({A.ACCOUNT_WARNED, A.NONE})
del A

GROUND_OF: dict[str, str] = {
    DecisionGround.ILLEGAL_CONTENT: "DECISION_GROUND_ILLEGAL_CONTENT",
    DecisionGround.TERMS_OF_SERVICE: "DECISION_GROUND_INCOMPATIBLE_CONTENT",
}
AUTOMATED_DECISION_OF: dict[str, str] = {
    AutomatedDecision.FULLY: "AUTOMATED_DECISION_FULLY",
    AutomatedDecision.PARTIALLY: "AUTOMATED_DECISION_PARTIALLY",
    AutomatedDecision.NOT_AUTOMATED: "AUTOMATED_DECISION_NOT_AUTOMATED",
}
SOURCE_TYPE_OF_CHANNEL: dict[str, str] = {
    Channel.WEB_FORM: "SOURCE_ARTICLE_16",
    Channel.IN_APP: "SOURCE_ARTICLE_16",
    Channel.API: "SOURCE_ARTICLE_16",
    Channel.EMAIL: "SOURCE_TYPE_OTHER_NOTIFICATION",
    Channel.PHONE: "SOURCE_TYPE_OTHER_NOTIFICATION",
    Channel.SOCIAL_MEDIA: "SOURCE_TYPE_OTHER_NOTIFICATION",
    Channel.REGULATOR_REFERRAL: "SOURCE_TYPE_OTHER_NOTIFICATION",
}
CONTENT_TYPE_OTHER_ACCOUNT = "Account"
CONTENT_TYPE_OTHER_UNRECORDED = "Reported item; its type is not recorded"


def puid_for(decision_id: int, *, origin: str) -> str:
    """Return the stable platform id of a decision: the deployment's origin and the decision id."""
    prefix = re.sub(r"[^A-Za-z0-9_-]+", "-", origin).strip("-") or "ombud"
    return f"{prefix}-decision-{decision_id}"


def statement_from_decision(decision: Decision, *, origin: str) -> Statement | None:
    """Map a decision to its statement of reasons; None when it restricts nothing in the EU/EEA.

    Reads the decision, its complaint and category and its policy clause; nothing personal.
    """
    actions = list(decision.actions)
    visibility = [VISIBILITY_OF_ACTION[a] for a in VISIBILITY_OF_ACTION if a in actions]
    monetary = next((MONETARY_OF_ACTION[a] for a in MONETARY_OF_ACTION if a in actions), None)
    # Terminating an account outranks suspending it, should a decision name both.
    account = next(
        (ACCOUNT_OF_ACTION[a] for a in reversed(ACCOUNT_OF_ACTION) if a in actions), None
    )
    if not (visibility or monetary or account):
        return None
    scope = list(decision.territorial_scope or [])
    eu_scope = [code for code in EUROPEAN_COUNTRY_CODES if code in scope]
    if scope and not eu_scope:
        return None
    complaint = decision.complaint
    end = decision.restriction_end.isoformat() if decision.restriction_end else None

    s: Statement = {}
    if visibility:
        s["decision_visibility"] = visibility
        temporary = any(a in TEMPORARY_VISIBILITY for a in actions)
        s["end_date_visibility_restriction"] = end if temporary else None
    if monetary:
        s["decision_monetary"] = monetary
        s["end_date_monetary_restriction"] = end
    if account:
        s["decision_account"] = account
        suspended = account == "DECISION_ACCOUNT_SUSPENDED"
        s["end_date_account_restriction"] = end if suspended else None
        if complaint.affected_subject_id is not None:
            # The reported account's holder is a person (Complaint.affected_subject).
            s["account_type"] = "ACCOUNT_TYPE_PRIVATE"
    s["decision_ground"] = GROUND_OF[decision.ground]
    if decision.ground == DecisionGround.ILLEGAL_CONTENT:
        s["illegal_content_legal_ground"] = decision.ground_reference
        s["illegal_content_explanation"] = decision.reasons
    else:
        clause = decision.policy_clause
        s["incompatible_content_ground"] = (
            f"{clause.code} (version {clause.version}): {clause.title}"
        )
        s["incompatible_content_explanation"] = decision.reasons
    s["content_type"] = ["CONTENT_TYPE_OTHER"]
    s["content_type_other"] = (
        CONTENT_TYPE_OTHER_ACCOUNT if account and not visibility else CONTENT_TYPE_OTHER_UNRECORDED
    )
    s["category"] = complaint.category.dsa_category
    if eu_scope:
        s["territorial_scope"] = eu_scope
    s["content_date"] = business_date(complaint.received_at).isoformat()
    s["application_date"] = business_date(decision.decided_at).isoformat()
    s["decision_facts"] = _facts(decision, origin=origin)
    s["source_type"] = SOURCE_TYPE_OF_CHANNEL[complaint.channel]
    s["automated_detection"] = "Yes" if decision.automated_detection else "No"
    s["automated_decision"] = AUTOMATED_DECISION_OF[decision.automated_decision]
    s["puid"] = puid_for(decision.pk, origin=origin)
    return s


def _facts(decision: Decision, *, origin: str) -> str:
    if decision.supersedes_id is None:
        return decision.facts
    earlier = puid_for(decision.supersedes_id, origin=origin)
    if decision.kind == DecisionKind.APPEAL:
        note = (
            f"This decision decides an appeal against decision {earlier} "
            f"(original decision {decision.appeal_outcome}) and replaces it."
        )
    else:
        note = f"This decision corrects decision {earlier} and replaces it."
    return f"{decision.facts}\n\n{note}"


def identifiers_of(decision: Decision) -> list[str]:
    """Return the names and pseudonyms a statement about `decision` must never contain.

    Only what is stored in clear: the decider's username, name and ledger pseudonym, and the
    pseudonyms of the complaint's data subjects. Encrypted personal data is never read here.
    """
    from privacy.pseudonyms import actor_ref

    decider = decision.decided_by
    complaint = decision.complaint
    found = [decider.get_username(), decider.get_full_name(), actor_ref(decider)]
    found.append(complaint.complainant.pseudonym)
    if complaint.affected_subject is not None:
        found.append(complaint.affected_subject.pseudonym)
    return [text for text in found if text and text.strip()]


# --- the rules -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Violation:
    """One rule of the reference that a statement breaks, and what to do about it."""

    rule: str
    message: str


Check = Callable[[Mapping[str, Any]], list[str]]
RULES: dict[str, Check] = {}


def _rule(name: str) -> Callable[[Check], Check]:
    def register(check: Check) -> Check:
        RULES[name] = check
        return check

    return register


def _has(s: Mapping[str, Any], name: str) -> bool:
    return s.get(name) is not None


def _one_of(
    s: Mapping[str, Any], name: str, allowed: Sequence[str], *, required: bool
) -> list[str]:
    value = s.get(name)
    if value is None:
        return [_("Give %s; the reference requires it.") % name] if required else []
    if value not in allowed:
        return [
            _("%(f)s is %(v)r; use one of: %(a)s.")
            % {"f": name, "v": value, "a": ", ".join(allowed)}
        ]
    return []


def _list_of(
    s: Mapping[str, Any], name: str, allowed: Sequence[str], *, required: bool
) -> list[str]:
    value = s.get(name)
    if value is None:
        return [_("Give %s; the reference requires it.") % name] if required else []
    if not isinstance(value, list) or (required and not value):
        return [_("Give %s as a non-empty list.") % name]
    bad = [item for item in value if item not in allowed]
    if bad:
        return [
            _("%(f)s holds %(bad)s; use only: %(a)s.")
            % {"f": name, "bad": ", ".join(map(repr, bad)), "a": ", ".join(allowed)}
        ]
    return []


def _text(s: Mapping[str, Any], name: str, limit: int, *, required: bool) -> list[str]:
    value = s.get(name)
    if value is None:
        return [_("Give %s; the reference requires it here.") % name] if required else []
    if not isinstance(value, str) or (required and not value.strip()):
        return [_("Give %s as non-empty text.") % name]
    if len(value) > limit:
        return [
            _(
                "%(f)s is %(n)d characters; the database accepts at most %(limit)d. Record a "
                "correction of the decision whose text fits, then export again."
            )
            % {"f": name, "n": len(value), "limit": limit}
        ]
    return []


def _absent(s: Mapping[str, Any], name: str, when: str) -> list[str]:
    if _has(s, name):
        return [_("Leave %(f)s out %(when)s.") % {"f": name, "when": when}]
    return []


def _day(
    s: Mapping[str, Any], name: str, low: date | None, high: date, *, required: bool
) -> list[str]:
    value = s.get(name)
    if value is None:
        return [_("Give %s as YYYY-MM-DD.") % name] if required else []
    parsed = None
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            parsed = date.fromisoformat(value)
        except ValueError:
            parsed = None
    if parsed is None:
        return [_("Give %(f)s as a real date, YYYY-MM-DD (not %(v)r).") % {"f": name, "v": value}]
    if (low is not None and parsed < low) or parsed > high:
        bounds = f"{low.isoformat()} to {high.isoformat()}" if low else f"up to {high.isoformat()}"
        return [
            _("%(f)s is %(v)s; the database accepts %(bounds)s. Check the decision's dates.")
            % {"f": name, "v": value, "bounds": bounds}
        ]
    return []


LIMIT_DAY = date(2038, 1, 1)


@_rule("decision_visibility")
def check_decision_visibility(s: Mapping[str, Any]) -> list[str]:
    """An array of DECISION_VISIBILITIES; at least one of the four restrictions is present."""
    problems = _list_of(s, "decision_visibility", DECISION_VISIBILITIES, required=False)
    restrictions = (
        "decision_visibility",
        "decision_monetary",
        "decision_provision",
        "decision_account",
    )
    if not any(s.get(name) for name in restrictions):
        problems.append(
            _(
                "Give at least one of decision_visibility, decision_monetary, decision_provision "
                "or decision_account; a decision that restricts nothing needs no statement."
            )
        )
    return problems


@_rule("decision_visibility_other")
def check_decision_visibility_other(s: Mapping[str, Any]) -> list[str]:
    """Required (max 500) with DECISION_VISIBILITY_OTHER, absent otherwise."""
    visibility = s.get("decision_visibility")
    if isinstance(visibility, list) and "DECISION_VISIBILITY_OTHER" in visibility:
        return _text(s, "decision_visibility_other", 500, required=True)
    return _absent(s, "decision_visibility_other", _("unless decision_visibility holds OTHER"))


@_rule("decision_monetary")
def check_decision_monetary(s: Mapping[str, Any]) -> list[str]:
    """One of DECISION_MONETARIES or null; its `_other` (max 500) required with OTHER only."""
    problems = _one_of(s, "decision_monetary", DECISION_MONETARIES, required=False)
    if s.get("decision_monetary") == "DECISION_MONETARY_OTHER":
        problems += _text(s, "decision_monetary_other", 500, required=True)
    else:
        problems += _absent(s, "decision_monetary_other", _("unless decision_monetary is OTHER"))
    return problems


@_rule("decision_provision")
def check_decision_provision(s: Mapping[str, Any]) -> list[str]:
    """One of DECISION_PROVISIONS or null."""
    return _one_of(s, "decision_provision", DECISION_PROVISIONS, required=False)


@_rule("decision_account")
def check_decision_account(s: Mapping[str, Any]) -> list[str]:
    """One of DECISION_ACCOUNTS or null."""
    return _one_of(s, "decision_account", DECISION_ACCOUNTS, required=False)


@_rule("account_type")
def check_account_type(s: Mapping[str, Any]) -> list[str]:
    """One of ACCOUNT_TYPES or null."""
    return _one_of(s, "account_type", ACCOUNT_TYPES, required=False)


@_rule("decision_ground")
def check_decision_ground(s: Mapping[str, Any]) -> list[str]:
    """Required, one of DECISION_GROUNDS."""
    return _one_of(s, "decision_ground", DECISION_GROUNDS, required=True)


_URL = URLValidator(schemes=["http", "https"])


@_rule("decision_ground_reference_url")
def check_decision_ground_reference_url(s: Mapping[str, Any]) -> list[str]:
    """A URL, max 500, nullable."""
    value = s.get("decision_ground_reference_url")
    if value is None:
        return []
    problems = _text(s, "decision_ground_reference_url", 500, required=True)
    if not problems:
        try:
            _URL(value)
        except ValidationError:
            problems.append(
                _("decision_ground_reference_url must be an http(s) URL; fix it or leave it out.")
            )
    return problems


@_rule("illegal_content")
def check_illegal_content(s: Mapping[str, Any]) -> list[str]:
    """illegal_content_legal_ground (max 500) and _explanation (max 2000) with that ground only."""
    names = ("illegal_content_legal_ground", "illegal_content_explanation")
    if s.get("decision_ground") == "DECISION_GROUND_ILLEGAL_CONTENT":
        return _text(s, names[0], 500, required=True) + _text(s, names[1], 2000, required=True)
    when = _("unless the ground is DECISION_GROUND_ILLEGAL_CONTENT")
    return _absent(s, names[0], when) + _absent(s, names[1], when)


@_rule("incompatible_content")
def check_incompatible_content(s: Mapping[str, Any]) -> list[str]:
    """incompatible_content_ground (max 500) and _explanation (max 2000) with that ground only."""
    names = ("incompatible_content_ground", "incompatible_content_explanation")
    if s.get("decision_ground") == "DECISION_GROUND_INCOMPATIBLE_CONTENT":
        return _text(s, names[0], 500, required=True) + _text(s, names[1], 2000, required=True)
    when = _("unless the ground is DECISION_GROUND_INCOMPATIBLE_CONTENT")
    return _absent(s, names[0], when) + _absent(s, names[1], when)


@_rule("incompatible_content_illegal")
def check_incompatible_content_illegal(s: Mapping[str, Any]) -> list[str]:
    """Yes or No, only with the incompatible-content ground."""
    if not _has(s, "incompatible_content_illegal"):
        return []
    if s.get("decision_ground") != "DECISION_GROUND_INCOMPATIBLE_CONTENT":
        return _absent(
            s,
            "incompatible_content_illegal",
            _("unless the ground is DECISION_GROUND_INCOMPATIBLE_CONTENT"),
        )
    return _one_of(s, "incompatible_content_illegal", YES_NO, required=True)


@_rule("content_type")
def check_content_type(s: Mapping[str, Any]) -> list[str]:
    """A non-empty array of CONTENT_TYPES; content_type_other (max 500) with OTHER only."""
    problems = _list_of(s, "content_type", CONTENT_TYPES, required=True)
    types = s.get("content_type")
    if isinstance(types, list) and "CONTENT_TYPE_OTHER" in types:
        problems += _text(s, "content_type_other", 500, required=True)
    else:
        problems += _absent(s, "content_type_other", _("unless content_type holds OTHER"))
    return problems


@_rule("category")
def check_category(s: Mapping[str, Any]) -> list[str]:
    """Required, one of STATEMENT_CATEGORIES; category_addition an optional array of them."""
    return _one_of(s, "category", STATEMENT_CATEGORIES, required=True) + _list_of(
        s, "category_addition", STATEMENT_CATEGORIES, required=False
    )


@_rule("category_specification")
def check_category_specification(s: Mapping[str, Any]) -> list[str]:
    """An optional array of KEYWORDS; category_specification_other max 500."""
    return _list_of(s, "category_specification", KEYWORDS, required=False) + _text(
        s, "category_specification_other", 500, required=False
    )


@_rule("territorial_scope")
def check_territorial_scope(s: Mapping[str, Any]) -> list[str]:
    """An array of EU/EEA country codes, or null."""
    return _list_of(s, "territorial_scope", EUROPEAN_COUNTRY_CODES, required=False)


@_rule("content_language")
def check_content_language(s: Mapping[str, Any]) -> list[str]:
    """An upper-case ISO 639-1 code, or null."""
    value = s.get("content_language")
    if value is None or value in ALL_LANGUAGES:
        return []
    return [
        _("content_language is %r; give an upper-case ISO 639-1 code such as EN or ZH, or none.")
        % (value,)
    ]


@_rule("content_date")
def check_content_date(s: Mapping[str, Any]) -> list[str]:
    """Required, YYYY-MM-DD, 2000-01-01 to 2038-01-01."""
    return _day(s, "content_date", date(2000, 1, 1), LIMIT_DAY, required=True)


@_rule("application_date")
def check_application_date(s: Mapping[str, Any]) -> list[str]:
    """Required, YYYY-MM-DD, 2020-01-01 to 2038-01-01."""
    return _day(s, "application_date", date(2020, 1, 1), LIMIT_DAY, required=True)


@_rule("end_dates")
def check_end_dates(s: Mapping[str, Any]) -> list[str]:
    """Each end_date_*_restriction is YYYY-MM-DD up to 2038-01-01, or null (indefinite)."""
    problems: list[str] = []
    for name in END_DATE_FIELDS:
        problems += _day(s, name, None, LIMIT_DAY, required=False)
    return problems


@_rule("decision_facts")
def check_decision_facts(s: Mapping[str, Any]) -> list[str]:
    """Required, max 5000."""
    return _text(s, "decision_facts", 5000, required=True)


@_rule("source_type")
def check_source_type(s: Mapping[str, Any]) -> list[str]:
    """Required, one of SOURCE_TYPES; source_identity (max 500) left out for SOURCE_VOLUNTARY."""
    problems = _one_of(s, "source_type", SOURCE_TYPES, required=True)
    if s.get("source_type") == "SOURCE_VOLUNTARY":
        problems += _absent(s, "source_identity", _("for a decision taken on our own initiative"))
    else:
        problems += _text(s, "source_identity", 500, required=False)
    return problems


@_rule("automated_detection")
def check_automated_detection(s: Mapping[str, Any]) -> list[str]:
    """Required, Yes or No."""
    return _one_of(s, "automated_detection", YES_NO, required=True)


@_rule("automated_decision")
def check_automated_decision(s: Mapping[str, Any]) -> list[str]:
    """Required, one of AUTOMATED_DECISIONS."""
    return _one_of(s, "automated_decision", AUTOMATED_DECISIONS, required=True)


@_rule("puid")
def check_puid(s: Mapping[str, Any]) -> list[str]:
    """Required, max 500, only [a-zA-Z0-9-_] (never reused: see `check_puids_unique`)."""
    value = s.get("puid")
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,500}", value):
        return [
            _(
                "puid must be 1 to 500 letters, digits, '-' or '_' (got %r); set OMBUD_ORIGIN "
                "to a short name such as ombud-example."
            )
            % (value,)
        ]
    return []


@_rule("content_id_ean")
def check_content_id_ean(s: Mapping[str, Any]) -> list[str]:
    """13 digits, nullable."""
    value = s.get("content_id_ean")
    if value is None or (isinstance(value, str) and re.fullmatch(r"\d{13}", value)):
        return []
    return [_("content_id_ean must be 13 digits (an EAN-13); fix it or leave it out.")]


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_HANDLE = re.compile(r"(?<![\w.@])@[A-Za-z0-9_][A-Za-z0-9_.]+")
_PHONE = re.compile(r"(?<![\w+])\+\d[\d ()-]{6,}\d|(?<!\d)1[3-9]\d{9}(?!\d)")


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def check_no_personal_data(s: Mapping[str, Any], identifiers: Sequence[str] = ()) -> list[str]:
    """No field carries personal data: no e-mail address, phone number or account handle, and
    none of the `identifiers` (names and pseudonyms of the people behind the decision)."""
    problems: list[str] = []
    known = [
        re.compile(rf"(?<!\w){re.escape(text.strip())}(?!\w)", re.IGNORECASE)
        for text in identifiers
        if len(text.strip()) >= 3
    ]
    for name, value in s.items():
        for text in _strings(value):
            kinds = [
                label
                for label, pattern in (
                    (_("an e-mail address"), _EMAIL),
                    (_("a phone number"), _PHONE),
                    (_("an account handle"), _HANDLE),
                )
                if pattern.search(text)
            ]
            if any(pattern.search(text) for pattern in known):
                kinds.append(_("the name or pseudonym of a person involved"))
            if kinds:
                problems.append(
                    _(
                        "%(f)s contains %(what)s. Statements are published without personal "
                        "data: record a correction whose facts and reasons name no one."
                    )
                    % {"f": name, "what": ", ".join(str(k) for k in kinds)}
                )
    return problems


RULE_NAMES: tuple[str, ...] = (*RULES, "no_personal_data")


def validate(statement: Mapping[str, Any], *, identifiers: Sequence[str] = ()) -> list[Violation]:
    """Return every rule of the reference that `statement` breaks (none: it may be filed)."""
    found = [
        Violation(name, message) for name, check in RULES.items() for message in check(statement)
    ]
    found += [
        Violation("no_personal_data", message)
        for message in check_no_personal_data(statement, identifiers)
    ]
    return found


def check_puids_unique(statements: Sequence[Mapping[str, Any]]) -> dict[int, list[Violation]]:
    """Return, by position, the statements that reuse a puid an earlier one already has."""
    seen: set[Any] = set()
    reused: dict[int, list[Violation]] = {}
    for index, statement in enumerate(statements):
        puid = statement.get("puid")
        if puid in seen:
            reused[index] = [
                Violation(
                    "puid",
                    _("puid %s is already used by another statement; a puid is never reused.")
                    % puid,
                )
            ]
        seen.add(puid)
    return reused


# --- one export -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    """A decision whose statement breaks rules of the reference, and so was not exported."""

    decision_id: int
    puid: str
    violations: list[Violation]


@dataclass
class StatementExport:
    """The statements that pass every rule, the decisions that failed, and those skipped."""

    statements: list[Statement] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    not_restrictive: int = 0


def build_export(decisions: Iterable[Decision], *, origin: str) -> StatementExport:
    """Map each decision, keep the statements that pass every rule, and report the rest."""
    result = StatementExport()
    candidates: list[tuple[Decision, Statement, list[Violation]]] = []
    for decision in decisions:
        statement = statement_from_decision(decision, origin=origin)
        if statement is None:
            result.not_restrictive += 1
            continue
        violations = validate(statement, identifiers=identifiers_of(decision))
        candidates.append((decision, statement, violations))
    reused = check_puids_unique([statement for _d, statement, _v in candidates])
    for index, (decision, statement, violations) in enumerate(candidates):
        violations = violations + reused.get(index, [])
        if violations:
            result.failures.append(Failure(decision.pk, str(statement.get("puid")), violations))
        else:
            result.statements.append(statement)
    return result
