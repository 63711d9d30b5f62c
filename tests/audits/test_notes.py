"""Signed checkpoints in the C2SP signed-note format: signing, parsing, verifying, rotating keys."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from audits.notes import (
    SIGNATURE_PREFIX,
    Checkpoint,
    NoteError,
    VerifierKey,
    key_id,
    parse_checkpoint,
    public_bytes,
    sign_checkpoint,
    verify_checkpoint,
)

NAME = "ombud.test"
ROOT = hashlib.sha256(b"a root").digest()
AT = datetime(2026, 3, 2, 2, 0, 0, tzinfo=UTC)
CHECKPOINT = Checkpoint(NAME, 12345, ROOT, AT)


def _key(label: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(label.encode()).digest())


OLD_KEY = _key("old signing key")
NEW_KEY = _key("new signing key")


def _verifier(private: Ed25519PrivateKey, name: str = NAME) -> VerifierKey:
    return VerifierKey(name, public_bytes(private.public_key()))


OLD = _verifier(OLD_KEY)
NEW = _verifier(NEW_KEY)


def _signed_raw(body: str, private: Ed25519PrivateKey = NEW_KEY, name: str = NAME) -> str:
    """Sign `body` as it stands, canonical or not, the way sign_checkpoint lays a note out."""
    kid = key_id(name, public_bytes(private.public_key()))
    blob = base64.b64encode(kid + private.sign(body.encode())).decode()
    return f"{body}\n{SIGNATURE_PREFIX}{name} {blob}\n"


# The example of golang.org/x/mod/sumdb/note, the reference implementation of signed notes.
GO_VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SIGNER_SEED = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_SIGNATURE = (
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
)


# --- Signing and verifying ------------------------------------------------------------------


def test_sign_then_verify_round_trip():
    note = sign_checkpoint(CHECKPOINT, NAME, NEW_KEY)

    checkpoint, key = verify_checkpoint(note, [NEW])

    assert checkpoint == CHECKPOINT
    assert key == NEW


def test_note_is_body_blank_line_and_one_signature_line():
    note = sign_checkpoint(CHECKPOINT, NAME, NEW_KEY)

    body, signature_line = note.split("\n\n")
    root = base64.b64encode(ROOT).decode()
    assert body + "\n" == f"{NAME}\n12345\n{root}\ntime 2026-03-02T02:00:00Z\n"
    assert body + "\n" == CHECKPOINT.body()
    assert signature_line.startswith(f"\u2014 {NAME} ")
    assert signature_line.endswith("\n")
    assert signature_line.count("\n") == 1
    raw = base64.b64decode(signature_line.removesuffix("\n").rsplit(" ", 1)[1], validate=True)
    assert len(raw) == 4 + 64
    assert raw[:4] == NEW.id
    # The signature covers the body with its final newline, and nothing else.
    Ed25519PublicKey.from_public_bytes(NEW.public_key).verify(raw[4:], CHECKPOINT.body().encode())


def test_parse_returns_the_checkpoint_and_every_signature():
    note = sign_checkpoint(CHECKPOINT, NAME, OLD_KEY)
    cosigned = note + sign_checkpoint(CHECKPOINT, "witness.example", NEW_KEY).split("\n\n")[1]

    checkpoint, signatures = parse_checkpoint(cosigned)

    assert checkpoint == CHECKPOINT
    assert [(name, kid) for name, kid, _sig in signatures] == [
        (NAME, OLD.id),
        ("witness.example", key_id("witness.example", NEW.public_key)),
    ]


def test_body_states_the_time_in_utc_to_the_second():
    beijing = timezone(timedelta(hours=8))
    checkpoint = Checkpoint(NAME, 7, ROOT, datetime(2026, 3, 2, 10, 0, 5, 999, tzinfo=beijing))

    assert checkpoint.body().endswith("\ntime 2026-03-02T02:00:05Z\n")


def test_a_zero_size_checkpoint_round_trips():
    empty = Checkpoint(NAME, 0, hashlib.sha256(b"").digest(), AT)

    checkpoint, _key = verify_checkpoint(sign_checkpoint(empty, NAME, NEW_KEY), [NEW])

    assert checkpoint == empty


@pytest.mark.parametrize("origin", ["", "two\nlines"])
def test_origin_must_be_one_non_empty_line(origin):
    with pytest.raises(NoteError, match="origin"):
        sign_checkpoint(Checkpoint(origin, 1, ROOT, AT), NAME, NEW_KEY)


# --- Keys -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [NAME, "PeterNeumann", "例子.example/log", "a"])
def test_key_id_is_the_c2sp_definition(name):
    public = NEW.public_key

    expected = hashlib.sha256(name.encode("utf-8") + b"\x0a" + b"\x01" + public).digest()[:4]

    assert key_id(name, public) == expected
    assert VerifierKey(name, public).id == expected


def test_key_id_depends_on_the_name_and_the_key():
    assert key_id(NAME, NEW.public_key) != key_id(NAME + ".", NEW.public_key)
    assert key_id(NAME, NEW.public_key) != key_id(NAME, OLD.public_key)


def test_go_reference_key_decodes_to_its_id_and_encodes_back():
    key = VerifierKey.decode(GO_VERIFIER)

    assert key.name == "PeterNeumann"
    assert key.id == bytes.fromhex("c74f20a3")
    assert key.encode() == GO_VERIFIER
    signer = Ed25519PrivateKey.from_private_bytes(GO_SIGNER_SEED)
    assert public_bytes(signer.public_key()) == key.public_key


def test_go_reference_signature_line_is_key_id_and_signature_over_the_text():
    key = VerifierKey.decode(GO_VERIFIER)
    raw = base64.b64decode(GO_SIGNATURE)

    assert raw[:4] == key.id
    Ed25519PublicKey.from_public_bytes(key.public_key).verify(raw[4:], GO_TEXT.encode())


def test_checkpoint_signed_with_the_go_reference_key_carries_its_key_id():
    signer = Ed25519PrivateKey.from_private_bytes(GO_SIGNER_SEED)

    note = sign_checkpoint(Checkpoint("PeterNeumann", 3, ROOT, AT), "PeterNeumann", signer)

    blob = note.split("\n\n")[1].removeprefix("\u2014 PeterNeumann ").removesuffix("\n")
    assert base64.b64decode(blob)[:4] == bytes.fromhex("c74f20a3")
    assert verify_checkpoint(note, [VerifierKey.decode(GO_VERIFIER)])[0].tree_size == 3


@pytest.mark.parametrize(
    "key",
    [OLD, _verifier(OLD_KEY, "例子.example/log"), NEW, _verifier(NEW_KEY, "例子.example/log")],
    ids=["plain", "plain-unicode-name", "plus-in-base64", "plus-in-base64-unicode-name"],
)
def test_verifier_key_encode_decode_round_trip(key):
    text = key.encode()

    prefix = f"{key.name}+{key.id.hex()}+"
    assert text.startswith(prefix)
    assert base64.b64decode(text.removeprefix(prefix)) == b"\x01" + key.public_key
    assert VerifierKey.decode(text) == key
    assert VerifierKey.decode(f"  {text}\n") == key


# A verifier key of transparency-dev/formats' note tests whose base64 contains a "+". A name
# holds no "+" (C2SP signed-note), so a key splits at its first two; base64 has "+" in about
# half of all Ed25519 keys.
PLUS_KEY = "TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6"


def test_verifier_key_whose_base64_contains_a_plus_decodes():
    key = VerifierKey.decode(PLUS_KEY)

    assert key.name == "TEST"
    assert key.id == bytes.fromhex("7997405c")
    assert key.encode() == PLUS_KEY


def test_checkpoint_verifies_with_a_decoded_key_whose_base64_contains_a_plus():
    assert "+" in NEW.encode().split("+", 2)[2]
    note = sign_checkpoint(CHECKPOINT, NAME, NEW_KEY)

    assert verify_checkpoint(note, [VerifierKey.decode(NEW.encode())])[0] == CHECKPOINT


# The rejection cases below use OLD, whose base64 has no "+", so each fails for its own reason.
def _plain_parts() -> tuple[str, str, str]:
    name, hex_id, blob = OLD.encode().split("+")
    return name, hex_id, blob


def test_verifier_key_decode_rejects_a_wrong_id():
    name, hex_id, blob = _plain_parts()
    wrong = f"{int(hex_id, 16) ^ 1:08x}"

    with pytest.raises(NoteError, match="does not match"):
        VerifierKey.decode(f"{name}+{wrong}+{blob}")
    with pytest.raises(NoteError, match="does not match"):
        VerifierKey.decode(f"{name}+{NEW.id.hex()}+{blob}")
    # The id belongs to the name too.
    with pytest.raises(NoteError, match="does not match"):
        VerifierKey.decode(f"other.name+{hex_id}+{blob}")


@pytest.mark.parametrize("algorithm", [b"\x00", b"\x02", b"\x04", b"\xff"])
def test_verifier_key_decode_rejects_another_algorithm(algorithm):
    name, hex_id, _blob = _plain_parts()
    blob = base64.b64encode(algorithm + OLD.public_key).decode()
    assert "+" not in blob

    with pytest.raises(NoteError, match="not an Ed25519 verifier key"):
        VerifierKey.decode(f"{name}+{hex_id}+{blob}")


@pytest.mark.parametrize(
    "blob",
    [
        "not base64!",
        base64.b64encode(b"\x01" + OLD.public_key).decode()[:-1],  # a character short
        base64.b64encode(b"\x01" + OLD.public_key).decode() + "A",
        base64.urlsafe_b64encode(b"\x01" + b"\xfb" * 32).decode(),  # URL-safe alphabet
    ],
    ids=["not-base64", "short", "trailing", "urlsafe"],
)
def test_verifier_key_decode_rejects_bad_base64(blob):
    name, hex_id, _blob = _plain_parts()

    with pytest.raises(NoteError, match="not a verifier key"):
        VerifierKey.decode(f"{name}+{hex_id}+{blob}")


@pytest.mark.parametrize(
    "raw",
    [b"\x01" + b"\x00" * 31, b"\x01" + b"\x00" * 33, b"\x01", b""],
    ids=["short", "long", "algorithm-only", "empty"],
)
def test_verifier_key_decode_rejects_a_key_of_the_wrong_length(raw):
    blob = base64.b64encode(raw).decode()
    assert "+" not in blob

    with pytest.raises(NoteError, match="not an Ed25519 verifier key"):
        VerifierKey.decode(f"{NAME}+{key_id(NAME, raw[1:]).hex()}+{blob}")


@pytest.mark.parametrize("text", ["", "ombud.test", "ombud.test+0a0b0c0d", "no plus signs at all"])
def test_verifier_key_decode_rejects_text_without_three_parts(text):
    with pytest.raises(NoteError):
        VerifierKey.decode(text)


# --- What verification rejects --------------------------------------------------------------


def test_verify_rejects_a_note_signed_by_an_unknown_key():
    note = sign_checkpoint(CHECKPOINT, NAME, OLD_KEY)

    with pytest.raises(NoteError, match="no signature"):
        verify_checkpoint(note, [NEW])
    with pytest.raises(NoteError, match="no signature"):
        verify_checkpoint(note, [])


def test_verify_rejects_the_right_key_under_another_name():
    note = sign_checkpoint(CHECKPOINT, NAME, NEW_KEY)

    with pytest.raises(NoteError, match="no signature"):
        verify_checkpoint(note, [_verifier(NEW_KEY, "other.name")])


def test_verify_checks_the_signature_and_not_only_the_name_and_key_id():
    # A line that names the listed key and carries its id, over a signature by another key.
    note = sign_checkpoint(CHECKPOINT, NAME, OLD_KEY)
    body = note.split("\n\n")[0] + "\n"
    blob = base64.b64encode(NEW.id + OLD_KEY.sign(body.encode())).decode()
    forged = f"{body}\n{SIGNATURE_PREFIX}{NAME} {blob}\n"

    with pytest.raises(NoteError, match="no signature"):
        verify_checkpoint(forged, [NEW])


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("ombud.test\n", "ombud.tesu\n"),  # origin
        ("\n12345\n", "\n12346\n"),  # size
        ("\n12345\n", "\n92345\n"),
        (":00Z", ":01Z"),  # time, still a valid time
        ("T02:", "T03:"),
    ],
    ids=["origin", "size-last-digit", "size-first-digit", "time-second", "time-hour"],
)
def test_verify_rejects_a_body_changed_by_one_character(old, new):
    note = sign_checkpoint(CHECKPOINT, NAME, NEW_KEY)
    assert note.count(old) == 1
    changed = note.replace(old, new)

    with pytest.raises(NoteError):
        verify_checkpoint(changed, [NEW])


def test_verify_rejects_a_root_changed_by_one_character():
    note = sign_checkpoint(CHECKPOINT, NAME, NEW_KEY)
    root = base64.b64encode(ROOT).decode()
    changed_root = ("B" if root[0] != "B" else "C") + root[1:]

    with pytest.raises(NoteError):
        verify_checkpoint(note.replace(root, changed_root), [NEW])


def test_verify_rejects_every_one_character_change_of_the_body():
    # Whatever one character of the signed text becomes, the note is refused with NoteError
    # (the contract verification.py relies on to report a divergence rather than crash).
    note = sign_checkpoint(CHECKPOINT, NAME, NEW_KEY)
    body_length = len(CHECKPOINT.body())
    failures = []
    for i in range(body_length):
        for replacement in {chr(ord(note[i]) ^ 1), "9", "x", "+"} - {note[i]}:
            changed = note[:i] + replacement + note[i + 1 :]
            try:
                verify_checkpoint(changed, [NEW])
            except NoteError:
                continue
            except Exception as exc:
                failures.append((i, note[i], replacement, type(exc).__name__))
            else:
                failures.append((i, note[i], replacement, "accepted"))
    assert failures == []


@pytest.mark.parametrize("byte", range(4 + 64))
def test_verify_rejects_a_signature_with_one_byte_flipped(byte):
    note = sign_checkpoint(CHECKPOINT, NAME, NEW_KEY)
    body, line = note.split("\n\n")
    prefix, blob = line.removesuffix("\n").rsplit(" ", 1)
    raw = bytearray(base64.b64decode(blob))
    raw[byte] ^= 0x01
    changed = f"{body}\n\n{prefix} {base64.b64encode(bytes(raw)).decode()}\n"

    with pytest.raises(NoteError, match="no signature"):
        verify_checkpoint(changed, [NEW])


def test_verify_rejects_a_note_without_the_blank_line():
    note = sign_checkpoint(CHECKPOINT, NAME, NEW_KEY)
    without = note.replace("\n\n", "\n", 1)

    with pytest.raises(NoteError, match="blank line"):
        verify_checkpoint(without, [NEW])


@pytest.mark.parametrize(
    "mangle",
    [
        lambda note: note.removesuffix("\n"),  # no final newline
        lambda note: note + "\n",  # an empty signature line
        lambda note: note.replace("\u2014 ", "- "),  # a hyphen for the em dash
        lambda note: note.replace("\n\n", "\n\n\n"),  # two blank lines
        lambda note: note.split("\n\n")[0] + "\n\n",  # no signature at all
    ],
    ids=["no-final-newline", "empty-line", "hyphen", "two-blank-lines", "unsigned"],
)
def test_verify_rejects_a_malformed_signature_block(mangle):
    note = sign_checkpoint(CHECKPOINT, NAME, NEW_KEY)

    with pytest.raises(NoteError):
        verify_checkpoint(mangle(note), [NEW])


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("\n12345\n", "\n012345\n"),  # a leading zero
        ("\n12345\n", "\n+12345\n"),
        ("\n12345\n", "\n12_345\n"),
        ("\n12345\n", "\n 12345\n"),
        ("\n12345\n", "\n-12345\n"),
        ("time 2026-03-02T02:00:00Z", "time 2026-3-2T2:0:0Z"),
        ("time 2026-03-02T02:00:00Z", "time 2026-03-02T02:00:00+00:00"),
        ("time 2026-03-02T02:00:00Z", "time 2026-03-02T02:00:00.000Z"),
        ("time 2026-03-02T02:00:00Z\n", "time 2026-03-02T02:00:00Z\nextra line\n"),
        ("time 2026-03-02T02:00:00Z\n", ""),  # no time line
    ],
    ids=[
        "size-leading-zero",
        "size-plus",
        "size-underscore",
        "size-space",
        "size-negative",
        "time-unpadded",
        "time-offset",
        "time-fraction",
        "extra-line",
        "no-time",
    ],
)
def test_verify_rejects_a_non_canonical_body_even_when_validly_signed(old, new):
    body = CHECKPOINT.body()
    assert body.count(old) == 1
    note = _signed_raw(body.replace(old, new))

    with pytest.raises(NoteError):
        verify_checkpoint(note, [NEW])


def test_verify_rejects_a_non_canonical_root_even_when_validly_signed():
    root = base64.b64encode(ROOT).decode()
    unpadded = root.rstrip("=")
    # 32 bytes leave two spare bits in the last character; setting one is the same bytes.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = unpadded[-1]
    loose = unpadded[:-1] + alphabet[alphabet.index(last) ^ 1] + "="
    assert base64.b64decode(loose) == ROOT
    short = base64.b64encode(ROOT[:31]).decode()

    for bad in (unpadded, loose, short):
        note = _signed_raw(CHECKPOINT.body().replace(root, bad))
        with pytest.raises(NoteError):
            verify_checkpoint(note, [NEW])


# --- Key rotation ---------------------------------------------------------------------------


def test_old_checkpoint_verifies_while_the_old_key_is_listed_beside_the_new():
    note = sign_checkpoint(CHECKPOINT, NAME, OLD_KEY)
    assert OLD.name == NEW.name
    assert OLD.id != NEW.id

    checkpoint, key = verify_checkpoint(note, [NEW, OLD])

    assert checkpoint == CHECKPOINT
    assert key == OLD


def test_old_checkpoint_fails_once_the_old_key_is_dropped():
    note = sign_checkpoint(CHECKPOINT, NAME, OLD_KEY)

    with pytest.raises(NoteError, match="no signature"):
        verify_checkpoint(note, [NEW])


def test_new_checkpoint_verifies_with_the_new_key_whatever_else_is_listed():
    note = sign_checkpoint(CHECKPOINT, NAME, NEW_KEY)

    assert verify_checkpoint(note, [OLD, NEW])[1] == NEW
    with pytest.raises(NoteError):
        verify_checkpoint(note, [OLD])


def test_note_signed_by_both_keys_verifies_with_either():
    note = sign_checkpoint(CHECKPOINT, NAME, OLD_KEY)
    both = note + sign_checkpoint(CHECKPOINT, NAME, NEW_KEY).split("\n\n")[1]

    assert verify_checkpoint(both, [NEW])[1] == NEW
    assert verify_checkpoint(both, [OLD])[1] == OLD
    with pytest.raises(NoteError):
        verify_checkpoint(both, [_verifier(_key("a third key"))])


def test_a_bad_signature_line_beside_a_good_one_does_not_verify_the_note():
    # A forged line for the listed key and a genuine line for an unlisted key: nothing verifies.
    note = sign_checkpoint(CHECKPOINT, NAME, OLD_KEY)
    forged = base64.b64encode(NEW.id + b"\x00" * 64).decode()
    with_forgery = f"{note}{SIGNATURE_PREFIX}{NAME} {forged}\n"

    with pytest.raises(NoteError, match="no signature"):
        verify_checkpoint(with_forgery, [NEW])
    assert verify_checkpoint(with_forgery, [NEW, OLD])[1] == OLD
