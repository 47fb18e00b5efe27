"""Invoices and credit notes: issued once, numbered without gap, never changed.

An invoice is issued from a finished order (`terminee`): its lines, totals, the garage's
identity, the customer and the vehicle are copied into it, the order moves to `facturee`
through the usual transition, the number is taken, and the journal records it, all in one
transaction. A credit note (`Avoir`) is the only correction: in full or for some
quantities of some lines, never more than what is left to credit.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from ..models import (
    Approbation,
    Avoir,
    EcritureJournal,
    Facture,
    LigneAvoir,
    LigneFacture,
    LignePiece,
    Paiement,
    Reparation,
)
from . import journal
from .catalogue import update_voiture
from .common import Conflict, save
from .numerotation import prendre_numero
from .reparations import cents, totals, transition

S = Reparation.Statut
N = LigneFacture.Nature
SIRET_RE = re.compile(r"^\d{14}$")


# --- what the other parts of the domain provide --------------------------------------------
def travaux_refuses(reparation: Reparation) -> list[dict[str, Any]]:
    """The work the customer declined on this order's estimate(s), printed on the invoice
    (arrêté 87-06/C). Each item: {"designation": str, "quantite": str, "montant_ht": str}."""
    refusee = Approbation.REFUSEE
    items = [
        {
            "designation": ligne.piece.nom,
            "quantite": str(ligne.quantite),
            "montant_ht": str(cents(ligne.montant)),
        }
        for ligne in reparation.lignes_pieces.filter(approbation=refusee)
        .select_related("piece")
        .order_by("id")
    ]
    items += [
        {
            "designation": ligne.description or "main d'œuvre",
            "quantite": str(ligne.heures),
            "montant_ht": str(cents(ligne.montant)),
        }
        for ligne in reparation.lignes_main_oeuvre.filter(approbation=refusee).order_by("id")
    ]
    return items


def origine_piece(ligne: LignePiece) -> str:
    """`neuve` or `reemploi` (a part from the circular economy, PIEC): the line's own choice
    when the order records one, else a new part (the only kind the garage sells today)."""
    return getattr(ligne, "origine", "") or "neuve"


def reference_piece(ligne: LignePiece) -> str:
    return getattr(ligne.piece, "reference", "") or f"P{ligne.piece_id}"


# --- issuing ----------------------------------------------------------------------------------
def emetteur() -> dict[str, str]:
    """The seller's identity, from the settings (copied into each invoice at issue)."""
    return {
        "nom": settings.GARAGE_NOM,
        "adresse": settings.GARAGE_ADRESSE,
        "siret": settings.GARAGE_SIRET,
        "tva": settings.GARAGE_TVA_INTRA,
        "pays": settings.GARAGE_PAYS,
    }


def mentions_retard(professionnel: bool) -> str:
    """The late-payment mentions a business customer's invoice must carry (code de commerce
    L441-10, D441-5)."""
    if not professionnel:
        return ""
    indemnite = f"{settings.GARAGE_INDEMNITE_RECOUVREMENT:.2f}".replace(".", ",")
    return (
        f"En cas de retard de paiement, pénalités exigibles au taux de "
        f"{settings.GARAGE_TAUX_PENALITES}, et indemnité forfaitaire pour frais de "
        f"recouvrement de {indemnite} € "
        f"(art. L441-10 et D441-5 du code de commerce)."
    )


def _lignes(reparation: Reparation) -> list[LigneFacture]:
    lignes = []
    # Declined lines are not invoiced: they are printed apart, as declined work.
    pieces = reparation.lignes_pieces.exclude(approbation=Approbation.REFUSEE)
    for ligne in pieces.select_related("piece").order_by("id"):
        lignes.append(
            LigneFacture(
                nature=N.PIECE,
                designation=ligne.piece.nom,
                reference=reference_piece(ligne),
                origine=origine_piece(ligne),
                quantite=Decimal(ligne.quantite),
                prix_unitaire=ligne.prix_unitaire,
                montant_ht=cents(ligne.montant),
            )
        )
    heures = reparation.lignes_main_oeuvre.exclude(approbation=Approbation.REFUSEE)
    for ligne in heures.order_by("id"):
        lignes.append(
            LigneFacture(
                nature=N.MAIN_OEUVRE,
                designation=ligne.description or "main d'œuvre",
                quantite=ligne.heures,
                prix_unitaire=ligne.taux_horaire,
                montant_ht=cents(ligne.montant),
                mode_calcul=settings.GARAGE_MODE_MAIN_OEUVRE,
            )
        )
    return lignes


