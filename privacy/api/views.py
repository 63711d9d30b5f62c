"""Thin API views of the privacy app."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from governance import policies
from governance.api.base import PolicyViewSet
from governance.errors import ValidationFailed
from privacy import selectors, services

from . import serializers as s


class DataSubjectViewSet(mixins.RetrieveModelMixin, PolicyViewSet):
    """Data subjects, by pseudonym, for the privacy officers who handle people's requests."""

    serializer_class = s.DataSubjectOut
    lookup_field = "pseudonym"
    gates = {
        "retrieve": policies.can_link_subject_accounts,
        "link_account": policies.can_link_subject_accounts,
    }

    def get_queryset(self):  # type: ignore[no-untyped-def]
        from privacy.models import DataSubject

        return DataSubject.objects.visible_to(self.request.user)

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
