"""The RFC 6962 / RFC 9162 Merkle tree: hashes, proofs and their verification.

Pure Python with only the standard library, so the offline verifier can use it without Django.
Hashes are raw 32-byte `bytes` here; callers hex- or base64-encode at their edges.

A tree is read through a `SubtreeSource`: anything that can say the hash of leaves [lo, hi).
`LeafList` does that from a list of leaf hashes; the ledger's source adds cached tiles so a
proof at a million entries reads a few thousand hashes, not a million.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Protocol

EMPTY_ROOT = hashlib.sha256(b"").digest()


def hash_leaf(data: bytes) -> bytes:
    """Return SHA-256(0x00 || data), the hash of one leaf."""
    return hashlib.sha256(b"\x00" + data).digest()


def hash_children(left: bytes, right: bytes) -> bytes:
    """Return SHA-256(0x01 || left || right), the hash of an interior node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """Return the largest power of two strictly below n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class SubtreeSource(Protocol):
    def subtree(self, lo: int, hi: int) -> bytes:
        """Return MTH of the leaves [lo, hi), hi > lo."""


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return MTH over `leaf_hashes` (RFC 9162 2.1.1)."""
    if not leaf_hashes:
        return EMPTY_ROOT
    return LeafList(leaf_hashes).subtree(0, len(leaf_hashes))


class LeafList:
    """A SubtreeSource over leaf hashes held in memory."""

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        self.leaves = leaf_hashes

    def subtree(self, lo: int, hi: int) -> bytes:
        # Fold the range bottom-up: level by level, pairs merge and a lone last node rises.
        level = list(self.leaves[lo:hi])
        if not level:
            raise ValueError("empty range")
        while len(level) > 1:
            nxt = [hash_children(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            if len(level) % 2:
                nxt.append(level[-1])
            level = nxt
        return level[0]


def inclusion_proof(source: SubtreeSource, index: int, size: int) -> list[bytes]:
    """Return the audit path of leaf `index` in the tree of `size` leaves (RFC 9162 2.1.3.1)."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    proof: list[bytes] = []
    lo, hi = 0, size
    # Walk down from the root, keeping the sibling of the side that holds the leaf; the path
    # is then read leaf-upwards, hence the reversal.
    while hi - lo > 1:
        k = split_point(hi - lo)
        if index < lo + k:
            proof.append(source.subtree(lo + k, hi))
            hi = lo + k
        else:
            proof.append(source.subtree(lo, lo + k))
            lo = lo + k
    proof.reverse()
    return proof


def consistency_proof(source: SubtreeSource, old_size: int, new_size: int) -> list[bytes]:
    """Return the proof that the tree of `old_size` is a prefix of `new_size` (RFC 9162 2.1.4.1)."""
    if not 0 < old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to {new_size}")
    proof: list[bytes] = []
    lo, hi, m, complete = 0, new_size, old_size, True
    while True:
        n = hi - lo
        if m == n:
            if not complete:
                proof.append(source.subtree(lo, hi))
            break
        k = split_point(n)
        if m <= k:
            proof.append(source.subtree(lo + k, hi))
            hi = lo + k
        else:
            proof.append(source.subtree(lo, lo + k))
            lo, m, complete = lo + k, m - k, False
    proof.reverse()
    return proof


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Check an audit path against a root (RFC 9162 2.1.3.2)."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = hash_children(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = hash_children(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Check a consistency proof between two tree heads (RFC 9162 2.1.4.2)."""
    if old_size < 1 or old_size > new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    path = list(proof)
    if not path:
        return False
    if old_size & (old_size - 1) == 0:  # an exact power of two: the old root is a node itself
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = hash_children(c, fr)
            sr = hash_children(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = hash_children(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


class RootAccumulator:
    """Computes the root of a growing tree in O(log n) memory, one leaf at a time.

    Holds the perfect subtrees of the current size (the binary digits of n), merging equal
    neighbours as leaves arrive; `root()` folds them right to left, which is exactly MTH.
    """

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[tuple[int, bytes]] = []

    def add(self, leaf_hash: bytes) -> None:
        self.size += 1
        node, width = leaf_hash, 1
        while self._stack and self._stack[-1][0] == width:
            _, left = self._stack.pop()
            node, width = hash_children(left, node), width * 2
        self._stack.append((width, node))

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        for leaf in leaf_hashes:
            self.add(leaf)

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        result = self._stack[-1][1]
        for _width, node in reversed(self._stack[:-1]):
            result = hash_children(node, result)
        return result
