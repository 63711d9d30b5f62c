"""Signed checkpoints in the C2SP signed-note format, with Ed25519 keys.

Needs only the standard library and `cryptography`, so the offline verifier can use it.

A checkpoint note (C2SP tlog-checkpoint) is:

    <origin>\\n<tree size>\\n<base64 root hash>\\n<extension lines, here "time <ISO 8601>">\\n
    \\n
    — <key name> <base64(4-byte key id || 64-byte Ed25519 signature)>\\n

The key id is the first four bytes of SHA-256(key name || "\\n" || 0x01 || public key), and a
verifier key is written "<name>+<hex key id>+<base64(0x01 || public key)>".
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ED25519_ALG = b"\x01"
SIGNATURE_PREFIX = "\u2014 "  # an em dash and a space open every signature line


class NoteError(ValueError):
    """A note or key that is malformed, or a signature that does not verify."""


def b64decode_canonical(text: str) -> bytes:
    """Decode base64 that must be in its one canonical form.

    Base64's last character can carry unused bits; two texts can then decode to the same bytes,
    so a changed byte would go unnoticed. Only the text that re-encodes identically is accepted.
    """
    raw = base64.b64decode(text, validate=True)
    if base64.b64encode(raw).decode() != text:
        raise ValueError("base64 is not in canonical form")
    return raw


def key_id(name: str, public_key: bytes) -> bytes:
    """Return the 4-byte id of an Ed25519 public key under its name."""
    return hashlib.sha256(name.encode() + b"\n" + ED25519_ALG + public_key).digest()[:4]


def public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class VerifierKey:
    """A named Ed25519 public key that verifies signed notes."""

    name: str
    public_key: bytes

    @property
    def id(self) -> bytes:
        return key_id(self.name, self.public_key)

    def encode(self) -> str:
        """Return the "<name>+<hex id>+<base64(0x01 || key)>" text form."""
        blob = base64.b64encode(ED25519_ALG + self.public_key).decode()
        return f"{self.name}+{self.id.hex()}+{blob}"

    @classmethod
    def decode(cls, text: str) -> VerifierKey:
        try:
            # The name has no "+", but base64 may: split from the left.
            name, hex_id, blob = text.strip().split("+", 2)
            raw = b64decode_canonical(blob)
        except ValueError as exc:
            raise NoteError(f"not a verifier key: {text!r}") from exc
        if raw[:1] != ED25519_ALG or len(raw) != 33:
            raise NoteError(f"not an Ed25519 verifier key: {text!r}")
        key = cls(name, raw[1:])
        if key.id.hex() != hex_id.lower():
            raise NoteError(f"verifier key id {hex_id} does not match its key")
        return key


@dataclass(frozen=True)
class Checkpoint:
    """What a checkpoint states: the log's name, its size, its root hash and when."""

    origin: str
    tree_size: int
    root_hash: bytes
    time: datetime

    def body(self) -> str:
        """Return the note text that is signed."""
        if "\n" in self.origin or not self.origin:
            raise NoteError("the origin must be one non-empty line")
        when = self.time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        root = base64.b64encode(self.root_hash).decode()
        return f"{self.origin}\n{self.tree_size}\n{root}\ntime {when}\n"


def sign_checkpoint(checkpoint: Checkpoint, name: str, private_key: Ed25519PrivateKey) -> str:
    """Return the signed note of `checkpoint`, signed by `private_key` under `name`."""
    return sign_note(checkpoint.body(), name, private_key)


