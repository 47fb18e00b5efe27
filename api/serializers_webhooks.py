"""Webhook subscriptions and their delivery log: JSON shapes and field checks only."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from metier.models import AbonnementWebhook, LivraisonWebhook, TentativeWebhook
from metier.services.webhooks import valider_types
from webhooks.adresses import AdresseRefusee, verifier_url


class AbonnementWebhookSerializer(serializers.ModelSerializer):
    url = serializers.URLField(
        max_length=2000,
        help_text="http(s) URL the events are POSTed to; loopback, private and link-local "
        "addresses are refused (GARAGE_WEBHOOK_ALLOW_PRIVATE)",
    )
    types = serializers.ListField(
        child=serializers.CharField(max_length=100),
        allow_empty=False,
        max_length=50,
        help_text="Patterns on routing keys, as a topic exchange matches them: "
        "`reparation.*`, `facture.emise`, `#` (everything)",
    )

    class Meta:
        model = AbonnementWebhook
        fields = [
            "id",
            "url",
            "types",
            "description",
            "statut",
            "motif_pause",
            "en_pause_depuis",
            "echecs_consecutifs",
            "en_echec_depuis",
            "cree_le",
            "modifie_le",
        ]
        read_only_fields = [
            "statut",
            "motif_pause",
            "en_pause_depuis",
            "echecs_consecutifs",
            "en_echec_depuis",
        ]

    def validate_url(self, value: str) -> str:
        try:
            verifier_url(value)
        except AdresseRefusee as exc:
            raise serializers.ValidationError(str(exc)) from exc
        return value

    def validate_types(self, value: list[str]) -> list[str]:
        try:
            return valider_types(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict["types"]) from exc


class AbonnementWebhookCreeSerializer(AbonnementWebhookSerializer):
    """The answer to a creation: the only time the secret is shown."""

    secret = serializers.CharField(
        read_only=True,
        help_text="`whsec_` + base64: verify the signatures with it. Shown once, keep it.",
    )

    class Meta(AbonnementWebhookSerializer.Meta):
        fields = [*AbonnementWebhookSerializer.Meta.fields, "secret"]


class TentativeWebhookSerializer(serializers.ModelSerializer):
    class Meta:
        model = TentativeWebhook
        fields = ["le", "code", "erreur", "duree_ms"]


class LivraisonWebhookSerializer(serializers.ModelSerializer):
    evenement = serializers.CharField(source="evenement_id", read_only=True)
    type = serializers.CharField(source="evenement.cle", read_only=True)
    prochain_essai = serializers.SerializerMethodField()
    essais = TentativeWebhookSerializer(many=True, read_only=True)

    class Meta:
        model = LivraisonWebhook
        fields = [
            "id",
            "abonnement",
            "evenement",
            "type",
            "sujet",
            "sequence",
            "statut",
            "tentatives",
            "prochain_essai",
            "derniere_tentative_le",
            "dernier_code",
            "derniere_erreur",
            "livree_le",
            "cree_le",
            "essais",
        ]
        read_only_fields = fields

    def get_prochain_essai(self, obj: LivraisonWebhook) -> str | None:
        """When the next attempt is due; null once delivered."""
        if obj.statut == LivraisonWebhook.Statut.LIVREE:
            return None
        return serializers.DateTimeField().to_representation(obj.prochain_essai)