def _check_client_fields(client_siret: str, client_tva: str, client_adresse: str) -> None:
    errors: dict[str, list[str]] = {}
    if client_siret and not SIRET_RE.match(client_siret):
        errors["client_siret"] = ["a SIRET is 14 digits"]
    if len(client_tva) > 20:
        errors["client_tva"] = ["at most 20 characters"]
    if len(client_adresse) > 300:
        errors["client_adresse"] = ["at most 300 characters"]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def emettre_facture(
    *,
    reparation: Reparation,
    par: Any = None,
    professionnel: bool = False,
    client_adresse: str = "",
    client_siret: str = "",
    client_tva: str = "",
    kilometrage: int | None = None,
) -> Facture:
    """Issues the invoice of a finished order and moves the order to `facturee`."""
    client_siret = client_siret.replace(" ", "")
    _check_client_fields(client_siret, client_tva, client_adresse)
    reparation = Reparation.objects.select_for_update().get(pk=reparation.pk)
    existing = Facture.objects.filter(reparation=reparation).values_list("numero", flat=True)
    if existing:
        raise Conflict(f"this repair is already invoiced ({existing[0]})")
    if reparation.statut != S.TERMINEE:
        raise Conflict(
            f"cannot facturer a repair that is {reparation.statut} (only from terminee: "
            f"an invoice is issued for finished work)"
        )
    voiture = reparation.voiture
    if kilometrage is not None:
        if voiture is None:
            raise ValidationError({"kilometrage": ["this repair has no car"]})
        voiture = update_voiture(voiture=voiture, kilometrage=kilometrage)
    client = voiture.client if voiture is not None else None
    lignes = _lignes(reparation)
    if not lignes:
        raise Conflict("a repair without any line cannot be invoiced")
    t = totals([ligne.montant_ht for ligne in lignes], reparation.taux_tva)
    # Deposits already received (on the approved estimate or the order), deducted from what
    # the invoice asks for. Read under the order's lock, which payments take too.
    acomptes = Paiement.objects.filter(reparation=reparation, acompte=True).aggregate(
        s=Sum("montant")
    )["s"] or Decimal("0.00")

    transition(reparation=reparation, action="facturer", par=par)
    # From here on nothing may fail for the customer's input: the number is taken last.
    numero = prendre_numero(sequence="facture", format_=settings.GARAGE_FORMAT_FACTURE)
    maintenant = numero.le
    jour = timezone.localdate(maintenant)
    facture = save(
        Facture(
            numero=numero.texte,
            reparation=reparation,
            emise_le=maintenant,
            date=jour,
            echeance=jour + timedelta(days=settings.GARAGE_DELAI_PAIEMENT_JOURS),
            par=par,
            emetteur=emetteur(),
            client=client,
            client_nom=client.nom if client else "client de passage",
            client_adresse=client_adresse,
            client_siret=client_siret,
            client_tva=client_tva,
            professionnel=professionnel,
            immatriculation=(voiture.immatriculation or "") if voiture else "",
            vehicule=" ".join(x for x in (voiture.marque, voiture.modele) if x) if voiture else "",
            vin=(voiture.vin or "") if voiture else "",
            kilometrage=voiture.kilometrage if voiture else 0,
            total_ht=t.total_ht,
            taux_tva=reparation.taux_tva,
            montant_tva=t.montant_tva,
            total_ttc=t.total_ttc,
            conditions_paiement=settings.GARAGE_CONDITIONS_PAIEMENT,
            mentions=mentions_retard(professionnel),
            travaux_refuses=travaux_refuses(reparation),
            acomptes=acomptes,
        )
    )
    for position, ligne in enumerate(lignes, start=1):
        ligne.facture, ligne.position = facture, position
    LigneFacture.objects.bulk_create(lignes)
    journal.inscrire(type_=EcritureJournal.Type.FACTURE, obj=facture)
    return facture


# --- credit notes -------------------------------------------------------------------------
def _deja_credite(facture: Facture) -> dict[int, tuple[Decimal, Decimal]]:
    """Invoice line id → (quantity, amount before tax) already credited."""
    rows = (
        LigneAvoir.objects.filter(avoir__facture=facture)
        .values("ligne_facture_id")
        .annotate(q=Sum("quantite"), m=Sum("montant_ht"))
    )
    return {r["ligne_facture_id"]: (r["q"], r["m"]) for r in rows}


