"""Query-string filters for the governance lists."""

from datetime import UTC
from typing import Any

import django_filters
from django.core.exceptions import ValidationError
from django.utils import translation
from django_filters.fields import IsoDateTimeField
from django_filters.filters import QuerySetRequestMixin

from .choices import Channel, ComplaintStatus, DecisionKind, DecisionOutcome, Priority
from .models import Complaint, Decision, PolicyClause


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date and time, as the same instant in UTC.

    Python accepts offsets up to ±23:59 and PostgreSQL only up to ±15:59, and the database
    compares instants anyway; a time that has no UTC instant in Python's years 1 to 9999
    (9999-12-31T23:00-05:00) is refused like any other malformed value.
    """

    def to_python(self, value):  # type: ignore[no-untyped-def]
        result = super().to_python(value)
        if result is None:
            return None
        try:
            return result.astimezone(UTC)
        except OverflowError:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """Filter on an ISO 8601 date and time, compared as its UTC instant."""

    field_class = UtcIsoDateTimeField


_FORM_CLASSES: dict[tuple[type, str | None], Any] = {}


class FilterSet(django_filters.FilterSet):
    """django-filter's FilterSet, with its form class built once per language, not per request.

    django-filter builds a new form class for every request, each of its fields from scratch,
    and the labels in the request's language. A filter whose choices come from the request
    (django-filter's `QuerySetRequestMixin`: a model choice with a callable queryset) would
    build its field for the first request's user, so a filter set with one is never kept;
    Ombud's filters depend on no request, and their class is kept by filter set and language
    (Django's form copies the class's fields into each form it makes, so no request sees
    another's).
    """

    def get_form_class(self):  # type: ignore[no-untyped-def]
        if any(isinstance(f, QuerySetRequestMixin) for f in self.filters.values()):
            return super().get_form_class()
        key = (type(self), translation.get_language())
        form_class = _FORM_CLASSES.get(key)
        if form_class is None:
            form_class = _FORM_CLASSES[key] = super().get_form_class()
        return form_class


class ComplaintFilter(FilterSet):
    # distinct=False: these are the complaint's own columns, so no join can repeat a row, and
    # django-filter's default DISTINCT makes PostgreSQL sort every matching row, joins and
    # ciphertexts included, before it can take a page (120 ms at a million complaints).
    status = django_filters.MultipleChoiceFilter(choices=ComplaintStatus.choices, distinct=False)
    priority = django_filters.MultipleChoiceFilter(choices=Priority.choices, distinct=False)
    channel = django_filters.ChoiceFilter(choices=Channel.choices)
    category = django_filters.CharFilter(field_name="category__code")
    department = django_filters.CharFilter(field_name="department__code")
    received_after = UtcIsoDateTimeFilter(field_name="received_at", lookup_expr="gte")
    received_before = UtcIsoDateTimeFilter(field_name="received_at", lookup_expr="lt")
    overdue_before = UtcIsoDateTimeFilter(
        field_name="decision_due_at", lookup_expr="lt", label="decision due before"
    )
    assigned_to_me = django_filters.BooleanFilter(method="filter_assigned_to_me")

    class Meta:
        model = Complaint
        fields = ["status", "priority", "channel", "category", "department"]

    def filter_assigned_to_me(self, queryset, name, value):  # type: ignore[no-untyped-def]
        if value:
            return queryset.filter(assignee=self.request.user)
        return queryset


class DecisionFilter(FilterSet):
    complaint = django_filters.CharFilter(field_name="complaint__reference")
    outcome = django_filters.MultipleChoiceFilter(choices=DecisionOutcome.choices, distinct=False)
    kind = django_filters.ChoiceFilter(choices=DecisionKind.choices)
    department = django_filters.CharFilter(field_name="complaint__department__code")
    category = django_filters.CharFilter(field_name="complaint__category__code")
    decided_after = UtcIsoDateTimeFilter(field_name="decided_at", lookup_expr="gte")
    decided_before = UtcIsoDateTimeFilter(field_name="decided_at", lookup_expr="lt")

    class Meta:
        model = Decision
        fields = ["complaint", "outcome", "kind", "department", "category"]


class PolicyClauseFilter(FilterSet):
    code = django_filters.CharFilter()

    class Meta:
        model = PolicyClause
        fields = ["code"]
