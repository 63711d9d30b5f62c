"""The early warning over the API, under /api/v1/oversight/early-warning/: each category's
complaints on one business day against its trailing 28-day baseline, spikes flagged."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from audits import selectors
from governance import policies
from governance.api.base import PolicyViewSet

# --- shapes ------------------------------------------------------------------------------------


class EarlyWarningQuery(serializers.Serializer):
    day = serializers.DateField(
        required=False,
        help_text="The business day to look at; today in the business time zone by default.",
        error_messages={"invalid": _("Give day as a date, YYYY-MM-DD (e.g. 2025-01-31).")},
    )


class CategoryFiguresOut(serializers.Serializer):
    category = serializers.CharField(help_text="The category's code.")
    count = serializers.IntegerField(help_text="Complaints received on the day.")
    mean = serializers.FloatField(help_text="Mean daily count over the baseline days.")
    stddev = serializers.FloatField(help_text="Standard deviation of the baseline's counts.")
    threshold = serializers.FloatField(help_text="mean + sigma * max(stddev, 1).")
    ratio = serializers.FloatField(allow_null=True, help_text="count / mean; null if mean is 0.")
    flagged = serializers.BooleanField()


# One object, although it answers the viewset's `list` (the schema would make it an array).
@extend_schema_serializer(many=False)
class EarlyWarningOut(serializers.Serializer):
    day = serializers.DateField()
    baseline_days = serializers.IntegerField()
    sigma = serializers.FloatField()
    min_count = serializers.IntegerField()
    flagged = CategoryFiguresOut(many=True, help_text="The categories whose count spiked.")
    categories = CategoryFiguresOut(many=True, help_text="Every category, by code.")


# --- views -------------------------------------------------------------------------------------


class EarlyWarningViewSet(PolicyViewSet):
    """Daily complaints per category against their baseline; spikes flagged."""

    serializer_class = EarlyWarningOut
    pagination_class = None
    filter_backends = []
    gates = {"list": policies.can_read_early_warning}

    @extend_schema(parameters=[EarlyWarningQuery], responses=EarlyWarningOut)
    def list(self, request: Request) -> Response:
        query = EarlyWarningQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        warning = selectors.early_warning_get(
            user=request.user, day=query.validated_data.get("day")
        )
        return Response(EarlyWarningOut(warning).data)
