"""Thin API views of the privacy app."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from governance import policies
from governance.api.base import PolicyViewSet
from governance.errors import ValidationFailed
from privacy import selectors, services
from privacy.filters import AccessLogFilter

from . import serializers as s


class AccessLogViewSet(mixins.ListModelMixin, PolicyViewSet):
    """Who decrypted which personal data, when and why: for compliance officers, newest first."""

    serializer_class = s.AccessLogOut
    filterset_class = AccessLogFilter
    gates = {"list": policies.can_read_access_log}

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.access_log_list(user=self.request.user)


class DataSubjectViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PolicyViewSet):
    """Data subjects, by pseudonym, for the privacy officers who handle people's requests."""

    serializer_class = s.DataSubjectOut
    lookup_field = "pseudonym"
    gates = {
        "list": policies.can_link_subject_accounts,
        "retrieve": policies.can_link_subject_accounts,
        "link_account": policies.can_link_subject_accounts,
    }

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.subject_list(
            user=self.request.user,
            email=self.request.query_params.get("email", ""),
            phone=self.request.query_params.get("phone", ""),
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("email", str, description="Exact email (matched by keyed hash)."),
            OpenApiParameter("phone", str, description="Exact phone (matched by keyed hash)."),
        ]
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Find data subjects by an exact email or phone; one of the two is required."""
        if not (request.query_params.get("email") or request.query_params.get("phone")):
            raise ValidationFailed(
                _("Nothing was searched."),
                fields={"email": [_("Give an exact email or phone to look a person up.")]},
            )
        return super().list(request, *args, **kwargs)

    def get_object(self):  # type: ignore[no-untyped-def]
        return selectors.subject_get(user=self.request.user, pseudonym=self.kwargs["pseudonym"])

    @extend_schema(request=s.LinkAccountIn, responses=s.DataSubjectOut)
    @action(detail=True, methods=["post"], url_path="link-account")
    def link_account(self, request: Request, pseudonym: str) -> Response:
        data = s.LinkAccountIn(data=request.data)
        data.is_valid(raise_exception=True)
        subject = self.get_object()
        user = (
            get_user_model()
            .objects.filter(username=data.validated_data["username"], is_active=True)
            .first()
        )
        if user is None:
            raise ValidationFailed(
                _("The account was not linked."),
                fields={"username": [_("No active account has that username.")]},
            )
        subject = services.subject_link_account(actor=request.user, subject=subject, user=user)
        return Response(s.DataSubjectOut(subject).data)
