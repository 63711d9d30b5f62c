"""The one base API view: every action names its policy gate, and deny is the default."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from django.utils.translation import gettext as _
from rest_framework import exceptions, viewsets
from rest_framework.request import Request

from governance.errors import PermissionDenied


class PolicyViewSet(viewsets.GenericViewSet):
    """A viewset whose every action must pass the policy gate named in `gates` (403 otherwise).

    Gates answer "may this role use this action at all?". Which objects are visible comes from
    the selectors (404 otherwise), and whether this actor may act on this object is checked
    again by the service, so commands and jobs obey the same rules.
    """

    gates: ClassVar[dict[str, Callable[[Any], bool]]] = {}

    # DRF throttles after authentication and permissions, so a caller refused with 401 (a wrong
    # token, or no sign-in where one is needed) was never counted: guessing tokens went
    # unlimited. Here every caller is counted before either answer, and gets 429 once over its
    # rate (a refused token, or a session's write without its CSRF token, counts as the
    # anonymous caller DRF has made it). Not a body DRF cannot parse, which the CSRF check may
    # read while authenticating: its sender may be signed in, and is answered 400 or 415.
    # Once per request: the browsable API checks permissions again for each form it draws, on
    # a copy of the request that shares the HttpRequest, which is where the mark is kept.

    def perform_authentication(self, request: Request) -> None:
        try:
            super().perform_authentication(request)
        except (exceptions.AuthenticationFailed, exceptions.PermissionDenied):  # 401, CSRF 403
            self.check_throttles(request)  # DRF has made the caller anonymous already
            raise

    def check_permissions(self, request: Request) -> None:
        self.check_throttles(request)
        super().check_permissions(request)

    def check_throttles(self, request: Request) -> None:
        underlying = request._request
        if getattr(underlying, "_ombud_throttled", False):
            return
        underlying._ombud_throttled = True  # type: ignore[attr-defined]
        super().check_throttles(request)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if getattr(self, "swagger_fake_view", False) or self.action is None:
            return  # schema generation, or a method this view does not route (DRF answers 405)
        gate = self.gates.get(self.action or "")
        if gate is None or not gate(request.user):
            raise PermissionDenied(_("Your role does not allow this action."))
