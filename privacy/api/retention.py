"""Retention rules and runs over the API, for privacy officers: shapes and thin views.

Every change goes through `privacy.services.retention_rule_set`, which validates it, keeps its
history and records it in the ledger. Runs hold counts and ledger sequence numbers only.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from governance import policies
from governance.api.base import PolicyViewSet
from governance.models import Category
from privacy import selectors, services
from privacy.choices import RecordClass, RetentionEvent
from privacy.models import RetentionRule, RetentionRun


class RetentionRuleChangeIn(serializers.Serializer):
    period_days = serializers.IntegerField(
        allow_null=True, help_text="Days the records are kept; null: kept for ever."
    )
    counted_from = serializers.ChoiceField(choices=RetentionEvent.choices)
    legal_basis = serializers.CharField(allow_blank=True)


class RetentionRuleIn(RetentionRuleChangeIn):
    record_class = serializers.ChoiceField(choices=RecordClass.choices)
    category: serializers.SlugRelatedField[Category] = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Category.objects.all(),
        required=False,
        allow_null=True,
        help_text="A category's code; empty for the class's default rule.",
    )


class RetentionRuleOut(serializers.ModelSerializer):
    category: serializers.SlugRelatedField[Category] = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True, help_text="Null: the class's default."
    )

    class Meta:
        model = RetentionRule
        fields = [
            "id",
            "record_class",
            "category",
            "period_days",
            "counted_from",
            "legal_basis",
            "updated_at",
        ]


class RetentionRunOut(serializers.ModelSerializer):
    class Meta:
        model = RetentionRun
        fields = [
            "id",
            "started_at",
            "finished_at",
            "as_of",
            "subjects_erased",
            "access_log_removed",
            "held_back",
            "ledger_seqs",
        ]


class RetentionRuleViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, PolicyViewSet
):
    """The retention rules. Setting a rule for a class and category that has one changes it."""

    serializer_class = RetentionRuleOut
    pagination_class = None  # a handful of rules
    gates = {
        "list": policies.can_manage_retention,
        "retrieve": policies.can_manage_retention,
        "create": policies.can_manage_retention,
        "update": policies.can_manage_retention,
        "partial_update": policies.can_manage_retention,
    }

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.retention_rule_list(user=self.request.user)

    def get_object(self):  # type: ignore[no-untyped-def]
        return selectors.retention_rule_get(user=self.request.user, pk=self.kwargs["pk"])

    @extend_schema(
        request=RetentionRuleIn, responses={200: RetentionRuleOut, 201: RetentionRuleOut}
    )
    def create(self, request: Request) -> Response:
        """Set the rule for a class (and category): 201 when new, 200 when it changed one."""
        data = RetentionRuleIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        values.setdefault("category", None)
        existed = selectors.retention_rule_exists(
            user=request.user, record_class=values["record_class"], category=values["category"]
        )
        rule = services.retention_rule_set(actor=request.user, **values)
        return Response(RetentionRuleOut(rule).data, status=200 if existed else 201)

    @extend_schema(request=RetentionRuleChangeIn, responses=RetentionRuleOut)
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Change a rule's period, event or legal basis (PATCH: only the fields given)."""
        rule = self.get_object()
        data = RetentionRuleChangeIn(data=request.data, partial=kwargs.get("partial", False))
        data.is_valid(raise_exception=True)
        values = {
            "period_days": rule.period_days,
            "counted_from": rule.counted_from,
            "legal_basis": rule.legal_basis,
            **data.validated_data,
        }
        rule = services.retention_rule_set(
            actor=request.user, record_class=rule.record_class, category=rule.category, **values
        )
        return Response(RetentionRuleOut(rule).data)

    @extend_schema(request=RetentionRuleChangeIn, responses=RetentionRuleOut)
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Change only the fields given of a rule's period, event and legal basis."""
        return super().partial_update(request, *args, **kwargs)


class RetentionRunViewSet(mixins.ListModelMixin, PolicyViewSet):
    """What each run of enforce_retention erased: counts and ledger entries, newest first."""

    serializer_class = RetentionRunOut
    gates = {"list": policies.can_manage_retention}

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.retention_run_list(user=self.request.user)
