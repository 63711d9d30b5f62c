"""The ledger API: proofs that verify against signed checkpoints, and its refusals."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import yaml

from audits import merkle, notes
from audits.models import LedgerEntry
from audits.services import ledger_seal
from governance.choices import ComplaintStatus, Role
from tests import factories


@pytest.fixture
def reader(as_user: Any) -> Any:
    factories.flow_at(ComplaintStatus.RECEIVED)
    ledger_seal()
    factories.flow_at(ComplaintStatus.DECIDED)
    ledger_seal()
    return as_user(factories.user_with_role(Role.SUPERVISOR))


def _hashes(values: list[str]) -> list[bytes]:
    return [base64.b64decode(v) for v in values]


def test_latest_checkpoint_is_signed_by_a_published_key(reader):
    latest = reader.get("/api/v1/ledger/checkpoints/latest/").json()
    keys = reader.get("/api/v1/ledger/keys/").json()
    checkpoint, key = notes.verify_checkpoint(
        latest["note"], [notes.VerifierKey.decode(k["verifier_key"]) for k in keys]
    )
    # the reader's own role grant came after the seal, so the log is one entry longer
    assert checkpoint.tree_size == latest["tree_size"] == LedgerEntry.objects.count() - 1
    assert key.id.hex() == latest["key_id"] == keys[0]["key_id"]


def test_every_inclusion_proof_verifies_against_the_checkpoint(reader):
    size = reader.get("/api/v1/ledger/checkpoints/latest/").json()["tree_size"]
    for seq in range(size):
        proof = reader.get(f"/api/v1/ledger/entries/{seq}/proof/").json()
        entry = reader.get(f"/api/v1/ledger/entries/{seq}/").json()
        leaf = merkle.hash_leaf(entry["body"].encode())
        assert leaf.hex() == entry["leaf_hash"] == proof["leaf_hash"]
        assert merkle.verify_inclusion(
            leaf, seq, size, _hashes(proof["proof"]), bytes.fromhex(proof["root_hash"])
        )


def test_consistency_between_checkpoints_verifies(reader):
    sizes = [c["tree_size"] for c in reader.get("/api/v1/ledger/checkpoints/").json()["results"]]
    new, old = sizes[0], sizes[-1]
    body = reader.get(f"/api/v1/ledger/checkpoints/{new}/consistency/?from={old}").json()
    assert merkle.verify_consistency(
        old,
        new,
        bytes.fromhex(body["first_root"]),
        bytes.fromhex(body["second_root"]),
        _hashes(body["proof"]),
    )


def test_ledger_refusals_are_clear(reader):
    size = reader.get("/api/v1/ledger/checkpoints/latest/").json()["tree_size"]
    assert reader.get("/api/v1/ledger/checkpoints/99999/").status_code == 404
    assert reader.get(f"/api/v1/ledger/entries/{size + 50}/").status_code == 404
    missing_from = reader.get(f"/api/v1/ledger/checkpoints/{size}/consistency/")
    assert missing_from.status_code == 400
    assert "from" in missing_from.json()["fields"]
    bad = reader.get(f"/api/v1/ledger/checkpoints/{size}/consistency/?from=abc")
    assert bad.status_code == 400
    old_size = min(
        c["tree_size"] for c in reader.get("/api/v1/ledger/checkpoints/").json()["results"]
    )
    too_new = reader.get(f"/api/v1/ledger/entries/{size - 1}/proof/?tree_size={old_size}")
    assert too_new.status_code == 400
    assert "tree_size" in too_new.json()["fields"]


def test_evidence_bundle_from_the_api_verifies_offline(reader):
    from audits.verify_bundle import verify_bundle
    from governance.models import Complaint

    reference = Complaint.objects.order_by("-id").first().reference
    bundle = reader.get(f"/api/v1/complaints/{reference}/evidence/").json()
    assert bundle["entries_not_yet_sealed"] == 0
    assert verify_bundle(bundle).entries == len(bundle["entries"]) > 0
    assert reader.get("/api/v1/complaints/CMP-2026-999999/evidence/").status_code == 404


def test_evidence_refuses_a_malformed_checkpoint_size(reader):
    from governance.models import Complaint

    reference = Complaint.objects.order_by("-id").first().reference
    response = reader.get(f"/api/v1/complaints/{reference}/evidence/?consistency_from=ten")
    assert response.status_code == 400
    assert "consistency_from" in response.json()["fields"]


@pytest.mark.parametrize(
    "path", ["/api/v1/oversight/early-warning/", "/api/v1/oversight/statements/"]
)
def test_the_schema_gives_one_object_where_the_answer_is_one(api: Any, path: str) -> None:
    # Found by the schema fuzz: these answer the viewset's `list` with one object, which the
    # schema described as an array of them.
    document = yaml.safe_load(api.get("/api/schema/").content)

    schema = document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
    assert "$ref" in schema["schema"]
    assert schema["schema"].get("type") != "array"
