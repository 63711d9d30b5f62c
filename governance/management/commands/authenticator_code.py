"""Issue a staff member's one-time authenticator set-up code from the command line."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from governance import services
from governance.errors import DomainError


class Command(BaseCommand):
    help = (
        "Issue USERNAME a one-time code to link an authenticator app at their next sign-in, and "
        "print it (once; it is not stored). The way to the first superuser's authenticator; "
        "afterwards superusers issue codes in the admin. A newer code replaces an open one."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user {options['username']}: check the spelling.")
        try:
            row, code = services.two_factor_code_issue(actor=None, user=user)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        until = timezone.localtime(row.expires_at).strftime("%Y-%m-%d %H:%M %Z")
        self.stdout.write(code)
        self.stderr.write(f"Set-up code for {user.get_username()}, valid once until {until}.")
