"""Query-string filters for the governance lists."""

import django_filters

from .choices import Channel, ComplaintStatus, DecisionKind, DecisionOutcome, Priority
from .models import Complaint, Decision, PolicyClause


class ComplaintFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=ComplaintStatus.choices)
    priority = django_filters.MultipleChoiceFilter(choices=Priority.choices)
    channel = django_filters.ChoiceFilter(choices=Channel.choices)
    category = django_filters.CharFilter(field_name="category__code")
    department = django_filters.CharFilter(field_name="department__code")
    received_after = django_filters.IsoDateTimeFilter(field_name="received_at", lookup_expr="gte")
    received_before = django_filters.IsoDateTimeFilter(field_name="received_at", lookup_expr="lt")
    overdue_before = django_filters.IsoDateTimeFilter(
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


class DecisionFilter(django_filters.FilterSet):
    complaint = django_filters.CharFilter(field_name="complaint__reference")
    outcome = django_filters.MultipleChoiceFilter(choices=DecisionOutcome.choices)
    kind = django_filters.ChoiceFilter(choices=DecisionKind.choices)
    department = django_filters.CharFilter(field_name="complaint__department__code")
    category = django_filters.CharFilter(field_name="complaint__category__code")
    decided_after = django_filters.IsoDateTimeFilter(field_name="decided_at", lookup_expr="gte")
    decided_before = django_filters.IsoDateTimeFilter(field_name="decided_at", lookup_expr="lt")

    class Meta:
        model = Decision
        fields = ["complaint", "outcome", "kind", "department", "category"]


class PolicyClauseFilter(django_filters.FilterSet):
    code = django_filters.CharFilter()

    class Meta:
        model = PolicyClause
        fields = ["code"]
