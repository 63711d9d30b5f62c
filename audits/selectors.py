"""Policy-bound reads of the ledger: checkpoints, entries, proofs, keys and evidence bundles."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, QuerySet
from django.utils.translation import gettext as _

from governance import policies
from governance.choices import ACTING_OUTCOMES
from governance.errors import NotFound, PermissionDenied, ValidationFailed
from governance.models import Decision

from . import early_warning, merkle, notes, signing, statements
from .choices import EventType
from .models import (
    Checkpoint,
    CorrectiveAction,
    LedgerEntry,
    OversightReport,
    QualitySample,
    SampleItem,
)
from .tree import StoredTree

BUNDLE_FORMAT = "ombud-evidence/1"


def _require_ledger_reader(user: Any) -> None:
    if not policies.can_read_ledger(user):
        raise PermissionDenied(_("Your role does not include the ledger."))


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def checkpoint_list(*, user: Any) -> QuerySet[Checkpoint]:
    """List the signed checkpoints, newest first."""
    _require_ledger_reader(user)
    return Checkpoint.objects.order_by("-tree_size")


def checkpoint_get(*, user: Any, tree_size: int | None = None) -> Checkpoint:
    """Return the checkpoint of `tree_size`, or the latest; NotFound if there is none."""
    checkpoints = checkpoint_list(user=user)
    checkpoint = (
        checkpoints.first()
        if tree_size is None
        else checkpoints.filter(tree_size=tree_size).first()
    )
    if checkpoint is None:
        raise NotFound(
            _("No checkpoint of that size is signed; run seal_ledger or ask for the latest.")
        )
    return checkpoint


def entry_get(*, user: Any, seq: int) -> LedgerEntry:
    """Return one ledger entry (bodies hold no personal data, only references and hashes)."""
    _require_ledger_reader(user)
    entry = LedgerEntry.objects.filter(seq=seq).first()
    if entry is None:
        raise NotFound(_("The ledger has no entry %s yet.") % seq)
    return entry


def inclusion_proof(*, user: Any, seq: int, tree_size: int | None = None) -> dict[str, Any]:
    """Return the audit path of entry `seq` against a signed checkpoint (the latest by default)."""
    entry = entry_get(user=user, seq=seq)
    checkpoint = checkpoint_get(user=user, tree_size=tree_size)
    if seq >= checkpoint.tree_size:
        raise ValidationFailed(
            _("Entry %(seq)s is newer than checkpoint %(size)s; wait for the next seal.")
            % {"seq": seq, "size": checkpoint.tree_size},
            fields={"tree_size": [_("Choose a checkpoint that covers this entry.")]},
        )
    proof = merkle.inclusion_proof(StoredTree(), seq, checkpoint.tree_size)
    return {
        "seq": seq,
        "leaf_hash": entry.leaf_hash,
        "tree_size": checkpoint.tree_size,
        "root_hash": checkpoint.root_hash,
        "proof": [_b64(p) for p in proof],
        "checkpoint": checkpoint.note,
    }


# --- an entry checked in place ----------------------------------------------------------

VERIFIED, AWAITING, FAILED = "verified", "awaiting", "failed"


@dataclass
class LedgerCheck:
    """One ledger entry about the complaint and what checking it against a checkpoint showed."""

    entry: LedgerEntry
    state: str
    tree_size: int | None = None
    doc: dict[str, Any] = field(default_factory=dict)

    @property
    def event_label(self) -> str:
        try:
            return str(EventType(self.entry.event_type).label)
        except ValueError:
            return self.entry.event_type


def _signed_root(checkpoint: Checkpoint) -> bytes | None:
    """Return the root the checkpoint's signed note states, or None if the note does not verify
    or disagrees with the stored row."""
    try:
        statement, _key = notes.verify_checkpoint(checkpoint.note, signing.verifier_keys())
    except notes.NoteError:
        return None
    if statement.tree_size != checkpoint.tree_size or statement.root_hash.hex() != (
        checkpoint.root_hash
    ):
        return None
    return statement.root_hash


def ledger_entry_checks(*, user: Any, object_refs: Iterable[str]) -> list[LedgerCheck]:
    """Check each ledger entry about the given objects against the latest signed checkpoint.

    One query reads the entries and one the checkpoint; each sealed entry's audit path comes
    from one stored tree (cached tiles, each node read once) and is verified with
    `merkle.verify_inclusion` over the hash of the entry's own body, against the root that the
    checkpoint's signature covers: what the offline verifier checks, done in place.
    """
    _require_ledger_reader(user)
    entries = list(LedgerEntry.objects.filter(object_ref__in=list(object_refs)).order_by("seq"))
    try:
        checkpoint: Checkpoint | None = checkpoint_get(user=user)
    except NotFound:
        checkpoint = None
    root = _signed_root(checkpoint) if checkpoint is not None else None
    tree = StoredTree()
    checks = []
    for entry in entries:
        try:
            doc = json.loads(entry.body)
        except ValueError:
            doc = {}
        if checkpoint is None or entry.seq >= checkpoint.tree_size:
            checks.append(LedgerCheck(entry, AWAITING, doc=doc))
            continue
        size = checkpoint.tree_size
        ok = False
        if root is not None:
            try:
                proof = merkle.inclusion_proof(tree, entry.seq, size)
            except (LookupError, ValueError):
                proof = None
            ok = proof is not None and merkle.verify_inclusion(
                merkle.hash_leaf(entry.body.encode("utf-8")), entry.seq, size, proof, root
            )
        checks.append(LedgerCheck(entry, VERIFIED if ok else FAILED, size, doc))
    return checks


def consistency_proof(*, user: Any, first: int, second: int) -> dict[str, Any]:
    """Return the proof that checkpoint `first` is a prefix of checkpoint `second`."""
    old = checkpoint_get(user=user, tree_size=first)
    new = checkpoint_get(user=user, tree_size=second)
    if not 0 < old.tree_size <= new.tree_size:
        raise ValidationFailed(
            _("No consistency proof from %(a)s to %(b)s.") % {"a": first, "b": second},
            fields={"first": [_("Choose a non-empty checkpoint no larger than the second.")]},
        )
    proof = merkle.consistency_proof(StoredTree(), old.tree_size, new.tree_size)
    return {
        "first": old.tree_size,
        "second": new.tree_size,
        "first_root": old.root_hash,
        "second_root": new.root_hash,
        "proof": [_b64(p) for p in proof],
    }


def public_keys(*, user: Any) -> list[dict[str, str]]:
    """Return the verifier keys of every signing key, current first."""
    _require_ledger_reader(user)
    return [
        {"name": key.name, "key_id": key.id.hex(), "verifier_key": key.encode()}
        for key in signing.verifier_keys()
    ]


def evidence_bundle(
    *, user: Any, title: str, object_refs: Iterable[str], consistency_from: Iterable[int] = ()
) -> dict[str, Any]:
    """Return the evidence bundle about `object_refs` for a ledger reader."""
    _require_ledger_reader(user)
    return build_evidence_bundle(
        title=title, object_refs=object_refs, consistency_from=consistency_from
    )


def build_evidence_bundle(
    *, title: str, object_refs: Iterable[str], consistency_from: Iterable[int] = ()
) -> dict[str, Any]:
    """Build a self-contained bundle: the entries about `object_refs`, their inclusion proofs
    against the latest checkpoint, that checkpoint, the public keys and, for each earlier
    checkpoint size asked for (default: the 256 latest earlier ones), a consistency proof.

    No policy check: for `evidence_bundle` and the operator's export_evidence command.
    """
    object_refs = list(object_refs)
    checkpoint = Checkpoint.objects.order_by("-tree_size").first()
    if checkpoint is None:
        raise NotFound(_("No checkpoint is signed yet; run seal_ledger first."))
    tree = StoredTree()
    entries = LedgerEntry.objects.filter(
        object_ref__in=object_refs, seq__lt=checkpoint.tree_size
    ).order_by("seq")
    pending = LedgerEntry.objects.filter(
        object_ref__in=object_refs, seq__gte=checkpoint.tree_size
    ).count()
    sizes = list(consistency_from) or list(
        Checkpoint.objects.filter(tree_size__gt=0, tree_size__lt=checkpoint.tree_size)
        .order_by("-tree_size")
        .values_list("tree_size", flat=True)[:256]
    )
    return {
        "format": BUNDLE_FORMAT,
        "title": title,
        "checkpoint": checkpoint.note,
        "keys": [key.encode() for key in signing.verifier_keys()],
        "entries": [
            {
                "seq": e.seq,
                "body": e.body,
                "proof": [
                    _b64(p) for p in merkle.inclusion_proof(tree, e.seq, checkpoint.tree_size)
                ],
            }
            for e in entries
        ],
        "consistency": [
            {
                "from_size": size,
                "proof": [
                    _b64(p) for p in merkle.consistency_proof(tree, size, checkpoint.tree_size)
                ],
            }
            for size in sizes
            if 0 < size <= checkpoint.tree_size
        ],
        "entries_not_yet_sealed": pending,
    }


# --- quality sampling ----------------------------------------------------------------------------


def sample_list(*, user: Any) -> QuerySet[QualitySample]:
    """List the quality samples, newest period first (oversight roles only)."""
    if not policies.can_read_samples(user):
        raise PermissionDenied(_("Your role does not include quality samples."))
    return QualitySample.objects.order_by("-period_start", "-id")


def sample_get(*, user: Any, pk: int) -> QualitySample:
    """Return one quality sample, or NotFound."""
    sample = sample_list(user=user).filter(pk=pk).first()
    if sample is None:
        raise NotFound(_("No sample %s exists; list the samples to find its number.") % pk)
    return sample


def sample_items(sample: QualitySample) -> QuerySet[SampleItem]:
    """Return a sample's items with their review counts and corrective action joined."""
    return (
        sample.items.select_related("corrective_action")
        .annotate(review_count=Count("reviews"))
        .order_by("id")
    )


