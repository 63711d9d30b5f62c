"""`created_at` of data subjects and notes is set by their service (its moment) instead of
`auto_now_add`. Nothing changes in the database, so this changes Django's state alone: on
SQLite, an AlterField would remake the tables and drop their append-only triggers."""

import django.utils.timezone
from django.db import migrations, models


def _created_at(model_name: str) -> migrations.AlterField:
    return migrations.AlterField(
        model_name=model_name,
        name="created_at",
        field=models.DateTimeField(default=django.utils.timezone.now, editable=False),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("privacy", "0008_default_retention_rules"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                _created_at("datasubject"),
                _created_at("historicaldatasubject"),
                _created_at("historicalpersonalnote"),
                _created_at("personalnote"),
            ],
            database_operations=[],
        )
    ]
