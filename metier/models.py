"""The garage's domain: parts, repairs, cars, and the repair requests that become repairs.

Every rule that can live in the database does (check constraints, unique keys), so that no
writer, whatever its path, stores what the serializers would refuse.
"""

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from . import limits

# `ab-123 cd`, `ＡＢ-１２３-ＣＤ` and `AB123CD` are one plate: see metier/immatriculation.py.
from .immatriculation import normalise_immatriculation  # noqa: F401 (re-exported)

NOM_MAX = 100

# A VIN: 17 characters, digits and capitals without I, O and Q (ISO 3779).
VIN_RE = r"^[A-HJ-NPR-Z0-9]{17}$"
# A phone number as people write it: digits with spaces, dots, dashes, an optional leading +.
TELEPHONE_RE = r"^\+?[0-9][0-9 .\-]{5,22}[0-9]$"


class Approbation(models.TextChoices):
    """The customer's word on an order line (see metier/services/devis.py)."""

    EN_ATTENTE = "en_attente", "en attente d'accord"
    APPROUVEE = "approuvee", "approuvée"
    REFUSEE = "refusee", "refusée"  # declined work: kept on the order, outside its totals


class Origine(models.TextChoices):
    """Where a fitted part comes from: new, or reused (PIEC, code de la consommation L224-67)."""

    NEUVE = "neuve", "neuve"
    REEMPLOI = "reemploi", "de réemploi (PIEC)"


class Client(models.Model):
    """A customer of the garage."""

    nom = models.CharField("nom", max_length=NOM_MAX)
    telephone = models.CharField(
        "téléphone",
        max_length=25,
        blank=True,
        validators=[RegexValidator(TELEPHONE_RE, "enter a phone number (digits, spaces, + . -)")],
    )
    email = models.EmailField("e-mail", blank=True)
    cree_le = models.DateTimeField("créé le", auto_now_add=True)

    class Meta:
        verbose_name = "client"
        verbose_name_plural = "clients"
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=~Q(nom=""), name="client_nom_non_vide"),
        ]
        indexes = [models.Index(fields=["nom"], name="client_nom")]

    def __str__(self) -> str:
        return self.nom


class Piece(models.Model):
    """A part the garage fits and sells."""

    nom = models.CharField("nom", max_length=NOM_MAX)
    prix = models.DecimalField(
        "prix (€ HT)",
        max_digits=10,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(limits.PRIX_MAX)],
    )
    # Stock: `stock` is on the shelf; `reserve` of it is promised to planned repairs.
    stock = models.PositiveIntegerField(
        "stock", default=0, validators=[MaxValueValidator(limits.STOCK_MAX)]
    )
    reserve = models.PositiveIntegerField(
        "réservé", default=0, help_text="Promis aux réparations planifiées"
    )
    seuil = models.PositiveIntegerField(
        "seuil", default=0, help_text="Seuil de réapprovisionnement"
    )
    # The price of the same part from the circular economy, when the garage can offer one:
    # estimates then let the customer choose (PIEC).
    prix_reemploi = models.DecimalField(
        "prix de réemploi",
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(limits.PRIX_MAX)],
        help_text="Prix de la pièce de réemploi proposée (PIEC), le cas échéant",
    )
    cree_le = models.DateTimeField("créée le", auto_now_add=True)

    class Meta:
        verbose_name = "pièce"
        verbose_name_plural = "pièces"
        ordering = ["id"]
        permissions = [("receptionner_piece", "Peut réceptionner des pièces en stock")]
        constraints = [
            models.CheckConstraint(condition=Q(prix__gte=0), name="piece_prix_positif"),
            models.CheckConstraint(
                condition=Q(prix_reemploi__isnull=True) | Q(prix_reemploi__gte=0),
                name="piece_prix_reemploi_positif",
            ),
            models.CheckConstraint(condition=~Q(nom=""), name="piece_nom_non_vide"),
            # Stock never goes negative, whoever writes: the database says no.
            models.CheckConstraint(condition=Q(stock__gte=0), name="piece_stock_positif"),
            models.CheckConstraint(
                condition=Q(stock__lte=limits.STOCK_MAX), name="piece_stock_borne"
            ),
            models.CheckConstraint(
                condition=Q(reserve__gte=0) & Q(reserve__lte=models.F("stock")),
                name="piece_reserve_bornee",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.nom} ({self.prix} €)"

    @property
    def disponible(self) -> int:
        return self.stock - self.reserve


class Voiture(models.Model):
    """A customer's car. The seed's two fields are enough to record one; the rest is optional."""

    marque = models.CharField("marque", max_length=NOM_MAX)
    couleur = models.CharField("couleur", max_length=50)
    client = models.ForeignKey(
        Client,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="voitures",
        verbose_name="client",
    )
    immatriculation = models.CharField(
        "immatriculation", max_length=15, null=True, blank=True, unique=True
    )
    vin = models.CharField(
        "VIN",
        max_length=17,
        null=True,
        blank=True,
        unique=True,
        validators=[RegexValidator(VIN_RE, "a VIN is 17 letters and digits, without I, O, Q")],
    )
    modele = models.CharField("modèle", max_length=NOM_MAX, blank=True)
    annee = models.PositiveSmallIntegerField(
        "année",
        null=True,
        blank=True,
        validators=[MinValueValidator(1886), MaxValueValidator(2100)],
    )
    kilometrage = models.PositiveIntegerField("kilométrage", default=0)
    cree_le = models.DateTimeField("créée le", auto_now_add=True)

    class Meta:
        verbose_name = "voiture"
        verbose_name_plural = "voitures"
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=~Q(marque=""), name="voiture_marque_non_vide"),
            models.CheckConstraint(condition=~Q(couleur=""), name="voiture_couleur_non_vide"),
        ]

    def __str__(self) -> str:
        return " ".join(x for x in (self.immatriculation, self.marque, self.modele) if x)


