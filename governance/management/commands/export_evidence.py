"""Write the self-contained evidence bundle of one complaint."""

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from audits.selectors import build_evidence_bundle
from audits.services import ledger_seal
from governance.errors import DomainError
from governance.selectors import complaint_ledger_refs


class Command(BaseCommand):
    help = (
        "Seal the ledger, then write a JSON bundle with the complaint's ledger entries, their "
        "inclusion proofs against the new checkpoint, the checkpoint, the public keys and "
        "consistency proofs from earlier checkpoints. Check it offline with "
        "`python -m audits.verify_bundle FILE` (see docs/verifying.md)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--complaint", required=True, help="The complaint's reference.")
        parser.add_argument("--out", help="Where to write the bundle (default: standard output).")
        parser.add_argument(
            "--consistency-from",
            type=int,
            action="append",
            default=[],
            help="An earlier checkpoint size a verifier holds (repeatable).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            refs = complaint_ledger_refs(reference=options["complaint"])
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        ledger_seal()
        bundle = build_evidence_bundle(
            title=options["complaint"],
            object_refs=refs,
            consistency_from=options["consistency_from"],
        )
        text = json.dumps(bundle, indent=2, ensure_ascii=False) + "\n"
        if options["out"]:
            Path(options["out"]).write_text(text, encoding="utf-8")
            self.stderr.write(
                f"Wrote {len(bundle['entries'])} entries against checkpoint "
                f"{bundle['checkpoint'].splitlines()[1]} to {options['out']}."
            )
        else:
            self.stdout.write(text, ending="")
