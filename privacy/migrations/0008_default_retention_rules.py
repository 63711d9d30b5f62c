"""The default retention rules (docs/retention.md).

Privacy officers change them afterwards through `privacy.services.retention_rule_set`, which
keeps their history from the first change. No history row is written here: the history table
is append-only, and a transactional test's serialised rollback re-saves every seeded row,
which the database would refuse for a history row. This migration is the record of the seed.
"""

from django.db import migrations
from django.utils import timezone

DEFAULTS = [
    (
        "complainant_data",
        1096,
        "complaint_closed",
        "Kept no longer than the purpose needs: three years after the person's last complaint "
        "closed, for appeals, out-of-court settlement and claims (PIPL Art. 19; GDPR Art. "
        "5(1)(e)).",
    ),
    (
        "account_holder_data",
        1096,
        "complaint_closed",
        "Kept no longer than the purpose needs: three years after the last complaint about the "
        "account closed, for appeals and claims (PIPL Art. 19; GDPR Art. 5(1)(e)).",
    ),
    (
        "access_log",
        1096,
        "read",
        "Record of who processed personal data, kept for accountability and audits, at least "
        "six months (PIPL Art. 54; GDPR Art. 5(2) and 30).",
    ),
    (
        "ledger",
        None,
        "recorded",
        "Kept for ever: it holds no personal data, only pseudonyms, references and hash "
        "commitments, and is the record of complaint handling (DSA Art. 20 and 24).",
    ),
]


def seed(apps, schema_editor):
    RetentionRule = apps.get_model("privacy", "RetentionRule")
    now = timezone.now()
    for record_class, period_days, counted_from, legal_basis in DEFAULTS:
        RetentionRule.objects.get_or_create(
            record_class=record_class,
            category=None,
            defaults={
                "period_days": period_days,
                "counted_from": counted_from,
                "legal_basis": legal_basis,
                "updated_at": now,
            },
        )


class Migration(migrations.Migration):
    dependencies = [
        ("privacy", "0007_append_only"),
        ("governance", "0002_append_only_roles_reference_data"),
    ]

    # Not reversed: the rules may have been changed since, and their history refers to them.
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