class Reparation(models.Model):
    """A repair order: the seed's part and hours, the car, the customer's complaint, its
    lines, its totals, and a status that moves through the garage's day."""

    class Statut(models.TextChoices):
        DEMANDEE = "demandee", "demandée"
        EN_ATTENTE_PIECES = "en_attente_pieces", "en attente de pièces"
        PLANIFIEE = "planifiee", "planifiée"
        EN_COURS = "en_cours", "en cours"
        TERMINEE = "terminee", "terminée"
        FACTUREE = "facturee", "facturée"
        ANNULEE = "annulee", "annulée"

    piece = models.ForeignKey(
        Piece, on_delete=models.PROTECT, related_name="reparations", verbose_name="pièce"
    )
    duree = models.PositiveIntegerField(
        "durée (h)",
        help_text="Durée en heures",
        validators=[MinValueValidator(limits.DUREE_MIN), MaxValueValidator(limits.DUREE_MAX)],
    )
    voiture = models.ForeignKey(
        Voiture,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reparations",
        verbose_name="voiture",
    )
    description = models.TextField(
        "plainte du client",
        blank=True,
        max_length=limits.DESCRIPTION_MAX,
        help_text="La plainte du client",
    )
    statut = models.CharField(
        "statut", max_length=20, choices=Statut.choices, default=Statut.DEMANDEE
    )
    # The kind of work (e.g. "vidange"): finishing it resets the car's reminder of that
    # kind (Rappel, issue 12). Empty: no reminder concerned.
    nature = models.CharField(
        "nature des travaux",
        max_length=60,
        blank=True,
        help_text="Type d'entretien (ex. vidange) : remet à zéro le rappel de la voiture",
    )
    # Totals, kept by the domain functions whenever a line changes; frozen once invoiced.
    total_ht = models.DecimalField(
        "total HT", max_digits=12, decimal_places=2, default=Decimal("0")
    )
    montant_tva = models.DecimalField(
        "montant TVA", max_digits=12, decimal_places=2, default=Decimal("0")
    )
    total_ttc = models.DecimalField(
        "total TTC", max_digits=12, decimal_places=2, default=Decimal("0")
    )
    taux_tva = models.DecimalField(
        "taux de TVA", max_digits=5, decimal_places=4, default=Decimal("0")
    )
    # The request it came from. Unique: the database itself refuses a second repair for one
    # request, whatever a redelivered or duplicated message tries.
    demande = models.OneToOneField(
        "Demande",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reparation",
        verbose_name="demande",
    )
    cree_le = models.DateTimeField("créée le", auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "réparation"
        verbose_name_plural = "réparations"
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(duree__gte=limits.DUREE_MIN) & Q(duree__lte=limits.DUREE_MAX),
                name="reparation_duree_bornee",
            ),
        ]
        indexes = [models.Index(fields=["statut", "id"], name="reparation_statut")]
        permissions = [
            ("planifier_reparation", "Peut planifier une réparation"),
            ("demarrer_reparation", "Peut démarrer une réparation"),
            ("terminer_reparation", "Peut terminer une réparation"),
            ("facturer_reparation", "Peut facturer une réparation"),
            ("annuler_reparation", "Peut annuler une réparation"),
        ]

    def __str__(self) -> str:
        return f"Réparation n° {self.pk} ({self.get_statut_display()})"


