"""DSA statements of reasons over the API, under /api/v1/oversight/statements/: the statements
an export would file since a day, and the decisions whose statements fail the reference's rules.
"""

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


class StatementQuery(serializers.Serializer):
    since = serializers.DateField(
        help_text="Export the decisions in force decided on or after this business day.",
        error_messages={
            "required": _("Give since, the first day to export, as YYYY-MM-DD (e.g. 2025-01-31)."),
            "invalid": _("Give since as a date, YYYY-MM-DD (e.g. 2025-01-31)."),
        },
    )


class ViolationOut(serializers.Serializer):
    rule = serializers.CharField(help_text="The rule of the reference, named after its field.")
    message = serializers.CharField()


class FailureOut(serializers.Serializer):
    decision = serializers.IntegerField(source="decision_id")
    puid = serializers.CharField()
    violations = ViolationOut(many=True)


# One object, although it answers the viewset's `list` (the schema would make it an array).
@extend_schema_serializer(many=False)
class StatementExportOut(serializers.Serializer):
    since = serializers.DateField()
    exported = serializers.IntegerField(help_text="Statements that pass every rule.")
    failed = serializers.IntegerField(help_text="Decisions whose statement breaks a rule.")
    not_restrictive = serializers.IntegerField(
        help_text="Decisions in force that restrict nothing in the EU/EEA, so need no statement."
    )
    statements = serializers.ListField(
        child=serializers.DictField(),
        help_text="One DSA Transparency Database statement of reasons per decision.",
    )
    failures = FailureOut(many=True)


# --- views -------------------------------------------------------------------------------------


class StatementViewSet(PolicyViewSet):
    """The statements of reasons of the restrictive decisions in force decided since a day."""

    serializer_class = StatementExportOut
    pagination_class = None
    filter_backends = []
    gates = {"list": policies.can_read_statements_of_reasons}

    @extend_schema(parameters=[StatementQuery], responses=StatementExportOut)
    def list(self, request: Request) -> Response:
        query = StatementQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        since = query.validated_data["since"]
        export = selectors.statement_export(user=request.user, since=since)
        body = {
            "since": since,
            "exported": len(export.statements),
            "failed": len(export.failures),
            "not_restrictive": export.not_restrictive,
            "statements": export.statements,
            "failures": export.failures,
        }
        return Response(StatementExportOut(body).data)
