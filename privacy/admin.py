"""Admin for the privacy app. Personal fields are not shown here: the privacy officer's tools
read them through the checked, logged path instead."""

from django.contrib import admin

from audits.admin import AppendOnlyAdmin

from .models import DataSubject, PersonalNote


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
