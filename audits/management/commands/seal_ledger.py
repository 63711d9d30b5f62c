"""Sign a checkpoint over the ledger. Idempotent; safe to run from any scheduler, twice at once."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

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
                "Also write the signed note to this directory (checkpoint-<size>.txt), kept "
                "apart from the database; verify_ledger --trusted-checkpoint DIR checks the log "
                "still extends every one of them."
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            checkpoint, created = ledger_seal()
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        if options["archive"]:
            options["archive"].mkdir(parents=True, exist_ok=True)
            target = options["archive"] / f"checkpoint-{checkpoint.tree_size:012d}.txt"
            if not target.exists():
                target.write_text(checkpoint.note, encoding="utf-8")
        verb = "Signed" if created else "Unchanged since"
        self.stdout.write(
            f"{verb} checkpoint {checkpoint.tree_size} (root {checkpoint.root_hash}, "
            f"key {checkpoint.key_id})."
        )