def sample_item_get(*, user: Any, pk: int) -> SampleItem:
    """Return one sample item for a reviewer, or NotFound."""
    if not policies.can_review_samples(user):
        raise PermissionDenied(_("Only supervisors review sampled decisions."))
    item = _items_for_review().filter(pk=pk).first()
    if item is None:
        raise NotFound(_("No sample item %s exists; ask for your next item instead.") % pk)
    return item


def _items_for_review() -> QuerySet[SampleItem]:
    return SampleItem.objects.select_related(
        "sample",
        "decision__policy_clause",
        "decision__decided_by",
        "decision__complaint__department",
        "decision__complaint__category",
        "decision__complaint__complainant",
    )


def sample_item_next(*, user: Any, sample: QualitySample) -> SampleItem:
    """Return the first item of `sample` that still needs a review `user` may give."""
    if not policies.can_review_samples(user):
        raise PermissionDenied(_("Only supervisors review sampled decisions."))
    candidates = (
        _items_for_review()
        .filter(sample=sample)
        .exclude(reviews__reviewer=user)
        .annotate(review_count=Count("reviews"))
        .order_by("id")
    )
    for item in candidates:
        if item.review_count < item.reviews_needed and policies.can_review_decision(
            user, item.decision
        ):
            return item
    raise NotFound(
        _(
            "Nothing in sample %s is left for you to review: every item has its reviews, or you "
            "took part in the decisions still open."
        )
        % sample.pk
    )


