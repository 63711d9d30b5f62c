"""Verify the ledger end to end; exit non-zero naming the first divergence."""

import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from audits.verification import Divergence, verify_ledger


def _notes(paths: list[Path]) -> list[str]:
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.glob("*.txt")) if path.is_dir() else [path])
    return [f.read_text(encoding="utf-8").rstrip("\n") + "\n" for f in files]


class Command(BaseCommand):
    help = (
        "Stream every ledger entry, recompute every leaf hash and the root at every signed "
        "checkpoint, check every signature, and compare decisions and transitions with what the "
        "ledger recorded of them. Exits 1 and names the first divergence (seq, table, what)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--chunk-size", type=int, default=10_000)
        parser.add_argument(
            "--trusted-checkpoint",
            type=Path,
            action="append",
            default=[],
            help=(
                "A signed checkpoint kept outside the database, or a directory of them "
                "(seal_ledger --archive); repeatable. Without one, a superuser who deletes the "
                "stored checkpoints could pass off a rewritten log."
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        try:
            trusted = _notes(options["trusted_checkpoint"])
            report = verify_ledger(chunk_size=options["chunk_size"], trusted_checkpoints=trusted)
        except OSError as exc:
            raise CommandError(f"Cannot read a trusted checkpoint: {exc}") from exc
        except Divergence as exc:
            raise CommandError(f"Ledger verification FAILED at {exc}") from exc
        took = time.perf_counter() - started
        rows = ", ".join(f"{n} {table}" for table, n in report.rows.items())
        anchored = f", {len(trusted)} trusted from outside" if trusted else ""
        self.stdout.write(
            f"Ledger verified: {report.entries} entries, {report.checkpoints} signed checkpoints"
            f"{anchored}, rows matched: {rows or 'none'} ({took:.1f} s)."
        )
