"""DSA statements of reasons: every rule of the reference, the mapping from our decisions, the
export's choice of decisions, the export_statements command and the API."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from audits import statements
from audits.selectors import build_statement_export
from audits.statements import RULE_NAMES, statement_from_decision, validate
from governance import services
from governance.choices import (
    TEMPORARY_ACTIONS,
    AutomatedDecision,
    Channel,
    ComplaintStatus,
    DecisionAction,
    DecisionGround,
    DecisionKind,
    DecisionOutcome,
    Role,
)
from governance.models import Category, Complaint, Decision, PolicyClause
from tests import factories

S = ComplaintStatus
DROP = object()  # a field left out of the statement

# --- statements that pass every rule ---------------------------------------------------------


def _statement(**changes: Any) -> dict[str, Any]:
    """A statement on the incompatible-content ground that passes every rule, then `changes`."""
    s: dict[str, Any] = {
        "decision_visibility": ["DECISION_VISIBILITY_CONTENT_REMOVED"],
        "end_date_visibility_restriction": None,
        "decision_ground": "DECISION_GROUND_INCOMPATIBLE_CONTENT",
        "incompatible_content_ground": "TOS-3.1 (version 1): No harassment",
        "incompatible_content_explanation": "Insults break clause TOS-3.1; removed.",
        "content_type": ["CONTENT_TYPE_OTHER"],
        "content_type_other": "Reported item; its type is not recorded",
        "category": "STATEMENT_CATEGORY_CYBER_VIOLENCE",
        "territorial_scope": ["DE", "FR"],
        "content_date": "2025-03-01",
        "application_date": "2025-03-04",
        "decision_facts": "The comments insult another user repeatedly.",
        "source_type": "SOURCE_ARTICLE_16",
        "automated_detection": "No",
        "automated_decision": "AUTOMATED_DECISION_NOT_AUTOMATED",
        "puid": "ombud-local-decision-7",
    }
    return _apply(s, changes)


def _illegal(**changes: Any) -> dict[str, Any]:
    """A statement on the illegal-content ground that passes every rule, then `changes`."""
    s = _statement(
        decision_ground="DECISION_GROUND_ILLEGAL_CONTENT",
        incompatible_content_ground=DROP,
        incompatible_content_explanation=DROP,
        illegal_content_legal_ground="StGB § 185",
        illegal_content_explanation="An insult is a criminal offence under § 185 StGB.",
    )
    return _apply(s, changes)


def _apply(s: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    for name, value in changes.items():
        if value is DROP:
            s.pop(name, None)
        else:
            s[name] = value
    return s


def test_the_base_statements_pass_every_rule():
    assert validate(_statement()) == []
    assert validate(_illegal()) == []


# --- one test per rule: a statement breaking exactly that rule is reported by its name ---------

LONG = "x" * 501
CASES: list[tuple[str, str, dict[str, Any]]] = [
    # (rule, what is wrong, the change)
    ("decision_visibility", "unknown value", {"decision_visibility": ["DECISION_VISIBILITY_GONE"]}),
    ("decision_visibility", "not a list", {"decision_visibility": "DECISION_VISIBILITY_OTHER"}),
    ("decision_visibility", "no restriction at all", {"decision_visibility": DROP}),
    (
        "decision_visibility_other",
        "OTHER without its text",
        {"decision_visibility": ["DECISION_VISIBILITY_OTHER"]},
    ),
    (
        "decision_visibility_other",
        "text without OTHER",
        {"decision_visibility_other": "Hidden from search"},
    ),
    (
        "decision_visibility_other",
        "text too long",
        {"decision_visibility": ["DECISION_VISIBILITY_OTHER"], "decision_visibility_other": LONG},
    ),
    ("decision_monetary", "unknown value", {"decision_monetary": "DECISION_MONETARY_FINE"}),
    (
        "decision_monetary",
        "OTHER without its text",
        {"decision_monetary": "DECISION_MONETARY_OTHER"},
    ),
    ("decision_monetary", "text without OTHER", {"decision_monetary_other": "Ads capped"}),
    ("decision_provision", "unknown value", {"decision_provision": "DECISION_PROVISION_SOME"}),
    ("decision_account", "unknown value", {"decision_account": "DECISION_ACCOUNT_WARNED"}),
    ("account_type", "unknown value", {"account_type": "ACCOUNT_TYPE_GOVERNMENT"}),
    (
        "decision_ground",
        "missing",
        {
            "decision_ground": DROP,
            "incompatible_content_ground": DROP,
            "incompatible_content_explanation": DROP,
        },
    ),
    (
        "decision_ground",
        "unknown value",
        {
            "decision_ground": "DECISION_GROUND_TASTE",
            "incompatible_content_ground": DROP,
            "incompatible_content_explanation": DROP,
        },
    ),
    ("decision_ground_reference_url", "not a URL", {"decision_ground_reference_url": "TOS 3.1"}),
    (
        "decision_ground_reference_url",
        "too long",
        {"decision_ground_reference_url": "https://example.com/" + "a" * 490},
    ),
    (
        "incompatible_content",
        "ground text missing",
        {"incompatible_content_ground": DROP},
    ),
    (
        "incompatible_content",
        "explanation over 2000",
        {"incompatible_content_explanation": "x" * 2001},
    ),
    ("incompatible_content", "ground text too long", {"incompatible_content_ground": LONG}),
    ("illegal_content", "with the other ground", {"illegal_content_legal_ground": "§ 185 StGB"}),
    ("incompatible_content_illegal", "not Yes or No", {"incompatible_content_illegal": "Maybe"}),
    ("content_type", "empty", {"content_type": []}),
    ("content_type", "missing", {"content_type": DROP, "content_type_other": DROP}),
    (
        "content_type",
        "unknown value",
        {"content_type": ["CONTENT_TYPE_HOLOGRAM"], "content_type_other": DROP},
    ),
    ("content_type", "OTHER without its text", {"content_type_other": DROP}),
    ("content_type", "text without OTHER", {"content_type": ["CONTENT_TYPE_TEXT"]}),
    ("category", "missing", {"category": DROP}),
    ("category", "unknown value", {"category": "STATEMENT_CATEGORY_RUDENESS"}),
    ("category", "unknown addition", {"category_addition": ["STATEMENT_CATEGORY_RUDENESS"]}),
    ("category_specification", "unknown keyword", {"category_specification": ["KEYWORD_RUDE"]}),
    ("category_specification", "other too long", {"category_specification_other": LONG}),
    ("territorial_scope", "outside the EU/EEA", {"territorial_scope": ["DE", "CN"]}),
    ("territorial_scope", "not a list", {"territorial_scope": "DE"}),
    ("content_language", "lower case", {"content_language": "en"}),
    ("content_language", "not ISO 639-1", {"content_language": "XX"}),
    ("content_date", "missing", {"content_date": DROP}),
    ("content_date", "before 2000", {"content_date": "1999-12-31"}),
    ("content_date", "not a real date", {"content_date": "2025-02-30"}),
    ("content_date", "wrong format", {"content_date": "01/03/2025"}),
    ("application_date", "missing", {"application_date": DROP}),
    ("application_date", "before 2020", {"application_date": "2019-12-31"}),
    ("application_date", "after 2038-01-01", {"application_date": "2038-01-02"}),
    ("end_dates", "after 2038-01-01", {"end_date_visibility_restriction": "2038-01-02"}),
    ("end_dates", "not a date", {"end_date_account_restriction": "soon"}),
    ("decision_facts", "missing", {"decision_facts": DROP}),
    ("decision_facts", "blank", {"decision_facts": "   "}),
    ("decision_facts", "over 5000", {"decision_facts": "x" * 5001}),
    ("source_type", "missing", {"source_type": DROP}),
    ("source_type", "unknown value", {"source_type": "SOURCE_RUMOUR"}),
    (
        "source_type",
        "identity with a voluntary decision",
        {"source_type": "SOURCE_VOLUNTARY", "source_identity": "Trust and safety team"},
    ),
    ("source_type", "identity too long", {"source_identity": LONG}),
    ("automated_detection", "missing", {"automated_detection": DROP}),
    ("automated_detection", "a boolean", {"automated_detection": True}),
    ("automated_decision", "unknown value", {"automated_decision": "AUTOMATED_DECISION_MOSTLY"}),
    ("puid", "missing", {"puid": DROP}),
    ("puid", "a forbidden character", {"puid": "ombud.local/decision 7"}),
    ("puid", "over 500", {"puid": "p" * 501}),
    ("content_id_ean", "too short", {"content_id_ean": "123456"}),
    ("content_id_ean", "not text", {"content_id_ean": 4006381333931}),
    (
        "no_personal_data",
        "an e-mail address",
        {"decision_facts": "The author, pat@example.test, posted it."},
    ),
    (
        "no_personal_data",
        "an international phone number",
        {"decision_facts": "The post lists +44 20 7946 0958 for bookings."},
    ),
    (
        "no_personal_data",
        "a mainland mobile number",
        {"incompatible_content_explanation": "It shows 13812345678 in the picture."},
    ),
    ("no_personal_data", "an account handle", {"decision_facts": "@pat_example posted insults."}),
]


@pytest.mark.parametrize(
    ("rule", "change"),
    [pytest.param(rule, change, id=f"{rule}: {what}") for rule, what, change in CASES],
)
def test_each_rule_reports_a_statement_that_breaks_it(rule, change):
    # given: a statement that breaks exactly this rule
    statement = _statement(**change)

    # when
    violations = validate(statement)

    # then: that rule, and no other, is named, with a message saying what to do
    assert {v.rule for v in violations} == {rule}, violations
    assert all(v.message.strip().endswith(".") for v in violations)


def test_illegal_content_rule_on_its_own_ground():
    for change in (
        {"illegal_content_legal_ground": DROP},
        {"illegal_content_explanation": "x" * 2001},
        {"illegal_content_legal_ground": LONG},
        {"incompatible_content_ground": "TOS-3.1"},
    ):
        broken = _illegal(**change)
        expected = "incompatible_content" if "incompatible_content_ground" in change else None
        assert {v.rule for v in validate(broken)} == {expected or "illegal_content"}, change


def test_incompatible_content_illegal_only_with_the_incompatible_ground():
    assert validate(_statement(incompatible_content_illegal="No")) == []
    broken = _illegal(incompatible_content_illegal="No")
    assert {v.rule for v in validate(broken)} == {"incompatible_content_illegal"}


def test_no_personal_data_reports_the_names_and_pseudonyms_given():
    statement = _statement(
        decision_facts="Handled after a call with jdoe about S-0A1B2C3D4E5F6A7B."
    )
    assert validate(statement) == []  # a username is only known as one when named
    found = validate(statement, identifiers=["jdoe"])
    assert {v.rule for v in found} == {"no_personal_data"}
    found = validate(statement, identifiers=["S-0A1B2C3D4E5F6A7B"])
    assert {v.rule for v in found} == {"no_personal_data"}
    # whole words only: "jdoe" does not hide in "jdoesmith"
    assert validate(_statement(decision_facts="See jdoesmith's rule."), identifiers=["jdoe"]) == []


def test_a_puid_is_never_reused_within_an_export():
    reused = statements.check_puids_unique([_statement(), _illegal(), _statement(puid="other")])
    assert list(reused) == [1]
    assert [v.rule for v in reused[1]] == ["puid"]


def test_every_rule_of_the_reference_has_a_failing_case():
    assert {rule for rule, _what, _change in CASES} == set(RULE_NAMES)
    # one check per row of the reference's rules table, plus its personal-data sentence
    assert len(RULE_NAMES) == 26


# --- the mapping ---------------------------------------------------------------------------------


def _decision(**values: Any) -> Decision:
    """An unsaved decision on an unsaved complaint: the mapping reads no database."""
    complaint_values = {
        "channel": values.pop("channel", Channel.WEB_FORM),
        "category": values.pop("category", Category(code="harassment", dsa_category=_cyber())),
        "received_at": values.pop("received_at", datetime(2025, 3, 1, 2, 0, tzinfo=UTC)),
        "affected_subject_id": values.pop("affected_subject_id", None),
    }
    clause = PolicyClause(code="TOS-3.1", version=2, title="No harassment")
    defaults: dict[str, Any] = {
        "pk": 7,
        "complaint": Complaint(**complaint_values),
        "kind": DecisionKind.INITIAL,
        "outcome": DecisionOutcome.UPHELD,
        "actions": [DecisionAction.CONTENT_REMOVED],
        "ground": DecisionGround.TERMS_OF_SERVICE,
        "ground_reference": "",
        "policy_clause": clause,
        "facts": "The comments insult another user.",
        "reasons": "Insults break clause TOS-3.1.",
        "automated_detection": False,
        "automated_decision": AutomatedDecision.NOT_AUTOMATED,
        "territorial_scope": [],
        "restriction_end": None,
        "decided_at": datetime(2025, 3, 4, 9, 0, tzinfo=UTC),
    }
    defaults.update(values)
    return Decision(**defaults)


def _cyber() -> str:
    return "STATEMENT_CATEGORY_CYBER_VIOLENCE"


def _map(**values: Any) -> dict[str, Any] | None:
    return statement_from_decision(_decision(**values), origin="ombud.local")


END = date(2026, 6, 30)
A = DecisionAction
# Each action alone: the restriction fields it sets (None: it restricts nothing).
ACTION_MAPPING: dict[str, dict[str, Any] | None] = {
    A.CONTENT_REMOVED: {
        "decision_visibility": ["DECISION_VISIBILITY_CONTENT_REMOVED"],
        "end_date_visibility_restriction": None,
    },
    A.CONTENT_DISABLED: {
        "decision_visibility": ["DECISION_VISIBILITY_CONTENT_DISABLED"],
        "end_date_visibility_restriction": END.isoformat(),
    },
    A.CONTENT_DEMOTED: {
        "decision_visibility": ["DECISION_VISIBILITY_CONTENT_DEMOTED"],
        "end_date_visibility_restriction": END.isoformat(),
    },
    A.CONTENT_AGE_RESTRICTED: {
        "decision_visibility": ["DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED"],
        "end_date_visibility_restriction": END.isoformat(),
    },
    A.CONTENT_LABELLED: {
        "decision_visibility": ["DECISION_VISIBILITY_CONTENT_LABELLED"],
        "end_date_visibility_restriction": None,
    },
    A.INTERACTION_RESTRICTED: {
        "decision_visibility": ["DECISION_VISIBILITY_CONTENT_INTERACTION_RESTRICTED"],
        "end_date_visibility_restriction": END.isoformat(),
    },
    A.ACCOUNT_WARNED: None,
    A.ACCOUNT_SUSPENDED: {
        "decision_account": "DECISION_ACCOUNT_SUSPENDED",
        "end_date_account_restriction": END.isoformat(),
    },
    A.ACCOUNT_TERMINATED: {
        "decision_account": "DECISION_ACCOUNT_TERMINATED",
        "end_date_account_restriction": None,
    },
    A.MONETISATION_RESTRICTED: {
        "decision_monetary": "DECISION_MONETARY_SUSPENSION",
        "end_date_monetary_restriction": END.isoformat(),
    },
    A.NONE: None,
}
RESTRICTION_FIELDS = {
    "decision_visibility",
    "decision_monetary",
    "decision_provision",
    "decision_account",
    *statements.END_DATE_FIELDS,
}


@pytest.mark.parametrize("action", DecisionAction.values)
def test_each_action_maps_to_its_restriction(action):
    # given: a decision taking this action alone (with an end date where it may have one)
    expected = ACTION_MAPPING[action]
    end = END if action in TEMPORARY_ACTIONS else None

    # when
    statement = _map(actions=[action], restriction_end=end)

    # then
    if expected is None:
        assert statement is None
        return
    assert statement is not None
    assert {k: v for k, v in statement.items() if k in RESTRICTION_FIELDS} == expected
    assert validate(statement) == []


def test_every_action_is_either_mapped_or_named_as_restricting_nothing():
    mapped = {
        *statements.VISIBILITY_OF_ACTION,
        *statements.MONETARY_OF_ACTION,
        *statements.ACCOUNT_OF_ACTION,
    }
    assert mapped | statements.NON_RESTRICTING_ACTIONS == set(DecisionAction.values)
    assert not mapped & statements.NON_RESTRICTING_ACTIONS


def test_several_actions_combine_and_a_warning_adds_nothing():
    statement = _map(
        actions=[A.CONTENT_DEMOTED, A.CONTENT_LABELLED, A.ACCOUNT_WARNED, A.ACCOUNT_SUSPENDED],
        restriction_end=END,
    )
    assert statement is not None
    assert statement["decision_visibility"] == [
        "DECISION_VISIBILITY_CONTENT_DEMOTED",
        "DECISION_VISIBILITY_CONTENT_LABELLED",
    ]
    assert statement["decision_account"] == "DECISION_ACCOUNT_SUSPENDED"
    assert statement["content_type_other"] == statements.CONTENT_TYPE_OTHER_UNRECORDED
    assert validate(statement) == []


def test_an_account_only_decision_is_about_an_account_of_a_private_person_if_one_is_affected():
    statement = _map(actions=[A.ACCOUNT_TERMINATED], affected_subject_id=3)
    assert statement is not None
    assert statement["content_type"] == ["CONTENT_TYPE_OTHER"]
    assert statement["content_type_other"] == statements.CONTENT_TYPE_OTHER_ACCOUNT
    assert statement["account_type"] == "ACCOUNT_TYPE_PRIVATE"
    assert "account_type" not in (_map(actions=[A.ACCOUNT_TERMINATED]) or {})
    assert validate(statement) == []


def test_the_illegal_content_ground_carries_the_legal_provision_and_the_reasons():
    statement = _map(ground=DecisionGround.ILLEGAL_CONTENT, ground_reference="StGB § 185")
    assert statement is not None
    assert statement["decision_ground"] == "DECISION_GROUND_ILLEGAL_CONTENT"
    assert statement["illegal_content_legal_ground"] == "StGB § 185"
    assert statement["illegal_content_explanation"] == "Insults break clause TOS-3.1."
    assert not {"incompatible_content_ground", "incompatible_content_explanation"} & set(statement)
    assert validate(statement) == []


def test_the_terms_of_service_ground_carries_the_clause_and_the_reasons():
    statement = _map(ground=DecisionGround.TERMS_OF_SERVICE)
    assert statement is not None
    assert statement["decision_ground"] == "DECISION_GROUND_INCOMPATIBLE_CONTENT"
    assert statement["incompatible_content_ground"] == "TOS-3.1 (version 2): No harassment"
    assert statement["incompatible_content_explanation"] == "Insults break clause TOS-3.1."
    assert statement["decision_facts"] == "The comments insult another user."
    assert not {"illegal_content_legal_ground", "illegal_content_explanation"} & set(statement)
    assert "incompatible_content_illegal" not in statement  # we do not record it


def test_every_ground_maps():
    assert set(statements.GROUND_OF) == set(DecisionGround.values)


CHANNEL_SOURCES = {
    Channel.WEB_FORM: "SOURCE_ARTICLE_16",
    Channel.IN_APP: "SOURCE_ARTICLE_16",
    Channel.API: "SOURCE_ARTICLE_16",
    Channel.EMAIL: "SOURCE_TYPE_OTHER_NOTIFICATION",
    Channel.PHONE: "SOURCE_TYPE_OTHER_NOTIFICATION",
    Channel.SOCIAL_MEDIA: "SOURCE_TYPE_OTHER_NOTIFICATION",
    Channel.REGULATOR_REFERRAL: "SOURCE_TYPE_OTHER_NOTIFICATION",
}


@pytest.mark.parametrize("channel", Channel.values)
def test_each_channel_maps_to_a_source_type_without_the_notifiers_identity(channel):
    statement = _map(channel=channel)
    assert statement is not None
    assert statement["source_type"] == CHANNEL_SOURCES[channel]
    assert "source_identity" not in statement
    assert validate(statement) == []


def test_each_of_our_categories_maps_to_its_dsa_category():
    categories = list(Category.objects.all())
    assert categories  # seeded by the migrations
    for category in categories:
        statement = _map(category=category)
        assert statement is not None
        assert statement["category"] == category.dsa_category
        assert statement["category"] in statements.STATEMENT_CATEGORIES
        assert validate(statement) == [], category.code


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        ([], DROP),  # the whole service: no scope is sent
        (["FR", "DE"], ["DE", "FR"]),
        (["CN", "DE"], ["DE"]),  # mainland China is outside the database's list
        (["IS", "LI", "NO"], ["IS", "LI", "NO"]),  # EEA
        (["CN"], None),  # restricts nothing in the EU/EEA: no statement
    ],
)
def test_territorial_scope_keeps_eu_and_eea_codes_only(scope, expected):
    statement = _map(territorial_scope=scope)
    if expected is None:
        assert statement is None
        return
    assert statement is not None
    if expected is DROP:
        assert "territorial_scope" not in statement
    else:
        assert statement["territorial_scope"] == expected
    assert validate(statement) == []


@pytest.mark.parametrize(
    ("detection", "automated", "expected"),
    [
        (True, AutomatedDecision.FULLY, ("Yes", "AUTOMATED_DECISION_FULLY")),
        (True, AutomatedDecision.PARTIALLY, ("Yes", "AUTOMATED_DECISION_PARTIALLY")),
        (False, AutomatedDecision.NOT_AUTOMATED, ("No", "AUTOMATED_DECISION_NOT_AUTOMATED")),
    ],
)
def test_automated_flags_map(detection, automated, expected):
    statement = _map(automated_detection=detection, automated_decision=automated)
    assert statement is not None
    assert (statement["automated_detection"], statement["automated_decision"]) == expected
    assert set(statements.AUTOMATED_DECISION_OF) == set(AutomatedDecision.values)


def test_dates_are_business_days():
    # 17:30 UTC on 1 March is 01:30 on 2 March in Shanghai (the business time zone)
    statement = _map(
        received_at=datetime(2025, 3, 1, 17, 30, tzinfo=UTC),
        decided_at=datetime(2025, 3, 4, 16, 30, tzinfo=UTC),
    )
    assert statement is not None
    assert statement["content_date"] == "2025-03-02"
    assert statement["application_date"] == "2025-03-05"


def test_puid_is_stable_and_made_of_the_origin_and_the_decision_id():
    assert statements.puid_for(7, origin="ombud.example.org") == "ombud-example-org-decision-7"
    statement = _map(pk=42)
    assert statement is not None
    assert statement["puid"] == "ombud-local-decision-42"
    assert statement == _map(pk=42)  # the same decision always maps the same way


def test_a_correction_and_an_appeal_outcome_name_the_statement_they_replace():
    correction = _map(pk=9, kind=DecisionKind.CORRECTION, supersedes_id=7)
    assert correction is not None
    assert correction["puid"] == "ombud-local-decision-9"
    assert "corrects decision ombud-local-decision-7" in correction["decision_facts"]
    appeal = _map(pk=10, kind=DecisionKind.APPEAL, supersedes_id=9, appeal_outcome="modified")
    assert appeal is not None
    assert "appeal against decision ombud-local-decision-9" in appeal["decision_facts"]
    assert validate(correction) == validate(appeal) == []


# --- which decisions are exported (real records) ----------------------------------------------


def _decided(**decision: Any) -> factories.Flow:
    """A complaint decided through the services with `decision` overriding the defaults."""
    f = factories.flow_at(S.INVESTIGATING)
    f.decision = services.decision_record(
        actor=f.handler, complaint=f.refresh(), **factories.decision_kwargs(**decision)
    )
    return f


def _since() -> date:
    """A day before every decision of the test, in any time zone."""
    return timezone.localdate() - timedelta(days=1)


def test_decisions_that_restrict_nothing_produce_no_statement():
    _decided(outcome=DecisionOutcome.REJECTED, actions=[])
    _decided(outcome=DecisionOutcome.UPHELD, actions=[A.ACCOUNT_WARNED])
    _decided(outcome=DecisionOutcome.UPHELD, actions=[A.CONTENT_REMOVED], territorial_scope=["CN"])
    restricting = _decided(actions=[A.CONTENT_REMOVED])

    export = build_statement_export(since=_since())

    assert [s["puid"] for s in export.statements] == [_puid(restricting.decision)]
    assert export.failures == []
    # the rejected decision is not even looked at; the warning and the China-only one are
    assert export.not_restrictive == 2


def _puid(decision: Any) -> str:
    return statements.puid_for(decision.pk, origin=settings.OMBUD_ORIGIN)


def test_only_the_decision_in_force_is_exported():
    # given: a decision corrected by a lead, and another reversed on appeal
    corrected = _decided(actions=[A.CONTENT_REMOVED])
    correction = services.decision_record(
        actor=corrected.lead,
        complaint=corrected.refresh(),
        supersedes=corrected.decision,
        **factories.decision_kwargs(
            actions=[A.CONTENT_DISABLED], restriction_end=factories.future()
        ),
    )
    reversed_ = _decided(actions=[A.CONTENT_REMOVED])
    reversed_.step(S.APPEALED)
    services.appeal_decide(
        actor=reversed_.lead,
        appeal=reversed_.refresh().appeals.get(),
        outcome="reversed",
        decision_outcome=DecisionOutcome.REJECTED,
        actions=[],
        facts="A second look at the comments.",
        reasons="The comments are criticism, not insults.",
    )

    # when
    export = build_statement_export(since=_since())

    # then: the correction replaces the corrected decision; the reversal restricts nothing
    assert [s["puid"] for s in export.statements] == [_puid(correction)]
    assert export.statements[0]["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_DISABLED"]
    assert _puid(corrected.decision) in export.statements[0]["decision_facts"]
    assert export.failures == []


def test_only_decisions_since_the_day_are_exported():
    _decided()
    assert len(build_statement_export(since=_since()).statements) == 1
    assert build_statement_export(since=timezone.localdate() + timedelta(days=2)).statements == []


def test_a_statement_naming_its_decider_fails_and_is_not_exported():
    # given: facts that name the handler who decided
    f = factories.flow_at(S.INVESTIGATING)
    services.decision_record(
        actor=f.handler,
        complaint=f.refresh(),
        **factories.decision_kwargs(facts=f"Checked by {f.handler.username} on the phone."),
    )

    # when
    export = build_statement_export(since=_since())

    # then
    assert export.statements == []
    [failure] = export.failures
    assert [v.rule for v in failure.violations] == ["no_personal_data"]


def test_no_statement_holds_the_names_or_pseudonyms_of_the_people_involved():
    f = _decided(
        actions=[A.CONTENT_REMOVED, A.ACCOUNT_SUSPENDED], restriction_end=factories.future()
    )
    [statement] = build_statement_export(since=_since()).statements
    text = json.dumps(statement)
    complaint = f.refresh()
    for known in (
        f.handler.username,
        f.complainant.username,
        complaint.complainant.pseudonym,
        complaint.reference,
        f.handler.email,
    ):
        assert known not in text


# --- the command ----------------------------------------------------------------------------------


def test_export_statements_writes_the_valid_statements_and_fails_on_the_others(tmp_path, capsys):
    # given: two restrictive decisions, one whose reasons are too long for the database
    good = _decided(actions=[A.CONTENT_REMOVED])
    bad = _decided(actions=[A.CONTENT_REMOVED], reasons="Insults. " * 250)
    out = tmp_path / "statements.jsonl"

    # when
    with pytest.raises(CommandError, match="1 statements break the reference's rules"):
        call_command("export_statements", "--since", _since().isoformat(), "--out", str(out))

    # then: the valid one is written, the other listed with its decision and rule
    lines = out.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["puid"] for line in lines] == [_puid(good.decision)]
    assert validate(json.loads(lines[0])) == []
    captured = capsys.readouterr()
    assert "1 written" in captured.out
    assert "1 failed the rules" in captured.out
    assert f"decision {bad.decision.pk} ({_puid(bad.decision)}): incompatible_content" in (
        captured.err
    )


def test_export_statements_exits_cleanly_when_every_statement_passes(tmp_path, capsys):
    first = _decided(actions=[A.CONTENT_REMOVED])
    second = _decided(actions=[A.ACCOUNT_TERMINATED])
    _decided(outcome=DecisionOutcome.REJECTED, actions=[])
    out = tmp_path / "statements.jsonl"

    call_command("export_statements", "--since", _since().isoformat(), "--out", str(out))

    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["puid"] for r in rows] == [_puid(first.decision), _puid(second.decision)]
    assert rows == build_statement_export(since=_since()).statements
    assert "2 written" in capsys.readouterr().out
    assert not Path(f"{out}.partial").exists()


def test_export_statements_refuses_a_malformed_day(tmp_path):
    with pytest.raises(CommandError, match="give it as YYYY-MM-DD"):
        call_command("export_statements", "--since", "31/01/2025", "--out", str(tmp_path / "x"))


# --- the API --------------------------------------------------------------------------------------

URL = "/api/v1/oversight/statements/"


@pytest.mark.parametrize("role", [Role.COMPLIANCE_OFFICER, Role.SUPERVISOR])
def test_compliance_and_supervisors_read_the_statements_and_failures(as_user, role):
    good = _decided(actions=[A.CONTENT_REMOVED])
    bad = _decided(actions=[A.CONTENT_REMOVED], reasons="Insults. " * 250)
    client = as_user(factories.user_with_role(role))

    response = client.get(URL, {"since": _since().isoformat()})

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["exported"], body["failed"], body["not_restrictive"]) == (1, 1, 0)
    assert [s["puid"] for s in body["statements"]] == [_puid(good.decision)]
    [failure] = body["failures"]
    assert failure["decision"] == bad.decision.pk
    assert {v["rule"] for v in failure["violations"]} == {"incompatible_content"}


@pytest.mark.parametrize(
    "role", [Role.COMPLAINANT, Role.HANDLER, Role.DEPARTMENT_LEAD, Role.PRIVACY_OFFICER, Role.ADMIN]
)
def test_other_roles_may_not_read_statements(as_user, role):
    client = as_user(factories.user_with_role(role))
    response = client.get(URL, {"since": "2025-01-01"})
    assert response.status_code == 403
    assert response.json()["detail"]


def test_statements_need_a_sign_in(api):
    assert api.get(URL, {"since": "2025-01-01"}).status_code == 401


@pytest.mark.parametrize("since", [None, "", "31/01/2025", "2025-02-30", "yesterday"])
def test_a_bad_since_is_refused_with_a_field_message(as_user, compliance, since):
    params = {} if since is None else {"since": since}
    response = as_user(compliance).get(URL, params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    [message] = body["fields"]["since"]
    assert "YYYY-MM-DD" in message
