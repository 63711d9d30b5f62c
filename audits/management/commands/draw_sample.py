"""Draw the quality sample of a period, or re-run a stored draw to verify it was not steered."""

from __future__ import annotations

import calendar
from datetime import date
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from audits.models import QualitySample
from audits.sampling import sample_draw, sample_verify
from governance.errors import DomainError


def _month(value: str) -> tuple[date, date]:
    try:
        year, month = (int(part) for part in value.split("-"))
        first = date(year, month, 1)
    except ValueError as exc:
        raise CommandError(
            f"--period takes a month as YYYY-MM, e.g. 2026-10; not {value!r}."
        ) from exc
    return first, first.replace(day=calendar.monthrange(year, month)[1])


class Command(BaseCommand):
    help = (
        "Draw a month's quality sample of decisions in force, stratified by department, category "
        "and outcome, seeded from a freshly signed checkpoint (the ledger is sealed first), as "
        "the supervisor named by --as: a draw is a supervisor's act and the ledger names who "
        "drew it; a scheduler runs it under a designated supervisor account. "
        "With --verify SAMPLE_ID, re-run a stored draw from its parameters and checkpoint and "
        "exit non-zero if the seed or the items differ (the draw was steered or tampered with)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--period", help="The month to sample, as YYYY-MM.")
        parser.add_argument("--as", dest="username", help="The supervisor who draws.")
        parser.add_argument("--rate", type=Decimal, default=Decimal("0.05"))
        parser.add_argument("--min-per-stratum", type=int, default=2)
        parser.add_argument("--double-share", type=Decimal, default=Decimal("0.2"))
        parser.add_argument("--verify", type=int, metavar="SAMPLE_ID")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["verify"] is not None:
            self._verify(options["verify"])
            return
        if not options["period"] or not options["username"]:
            raise CommandError("Give --period YYYY-MM and --as USERNAME, or --verify SAMPLE_ID.")
        start, end = _month(options["period"])
        actor = get_user_model().objects.filter(username=options["username"]).first()
        if actor is None:
            raise CommandError(f"No user {options['username']!r}; name a supervisor's account.")
        try:
            sample = sample_draw(
                actor=actor,
                period_start=start,
                period_end=end,
                rate=options["rate"],
                min_per_stratum=options["min_per_stratum"],
                double_review_share=options["double_share"],
            )
        except DomainError as exc:
            detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.fields.items())
            raise CommandError(f"{exc.message} {detail}".strip()) from exc
        items = sample.items.count()
        self.stdout.write(
            f"Drew sample {sample.pk}: {items} of {sample.population} decisions from "
            f"{start} to {end}, seed {sample.seed} from {sample.seed_source}."
        )

    def _verify(self, pk: int) -> None:
        sample = QualitySample.objects.filter(pk=pk).first()
        if sample is None:
            raise CommandError(f"No sample {pk}.")
        check = sample_verify(sample)
        if not check.ok:
            raise CommandError(f"Sample {pk} does not verify:\n- " + "\n- ".join(check.problems))
        self.stdout.write(
            f"Sample {pk} verifies: seed {sample.seed} and its {sample.items.count()} items "
            f"follow from its parameters and {sample.seed_source}."
        )
