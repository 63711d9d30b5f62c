"""The ledger's Merkle tree as stored: leaf hashes on the entries, complete tiles cached.

A proof or a root at a million entries would read a million leaf hashes; with tiles it reads a
few hundred hashes. Tiles are written by `ledger_seal` for every block that has filled up.
"""

from __future__ import annotations

from .merkle import LeafList, hash_children, split_point
from .models import LedgerEntry, MerkleTile

TILE_WIDTH = 256  # leaves under a level-1 tile; a level-2 tile covers TILE_WIDTH ** 2


def _width(level: int) -> int:
    return TILE_WIDTH**level


class StoredTree:
    """A SubtreeSource over the ledger table, using cached tiles where they exist.

    It remembers every tile and subtree hash it has read (the ledger only grows, so a range's
    hash never changes): the audit paths of several entries share most of their nodes.
    """

    def __init__(self) -> None:
        self._tiles: dict[tuple[int, int], bytes] = {}
        self._nodes: dict[tuple[int, int], bytes] = {}

    def leaf_hashes(self, lo: int, hi: int) -> list[bytes]:
        rows = (
            LedgerEntry.objects.filter(seq__gte=lo, seq__lt=hi)
            .order_by("seq")
            .values_list("leaf_hash", flat=True)
        )
        hashes = [bytes.fromhex(h) for h in rows]
        if len(hashes) != hi - lo:
            raise LookupError(f"the ledger lacks entries in [{lo}, {hi})")
        return hashes

    def _tile_hashes(self, level: int, first: int, last: int) -> list[bytes] | None:
        """Return tiles first..last-1 of `level`, or None if any is not cached yet."""
        wanted = [(level, i) for i in range(first, last) if (level, i) not in self._tiles]
        if wanted:
            rows = MerkleTile.objects.filter(
                level=level, index__gte=first, index__lt=last
            ).values_list("index", "hash")
            for index, digest in rows:
                self._tiles[(level, index)] = bytes.fromhex(digest)
        if any((level, i) not in self._tiles for i in range(first, last)):
            return None
        return [self._tiles[(level, i)] for i in range(first, last)]

    def subtree(self, lo: int, hi: int) -> bytes:
        node = self._nodes.get((lo, hi))
        if node is None:
            node = self._nodes[(lo, hi)] = self._subtree(lo, hi)
        return node

    def _subtree(self, lo: int, hi: int) -> bytes:
        n = hi - lo
        if n <= 0:
            raise ValueError("empty range")
        if n & (n - 1) == 0 and lo % n == 0:
            # A perfect, aligned subtree: its hash is MTH over the biggest tiles that tile it.
            for level in (2, 1):
                width = _width(level)
                if n >= width:
                    tiles = self._tile_hashes(level, lo // width, hi // width)
                    if tiles is not None:
                        return LeafList(tiles).subtree(0, len(tiles))
            return LeafList(self.leaf_hashes(lo, hi)).subtree(0, n)
        k = split_point(n)
        return hash_children(self.subtree(lo, lo + k), self.subtree(lo + k, hi))
