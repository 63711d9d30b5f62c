"""Admin for the ledger, and the base admin for every append-only model."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import (
    Checkpoint,
    CorrectiveAction,
    LedgerEntry,
    MerkleTile,
    OversightReport,
    QualitySample,
    Review,
    SampleItem,
)


class AppendOnlyAdmin(admin.ModelAdmin):
    """Read-only admin: no add, change or delete route, whoever asks (superusers included)."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(LedgerEntry)
class LedgerEntryAdmin(AppendOnlyAdmin):
    list_display = ["seq", "recorded_at", "event_type", "object_ref", "actor_ref"]
    list_filter = ["event_type"]
    search_fields = ["object_ref"]
    ordering = ["-seq"]


@admin.register(Checkpoint)
class CheckpointAdmin(AppendOnlyAdmin):
    list_display = ["tree_size", "signed_at", "key_id", "root_hash"]
    ordering = ["-tree_size"]


@admin.register(MerkleTile)
class MerkleTileAdmin(AppendOnlyAdmin):
    list_display = ["level", "index", "hash"]
    list_filter = ["level"]


@admin.register(QualitySample, SampleItem, Review)
class SamplingAdmin(AppendOnlyAdmin):
    """Samples, their items and reviews, read-only (drawn and written by audits.sampling)."""


@admin.register(CorrectiveAction)
class CorrectiveActionAdmin(AppendOnlyAdmin):
    """Read-only: a lead closes an action through the API, so the close is in the ledger."""

    list_display = ["id", "department", "status", "opened_at", "closed_at"]
    list_filter = ["status", "department"]


@admin.register(OversightReport)
class OversightReportAdmin(AppendOnlyAdmin):
    """Read-only: reports are published by supervisors (publish_report or the API), never edited."""

    list_display = ["number", "period", "published_at", "published_by_ref", "supersedes"]
    list_filter = ["period_kind"]
    exclude = ["csv", "html_en", "html_zh_hans"]
