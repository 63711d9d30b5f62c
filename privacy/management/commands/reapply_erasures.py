"""After restoring the database from a backup, destroy again the keys erased since it was taken."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from governance.errors import DomainError
from privacy import services


class Command(BaseCommand):
    help = (
        "Read the ledger archive written by seal_ledger --archive DIR (only as far as its signed "
        "checkpoints vouch for it) and destroy again every data key it records as destroyed that "
        "the database holds live, as after restoring a backup. Idempotent; each batch is one "
        "transaction with a ledger event. Run it before the restored database takes traffic."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--archive", type=Path, required=True, help="The archive directory.")
        parser.add_argument(
            "--dry-run", action="store_true", help="List what would be erased; change nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = services.erasures_reapply(
                archive=options["archive"], dry_run=options["dry_run"]
            )
        except DomainError as exc:
            raise CommandError(
                f"{exc.message} {' '.join(m for ms in exc.fields.values() for m in ms)}"
            ) from exc
        verb = "Would erase again" if options["dry_run"] else "Erased again"
        self.stdout.write(
            f"The archive vouches for {result.archive_size} ledger entries recording "
            f"{result.archived_erasures} erased data subject(s). {verb}: "
            f"{len(result.reapplied)}."
        )
        for pseudonym in result.reapplied:
            self.stdout.write(f"  subject:{pseudonym}")
