"""verify_ledger catches what a database superuser could do to the record.

Each test lifts the append-only triggers inside its own transaction (as a superuser could; the
test's rollback puts everything back), tampers with raw SQL, and expects the first divergence
to be named. A control test shows the untouched log verifies.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from audits import merkle, notes
from audits.choices import EventType
from audits.models import Checkpoint, LedgerEntry
from audits.services import canonical_json, ledger_seal
from audits.triggers import protected_tables, triggers_lifted
from audits.verification import Divergence, verify_ledger
from governance.choices import ComplaintStatus
from governance.errors import LedgerDiverged
from tests import factories

PARKED = 10**9  # a free sequence number to swap rows through


@pytest.fixture
def sealed_log() -> dict[str, Any]:
    """Two complaints' worth of ledger (one appealed and decided again), sealed."""
    appealed = factories.flow_at(ComplaintStatus.APPEAL_DECIDED)
    closed = factories.flow_at(ComplaintStatus.CLOSED)
    checkpoint, _created = ledger_seal()
    return {"appealed": appealed, "closed": closed, "checkpoint": checkpoint}


@pytest.fixture
def superuser() -> Iterator[None]:
    """Lift every append-only trigger for the test, as a database superuser could."""
    with triggers_lifted(connection, protected_tables(connection)):
        yield


def _sql(statement: str, params: list[Any] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])


def _entries() -> list[LedgerEntry]:
    return list(LedgerEntry.objects.order_by("seq"))


def _rewrite(entry: LedgerEntry, doc: dict[str, Any], *, seq: int | None = None) -> None:
    """Store `doc` as the body of `entry` (at `seq`), with a freshly computed, valid leaf hash."""
    body = canonical_json(doc)
    leaf = hashlib.sha256(b"\x00" + body).hexdigest()
    _sql(
        "UPDATE audits_ledgerentry SET seq = %s, body = %s, leaf_hash = %s, event_type = %s, "
        "object_ref = %s, actor_ref = %s WHERE seq = %s",
        [
            seq if seq is not None else entry.seq,
            body.decode(),
            leaf,
            doc["type"],
            doc["ref"],
            doc["actor"],
            entry.seq,
        ],
    )


def _divergence() -> Divergence:
    with pytest.raises(Divergence) as exc:
        verify_ledger(chunk_size=7)
    return exc.value


def test_the_untouched_log_verifies(sealed_log):
    report = verify_ledger(chunk_size=7)
    assert report.entries == sealed_log["checkpoint"].tree_size
    assert report.rows["governance_decision"] == 3


def test_an_edited_decision_field_is_caught(sealed_log, superuser):
    decision = sealed_log["closed"].decision
    _sql("UPDATE governance_decision SET outcome = 'rejected' WHERE id = %s", [decision.pk])
    found = _divergence()
    assert found.table == "governance_decision"
    assert f"row {decision.pk}: data.outcome" in found.what


def test_edited_decision_facts_are_caught_through_their_commitment(sealed_log, superuser):
    decision = sealed_log["closed"].decision
    _sql("UPDATE governance_decision SET facts = 'Nothing happened.' WHERE id = %s", [decision.pk])
    assert "data.facts_sha256" in _divergence().what


def test_an_edited_transition_reason_is_caught(sealed_log, superuser):
    _sql(
        "UPDATE governance_complainttransition SET reason = 'Rewritten' WHERE id = "
        "(SELECT MIN(id) FROM governance_complainttransition)"
    )
    assert _divergence().table == "governance_complainttransition"


def test_an_edited_ledger_body_is_caught_by_its_leaf_hash(sealed_log, superuser):
    entry = _entries()[5]
    _sql(
        "UPDATE audits_ledgerentry SET body = REPLACE(body, '\"seq\"', '\"seq\" ') WHERE seq = %s",
        [entry.seq],
    )
    found = _divergence()
    assert (found.seq, found.table) == (entry.seq, "audits_ledgerentry")


def test_an_edited_body_with_a_recomputed_hash_is_caught_by_the_checkpoint(sealed_log, superuser):
    entry = _entries()[5]
    doc = json.loads(entry.body)
    doc["data"]["forged"] = True
    _rewrite(entry, doc)
    assert "signed checkpoint" in _divergence().what


def test_a_deleted_entry_is_caught(sealed_log, superuser):
    _sql("DELETE FROM audits_ledgerentry WHERE seq = 9")
    found = _divergence()
    assert found.seq == 9
    assert "missing" in found.what


