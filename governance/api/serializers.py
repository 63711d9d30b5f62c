"""Input and output shapes of the governance API. No writes here: views call services."""

from __future__ import annotations

from datetime import datetime, tzinfo
from functools import cached_property
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from governance import policies
from governance.choices import (
    AppealOutcome,
    AutomatedDecision,
    Channel,
    DecisionAction,
    DecisionGround,
    DecisionOutcome,
    Severity,
    Urgency,
)
from governance.models import Appeal, Category, Complaint, Decision, Department, PolicyClause
from governance.models.complaints import COMPLAINT_TIMES
from privacy import vault
from privacy.choices import AccessPurpose
from privacy.pseudonyms import actor_ref


def _purpose(user: Any, complaint: Complaint) -> AccessPurpose:
    """Say why `user` reads a complaint's personal data, for the access log."""
    if complaint.complainant.user_id == user.pk or (
        complaint.affected_subject is not None and complaint.affected_subject.user_id == user.pk
    ):
        return AccessPurpose.OWN_DATA
    if policies.can_handle_complaint(user, complaint):
        return AccessPurpose.CASE_HANDLING
    return AccessPurpose.COMPLIANCE_AUDIT


def _user(serializer: serializers.Serializer) -> Any:
    return serializer.context["request"].user


def _choice(value: Any) -> Any:
    """A choice as DRF's ChoiceField writes it: the plain value (not an enum member)."""
    return value if value in ("", None) else str(value)


def _iso_datetime(value: datetime | None, zone: tzinfo) -> str | None:
    """A time as DRF's DateTimeField writes it by default: ISO 8601 in the current time zone,
    with "Z" for UTC."""
    if value is None:
        return None
    if timezone.is_naive(value):  # as DRF: a naive time is taken to be in the current zone
        value = timezone.make_aware(value, zone)
    text = value.astimezone(zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


# --- reference data --------------------------------------------------------------------------


class DepartmentOut(serializers.ModelSerializer):
    class Meta:
        model = Department
        fields = ["code", "name", "name_zh"]


class CategoryOut(serializers.ModelSerializer):
    default_department: serializers.SlugRelatedField[Department] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )

    class Meta:
        model = Category
        fields = [
            "code",
            "name",
            "name_zh",
            "dsa_category",
            "default_department",
            "default_severity",
        ]


class PolicyClauseOut(serializers.ModelSerializer):
    class Meta:
        model = PolicyClause
        fields = [
            "id",
            "code",
            "version",
            "title",
            "text",
            "effective_from",
            "effective_to",
            "published_at",
        ]


class PolicyClauseIn(serializers.Serializer):
    code = serializers.RegexField(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=40)
    title = serializers.CharField(max_length=200)
    text = serializers.CharField()
    effective_from = serializers.DateField()
    effective_to = serializers.DateField(required=False, allow_null=True)


class PolicyClauseRef(serializers.ModelSerializer):
    class Meta:
        model = PolicyClause
        fields = ["id", "code", "version", "title"]


# --- complaints ------------------------------------------------------------------------------


class ComplaintContactOut(serializers.Serializer):
    full_name = serializers.CharField()
    email = serializers.CharField()
    phone = serializers.CharField()
    account_handle = serializers.CharField()
    ip_address = serializers.CharField()