def corrective_action_list(*, user: Any) -> QuerySet[CorrectiveAction]:
    """List the corrective actions `user` may follow, open ones first."""
    if not policies.can_list_corrective_actions(user):
        raise PermissionDenied(_("Your role does not include corrective actions."))
    return policies.restrict_corrective_actions(
        CorrectiveAction.objects.select_related("department", "item", "review"), user
    ).order_by("-status", "-opened_at", "-id")


def corrective_action_get(*, user: Any, pk: int) -> CorrectiveAction:
    """Return one corrective action `user` may follow, or NotFound."""
    action = corrective_action_list(user=user).filter(pk=pk).first()
    if action is None:
        raise NotFound(_("No corrective action %s is visible to you.") % pk)
    return action


# --- oversight: DSA statements of reasons and the early warning ---------------------------------


def statement_export(*, user: Any, since: date) -> statements.StatementExport:
    """Return the statements of reasons of the decisions in force decided since `since`."""
    if not policies.can_read_statements_of_reasons(user):
        raise PermissionDenied(_("Your role does not include the statements of reasons."))
    return build_statement_export(since=since, decisions=Decision.objects.visible_to(user))


def build_statement_export(*, since: date, decisions: Any = None) -> statements.StatementExport:
    """Map and check the restrictive decisions in force decided since `since` (business day).

    Only the decision in force is exported: see audits/statements.py on corrections and appeals.
    No policy check: for `statement_export` and the operator's export_statements command.
    """
    zone = ZoneInfo(settings.OMBUD_BUSINESS_TIME_ZONE)
    queryset = Decision.objects.all() if decisions is None else decisions
    in_force = (
        queryset.filter(
            decided_at__gte=datetime.combine(since, time.min, tzinfo=zone),
            superseded_by__isnull=True,
            # Other outcomes take no action (governance.services.decisions._clean_decision).
            outcome__in=sorted(ACTING_OUTCOMES),
        )
        .select_related(
            "complaint__category",
            "complaint__complainant",
            "complaint__affected_subject",
            "policy_clause",
            "decided_by",
        )
        .order_by("decided_at", "id")
    )
    return statements.build_export(in_force.iterator(chunk_size=500), origin=settings.OMBUD_ORIGIN)


def early_warning_get(*, user: Any, day: date | None = None) -> early_warning.EarlyWarning:
    """Return every category's count on `day` against its baseline, spikes flagged."""
    if not policies.can_read_early_warning(user):
        raise PermissionDenied(_("Your role does not include the early warning."))
    return early_warning.category_spikes(day=day)


# --- oversight reports -------------------------------------------------------------------------


def published_reports() -> QuerySet[OversightReport]:
    """Return every published report, newest first: public, as the transparency page shows.

    Published reports hold only suppressed aggregates, so this read needs no user; the heavy
    file columns are deferred until a file is asked for.
    """
    return (
        OversightReport.objects.select_related("superseded_by", "supersedes", "checkpoint")
        .defer("csv", "html_en", "html_zh_hans")
        .order_by("-period_start", "-number")
    )


def published_report_get(*, number: int) -> OversightReport:
    """Return one published report by number, or NotFound."""
    report = (
        OversightReport.objects.select_related("superseded_by", "supersedes")
        .filter(number=number)
        .first()
    )
    if report is None:
        raise NotFound(_("No report %s is published; see the list of reports.") % number)
    return report


def report_list(*, user: Any) -> QuerySet[OversightReport]:
    """List the reports over the API (oversight roles; the public reads the transparency page)."""
    if not policies.can_read_reports(user):
        raise PermissionDenied(_("Your role does not include oversight reports."))
    return published_reports()


def report_get(*, user: Any, number: int) -> OversightReport:
    """Return one report over the API, or NotFound."""
    report_list(user=user)
    return published_report_get(number=number)
