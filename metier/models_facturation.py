"""Invoicing: invoices (`Facture`), credit notes (`Avoir`), payments (`Paiement`), the
hash-chained journal (`EcritureJournal`) and the numbering counters (`Compteur`).

Issued documents are append-only: the database itself refuses UPDATE and DELETE on
invoices, their lines, credit notes, their lines, payments and journal entries (triggers,
migration 0006). So nothing here holds a state that changes after the row is written: an
invoice's payment status (issued → partly paid → paid) is derived from its payments and
credit notes (`metier.selectors.factures`), never stored on the invoice.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

MONEY = {"max_digits": 12, "decimal_places": 2}

# The tables the immutability triggers protect (migration 0006 and its tests).
TABLES_IMMUABLES = (
    "metier_facture",
    "metier_lignefacture",
    "metier_avoir",
    "metier_ligneavoir",
    "metier_paiement",
    "metier_remboursement",
    "metier_ecriturejournal",
)


class Compteur(models.Model):
    """One gapless sequence: the last number given for a kind of document (and a year,
    when numbering restarts each year; `annee` 0 otherwise). Its row is locked (SELECT ...
    FOR UPDATE) by the transaction that issues the document, so a rollback gives the number
    back and two issues never share one."""

    sequence = models.CharField(max_length=20)
    annee = models.PositiveIntegerField(default=0)
    dernier = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sequence", "annee"], name="compteur_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.sequence} {self.annee or ''}: {self.dernier}"


class Facture(models.Model):
    """An issued invoice. It is written once, at issue, with everything it shows copied
    into it (garage, customer, vehicle, lines, totals, mentions): later changes to the
    configuration, the customer or the order never rewrite it."""

    numero = models.CharField(max_length=40, unique=True)
    reparation = models.OneToOneField(
        "metier.Reparation", on_delete=models.PROTECT, related_name="facture"
    )
    emise_le = models.DateTimeField()
    date = models.DateField()
    echeance = models.DateField()
    par = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The seller, from the settings at issue (name, address, SIRET, VAT number).
    emetteur = models.JSONField()
    # The customer, as known at issue.
    client = models.ForeignKey(
        "metier.Client", null=True, blank=True, on_delete=models.PROTECT, related_name="factures"
    )
    client_nom = models.CharField(max_length=200)
    client_adresse = models.CharField(max_length=300, blank=True)
    client_siret = models.CharField(max_length=14, blank=True)
    client_tva = models.CharField(max_length=20, blank=True)
    professionnel = models.BooleanField(default=False)
    # The vehicle, as it was at issue.
    immatriculation = models.CharField(max_length=15, blank=True)
    vehicule = models.CharField(max_length=250, blank=True)
    vin = models.CharField(max_length=17, blank=True)
    kilometrage = models.PositiveIntegerField(default=0)
    total_ht = models.DecimalField(**MONEY)
    taux_tva = models.DecimalField(max_digits=5, decimal_places=4)
    montant_tva = models.DecimalField(**MONEY)
    total_ttc = models.DecimalField(**MONEY)
    conditions_paiement = models.TextField(blank=True)
    # Late-payment penalties and the €40 recovery fee (business customers).
    mentions = models.TextField(blank=True)
    # Work the customer declined (from the estimate), copied at issue.
    travaux_refuses = models.JSONField(default=list, blank=True)
    # Deposits received before the issue, deducted from what the invoice asks for
    # (Factur-X TotalPrepaidAmount). Null only on invoices issued before it was recorded.
    acomptes = models.DecimalField(**MONEY, null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(total_ttc=models.F("total_ht") + models.F("montant_tva")),
                name="facture_ttc_coherent",
            ),
        ]

    def __str__(self) -> str:
        return self.numero


class LigneFacture(models.Model):
    """A line of an issued invoice: a part (reference, origin) or labour (hours, rate, and
    how the hours were counted)."""

    class Nature(models.TextChoices):
        PIECE = "piece", "pièce"
        MAIN_OEUVRE = "main_oeuvre", "main d'œuvre"

    facture = models.ForeignKey(Facture, on_delete=models.PROTECT, related_name="lignes")
    position = models.PositiveIntegerField()
    nature = models.CharField(max_length=12, choices=Nature.choices)
    designation = models.CharField(max_length=250)
    reference = models.CharField(max_length=60, blank=True)
    # Parts: "neuve" or "reemploi" (circular economy); labour: empty.
    origine = models.CharField(max_length=20, blank=True)
    quantite = models.DecimalField(max_digits=10, decimal_places=2)
    prix_unitaire = models.DecimalField(max_digits=10, decimal_places=2)
    montant_ht = models.DecimalField(**MONEY)
    # Labour: "temps passé" (time spent) or "barème" (a time schedule).
    mode_calcul = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["facture", "position"]
        constraints = [
            models.UniqueConstraint(fields=["facture", "position"], name="ligne_facture_position"),
        ]

    def __str__(self) -> str:
        return f"{self.designation}: {self.montant_ht} €"


class Avoir(models.Model):
    """A credit note: the only way to correct an issued invoice, in full or in part."""

    numero = models.CharField(max_length=40, unique=True)
    facture = models.ForeignKey(Facture, on_delete=models.PROTECT, related_name="avoirs")
    emis_le = models.DateTimeField()
    date = models.DateField()
    par = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    motif = models.CharField(max_length=500)
    total_ht = models.DecimalField(**MONEY)
    taux_tva = models.DecimalField(max_digits=5, decimal_places=4)
    montant_tva = models.DecimalField(**MONEY)
    total_ttc = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(total_ttc__gt=0), name="avoir_montant_positif"),
        ]

    def __str__(self) -> str:
        return self.numero


class LigneAvoir(models.Model):
    avoir = models.ForeignKey(Avoir, on_delete=models.PROTECT, related_name="lignes")
    ligne_facture = models.ForeignKey(
        LigneFacture, on_delete=models.PROTECT, related_name="lignes_avoir"
    )
    designation = models.CharField(max_length=250)
    quantite = models.DecimalField(max_digits=10, decimal_places=2)
    prix_unitaire = models.DecimalField(max_digits=10, decimal_places=2)
    montant_ht = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["avoir", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantite__gt=0), name="ligne_avoir_quantite"),
        ]

    def __str__(self) -> str:
        return f"{self.designation}: -{self.montant_ht} €"


class Paiement(models.Model):
    """Money received for a repair order: a deposit (`acompte`, before the invoice) or a
    payment of its invoice. Both count towards the invoice, which has one order."""

    class Mode(models.TextChoices):
        CARTE = "carte", "carte bancaire"
        ESPECES = "especes", "espèces"
        VIREMENT = "virement", "virement"
        CHEQUE = "cheque", "chèque"

    reparation = models.ForeignKey(
        "metier.Reparation", on_delete=models.PROTECT, related_name="paiements"
    )
    # Null for a deposit taken before the invoice was issued.
    facture = models.ForeignKey(
        Facture, null=True, blank=True, on_delete=models.PROTECT, related_name="paiements"
    )
    # The approved estimate a deposit was taken on (null: a deposit on the order itself, or
    # a payment of the invoice).
    devis = models.ForeignKey(
        "metier.Devis",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="acomptes",
    )
    acompte = models.BooleanField(default=False)
    montant = models.DecimalField(**MONEY)
    mode = models.CharField(max_length=10, choices=Mode.choices)
    reference = models.CharField(max_length=100, blank=True, help_text="cheque number, ...")
    recu_le = models.DateTimeField()
    par = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(montant__gt=0), name="paiement_montant_positif"),
        ]

    def __str__(self) -> str:
        return f"{self.montant} € ({self.mode})"


class Remboursement(models.Model):
    """Money paid back to the customer: what a credit note (`avoir`) cancelled of an invoice
    already paid. Written once, never changed (database trigger), chained in the journal
    like payments; what is still to refund is derived (`metier.services.remboursements`)."""

    avoir = models.ForeignKey(Avoir, on_delete=models.PROTECT, related_name="remboursements")
    facture = models.ForeignKey(Facture, on_delete=models.PROTECT, related_name="remboursements")
    reparation = models.ForeignKey(
        "metier.Reparation", on_delete=models.PROTECT, related_name="remboursements"
    )
    montant = models.DecimalField(**MONEY)
    mode = models.CharField(max_length=10, choices=Paiement.Mode.choices)
    reference = models.CharField(max_length=100, blank=True, help_text="transfer id, ...")
    rembourse_le = models.DateTimeField()
    par = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(montant__gt=0), name="remboursement_montant_positif"
            ),
        ]

    def __str__(self) -> str:
        return f"-{self.montant} € ({self.mode})"


class EcritureJournal(models.Model):
    """One entry of the append-only journal: a document or payment as recorded (canonical
    JSON), chained to the entry before it by SHA-256. `position` has no gap: a removed
    entry shows, and so does any change to a record or to an entry."""

    class Type(models.TextChoices):
        FACTURE = "facture", "facture"
        AVOIR = "avoir", "avoir"
        PAIEMENT = "paiement", "paiement"
        REMBOURSEMENT = "remboursement", "remboursement"

    position = models.PositiveBigIntegerField(unique=True)
    type = models.CharField(max_length=15, choices=Type.choices)
    objet_id = models.BigIntegerField()
    le = models.DateTimeField()
    contenu = models.TextField(help_text="canonical JSON of the record")
    hash_precedent = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["type", "objet_id"], name="journal_un_par_objet"),
        ]

    def __str__(self) -> str:
        return f"#{self.position} {self.type} {self.objet_id}"


ZERO = Decimal("0.00")