class ComplaintOut(serializers.ModelSerializer):
    category: serializers.SlugRelatedField[Category] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )
    department: serializers.SlugRelatedField[Department] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )
    allowed_next = serializers.SerializerMethodField()
    complainant = serializers.SerializerMethodField()
    complainant_contact = serializers.SerializerMethodField()
    affected_subject = serializers.SerializerMethodField()
    description = serializers.SerializerMethodField()
    personal_data = serializers.SerializerMethodField()
    assignee = serializers.SerializerMethodField()

    class Meta:
        model = Complaint
        fields = [
            "reference",
            "status",
            "allowed_next",
            "channel",
            "category",
            "department",
            "severity",
            "urgency",
            "priority",
            "content_url",
            "content_id",
            "complainant",
            "complainant_contact",
            "affected_subject",
            "description",
            "personal_data",
            "assignee",
            *COMPLAINT_TIMES,
        ]

    def to_representation(self, instance: Complaint) -> dict[str, Any]:
        """The fields above, built directly: DRF's walk over them cost about 0.2 ms a
        complaint, and a queue page has fifty. tests/governance/test_api.py checks the result
        equals DRF's own (`super().to_representation`)."""
        representation = {
            "reference": instance.reference,
            "status": _choice(instance.status),
            "allowed_next": self.get_allowed_next(instance),
            "channel": _choice(instance.channel),
            "category": instance.category.code,
            "department": instance.department.code,
            "severity": _choice(instance.severity),
            "urgency": _choice(instance.urgency),
            "priority": _choice(instance.priority),
            "content_url": instance.content_url,
            "content_id": instance.content_id,
            "complainant": self.get_complainant(instance),
            "complainant_contact": self.get_complainant_contact(instance),
            "affected_subject": self.get_affected_subject(instance),
            "description": self.get_description(instance),
            "personal_data": self.get_personal_data(instance),
            "assignee": self.get_assignee(instance),
        }
        zone = self._zone
        for name in COMPLAINT_TIMES:
            representation[name] = _iso_datetime(getattr(instance, name), zone)
        return representation

    @cached_property
    def _zone(self) -> tzinfo:
        # Once per serializer: a list's one child serializer writes all its complaints, and
        # read the current zone (a context-local lookup) for each of them.
        return timezone.get_current_timezone()

    def get_allowed_next(self, obj: Complaint) -> list[str]:
        return obj.allowed_next()

    def get_complainant(self, obj: Complaint) -> str | None:
        # Even a pseudonym lets its reader link complaints together: only for those who may
        # see the complainant's data anyway.
        if not policies.can_see_personal_data(_user(self), obj):
            return None
        return obj.complainant.pseudonym

    def get_affected_subject(self, obj: Complaint) -> str | None:
        # Staff pass this pseudonym to a privacy officer, who links the holder's account.
        if obj.affected_subject is None or not policies.can_handle_complaint(_user(self), obj):
            return None
        return obj.affected_subject.pseudonym

    def _revealed(self, obj: Complaint) -> tuple[vault.Revealed, vault.Revealed] | None:
        """Decrypt the complainant's contact and the description once per complaint (each a
        logged read), for readers who may see them; lists show neither (see the views)."""
        user = _user(self)
        if self.context.get("listing") or not policies.can_see_personal_data(user, obj):
            return None
        cache = self.context.setdefault("_revealed", {})
        if obj.pk not in cache:
            purpose = _purpose(user, obj)
            cache[obj.pk] = (
                vault.reveal_subject(user, obj.complainant, purpose=purpose, complaint=obj),
                vault.reveal_note(user, obj.description, purpose=purpose, complaint=obj),
            )
        return cache[obj.pk]

    @extend_schema_field(ComplaintContactOut(allow_null=True))
    def get_complainant_contact(self, obj: Complaint) -> dict[str, str] | None:
        revealed = self._revealed(obj)
        if revealed is None or not revealed[0].readable:
            return None
        return {name: revealed[0].values[name] for name in vault.CONTACT_FIELDS}

    def get_description(self, obj: Complaint) -> str | None:
        revealed = self._revealed(obj)
        return revealed[1].get("text") if revealed is not None else None

    @extend_schema_field(
        serializers.ChoiceField(
            choices=[vault.READ, vault.ERASED, vault.HELD],
            allow_null=True,
            help_text="read: shown; erased: the complainant's data was erased; held: a legal "
            "hold keeps it stored only; null: not shown to you (or in lists).",
        )
    )
    def get_personal_data(self, obj: Complaint) -> str | None:
        revealed = self._revealed(obj)
        return revealed[0].state if revealed is not None else None

    def get_assignee(self, obj: Complaint) -> str | None:
        if obj.assignee is None:
            return None
        if policies.can_see_staff_identity(_user(self), obj):
            return obj.assignee.get_username()
        return actor_ref(obj.assignee)


class ComplaintFileIn(serializers.Serializer):
    channel = serializers.ChoiceField(choices=Channel.choices)
    category = serializers.SlugRelatedField(slug_field="code", queryset=Category.objects.all())
    description = serializers.CharField(max_length=10000)
    content_url = serializers.URLField(max_length=500, required=False, allow_blank=True, default="")
    content_id = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    affected_account_handle = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )
    complainant_name = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )
    complainant_email = serializers.EmailField(required=False, allow_blank=True, default="")
    complainant_phone = serializers.CharField(
        max_length=40, required=False, allow_blank=True, default=""
    )
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    urgency = serializers.ChoiceField(choices=Urgency.choices, required=False)


class ReasonIn(serializers.Serializer):
    reason = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class RequiredReasonIn(serializers.Serializer):
    reason = serializers.CharField(max_length=1000)


class TriageIn(ReasonIn):
    category = serializers.SlugRelatedField(
        slug_field="code", queryset=Category.objects.all(), required=False
    )
    department = serializers.SlugRelatedField(
        slug_field="code", queryset=Department.objects.filter(is_active=True), required=False
    )
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    urgency = serializers.ChoiceField(choices=Urgency.choices, required=False)


class AssignIn(ReasonIn):
    assignee = serializers.CharField(max_length=150, help_text="Username of the handler.")


class RateIn(serializers.Serializer):
    score = serializers.IntegerField(min_value=1, max_value=5)
    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class RatingOut(serializers.Serializer):
    score = serializers.IntegerField()
    rated_at = serializers.DateTimeField()


