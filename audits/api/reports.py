"""Oversight reports over the API, under /api/v1/oversight/reports/: supervisors publish a
period's report (or a correction superseding one); supervisors and compliance officers list
and read them. The files themselves are public, on the transparency page (audits/views.py)."""

from __future__ import annotations

import json
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from audits import reports, selectors
from audits.models import OversightReport
from governance import policies
from governance.api.base import PolicyViewSet

# --- shapes ------------------------------------------------------------------------------------


class ReportIn(serializers.Serializer):
    period = serializers.CharField(
        max_length=10,
        help_text="A month (2026-10), a quarter (2026-Q4) or a year (2026) that has ended.",
        error_messages={"required": _("Give the period, e.g. 2026-10, 2026-Q4 or 2026.")},
    )
    supersedes = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="The number of the report of the same period that this one corrects.",
    )
    correction = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=2000,
        help_text="What the correction changes and why; published with the report.",
    )


class ReportOut(serializers.ModelSerializer):
    published_by = serializers.CharField(source="published_by_ref", help_text="A pseudonym.")
    checkpoint = serializers.IntegerField(source="checkpoint.tree_size")
    supersedes = serializers.IntegerField(source="supersedes.number", allow_null=True)
    superseded_by = serializers.SerializerMethodField()
    downloads = serializers.SerializerMethodField()

    class Meta:
        model = OversightReport
        fields = [
            "number",
            "period",
            "period_kind",
            "period_start",
            "period_end",
            "published_at",
            "published_by",
            "checkpoint",
            "supersedes",
            "superseded_by",
            "correction",
            "downloads",
        ]

    def get_superseded_by(self, report: OversightReport) -> int | None:
        newer = getattr(report, "superseded_by", None)
        return newer.number if newer is not None else None

    @extend_schema_field(serializers.DictField(child=serializers.CharField()))
    def get_downloads(self, report: OversightReport) -> dict[str, str]:
        request = self.context.get("request")
        names: dict[str, tuple[str, list[Any]]] = {
            "page": ("transparency-report", [report.number]),
            "json": ("transparency-file", [report.number, "json"]),
            "csv": ("transparency-file", [report.number, "csv"]),
            "signature": ("transparency-file", [report.number, "sig"]),
        }
        out = {}
        for key, (name, args) in names.items():
            url = reverse(name, args=args)
            out[key] = request.build_absolute_uri(url) if request is not None else url
        return out


class ReportDetailOut(ReportOut):
    document = serializers.SerializerMethodField()
    signature = serializers.CharField()

    class Meta(ReportOut.Meta):
        fields = [*ReportOut.Meta.fields, "document", "signature"]

    @extend_schema_field(serializers.DictField())
    def get_document(self, report: OversightReport) -> dict[str, Any]:
        return dict(json.loads(report.document))


# --- views -------------------------------------------------------------------------------------


class ReportViewSet(mixins.ListModelMixin, PolicyViewSet):
    """Published oversight reports: frozen, signed, superseded but never changed."""

    serializer_class = ReportOut
    lookup_field = "number"
    lookup_value_regex = r"\d+"
    gates = {
        "list": policies.can_read_reports,
        "retrieve": policies.can_read_reports,
        "create": policies.can_publish_reports,
    }

    def get_queryset(self):  # type: ignore[no-untyped-def]
        if getattr(self, "swagger_fake_view", False):
            return OversightReport.objects.none()
        return selectors.report_list(user=self.request.user)

    @extend_schema(responses=ReportDetailOut)
    def retrieve(self, request: Request, number: str) -> Response:
        report = selectors.report_get(user=request.user, number=int(number))
        return Response(ReportDetailOut(report, context={"request": request}).data)

    @extend_schema(request=ReportIn, responses={201: ReportDetailOut})
    def create(self, request: Request) -> Response:
        body = ReportIn(data=request.data)
        body.is_valid(raise_exception=True)
        report = reports.report_publish(actor=request.user, **body.validated_data)
        return Response(ReportDetailOut(report, context={"request": request}).data, status=201)
