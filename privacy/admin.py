"""Admin for the privacy app. Personal fields are not shown here: the privacy officer's tools
read them through the checked, logged path instead."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from audits.admin import AppendOnlyAdmin
from governance import policies
from governance.admin import ReadOnlyHistoryAdmin, ServiceCheckedForm

from . import services
from .models import DataSubject, LegalHold, PersonalNote, RetentionRule, RetentionRun


@admin.register(DataSubject)
class DataSubjectAdmin(AppendOnlyAdmin):
    list_display = ["pseudonym", "kind", "created_at"]
    list_filter = ["kind"]
    search_fields = ["pseudonym"]
    fields = readonly_fields = ("pseudonym", "kind", "created_at")


@admin.register(PersonalNote)
class PersonalNoteAdmin(AppendOnlyAdmin):
    list_display = ["id", "kind", "subject", "created_at"]
    list_filter = ["kind"]
    fields = readonly_fields = ("subject", "kind", "created_at")


class RetentionRuleForm(ServiceCheckedForm):
    class Meta:
        model = RetentionRule
        fields = ["record_class", "category", "period_days", "counted_from", "legal_basis"]

    def service_check(self, data: dict[str, Any]) -> None:
        services.retention_rule_check(
            record_class=data.get("record_class", self.instance.record_class),
            category=data.get("category", self.instance.category),
            period_days=data.get("period_days"),
            counted_from=data.get("counted_from", ""),
            legal_basis=data.get("legal_basis", ""),
        )

    def validate_unique(self) -> None:
        # Setting a rule for a class and category that has one changes that rule (the service).
        pass


@admin.register(RetentionRule)
class RetentionRuleAdmin(SimpleHistoryAdmin):
    """Rules are set and changed through `retention_rule_set`, by privacy officers only."""

    list_display = ["record_class", "category", "period_days", "counted_from", "updated_at"]
    list_filter = ["record_class"]
    form = RetentionRuleForm

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("record_class", "category") if obj is not None else ()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and policies.can_manage_retention(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = super().has_change_permission(request, obj)
        return allowed and policies.can_manage_retention(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        rule = services.retention_rule_set(
            actor=request.user,
            record_class=obj.record_class,
            category=obj.category,
            period_days=obj.period_days,
            counted_from=obj.counted_from,
            legal_basis=obj.legal_basis,
        )
        obj.pk = rule.pk
        obj._state.adding = False


@admin.register(LegalHold)
class LegalHoldAdmin(ReadOnlyHistoryAdmin):
    """Holds are placed and released through the API (services), never edited here."""

    list_display = ["id", "subject", "complaint", "review_on", "placed_at", "released_at"]
    list_filter = ["released_at"]
    list_select_related = ["subject", "complaint"]
    fields = readonly_fields = (
        "subject",
        "complaint",
        "reason",
        "review_on",
        "placed_by",
        "placed_at",
        "released_by",
        "released_at",
        "release_reason",
    )


@admin.register(RetentionRun)
class RetentionRunAdmin(AppendOnlyAdmin):
    list_display = [
        "id",
        "started_at",
        "as_of",
        "subjects_erased",
        "access_log_removed",
        "held_back",
    ]
    ordering = ["-id"]
