"""Print the current authenticator code of a demo account, for trying Ombud without a phone."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice


class Command(BaseCommand):
    help = (
        "Print the current TOTP code of a user's authenticator (DEBUG only: the demo's "
        "stand-in for a phone). Give the set-up code at sign-in first, so that the set-up page "
        "has made the device."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("demo_totp runs only with DEBUG=1: real codes come from a phone.")
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user {options['username']}.")
        device = TOTPDevice.objects.filter(user=user).order_by("-confirmed", "-pk").first()
        if device is None:
            raise CommandError(
                "No authenticator yet: sign in with the password and the set-up code first."
            )
        code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
        self.stdout.write(f"{code:0{device.digits}d}")
