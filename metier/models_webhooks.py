"""Webhooks for other systems: subscriptions, the events they are sent, the delivery log.

- `AbonnementWebhook`: a receiver's URL, the event types it wants (patterns on routing keys,
  as RabbitMQ's topic exchanges match them: `reparation.*`, `facture.emise`, `#`), its
  signing secret (Standard Webhooks, `whsec_` + base64), active or paused;
- `EvenementWebhook`: each event of `garage.events` once (the CloudEvent's `id`), its body as
  received, its subject and its `sequence` (deliveries follow it per subject);
- `LivraisonWebhook`: one event to one subscription (unique, so an event delivered twice by
  RabbitMQ is recorded once), its state, attempts and next try;
- `TentativeWebhook`: each attempt, with its status code or error.

The rules live in metier/services/webhooks.py; sending them is the `webhooks` app's job.
Imported by metier/models.py (Django finds the models there).
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from .chiffrement import dechiffrer


class AbonnementWebhook(models.Model):
    class Statut(models.TextChoices):
        ACTIF = "actif", "actif"
        EN_PAUSE = "en_pause", "en pause"

    url = models.URLField(max_length=2000)
    types = models.JSONField(
        default=list, help_text="Patterns on routing keys: `reparation.*`, `facture.emise`, `#`"
    )
    # Encrypted (metier/chiffrement.py); shown once, to its creator; `secret` decrypts it.
    secret_chiffre = models.TextField(editable=False)
    description = models.CharField(max_length=200, blank=True)
    statut = models.CharField(max_length=10, choices=Statut.choices, default=Statut.ACTIF)
    motif_pause = models.CharField(max_length=300, blank=True)
    en_pause_depuis = models.DateTimeField(null=True, blank=True)
    echecs_consecutifs = models.PositiveIntegerField(default=0)
    en_echec_depuis = models.DateTimeField(
        null=True, blank=True, help_text="First failure of the current run of failures"
    )
    cree_le = models.DateTimeField(auto_now_add=True)
    modifie_le = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "abonnement webhook"
        verbose_name_plural = "abonnements webhook"

    def __str__(self) -> str:
        return f"{self.url} ({self.get_statut_display()})"

    @property
    def secret(self) -> str:
        """The signing secret in clear (`whsec_...`), for the delivery loop."""
        return dechiffrer(self.secret_chiffre)


class EvenementWebhook(models.Model):
    id = models.CharField(primary_key=True, max_length=100)  # the CloudEvent's id
    cle = models.CharField(max_length=100, help_text="Routing key: `reparation.terminee`")
    sujet = models.CharField(max_length=100)
    sequence = models.PositiveBigIntegerField()
    corps = models.TextField(help_text="The CloudEvent as received (JSON)")
    recu_le = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "événement webhook"
        verbose_name_plural = "événements webhook"
        indexes = [models.Index(fields=["sujet", "sequence"], name="evt_webhook_sujet_seq")]

    def __str__(self) -> str:
        return f"{self.cle} {self.sujet}#{self.sequence}"


class LivraisonWebhook(models.Model):
    class Statut(models.TextChoices):
        EN_ATTENTE = "en_attente", "en attente"
        LIVREE = "livree", "livrée"

    abonnement = models.ForeignKey(
        AbonnementWebhook, on_delete=models.CASCADE, related_name="livraisons"
    )
    evenement = models.ForeignKey(
        EvenementWebhook, on_delete=models.CASCADE, related_name="livraisons"
    )
    # Copied from the event: the delivery loop orders by them without a join.
    sujet = models.CharField(max_length=100)
    sequence = models.PositiveBigIntegerField()
    statut = models.CharField(max_length=12, choices=Statut.choices, default=Statut.EN_ATTENTE)
    tentatives = models.PositiveIntegerField(default=0)
    prochain_essai = models.DateTimeField(default=timezone.now)
    derniere_tentative_le = models.DateTimeField(null=True, blank=True)
    dernier_code = models.PositiveSmallIntegerField(null=True, blank=True)
    derniere_erreur = models.CharField(max_length=300, blank=True)
    livree_le = models.DateTimeField(null=True, blank=True)
    cree_le = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "livraison webhook"
        verbose_name_plural = "livraisons webhook"
        constraints = [
            models.UniqueConstraint(
                fields=["abonnement", "evenement"], name="livraison_webhook_unique"
            )
        ]
        indexes = [
            models.Index(fields=["statut", "prochain_essai"], name="livraison_webhook_due"),
            models.Index(
                fields=["abonnement", "sujet", "sequence"], name="livraison_webhook_ordre"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.evenement_id} → {self.abonnement_id} ({self.statut})"


class TentativeWebhook(models.Model):
    livraison = models.ForeignKey(LivraisonWebhook, on_delete=models.CASCADE, related_name="essais")
    le = models.DateTimeField(default=timezone.now)
    code = models.PositiveSmallIntegerField(null=True, blank=True)
    erreur = models.CharField(max_length=300, blank=True)
    duree_ms = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "tentative webhook"
        verbose_name_plural = "tentatives webhook"
        ordering = ["le", "id"]

    def __str__(self) -> str:
        return f"{self.le:%Y-%m-%d %H:%M:%S} {self.code or self.erreur}"