def test_a_forged_inserted_entry_is_caught(sealed_log, superuser):
    # given: a well-formed entry slipped in at seq 4, everything after renumbered and re-hashed
    tail = [e for e in _entries() if e.seq >= 4]
    for entry in reversed(tail):
        doc = json.loads(entry.body)
        doc["seq"] = entry.seq + 1
        _rewrite(entry, doc, seq=entry.seq + 1)
    forged = {**json.loads(tail[0].body), "seq": 4, "data": {"forged": True}}
    body = canonical_json(forged)
    _sql(
        "INSERT INTO audits_ledgerentry (seq, recorded_at, event_type, object_ref, actor_ref, "
        "body, leaf_hash) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        [
            4,
            tail[0].recorded_at,
            forged["type"],
            forged["ref"],
            forged["actor"],
            body.decode(),
            hashlib.sha256(b"\x00" + body).hexdigest(),
        ],
    )
    # then: each entry is self-consistent, but the signed root no longer matches
    assert "signed checkpoint" in _divergence().what


def test_two_swapped_entries_are_caught(sealed_log, superuser):
    a, b = _entries()[3], _entries()[8]
    _sql("UPDATE audits_ledgerentry SET seq = %s WHERE seq = %s", [PARKED, a.seq])
    _sql("UPDATE audits_ledgerentry SET seq = %s WHERE seq = %s", [a.seq, b.seq])
    _sql("UPDATE audits_ledgerentry SET seq = %s WHERE seq = %s", [b.seq, PARKED])
    found = _divergence()
    assert found.seq == a.seq
    assert "column seq differs from the body" in found.what


def test_swapped_entries_renumbered_consistently_are_caught_by_the_checkpoint(
    sealed_log, superuser
):
    a, b = _entries()[3], _entries()[8]
    doc_a, doc_b = json.loads(a.body), json.loads(b.body)
    doc_a["seq"], doc_b["seq"] = b.seq, a.seq
    _sql("UPDATE audits_ledgerentry SET seq = %s WHERE seq = %s", [PARKED, a.seq])
    a.seq = PARKED
    _rewrite(b, doc_b, seq=doc_b["seq"])
    _rewrite(a, doc_a, seq=doc_a["seq"])
    _sql("UPDATE audits_ledgerentry SET recorded_at = %s WHERE seq = %s", [b.recorded_at, a.seq])
    _sql("UPDATE audits_ledgerentry SET recorded_at = %s WHERE seq = %s", [a.recorded_at, b.seq])
    # then: every entry is self-consistent, so only the signed root can tell
    assert "signed checkpoint" in _divergence().what


def test_a_tail_truncated_below_a_checkpoint_is_caught(sealed_log, superuser):
    size = sealed_log["checkpoint"].tree_size
    _sql("DELETE FROM audits_ledgerentry WHERE seq >= %s", [size - 3])
    found = _divergence()
    assert "entries were removed" in found.what


def test_a_whole_rewritten_log_with_recomputed_hashes_is_caught_by_the_checkpoint(
    sealed_log, superuser
):
    # given: a decision rewritten in its row AND in the ledger, every hash recomputed
    decision = sealed_log["closed"].decision
    _sql(
        "UPDATE governance_decision SET outcome = 'rejected', actions = %s WHERE id = %s",
        ['["none"]', decision.pk],
    )
    entry = LedgerEntry.objects.get(
        event_type=EventType.DECISION_RECORDED, object_ref=f"decision:{decision.pk}"
    )
    doc = json.loads(entry.body)
    doc["data"]["outcome"], doc["data"]["actions"] = "rejected", ["none"]
    _rewrite(entry, doc)
    # then: rows and entries agree with each other, but not with what was signed
    found = _divergence()
    assert "signed checkpoint" in found.what


def test_a_forged_checkpoint_signature_is_caught(sealed_log, superuser):
    note = sealed_log["checkpoint"].note
    body, _sep, signature_line = note.partition("\n\n")
    prefix, blob = signature_line.rstrip("\n").rsplit(" ", 1)
    raw = bytearray(base64.b64decode(blob))
    raw[-1] ^= 0x01
    forged = f"{body}\n\n{prefix} {base64.b64encode(bytes(raw)).decode()}\n"
    _sql("UPDATE audits_checkpoint SET note = %s", [forged])
    found = _divergence()
    assert found.table == "audits_checkpoint"


def test_a_checkpoint_re_signed_with_another_key_is_caught(sealed_log, superuser):
    # given: the log rewritten, and a new checkpoint signed with the attacker's own key
    checkpoint = sealed_log["checkpoint"]
    _sql("DELETE FROM audits_ledgerentry WHERE seq = %s", [checkpoint.tree_size - 1])
    leaves = [bytes.fromhex(e.leaf_hash) for e in _entries()]
    statement = notes.Checkpoint(
        checkpoint.origin, len(leaves), merkle.root_of(leaves), checkpoint.signed_at
    )
    note = notes.sign_checkpoint(statement, checkpoint.origin, Ed25519PrivateKey.generate())
    _sql("DELETE FROM audits_checkpoint")
    _sql(
        "INSERT INTO audits_checkpoint (tree_size, root_hash, origin, signed_at, key_id, note) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        [
            len(leaves),
            statement.root_hash.hex(),
            checkpoint.origin,
            checkpoint.signed_at,
            "00000000",
            note,
        ],
    )
    found = _divergence()
    assert found.table == "audits_checkpoint"
    assert "no signature" in found.what


