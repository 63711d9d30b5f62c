"""Ombud's one error hierarchy.

Services raise these; `governance.api.exceptions.domain_exception_handler` turns each into one
HTTP status. Every message says what the caller can do next.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar


class DomainError(Exception):
    """A request Ombud refuses, with a message that tells the caller what to do next."""

    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "invalid"

    def __init__(self, message: str, *, fields: Mapping[str, Sequence[str]] | None = None):
        super().__init__(message)
        self.message = str(message)
        self.fields = {name: [str(m) for m in msgs] for name, msgs in (fields or {}).items()}


class ValidationFailed(DomainError):
    """The input is malformed or incomplete; `fields` names each problem."""

    status_code = 400
    code = "invalid"


class PermissionDenied(DomainError):
    """The actor's role does not allow this action."""

    status_code = 403
    code = "permission_denied"


class NotFound(DomainError):
    """The object does not exist, or the actor may not know that it does."""

    status_code = 404
    code = "not_found"


class Conflict(DomainError):
    """The action conflicts with the record's current state."""

    status_code = 409
    code = "conflict"


class InvalidTransition(Conflict):
    """The complaint's status does not allow the requested transition."""

    code = "invalid_transition"


class LedgerDiverged(Conflict):
    """The stored ledger no longer extends what was signed before; nothing new is signed."""

    code = "ledger_diverged"


class ImmutableRecord(Conflict):
    """An append-only record was asked to change or disappear."""

    code = "immutable_record"