def _quantite(value: Any, index: int) -> Decimal:
    try:
        q = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ValidationError({"lignes": [f"item {index}: quantite must be a number"]}) from exc
    if not q.is_finite() or q <= 0 or q != q.quantize(Decimal("0.01")):
        raise ValidationError(
            {"lignes": [f"item {index}: quantite must be > 0 with at most 2 decimals"]}
        )
    return q


@transaction.atomic
def emettre_avoir(
    *,
    facture: Facture,
    motif: str,
    lignes: list[dict[str, Any]] | None = None,
    par: Any = None,
) -> Avoir:
    """A credit note against `facture`: everything not yet credited when `lignes` is None,
    else the given quantities of the given lines ({"ligne": <LigneFacture id>, "quantite"})."""
    motif = (motif or "").strip()
    if not motif:
        raise ValidationError({"motif": ["say why the invoice is corrected"]})
    if len(motif) > 500:
        raise ValidationError({"motif": ["at most 500 characters"]})
    # One correction of an order at a time: the order's row is the lock (as for payments).
    Reparation.objects.select_for_update().get(pk=facture.reparation_id)
    lignes_facture = {ligne.pk: ligne for ligne in facture.lignes.order_by("position")}
    credite = _deja_credite(facture)

    def reste(ligne: LigneFacture) -> Decimal:
        return ligne.quantite - credite.get(ligne.pk, (Decimal(0), Decimal(0)))[0]

    demandes: list[tuple[LigneFacture, Decimal]] = []
    if lignes is None:
        demandes = [(lf, reste(lf)) for lf in lignes_facture.values() if reste(lf) > 0]
        if not demandes:
            raise Conflict(f"the invoice {facture.numero} is already fully credited")
    else:
        if not isinstance(lignes, list) or not lignes:
            raise ValidationError({"lignes": ["a non-empty list, or omit it for a full credit"]})
        seen = set()
        for i, item in enumerate(lignes):
            if not isinstance(item, dict) or "ligne" not in item or "quantite" not in item:
                raise ValidationError({"lignes": [f"item {i}: needs ligne and quantite"]})
            lf = lignes_facture.get(item["ligne"]) if isinstance(item["ligne"], int) else None
            if lf is None:
                raise ValidationError(
                    {"lignes": [f"item {i}: line {item['ligne']!r} is not on {facture.numero}"]}
                )
            if lf.pk in seen:
                raise ValidationError({"lignes": [f"item {i}: line {lf.pk} given twice"]})
            seen.add(lf.pk)
            q = _quantite(item["quantite"], i)
            if q > reste(lf):
                raise ValidationError(
                    {"lignes": [f"item {i}: only {reste(lf)} of line {lf.pk} left to credit"]}
                )
            demandes.append((lf, q))

    lignes_avoir = []
    for lf, q in demandes:
        if q == reste(lf):  # the last of a line: exactly what is left, whatever the rounding
            montant = lf.montant_ht - credite.get(lf.pk, (0, Decimal("0.00")))[1]
        else:
            montant = cents(q * lf.prix_unitaire)
        lignes_avoir.append(
            LigneAvoir(
                ligne_facture=lf,
                designation=lf.designation,
                quantite=q,
                prix_unitaire=lf.prix_unitaire,
                montant_ht=montant,
            )
        )
    ht = sum((la.montant_ht for la in lignes_avoir), Decimal("0.00"))
    avant = facture.avoirs.aggregate(ht=Sum("total_ht"), tva=Sum("montant_tva"))
    if all(q == reste(lf) for lf, q in demandes) and len(demandes) == sum(
        1 for lf in lignes_facture.values() if reste(lf) > 0
    ):
        # The last credit note of the invoice: the VAT is what is left, to the cent.
        tva = facture.montant_tva - (avant["tva"] or Decimal("0.00"))
    else:
        tva = cents(ht * facture.taux_tva)
    if ht <= 0:
        raise ValidationError({"lignes": ["the credit note would be of 0 €"]})

    numero = prendre_numero(sequence="avoir", format_=settings.GARAGE_FORMAT_AVOIR)
    maintenant = numero.le
    avoir = save(
        Avoir(
            numero=numero.texte,
            facture=facture,
            emis_le=maintenant,
            date=timezone.localdate(maintenant),
            par=par,
            motif=motif,
            total_ht=ht,
            taux_tva=facture.taux_tva,
            montant_tva=tva,
            total_ttc=ht + tva,
        )
    )
    for la in lignes_avoir:
        la.avoir = avoir
    LigneAvoir.objects.bulk_create(lignes_avoir)
    journal.inscrire(type_=EcritureJournal.Type.AVOIR, obj=avoir)
    return avoir
