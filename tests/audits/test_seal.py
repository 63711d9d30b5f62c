"""Sealing the ledger: signed checkpoints over the stored tree, its cached tiles, the commands."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from audits import merkle, notes, signing
from audits.choices import EventType
from audits.models import Checkpoint, LedgerEntry, MerkleTile
from audits.services import ledger_append, ledger_seal, system_actor_ref
from audits.tree import StoredTree
from audits.verification import Divergence, verify_ledger
from governance.choices import ComplaintStatus
from governance.models import ComplaintTransition, Decision
from tests import factories

AT = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
SMALL_TILE = 4  # level-1 tiles of 4 leaves, level-2 tiles of 16


def _append(count: int) -> None:
    """Append `count` entries in one transaction (no row describes them, so they verify)."""
    start = LedgerEntry.objects.count()
    with transaction.atomic():
        for n in range(start, start + count):
            ledger_append(
                event_type=EventType.REFERENCE_DATA_CHANGED,
                object_ref=f"test:{n}",
                actor_ref=system_actor_ref("test"),
                data={"n": n},
                at=AT + timedelta(seconds=n),
            )


def _leaves() -> list[bytes]:
    return [
        bytes.fromhex(h)
        for h in LedgerEntry.objects.order_by("seq").values_list("leaf_hash", flat=True)
    ]


def _tiles(level: int) -> dict[int, str]:
    return dict(MerkleTile.objects.filter(level=level).values_list("index", "hash"))


@pytest.fixture
def small_tiles(monkeypatch: pytest.MonkeyPatch) -> int:
    """Make tiles 4 leaves wide, so a few dozen entries fill several of both levels.

    StoredTree and _write_tiles both read audits.tree.TILE_WIDTH when they run (_write_tiles
    imports it inside the function), so the module attribute is the one to patch.
    """
    monkeypatch.setattr("audits.tree.TILE_WIDTH", SMALL_TILE)
    return SMALL_TILE


def _assert_same_tree(
    stored: StoredTree, leaves: list[bytes], *, every_size: bool, ranges: bool = True
) -> None:
    """StoredTree answers subtrees and proofs exactly as LeafList does over `leaves`.

    Checks the root of every prefix and (with `ranges`) every range whose width is a power of
    two and every range from a few starting points; then every leaf's inclusion proof and
    every consistency proof, at every tree size up to len(leaves) or, without `every_size`,
    into the full tree only.
    """
    reference = merkle.LeafList(leaves)
    size = len(leaves)
    roots = [merkle.EMPTY_ROOT] + [reference.subtree(0, n) for n in range(1, size + 1)]
    for n in range(1, size + 1):
        assert stored.subtree(0, n) == roots[n], n
    width = 1
    while ranges and width <= size:
        # Aligned ranges are what tiles stand for; unaligned ones of the same width must not be
        # mistaken for them.
        for lo in range(size - width + 1):
            assert stored.subtree(lo, lo + width) == reference.subtree(lo, lo + width), (lo, width)
        width *= 2
    for lo in (1, 5, 16) if ranges else ():
        for hi in range(lo + 1, size + 1):
            assert stored.subtree(lo, hi) == reference.subtree(lo, hi), (lo, hi)
    for n in range(1, size + 1) if every_size else [size]:
        for m in range(n):
            proof = merkle.inclusion_proof(stored, m, n)
            assert proof == merkle.inclusion_proof(reference, m, n), (m, n)
            assert merkle.verify_inclusion(leaves[m], m, n, proof, roots[n]), (m, n)
        for m in range(1, n + 1):
            proof = merkle.consistency_proof(stored, m, n)
            assert proof == merkle.consistency_proof(reference, m, n), (m, n)
            assert merkle.verify_consistency(m, n, roots[m], roots[n], proof), (m, n)


# --- Sealing ---------------------------------------------------------------------------------


def test_seal_signs_a_checkpoint_over_every_entry():
    # given: entries written by the real services
    factories.flow_at(ComplaintStatus.DECIDED)
    leaves = _leaves()
    assert len(leaves) > 5
    # when
    checkpoint, created = ledger_seal(now=AT.replace(microsecond=123456))
    # then
    assert created
    assert checkpoint.tree_size == len(leaves)
    assert checkpoint.root_hash == merkle.root_of(leaves).hex()
    assert checkpoint.origin == signing.key_name() == "ombud.test"
    assert checkpoint.signed_at == AT
    assert checkpoint.key_id == signing.current_verifier_key().id.hex()
    statement, key = notes.verify_checkpoint(checkpoint.note, signing.verifier_keys())
    assert statement == notes.Checkpoint("ombud.test", len(leaves), merkle.root_of(leaves), AT)
    assert key == signing.current_verifier_key()
    assert Checkpoint.objects.get() == checkpoint


def test_seal_root_is_the_root_of_the_entry_bodies():
    # The root commits to the bodies themselves: leaves recomputed from them give that root.
    factories.flow_at(ComplaintStatus.ACKNOWLEDGED)
    bodies = LedgerEntry.objects.order_by("seq").values_list("body", flat=True)

    checkpoint, _created = ledger_seal()

    leaves = [hashlib.sha256(b"\x00" + body.encode("utf-8")).digest() for body in bodies]
    assert checkpoint.root_hash == merkle.root_of(leaves).hex()


def test_seal_of_the_empty_ledger_signs_the_empty_root():
    assert not LedgerEntry.objects.exists()

    checkpoint, created = ledger_seal(now=AT)

    assert created
    assert checkpoint.tree_size == 0
    assert checkpoint.root_hash == hashlib.sha256(b"").hexdigest()
    statement, _key = notes.verify_checkpoint(checkpoint.note, signing.verifier_keys())
    assert statement.tree_size == 0
    assert statement.root_hash == merkle.EMPTY_ROOT


def test_sealing_again_without_new_entries_returns_the_same_checkpoint():
    # given
    _append(5)
    first, created = ledger_seal(now=AT)
    assert created
    # when: later, nothing appended
    again, created_again = ledger_seal(now=AT + timedelta(hours=1))
    # then
    assert not created_again
    assert again.pk == first.pk
    assert again.note == first.note
    assert again.signed_at == AT
    assert Checkpoint.objects.count() == 1


def test_sealing_again_writes_nothing(small_tiles):
    _append(10)
    ledger_seal()
    tiles = MerkleTile.objects.count()
    assert tiles > 0

    with CaptureQueriesContext(connection) as queries:
        ledger_seal()

    writes = [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith("INSERT")]
    assert writes == []
    assert Checkpoint.objects.count() == 1
    assert MerkleTile.objects.count() == tiles


def test_after_more_entries_a_new_checkpoint_covers_them():
    # given
    factories.flow_at(ComplaintStatus.ACKNOWLEDGED)
    first, _created = ledger_seal(now=AT)
    # when
    factories.flow_at(ComplaintStatus.TRIAGED)
    second, created = ledger_seal(now=AT + timedelta(minutes=5))
    # then
    leaves = _leaves()
    assert created
    assert second.tree_size == len(leaves) > first.tree_size
    assert second.root_hash == merkle.root_of(leaves).hex()
    assert second.signed_at == AT + timedelta(minutes=5)
    assert list(Checkpoint.objects.values_list("tree_size", flat=True)) == [
        second.tree_size,
        first.tree_size,
    ]
    for checkpoint in (first, second):
        statement, _key = notes.verify_checkpoint(checkpoint.note, signing.verifier_keys())
        assert statement.tree_size == checkpoint.tree_size
    # and the old head is a prefix of the new one
    proof = merkle.consistency_proof(StoredTree(), first.tree_size, second.tree_size)
    assert merkle.verify_consistency(
        first.tree_size,
        second.tree_size,
        bytes.fromhex(first.root_hash),
        bytes.fromhex(second.root_hash),
        proof,
    )


def test_seal_ledger_command_prints_the_checkpoint():
    _append(3)
    out = StringIO()

    call_command("seal_ledger", stdout=out)

    checkpoint = Checkpoint.objects.get()
    assert checkpoint.tree_size == 3
    assert out.getvalue() == (
        f"Signed checkpoint 3 (root {checkpoint.root_hash}, key {checkpoint.key_id}).\n"
    )


def test_seal_ledger_command_says_when_nothing_changed():
    _append(3)
    call_command("seal_ledger", stdout=StringIO())
    out = StringIO()

    call_command("seal_ledger", stdout=out)

    checkpoint = Checkpoint.objects.get()
    assert out.getvalue() == (
        f"Unchanged since checkpoint 3 (root {checkpoint.root_hash}, key {checkpoint.key_id}).\n"
    )


# --- The stored tree and its tiles ----------------------------------------------------------


def test_stored_tree_without_tiles_matches_leaf_list():
    _append(21)
    ledger_seal()
    assert not MerkleTile.objects.exists()  # 21 entries fill no 256-leaf tile

    _assert_same_tree(StoredTree(), _leaves(), every_size=True)


def test_stored_tree_with_tiles_matches_leaf_list(small_tiles):
    # given: 43 entries, sealed with tiles of 4 (level 1) and 16 (level 2)
    _append(43)
    checkpoint, _created = ledger_seal()
    leaves = _leaves()
    assert checkpoint.root_hash == merkle.root_of(leaves).hex()
    assert len(_tiles(1)) == 10
    assert len(_tiles(2)) == 2
    # then: every leaf's proof at every size and every consistency proof agree
    _assert_same_tree(StoredTree(), leaves, every_size=True)


@pytest.mark.parametrize(
    ("size", "level_1", "level_2"),
    [(3, 0, 0), (4, 1, 0), (15, 3, 0), (16, 4, 1), (17, 4, 1), (43, 10, 2), (64, 16, 4)],
)
def test_tiles_are_written_for_complete_blocks_only(small_tiles, size, level_1, level_2):
    _append(size)

    ledger_seal()

    leaves = _leaves()
    assert _tiles(1) == {
        i: merkle.root_of(leaves[i * 4 : (i + 1) * 4]).hex() for i in range(level_1)
    }
    assert _tiles(2) == {
        i: merkle.root_of(leaves[i * 16 : (i + 1) * 16]).hex() for i in range(level_2)
    }


def test_later_seals_add_the_tiles_that_filled_up_since(small_tiles):
    # given
    _append(43)
    ledger_seal()
    before = {level: _tiles(level) for level in (1, 2)}
    # when
    _append(30)
    checkpoint, created = ledger_seal()
    # then: old tiles kept as they were, new complete blocks added, none past 73 leaves
    leaves = _leaves()
    assert created
    assert checkpoint.tree_size == 73
    tiles_1, tiles_2 = _tiles(1), _tiles(2)
    assert sorted(tiles_1) == list(range(18))
    assert sorted(tiles_2) == list(range(4))
    assert before[1].items() <= tiles_1.items()
    assert before[2].items() <= tiles_2.items()
    for i, digest in tiles_1.items():
        assert digest == merkle.root_of(leaves[i * 4 : (i + 1) * 4]).hex()
    for i, digest in tiles_2.items():
        assert digest == merkle.root_of(leaves[i * 16 : (i + 1) * 16]).hex()
    assert checkpoint.root_hash == merkle.root_of(leaves).hex()
    _assert_same_tree(StoredTree(), leaves, every_size=False, ranges=False)


def test_stored_tree_reads_tiles_not_leaves_where_tiles_exist(small_tiles, monkeypatch):
    # given
    _append(43)
    ledger_seal()
    leaves = _leaves()
    reads: list[tuple[int, int]] = []
    real = StoredTree.leaf_hashes

    def spy(self: StoredTree, lo: int, hi: int) -> list[bytes]:
        reads.append((lo, hi))
        return real(self, lo, hi)

    monkeypatch.setattr(StoredTree, "leaf_hashes", spy)
    # when / then: [0, 32) is two level-2 tiles, [32, 40) two level-1 tiles
    assert StoredTree().subtree(0, 32) == merkle.root_of(leaves[:32])
    assert StoredTree().subtree(32, 40) == merkle.root_of(leaves[32:40])
    assert reads == []
    # only the incomplete block at the end is read leaf by leaf
    assert StoredTree().subtree(0, 43) == merkle.root_of(leaves)
    assert reads == [(40, 42), (42, 43)]


def test_stored_tree_reads_tiles_from_the_database_once(small_tiles, django_assert_num_queries):
    _append(32)
    ledger_seal()
    tree = StoredTree()

    with django_assert_num_queries(1):
        tree.subtree(0, 32)  # one query for both level-2 tiles
    with django_assert_num_queries(0):
        tree.subtree(0, 16)  # cached


def test_stored_tree_refuses_leaves_the_ledger_lacks():
    _append(5)

    with pytest.raises(LookupError, match="lacks entries"):
        StoredTree().subtree(0, 8)
    with pytest.raises(ValueError, match="empty range"):
        StoredTree().subtree(3, 3)


def test_stored_tree_with_default_tiles_matches_leaf_list_across_a_level_1_tile():
    # One real 256-leaf tile, to see the production width work end to end.
    _append(259)
    checkpoint, _created = ledger_seal()
    leaves = _leaves()

    assert _tiles(1) == {0: merkle.root_of(leaves[:256]).hex()}
    assert _tiles(2) == {}
    assert checkpoint.root_hash == merkle.root_of(leaves).hex()
    reference = merkle.LeafList(leaves)
    stored = StoredTree()
    for m in (0, 1, 127, 255, 256, 258):
        assert merkle.inclusion_proof(stored, m, 259) == merkle.inclusion_proof(reference, m, 259)
    for m in (1, 200, 256, 257, 259):
        assert merkle.consistency_proof(stored, m, 259) == merkle.consistency_proof(
            reference, m, 259
        )


# --- verify_ledger --------------------------------------------------------------------------


def test_verify_ledger_command_passes_an_untouched_log_and_counts_it():
    # given
    factories.flow_at(ComplaintStatus.CLOSED)
    ledger_seal(now=AT)
    factories.flow_at(ComplaintStatus.DECIDED)
    ledger_seal(now=AT + timedelta(minutes=1))
    entries = LedgerEntry.objects.count()
    out = StringIO()
    # when
    call_command("verify_ledger", stdout=out)
    # then
    assert out.getvalue().startswith(
        f"Ledger verified: {entries} entries, 2 signed checkpoints, rows matched: "
        f"{Decision.objects.count()} governance_decision, "
        f"{ComplaintTransition.objects.count()} governance_complainttransition ("
    )
    assert Decision.objects.count() == 2


def test_verify_ledger_command_counts_a_log_sealed_with_tiles(small_tiles):
    _append(40)
    ledger_seal()
    _append(3)
    out = StringIO()

    call_command("verify_ledger", stdout=out)

    assert out.getvalue().startswith("Ledger verified: 43 entries, 1 signed checkpoints, ")


# --- Rotating the signing key ---------------------------------------------------------------


def _seed(label: str) -> str:
    return base64.b64encode(hashlib.sha256(label.encode()).digest()).decode()


def _verifier_of(seed: str) -> notes.VerifierKey:
    private = Ed25519PrivateKey.from_private_bytes(base64.b64decode(seed))
    return notes.VerifierKey(signing.key_name(), notes.public_bytes(private.public_key()))


def test_checkpoints_of_a_retired_key_verify_while_it_is_listed(settings: Any):
    # given: a checkpoint signed with the current key
    retired = signing.current_verifier_key()
    assert "+" not in retired.encode().split("+", 2)[2]  # this test is about rotation only
    _append(4)
    old, _created = ledger_seal(now=AT)
    # when: the key is rotated, the retired one listed
    settings.OMBUD_LEDGER_SIGNING_KEY = _seed("the next ledger key")
    settings.OMBUD_LEDGER_PUBLIC_KEYS = [retired.encode()]
    _append(2)
    new, _created = ledger_seal(now=AT + timedelta(days=1))
    # then
    assert new.key_id != old.key_id
    assert new.key_id == _verifier_of(_seed("the next ledger key")).id.hex()
    assert signing.verifier_keys() == [signing.current_verifier_key(), retired]
    assert verify_ledger().checkpoints == 2
    # and without it, the old checkpoint no longer verifies
    settings.OMBUD_LEDGER_PUBLIC_KEYS = []
    with pytest.raises(Divergence, match="checkpoint 4: no signature"):
        verify_ledger()


def test_any_retired_verifier_key_can_be_listed(settings: Any):
    # About half of all Ed25519 verifier keys have a "+" in their base64.
    retired = _verifier_of(_seed("new signing key"))
    assert "+" in retired.encode().split("+", 2)[2]
    settings.OMBUD_LEDGER_PUBLIC_KEYS = [retired.encode()]

    assert signing.verifier_keys() == [signing.current_verifier_key(), retired]
