"""History rows and the access log are evidence: make them append-only in the database.

SQLite rebuilt the two older history tables when their plaintext columns were dropped, which
drops triggers, so theirs are installed again. The access log's rows may be deleted once they
are 184 days old (six months at least, by `at`), by `enforce_retention`, and never changed.
"""

from django.db import migrations

from audits.triggers import AppendOnlyTriggers


class Migration(migrations.Migration):
    dependencies = [("privacy", "0006_plaintext_dropped")]

    operations = [
        AppendOnlyTriggers(
            "privacy.HistoricalDataSubject",
            "privacy.HistoricalPersonalNote",
            "privacy.HistoricalRetentionRule",
            "privacy.HistoricalLegalHold",
            "privacy.HistoricalPrivacyRequest",
        ),
        AppendOnlyTriggers("privacy.AccessLogEntry", keep_days=184),
    ]
