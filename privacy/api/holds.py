"""Legal holds over the API: shapes and thin views (a module of its own, like retention.py).

Responses name what a hold covers by pseudonym or complaint reference, and who placed it by
pseudonymous reference; never personal data.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from governance import policies
from governance.api.base import PolicyViewSet
from privacy import selectors, services
from privacy.models import LegalHold
from privacy.pseudonyms import actor_ref


class LegalHoldIn(serializers.Serializer):
    subject = serializers.CharField(
        max_length=32, required=False, allow_blank=True, help_text="The subject's pseudonym."
    )
    complaint = serializers.CharField(
        max_length=24, required=False, allow_blank=True, help_text="The complaint's reference."
    )
    reason = serializers.CharField(allow_blank=True)
    review_on = serializers.DateField()


class LegalHoldReleaseIn(serializers.Serializer):
    reason = serializers.CharField(allow_blank=True)


class LegalHoldOut(serializers.ModelSerializer):
    subject = serializers.SerializerMethodField()
    complaint = serializers.SerializerMethodField()
    placed_by = serializers.SerializerMethodField()
    released_by = serializers.SerializerMethodField()
    active = serializers.BooleanField(read_only=True)

    class Meta:
        model = LegalHold
        fields = [
            "id",
            "subject",
            "complaint",
            "reason",
            "review_on",
            "placed_by",
            "placed_at",
            "active",
            "released_by",
            "released_at",
            "release_reason",
        ]

    def get_subject(self, obj: LegalHold) -> str | None:
        return obj.subject.pseudonym if obj.subject is not None else None

    def get_complaint(self, obj: LegalHold) -> str | None:
        return obj.complaint.reference if obj.complaint is not None else None

    def get_placed_by(self, obj: LegalHold) -> str:
        return actor_ref(obj.placed_by)

    def get_released_by(self, obj: LegalHold) -> str | None:
        return actor_ref(obj.released_by) if obj.released_by_id is not None else None


class LegalHoldViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PolicyViewSet):
    """Legal holds on a subject's or a complaint's data, for privacy and compliance officers."""

    serializer_class = LegalHoldOut
    gates = {
        "list": policies.can_manage_legal_holds,
        "retrieve": policies.can_manage_legal_holds,
        "create": policies.can_manage_legal_holds,
        "release": policies.can_manage_legal_holds,
    }

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.legal_hold_list(user=self.request.user).select_related(
            "placed_by", "released_by"
        )

    def get_object(self):  # type: ignore[no-untyped-def]
        return selectors.legal_hold_get(user=self.request.user, pk=self.kwargs["pk"])

    @extend_schema(request=LegalHoldIn, responses={201: LegalHoldOut})
    def create(self, request: Request) -> Response:
        data = LegalHoldIn(data=request.data)
        data.is_valid(raise_exception=True)
        subject, complaint = selectors.legal_hold_target(
            user=request.user,
            subject=data.validated_data.get("subject", ""),
            complaint=data.validated_data.get("complaint", ""),
        )
        hold = services.legal_hold_place(
            actor=request.user,
            subject=subject,
            complaint=complaint,
            reason=data.validated_data["reason"],
            review_on=data.validated_data["review_on"],
        )
        return Response(LegalHoldOut(hold).data, status=201)

    @extend_schema(request=LegalHoldReleaseIn, responses=LegalHoldOut)
    @action(detail=True, methods=["post"])
    def release(self, request: Request, pk: Any = None) -> Response:
        data = LegalHoldReleaseIn(data=request.data)
        data.is_valid(raise_exception=True)
        hold = services.legal_hold_release(
            actor=request.user, hold=self.get_object(), reason=data.validated_data["reason"]
        )
        return Response(LegalHoldOut(hold).data)
