"""Re-wrap every data key under the newest key-encryption key (OMBUD_KEKS / OMBUD_KEKS_FILE)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from privacy.keys import keyring
from privacy.models import DataKey
from privacy.services import keys_rotate


class Command(BaseCommand):
    help = (
        "Re-wrap every data key under the newest key-encryption key, without re-encrypting any "
        "value. Add the new key last in OMBUD_KEKS first; remove an old one only once this has "
        "run and no data key uses it. Idempotent; safe to run twice at once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args: Any, **options: Any) -> None:
        newest = keyring().newest_id
        count = keys_rotate(batch_size=options["batch_size"])
        left = (
            DataKey.objects.filter(wrapped__isnull=False)
            .exclude(kek_id=newest)
            .values_list("kek_id", flat=True)
            .distinct()
        )
        self.stdout.write(f"Re-wrapped {count} data keys under {newest}.")
        if left:
            self.stdout.write(f"Still under older keys (held by another run?): {sorted(left)}")
        else:
            self.stdout.write("Every live data key is under the newest key-encryption key.")
