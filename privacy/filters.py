"""Query-string filters for the privacy lists."""

import django_filters

from governance.filters import FilterSet, UtcIsoDateTimeFilter

from .choices import AccessOutcome, AccessPurpose
from .models import AccessLogEntry


class AccessLogFilter(FilterSet):
    subject = django_filters.CharFilter(field_name="subject__pseudonym")
    reader = django_filters.CharFilter(field_name="reader_ref")
    purpose = django_filters.MultipleChoiceFilter(choices=AccessPurpose.choices)
    outcome = django_filters.ChoiceFilter(choices=AccessOutcome.choices)
    after = UtcIsoDateTimeFilter(field_name="at", lookup_expr="gte")
    before = UtcIsoDateTimeFilter(field_name="at", lookup_expr="lt")

    class Meta:
        model = AccessLogEntry
        fields = ["subject", "reader", "purpose", "outcome"]
