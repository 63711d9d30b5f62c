"""Admin for the governance app. Every save goes through a service, with a stated reason."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin
from django_otp.plugins.otp_totp.models import TOTPDevice
from simple_history.admin import SimpleHistoryAdmin

from audits.admin import AppendOnlyAdmin

from . import policies, services
from .choices import Role
from .errors import DomainError
from .models import (
    Appeal,
    Assignment,
    AuthenticatorSetupCode,
    Category,
    Complaint,
    ComplaintTransition,
    Decision,
    Department,
    Holiday,
    PolicyClause,
    Rating,
    RoleMembership,
    SlaBreach,
)


class ReadOnlyHistoryAdmin(SimpleHistoryAdmin):
    """History-tracked records that change only through their services, never in the admin."""

    # Django 6 assumes https for scheme-less URLs; say so now rather than be warned.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReasonForm(forms.ModelForm):
    change_reason = forms.CharField(
        label=_("Reason for this change"), max_length=500, help_text=_("Kept in the history.")
    )


class ReferenceDataAdmin(SimpleHistoryAdmin):
    """Departments, categories and holidays: saved by `reference_record_save` with a reason."""

    form = ReasonForm

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = [f for f in super().get_fields(request, obj) if f != "change_reason"]
        return [*fields, "change_reason"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        services.reference_record_save(
            actor=request.user, record=obj, reason=form.cleaned_data["change_reason"]
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Department)
class DepartmentAdmin(ReferenceDataAdmin):
    list_display = ["code", "name", "name_zh", "is_active"]


@admin.register(Category)
class CategoryAdmin(ReferenceDataAdmin):
    list_display = [
        "code",
        "name",
        "name_zh",
        "dsa_category",
        "default_department",
        "default_severity",
    ]


@admin.register(Holiday)
class HolidayAdmin(ReferenceDataAdmin):
    list_display = ["date", "name"]


class ServiceCheckedForm(forms.ModelForm):
    """A form whose clean() asks the service's own read-only check, so a refusal comes back on
    the form (200 with the message) instead of failing at save. The service checks again."""

    def service_check(self, data: dict[str, Any]) -> None:
        """Run the service's check on the cleaned data; each form names its own."""

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        try:
            self.service_check(data)
        except DomainError as exc:
            for field, messages_ in exc.fields.items():
                self.add_error(field if field in self.fields else None, messages_)
            if not exc.fields:
                self.add_error(None, exc.message)
        return data


class RoleGrantForm(ServiceCheckedForm):
    class Meta:
        model = RoleMembership
        fields = ["user", "role", "department"]

    def service_check(self, data: dict[str, Any]) -> None:
        services.role_grant_check(
            user=data.get("user"), role=data.get("role", ""), department=data.get("department")
        )


