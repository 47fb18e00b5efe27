"""Payments: deposits before the invoice (on an approved estimate, or on the order), then
payments of the invoice; and refunds of what credit notes cancelled of a paid invoice.

A payment row is never changed (database trigger); what an invoice still awaits is derived:
total with tax − credit notes − (payments received for its order, deposits included −
refunds). The order's row is locked while a payment or refund is checked and written, so two
cashiers cannot both take the last euro: an overpayment is refused (400), never stored.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from ..models import (
    Devis,
    DevisLigne,
    EcritureJournal,
    Facture,
    Origine,
    Paiement,
    Remboursement,
    Reparation,
)
from . import journal
from .common import Conflict, save
from .reparations import Totals, cents, totals

ZERO = Decimal("0.00")
S = Reparation.Statut


def recu(reparation: Reparation | int) -> Decimal:
    """What has been received for the order, deposits included (refunds not deducted)."""
    return Paiement.objects.filter(reparation=reparation).aggregate(s=Sum("montant"))["s"] or ZERO


def rembourse(reparation: Reparation | int) -> Decimal:
    """What has been paid back to the customer for the order."""
    return (
        Remboursement.objects.filter(reparation=reparation).aggregate(s=Sum("montant"))["s"] or ZERO
    )


def reste_du(facture: Facture) -> Decimal:
    """What the invoice still awaits (negative: the customer is owed a refund)."""
    avoirs = facture.avoirs.aggregate(s=Sum("total_ttc"))["s"] or ZERO
    net = recu(facture.reparation_id) - rembourse(facture.reparation_id)
    return facture.total_ttc - avoirs - net


def totaux_approuves(devis: Devis) -> Totals:
    """What the customer approved on the estimate: its accepted lines, each at the price of
    the part they chose (new or reused), with the estimate's VAT."""
    amounts = []
    for ligne in devis.lignes.filter(decision=DevisLigne.Decision.ACCEPTEE):
        prix = ligne.prix_unitaire
        if ligne.choix_piec == Origine.REEMPLOI and ligne.prix_reemploi is not None:
            prix = ligne.prix_reemploi
        amounts.append(cents(ligne.quantite * prix))
    return totals(amounts, devis.taux_tva)


def montant_approuve(devis: Devis) -> Decimal:
    """What the customer approved on the estimate, with tax (a deposit's upper bound)."""
    return totaux_approuves(devis).total_ttc


def valider_montant(value: Any, field: str = "montant") -> Decimal:
    """A positive amount of euros with at most 2 decimals, else a ValidationError on `field`."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ValidationError({field: ["must be a number of euros"]}) from exc
    if not amount.is_finite() or amount <= 0:
        raise ValidationError({field: ["must be more than 0"]})
    if amount != amount.quantize(Decimal("0.01")):
        raise ValidationError({field: ["at most 2 decimal places (cents)"]})
    return amount


def mode_valide(mode: str) -> str:
    if mode not in Paiement.Mode.values:
        raise ValidationError({"mode": [f"one of {', '.join(Paiement.Mode.values)}"]})
    return mode


@transaction.atomic
def enregistrer_paiement(
    *,
    montant: Decimal,
    mode: str,
    facture: Facture | None = None,
    reparation: Reparation | None = None,
    devis: Devis | None = None,
    reference: str = "",
    par: Any = None,
) -> Paiement:
    """Records money received: for `facture`; or, before the invoice, a deposit on an
    approved estimate (`devis`: never more than what the customer approved on it, less the
    deposits already taken on it) or on the order (`reparation`: never more than its total).
    A payment never exceeds what the invoice still awaits."""
    montant = valider_montant(montant)
    mode_valide(mode)
    if facture is None and reparation is None and devis is None:
        raise ValidationError(
            {"facture": ["give the invoice (or, for a deposit, the estimate or the repair)"]}
        )
    if devis is not None and facture is not None:
        raise ValidationError({"devis": ["a deposit on an estimate is taken before the invoice"]})
    if devis is not None and reparation is not None and devis.reparation_id != reparation.pk:
        raise ValidationError({"devis": ["this estimate is not for this repair"]})
    if facture is not None and reparation is not None and facture.reparation_id != reparation.pk:
        raise ValidationError({"reparation": ["this is not the invoice's repair"]})
    if facture is not None:
        reparation_id = facture.reparation_id
    elif devis is not None:
        reparation_id = devis.reparation_id
    else:
        reparation_id = reparation.pk
    reparation = Reparation.objects.select_for_update().get(pk=reparation_id)
    facture = Facture.objects.filter(reparation=reparation).first()
    if facture is not None:
        if devis is not None:
            raise Conflict(
                f"the repair is invoiced ({facture.numero}): pay the invoice, not the estimate"
            )
        attendu = reste_du(facture)
        quoi = f"the invoice {facture.numero}"
    else:
        if reparation.statut == S.ANNULEE:
            raise Conflict("a cancelled repair takes no deposit")
        attendu = reparation.total_ttc - recu(reparation) + rembourse(reparation)
        quoi = f"the repair #{reparation.pk} (deposit, before the invoice)"
        if devis is not None:
            devis = Devis.objects.get(pk=devis.pk)
            if not devis.est_approuve:
                raise Conflict(
                    f"a deposit is taken on an approved estimate: {devis.numero} is "
                    f"{devis.statut_effectif}"
                )
            deja = devis.acomptes.aggregate(s=Sum("montant"))["s"] or ZERO
            sur_devis = montant_approuve(devis) - deja
            if sur_devis <= attendu:
                attendu = sur_devis
                quoi = f"the estimate {devis.numero} (approved {montant_approuve(devis)} €)"
    if montant > attendu:
        raise ValidationError(
            {"montant": [f"overpayment: {quoi} awaits {max(attendu, ZERO)} €, not {montant} €"]}
        )
    paiement = save(
        Paiement(
            reparation=reparation,
            facture=facture,
            devis=devis,
            acompte=facture is None,
            montant=montant,
            mode=mode,
            reference=reference,
            recu_le=timezone.now(),
            par=par,
        )
    )
    journal.inscrire(type_=EcritureJournal.Type.PAIEMENT, obj=paiement)
    return paiement


def statut_paiement(facture: Facture) -> str:
    """`emise` → `partiellement_payee` → `payee`; `soldee_par_avoir` when credit notes
    cancelled it and nothing received is kept; `a_rembourser` when credit notes cancelled
    more than the customer still owed (a refund is due). Uses the annotations of
    `selectors.factures()` when present (no query), else computes them."""
    recu_ = getattr(facture, "montant_recu", None)
    if recu_ is None:
        recu_ = recu(facture.reparation_id)
    rembourse_ = getattr(facture, "montant_rembourse", None)
    if rembourse_ is None:
        rembourse_ = rembourse(facture.reparation_id)
    reste = getattr(facture, "reste_du", None)
    if reste is None:
        reste = reste_du(facture)
    net = recu_ - rembourse_
    if reste < 0:
        return "a_rembourser"
    if reste == 0:
        return "payee" if net > 0 else "soldee_par_avoir"
    return "partiellement_payee" if net > 0 else "emise"