class LignePiece(models.Model):
    """A part on a repair order. The unit price is copied when the line is made, so a later
    price change does not rewrite the order."""

    reparation = models.ForeignKey(
        Reparation,
        on_delete=models.CASCADE,
        related_name="lignes_pieces",
        verbose_name="réparation",
    )
    piece = models.ForeignKey(
        Piece, on_delete=models.PROTECT, related_name="lignes", verbose_name="pièce"
    )
    quantite = models.PositiveIntegerField(
        "quantité", default=1, validators=[MinValueValidator(1), MaxValueValidator(10_000)]
    )
    prix_unitaire = models.DecimalField("prix unitaire (€ HT)", max_digits=10, decimal_places=2)
    # Made from the request's `piece` (the seed's field): rewritten if that field changes.
    initiale = models.BooleanField("de la demande", default=False)
    # The customer's word (an estimate) and, for a part, new or reused (their PIEC choice).
    approbation = models.CharField(
        max_length=10, choices=Approbation.choices, default=Approbation.EN_ATTENTE
    )
    origine = models.CharField(max_length=10, choices=Origine.choices, default=Origine.NEUVE)

    class Meta:
        verbose_name = "ligne de pièce"
        verbose_name_plural = "lignes de pièces"
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantite__gte=1), name="ligne_piece_quantite"),
            models.CheckConstraint(condition=Q(prix_unitaire__gte=0), name="ligne_piece_prix"),
        ]

    def __str__(self) -> str:
        return f"{self.quantite} x piece {self.piece_id} à {self.prix_unitaire} €"

    @property
    def montant(self) -> Decimal:
        return self.quantite * self.prix_unitaire


class LigneMainOeuvre(models.Model):
    """Labour on a repair order: hours times the hourly rate copied when the line is made."""

    reparation = models.ForeignKey(
        Reparation,
        on_delete=models.CASCADE,
        related_name="lignes_main_oeuvre",
        verbose_name="réparation",
    )
    description = models.CharField("description", max_length=200, blank=True)
    heures = models.DecimalField(
        "heures",
        max_digits=6,
        decimal_places=2,
        validators=[
            MinValueValidator(limits.HEURES_MIN),
            MaxValueValidator(limits.DUREE_MAX),
        ],
    )
    taux_horaire = models.DecimalField("taux horaire (€ HT)", max_digits=8, decimal_places=2)
    initiale = models.BooleanField("de la demande", default=False)
    approbation = models.CharField(
        max_length=10, choices=Approbation.choices, default=Approbation.EN_ATTENTE
    )

    class Meta:
        verbose_name = "ligne de main-d'œuvre"
        verbose_name_plural = "lignes de main-d'œuvre"
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(heures__gt=0), name="ligne_mo_heures"),
            models.CheckConstraint(condition=Q(taux_horaire__gte=0), name="ligne_mo_taux"),
        ]

    def __str__(self) -> str:
        return f"{self.heures} h à {self.taux_horaire} €/h"

    @property
    def montant(self) -> Decimal:
        return self.heures * self.taux_horaire


class Transition(models.Model):
    """One change of a repair's status: from, to, when, by whom (None: the system)."""

    reparation = models.ForeignKey(
        Reparation,
        on_delete=models.CASCADE,
        related_name="transitions",
        verbose_name="réparation",
    )
    de = models.CharField("de", max_length=20, blank=True)
    vers = models.CharField("vers", max_length=20)
    le = models.DateTimeField("le", default=timezone.now)
    par = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        verbose_name="par",
    )
    motif = models.CharField("motif", max_length=500, blank=True)

    class Meta:
        verbose_name = "changement de statut"
        verbose_name_plural = "historique"
        ordering = ["le", "id"]

    def __str__(self) -> str:
        return f"{self.de or '∅'} → {self.vers}"


