"""Estimates (`Devis`): what the customer is asked to approve before the work, and their answer.

An estimate is a snapshot of lines with their prices copied (`DevisLigne`), numbered in its
own sequence (`D2026-000001`), valid until a date. It is sent as a link; the customer's
answer (line by line, their PIEC choice, their typed name) is recorded on it with the time,
address, user agent and the SHA-256 of the document as shown. The rules live in
metier/services/devis.py. Imported by metier/models.py (Django finds the models there).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .models import LigneMainOeuvre, LignePiece, Origine, Piece, Reparation


class CompteurDevis(models.Model):
    """The last estimate number given in a year (metier.services.devis.numero_devis)."""

    annee = models.PositiveSmallIntegerField(unique=True)
    dernier = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.annee}: {self.dernier}"


class Devis(models.Model):
    """An estimate for a repair order: made from its lines (or, once the work has started, a
    supplementary estimate for work found meanwhile), sent, then answered by the customer."""

    class Statut(models.TextChoices):
        BROUILLON = "brouillon", "brouillon"
        ENVOYE = "envoye", "envoyé"
        ACCEPTE = "accepte", "accepté"
        PARTIELLEMENT_ACCEPTE = "partiellement_accepte", "partiellement accepté"
        REFUSE = "refuse", "refusé"
        EXPIRE = "expire", "expiré"  # never stored: shown once the validity date has passed
        ANNULE = "annule", "annulé"  # withdrawn, or replaced by a newer estimate

    OUVERTS = (Statut.BROUILLON, Statut.ENVOYE)
    APPROUVES = (Statut.ACCEPTE, Statut.PARTIELLEMENT_ACCEPTE)

    numero = models.CharField(max_length=20, unique=True)
    reparation = models.ForeignKey(Reparation, on_delete=models.PROTECT, related_name="devis")
    complementaire = models.BooleanField(
        default=False, help_text="Work found during the repair, added once approved"
    )
    statut = models.CharField(max_length=25, choices=Statut.choices, default=Statut.BROUILLON)
    valide_jusqu_au = models.DateField()
    taux_tva = models.DecimalField(max_digits=5, decimal_places=4)
    total_ht = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    montant_tva = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    total_ttc = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    cree_le = models.DateTimeField(auto_now_add=True)
    cree_par = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    envoye_le = models.DateTimeField(null=True, blank=True)
    envoye_par = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # SHA-256 of the random part of the link now valid; empty once answered or withdrawn, so
    # that a link works once, and a new link (sent again) revokes the previous one.
    jeton_hash = models.CharField(max_length=64, blank=True)
    # The customer's answer.
    repondu_le = models.DateTimeField(null=True, blank=True)
    signature = models.CharField(max_length=100, blank=True, help_text="Name typed by the customer")
    adresse_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    empreinte = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 of the document as shown to the customer"
    )
    document = models.TextField(blank=True, help_text="The document as shown to the customer")

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "devis"
        permissions = [
            ("envoyer_devis", "Can send an estimate to the customer"),
            ("annuler_devis", "Can withdraw an estimate"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(numero=""), name="devis_numero_non_vide"),
            # An answered estimate carries its record; an unanswered one carries none.
            models.CheckConstraint(
                condition=~Q(statut__in=["accepte", "partiellement_accepte", "refuse"])
                | (Q(repondu_le__isnull=False) & ~Q(signature="") & ~Q(empreinte="")),
                name="devis_reponse_enregistree",
            ),
        ]

    def __str__(self) -> str:
        return self.numero

    @property
    def est_expire(self) -> bool:
        return self.statut in self.OUVERTS and timezone.localdate() > self.valide_jusqu_au

    @property
    def statut_effectif(self) -> str:
        """The status as the customer would see it today (`expire` is never stored)."""
        return self.Statut.EXPIRE if self.est_expire else self.statut

    @property
    def est_approuve(self) -> bool:
        """Answered with at least one line accepted (a deposit may be taken on it)."""
        return self.statut in self.APPROUVES


class DevisLigne(models.Model):
    """One line of an estimate: a copy of what is proposed, and the customer's decision."""

    class Nature(models.TextChoices):
        PIECE = "piece", "pièce"
        MAIN_OEUVRE = "main_oeuvre", "main d'œuvre"

    class Decision(models.TextChoices):
        EN_ATTENTE = "en_attente", "en attente"
        ACCEPTEE = "acceptee", "acceptée"
        REFUSEE = "refusee", "refusée"

    devis = models.ForeignKey(Devis, on_delete=models.CASCADE, related_name="lignes")
    nature = models.CharField(max_length=12, choices=Nature.choices)
    # The order line it was made from (a first estimate) or became (a supplementary one).
    ligne_piece = models.ForeignKey(
        LignePiece, null=True, blank=True, on_delete=models.SET_NULL, related_name="lignes_devis"
    )
    ligne_main_oeuvre = models.ForeignKey(
        LigneMainOeuvre,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="lignes_devis",
    )
    piece = models.ForeignKey(Piece, null=True, blank=True, on_delete=models.PROTECT)
    designation = models.CharField(max_length=200)
    quantite = models.DecimalField(max_digits=8, decimal_places=2, help_text="units or hours")
    prix_unitaire = models.DecimalField(
        max_digits=10, decimal_places=2, help_text="unit price or hourly rate"
    )
    montant = models.DecimalField(max_digits=12, decimal_places=2)
    # PIEC: the reused part offered instead of a new one, at this unit price (null: no offer).
    prix_reemploi = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    decision = models.CharField(
        max_length=10, choices=Decision.choices, default=Decision.EN_ATTENTE
    )
    choix_piec = models.CharField(max_length=10, choices=Origine.choices, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantite__gt=0), name="devis_ligne_quantite"),
            models.CheckConstraint(condition=Q(prix_unitaire__gte=0), name="devis_ligne_prix"),
            models.CheckConstraint(
                condition=~Q(nature="piece") | Q(piece__isnull=False), name="devis_ligne_piece"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.designation}: {self.montant} €"

    @property
    def offre_reemploi(self) -> bool:
        return self.nature == self.Nature.PIECE and self.prix_reemploi is not None
