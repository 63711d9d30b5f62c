"""Sign a checkpoint over the ledger. Idempotent; safe to run from any scheduler, twice at once."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from audits.archive import ArchiveError, archive_write
from audits.services import ledger_seal
from governance.errors import DomainError


class Command(BaseCommand):
    help = (
        "Sign a checkpoint (origin, tree size, root hash, time) over the whole ledger with the "
        "deployment's Ed25519 key. Does nothing when no entry was appended since the last one, "
        "and refuses to sign a log that no longer extends the last checkpoint."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--archive",
            type=Path,
            help=(
                "Also write the signed note to this directory (checkpoint-<size>.txt), with the "
                "entries it covers (entries-<first>-<last>.jsonl), kept apart from the database; "
                "verify_ledger --trusted-checkpoint DIR checks the log still extends every "
                "checkpoint, and reapply_erasures --archive DIR replays erasures after a restore."
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            checkpoint, created = ledger_seal()
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        archived = ""
        if options["archive"]:
            try:
                written = archive_write(options["archive"], checkpoint)
            except (ArchiveError, OSError) as exc:
                raise CommandError(
                    f"Signed checkpoint {checkpoint.tree_size}, but did not archive it: {exc}"
                ) from exc
            archived = f"; {written} entries archived" if written else ""
        verb = "Signed" if created else "Unchanged since"
        self.stdout.write(
            f"{verb} checkpoint {checkpoint.tree_size} (root {checkpoint.root_hash}, "
            f"key {checkpoint.key_id}){archived}."
        )
