"""Encrypt the personal data written before the vault: each subject gets a data key, their
fields and notes are sealed under it, and their email and phone are indexed by keyed hash.
The next migration drops the plaintext columns, from the history tables too."""

import uuid

from django.db import migrations
from django.utils import timezone

CONTACT_FIELDS = ("full_name", "email", "phone", "account_handle")


def encrypt_existing(apps, schema_editor):
    from privacy import keys

    DataSubject = apps.get_model("privacy", "DataSubject")
    DataKey = apps.get_model("privacy", "DataKey")
    PersonalNote = apps.get_model("privacy", "PersonalNote")
    SubjectLookup = apps.get_model("privacy", "SubjectLookup")
    now = timezone.now()
    for subject in DataSubject.objects.order_by("pk").iterator():
        data_key = keys.new_data_key()
        kek_id, wrapped = keys.wrap(data_key, subject.pseudonym)
        DataKey.objects.create(subject=subject, kek_id=kek_id, wrapped=wrapped, created_at=now)
        record = f"subject:{subject.pseudonym}"
        for name in CONTACT_FIELDS:
            value = (getattr(subject, name) or "").strip()
            setattr(subject, f"{name}_ct", keys.encrypt(data_key, record, name, value) if value else None)
        subject.save(update_fields=[f"{name}_ct" for name in CONTACT_FIELDS])
        for name in ("email", "phone"):
            value = (getattr(subject, name) or "").strip()
            if value:
                SubjectLookup.objects.create(
                    subject=subject, field=name, digest=keys.lookup_digest(name, value)
                )
        for note in PersonalNote.objects.filter(subject=subject).order_by("pk"):
            note.uid = uuid.uuid4()
            note.text_ct = keys.encrypt(data_key, f"note:{note.uid}", "text", note.text)
            note.save(update_fields=["uid", "text_ct"])


class Migration(migrations.Migration):
    dependencies = [("privacy", "0004_personal_data_vault")]

    operations = [migrations.RunPython(encrypt_existing, elidable=False)]
