"""The single place where errors become HTTP responses."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

from governance.errors import DomainError


def domain_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Answer a DomainError with its status and `{"detail", "code", "fields"}`; else DRF's way."""
    if isinstance(exc, DomainError):
        body: dict[str, Any] = {"detail": exc.message, "code": exc.code}
        if exc.fields:
            body["fields"] = exc.fields
        return Response(body, status=exc.status_code)
    if isinstance(exc, drf_exceptions.ValidationError):
        # Serializer errors: keep DRF's field messages under "fields", with one summary line.
        return Response(
            {
                "detail": _("The request was not accepted; correct the fields named."),
                "code": "invalid",
                "fields": exc.detail,
            },
            status=400,
        )
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf_exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    # The same body as a DomainError's (the schema's `Error`): a stable code with the detail.
    if (
        response is not None
        and isinstance(exc, drf_exceptions.APIException)
        and isinstance(response.data, dict)
        and "detail" in response.data
    ):
        response.data["code"] = getattr(exc.detail, "code", None) or exc.default_code
    return response