class TimelineEntryOut(serializers.Serializer):
    at = serializers.DateTimeField()
    kind = serializers.CharField()
    summary = serializers.CharField()
    actor = serializers.CharField(allow_null=True)
    details = serializers.DictField()


# --- decisions -------------------------------------------------------------------------------


class DecisionContentIn(serializers.Serializer):
    actions = serializers.ListField(
        child=serializers.ChoiceField(choices=DecisionAction.choices), required=False, default=list
    )
    ground = serializers.ChoiceField(choices=DecisionGround.choices, required=False)
    ground_reference = serializers.CharField(max_length=500, required=False, allow_blank=True)
    policy_clause = serializers.PrimaryKeyRelatedField(
        queryset=PolicyClause.objects.all(), required=False
    )
    facts = serializers.CharField(max_length=5000)
    reasons = serializers.CharField(max_length=5000)
    territorial_scope = serializers.ListField(
        child=serializers.CharField(max_length=2), required=False, default=list
    )
    restriction_end = serializers.DateField(required=False, allow_null=True, default=None)


class DecisionIn(DecisionContentIn):
    complaint = serializers.CharField(max_length=24, help_text="The complaint's reference.")
    outcome = serializers.ChoiceField(choices=DecisionOutcome.choices)
    policy_clause = serializers.PrimaryKeyRelatedField(queryset=PolicyClause.objects.all())
    ground = serializers.ChoiceField(choices=DecisionGround.choices)
    ground_reference = serializers.CharField(
        max_length=500, required=False, allow_blank=True, default=""
    )
    automated_detection = serializers.BooleanField(default=False)
    automated_decision = serializers.ChoiceField(
        choices=AutomatedDecision.choices, default=AutomatedDecision.NOT_AUTOMATED
    )
    supersedes = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        help_text="For a correction: the decision it replaces.",
    )


class DecisionOut(serializers.ModelSerializer):
    complaint: serializers.SlugRelatedField[Complaint] = serializers.SlugRelatedField(
        slug_field="reference", read_only=True
    )
    policy_clause = PolicyClauseRef(read_only=True)
    decided_by = serializers.SerializerMethodField()
    superseded_by = serializers.SerializerMethodField()

    class Meta:
        model = Decision
        fields = [
            "id",
            "complaint",
            "kind",
            "outcome",
            "actions",
            "ground",
            "ground_reference",
            "policy_clause",
            "facts",
            "reasons",
            "automated_detection",
            "automated_decision",
            "territorial_scope",
            "restriction_end",
            "decided_by",
            "decided_at",
            "supersedes",
            "superseded_by",
            "appeal",
            "appeal_outcome",
        ]

    def get_decided_by(self, obj: Decision) -> str:
        if policies.can_see_staff_identity(_user(self), obj.complaint):
            return obj.decided_by.get_username()
        return actor_ref(obj.decided_by)

    def get_superseded_by(self, obj: Decision) -> int | None:
        successor = getattr(obj, "superseded_by", None)
        return successor.pk if successor is not None else None


# --- appeals ---------------------------------------------------------------------------------


class AppealIn(serializers.Serializer):
    decision = serializers.IntegerField(help_text="The decision appealed (the one in force).")
    statement = serializers.CharField(max_length=10000)


class AppealDecideIn(DecisionContentIn):
    outcome = serializers.ChoiceField(choices=AppealOutcome.choices)
    decision_outcome = serializers.ChoiceField(
        choices=DecisionOutcome.choices,
        required=False,
        allow_null=True,
        default=None,
        help_text="The new decision's outcome; required when reversing or modifying.",
    )
    actions = serializers.ListField(
        child=serializers.ChoiceField(choices=DecisionAction.choices),
        required=False,
        allow_null=True,
        default=None,
    )
    territorial_scope = serializers.ListField(
        child=serializers.CharField(max_length=2), required=False, allow_null=True, default=None
    )


class AppealOut(serializers.ModelSerializer):
    complaint: serializers.SlugRelatedField[Complaint] = serializers.SlugRelatedField(
        slug_field="reference", read_only=True
    )
    statement = serializers.SerializerMethodField()
    outcome_decision = serializers.SerializerMethodField()

    class Meta:
        model = Appeal
        fields = [
            "id",
            "complaint",
            "decision",
            "appellant_role",
            "statement",
            "status",
            "filed_at",
            "decided_at",
            "outcome_decision",
        ]

    def get_statement(self, obj: Appeal) -> str | None:
        user = _user(self)
        if self.context.get("listing") or not policies.can_read_appeal_statement(user, obj):
            return None
        purpose = _purpose(user, obj.complaint)
        return vault.reveal_note(user, obj.statement, purpose=purpose, appeal=obj).get("text")

    def get_outcome_decision(self, obj: Appeal) -> int | None:
        decision = getattr(obj, "outcome_decision", None)
        return decision.pk if decision is not None else None