class Demande(models.Model):
    """A repair request accepted by the intake; also the transactional outbox.

    A row is committed before the intake answers 202. `statut` then moves
    acceptee → en_file (published, confirmed by RabbitMQ) → traitee | rejetee. Its repair
    points back at it (`Reparation.demande`, unique), so a request can never have two.
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
    piece = models.BigIntegerField("pièce (n°)", null=True, blank=True)
    duree = models.BigIntegerField("durée (h)", null=True, blank=True)
    voiture = models.BigIntegerField("voiture (n°)", null=True, blank=True)
    description = models.TextField(
        "plainte du client", blank=True, max_length=limits.DESCRIPTION_MAX
    )
    # Who sent it. An idempotency key belongs to its sender: the same key from another
    # client is another request (unique on (demandeur, key) below), never a way to read one.
    demandeur = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="demandeur",
    )
    # NULL, not "": a request without a key is outside the unique constraint.
    cle_idempotence = models.CharField(  # noqa: DJ001
        "clé d'idempotence", max_length=255, null=True, blank=True
    )
    statut = models.CharField(
        "statut", max_length=10, choices=Statut.choices, default=Statut.ACCEPTEE
    )
    motif = models.CharField("motif", max_length=500, blank=True, help_text="Motif du rejet")
    cree_le = models.DateTimeField("acceptée le", auto_now_add=True)
    # The HTTP request's id (X-Request-ID): the message carries it to the worker's logs,
    # whoever publishes it (the relay included).
    id_requete = models.CharField("id de la requête", max_length=128, blank=True, default="")
    publiee_le = models.DateTimeField("publiée le", null=True, blank=True)
    traitee_le = models.DateTimeField("traitée le", null=True, blank=True)

    class Meta:
        verbose_name = "demande"
        verbose_name_plural = "demandes"
        ordering = ["cree_le", "id"]
        constraints = [
            # One request per key and sender. Coalesce: requests with no sender (the
            # seed's producer, a deleted account) share one key space instead of none.
            models.UniqueConstraint(
                Coalesce("demandeur", Value(0)),
                "cle_idempotence",
                name="demande_cle_par_demandeur",
                condition=Q(cle_idempotence__isnull=False),
            ),
        ]
        indexes = [
            # The board's and metrics' windows ("accepted in the last 5 minutes, per minute")
            # and the API's default order: a range, not a scan of every request ever made.
            models.Index(fields=["cree_le"], name="demande_cree_le"),
            # The relay's query: what is still unpublished. Partial, so it stays tiny.
            models.Index(
                fields=["cree_le"],
                name="demande_a_publier",
                condition=Q(statut="acceptee"),
            ),
            # The relay's safety net: queued long ago, still without an outcome.
            models.Index(
                fields=["publiee_le"],
                name="demande_en_file",
                condition=Q(statut="en_file"),
            ),
        ]

    def __str__(self) -> str:
        return f"Demande {self.id} ({self.statut})"


# --- Invoicing (issue 11, part B): invoices, credit notes, payments, journal --------------
# --- Estimates (Devis): in their own module, so that this file stays easy to merge -------------
from .models_devis import CompteurDevis, Devis, DevisLigne  # noqa: E402
from .models_facturation import (  # noqa: E402
    Avoir,
    Compteur,
    EcritureJournal,
    Facture,
    LigneAvoir,
    LigneFacture,
    Paiement,
    Remboursement,
)

# --- Webhooks (issue 12, part 3): subscriptions and their delivery log --------------------
from .models_webhooks import (  # noqa: E402
    AbonnementWebhook,
    EvenementWebhook,
    LivraisonWebhook,
    TentativeWebhook,
)

__all__ = [
    "AbonnementWebhook",
    "Approbation",
    "Avoir",
    "Client",
    "Compteur",
    "CompteurDevis",
    "Demande",
    "Devis",
    "DevisLigne",
    "EcritureJournal",
    "EvenementWebhook",
    "Facture",
    "LigneAvoir",
    "LigneFacture",
    "LigneMainOeuvre",
    "LignePiece",
    "LivraisonWebhook",
    "Origine",
    "Paiement",
    "Piece",
    "Remboursement",
    "Reparation",
    "TentativeWebhook",
    "Transition",
    "Voiture",
]
# --- Events, consent, notifications, reminders (issue 12) -----------------------------------
from .models_evenements import Canal, Consentement, Evenement, Notification, Rappel  # noqa: E402

__all__ += ["Canal", "Consentement", "Evenement", "Notification", "Rappel"]