def test_verify_ledger_command_exits_non_zero_naming_the_divergence(sealed_log, superuser):
    _sql("DELETE FROM audits_ledgerentry WHERE seq = 2")
    with pytest.raises(CommandError, match="seq 2, audits_ledgerentry"):
        call_command("verify_ledger")


def test_verify_ledger_command_reports_success(sealed_log, capsys):
    call_command("verify_ledger")
    assert f"{sealed_log['checkpoint'].tree_size} entries" in capsys.readouterr().out


def test_a_decision_row_added_outside_the_services_is_caught(sealed_log, superuser):
    decision = sealed_log["closed"].decision
    _sql(
        "INSERT INTO governance_decision (complaint_id, kind, outcome, actions, ground, "
        "ground_reference, policy_clause_id, facts, reasons, automated_detection, "
        "automated_decision, territorial_scope, decided_by_id, decided_at, supersedes_id, "
        "appeal_id, appeal_outcome) SELECT complaint_id, 'initial', 'rejected', actions, ground, "
        "ground_reference, policy_clause_id, facts, reasons, automated_detection, "
        "automated_decision, territorial_scope, decided_by_id, decided_at, NULL, NULL, '' "
        "FROM governance_decision WHERE id = %s",
        [decision.pk],
    )
    found = _divergence()
    assert found.table == "governance_decision"
    assert "outside the services" in found.what
    assert Checkpoint.objects.count() == 1


# --- a rewrite that also deletes the stored checkpoints ------------------------------------------


def test_sealing_refuses_a_log_that_no_longer_extends_the_last_checkpoint(sealed_log, superuser):
    entry = _entries()[2]
    doc = json.loads(entry.body)
    doc["data"]["forged"] = True
    _rewrite(entry, doc)
    factories.file_complaint()  # something new to seal
    with pytest.raises(LedgerDiverged, match="no longer hash"):
        ledger_seal()
    assert Checkpoint.objects.count() == 1


def test_sealing_refuses_a_log_shorter_than_the_last_checkpoint(sealed_log, superuser):
    _sql("DELETE FROM audits_ledgerentry WHERE seq >= %s", [sealed_log["checkpoint"].tree_size - 2])
    with pytest.raises(LedgerDiverged, match="entries were removed"):
        ledger_seal()


def test_an_archived_checkpoint_catches_a_rewrite_whose_checkpoints_were_deleted(
    sealed_log, superuser
):
    # given: the checkpoints kept outside the database (seal_ledger --archive)
    archived = sealed_log["checkpoint"].note
    # when: a superuser rewrites an entry, deletes every stored checkpoint and seals afresh
    entry = _entries()[2]
    doc = json.loads(entry.body)
    doc["data"]["forged"] = True
    _rewrite(entry, doc)
    _sql("DELETE FROM audits_checkpoint")
    ledger_seal()
    # then: the database alone looks consistent, but the archived checkpoint does not match
    assert verify_ledger().entries > 0
    with pytest.raises(Divergence, match="signed checkpoint"):
        verify_ledger(trusted_checkpoints=[archived])


def test_seal_archive_and_verify_against_it(sealed_log, tmp_path, capsys):
    call_command("seal_ledger", archive=tmp_path)
    assert len(list(tmp_path.glob("checkpoint-*.txt"))) == 1
    call_command("verify_ledger", trusted_checkpoint=[tmp_path])
    assert "1 trusted from outside" in capsys.readouterr().out


def test_a_body_that_is_not_an_entry_or_repeats_a_row_is_named(sealed_log, superuser):
    # a well-hashed body that is JSON but not an object, at the unsealed tail
    size = sealed_log["checkpoint"].tree_size
    body = b"[]"
    _sql(
        "INSERT INTO audits_ledgerentry (seq, recorded_at, event_type, object_ref, actor_ref, "
        "body, leaf_hash) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        [
            size,
            _entries()[-1].recorded_at,
            "complaint.received",
            "x",
            "y",
            body.decode(),
            hashlib.sha256(b"\x00" + body).hexdigest(),
        ],
    )
    assert "not a ledger entry" in _divergence().what


def test_an_entry_repeating_a_decisions_record_is_caught(sealed_log, superuser):
    size = sealed_log["checkpoint"].tree_size
    original = LedgerEntry.objects.get(
        event_type=EventType.DECISION_RECORDED,
        object_ref=f"decision:{sealed_log['closed'].decision.pk}",
    )
    doc = {**json.loads(original.body), "seq": size}
    body = canonical_json(doc)
    _sql(
        "INSERT INTO audits_ledgerentry (seq, recorded_at, event_type, object_ref, actor_ref, "
        "body, leaf_hash) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        [
            size,
            original.recorded_at,
            doc["type"],
            doc["ref"],
            doc["actor"],
            body.decode(),
            hashlib.sha256(b"\x00" + body).hexdigest(),
        ],
    )
    assert "recorded twice" in _divergence().what
