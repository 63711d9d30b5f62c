"""Shapes of the privacy API. No personal data goes out here: only pseudonyms and flags."""

from __future__ import annotations

from rest_framework import serializers

from privacy.models import AccessLogEntry, DataSubject


class LinkAccountIn(serializers.Serializer):
    username = serializers.CharField(max_length=150)


class DataSubjectOut(serializers.ModelSerializer):
    linked = serializers.SerializerMethodField()

    class Meta:
        model = DataSubject
        fields = ["pseudonym", "kind", "linked"]

    def get_linked(self, obj: DataSubject) -> bool:
        return obj.user_id is not None


class AccessLogOut(serializers.ModelSerializer):
    """One read of personal data, for compliance officers (who may name staff)."""

    subject: serializers.SlugRelatedField[DataSubject] = serializers.SlugRelatedField(
        slug_field="pseudonym", read_only=True
    )
    reader = serializers.SerializerMethodField()

    class Meta:
        model = AccessLogEntry
        fields = [
            "id",
            "at",
            "reader",
            "reader_ref",
            "subject",
            "record",
            "fields",
            "purpose",
            "outcome",
        ]

    def get_reader(self, obj: AccessLogEntry) -> str | None:
        return obj.reader.get_username() if obj.reader is not None else None
