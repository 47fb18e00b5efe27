"""The garage's domain: parts, repairs, cars, and the repair requests that become repairs.

Every rule that can live in the database does (check constraints, unique keys), so that no
writer, whatever its path, stores what the serializers would refuse.
"""

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

NOM_MAX = 100


class Piece(models.Model):
    """A part the garage fits and sells."""

    nom = models.CharField(max_length=NOM_MAX)
    prix = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(settings.GARAGE_MAX_PRIX)],
    )
    cree_le = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(prix__gte=0), name="piece_prix_positif"),
            models.CheckConstraint(condition=~Q(nom=""), name="piece_nom_non_vide"),
        ]

    def __str__(self) -> str:
        return f"{self.nom} ({self.prix} €)"


class Voiture(models.Model):
    """A customer's car."""

    marque = models.CharField(max_length=NOM_MAX)
    couleur = models.CharField(max_length=50)
    cree_le = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=~Q(marque=""), name="voiture_marque_non_vide"),
            models.CheckConstraint(condition=~Q(couleur=""), name="voiture_couleur_non_vide"),
        ]

    def __str__(self) -> str:
        return f"{self.marque} {self.couleur}"


class Reparation(models.Model):
    """A repair: a part fitted, and the hours of work it takes."""

    piece = models.ForeignKey(Piece, on_delete=models.PROTECT, related_name="reparations")
    duree = models.PositiveIntegerField(
        help_text="Durée en heures",
        validators=[MinValueValidator(1), MaxValueValidator(settings.GARAGE_MAX_DUREE)],
    )
    cree_le = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(duree__gte=1) & Q(duree__lte=settings.GARAGE_MAX_DUREE),
                name="reparation_duree_bornee",
            ),
        ]

    def __str__(self) -> str:
        return f"Réparation #{self.pk}: piece {self.piece_id}, {self.duree} h"


class Demande(models.Model):
    """A repair request accepted by the intake; also the transactional outbox.

    A row is committed before the intake answers 202. `statut` then moves
    acceptee → en_file (published, confirmed by RabbitMQ) → traitee | rejetee. The
    one-to-one link to its repair, under a unique constraint, is what makes a redelivered
    message harmless.
    """

    class Statut(models.TextChoices):
        ACCEPTEE = "acceptee", "acceptée"
        EN_FILE = "en_file", "en file"
        TRAITEE = "traitee", "traitée"
        REJETEE = "rejetee", "rejetée"

    FINAL = (Statut.TRAITEE, Statut.REJETEE)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # The requested part number, not a foreign key: a request for a part that is
    # unknown (or deleted meanwhile) is recorded, then rejected with its reason.
    piece = models.BigIntegerField(null=True, blank=True)
    duree = models.BigIntegerField(null=True, blank=True)
    cle_idempotence = models.CharField(max_length=255, null=True, blank=True, unique=True)
    statut = models.CharField(max_length=10, choices=Statut.choices, default=Statut.ACCEPTEE)
    motif = models.CharField(max_length=500, blank=True, help_text="Motif du rejet")
    reparation = models.OneToOneField(
        Reparation,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="demande",
    )
    cree_le = models.DateTimeField(auto_now_add=True)
    publiee_le = models.DateTimeField(null=True, blank=True)
    traitee_le = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["cree_le", "id"]
        indexes = [
            # The relay's query: what is still unpublished. Partial, so it stays tiny.
            models.Index(
                fields=["cree_le"],
                name="demande_a_publier",
                condition=Q(statut="acceptee"),
            ),
        ]

    def __str__(self) -> str:
        return f"Demande {self.id} ({self.statut})"
