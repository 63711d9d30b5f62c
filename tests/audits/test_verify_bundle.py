"""The offline verifier: accepts an honest bundle and rejects any single changed byte."""

from __future__ import annotations

import base64
import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from audits.selectors import build_evidence_bundle
from audits.services import ledger_seal
from audits.verify_bundle import BundleError, verify_bundle
from governance.choices import ComplaintStatus
from governance.selectors import complaint_ledger_refs
from tests import factories

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def bundle_and_old() -> tuple[dict[str, Any], str]:
    """A sealed log, an old checkpoint kept by a supervisor, then more entries and a new seal."""
    first = factories.flow_at(ComplaintStatus.DECIDED)
    old, _created = ledger_seal()
    factories.flow_at(ComplaintStatus.CLOSED)
    ledger_seal()
    bundle = build_evidence_bundle(
        title=first.complaint.reference,
        object_refs=complaint_ledger_refs(reference=first.complaint.reference),
    )
    return bundle, old.note


def _fails(bundle: dict[str, Any], **kwargs: Any) -> bool:
    try:
        verify_bundle(bundle, **kwargs)
    except BundleError:
        return True
    return False


def test_an_honest_bundle_verifies_with_consistency_from_an_old_checkpoint(bundle_and_old):
    bundle, old_note = bundle_and_old
    result = verify_bundle(bundle, pinned_keys=bundle["keys"], trusted_checkpoint=old_note)
    assert result.entries == len(bundle["entries"]) > 5
    assert result.consistent_with is not None
    assert result.event_types["decision.recorded"] == 1


def test_any_single_byte_of_an_entry_changed_is_rejected(bundle_and_old):
    bundle, _old = bundle_and_old
    for position, entry in enumerate(bundle["entries"]):
        raw = entry["body"].encode()
        for i in range(len(raw)):
            forged = copy.deepcopy(bundle)
            changed = bytearray(raw)
            changed[i] ^= 0x01
            forged["entries"][position]["body"] = bytes(changed).decode("utf-8", "surrogateescape")
            assert _fails(forged), (entry["seq"], i)


def test_any_single_byte_of_a_proof_changed_is_rejected(bundle_and_old):
    bundle, old_note = bundle_and_old
    for position, entry in enumerate(bundle["entries"]):
        for h, value in enumerate(entry["proof"]):
            digest = base64.b64decode(value)
            for i in range(len(digest)):
                forged = copy.deepcopy(bundle)
                changed = bytearray(digest)
                changed[i] ^= 0x01
                forged["entries"][position]["proof"][h] = base64.b64encode(changed).decode()
                assert _fails(forged), (entry["seq"], h, i)
    for c, consistency in enumerate(bundle["consistency"]):
        for h, value in enumerate(consistency["proof"]):
            digest = bytearray(base64.b64decode(value))
            digest[0] ^= 0x80
            forged = copy.deepcopy(bundle)
            forged["consistency"][c]["proof"][h] = base64.b64encode(digest).decode()
            assert _fails(forged, pinned_keys=bundle["keys"], trusted_checkpoint=old_note), (c, h)


def test_a_changed_checkpoint_or_a_missing_or_extra_proof_hash_is_rejected(bundle_and_old):
    bundle, _old = bundle_and_old
    note = bundle["checkpoint"]
    for i in range(len(note)):
        forged = copy.deepcopy(bundle)
        forged["checkpoint"] = note[:i] + chr(ord(note[i]) ^ 1) + note[i + 1 :]
        assert _fails(forged), i
    shorter = copy.deepcopy(bundle)
    shorter["entries"][0]["proof"].pop()
    longer = copy.deepcopy(bundle)
    longer["entries"][0]["proof"].append(longer["entries"][0]["proof"][0])
    assert _fails(shorter)
    assert _fails(longer)


def test_a_pinned_key_that_did_not_sign_is_rejected(bundle_and_old):
    bundle, _old = bundle_and_old
    other = "ombud.test+00000000+" + base64.b64encode(b"\x01" + bytes(32)).decode()
    assert _fails(bundle, pinned_keys=[other])


def test_a_rewritten_history_fails_the_consistency_check(bundle_and_old):
    bundle, old_note = bundle_and_old
    forged = copy.deepcopy(bundle)
    forged["consistency"] = []
    with pytest.raises(BundleError, match="no consistency proof"):
        verify_bundle(forged, pinned_keys=bundle["keys"], trusted_checkpoint=old_note)


def test_the_command_line_needs_no_django(bundle_and_old, tmp_path):
    bundle, old_note = bundle_and_old
    (tmp_path / "bundle.json").write_text(json.dumps(bundle))
    (tmp_path / "old.txt").write_text(old_note + "\n")
    check = (
        "import runpy, sys; sys.argv = ['verify_bundle', *sys.argv[1:]]; "
        "rc = 0\ntry:\n    runpy.run_module('audits.verify_bundle', run_name='__main__')\n"
        "except SystemExit as e:\n    rc = e.code\n"
        "assert 'django' not in sys.modules, 'imported Django'\nsys.exit(rc)"
    )
    ok = subprocess.run(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-c",
            check,
            str(tmp_path / "bundle.json"),
            "--trusted-checkpoint",
            str(tmp_path / "old.txt"),
            "--key",
            bundle["keys"][0],
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert "OK" in ok.stdout
    bad = copy.deepcopy(bundle)
    bad["entries"][0]["body"] = bad["entries"][0]["body"].replace("complaint", "complainT", 1)
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    failed = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "audits.verify_bundle", str(tmp_path / "bad.json")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert failed.returncode == 1
    assert "FAILED" in failed.stderr


def test_export_evidence_writes_a_bundle_that_verifies(tmp_path):
    f = factories.flow_at(ComplaintStatus.DECIDED)
    out = tmp_path / "evidence.json"
    call_command("export_evidence", complaint=f.complaint.reference, out=str(out))
    bundle = json.loads(out.read_text())
    assert verify_bundle(bundle).entries == len(bundle["entries"]) > 0


def test_a_trusted_checkpoint_needs_a_pinned_key(bundle_and_old):
    # An attacker's bundle may list the real key beside its own (same name) and sign a forged
    # extension with its own; only a key the supervisor brings can anchor the old checkpoint.
    bundle, old_note = bundle_and_old
    with pytest.raises(BundleError, match="pinned key"):
        verify_bundle(bundle, trusted_checkpoint=old_note)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda b: b.update(checkpoint=1),
        lambda b: b.update(entries=1),
        lambda b: b.update(consistency=1),
        lambda b: b["entries"][0].update(body="[]"),
        lambda b: b["entries"][0].update(seq="0"),
        lambda b: b["entries"][0].update(seq=0.5),
        lambda b: b["entries"].append(b["entries"][0]),
        lambda b: b["entries"].__setitem__(0, 7),
    ],
    ids=[
        "checkpoint-int",
        "entries-int",
        "consistency-int",
        "body-list",
        "seq-str",
        "seq-float",
        "entry-twice",
        "entry-int",
    ],
)
def test_a_malformed_bundle_fails_cleanly(bundle_and_old, mangle):
    bundle, old_note = bundle_and_old
    forged = copy.deepcopy(bundle)
    mangle(forged)
    with pytest.raises(BundleError):
        verify_bundle(forged, pinned_keys=bundle["keys"], trusted_checkpoint=old_note)


def test_a_bundle_that_is_not_an_object_fails_cleanly(tmp_path):
    (tmp_path / "list.json").write_text("[1, 2]")
    failed = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "audits.verify_bundle", str(tmp_path / "list.json")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert failed.returncode == 1
    assert "Traceback" not in failed.stderr
