"""Check an Ombud evidence bundle or oversight report offline: no Django, no database, no network.

    python -m audits.verify_bundle bundle.json [--key VERIFIER_KEY] [--trusted-checkpoint old.txt]
    python -m audits.verify_bundle report.json [--key VERIFIER_KEY] [--file report.csv ...]

A report (a published oversight report's JSON download) is checked instead for: a signature by
a known key over the report's SHA-256 and its files', the ledger checkpoint it names being
signed by a known key and being the one the report says its figures were counted at, and each
--file (the report's CSV or HTML pages) being one of the files the signature lists.

It checks that the bundle's checkpoint is signed by a known key, that every entry in it is
included in the tree that checkpoint signs, and, given a checkpoint you kept from earlier, that
the log grew from that one without anything before it changing. It prints what it verified and
exits 0, or prints the first failure and exits 1.

Pin the deployment's key with --key (its verifier key, as published by the platform); without
it the bundle's own keys are used, which shows the bundle is internally consistent but not who
signed it. Needs only Python's standard library and the `cryptography` package.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audits import merkle, notes

BUNDLE_FORMAT = "ombud-evidence/1"
REPORT_FORMAT = "ombud-report/1"


class BundleError(Exception):
    """The bundle does not verify; the message says where."""


@dataclass
class Result:
    """What a successful verification established."""

    origin: str
    tree_size: int
    root_hex: str
    key: str
    entries: int
    event_types: dict[str, int] = field(default_factory=dict)
    consistent_with: int | None = None
    pinned: bool = False


def _hashes(values: Any, where: str) -> list[bytes]:
    if not isinstance(values, list):
        raise BundleError(f"{where}: the proof is not a list")
    out = []
    for value in values:
        try:
            digest = notes.b64decode_canonical(value)
        except (ValueError, TypeError) as exc:
            raise BundleError(f"{where}: a proof hash is not canonical base64") from exc
        if len(digest) != 32:
            raise BundleError(f"{where}: a proof hash is not 32 bytes")
        out.append(digest)
    return out


def _canonical(doc: Any) -> bytes:
    return json.dumps(
        doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def verify_bundle(
    bundle: dict[str, Any],
    *,
    pinned_keys: list[str] | None = None,
    trusted_checkpoint: str | None = None,
) -> Result:
    """Verify `bundle`; return what was established or raise BundleError."""
    if not isinstance(bundle, dict) or bundle.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"not an {BUNDLE_FORMAT} bundle")
    if trusted_checkpoint is not None and not pinned_keys:
        # A bundle can carry any key it likes; only a key the supervisor brings anchors trust.
        raise BundleError("a trusted checkpoint is only checked against a pinned key: add --key")
    entries, consistency = bundle.get("entries", []), bundle.get("consistency", [])
    if not isinstance(bundle.get("checkpoint"), str) or not isinstance(entries, list):
        raise BundleError("the bundle's checkpoint or entries are malformed")
    if not isinstance(consistency, list):
        raise BundleError("the bundle's consistency proofs are malformed")
    try:
        keys = [notes.VerifierKey.decode(k) for k in (pinned_keys or bundle["keys"])]
        checkpoint, key = notes.verify_checkpoint(bundle["checkpoint"], keys)
    except (notes.NoteError, KeyError, TypeError, AttributeError) as exc:
        raise BundleError(f"checkpoint: {exc}") from exc
    size, root = checkpoint.tree_size, checkpoint.root_hash
    result = Result(checkpoint.origin, size, root.hex(), key.encode(), 0, pinned=bool(pinned_keys))
    seen: set[int] = set()
    for position, entry in enumerate(entries):
        where = f"entry {position}"
        seq = entry.get("seq") if isinstance(entry, dict) else None
        body = entry.get("body") if isinstance(entry, dict) else None
        if type(seq) is not int or seq < 0 or not isinstance(body, str):
            raise BundleError(f"{where}: malformed")
        where = f"entry seq {seq}"
        try:
            raw = body.encode("utf-8")
            doc = json.loads(raw)
        except ValueError as exc:  # UnicodeError is a ValueError too
            raise BundleError(f"{where}: the body is not JSON") from exc
        if not isinstance(doc, dict) or _canonical(doc) != raw or doc.get("seq") != seq:
            raise BundleError(f"{where}: the body is not the canonical entry for this seq")
        if seq in seen:
            raise BundleError(f"{where}: listed twice")
        proof = _hashes(entry.get("proof"), where)
        if not merkle.verify_inclusion(merkle.hash_leaf(raw), seq, size, proof, root):
            raise BundleError(f"{where}: not included in checkpoint {size}")
        seen.add(seq)
        kind = str(doc.get("type"))
        result.event_types[kind] = result.event_types.get(kind, 0) + 1
    result.entries = len(seen)
    if trusted_checkpoint is not None:
        try:
            old, _old_key = notes.verify_checkpoint(trusted_checkpoint, keys)
        except notes.NoteError as exc:
            raise BundleError(f"trusted checkpoint: {exc}") from exc
        if old.origin != checkpoint.origin:
            raise BundleError("the trusted checkpoint is of another log")
        if old.tree_size > size:
            raise BundleError(
                f"the trusted checkpoint ({old.tree_size}) is newer than the bundle's ({size})"
            )
        if old.tree_size == 0:
            if old.root_hash != merkle.EMPTY_ROOT:
                raise BundleError("the trusted checkpoint of size 0 does not sign the empty root")
        elif old.tree_size == size:
            if old.root_hash != root:
                raise BundleError("two signed checkpoints of the same size disagree: a fork")
        else:
            proof_entry = next(
                (
                    c
                    for c in consistency
                    if isinstance(c, dict) and c.get("from_size") == old.tree_size
                ),
                None,
            )
            if proof_entry is None:
                raise BundleError(
                    f"the bundle has no consistency proof from size {old.tree_size}; "
                    f"export it with --consistency-from {old.tree_size}"
                )
            proof = _hashes(proof_entry.get("proof"), "consistency proof")
            if not merkle.verify_consistency(old.tree_size, size, old.root_hash, root, proof):
                raise BundleError(
                    f"the log of checkpoint {size} does not extend trusted checkpoint "
                    f"{old.tree_size}: history was rewritten"
                )
        result.consistent_with = old.tree_size
    return result


@dataclass
class ReportResult:
    """What a successful report verification established."""

    origin: str
    number: int
    period: str
    key: str
    tree_size: int
    root_hex: str
    supersedes: int | None
    files: dict[str, str] = field(default_factory=dict)  # file name -> which file it is
    pinned: bool = False


def _signed_report_lines(text: str) -> dict[str, Any]:
    """Parse the text a report's signature covers."""
    lines = text.rstrip("\n").split("\n")
    if not lines or lines[0] != REPORT_FORMAT:
        raise BundleError("the signature is not over an Ombud report")
    fields: dict[str, Any] = {"sha256": {}}
    for line in lines[1:]:
        word, _sp, rest = line.partition(" ")
        if word == "sha256":
            name, _sp2, digest = rest.partition(" ")
            fields["sha256"][name] = digest
        else:
            fields[word] = rest
    for needed in ("origin", "report", "period", "checkpoint", "supersedes"):
        if needed not in fields:
            raise BundleError(f"the signed text has no {needed} line")
    if "json" not in fields["sha256"]:
        raise BundleError("the signed text lists no digest of the report")
    return fields


