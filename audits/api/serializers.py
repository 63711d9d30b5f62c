"""Shapes of the ledger API."""

from __future__ import annotations

from rest_framework import serializers

from audits.models import Checkpoint, LedgerEntry


class CheckpointOut(serializers.ModelSerializer):
    class Meta:
        model = Checkpoint
        fields = ["tree_size", "root_hash", "origin", "signed_at", "key_id", "note"]


class LedgerEntryOut(serializers.ModelSerializer):
    class Meta:
        model = LedgerEntry
        fields = [
            "seq",
            "recorded_at",
            "event_type",
            "object_ref",
            "actor_ref",
            "body",
            "leaf_hash",
        ]


class InclusionProofOut(serializers.Serializer):
    seq = serializers.IntegerField()
    leaf_hash = serializers.CharField()
    tree_size = serializers.IntegerField()
    root_hash = serializers.CharField()
    proof = serializers.ListField(child=serializers.CharField(), help_text="Base64 hashes.")
    checkpoint = serializers.CharField(help_text="The signed note the proof is against.")


class ConsistencyProofOut(serializers.Serializer):
    first = serializers.IntegerField()
    second = serializers.IntegerField()
    first_root = serializers.CharField()
    second_root = serializers.CharField()
    proof = serializers.ListField(child=serializers.CharField(), help_text="Base64 hashes.")


class PublicKeyOut(serializers.Serializer):
    name = serializers.CharField()
    key_id = serializers.CharField()
    verifier_key = serializers.CharField()
