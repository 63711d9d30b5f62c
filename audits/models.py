"""The append-only base model and the ledger."""

from __future__ import annotations

from typing import Any, NoReturn

from django.db import models
from django.utils.translation import gettext_lazy as _

from governance.errors import ImmutableRecord


def _refuse(what: str, model: type[models.Model] | None = None) -> NoReturn:
    name = model._meta.verbose_name if model is not None else _("record")
    raise ImmutableRecord(
        _(
            "%(name)s rows are append-only: %(what)s is refused. "
            "Record a new entry that references this one instead."
        )
        % {"name": name, "what": what}
    )


class AppendOnlyQuerySet(models.QuerySet):
    """A queryset that can add and read rows but never change or remove them."""

    def update(self, **kwargs: Any) -> NoReturn:
        _refuse("update", self.model)

    def delete(self) -> NoReturn:  # type: ignore[override]
        _refuse("delete", self.model)

    def bulk_update(self, objs: Any, fields: Any, batch_size: Any = None) -> NoReturn:
        _refuse("bulk_update", self.model)

    def update_or_create(self, *args: Any, **kwargs: Any) -> NoReturn:  # type: ignore[override]
        _refuse("update_or_create", self.model)


class AppendOnlyModel(models.Model):
    """Abstract base: a row is written once and never changed or deleted.

    The database refuses too: `audits.triggers.AppendOnlyTriggers` in each concrete model's
    migration installs triggers that reject UPDATE, DELETE and TRUNCATE from any client.
    """

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            _refuse("save of an existing row", type(self))
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:  # type: ignore[override]
        _refuse("delete", type(self))


class LedgerEntry(AppendOnlyModel):
    """One event in Ombud's append-only ledger, numbered without gaps from 0."""

    seq = models.BigIntegerField(primary_key=True, verbose_name=_("sequence number"))
    recorded_at = models.DateTimeField(verbose_name=_("recorded at"))
    # No `choices` here: a new event type must never need a migration that rebuilds this
    # append-only table (on SQLite a rebuild drops its triggers). ledger_append validates it.
    event_type = models.CharField(max_length=64, db_index=True)
    object_ref = models.CharField(
        max_length=128,
        db_index=True,
        help_text=_("The object's reference, e.g. complaint:CMP-2026-000123 or decision:42."),
    )
    actor_ref = models.CharField(
        max_length=64, help_text=_("Pseudonymous id of the actor; never a name.")
    )
    body = models.TextField(
        help_text=_("Canonical JSON (sorted keys, no whitespace, UTF-8) of the whole entry.")
    )
    leaf_hash = models.CharField(max_length=64, help_text=_("SHA-256(0x00 || body), hex."))

    class Meta:
        ordering = ["seq"]
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        constraints = [
            models.CheckConstraint(condition=models.Q(seq__gte=0), name="ledger_seq_gte_0")
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.event_type} {self.object_ref}"


class Checkpoint(AppendOnlyModel):
    """One signed statement of the ledger's size and root hash at a moment."""

    tree_size = models.BigIntegerField(unique=True)
    root_hash = models.CharField(max_length=64, help_text=_("MTH of the first tree_size leaves."))
    origin = models.CharField(max_length=200)
    signed_at = models.DateTimeField()
    key_id = models.CharField(max_length=8, help_text=_("Hex id of the signing key."))
    note = models.TextField(help_text=_("The signed note, exactly as signed."))

    class Meta:
        ordering = ["-tree_size"]
        verbose_name = _("checkpoint")
        verbose_name_plural = _("checkpoints")

    def __str__(self) -> str:
        return f"{self.origin} @ {self.tree_size}"


class MerkleTile(AppendOnlyModel):
    """The hash of one complete, aligned block of leaves, cached so proofs need not read them all.

    Level 1 covers 256 leaves, level 2 covers 65,536 (256 level-1 tiles); a tile is written once
    its block is full and never changes, since the leaves under it never change.
    """

    level = models.PositiveSmallIntegerField()
    index = models.BigIntegerField()
    hash = models.CharField(max_length=64)

    class Meta:
        verbose_name = _("Merkle tile")
        verbose_name_plural = _("Merkle tiles")
        constraints = [
            models.UniqueConstraint(fields=["level", "index"], name="merkle_tile_level_index")
        ]

    def __str__(self) -> str:
        return f"tile {self.level}/{self.index}"
