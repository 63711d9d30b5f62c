"""People's requests about their own data, and a complainant's own copy of it: thin views.

/api/v1/privacy/requests/             list (own, or all to privacy officers) and create
/api/v1/privacy/requests/{reference}/ retrieve; POST verify/, complete/, refuse/; GET receipt/
/api/v1/privacy/my-data/              a signed-in complainant's copy of their data, as JSON
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from audits import signing
from governance import policies
from governance.api.base import PolicyViewSet
from governance.api.schema import ErrorOut
from governance.errors import Conflict, ValidationFailed
from privacy import selectors, services
from privacy.choices import RequestKind, RequestStatus
from privacy.models import PrivacyRequest

# --- shapes ----------------------------------------------------------------------------------


class PrivacyRequestIn(serializers.Serializer):
    kind = serializers.ChoiceField(choices=RequestKind.choices)
    email = serializers.CharField(
        max_length=254,
        required=False,
        allow_blank=True,
        default="",
        help_text="Privacy officers only: the email the person gave (kept as a keyed hash).",
    )
    phone = serializers.CharField(
        max_length=40,
        required=False,
        allow_blank=True,
        default="",
        help_text="Privacy officers only: the phone the person gave (kept as a keyed hash).",
    )


class RefuseIn(serializers.Serializer):
    reason = serializers.CharField(max_length=5000)
    legal_basis = serializers.CharField(max_length=1000)


class PrivacyRequestOut(serializers.ModelSerializer):
    """A request as its requester and the privacy officers see it: no contact data, and no list
    of the people it covers, so its answers never tell whether someone is on record."""

    allowed_next = serializers.SerializerMethodField()
    overdue = serializers.SerializerMethodField()
    has_receipt = serializers.SerializerMethodField()

    class Meta:
        model = PrivacyRequest
        fields = [
            "reference",
            "kind",
            "channel",
            "status",
            "allowed_next",
            "received_at",
            "due_at",
            "overdue",
            "escalated_at",
            "verified_at",
            "closed_at",
            "refusal_reason",
            "legal_basis",
            "has_receipt",
            "ledger_seq",
        ]

    def get_allowed_next(self, obj: PrivacyRequest) -> list[str]:
        return services.request_allowed_next(obj)

    def get_overdue(self, obj: PrivacyRequest) -> bool:
        waiting = obj.status in (RequestStatus.RECEIVED, RequestStatus.IDENTITY_VERIFIED)
        return waiting and obj.due_at < timezone.now()

    def get_has_receipt(self, obj: PrivacyRequest) -> bool:
        return bool(obj.receipt)


class CompletionOut(PrivacyRequestOut):
    export = serializers.SerializerMethodField()

    class Meta(PrivacyRequestOut.Meta):
        fields = [*PrivacyRequestOut.Meta.fields, "export"]

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_export(self, obj: PrivacyRequest) -> dict[str, Any] | None:
        # An access request's copy of the data, produced by this call (never stored, so a
        # repeated call that finds the request completed has none).
        return self.context.get("export")


class ReceiptOut(serializers.Serializer):
    reference = serializers.CharField()
    receipt = serializers.CharField(help_text="The signed note (C2SP signed-note format).")
    verifier_key = serializers.CharField(
        help_text="The ledger's verifier key, which checks the receipt's signature."
    )


# --- views -----------------------------------------------------------------------------------


class PrivacyRequestViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PolicyViewSet):
    """Deletion and access requests: filed by complainants for themselves, recorded by privacy
    officers for requests received elsewhere, and handled by privacy officers."""

    lookup_field = "reference"
    lookup_value_regex = r"PRQ-\d{4}-[0-9A-F]{8}"
    serializer_class = PrivacyRequestOut
    gates = {
        "list": policies.can_use_privacy_requests,
        "retrieve": policies.can_use_privacy_requests,
        "create": policies.can_use_privacy_requests,
        "verify": policies.can_handle_privacy_requests,
        "complete": policies.can_handle_privacy_requests,
        "refuse": policies.can_handle_privacy_requests,
        "receipt": policies.can_use_privacy_requests,
    }

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.privacy_request_list(user=self.request.user)

    def get_object(self) -> PrivacyRequest:
        return selectors.privacy_request_get(
            user=self.request.user, reference=self.kwargs["reference"]
        )

    @extend_schema(
        request=PrivacyRequestIn, responses={201: PrivacyRequestOut, 200: PrivacyRequestOut}
    )
    def create(self, request: Request) -> Response:
        """File a request for oneself ({kind}), or, as a privacy officer, record one received
        elsewhere ({kind, email and/or phone}). Filing again while the same kind is open
        returns the open request (200)."""
        data = PrivacyRequestIn(data=request.data)
        data.is_valid(raise_exception=True)
        kind, email, phone = (data.validated_data[k] for k in ("kind", "email", "phone"))
        user = request.user
        handler = policies.can_handle_privacy_requests(user)
        if (email or phone) and not handler:
            raise ValidationFailed(
                _("The request was not filed; correct the fields named."),
                fields={
                    "email": [
                        _(
                            "Leave email and phone out: you ask about your own data, which "
                            "your signed-in account identifies."
                        )
                    ]
                },
            )
        if handler and (email or phone or not policies.can_make_privacy_request(user)):
            created = services.privacy_request_record(
                actor=user, kind=kind, email=email, phone=phone
            )
            return Response(PrivacyRequestOut(created).data, status=201)
        filed, is_new = services.privacy_request_file(actor=user, kind=kind)
        return Response(PrivacyRequestOut(filed).data, status=201 if is_new else 200)

    @extend_schema(request=None, responses=PrivacyRequestOut)
    @action(detail=True, methods=["post"])
    def verify(self, request: Request, reference: str) -> Response:
        """Record that the requester's identity was verified."""
        verified = services.privacy_request_verify_identity(
            actor=request.user, request=self.get_object()
        )
        return Response(PrivacyRequestOut(verified).data)

    @extend_schema(request=None, responses=CompletionOut)
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, reference: str) -> Response:
        """Erase (deletion) or produce the copy of the data (access, in `export`)."""
        done = services.privacy_request_complete(actor=request.user, request=self.get_object())
        return Response(CompletionOut(done.request, context={"export": done.export}).data)

    @extend_schema(request=RefuseIn, responses=PrivacyRequestOut)
    @action(detail=True, methods=["post"])
    def refuse(self, request: Request, reference: str) -> Response:
        """Refuse the request with a reason and its legal basis."""
        data = RefuseIn(data=request.data)
        data.is_valid(raise_exception=True)
        refused = services.privacy_request_refuse(
            actor=request.user, request=self.get_object(), **data.validated_data
        )
        return Response(PrivacyRequestOut(refused).data)

    @extend_schema(responses={200: ReceiptOut, 409: ErrorOut})  # 409: no receipt yet
    @action(detail=True, methods=["get"])
    def receipt(self, request: Request, reference: str) -> Response:
        """The signed deletion receipt of a completed deletion request."""
        obj = self.get_object()
        if not obj.receipt:
            raise Conflict(
                _(
                    "Request %(ref)s is %(status)s and has no receipt: a receipt is issued when "
                    "a deletion request is completed. Ask again once it is."
                )
                % {"ref": obj.reference, "status": RequestStatus(obj.status).label}
            )
        return Response(
            ReceiptOut(
                {
                    "reference": obj.reference,
                    "receipt": obj.receipt,
                    "verifier_key": signing.current_verifier_key().encode(),
                }
            ).data
        )


class MyDataViewSet(PolicyViewSet):
    """A signed-in complainant's copy of everything Ombud holds about them."""

    gates = {"list": policies.can_make_privacy_request}

    @extend_schema(responses={(200, "application/json"): OpenApiTypes.OBJECT})
    def list(self, request: Request) -> HttpResponse:
        """Download all data held about you (complaints, decisions, statuses, ratings) as JSON.
        Each download is logged."""
        export = services.privacy_export(
            actor=request.user, subjects=selectors.own_subjects(user=request.user)
        )
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        response = HttpResponse(
            json.dumps(export, ensure_ascii=False, indent=2),
            content_type="application/json; charset=utf-8",
        )
        response["Content-Disposition"] = f'attachment; filename="ombud-my-data-{stamp}.json"'
        return response
