"""Thin API views of the ledger: checkpoints, entries, proofs and keys."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from audits import selectors
from audits.models import Checkpoint
from governance import policies
from governance.api.base import PolicyViewSet
from governance.errors import ValidationFailed

from . import serializers as s


def _int_param(request: Request, name: str, *, required: bool) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        if required:
            raise ValidationFailed(
                _("Give %s.") % name, fields={name: [_("This parameter is required.")]}
            )
        return None
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise ValidationFailed(
            _("%s must be a whole number.") % name, fields={name: [_("Give a number >= 0.")]}
        )
    return value


class CheckpointViewSet(mixins.ListModelMixin, PolicyViewSet):
    """Signed checkpoints of the ledger, by tree size; the latest; consistency between two."""

    serializer_class = s.CheckpointOut
    lookup_field = "tree_size"
    lookup_value_regex = r"\d+"
    gates = {
        "list": policies.can_read_ledger,
        "retrieve": policies.can_read_ledger,
        "latest": policies.can_read_ledger,
        "consistency": policies.can_read_ledger,
    }

    def get_queryset(self):  # type: ignore[no-untyped-def]
        if getattr(self, "swagger_fake_view", False):  # schema generation has no reader
            return Checkpoint.objects.none()
        return selectors.checkpoint_list(user=self.request.user)

    def retrieve(self, request: Request, tree_size: str) -> Response:
        checkpoint = selectors.checkpoint_get(user=request.user, tree_size=int(tree_size))
        return Response(s.CheckpointOut(checkpoint).data)

    @extend_schema(responses=s.CheckpointOut)
    @action(detail=False, methods=["get"])
    def latest(self, request: Request) -> Response:
        return Response(s.CheckpointOut(selectors.checkpoint_get(user=request.user)).data)

    @extend_schema(
        parameters=[OpenApiParameter("from", OpenApiTypes.INT, required=True)],
        responses=s.ConsistencyProofOut,
    )
    @action(detail=True, methods=["get"])
    def consistency(self, request: Request, tree_size: str) -> Response:
        first = _int_param(request, "from", required=True)
        assert first is not None  # noqa: S101 - required=True either returns or raises
        proof = selectors.consistency_proof(user=request.user, first=first, second=int(tree_size))
        return Response(s.ConsistencyProofOut(proof).data)


class LedgerEntryViewSet(PolicyViewSet):
    """Ledger entries by sequence number, and their inclusion proofs."""

    serializer_class = s.LedgerEntryOut
    lookup_field = "seq"
    lookup_value_regex = r"\d+"
    gates = {"retrieve": policies.can_read_ledger, "proof": policies.can_read_ledger}

    def retrieve(self, request: Request, seq: str) -> Response:
        return Response(s.LedgerEntryOut(selectors.entry_get(user=request.user, seq=int(seq))).data)

    @extend_schema(
        parameters=[OpenApiParameter("tree_size", OpenApiTypes.INT, required=False)],
        responses=s.InclusionProofOut,
    )
    @action(detail=True, methods=["get"])
    def proof(self, request: Request, seq: str) -> Response:
        tree_size = _int_param(request, "tree_size", required=False)
        result: dict[str, Any] = selectors.inclusion_proof(
            user=request.user, seq=int(seq), tree_size=tree_size
        )
        return Response(s.InclusionProofOut(result).data)


class PublicKeyViewSet(PolicyViewSet):
    """The verifier keys of every key that signed checkpoints, the current one first."""

    serializer_class = s.PublicKeyOut
    pagination_class = None
    gates = {"list": policies.can_read_ledger}

    def get_queryset(self):  # type: ignore[no-untyped-def]
        # Keys are not rows; only schema generation asks, for a model to name.
        return Checkpoint.objects.none()

    @extend_schema(responses=s.PublicKeyOut(many=True))
    def list(self, request: Request) -> Response:
        return Response(s.PublicKeyOut(selectors.public_keys(user=request.user), many=True).data)
