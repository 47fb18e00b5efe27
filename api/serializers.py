"""Serializers: JSON shapes and field checks only; writes go through metier.services."""

from decimal import Decimal

from rest_framework import serializers

from metier import limits
from metier.models import (
    Client,
    LigneMainOeuvre,
    LignePiece,
    Piece,
    Reparation,
    Transition,
    Voiture,
)

MONEY = {"max_digits": 12, "decimal_places": 2, "coerce_to_string": False, "read_only": True}


class PieceSerializer(serializers.ModelSerializer):
    prix = serializers.DecimalField(
        max_digits=10,
        decimal_places=2,
        min_value=Decimal("0"),
        max_value=limits.PRIX_MAX,
        coerce_to_string=False,
    )
    stock = serializers.IntegerField(
        min_value=0,
        max_value=limits.QUANTITE_STOCK_MAX,
        required=False,
        help_text="initial stock (create only)",
    )
    disponible = serializers.IntegerField(read_only=True, help_text="stock - reserve")

    class Meta:
        model = Piece
        fields = ["id", "nom", "prix", "stock", "reserve", "disponible", "seuil", "cree_le"]
        read_only_fields = ["reserve"]

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None:  # stock moves only by reception and repairs
            fields["stock"].read_only = True
        return fields


class ReceptionSerializer(serializers.Serializer):
    quantite = serializers.IntegerField(min_value=1, max_value=limits.QUANTITE_STOCK_MAX)


class ClientSerializer(serializers.ModelSerializer):
    class Meta:
        model = Client
        fields = ["id", "nom", "telephone", "email", "cree_le"]


class VoitureSerializer(serializers.ModelSerializer):
    class Meta:
        model = Voiture
        fields = [
            "id",
            "marque",
            "couleur",
            "client",
            "immatriculation",
            "vin",
            "modele",
            "annee",
            "kilometrage",
            "cree_le",
        ]
        extra_kwargs = {
            # Uniqueness is checked on the normalised value by the domain (and the database).
            "immatriculation": {"validators": []},
            "vin": {"validators": []},
        }


class LineSerializer(serializers.ModelSerializer):
    """An order line: its repair is chosen when it is made, and stays."""

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None:
            fields["reparation"].read_only = True
        return fields


class LignePieceSerializer(LineSerializer):
    prix_unitaire = serializers.DecimalField(
        max_digits=10, decimal_places=2, coerce_to_string=False, read_only=True
    )
    montant = serializers.DecimalField(**MONEY)

    class Meta:
        model = LignePiece
        fields = ["id", "reparation", "piece", "quantite", "prix_unitaire", "montant", "initiale"]
        read_only_fields = ["initiale"]


class LigneMainOeuvreSerializer(LineSerializer):
    heures = serializers.DecimalField(
        max_digits=6,
        decimal_places=2,
        min_value=limits.HEURES_MIN,
        max_value=limits.DUREE_MAX,
        coerce_to_string=False,
    )
    taux_horaire = serializers.DecimalField(
        max_digits=8, decimal_places=2, coerce_to_string=False, read_only=True
    )
    montant = serializers.DecimalField(**MONEY)

    class Meta:
        model = LigneMainOeuvre
        fields = [
            "id",
            "reparation",
            "description",
            "heures",
            "taux_horaire",
            "montant",
            "initiale",
        ]
        read_only_fields = ["initiale"]


class TransitionSerializer(serializers.ModelSerializer):
    par = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Transition
        fields = ["de", "vers", "le", "par", "motif"]


class ReparationSerializer(serializers.ModelSerializer):
    duree = serializers.IntegerField(min_value=limits.DUREE_MIN, max_value=limits.DUREE_MAX)
    description = serializers.CharField(
        max_length=limits.DESCRIPTION_MAX, required=False, allow_blank=True
    )
    demande = serializers.UUIDField(source="demande_id", read_only=True, allow_null=True)
    lignes_pieces = LignePieceSerializer(many=True, read_only=True)
    lignes_main_oeuvre = LigneMainOeuvreSerializer(many=True, read_only=True)
    total_ht = serializers.DecimalField(**MONEY)
    montant_tva = serializers.DecimalField(**MONEY)
    total_ttc = serializers.DecimalField(**MONEY)
    taux_tva = serializers.DecimalField(
        max_digits=5, decimal_places=4, coerce_to_string=False, read_only=True
    )

    class Meta:
        model = Reparation
        fields = [
            "id",
            "piece",
            "duree",
            "voiture",
            "description",
            "statut",
            "lignes_pieces",
            "lignes_main_oeuvre",
            "total_ht",
            "taux_tva",
            "montant_tva",
            "total_ttc",
            "cree_le",
            "demande",
        ]
        read_only_fields = ["statut"]
