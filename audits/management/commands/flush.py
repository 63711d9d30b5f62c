"""Django's `flush`, taught about append-only tables, and refused outside test databases.

The test suite's transactional tests end with a flush, which the append-only triggers would
refuse. Where OMBUD_ALLOW_FLUSH is on (the suite's own databases), this lifts the triggers for
the flush and puts them back; anywhere else it refuses, because Ombud's record must not be
wiped. (A database owner could still drop the triggers by hand; the signed checkpoints held by
supervisors are what reveal that.)
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import CommandError
from django.core.management.commands.flush import Command as DjangoFlush
from django.db import connections

from audits.triggers import protected_tables, triggers_lifted


class Command(DjangoFlush):
    def handle(self, **options: Any) -> None:
        if not settings.OMBUD_ALLOW_FLUSH:
            raise CommandError(
                "Ombud refuses to flush: its ledger, decisions and history are append-only. "
                "Only a test database (OMBUD_ALLOW_FLUSH=1) may be emptied."
            )
        connection = connections[options["database"]]
        name = str(connection.settings_dict["NAME"])
        if not (name.startswith("test") or "memorydb" in name or name == ":memory:"):
            raise CommandError(f"Ombud flushes only test databases, not {name!r}.")
        with triggers_lifted(connection, protected_tables(connection)):
            super().handle(**options)
