"""Session sign-in for the API, accepted only when the sign-in is complete."""

from __future__ import annotations

from typing import Any

from drf_spectacular.authentication import SessionScheme
from rest_framework.authentication import SessionAuthentication

from governance import policies


class VerifiedSessionAuthentication(SessionAuthentication):
    """Django's session, refused for a staff user who has not given their TOTP code.

    The sign-in pages never leave such a session behind, but a complainant who is later granted
    a staff role is still signed in with a password alone; until they sign in again with a code,
    their session does not reach the API (tokens are issued by admins and are unaffected).
    """

    def authenticate(self, request: Any) -> tuple[Any, None] | None:
        result = super().authenticate(request)
        if result is None or not policies.is_signed_in(result[0]):
            return None
        return result


class VerifiedSessionScheme(SessionScheme):
    """Describe the verified session in the OpenAPI schema as the session cookie it is."""

    target_class = "governance.api.authentication.VerifiedSessionAuthentication"