@admin.register(RoleMembership)
class RoleMembershipAdmin(SimpleHistoryAdmin):
    """Roles are granted here through `role_grant` and revoked by the admin action."""

    list_display = ["user", "role", "department", "granted_at", "revoked_at"]
    list_filter = ["role", "department", "revoked_at"]
    search_fields = ["user__username"]
    form = RoleGrantForm
    actions = ["revoke"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        services.role_grant(
            actor=request.user, user=obj.user, role=obj.role, department=obj.department
        )

    @admin.action(description=_("Revoke the selected roles"), permissions=["view"])
    def revoke(self, request: HttpRequest, queryset: Any) -> None:
        for membership in queryset.filter(revoked_at__isnull=True):
            try:
                services.role_revoke(
                    actor=request.user,
                    membership=membership,
                    reason=f"Revoked in the admin by {request.user.get_username()}",
                )
            except DomainError as exc:
                self.message_user(request, exc.message, messages.ERROR)


class PolicyClauseForm(ServiceCheckedForm):
    class Meta:
        model = PolicyClause
        fields = ["code", "title", "text", "effective_from", "effective_to"]

    def service_check(self, data: dict[str, Any]) -> None:
        services.policy_clause_check(
            code=data.get("code", ""),
            title=data.get("title", ""),
            text=data.get("text", ""),
            effective_from=data.get("effective_from"),
            effective_to=data.get("effective_to"),
        )

    def validate_unique(self) -> None:
        # The version is assigned by the service, so (code, version) cannot clash here.
        pass


@admin.register(PolicyClause)
class PolicyClauseAdmin(SimpleHistoryAdmin):
    """Adding publishes a clause (or its next version) through `policy_clause_publish`."""

    list_display = ["code", "version", "title", "effective_from", "effective_to"]
    list_filter = ["code"]
    search_fields = ["code", "title"]
    form = PolicyClauseForm

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        clause = services.policy_clause_publish(
            actor=request.user,
            code=obj.code,
            title=obj.title,
            text=obj.text,
            effective_from=obj.effective_from,
            effective_to=obj.effective_to,
        )
        obj.pk, obj.version = clause.pk, clause.version
        obj._state.adding = False


@admin.register(Complaint)
class ComplaintAdmin(ReadOnlyHistoryAdmin):
    list_display = ["reference", "status", "priority", "category", "department", "decision_due_at"]
    list_filter = ["status", "priority", "channel", "department", "category"]
    search_fields = ["reference"]
    list_select_related = ["category", "department"]
    exclude = ["description"]


@admin.register(Assignment)
class AssignmentAdmin(ReadOnlyHistoryAdmin):
    list_display = ["complaint", "assignee", "assigned_at", "ended_at"]


@admin.register(Appeal)
class AppealAdmin(ReadOnlyHistoryAdmin):
    list_display = ["id", "complaint", "decision", "appellant_role", "status", "filed_at"]
    list_filter = ["status"]
    exclude = ["statement"]


@admin.register(AuthenticatorSetupCode)
class AuthenticatorSetupCodeAdmin(ReadOnlyHistoryAdmin):
    """Who was given a set-up code, by whom, and whether it was used. Codes are issued from the
    users' list (an action) or `manage.py authenticator_code`; only their hashes are kept."""

    list_display = ["user", "issued_at", "issued_by", "expires_at", "used_at", "withdrawn_at"]
    list_filter = ["used_at", "withdrawn_at"]
    search_fields = ["user__username"]
    list_select_related = ["user", "issued_by"]
    exclude = ["code_hash"]


@admin.register(Decision)
class DecisionAdmin(AppendOnlyAdmin):
    list_display = ["id", "complaint", "kind", "outcome", "decided_at"]
    list_filter = ["kind", "outcome", "ground", "automated_decision"]
    search_fields = ["complaint__reference"]


@admin.register(ComplaintTransition)
class ComplaintTransitionAdmin(AppendOnlyAdmin):
    list_display = ["complaint", "from_status", "to_status", "actor_ref", "at"]


@admin.register(Rating)
class RatingAdmin(AppendOnlyAdmin):
    list_display = ["complaint", "score", "rated_at"]
    exclude = ["comment"]


@admin.register(SlaBreach)
class SlaBreachAdmin(AppendOnlyAdmin):
    list_display = ["complaint", "stage", "due_at", "detected_at"]
    list_filter = ["stage"]


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class OmbudUserAdmin(DjangoUserAdmin):
    """Accounts. Access comes from role memberships (granted through `role_grant`, with a ledger
    entry), so only a superuser edits the flags, groups and permissions here; and an admin who is
    not a superuser cannot take over a staff account by resetting its password."""

    _ACCESS_FIELDS = ("is_superuser", "is_staff", "groups", "user_permissions")
    actions = ["issue_setup_codes"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += [f for f in self._ACCESS_FIELDS if f not in fields]
        return fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if not super().has_change_permission(request, obj):
            return False
        if obj is None or request.user.is_superuser or obj.pk == request.user.pk:
            return True
        staff_roles = (
            RoleMembership.objects.filter(user=obj, revoked_at__isnull=True)
            .exclude(role=Role.COMPLAINANT)
            .exists()
        )
        return not (obj.is_superuser or obj.is_staff or staff_roles)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # People who acted on complaints stay in the record; deactivate them instead.
        return bool(request.user.is_superuser) and super().has_delete_permission(request, obj)

    def has_setup_code_permission(self, request: HttpRequest) -> bool:
        return policies.can_issue_authenticator_codes(request.user)

    @admin.action(
        description=_("Issue authenticator set-up codes to the selected staff"),
        permissions=["setup_code"],
    )
    def issue_setup_codes(self, request: HttpRequest, queryset: Any) -> HttpResponse | None:
        """Issue each selected user a one-time set-up code and show the codes, once, on a page
        of their own (never in a message, which a cookie or the session would keep)."""
        issued = []
        for user in queryset.order_by("username"):
            try:
                row, code = services.two_factor_code_issue(actor=request.user, user=user)
            except DomainError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                issued.append({"user": user, "code": code, "expires_at": row.expires_at})
        if not issued:
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Authenticator set-up codes"),
            "opts": self.model._meta,
            "issued": issued,
        }
        response = TemplateResponse(request, "admin/auth/user/setup_codes.html", context)
        add_never_cache_headers(response)
        return response


admin.site.unregister(TOTPDevice)


@admin.register(TOTPDevice)
class AuthenticatorAdmin(TOTPDeviceAdmin):
    """Authenticators: listed, looked at and removed here (a removal is ledgered), never added
    or edited. Only its owner enrols one, at sign-in with a set-up code a superuser issued
    (`two_factor_enrol`, ledgered): an admin who could add one, confirm one or change its key
    could give themselves a second factor for someone else's account. The key itself is never
    shown (OTP_ADMIN_HIDE_SENSITIVE_DATA), and only a superuser removes one."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Removing someone's authenticator locks them out until a superuser issues them a new
        # set-up code: superusers only, as for changing staff accounts.
        return bool(request.user.is_superuser) and super().has_delete_permission(request, obj)
