"""Quality sampling over the API, under /api/v1/oversight/: samples, blind reviews, corrective
actions. Shapes and thin views in one module, apart from the ledger's, since they serve
another audience (supervisors, compliance officers and department leads)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from audits import sampling, selectors
from audits.choices import Verdict
from audits.models import CorrectiveAction, QualitySample, SampleItem
from governance import policies
from governance.api.base import PolicyViewSet

# --- shapes ------------------------------------------------------------------------------------


class SampleIn(serializers.Serializer):
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    rate = serializers.DecimalField(max_digits=5, decimal_places=4, default=Decimal("0.05"))
    min_per_stratum = serializers.IntegerField(min_value=0, default=2)
    double_review_share = serializers.DecimalField(
        max_digits=5, decimal_places=4, default=Decimal("0.2")
    )


class AgreementOut(serializers.Serializer):
    n = serializers.IntegerField(help_text="Double-reviewed items with both reviews.")
    observed = serializers.FloatField(allow_null=True)
    expected = serializers.FloatField(allow_null=True)
    kappa = serializers.FloatField(
        allow_null=True, help_text="Cohen's kappa; null when undefined (no pairs, or p_e = 1)."
    )


class SampleItemOut(serializers.ModelSerializer):
    reviews = serializers.IntegerField(source="review_count", read_only=True)
    reviews_needed = serializers.IntegerField(read_only=True)
    corrective_action = serializers.SerializerMethodField()

    class Meta:
        model = SampleItem
        fields = [
            "id",
            "decision",
            "stratum",
            "double_review",
            "reviews_needed",
            "reviews",
            "corrective_action",
        ]

    def get_corrective_action(self, item: SampleItem) -> int | None:
        action = getattr(item, "corrective_action", None)
        return action.pk if action is not None else None


class SampleOut(serializers.ModelSerializer):
    drawn_by = serializers.CharField(source="drawn_by_ref", help_text="Pseudonym of the drawer.")

    class Meta:
        model = QualitySample
        fields = [
            "id",
            "period_start",
            "period_end",
            "rate",
            "min_per_stratum",
            "double_review_share",
            "seed",
            "seed_source",
            "population",
            "drawn_by",
            "drawn_at",
        ]


class SampleDetailOut(SampleOut):
    """The report: the items, how many reviews each has, the agreement and the verdicts."""

    items = serializers.SerializerMethodField()
    agreement = serializers.SerializerMethodField()
    verdicts = serializers.SerializerMethodField()

    class Meta(SampleOut.Meta):
        fields = [*SampleOut.Meta.fields, "items", "agreement", "verdicts"]

    @extend_schema_field(SampleItemOut(many=True))
    def get_items(self, sample: QualitySample) -> list[dict[str, Any]]:
        return list(SampleItemOut(selectors.sample_items(sample), many=True).data)

    @extend_schema_field(AgreementOut)
    def get_agreement(self, sample: QualitySample) -> dict[str, Any]:
        return dict(AgreementOut(sampling.sample_agreement(sample)).data)

    @extend_schema_field(serializers.DictField(child=serializers.IntegerField()))
    def get_verdicts(self, sample: QualitySample) -> dict[str, int]:
        return sampling.sample_verdicts(sample)


class SampleCheckOut(serializers.Serializer):
    sample = serializers.IntegerField(source="sample_id")
    ok = serializers.BooleanField()
    expected_seed = serializers.CharField()
    problems = serializers.ListField(child=serializers.CharField())


class BlindComplaintOut(serializers.Serializer):
    reference = serializers.CharField()
    category = serializers.CharField()
    department = serializers.CharField()
    channel = serializers.CharField()
    severity = serializers.CharField()
    complainant = serializers.CharField(help_text="The complainant's pseudonym.")
    received_at = serializers.DateTimeField()
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    acknowledge_due_at = serializers.DateTimeField()
    triaged_at = serializers.DateTimeField(allow_null=True)
    triage_due_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)
    decision_due_at = serializers.DateTimeField()
    deadlines_met = serializers.DictField(child=serializers.BooleanField(allow_null=True))


class BlindDecisionOut(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    outcome = serializers.CharField()
    actions = serializers.ListField(child=serializers.CharField())
    ground = serializers.CharField()
    ground_reference = serializers.CharField()
    facts = serializers.CharField()
    reasons = serializers.CharField()
    decided_at = serializers.DateTimeField()
    decided_by = serializers.CharField(help_text="The decider's pseudonym.")
    supersedes = serializers.IntegerField(allow_null=True)
    appeal_outcome = serializers.CharField()


class BlindClauseOut(serializers.Serializer):
    code = serializers.CharField()
    version = serializers.IntegerField()
    title = serializers.CharField()
    text = serializers.CharField()


class BlindItemOut(serializers.Serializer):
    """One sampled case as a reviewer sees it: people as pseudonyms, nothing decrypted."""

    item = serializers.IntegerField()
    sample = serializers.IntegerField()
    stratum = serializers.CharField()
    reviews_needed = serializers.IntegerField()
    complaint = BlindComplaintOut()
    decision = BlindDecisionOut()
    policy_clause = BlindClauseOut()


class ReviewIn(serializers.Serializer):
    item = serializers.IntegerField()
    clause_correct = serializers.IntegerField(min_value=1, max_value=5)
    facts_adequate = serializers.IntegerField(min_value=1, max_value=5)
    action_proportionate = serializers.IntegerField(min_value=1, max_value=5)
    deadline_met = serializers.IntegerField(min_value=1, max_value=5)
    reasons_clear = serializers.IntegerField(min_value=1, max_value=5)
    verdict = serializers.ChoiceField(choices=Verdict.choices)
    comment = serializers.CharField(allow_blank=True, default="", max_length=sampling.MAX_PROSE)


class ReviewOut(serializers.Serializer):
    id = serializers.IntegerField()
    item = serializers.IntegerField(source="item_id")
    reviewer = serializers.CharField(source="reviewer_ref")
    clause_correct = serializers.IntegerField()
    facts_adequate = serializers.IntegerField()
    action_proportionate = serializers.IntegerField()
    deadline_met = serializers.IntegerField()
    reasons_clear = serializers.IntegerField()
    verdict = serializers.CharField()
    comment = serializers.CharField()
    reviewed_at = serializers.DateTimeField()
    corrective_action = serializers.IntegerField(allow_null=True)


class CorrectiveActionOut(serializers.ModelSerializer):
    department = serializers.CharField(source="department.code", read_only=True)
    sample = serializers.IntegerField(source="item.sample_id", read_only=True)
    decision = serializers.IntegerField(source="item.decision_id", read_only=True)
    opened_by = serializers.CharField(source="review.reviewer_ref", read_only=True)
    comment = serializers.CharField(source="review.comment", read_only=True)

    class Meta:
        model = CorrectiveAction
        fields = [
            "id",
            "status",
            "department",
            "sample",
            "decision",
            "review",
            "opened_by",
            "comment",
            "opened_at",
            "closed_at",
            "resolution",
        ]


class CloseIn(serializers.Serializer):
    resolution = serializers.CharField(max_length=sampling.MAX_PROSE)


# --- views -------------------------------------------------------------------------------------


def _validated(serializer_class: type, request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data, context={"request": request})
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class SampleViewSet(mixins.ListModelMixin, PolicyViewSet):
    """Quality samples: drawn by supervisors, read by oversight, re-run by anyone who reads."""

    serializer_class = SampleOut
    lookup_value_regex = r"\d+"
    gates = {
        "list": policies.can_read_samples,
        "retrieve": policies.can_read_samples,
        "verify": policies.can_read_samples,
        "create": policies.can_draw_samples,
        "next": policies.can_review_samples,
    }

    def get_queryset(self):  # type: ignore[no-untyped-def]
        if getattr(self, "swagger_fake_view", False):
            return QualitySample.objects.none()
        return selectors.sample_list(user=self.request.user)

    def _sample(self, pk: str) -> QualitySample:
        return selectors.sample_get(user=self.request.user, pk=int(pk))

    @extend_schema(responses=SampleDetailOut)
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(SampleDetailOut(self._sample(pk)).data)

    @extend_schema(request=SampleIn, responses={201: SampleDetailOut})
    def create(self, request: Request) -> Response:
        sample = sampling.sample_draw(actor=request.user, **_validated(SampleIn, request))
        return Response(SampleDetailOut(sample).data, status=201)

    @extend_schema(request=None, responses=SampleCheckOut)
    @action(detail=True, methods=["get"])
    def verify(self, request: Request, pk: str) -> Response:
        return Response(SampleCheckOut(sampling.sample_verify(self._sample(pk))).data)

    @extend_schema(request=None, responses=BlindItemOut)
    @action(detail=True, methods=["get"])
    def next(self, request: Request, pk: str) -> Response:
        item = selectors.sample_item_next(user=request.user, sample=self._sample(pk))
        return Response(BlindItemOut(sampling.blind_view(item)).data)


class ReviewViewSet(PolicyViewSet):
    """Blind reviews: one per supervisor per item, never changed."""

    serializer_class = ReviewOut
    gates = {"create": policies.can_review_samples}

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return SampleItem.objects.none()  # reviews are read through their sample's report

    @extend_schema(request=ReviewIn, responses={201: ReviewOut})
    def create(self, request: Request) -> Response:
        data = _validated(ReviewIn, request)
        item = selectors.sample_item_get(user=request.user, pk=data.pop("item"))
        verdict, comment = data.pop("verdict"), data.pop("comment")
        review = sampling.review_record(
            actor=request.user, item=item, scores=data, verdict=verdict, comment=comment
        )
        action_ = CorrectiveAction.objects.filter(review=review).first()
        review.corrective_action = action_.pk if action_ is not None else None  # type: ignore[attr-defined]
        return Response(ReviewOut(review).data, status=201)


class CorrectiveActionViewSet(mixins.ListModelMixin, PolicyViewSet):
    """Corrective actions opened by "disagree" reviews, closed by the department's lead."""

    serializer_class = CorrectiveActionOut
    lookup_value_regex = r"\d+"
    gates = {
        "list": policies.can_list_corrective_actions,
        "close": policies.can_close_corrective_actions,
    }

    def get_queryset(self):  # type: ignore[no-untyped-def]
        if getattr(self, "swagger_fake_view", False):
            return CorrectiveAction.objects.none()
        return selectors.corrective_action_list(user=self.request.user)

    @extend_schema(request=CloseIn, responses=CorrectiveActionOut)
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str) -> Response:
        data = _validated(CloseIn, request)
        found = selectors.corrective_action_get(user=request.user, pk=int(pk))
        closed = sampling.corrective_action_close(
            actor=request.user, action=found, resolution=data["resolution"]
        )
        return Response(CorrectiveActionOut(closed).data)
