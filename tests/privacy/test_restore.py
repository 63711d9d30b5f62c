"""Re-applying erasures after a restore (privacy/services/restore.py) from the ledger archive
that `seal_ledger --archive` keeps (audits/archive.py).

A restore is played by putting back what a backup taken before the erasures would hold: the
wrapped data keys and the open sign-in account. The ledger itself cannot be rolled back here (the
database refuses it), and need not be: the replay reads the archive, not the database's ledger.
"""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone

from audits import notes, signing
from audits.archive import ArchiveError, archived_entries
from audits.choices import EventType
from audits.models import LedgerEntry
from audits.services import ledger_append, system_actor_ref
from audits.verification import verify_ledger
from governance.choices import ComplaintStatus, Role
from governance.errors import ValidationFailed
from privacy import services, vault
from privacy.choices import ErasureCause
from privacy.erasure import subjects_erase
from privacy.models import DataKey, DataSubject, LegalHold
from tests import factories

S = ComplaintStatus


def _seal(archive: Path) -> str:
    out = StringIO()
    call_command("seal_ledger", "--archive", str(archive), stdout=out)
    return out.getvalue()


def _backup() -> dict[str, Any]:
    """What a database backup holds that an erasure changes: the keys and the accounts."""
    return {
        "keys": list(DataKey.objects.values("pk", "wrapped", "destroyed_at", "destroyed_for")),
        "users": list(
            get_user_model().objects.values(
                "pk", "username", "email", "first_name", "last_name", "password", "is_active"
            )
        ),
    }


def _restore(backup: dict[str, Any]) -> None:
    for key in backup["keys"]:
        pk = key.pop("pk")
        DataKey.objects.filter(pk=pk).update(**key)
    for user in backup["users"]:
        pk = user.pop("pk")
        get_user_model().objects.filter(pk=pk).update(**user)


@pytest.fixture
def erased_after_backup(tmp_path: Path) -> dict[str, Any]:
    """Two people erased after a backup (one by request, one by retention), one left alone."""
    officer = factories.user_with_role(Role.PRIVACY_OFFICER)
    by_request = factories.flow_at(S.CLOSED)
    by_retention = factories.flow_at(S.CLOSED).complaint.complainant
    untouched = factories.flow_at(S.CLOSED).complaint.complainant
    archive = tmp_path / "archive"
    _seal(archive)
    backup = _backup()
    request, _ = services.privacy_request_file(actor=by_request.complainant, kind="deletion")
    request = services.privacy_request_verify_identity(actor=officer, request=request)
    services.privacy_request_complete(actor=officer, request=request)
    # One batch of retention, as `retention_enforce` erases it and records it.
    with transaction.atomic():
        subjects_erase(
            subject_ids=[by_retention.pk], cause=ErasureCause.RETENTION, now=timezone.now()
        )
        ledger_append(
            event_type=EventType.RETENTION_ENFORCED,
            object_ref="retention_run:1",
            actor_ref=system_actor_ref("enforce_retention"),
            data={"cause": "retention", "erased": [f"subject:{by_retention.pseudonym}"]},
        )
    _seal(archive)
    return {
        "archive": archive,
        "backup": backup,
        "by_request": by_request.complaint.complainant,
        "user": by_request.complainant,
        "by_retention": by_retention,
        "untouched": untouched,
    }


def test_the_archive_holds_every_entry_a_signed_checkpoint_covers(tmp_path):
    factories.flow_at(S.DECIDED)
    archive = tmp_path / "archive"

    first = _seal(archive)
    factories.flow_at(S.DECIDED)
    _seal(archive)
    again = _seal(archive)

    assert "entries archived" in first
    assert "entries archived" not in again  # nothing new: nothing written
    documents = list(archived_entries(archive))
    assert [d["seq"] for d in documents] == list(range(LedgerEntry.objects.count()))
    stored = list(LedgerEntry.objects.order_by("seq").values_list("body", flat=True))
    assert [json.loads(body) for body in stored] == documents
    assert len(list(archive.glob("entries-*.jsonl"))) == 2
    assert len(list(archive.glob("checkpoint-*.txt"))) == 2


def test_after_a_restore_every_archived_erasure_is_applied_again(erased_after_backup):
    # given: the database restored from the backup taken before both erasures
    e = erased_after_backup
    _restore(e["backup"])
    assert not vault.is_erased(e["by_request"])
    assert not vault.is_erased(e["by_retention"])
    before = LedgerEntry.objects.order_by("-seq").values_list("seq", flat=True).first()

    # when
    out = StringIO()
    call_command("reapply_erasures", "--archive", str(e["archive"]), stdout=out)

    # then: both erased again, the account closed again, the third person untouched
    assert vault.is_erased(e["by_request"])
    assert vault.is_erased(e["by_retention"])
    assert not vault.is_erased(e["untouched"])
    user = get_user_model().objects.get(pk=e["user"].pk)
    assert not user.is_active
    assert user.username == f"erased-{user.pk}"
    assert user.email == ""
    assert "Erased again: 2" in out.getvalue()
    entries = list(LedgerEntry.objects.filter(seq__gt=before).order_by("seq"))
    # the erasures, and the account's closing again (active in the restored database)
    assert {entry.event_type for entry in entries} == {
        EventType.SUBJECT_ERASED,
        EventType.ACCESS_FLAGS_CHANGED,
    }
    erasures = [entry for entry in entries if entry.event_type == EventType.SUBJECT_ERASED]
    replayed = {p for entry in erasures for p in json.loads(entry.body)["data"]["subjects"]}
    assert replayed == {e["by_request"].pseudonym, e["by_retention"].pseudonym}
    verify_ledger()

    # and: a second run finds nothing to do and writes nothing
    again = services.erasures_reapply(archive=e["archive"])
    assert again.reapplied == []
    assert LedgerEntry.objects.filter(seq__gt=entries[-1].seq).count() == 0


