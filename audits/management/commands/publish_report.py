"""Publish the oversight report of a month, quarter or year that has ended."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from audits.reports import report_publish
from governance.errors import Conflict, DomainError


class Command(BaseCommand):
    help = (
        "Publish the oversight report of a period that has ended: a month (2026-10), a quarter "
        "(2026-Q4) or a year (2026). The ledger is sealed first and the figures are counted at "
        "that checkpoint; the report is frozen (JSON, CSV, an HTML page per language), signed "
        "with the ledger's key, recorded in the ledger and shown on /transparency/. It is a "
        "supervisor's act: --as names the supervisor (a scheduler runs it under a designated "
        "account). Idempotent: for a period already published it changes nothing and says so, "
        "so two schedulers may run it at once. A correction is a new report: give "
        "--supersedes NUMBER and --correction TEXT."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--period", required=True, help="YYYY-MM, YYYY-Qn or YYYY.")
        parser.add_argument("--as", dest="username", required=True, help="The supervisor.")
        parser.add_argument("--supersedes", type=int, help="The report this one corrects.")
        parser.add_argument("--correction", default="", help="What the correction changes.")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = get_user_model().objects.filter(username=options["username"]).first()
        if actor is None:
            raise CommandError(f"No user {options['username']!r}; name a supervisor's account.")
        try:
            report = report_publish(
                actor=actor,
                period=options["period"],
                supersedes=options["supersedes"],
                correction=options["correction"],
            )
        except Conflict as exc:
            if options["supersedes"] is not None:
                raise CommandError(exc.message) from exc
            self.stdout.write(f"Nothing published: {exc.message}")
            return
        except DomainError as exc:
            detail = "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in exc.fields.items())
            raise CommandError(f"{exc.message} {detail}".strip()) from exc
        self.stdout.write(
            f"Published report {report.number} of {report.period}, counted at checkpoint "
            f"{report.checkpoint.tree_size}; see /transparency/reports/{report.number}/."
        )
