"""Payments: deposits on an order before its invoice, then payments of the invoice.

A payment row is never changed (database trigger); what an invoice still awaits is derived:
total with tax − credit notes − payments received for its order (deposits included). The
order's row is locked while a payment is checked and written, so two cashiers cannot both
take the last euro: an overpayment is refused (400), never stored.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from .. import evenements
from ..models import EcritureJournal, Facture, Paiement, Reparation
from . import journal
from .common import Conflict, save

ZERO = Decimal("0.00")
S = Reparation.Statut


def recu(reparation: Reparation) -> Decimal:
    """What has been received for the order, deposits included."""
    return Paiement.objects.filter(reparation=reparation).aggregate(s=Sum("montant"))["s"] or ZERO


def reste_du(facture: Facture) -> Decimal:
    """What the invoice still awaits (negative: the customer is owed a refund)."""
    avoirs = facture.avoirs.aggregate(s=Sum("total_ttc"))["s"] or ZERO
    return facture.total_ttc - avoirs - recu(facture.reparation)


def _montant(value: Any) -> Decimal:
    try:
        montant = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ValidationError({"montant": ["must be a number of euros"]}) from exc
    if not montant.is_finite() or montant <= 0:
        raise ValidationError({"montant": ["must be more than 0"]})
    if montant != montant.quantize(Decimal("0.01")):
        raise ValidationError({"montant": ["at most 2 decimal places (cents)"]})
    return montant


@transaction.atomic
def enregistrer_paiement(
    *,
    montant: Decimal,
    mode: str,
    facture: Facture | None = None,
    reparation: Reparation | None = None,
    reference: str = "",
    par: Any = None,
) -> Paiement:
    """Records money received: for `facture`, or as a deposit on `reparation` before its
    invoice (a deposit never exceeds the order's total; a payment never exceeds what the
    invoice still awaits)."""
    montant = _montant(montant)
    if mode not in Paiement.Mode.values:
        raise ValidationError({"mode": [f"one of {', '.join(Paiement.Mode.values)}"]})
    if facture is None and reparation is None:
        raise ValidationError({"facture": ["give the invoice (or, for a deposit, the repair)"]})
    if facture is not None and reparation is not None and facture.reparation_id != reparation.pk:
        raise ValidationError({"reparation": ["this is not the invoice's repair"]})
    reparation_id = facture.reparation_id if facture is not None else reparation.pk
    reparation = Reparation.objects.select_for_update().get(pk=reparation_id)
    facture = Facture.objects.filter(reparation=reparation).first()
    if facture is not None:
        attendu = reste_du(facture)
        quoi = f"the invoice {facture.numero}"
    else:
        if reparation.statut == S.ANNULEE:
            raise Conflict("a cancelled repair takes no deposit")
        attendu = reparation.total_ttc - recu(reparation)
        quoi = f"the repair #{reparation.pk} (deposit, before the invoice)"
    if montant > attendu:
        raise ValidationError(
            {"montant": [f"overpayment: {quoi} awaits {max(attendu, ZERO)} €, not {montant} €"]}
        )
    paiement = save(
        Paiement(
            reparation=reparation,
            facture=facture,
            acompte=facture is None,
            montant=montant,
            mode=mode,
            reference=reference,
            recu_le=timezone.now(),
            par=par,
        )
    )
    journal.inscrire(type_=EcritureJournal.Type.PAIEMENT, obj=paiement)
    evenements.enregistrer(
        sujet=f"paiement/{paiement.pk}",
        type_="paiement.enregistre",
        donnees={
            "paiement": paiement.pk,
            "facture": facture.pk if facture else None,
            "reparation": reparation.pk,
            "montant": paiement.montant,
            "mode": paiement.mode,
            "acompte": paiement.acompte,
            "recu_le": paiement.recu_le,
        },
    )
    return paiement


def statut_paiement(facture: Facture) -> str:
    """`emise` → `partiellement_payee` → `payee`; `soldee_par_avoir` when credit notes
    cancelled it before any payment. Uses the annotations of `selectors.factures()` when
    present (no query), else computes them."""
    recu_ = getattr(facture, "montant_recu", None)
    if recu_ is None:
        recu_ = recu(facture.reparation)
    reste = getattr(facture, "reste_du", None)
    if reste is None:
        reste = reste_du(facture)
    if reste <= 0:
        return "payee" if recu_ > 0 else "soldee_par_avoir"
    return "partiellement_payee" if recu_ > 0 else "emise"
