"""History rows are evidence too: make the privacy app's simple-history tables append-only."""

from django.db import migrations

from audits.triggers import AppendOnlyTriggers


class Migration(migrations.Migration):
    dependencies = [
        ("privacy", "0002_note_kind_withdrawal"),
        ("audits", "0003_checkpoints_and_tiles"),
    ]

    operations = [AppendOnlyTriggers("privacy.HistoricalDataSubject", "privacy.HistoricalPersonalNote")]
