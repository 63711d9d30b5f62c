"""Deletion receipts: what a completed deletion request erased, signed with the ledger's key.

A receipt is a signed note (C2SP signed-note format, audits/notes.py) whose text reads:

    <origin>
    deletion-receipt v1
    request <reference>
    time <ISO 8601, UTC>
    erased <pseudonym>          (one line per data subject erased, sorted)
    nothing-held                (instead, when there was nothing left to erase)
    ledger <seq> <leaf hash>    (one line per ledger entry that records it)

followed by a blank line and the ledger key's signature. Anyone holding the ledger's verifier
key (GET /api/v1/ledger/keys/) can check it offline, and look the named entries up in the
ledger's evidence to see that the erasure was recorded there. It names no personal data: only
the request's reference, pseudonyms and ledger positions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from audits import notes, signing

HEADER = "deletion-receipt v1"
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_LEDGER_LINE = re.compile(r"ledger (0|[1-9][0-9]*) ([0-9a-f]{64})")


@dataclass(frozen=True)
class LedgerRef:
    """One ledger entry named by a receipt: its position and its RFC 6962 leaf hash."""

    seq: int
    leaf_hash: str


@dataclass(frozen=True)
class DeletionReceipt:
    """What a receipt states."""

    origin: str
    request: str
    time: datetime
    erased: tuple[str, ...]
    ledger: tuple[LedgerRef, ...]

    def body(self) -> str:
        """Return the note text that is signed."""
        for value in (self.origin, self.request, *self.erased):
            if not value or any(c.isspace() for c in value):
                raise notes.NoteError(f"{value!r} must be one word")
        lines = [
            self.origin,
            HEADER,
            f"request {self.request}",
            f"time {self.time.astimezone(UTC).strftime(_TIME_FORMAT)}",
        ]
        lines += [f"erased {p}" for p in sorted(self.erased)] or ["nothing-held"]
        lines += [f"ledger {ref.seq} {ref.leaf_hash}" for ref in self.ledger]
        return "\n".join(lines) + "\n"


def receipt_sign(receipt: DeletionReceipt) -> str:
    """Return `receipt` as a note signed by the ledger's current key."""
    return notes.sign_note(receipt.body(), signing.key_name(), signing.signing_key())


def _parse(text: str) -> DeletionReceipt:
    lines = text[:-1].split("\n")
    if len(lines) < 5 or lines[1] != HEADER:
        raise notes.NoteError("this note is not an Ombud deletion receipt")
    origin, _header, request_line, time_line, *rest = lines
    if not request_line.startswith("request ") or not time_line.startswith("time "):
        raise notes.NoteError("a deletion receipt names its request and time first")
    try:
        when = datetime.strptime(time_line[5:], _TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError as exc:
        raise notes.NoteError("the time line of the receipt is malformed") from exc
    erased: list[str] = []
    ledger: list[LedgerRef] = []
    for line in rest:
        match = _LEDGER_LINE.fullmatch(line)
        if line.startswith("erased "):
            erased.append(line[7:])
        elif match:
            ledger.append(LedgerRef(int(match[1]), match[2]))
        elif line != "nothing-held":
            raise notes.NoteError(f"unexpected line in a deletion receipt: {line!r}")
    receipt = DeletionReceipt(origin, request_line[8:], when, tuple(erased), tuple(ledger))
    if receipt.body() != text or not ledger:
        raise notes.NoteError("the receipt's text is not in canonical form")
    return receipt


def receipt_verify(note: str, keys: list[notes.VerifierKey] | None = None) -> DeletionReceipt:
    """Return what a signed deletion receipt states; raise NoteError unless its signature
    verifies with one of `keys` (by default the ledger's current and retired verifier keys)."""
    text, _key = notes.verify_note(note, keys if keys is not None else signing.verifier_keys())
    return _parse(text)
