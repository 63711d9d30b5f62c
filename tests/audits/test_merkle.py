"""The Merkle tree against RFC 9162 section 2.1, transcribed here independently of audits.merkle.

The reference functions below follow the RFC's recursive definitions line by line (MTH, PATH,
PROOF/SUBPROOF) over the data entries themselves, and are anchored to the Certificate
Transparency test vectors; audits.merkle is then checked against them for every tree size up
to 64, every leaf and every pair of sizes.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

import pytest

from audits import merkle
from audits.merkle import (
    EMPTY_ROOT,
    LeafList,
    RootAccumulator,
    consistency_proof,
    hash_children,
    hash_leaf,
    inclusion_proof,
    root_of,
    split_point,
    verify_consistency,
    verify_inclusion,
)

MAX_SIZE = 64
SIZES = range(1, MAX_SIZE + 1)

# --- RFC 9162 section 2.1, transcribed ------------------------------------------------------


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: tuple[bytes, ...]) -> bytes:
    """MTH(D[n]) of RFC 9162 2.1.1, over the entries (not their leaf hashes)."""
    return _mth_cached(d)


@cache
def _mth_cached(d: tuple[bytes, ...]) -> bytes:
    n = len(d)
    if n == 0:
        return _sha256(b"")
    if n == 1:
        return _sha256(b"\x00" + d[0])
    k = _k(n)
    return _sha256(b"\x01" + mth(d[0:k]) + mth(d[k:n]))


def path(m: int, d: tuple[bytes, ...]) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 2.1.3.1."""
    n = len(d)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*path(m, d[0:k]), mth(d[k:n])]
    return [*path(m - k, d[k:n]), mth(d[0:k])]