def verify_report(
    bundle: dict[str, Any],
    *,
    pinned_keys: list[str] | None = None,
    files: dict[str, bytes] | None = None,
) -> ReportResult:
    """Verify a report download and any of its files; return what was established or raise
    BundleError."""
    report, signature = bundle.get("report"), bundle.get("signature")
    if not isinstance(report, dict) or not isinstance(signature, str):
        raise BundleError("the report or its signature is missing")
    try:
        keys = [notes.VerifierKey.decode(k) for k in (pinned_keys or bundle["keys"])]
        text, key = notes.verify_note(signature, keys)
    except (notes.NoteError, KeyError, TypeError, AttributeError) as exc:
        raise BundleError(f"signature: {exc}") from exc
    signed = _signed_report_lines(text)
    digest = hashlib.sha256(_canonical(report)).hexdigest()
    if digest != signed["sha256"]["json"]:
        raise BundleError("the report's content differs from what was signed: it was altered")
    checkpoint = report.get("checkpoint") or {}
    period = (report.get("period") or {}).get("label")
    supersedes = (report.get("supersedes") or {}).get("number")
    claims = {
        "origin": str(report.get("origin")),
        "report": str(report.get("number")),
        "period": str(period),
        "supersedes": "-" if supersedes is None else str(supersedes),
    }
    for name, value in claims.items():
        if signed[name] != value:
            raise BundleError(f"the signed {name} ({signed[name]}) is not the report's ({value})")
    try:
        size_text, root_text = signed["checkpoint"].split(" ")
        signed_size, signed_root = int(size_text), notes.b64decode_canonical(root_text)
        stated, _cp_key = notes.verify_checkpoint(checkpoint["note"], keys)
    except (ValueError, KeyError, TypeError) as exc:
        raise BundleError(f"checkpoint: {exc}") from exc
    if (stated.tree_size, stated.root_hash) != (signed_size, signed_root):
        raise BundleError("the report's checkpoint is not the one its signature names")
    if (checkpoint.get("tree_size"), checkpoint.get("root_hash")) != (
        stated.tree_size,
        stated.root_hash.hex(),
    ):
        raise BundleError("the report's checkpoint fields differ from its signed checkpoint")
    result = ReportResult(
        str(report.get("origin")),
        int(report["number"]),
        str(period),
        key.encode(),
        stated.tree_size,
        stated.root_hash.hex(),
        supersedes,
        pinned=bool(pinned_keys),
    )
    listed = {v: k for k, v in signed["sha256"].items()}
    for name, content in (files or {}).items():
        which = listed.get(hashlib.sha256(content).hexdigest())
        if which is None:
            raise BundleError(f"{name} is not one of this report's signed files: it was altered")
        result.files[name] = which
    return result


