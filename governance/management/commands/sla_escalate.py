"""Record missed deadlines and escalate them to department leads. Safe to run on any schedule."""

from typing import Any

from django.core.management.base import BaseCommand

from governance.services import sla_breaches_escalate
from privacy.services import privacy_requests_escalate


class Command(BaseCommand):
    help = (
        "Mark every newly missed acknowledgement, triage or decision deadline and escalate it to "
        "the department's leads, and every overdue privacy request to the privacy officers. "
        "Idempotent: a breach is recorded once however often this runs, and two runs at once "
        "never record it twice."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args: Any, **options: Any) -> None:
        counts = sla_breaches_escalate(batch_size=options["batch_size"])
        total = sum(counts.values())
        detail = ", ".join(f"{stage} {n}" for stage, n in counts.items())
        self.stdout.write(f"{total} new breach(es) escalated ({detail}).")
        requests = privacy_requests_escalate()
        self.stdout.write(f"{requests} overdue privacy request(s) escalated.")
