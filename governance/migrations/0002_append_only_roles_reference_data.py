"""Append-only triggers, the role groups and the reference data every deployment starts with.

Seeding here rather than through services is deliberate: a migration runs before any user or
key exists. Later changes to these rows go through `reference_record_save`.
"""

from django.db import migrations

from audits.triggers import AppendOnlyTriggers

DEPARTMENTS = [
    ("moderation", "Moderation", "审核"),
    ("customer_service", "Customer service", "客服"),
    ("copyright", "Copyright", "版权"),
    ("operations", "Operations", "运营"),
    ("technical", "Technical", "技术"),
    ("business", "Business", "商务"),
    ("marketing", "Marketing", "市场"),
    ("security", "Security", "安全"),
]

# code, English, Chinese, DSA statement category, default department, default severity.
# Technical faults, service quality and "other" restrict nothing, so no DSA category fits them
# well; they map to "other violation of terms and conditions" and are left out of statements
# of reasons unless a decision restricts content.
CATEGORIES = [
    ("ip_infringement", "Intellectual-property infringement", "知识产权侵权",
     "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS", "copyright", "medium"),
    ("harassment", "Harassment and cyber-violence", "骚扰与网络暴力",
     "STATEMENT_CATEGORY_CYBER_VIOLENCE", "moderation", "high"),
    ("advertising", "Advertising and marketing", "广告与营销",
     "STATEMENT_CATEGORY_CONSUMER_INFORMATION", "marketing", "low"),
    ("political", "Politically sensitive content", "政治敏感内容",
     "STATEMENT_CATEGORY_NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS", "moderation", "high"),
    ("violence", "Violence and gore", "暴力血腥",
     "STATEMENT_CATEGORY_VIOLENCE", "moderation", "high"),
    ("privacy", "Privacy and data protection", "隐私与数据保护",
     "STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS", "security", "high"),
    ("fraud", "Scams and fraud", "诈骗与欺诈",
     "STATEMENT_CATEGORY_SCAMS_AND_FRAUD", "security", "high"),
    ("minors", "Protection of minors", "未成年人保护",
     "STATEMENT_CATEGORY_PROTECTION_OF_MINORS", "moderation", "critical"),
    ("technical_fault", "Technical fault", "技术故障",
     "STATEMENT_CATEGORY_OTHER_VIOLATION_TC", "technical", "low"),
    ("service_quality", "Service quality", "服务质量",
     "STATEMENT_CATEGORY_OTHER_VIOLATION_TC", "customer_service", "low"),
    ("other", "Other", "其他",
     "STATEMENT_CATEGORY_OTHER_VIOLATION_TC", "operations", "medium"),
]

# Only admins reach the Django admin (role_grant makes them staff; no one else is), so only the
# admin role holds model permissions. The other roles work through the API and their pages,
# which apply governance.policies; giving them admin permissions would bypass visible_to().
GOVERNANCE_MODELS = [
    "department", "category", "holiday", "rolemembership", "policyclause", "complaint",
    "assignment", "complainttransition", "decision", "appeal", "rating", "slabreach",
]
ROLE_PERMISSIONS = {
    "complainant": [],
    "handler": [],
    "department_lead": [],
    "compliance_officer": [],
    "supervisor": [],
    "privacy_officer": [],
    "admin": [("governance", f"{verb}_{m}") for m in GOVERNANCE_MODELS for verb in ("view", "add", "change")]
    + [("audits", "view_ledgerentry"), ("privacy", "view_datasubject"),
       ("auth", "view_user"), ("auth", "add_user"), ("auth", "change_user")],
}


def create_groups(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations; create them now so groups can
    # hold them on a fresh database.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        for app_label, codename in perms:
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


def seed_reference_data(apps, schema_editor):
    Department = apps.get_model("governance", "Department")
    Category = apps.get_model("governance", "Category")
    for code, name, name_zh in DEPARTMENTS:
        Department.objects.get_or_create(code=code, defaults={"name": name, "name_zh": name_zh})
    for code, name, name_zh, dsa, department, severity in CATEGORIES:
        Category.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "name_zh": name_zh,
                "dsa_category": dsa,
                "default_department": Department.objects.get(code=department),
                "default_severity": severity,
            },
        )


class Migration(migrations.Migration):
    dependencies = [
        ("governance", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("audits", "0002_ledger_append_only"),
        ("privacy", "0001_initial"),
    ]

    operations = [
        AppendOnlyTriggers(
            "governance.PolicyClause",
            "governance.ComplaintTransition",
            "governance.Decision",
            "governance.Rating",
            "governance.SlaBreach",
            # Who was told of a missed deadline is part of the record too.
            "governance.SlaBreach_escalated_to",
        ),
        migrations.RunPython(create_groups, migrations.RunPython.noop),
        migrations.RunPython(seed_reference_data, migrations.RunPython.noop),
    ]
