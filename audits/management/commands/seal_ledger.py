"""Sign a checkpoint over the ledger. Idempotent; safe to run from any scheduler, twice at once."""

from typing import Any

from django.core.management.base import BaseCommand

from audits.services import ledger_seal


class Command(BaseCommand):
    help = (
        "Sign a checkpoint (origin, tree size, root hash, time) over the whole ledger with the "
        "deployment's Ed25519 key. Does nothing when no entry was appended since the last one."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        checkpoint, created = ledger_seal()
        verb = "Signed" if created else "Unchanged since"
        self.stdout.write(
            f"{verb} checkpoint {checkpoint.tree_size} (root {checkpoint.root_hash}, "
            f"key {checkpoint.key_id})."
        )
