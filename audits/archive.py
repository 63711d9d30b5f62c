"""The ledger's archive: signed checkpoints and the entries they cover, apart from the database.

`seal_ledger --archive DIR` writes each new checkpoint as `checkpoint-<size>.txt` and the entries
appended since the previous one as `entries-<first>-<last>.jsonl` (one stored body per line).
The bodies hold pseudonyms, references and hashes only, never personal data, so the archive may
sit on storage the database's administrators cannot rewrite (a write-once bucket, another host).

What it is for: after a database is restored from a backup, the archive still knows what happened
since the backup was taken. `archived_entries` reads it back only as far as a signed checkpoint
vouches for it (every entry hashed and folded into the checkpoint's root), so a forged or
truncated archive is refused before anything acts on it (see `privacy.services.restore`).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import notes, signing
from .merkle import RootAccumulator
from .models import Checkpoint, LedgerEntry
from .services import leaf_hash
from .tree import StoredTree

_ENTRIES = re.compile(r"^entries-(\d{12})-(\d{12})\.jsonl$")
_BATCH = 10_000


class ArchiveError(ValueError):
    """The archive cannot be trusted as it stands; the message says what is wrong."""


def _write_atomically(target: Path, lines: Iterator[str]) -> None:
    # A reader never sees half a file; the scratch name is unique across hosts sharing the
    # directory (process ids are not).
    scratch = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    with scratch.open("w", encoding="utf-8") as out:
        for line in lines:
            out.write(line)
        out.flush()
        os.fsync(out.fileno())
    scratch.replace(target)


def _entry_files(directory: Path) -> list[tuple[int, int, Path]]:
    found = []
    for path in directory.glob("entries-*.jsonl"):
        match = _ENTRIES.match(path.name)
        if match:
            found.append((int(match[1]), int(match[2]), path))
    return sorted(found)


def archive_write(directory: Path, checkpoint: Checkpoint) -> int:
    """Write `checkpoint` and the entries it covers that the archive lacks; return how many.

    Idempotent: a checkpoint or range already archived is left as it is. Two runs at once (on
    one host or several sharing the directory) take turns on a lock file. Refuses, writing
    nothing, when the database's ledger no longer extends the archive's newest checkpoint, as
    after a restore: that archive must stay as it is, for `reapply_erasures`, and the restored
    database is archived to a new directory.
    """
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _extends(directory)
        return _append(directory, checkpoint)


def _extends(directory: Path) -> None:
    heads = _trusted_heads(directory)
    if not heads:
        return
    size = max(heads)
    # Seq numbers have no gaps (the ledger refuses them), so the last one tells the length;
    # the root of the first `size` leaves comes from the stored tiles, not a full read.
    short = not LedgerEntry.objects.filter(seq=size - 1).exists()
    if short or StoredTree().subtree(0, size) != heads[size]:
        raise ArchiveError(
            f"the database's ledger does not extend the archive's checkpoint of size {size} (a "
            "restored database?). Keep that archive for reapply_erasures and archive to a new "
            "directory."
        )


def _append(directory: Path, checkpoint: Checkpoint) -> int:
    note = directory / f"checkpoint-{checkpoint.tree_size:012d}.txt"
    files = _entry_files(directory)
    first = files[-1][1] + 1 if files else 0
    last = checkpoint.tree_size - 1
    written = 0
    if last >= first:
        bodies = (
            LedgerEntry.objects.filter(seq__gte=first, seq__lte=last)
            .order_by("seq")
            .values_list("body", flat=True)
        )
        target = directory / f"entries-{first:012d}-{last:012d}.jsonl"
        _write_atomically(target, (body + "\n" for body in bodies.iterator(chunk_size=_BATCH)))
        written = last - first + 1
    if not note.exists():
        _write_atomically(note, iter([checkpoint.note]))
    return written


def _trusted_heads(directory: Path) -> dict[int, bytes]:
    keys = signing.verifier_keys()
    heads: dict[int, bytes] = {}
    for path in sorted(directory.glob("checkpoint-*.txt")):
        text = path.read_text(encoding="utf-8").rstrip("\n") + "\n"
        try:
            statement, _key = notes.verify_checkpoint(text, keys)
        except notes.NoteError as exc:
            raise ArchiveError(f"{path.name} does not verify: {exc}") from exc
        if statement.origin != signing.key_name():
            raise ArchiveError(f"{path.name} is a checkpoint of another log, {statement.origin}")
        heads[statement.tree_size] = statement.root_hash
    return heads


def archived_entries(directory: Path) -> Iterator[dict[str, Any]]:
    """Yield the archived ledger documents in order, each vouched for by a signed checkpoint.

    Entries are read from seq 0 without gaps and folded into a Merkle root; at every archived
    checkpoint's size the root must equal the signed one. Only then are the entries up to that
    checkpoint yielded, so nothing is ever acted on that a signature does not cover. Entries past
    the newest checkpoint are not yielded.
    """
    if not directory.is_dir():
        raise ArchiveError(f"{directory} is not a directory")
    heads = _trusted_heads(directory)
    if not heads:
        raise ArchiveError(f"{directory} holds no signed checkpoint")
    tree = RootAccumulator()
    pending: list[dict[str, Any]] = []
    expected = 0
    for first, last, path in _entry_files(directory):
        if first != expected:
            raise ArchiveError(f"{path.name} starts at {first}, but {expected} comes next")
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                body = line.rstrip("\n")
                document = json.loads(body)
                if not isinstance(document, dict):
                    raise ArchiveError(f"{path.name} holds a line that is not a ledger entry")
                if document.get("seq") != expected:
                    raise ArchiveError(f"{path.name} holds seq {document.get('seq')} at {expected}")
                tree.add(bytes.fromhex(leaf_hash(body.encode("utf-8"))))
                pending.append(document)
                expected += 1
                if expected in heads:
                    if tree.root() != heads[expected]:
                        raise ArchiveError(
                            f"the entries up to seq {expected - 1} do not hash to the signed "
                            f"checkpoint of size {expected}"
                        )
                    yield from pending
                    pending.clear()
        if expected != last + 1:
            raise ArchiveError(f"{path.name} ends at seq {expected - 1}, not {last}")
    missing = [size for size in heads if size > expected]
    if missing:
        raise ArchiveError(
            f"the checkpoint of size {max(missing)} covers entries the archive does not hold "
            f"(it ends at seq {expected - 1})"
        )
