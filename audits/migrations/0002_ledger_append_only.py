from django.db import migrations

from audits.triggers import AppendOnlyTriggers


class Migration(migrations.Migration):
    dependencies = [("audits", "0001_initial")]

    operations = [AppendOnlyTriggers("audits.LedgerEntry")]