def test_a_legal_hold_in_the_restored_database_does_not_bring_the_data_back(erased_after_backup):
    # given: a hold the backup still held, released before the erasure (the release is lost)
    e = erased_after_backup
    _restore(e["backup"])
    officer = factories.user_with_role(Role.PRIVACY_OFFICER, username="holder")
    LegalHold.objects.create(
        reason="Case 2025-9 preservation order, since lifted.",
        review_on=factories.future(30),
        placed_by=officer,
        placed_at=timezone.now(),
        subject=e["by_retention"],
    )

    result = services.erasures_reapply(archive=e["archive"])

    assert e["by_retention"].pseudonym in result.reapplied
    assert vault.is_erased(e["by_retention"])


def test_a_dry_run_names_the_subjects_and_changes_nothing(erased_after_backup):
    e = erased_after_backup
    _restore(e["backup"])
    count = LedgerEntry.objects.count()

    result = services.erasures_reapply(archive=e["archive"], dry_run=True)

    assert sorted(result.reapplied) == sorted(
        [e["by_request"].pseudonym, e["by_retention"].pseudonym]
    )
    assert not vault.is_erased(e["by_request"])
    assert LedgerEntry.objects.count() == count


def _tamper(archive: Path, change: Any) -> None:
    path = sorted(archive.glob("entries-*.jsonl"))[-1]
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(change(lines)), encoding="utf-8")


def _forge_erasure(lines: list[str], pseudonym: str) -> list[str]:
    document = json.loads(lines[-1])
    document["type"] = "subject.erased"
    document["data"] = {"cause": "deletion_request", "subjects": [pseudonym]}
    lines[-1] = json.dumps(document, separators=(",", ":"), sort_keys=True) + "\n"
    return lines


@pytest.mark.parametrize(
    ("damage", "why"),
    [
        ("forge", "do not hash to the signed checkpoint"),
        ("truncate", "ends at seq"),
        ("no checkpoint", "holds no signed checkpoint"),
        ("bad signature", "does not verify"),
    ],
)
def test_an_archive_no_signature_vouches_for_is_refused_and_nothing_is_erased(
    erased_after_backup, damage, why
):
    # given: someone wants an innocent person erased, or hides an erasure
    e = erased_after_backup
    _restore(e["backup"])
    archive = e["archive"]
    victim = e["untouched"].pseudonym
    if damage == "forge":
        _tamper(archive, lambda lines: _forge_erasure(lines, victim))
    elif damage == "truncate":
        _tamper(archive, lambda lines: lines[:-1])
    elif damage == "no checkpoint":
        for note in archive.glob("checkpoint-*.txt"):
            note.unlink()
    else:
        for note in archive.glob("checkpoint-*.txt"):
            note.write_text(note.read_text().replace("\n\u2014 ", "\n\u2014 x"), encoding="utf-8")
    keys = list(DataKey.objects.order_by("pk").values_list("wrapped", flat=True))

    # when / then
    with pytest.raises(ValidationFailed, match=why):
        services.erasures_reapply(archive=archive)
    with pytest.raises(CommandError, match="cannot be trusted"):
        call_command("reapply_erasures", "--archive", str(archive), stdout=StringIO())
    assert list(DataKey.objects.order_by("pk").values_list("wrapped", flat=True)) == keys
    assert DataSubject.objects.get(pseudonym=victim).data_key.wrapped is not None


def test_reading_an_archive_that_is_not_there_says_so(tmp_path):
    with pytest.raises(ArchiveError, match="not a directory"):
        list(archived_entries(tmp_path / "missing"))


@pytest.mark.parametrize("branch", ["shorter", "different"])
def test_sealing_refuses_to_add_to_an_archive_the_database_no_longer_extends(tmp_path, branch):
    # given an archive whose newest checkpoint the database's ledger does not extend, as after
    # a restore: longer than the database, or of the same size with another root
    factories.flow_at(S.DECIDED)
    archive = tmp_path / "archive"
    _seal(archive)
    size = LedgerEntry.objects.count()
    other = notes.Checkpoint(
        origin=signing.key_name(),
        tree_size=size + 50 if branch == "shorter" else size,
        root_hash=bytes(32),
        time=timezone.now(),
    )
    note = notes.sign_checkpoint(other, signing.key_name(), signing.signing_key())
    (archive / f"checkpoint-{other.tree_size:012d}.txt").write_text(note, encoding="utf-8")
    before = sorted(p.name for p in archive.iterdir())
    factories.flow_at(S.RECEIVED)

    # when / then: the checkpoint is signed in the database, the archive is left as it was
    with pytest.raises(CommandError, match="does not extend the archive"):
        _seal(archive)
    assert sorted(p.name for p in archive.iterdir()) == before


def test_a_deletion_held_in_part_does_not_close_the_account_on_replay(erased_after_backup):
    # given: the person erased by request also has a second data subject, kept live
    e = erased_after_backup
    _restore(e["backup"])
    user = e["user"]
    second = factories.flow_at(S.CLOSED).complaint.complainant
    DataSubject.objects.filter(pk=second.pk).update(user=user)

    services.erasures_reapply(archive=e["archive"])

    assert vault.is_erased(e["by_request"])
    assert get_user_model().objects.get(pk=user.pk).is_active