def parse_checkpoint(note: str) -> tuple[Checkpoint, list[tuple[str, bytes, bytes]]]:
    """Split a signed note into its checkpoint and its (name, key id, signature) lines."""
    body, sep, signatures = note.partition("\n\n")
    if not sep or not signatures.endswith("\n"):
        raise NoteError("a signed note is a text, a blank line and signature lines")
    lines = body.split("\n")
    if len(lines) < 3:
        raise NoteError("a checkpoint has an origin, a tree size and a root hash")
    origin, size_text, root_text, *extensions = lines
    try:
        tree_size = int(size_text)
        root_hash = base64.b64decode(root_text, validate=True)
    except ValueError as exc:
        raise NoteError("the tree size or the root hash is malformed") from exc
    if str(tree_size) != size_text or tree_size < 0 or len(root_hash) != 32:
        raise NoteError("the tree size or the root hash is malformed")
    when = None
    for line in extensions:
        if line.startswith("time "):
            try:
                when = datetime.strptime(line[5:], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            except ValueError as exc:
                raise NoteError("the time line is malformed") from exc
    if when is None:
        raise NoteError("the checkpoint carries no time line")
    checkpoint = Checkpoint(origin, tree_size, root_hash, when)
    if checkpoint.body() != body + "\n":
        raise NoteError("the checkpoint text is not in canonical form")
    return checkpoint, signature_lines(signatures)


def signature_lines(signatures: str) -> list[tuple[str, bytes, bytes]]:
    """Parse a note's signature block into (name, 4-byte key id, 64-byte signature) triples."""
    parsed = []
    for line in signatures[:-1].split("\n"):
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError(f"not a signature line: {line!r}")
        try:
            name, blob = line[len(SIGNATURE_PREFIX) :].rsplit(" ", 1)
            raw = b64decode_canonical(blob)
        except ValueError as exc:
            raise NoteError(f"malformed signature line: {line!r}") from exc
        if len(raw) != 4 + 64:
            raise NoteError("an Ed25519 signature line holds a 4-byte id and 64 bytes")
        parsed.append((name, raw[:4], raw[4:]))
    return parsed


def verify_checkpoint(note: str, keys: list[VerifierKey]) -> tuple[Checkpoint, VerifierKey]:
    """Return the checkpoint and the key that signed it; raise NoteError unless one verifies."""
    checkpoint, signatures = parse_checkpoint(note)
    body = note.partition("\n\n")[0] + "\n"
    for name, kid, signature in signatures:
        for key in keys:
            if key.name != name or key.id != kid:
                continue
            try:
                Ed25519PublicKey.from_public_bytes(key.public_key).verify(signature, body.encode())
            except InvalidSignature:
                continue
            return checkpoint, key
    raise NoteError("no signature on this checkpoint verifies with a known key")


# --- any text ------------------------------------------------------------------------------------


def sign_note(text: str, name: str, private_key: Ed25519PrivateKey) -> str:
    """Return `text` as a signed note, signed by `private_key` under `name`.

    The text is one or more non-empty lines, each ending in a newline; a blank line would be
    taken for the start of the signatures.
    """
    if not text.endswith("\n") or "\n\n" in text or text.startswith("\n"):
        raise NoteError("a note's text is non-empty lines, each ending in a newline")
    signature = private_key.sign(text.encode())
    kid = key_id(name, public_bytes(private_key.public_key()))
    blob = base64.b64encode(kid + signature).decode()
    return f"{text}\n{SIGNATURE_PREFIX}{name} {blob}\n"


def verify_note(note: str, keys: list[VerifierKey]) -> tuple[str, VerifierKey]:
    """Return a signed note's text and the key that signed it; raise NoteError unless one of
    `keys` verifies a signature on it. The text is not interpreted: callers parse it."""
    text, sep, signatures = note.partition("\n\n")
    if not sep or not signatures.endswith("\n") or not text:
        raise NoteError("a signed note is a text, a blank line and signature lines")
    text += "\n"
    for name, kid, signature in signature_lines(signatures):
        for key in keys:
            if key.name != name or key.id != kid:
                continue
            try:
                Ed25519PublicKey.from_public_bytes(key.public_key).verify(signature, text.encode())
            except InvalidSignature:
                continue
            return text, key
    raise NoteError("no signature on this note verifies with a known key")
