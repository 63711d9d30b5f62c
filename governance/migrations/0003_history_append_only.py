"""History rows are evidence too: make every simple-history table append-only."""

from django.db import migrations

from audits.triggers import AppendOnlyTriggers


class Migration(migrations.Migration):
    dependencies = [
        ("governance", "0002_append_only_roles_reference_data"),
        ("audits", "0003_checkpoints_and_tiles"),
    ]

    operations = [
        AppendOnlyTriggers(
            "governance.HistoricalDepartment",
            "governance.HistoricalCategory",
            "governance.HistoricalHoliday",
            "governance.HistoricalRoleMembership",
            "governance.HistoricalPolicyClause",
            "governance.HistoricalComplaint",
            "governance.HistoricalAssignment",
            "governance.HistoricalAppeal",
        )
    ]
