"""Domain events (issue 12): the event outbox, the customers' consent, the notifications
sent, and the reminders per car.

- `Evenement`: one row per thing other services care about, written in the same transaction
  as the change (metier/evenements.py); the relay (pipeline/outbox.py) publishes it to the
  topic exchange `garage.events` and stamps `publie_le`. `sequence` grows from 1 per
  `sujet` (`reparation/42`): consumers order by it.
- `Consentement`: opt-in per customer and channel, with its date and source (RGPD).
- `Notification`: one per event and channel, claimed before sending (its unique key is what
  makes a twice-delivered event one message).
- `Rappel`: a reminder per car and kind of work, due by date or by mileage.

Imported by metier/models.py (Django finds the models there).
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.db import models
from django.db.models import Q
from django.utils import timezone

from .models import Client, Reparation, Voiture


class Evenement(models.Model):
    """An event in the outbox: published at least once, deduplicated by `id` downstream."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    sujet = models.CharField("sujet", max_length=60)  # "<kind>/<pk>", e.g. "reparation/42"
    type = models.CharField("type", max_length=60)  # the routing key: "reparation.terminee"
    sequence = models.PositiveIntegerField("séquence")
    donnees = models.JSONField("données", default=dict)
    cree_le = models.DateTimeField("créé le", default=timezone.now)
    publie_le = models.DateTimeField("publié le", null=True, blank=True)

    class Meta:
        verbose_name = "événement"
        verbose_name_plural = "événements"
        constraints = [
            models.UniqueConstraint(fields=["sujet", "sequence"], name="evenement_sequence_unique")
        ]
        indexes = [
            # The relay's query: what is still to publish, oldest first.
            models.Index(
                fields=["cree_le"],
                name="evenement_a_publier",
                condition=Q(publie_le__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.sujet} #{self.sequence}"


class Canal(models.TextChoices):
    EMAIL = "email", "e-mail"
    SMS = "sms", "SMS"


class Consentement(models.Model):
    """A customer's answer for one channel: opt-in (`accorde`) or withdrawn, when and how."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="consentements")
    canal = models.CharField("canal", max_length=10, choices=Canal.choices)
    accorde = models.BooleanField("accordé", default=True)
    le = models.DateTimeField("le", default=timezone.now)
    source = models.CharField(
        "source", max_length=200, help_text="où et comment (formulaire, comptoir, téléphone...)"
    )

    class Meta:
        verbose_name = "consentement"
        verbose_name_plural = "consentements"
        constraints = [
            models.UniqueConstraint(fields=["client", "canal"], name="consentement_unique"),
            models.CheckConstraint(condition=~Q(source=""), name="consentement_source"),
        ]

    def __str__(self) -> str:
        return f"{self.client} {self.canal}: {'oui' if self.accorde else 'non'}"


class Notification(models.Model):
    """One message for one event and one channel: claimed (`en_cours`) before sending."""

    class Statut(models.TextChoices):
        EN_COURS = "en_cours", "en cours d'envoi"
        ENVOYEE = "envoyee", "envoyée"
        SANS_CONSENTEMENT = "sans_consentement", "pas de consentement"
        SANS_DESTINATAIRE = "sans_destinataire", "pas d'adresse ou de numéro"
        ECHEC = "echec", "échec (nouvel essai prévu)"
        ABANDONNEE = "abandonnee", "abandonnée"

    evenement_id = models.UUIDField("événement")
    type = models.CharField("type d'événement", max_length=60)
    canal = models.CharField("canal", max_length=10, choices=Canal.choices)
    client = models.ForeignKey(
        Client, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    reparation = models.ForeignKey(
        Reparation,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="notifications",
    )
    destinataire = models.CharField("destinataire", max_length=254, blank=True)
    statut = models.CharField(max_length=20, choices=Statut.choices, default=Statut.EN_COURS)
    tentatives = models.PositiveIntegerField("tentatives", default=0)
    erreur = models.CharField("erreur", max_length=1000, blank=True)
    cree_le = models.DateTimeField("créée le", default=timezone.now)
    # When a notifier took it to send (a lease: another copy of the event waits it out).
    reclamee_le = models.DateTimeField("réclamée le", default=timezone.now)
    envoyee_le = models.DateTimeField("envoyée le", null=True, blank=True)

    class Meta:
        verbose_name = "notification"
        verbose_name_plural = "notifications"
        constraints = [
            models.UniqueConstraint(
                fields=["evenement_id", "canal"], name="notification_une_par_canal"
            )
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.canal} → {self.destinataire or '-'} ({self.statut})"


class Rappel(models.Model):
    """A reminder for one car and one kind of work: due after `intervalle_jours` days or
    `intervalle_km` km since it was last done, whichever comes first.

    `du_le` is set when `rappel.du` is emitted (once per due period); a finished repair of
    the same `nature` on the car resets it from that repair's date and mileage.
    """

    voiture = models.ForeignKey(Voiture, on_delete=models.CASCADE, related_name="rappels")
    nature = models.CharField("nature", max_length=60)  # e.g. "vidange"
    intervalle_km = models.PositiveIntegerField("tous les (km)", null=True, blank=True)
    intervalle_jours = models.PositiveIntegerField("tous les (jours)", null=True, blank=True)
    dernier_km = models.PositiveIntegerField("fait à (km)", default=0)
    derniere_date = models.DateField("fait le", default=timezone.localdate)
    du_le = models.DateTimeField("signalé dû le", null=True, blank=True)

    class Meta:
        verbose_name = "rappel"
        verbose_name_plural = "rappels"
        constraints = [
            models.UniqueConstraint(fields=["voiture", "nature"], name="rappel_unique"),
            models.CheckConstraint(
                condition=Q(intervalle_km__isnull=False) | Q(intervalle_jours__isnull=False),
                name="rappel_un_intervalle",
            ),
            models.CheckConstraint(condition=~Q(nature=""), name="rappel_nature"),
        ]

    def __str__(self) -> str:
        return f"{self.nature} ({self.voiture})"

    @property
    def echeance(self):
        """The date it falls due by time (None: by mileage only)."""
        if self.intervalle_jours is None:
            return None
        return self.derniere_date + timedelta(days=self.intervalle_jours)

    @property
    def echeance_km(self) -> int | None:
        if self.intervalle_km is None:
            return None
        return self.dernier_km + self.intervalle_km