def _print_report(result: ReportResult) -> None:
    print(f"Report {result.number} of {result.period}, from {result.origin}")
    print(f"Signed by: {result.key}" + ("" if result.pinned else "  (the bundle's own key)"))
    if not result.pinned:
        print("Note: pass --key with the platform's published verifier key to pin the signer.")
    print(f"Counted at: checkpoint {result.tree_size}, root {result.root_hex}")
    if result.supersedes is not None:
        print(f"Supersedes: report {result.supersedes}")
    for name, which in result.files.items():
        print(f"File {name}: the report's signed {which}")
    print("OK")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m audits.verify_bundle", description=__doc__)
    parser.add_argument("bundle", type=Path)
    parser.add_argument(
        "--key", action="append", help="A verifier key to trust (repeatable); pins the signer."
    )
    parser.add_argument(
        "--trusted-checkpoint", type=Path, help="A signed checkpoint you kept from earlier."
    )
    parser.add_argument(
        "--file",
        type=Path,
        action="append",
        default=[],
        help="A report's CSV or HTML file to check against its signature (repeatable).",
    )
    args = parser.parse_args(argv)
    try:
        bundle = json.loads(args.bundle.read_text(encoding="utf-8"))
        if isinstance(bundle, dict) and bundle.get("format") == REPORT_FORMAT:
            files = {str(path): path.read_bytes() for path in args.file}
            _print_report(verify_report(bundle, pinned_keys=args.key, files=files))
            return 0
        if args.file:
            raise BundleError("--file is for reports; this is an evidence bundle")
        trusted = None
        if args.trusted_checkpoint:
            # A saved file may gain trailing blank lines; a signed note ends in exactly one.
            trusted = args.trusted_checkpoint.read_text(encoding="utf-8").rstrip("\n") + "\n"
        result = verify_bundle(bundle, pinned_keys=args.key, trusted_checkpoint=trusted)
    except (BundleError, OSError, ValueError) as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        print(f"FAILED: the bundle is malformed ({type(exc).__name__}: {exc})", file=sys.stderr)
        return 1
    print(f"Checkpoint: {result.origin}, {result.tree_size} entries, root {result.root_hex}")
    print(f"Signed by: {result.key}" + ("" if result.pinned else "  (the bundle's own key)"))
    if not result.pinned:
        print("Note: pass --key with the platform's published verifier key to pin the signer.")
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(result.event_types.items()))
    print(f"Included: all {result.entries} entries ({kinds or 'none'})")
    if result.consistent_with is not None:
        print(f"Consistent: the log extends your checkpoint of size {result.consistent_with}")
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