def proof(m: int, d: tuple[bytes, ...]) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 9162 2.1.4.1."""
    return subproof(m, d, True)


def subproof(m: int, d: tuple[bytes, ...], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = _k(n)
    if m <= k:
        return [*subproof(m, d[0:k], b), mth(d[k:n])]
    return [*subproof(m - k, d[k:n], False), mth(d[0:k])]


def root_from_path(leaf: bytes, m: int, n: int, audit_path: list[bytes]) -> bytes | None:
    """The root that `audit_path` yields for leaf m in a tree of n leaves, read off PATH's
    definition; None when the path has the wrong length for that shape."""
    if n == 1:
        return leaf if not audit_path else None
    if not audit_path:
        return None
    k = _k(n)
    *rest, sibling = audit_path
    if m < k:
        below = root_from_path(leaf, m, k, rest)
        return None if below is None else _sha256(b"\x01" + below + sibling)
    below = root_from_path(leaf, m - k, n - k, rest)
    return None if below is None else _sha256(b"\x01" + sibling + below)


# --- The data -------------------------------------------------------------------------------

# Every tree of size n is the first n of these entries, so each hash is computed once.
# Distinct entries of varying length (the first is empty).
ENTRIES: tuple[bytes, ...] = tuple(b"entry %d" % i * min(i, 3) for i in range(MAX_SIZE))
LEAVES: list[bytes] = [hash_leaf(e) for e in ENTRIES]
ROOTS: list[bytes] = [mth(ENTRIES[:n]) for n in range(MAX_SIZE + 1)]

# Certificate Transparency's RFC 6962 test vectors (the entries and the root at sizes 1..8).
CT_ENTRIES = tuple(
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
)
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = {
    (0, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (5, 8): [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
}
CT_CONSISTENCY = {
    (2, 8): [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (6, 8): [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
    (2, 5): [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
}


def _flip(digest: bytes, byte: int = 0) -> bytes:
    return digest[:byte] + bytes([digest[byte] ^ 0x01]) + digest[byte + 1 :]


OTHER = _sha256(b"not in the tree")


# --- The reference itself is the RFC's -------------------------------------------------------


def test_reference_matches_the_certificate_transparency_vectors():
    assert [mth(CT_ENTRIES[:n]).hex() for n in range(1, 9)] == CT_ROOTS
    for (m, n), want in CT_INCLUSION.items():
        assert [h.hex() for h in path(m, CT_ENTRIES[:n])] == want
    for (m, n), want in CT_CONSISTENCY.items():
        assert [h.hex() for h in proof(m, CT_ENTRIES[:n])] == want


def test_module_matches_the_certificate_transparency_vectors():
    leaves = LeafList([hash_leaf(e) for e in CT_ENTRIES])
    assert [root_of(leaves.leaves[:n]).hex() for n in range(1, 9)] == CT_ROOTS
    for (m, n), want in CT_INCLUSION.items():
        assert [h.hex() for h in inclusion_proof(leaves, m, n)] == want
    for (m, n), want in CT_CONSISTENCY.items():
        assert [h.hex() for h in consistency_proof(leaves, m, n)] == want


# --- Hashes ---------------------------------------------------------------------------------


def test_empty_tree_root_is_sha256_of_the_empty_string():
    empty = bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")

    assert empty == EMPTY_ROOT
    assert root_of([]) == empty
    assert RootAccumulator().root() == empty
    assert mth(()) == empty


def test_leaf_and_node_hashes_are_domain_separated():
    left, right = _sha256(b"left"), _sha256(b"right")

    assert hash_leaf(b"abc") == _sha256(b"\x00abc")
    assert hash_children(left, right) == _sha256(b"\x01" + left + right)
    # A leaf whose data is two hashes cannot pass for the node over them.
    assert hash_leaf(left + right) != hash_children(left, right)


def test_split_point_is_the_largest_power_of_two_below_n():
    for n in range(2, 2050):
        assert split_point(n) == _k(n), n
    assert split_point(2**40 + 1) == 2**40
    assert split_point(2**40) == 2**39


# --- Every size, every leaf, every pair -----------------------------------------------------


@pytest.mark.parametrize("n", SIZES)
def test_root_equals_mth(n):
    assert root_of(LEAVES[:n]) == ROOTS[n]
    assert LeafList(LEAVES[:n]).subtree(0, n) == ROOTS[n]
    accumulator = RootAccumulator()
    accumulator.extend(LEAVES[:n])
    assert accumulator.size == n
    assert accumulator.root() == ROOTS[n]


def test_accumulator_root_equals_mth_at_every_size_as_it_grows():
    accumulator = RootAccumulator()
    for n in SIZES:
        accumulator.add(LEAVES[n - 1])
        assert accumulator.root() == ROOTS[n], n
    assert accumulator.size == MAX_SIZE


def test_leaf_list_subtree_equals_mth_of_every_range():
    source = LeafList(LEAVES)
    for lo in range(MAX_SIZE):
        for hi in range(lo + 1, MAX_SIZE + 1):
            assert source.subtree(lo, hi) == mth(ENTRIES[lo:hi]), (lo, hi)


def test_leaf_list_refuses_an_empty_range():
    with pytest.raises(ValueError, match="empty range"):
        LeafList(LEAVES).subtree(3, 3)


@pytest.mark.parametrize("n", SIZES)
def test_inclusion_proof_equals_path_and_verifies(n):
    source = LeafList(LEAVES[:n])
    for m in range(n):
        audit_path = inclusion_proof(source, m, n)

        assert audit_path == path(m, ENTRIES[:n]), m
        assert verify_inclusion(LEAVES[m], m, n, audit_path, ROOTS[n]), m


@pytest.mark.parametrize("n", SIZES)
def test_consistency_proof_equals_proof_and_verifies(n):
    source = LeafList(LEAVES[:n])
    for m in range(1, n + 1):
        got = consistency_proof(source, m, n)

        assert got == proof(m, ENTRIES[:n]), m
        assert verify_consistency(m, n, ROOTS[m], ROOTS[n], got), m


def test_proofs_read_only_the_leaves_of_their_size():
    # A proof over the first n leaves of a longer list must not look past leaf n.
    source = LeafList(LEAVES)
    for n in (1, 5, 17, 33):
        for m in range(n):
            assert inclusion_proof(source, m, n) == path(m, ENTRIES[:n])
        for m in range(1, n + 1):
            assert consistency_proof(source, m, n) == proof(m, ENTRIES[:n])


# --- Out of range ---------------------------------------------------------------------------


@pytest.mark.parametrize(("index", "size"), [(-1, 5), (5, 5), (6, 5), (0, 0), (0, -1)])
def test_inclusion_proof_refuses_a_leaf_outside_the_tree(index, size):
    with pytest.raises(ValueError, match="is not in a tree of size"):
        inclusion_proof(LeafList(LEAVES), index, size)


@pytest.mark.parametrize(("old", "new"), [(0, 5), (-1, 5), (6, 5), (0, 0), (2, 1)])
def test_consistency_proof_refuses_sizes_out_of_order(old, new):
    with pytest.raises(ValueError, match="no consistency proof"):
        consistency_proof(LeafList(LEAVES), old, new)


# --- Inclusion: what must be rejected -------------------------------------------------------


@pytest.mark.parametrize("n", SIZES)
def test_verify_inclusion_rejects_a_wrong_leaf(n):
    source = LeafList(LEAVES[:n])
    for m in range(n):
        audit_path = inclusion_proof(source, m, n)
        assert not verify_inclusion(OTHER, m, n, audit_path, ROOTS[n])
        assert not verify_inclusion(hash_leaf(b"other"), m, n, audit_path, ROOTS[n])
        # The entry itself, not its leaf hash, is not the leaf.
        assert not verify_inclusion(ENTRIES[m], m, n, audit_path, ROOTS[n])
        if n > 1:
            assert not verify_inclusion(LEAVES[(m + 1) % n], m, n, audit_path, ROOTS[n])


@pytest.mark.parametrize("n", SIZES)
def test_verify_inclusion_rejects_a_wrong_index(n):
    source = LeafList(LEAVES[:n])
    for m in range(n):
        audit_path = inclusion_proof(source, m, n)
        for other in [-1, *range(n + 2)]:
            if other != m:
                assert not verify_inclusion(LEAVES[m], other, n, audit_path, ROOTS[n]), (m, other)


@pytest.mark.parametrize("n", SIZES)
def test_verify_inclusion_checks_the_size_against_the_shape_of_the_path(n):
    # The path hashes carry no size; the size says which side each sibling sits on and how
    # long the path is. A path is accepted under another size exactly when that size gives the
    # same shape (e.g. leaf 0 in trees of 3 and 4 is "left, left"), which is why a checkpoint
    # signs the size. Under every other size it is rejected.
    source = LeafList(LEAVES[:n])
    rejected = 0
    for m in range(n):
        audit_path = inclusion_proof(source, m, n)
        for size in range(0, MAX_SIZE + 2):
            if size == n:
                continue
            same_shape = m < size and root_from_path(LEAVES[m], m, size, audit_path) == ROOTS[n]
            assert verify_inclusion(LEAVES[m], m, size, audit_path, ROOTS[n]) == same_shape, (
                m,
                size,
            )
            rejected += not same_shape
    assert rejected > 0


def test_verify_inclusion_rejects_a_wrong_size_where_the_shape_differs():
    for m, n, size in [(0, 5, 4), (0, 4, 5), (4, 5, 6), (5, 6, 5), (2, 3, 4), (7, 8, 9)]:
        audit_path = inclusion_proof(LeafList(LEAVES), m, n)
        assert verify_inclusion(LEAVES[m], m, n, audit_path, ROOTS[n])
        assert not verify_inclusion(LEAVES[m], m, size, audit_path, ROOTS[n]), (m, n, size)


def test_shape_equal_sizes_are_accepted_as_the_rfc_algorithm_does():
    # Leaf 0's path in a tree of 3 leaves, [leaf 1, leaf 2], has the shape of one in a tree of 4.
    audit_path = inclusion_proof(LeafList(LEAVES), 0, 3)
    assert verify_inclusion(LEAVES[0], 0, 4, audit_path, ROOTS[3])
    assert not verify_inclusion(LEAVES[0], 0, 4, audit_path, ROOTS[4])


@pytest.mark.parametrize("n", SIZES)
def test_verify_inclusion_rejects_an_altered_added_or_removed_hash(n):
    source = LeafList(LEAVES[:n])
    for m in range(n):
        audit_path = inclusion_proof(source, m, n)
        mangled: list[list[bytes]] = []
        for i in range(len(audit_path)):
            for byte in (0, 31):
                mangled.append([*audit_path[:i], _flip(audit_path[i], byte), *audit_path[i + 1 :]])
            mangled.append(audit_path[:i] + audit_path[i + 1 :])  # removed
            mangled.append([*audit_path[:i], OTHER, *audit_path[i:]])  # inserted
        mangled.append([*audit_path, OTHER])  # appended
        mangled.append([*audit_path, ROOTS[n]])
        if len(audit_path) > 1:
            mangled.append(audit_path[::-1])
        for bad in mangled:
            assert not verify_inclusion(LEAVES[m], m, n, bad, ROOTS[n]), (m, bad)


@pytest.mark.parametrize("n", SIZES)
def test_verify_inclusion_rejects_an_added_hash_even_with_a_root_computed_over_it(n):
    # A path is exactly as long as the tree of that size is high; a hash beyond it is refused
    # whatever root is offered with it.
    source = LeafList(LEAVES[:n])
    for m in range(n):
        audit_path = inclusion_proof(source, m, n)
        for root in (hash_children(OTHER, ROOTS[n]), hash_children(ROOTS[n], OTHER)):
            assert not verify_inclusion(LEAVES[m], m, n, [*audit_path, OTHER], root), m


@pytest.mark.parametrize("n", SIZES)
def test_verify_inclusion_rejects_a_wrong_root(n):
    source = LeafList(LEAVES[:n])
    for m in range(n):
        audit_path = inclusion_proof(source, m, n)
        assert not verify_inclusion(LEAVES[m], m, n, audit_path, _flip(ROOTS[n]))
        assert not verify_inclusion(LEAVES[m], m, n, audit_path, _flip(ROOTS[n], 31))
        assert not verify_inclusion(LEAVES[m], m, n, audit_path, EMPTY_ROOT)
        if n > 1:
            assert not verify_inclusion(LEAVES[m], m, n, audit_path, ROOTS[n - 1])


# --- Consistency: what must be rejected -----------------------------------------------------


@pytest.mark.parametrize("n", SIZES)
def test_verify_consistency_rejects_an_altered_proof(n):
    source = LeafList(LEAVES[:n])
    for m in range(1, n + 1):
        good = consistency_proof(source, m, n)
        mangled: list[list[bytes]] = []
        for i in range(len(good)):
            for byte in (0, 31):
                mangled.append([*good[:i], _flip(good[i], byte), *good[i + 1 :]])
            mangled.append(good[:i] + good[i + 1 :])  # removed
            mangled.append([*good[:i], OTHER, *good[i:]])  # inserted
        mangled.append([*good, OTHER])  # appended
        mangled.append([ROOTS[m], *good])  # the old root prepended, as the verifier does
        if len(good) > 1:
            mangled.append(good[::-1])
        for bad in mangled:
            assert not verify_consistency(m, n, ROOTS[m], ROOTS[n], bad), (m, bad)


@pytest.mark.parametrize("n", SIZES)
def test_verify_consistency_rejects_wrong_or_swapped_roots(n):
    source = LeafList(LEAVES[:n])
    for m in range(1, n + 1):
        good = consistency_proof(source, m, n)
        assert not verify_consistency(m, n, _flip(ROOTS[m]), ROOTS[n], good), m
        assert not verify_consistency(m, n, ROOTS[m], _flip(ROOTS[n]), good), m
        if m < n:
            assert not verify_consistency(m, n, ROOTS[n], ROOTS[m], good), m
            assert not verify_consistency(m, n, ROOTS[m], ROOTS[n - 1], good), m
            if m > 1:
                assert not verify_consistency(m, n, ROOTS[m - 1], ROOTS[n], good), m


@pytest.mark.parametrize("n", range(1, MAX_SIZE))
def test_verify_consistency_rejects_old_size_above_new_size(n):
    source = LeafList(LEAVES)
    for m in (n + 1, MAX_SIZE):
        # The proof the right way round, and no proof, both fail when the sizes are swapped.
        good = consistency_proof(source, n, m)
        assert verify_consistency(n, m, ROOTS[n], ROOTS[m], good)
        assert not verify_consistency(m, n, ROOTS[m], ROOTS[n], good), m
        assert not verify_consistency(m, n, ROOTS[m], ROOTS[n], []), m
        assert not verify_consistency(m, n, ROOTS[n], ROOTS[m], good), m


def roots_from_proof(
    m: int, n: int, consistency: list[bytes], b: bool, old_root: bytes
) -> tuple[bytes, bytes] | None:
    """The (old, new) roots that `consistency` yields for sizes m <= n, read off SUBPROOF's
    definition; None when the proof has the wrong length for that shape."""
    if m == n:
        if b:
            return (old_root, old_root) if not consistency else None
        return (consistency[0], consistency[0]) if len(consistency) == 1 else None
    if not consistency:
        return None
    k = _k(n)
    *rest, sibling = consistency
    if m <= k:
        below = roots_from_proof(m, k, rest, b, old_root)
        return None if below is None else (below[0], _sha256(b"\x01" + below[1] + sibling))
    below = roots_from_proof(m - k, n - k, rest, False, old_root)
    if below is None:
        return None
    return _sha256(b"\x01" + sibling + below[0]), _sha256(b"\x01" + sibling + below[1])


def test_reference_roots_from_proof_accept_every_rfc_proof():
    for n in SIZES:
        for m in range(1, n + 1):
            got = roots_from_proof(m, n, proof(m, ENTRIES[:n]), True, ROOTS[m])
            assert got == (ROOTS[m], ROOTS[n]), (m, n)


@pytest.mark.parametrize("n", SIZES)
def test_verify_consistency_checks_the_sizes_against_the_shape_of_the_proof(n):
    # As with inclusion, the sizes fix the shape: a proof is accepted under other sizes only
    # where they give it the same shape and the same two roots; everywhere else it is refused,
    # even when the roots given are the true roots of the tree the proof came from.
    source = LeafList(LEAVES[:n])
    rejected = 0
    for m in range(1, n + 1):
        good = consistency_proof(source, m, n)
        for claimed_m in (m - 1, m, m + 1):
            for claimed_n in (n - 1, n, n + 1, n + 2, 2 * n):
                if (claimed_m, claimed_n) == (m, n) or not 1 <= claimed_m <= claimed_n:
                    continue
                same_shape = roots_from_proof(claimed_m, claimed_n, good, True, ROOTS[m]) == (
                    ROOTS[m],
                    ROOTS[n],
                )
                accepted = verify_consistency(claimed_m, claimed_n, ROOTS[m], ROOTS[n], good)
                assert accepted == same_shape, (m, claimed_m, claimed_n)
                rejected += not same_shape
    assert rejected > 0 or n == 1


def test_verify_consistency_rejects_a_proof_of_a_smaller_new_tree():
    # The proof from 2 to 4 leaves, offered with those roots as a proof from 2 to 5.
    good = consistency_proof(LeafList(LEAVES), 2, 4)
    assert verify_consistency(2, 4, ROOTS[2], ROOTS[4], good)

    assert not verify_consistency(2, 5, ROOTS[2], ROOTS[4], good)
    assert not verify_consistency(2, 6, ROOTS[2], ROOTS[4], good)


def test_verify_consistency_rejects_old_size_zero():
    # The empty tree is a prefix of everything, but RFC 9162 defines no proof from size 0.
    assert not verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert not verify_consistency(0, 8, EMPTY_ROOT, ROOTS[8], [])
    assert not verify_consistency(0, 8, EMPTY_ROOT, ROOTS[8], [ROOTS[8]])
    assert not verify_consistency(-1, 8, EMPTY_ROOT, ROOTS[8], [])


def test_verify_consistency_of_equal_sizes_wants_no_proof_and_equal_roots():
    assert verify_consistency(5, 5, ROOTS[5], ROOTS[5], [])
    assert not verify_consistency(5, 5, ROOTS[5], ROOTS[6], [])
    assert not verify_consistency(5, 5, ROOTS[5], ROOTS[5], [ROOTS[5]])
    assert not verify_consistency(5, 5, ROOTS[5], ROOTS[5], [OTHER])


def test_verify_consistency_rejects_an_empty_proof_between_different_sizes():
    for m, n in [(1, 2), (4, 8), (5, 8), (8, 64)]:
        assert not verify_consistency(m, n, ROOTS[m], ROOTS[n], [])


def test_verify_consistency_rejects_a_proof_for_other_sizes():
    good = consistency_proof(LeafList(LEAVES), 6, 8)
    assert verify_consistency(6, 8, ROOTS[6], ROOTS[8], good)
    for m, n in [(5, 8), (7, 8), (6, 7), (6, 9), (3, 8)]:
        assert not verify_consistency(m, n, ROOTS[m], ROOTS[n], good), (m, n)


def test_module_needs_only_the_standard_library():
    # The offline verifier imports this module without Django.
    source = Path(merkle.__file__).read_text(encoding="utf-8")
    imports = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert all(
        line.split()[1].split(".")[0] in {"__future__", "hashlib", "collections", "typing"}
        for line in imports
    ), imports
