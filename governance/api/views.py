"""Thin API views: input serializer, one service or selector, output serializer."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from governance import policies, selectors, services
from governance.errors import ValidationFailed
from governance.filters import ComplaintFilter, DecisionFilter, PolicyClauseFilter
from governance.security_log import client_ip

from . import serializers as s
from .base import PolicyViewSet


def _validated(serializer_class: type, request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data, context={"request": request})
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class ComplaintViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PolicyViewSet):
    """Complaints and their lifecycle actions. Looked up by public reference (CMP-YYYY-NNNNNN)."""

    lookup_field = "reference"
    lookup_value_regex = r"CMP-\d{4}-\d{6,}"
    serializer_class = s.ComplaintOut
    filterset_class = ComplaintFilter
    gates = {
        "list": policies.can_list_complaints,
        "retrieve": policies.can_list_complaints,
        "create": policies.can_file_complaint,
        "acknowledge": policies.can_work_complaints,
        "triage": policies.can_work_complaints,
        "assign": policies.can_work_complaints,
        "investigate": policies.can_work_complaints,
        "close": policies.can_work_complaints,
        "withdraw": policies.can_withdraw_complaints,
        "rate": policies.can_rate_complaints,
        "timeline": policies.can_view_timelines,
        "evidence": policies.can_read_ledger,
    }

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.complaint_listing(user=self.request.user)

    def get_serializer_context(self) -> dict[str, Any]:
        # Lists carry no personal data: reading it is one logged decryption per complaint,
        # and a queue does not need it. The detail view shows it to those who may see it.
        return {**super().get_serializer_context(), "listing": self.action == "list"}

    def get_object(self):  # type: ignore[no-untyped-def]
        return selectors.complaint_get(user=self.request.user, reference=self.kwargs["reference"])

    def _out(self, complaint: Any) -> Response:
        # The service's object, not a re-read: a triage may move the complaint out of sight.
        return Response(s.ComplaintOut(complaint, context={"request": self.request}).data)

    @extend_schema(request=s.ComplaintFileIn, responses={201: s.ComplaintOut})
    def create(self, request: Request) -> Response:
        data = _validated(s.ComplaintFileIn, request)
        # The filer's address is personal data: the service stores it encrypted, with the
        # complainant's other data (behind proxies, TRUSTED_PROXIES says how to read it).
        ip_address = client_ip(request)
        complaint = services.complaint_file(actor=request.user, ip_address=ip_address, **data)
        return Response(s.ComplaintOut(complaint, context={"request": request}).data, status=201)

    @extend_schema(request=s.ReasonIn, responses=s.ComplaintOut)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, reference: str) -> Response:
        data = _validated(s.ReasonIn, request)
        return self._out(
            services.complaint_acknowledge(actor=request.user, complaint=self.get_object(), **data)
        )

    @extend_schema(request=s.TriageIn, responses=s.ComplaintOut)
    @action(detail=True, methods=["post"])
    def triage(self, request: Request, reference: str) -> Response:
        data = _validated(s.TriageIn, request)
        return self._out(
            services.complaint_triage(actor=request.user, complaint=self.get_object(), **data)
        )

    @extend_schema(request=s.AssignIn, responses=s.ComplaintOut)
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, reference: str) -> Response:
        data = _validated(s.AssignIn, request)
        complaint = self.get_object()
        assignee = selectors.assignee_get(complaint=complaint, username=data.pop("assignee"))
        return self._out(
            services.complaint_assign(
                actor=request.user, complaint=complaint, assignee=assignee, **data
            )
        )

    @extend_schema(request=s.ReasonIn, responses=s.ComplaintOut)
    @action(detail=True, methods=["post"])
    def investigate(self, request: Request, reference: str) -> Response:
        data = _validated(s.ReasonIn, request)
        return self._out(
            services.complaint_start_investigation(
                actor=request.user, complaint=self.get_object(), **data
            )
        )

    @extend_schema(request=s.ReasonIn, responses=s.ComplaintOut)
    @action(detail=True, methods=["post"])
    def close(self, request: Request, reference: str) -> Response:
        data = _validated(s.ReasonIn, request)
        return self._out(
            services.complaint_close(actor=request.user, complaint=self.get_object(), **data)
        )

    @extend_schema(request=s.RequiredReasonIn, responses=s.ComplaintOut)
    @action(detail=True, methods=["post"])
    def withdraw(self, request: Request, reference: str) -> Response:
        data = _validated(s.RequiredReasonIn, request)
        return self._out(
            services.complaint_withdraw(actor=request.user, complaint=self.get_object(), **data)
        )

    @extend_schema(request=s.RateIn, responses={201: s.RatingOut})
    @action(detail=True, methods=["post"])
    def rate(self, request: Request, reference: str) -> Response:
        data = _validated(s.RateIn, request)
        rating = services.complaint_rate(actor=request.user, complaint=self.get_object(), **data)
        return Response(s.RatingOut(rating).data, status=201)

    @extend_schema(responses=s.TimelineEntryOut(many=True))
    # The whole history in one list: neither paged nor filtered like the complaints.
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def timeline(self, request: Request, reference: str) -> Response:
        entries = selectors.complaint_timeline(user=request.user, reference=reference)
        return Response(s.TimelineEntryOut(entries, many=True).data)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "consistency_from",
                OpenApiTypes.INT,
                many=True,
                description="Earlier checkpoint sizes the verifier holds.",
            )
        ],
        responses=OpenApiTypes.OBJECT,
    )
    @action(detail=True, methods=["get"])
    def evidence(self, request: Request, reference: str) -> Response:
        raw = request.query_params.getlist("consistency_from")
        if not all(v.isdigit() for v in raw):
            raise ValidationFailed(
                _("No bundle was built."),
                fields={"consistency_from": [_("Give checkpoint sizes as whole numbers.")]},
            )
        sizes = [int(v) for v in raw]
        bundle = selectors.complaint_evidence(
            user=request.user, reference=reference, consistency_from=sizes
        )
        return Response(bundle)


class DecisionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PolicyViewSet):
    """Decisions: recorded once, never changed (PUT, PATCH and DELETE answer 405)."""

    lookup_value_regex = r"\d+"  # any other id is a 404 from the router, not a crash

    serializer_class = s.DecisionOut
    filterset_class = DecisionFilter
    gates = {
        "list": policies.can_list_decisions,
        "retrieve": policies.can_list_decisions,
        "create": policies.can_record_decisions,
    }

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.decision_list(user=self.request.user)

    def get_object(self):  # type: ignore[no-untyped-def]
        return selectors.decision_get(user=self.request.user, pk=self.kwargs["pk"])

    @extend_schema(request=s.DecisionIn, responses={201: s.DecisionOut})
    def create(self, request: Request) -> Response:
        data = _validated(s.DecisionIn, request)
        # Brief: the service re-reads the complaint under its row lock.
        complaint = selectors.complaint_get(
            user=request.user, reference=data.pop("complaint"), brief=True
        )
        supersedes_id = data.pop("supersedes")
        supersedes = (
            selectors.decision_get(user=request.user, pk=supersedes_id) if supersedes_id else None
        )
        decision = services.decision_record(
            actor=request.user, complaint=complaint, supersedes=supersedes, **data
        )
        return Response(s.DecisionOut(decision, context={"request": request}).data, status=201)


class AppealViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PolicyViewSet):
    """Appeals against decisions, and their outcome (a new decision)."""

    lookup_value_regex = r"\d+"  # any other id is a 404 from the router, not a crash

    serializer_class = s.AppealOut
    gates = {
        "list": policies.can_list_appeals,
        "retrieve": policies.can_list_appeals,
        "create": policies.can_file_appeals,
        "decide": policies.can_record_decisions,
    }

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.appeal_list(user=self.request.user)

    def get_serializer_context(self) -> dict[str, Any]:
        # As for complaints: statements are read one at a time, each read logged.
        return {**super().get_serializer_context(), "listing": self.action == "list"}

    def get_object(self):  # type: ignore[no-untyped-def]
        return selectors.appeal_get(user=self.request.user, pk=self.kwargs["pk"])

    @extend_schema(request=s.AppealIn, responses={201: s.AppealOut})
    def create(self, request: Request) -> Response:
        data = _validated(s.AppealIn, request)
        decision = selectors.decision_get(user=request.user, pk=data["decision"])
        appeal = services.appeal_file(
            actor=request.user, decision=decision, statement=data["statement"]
        )
        appeal = selectors.appeal_get(user=request.user, pk=appeal.pk)
        return Response(s.AppealOut(appeal, context={"request": request}).data, status=201)

    @extend_schema(request=s.AppealDecideIn, responses={201: s.DecisionOut})
    @action(detail=True, methods=["post"])
    def decide(self, request: Request, pk: str) -> Response:
        data = _validated(s.AppealDecideIn, request)
        decision = services.appeal_decide(actor=request.user, appeal=self.get_object(), **data)
        return Response(s.DecisionOut(decision, context={"request": request}).data, status=201)


class PolicyClauseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PolicyViewSet):
    """The rule book: every version of every clause. Publishing adds a version, never edits one."""

    lookup_value_regex = r"\d+"  # any other id is a 404 from the router, not a crash

    serializer_class = s.PolicyClauseOut
    filterset_class = PolicyClauseFilter
    gates = {
        "list": policies.can_read_policy_clauses,
        "retrieve": policies.can_read_policy_clauses,
        "create": policies.can_publish_policy_clauses,
    }

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.policy_clause_list(user=self.request.user)

    def get_object(self):  # type: ignore[no-untyped-def]
        return selectors.policy_clause_get(user=self.request.user, pk=self.kwargs["pk"])

    @extend_schema(request=s.PolicyClauseIn, responses={201: s.PolicyClauseOut})
    def create(self, request: Request) -> Response:
        data = _validated(s.PolicyClauseIn, request)
        clause = services.policy_clause_publish(actor=request.user, **data)
        return Response(s.PolicyClauseOut(clause).data, status=201)


class DepartmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PolicyViewSet):
    """The departments that handle complaints."""

    serializer_class = s.DepartmentOut
    lookup_field = "code"
    pagination_class = None
    gates = {"list": policies.can_read_reference_data, "retrieve": policies.can_read_reference_data}

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.department_list(user=self.request.user)


class CategoryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PolicyViewSet):
    """The complaint categories, each with its DSA category and default department."""

    serializer_class = s.CategoryOut
    lookup_field = "code"
    pagination_class = None
    gates = {"list": policies.can_read_reference_data, "retrieve": policies.can_read_reference_data}

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.category_list(user=self.request.user)
