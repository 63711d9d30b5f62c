"""Shapes of the privacy API. No personal data goes out here: only pseudonyms and flags."""

from __future__ import annotations

from rest_framework import serializers

from privacy.models import DataSubject


class LinkAccountIn(serializers.Serializer):
    username = serializers.CharField(max_length=150)


class DataSubjectOut(serializers.ModelSerializer):
    linked = serializers.SerializerMethodField()

    class Meta:
        model = DataSubject
        fields = ["pseudonym", "kind", "linked"]

    def get_linked(self, obj: DataSubject) -> bool:
        return obj.user_id is not None
