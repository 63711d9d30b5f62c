"""The complainant's own data: their privacy requests, two ways to make one, and a download.

Mounted under /my/data/. Reads through `privacy.selectors`, writes through `privacy.services`;
the download is the same copy the API gives (`services.privacy_export` over the user's own data
subjects), each decryption checked and logged by the vault, and the export itself recorded in the
ledger.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST, require_safe

from governance import policies
from governance.errors import DomainError
from governance.pages.access import form_failed, page
from privacy import selectors, services
from privacy.choices import RequestKind
from privacy.services.requests import AWAITING_STATUSES

TEMPLATE = "ombud/mine/data.html"
# A request waits on Ombud (and can be overdue) in these statuses.


class AccessForm(forms.Form):
    """Ask for a copy: nothing to fill in (the kind comes in a hidden input the service checks)."""


class DeletionForm(forms.Form):
    confirm = forms.BooleanField(
        label=gettext_lazy(
            "I understand that, once done, my personal data is erased for good and my "
            "complaints can no longer be read with my name or words."
        ),
        error_messages={"required": gettext_lazy("Tick the box to confirm the deletion request.")},
    )


def _forms(kind: str | None, data: Any = None) -> dict[str, forms.Form]:
    """The two request forms, the one for `kind` bound to `data`, each with its own ids."""
    deletion = kind == RequestKind.DELETION
    return {
        "access_form": AccessForm(data if not deletion else None, auto_id="access_%s"),
        "deletion_form": DeletionForm(data if deletion else None, auto_id="deletion_%s"),
    }


def _context(request: HttpRequest, **forms_given: forms.Form) -> dict[str, Any]:
    user = request.user
    now = timezone.now()
    rows = [
        {
            "request": r,
            "overdue": r.status in AWAITING_STATUSES and r.due_at < now,
        }
        for r in selectors.privacy_request_list(user=user).filter(requester=user)
    ]
    return {"rows": rows, **_forms(None), **forms_given}


@require_safe
@page(policies.can_make_privacy_request)
def my_data(request: HttpRequest) -> HttpResponse:
    """The complainant's privacy requests, the two request forms and the download link."""
    return render(request, TEMPLATE, _context(request))


@require_POST
@page(policies.can_make_privacy_request)
def my_data_request(request: HttpRequest) -> HttpResponse:
    """File an access or deletion request for oneself (a second one of a kind while the first is
    open returns the open one)."""
    kind = request.POST.get("kind", "")
    bound = _forms(kind, request.POST)
    form = bound["deletion_form" if kind == RequestKind.DELETION else "access_form"]
    if not form.is_valid():
        return render(request, TEMPLATE, _context(request, **bound), status=400)
    try:
        filed, is_new = services.privacy_request_file(actor=request.user, kind=kind)
    except DomainError as error:
        return form_failed(request, TEMPLATE, _context(request, **bound), form, error)
    if is_new:
        messages.success(
            request,
            _("Your request was received. Its reference is %(ref)s; it is due by %(due)s.")
            % {
                "ref": filed.reference,
                "due": formats.date_format(timezone.localtime(filed.due_at), "DATE_FORMAT"),
            },
        )
    else:
        messages.info(
            request,
            _("You already have an open request of this kind: %s. It is listed below.")
            % filed.reference,
        )
    return redirect("my-data")


@require_POST
@page(policies.can_make_privacy_request)
def my_data_export(request: HttpRequest) -> HttpResponse:
    """Download everything Ombud holds about the signed-in complainant, as JSON. A POST: each
    read of personal data is logged and the export recorded in the ledger, which no link from
    another site may set off."""
    export = services.privacy_export(
        actor=request.user, subjects=selectors.own_subjects(user=request.user)
    )
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response = HttpResponse(
        json.dumps(export, ensure_ascii=False, indent=2),
        content_type="application/json; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="ombud-my-data-{stamp}.json"'
    response["Cache-Control"] = "no-store"
    return response


urlpatterns = [
    path("", my_data, name="my-data"),
    path("requests/", my_data_request, name="my-data-request"),
    path("export/", my_data_export, name="my-data-export"),
]
