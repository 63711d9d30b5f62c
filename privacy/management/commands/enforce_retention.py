"""Erase the personal data whose retention period is over (run nightly; see docs/retention.md)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from governance.errors import DomainError
from privacy import services


class Command(BaseCommand):
    help = (
        "Erase the personal data of subjects whose complaints all closed longer ago than the "
        "retention rules allow (by destroying their data keys), and remove access-log entries "
        "past the access-log rule, in batches. Subjects under a legal hold are kept. Safe to run "
        "twice at once; a second run erases nothing more. Each batch and each run is recorded "
        "in the ledger with pseudonyms and counts only."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="List what would be erased and change nothing (no ledger entry, no run row).",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=1000,
            help="Subjects or log entries erased per transaction (default 1000).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = services.retention_enforce(
                dry_run=options["dry_run"], batch_size=options["batch_size"]
            )
        except DomainError as exc:
            raise CommandError(
                f"{exc.message} {' '.join(m for ms in exc.fields.values() for m in ms)}"
            ) from exc
        verb = "Would erase" if result.dry_run else "Erased"
        self.stdout.write(
            f"{verb} the personal data of {result.subjects_erased} data subject(s) "
            f"as of {result.as_of.isoformat()}."
        )
        for pseudonym in result.erased if result.dry_run else []:
            self.stdout.write(f"  subject:{pseudonym}")
        removed = "would be removed" if result.dry_run else "removed"
        before = (
            f"read before {result.access_log_before.isoformat()}"
            if result.access_log_before is not None
            else "the access-log rule keeps them for ever"
        )
        self.stdout.write(f"Access-log entries {removed}: {result.access_log_removed} ({before}).")
        if result.held_back:
            self.stdout.write(
                f"Kept under a legal hold although expired: {len(result.held_back)} subject(s); "
                "they are erased on a run after the hold is released."
            )
            for pseudonym in result.held_back if result.dry_run else []:
                self.stdout.write(f"  subject:{pseudonym}")
        if result.run is not None:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Retention run {result.run.pk} recorded in {len(result.ledger_seqs)} "
                    f"ledger entries ({result.ledger_seqs[0]} to {result.ledger_seqs[-1]})."
                )
            )
        else:
            self.stdout.write("Dry run: nothing was changed or recorded.")
