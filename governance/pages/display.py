"""How the pages show what several of them show: a deadline and the time left to it, a page of
a long list, and a name kept in both languages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.paginator import Page, Paginator
from django.http import HttpRequest
from django.utils.translation import get_language, gettext_lazy, ngettext
from django.utils.translation import gettext as _

from governance.choices import SlaStage

PER_PAGE = 50
# A deadline closer than this is marked "due soon".
DUE_SOON = timedelta(hours=24)


@dataclass(frozen=True)
class Due:
    """A deadline as a page shows it: what is due, when, the time left (or overdue by), and the
    CSS class that marks it (overdue, due-soon, ok, or muted when nothing is pending)."""

    label: str
    at: datetime | None
    left: str
    css: str

    @property
    def overdue(self) -> bool:
        return self.css == "overdue"


def span(delta: timedelta) -> str:
    """Say a length of time roughly: minutes, hours up to two days, then days."""
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return _("%d min") % max(minutes, 1)
    hours = minutes // 60
    if hours < 48:
        return _("%d h") % hours
    days = hours // 24
    return ngettext("%d day", "%d days", days) % days


def due(at: datetime | None, now: datetime, *, label: str = "", soon: timedelta = DUE_SOON) -> Due:
    """Describe the deadline `at` as seen at `now`."""
    if at is None:
        return Due(label, None, _("no deadline pending"), "muted")
    if at <= now:
        return Due(label, at, _("overdue by %s") % span(now - at), "overdue")
    left = at - now
    return Due(label, at, _("%s left") % span(left), "due-soon" if left < soon else "ok")


_STAGE_DUE = {
    SlaStage.ACKNOWLEDGE: gettext_lazy("Acknowledgement due"),
    SlaStage.TRIAGE: gettext_lazy("Triage due"),
    SlaStage.DECIDE: gettext_lazy("Decision due"),
}


def complaint_due(complaint: Any, now: datetime) -> Due:
    """Describe the deadline the complaint's status waits on (Complaint.pending_deadline)."""
    pending = complaint.pending_deadline()
    if pending is None:
        return due(None, now)
    stage, at = pending
    return due(at, now, label=str(_STAGE_DUE[stage]))


def paginate(request: HttpRequest, items: Any, per_page: int = PER_PAGE) -> Page:
    """Return the page of `items` that the request's `page` parameter asks for (the first if
    it is missing or wrong); templates show the links with ombud/pager.html."""
    return Paginator(items, per_page).get_page(request.GET.get("page"))


def localised_name(obj: Any) -> str:
    """Return a department's or category's name in the page's language."""
    if (get_language() or "").lower().startswith("zh") and obj.name_zh:
        return str(obj.name_zh)
    return str(obj.name)
