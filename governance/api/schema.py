"""The OpenAPI description of every operation's error answers, in one place.

The exception handler (governance/api/exceptions.py) gives every error the same body, so the
schema documents it once, as `Error`, and adds it to each operation under the status codes
that operation can answer with. A client generated from the schema then knows every answer it
can get, and a schema-driven fuzz (tests/test_api_fuzz.py) checks the error bodies too.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import permissions, serializers


class ErrorOut(serializers.Serializer):
    """Any refusal: what went wrong and what to do next, a stable code, and per-field messages."""

    detail = serializers.CharField(help_text="What went wrong, and what the caller can do next.")
    code = serializers.CharField(
        help_text="A stable code: invalid, not_authenticated, permission_denied, not_found, "
        "conflict, invalid_transition, throttled, ..."
    )
    # A field named "fields" is what the body has; the metaclass takes it out of the class, so
    # it never hides Serializer.fields, but the stubs cannot know that.
    fields = serializers.DictField(  # type: ignore[assignment]
        required=False,
        child=serializers.JSONField(),
        help_text="On a 400: the messages for each field of the request that was not accepted.",
    )

    class Meta:
        ref_name = "Error"


_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# What each error status means, as the schema tells it.
_MEANING = {
    "400": "The request was not accepted; `fields` names each problem.",
    "401": "Not signed in: send a token or a verified session.",
    "403": "The caller's role does not allow this action.",
    "404": "A record named in the path or the body does not exist or is hidden from the caller "
    "(or the page cursor is stale).",
    "409": "The action conflicts with the record's current state.",
    "429": "Too many requests: wait the seconds the answer gives, then try again.",
}


class OmbudAutoSchema(AutoSchema):
    """drf-spectacular's schema, plus the error answers each operation can give."""

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        responses = operation.setdefault("responses", {})
        for code in self._error_statuses(operation):
            if code not in responses:  # a view's own description of it wins
                responses[code] = self._get_response_for_code(
                    OpenApiResponse(ErrorOut, description=_MEANING[code]), code
                )
        return operation

    def _error_statuses(self, operation: dict[str, Any]) -> list[str]:
        """The error statuses this operation can answer with, from what it takes and does."""
        parameters = operation.get("parameters", [])
        has_body = "requestBody" in operation
        names_record = has_body or any(p["in"] == "path" for p in parameters)
        paginated = self._is_list_view() and self._get_paginator() is not None
        statuses = []
        if has_body or any(p["in"] == "query" for p in parameters):
            statuses.append("400")
        if not all(p is permissions.AllowAny for p in self.view.permission_classes):
            statuses += ["401", "403"]
        if names_record or paginated:
            statuses.append("404")
        if self.method in _WRITES:
            statuses.append("409")
        if self.view.throttle_classes:
            statuses.append("429")
        return statuses
