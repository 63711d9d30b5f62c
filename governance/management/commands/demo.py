"""Load the demo data set through the real services, once."""

from typing import Any

from django.core.management.base import BaseCommand

from governance.demo import DEMO_PASSWORD, load_demo


class Command(BaseCommand):
    help = (
        "Load a realistic demo: departments, ~20 policy clauses, one user per role and about 500 "
        "complaints with decisions, appeals and ratings, all written through the services so the "
        "ledger and history are real. Running it again adds nothing and prints the accounts."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--complaints", type=int, default=500)
        parser.add_argument("--seed", type=int, default=2026)

    def handle(self, *args: Any, **options: Any) -> None:
        result = load_demo(complaints=options["complaints"], seed=options["seed"])
        if result.loaded:
            self.stdout.write(self.style.SUCCESS(f"Loaded {result.complaints} demo complaints."))
        else:
            self.stdout.write(
                f"Demo data already present ({result.complaints} complaints); nothing added."
            )
        self.stdout.write("")
        self.stdout.write(f"Demo accounts (password for every one: {DEMO_PASSWORD})")
        for username, role, token, setup_code in result.accounts:
            line = f"  {username:<22} {role:<42} API token {token}"
            self.stdout.write(f"{line}   set-up code {setup_code}" if setup_code else line)
        self.stdout.write("")
        self.stdout.write(
            "Sign in at http://127.0.0.1:8000/accounts/sign-in/. Staff (everyone but complainants) "
            "then give their set-up code (printed when the demo is loaded, valid once for three "
            "days; `DEBUG=1 .venv/bin/python manage.py authenticator_code USERNAME` issues a new "
            "one) and link an authenticator app from the QR code shown; without a phone, "
            "`DEBUG=1 .venv/bin/python manage.py demo_totp USERNAME` prints the current code."
        )
        self.stdout.write(
            "Admin: http://127.0.0.1:8000/admin/   API docs: http://127.0.0.1:8000/api/docs/"
        )
        self.stdout.write(
            "Transparency page (no sign-in): http://127.0.0.1:8000/transparency/ "
            "(简体中文: /zh-hans/transparency/)"
        )
