"""Write the DSA statements of reasons of the decisions since a day as JSON Lines."""

from __future__ import annotations

import argparse
import json
import os
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from audits.selectors import build_statement_export


def _day(raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{raw!r} is not a date; give it as YYYY-MM-DD, e.g. 2025-01-31."
        ) from None


class Command(BaseCommand):
    help = (
        "Write one DSA Transparency Database statement of reasons per restrictive decision in "
        "force decided since --since (a business day), one JSON object per line, to --out. "
        "Every statement is checked against every rule of the database's API first; the ones "
        "that break a rule are not written but listed with their decision and rules, and the "
        "command then exits 1."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--since", type=_day, required=True, help="YYYY-MM-DD")
        parser.add_argument("--out", type=Path, required=True, help="The .jsonl file to write.")

    def handle(self, *args: Any, **options: Any) -> None:
        since: date = options["since"]
        out: Path = options["out"]
        export = build_statement_export(since=since)
        # Written beside the target and renamed, so a reader never sees half a file.
        partial = out.with_name(out.name + ".partial")
        try:
            with partial.open("w", encoding="utf-8") as handle:
                for statement in export.statements:
                    handle.write(json.dumps(statement, ensure_ascii=False, sort_keys=True))
                    handle.write("\n")
            os.replace(partial, out)
        except OSError as exc:
            raise CommandError(
                f"Cannot write {out}: {exc}. Choose a writable --out path and run again."
            ) from exc
        self.stdout.write(
            f"Statements of reasons since {since.isoformat()}: {len(export.statements)} written "
            f"to {out}, {len(export.failures)} failed the rules, {export.not_restrictive} "
            "decisions restrict nothing in the EU/EEA and need none."
        )
        for failure in export.failures:
            rules = ", ".join(dict.fromkeys(v.rule for v in failure.violations))
            self.stderr.write(f"decision {failure.decision_id} ({failure.puid}): {rules}")
            for violation in failure.violations:
                self.stderr.write(f"  - {violation.rule}: {violation.message}")
        if export.failures:
            raise CommandError(
                f"{len(export.failures)} statements break the reference's rules and were not "
                "written; correct those decisions (a correction replaces the decision in force) "
                "and export again."
            )
