"""Serializers: JSON shapes and field checks only; writes go through metier.services."""

from decimal import Decimal

from django.conf import settings
from rest_framework import serializers
from rest_framework.reverse import reverse

from metier.models import Demande, Piece, Reparation, Voiture


class PieceSerializer(serializers.ModelSerializer):
    prix = serializers.DecimalField(
        max_digits=10,
        decimal_places=2,
        min_value=Decimal("0"),
        max_value=settings.GARAGE_MAX_PRIX,
        coerce_to_string=False,
    )

    class Meta:
        model = Piece
        fields = ["id", "nom", "prix", "cree_le"]


class VoitureSerializer(serializers.ModelSerializer):
    class Meta:
        model = Voiture
        fields = ["id", "marque", "couleur", "cree_le"]


class ReparationSerializer(serializers.ModelSerializer):
    duree = serializers.IntegerField(min_value=1, max_value=settings.GARAGE_MAX_DUREE)
    demande = serializers.UUIDField(source="demande.id", read_only=True, allow_null=True)

    class Meta:
        model = Reparation
        fields = ["id", "piece", "duree", "cree_le", "demande"]


class DemandeSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    reparation_url = serializers.SerializerMethodField()

    class Meta:
        model = Demande
        fields = [
            "id",
            "url",
            "piece",
            "duree",
            "statut",
            "motif",
            "reparation",
            "reparation_url",
            "cree_le",
            "publiee_le",
            "traitee_le",
        ]

    def get_url(self, obj: Demande) -> str:
        return reverse("demande-detail", args=[obj.pk], request=self.context.get("request"))

    def get_reparation_url(self, obj: Demande) -> str | None:
        if obj.reparation_id is None:
            return None
        return reverse(
            "reparation-detail", args=[obj.reparation_id], request=self.context.get("request")
        )


class IntakeSerializer(serializers.Serializer):
    """The body of `POST /reparation/`: the seed's message, `{"piece": 1, "duree": 5}`."""

    piece = serializers.IntegerField(min_value=1)
    duree = serializers.IntegerField(min_value=1, max_value=settings.GARAGE_MAX_DUREE)
