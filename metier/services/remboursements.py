"""Refunds (`Remboursement`): a credit note that cancels part of an invoice the customer had
already paid leaves them owed money; paying it back is recorded here, once, never changed
(database trigger), chained in the journal like payments.

What an invoice owes back is `-reste_du` when negative (credit notes exceeded what was still
due). A credit note's refund is bounded twice: by its own amount (less what was refunded on
it) and by what the invoice owes back, so two credit notes of one invoice never refund more
than was paid. The order's row is locked while a refund is checked and written (as payments
and credit notes do): two refunds racing for the same euros cannot both pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from ..models import Avoir, EcritureJournal, Remboursement, Reparation
from . import journal
from .common import Conflict, save
from .paiements import mode_valide, reste_du, valider_montant

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class EtatRemboursement:
    """Where a credit note stands: `sans_objet` (it only reduced what was due: nothing to
    pay back), `a_rembourser` (money is owed back on it), `rembourse` (paid back)."""

    montant_rembourse: Decimal
    a_rembourser: Decimal
    statut: str


def _rembourse_sur(avoir: Avoir) -> Decimal:
    return avoir.remboursements.aggregate(s=Sum("montant"))["s"] or ZERO


def etat(avoir: Avoir, *, reste: Decimal | None = None) -> EtatRemboursement:
    """The credit note's refund state. `reste`: the invoice's `reste_du` when known (the
    annotations of `selectors.avoirs()`), else computed."""
    fait = getattr(avoir, "montant_rembourse", None)
    if fait is None:
        fait = _rembourse_sur(avoir)
    if reste is None:
        reste = getattr(avoir, "facture_reste_du", None)
    if reste is None:
        reste = reste_du(avoir.facture)
    du = max(min(avoir.total_ttc - fait, -reste), ZERO)
    if du > 0:
        statut = "a_rembourser"
    elif fait > 0:
        statut = "rembourse"
    else:
        statut = "sans_objet"
    return EtatRemboursement(montant_rembourse=fait, a_rembourser=du, statut=statut)


def verifier_remboursement(*, avoir: Avoir, montant: Any, mode: str) -> Decimal:
    """The checks of a refund, without writing: the amount (a ValidationError on `montant`
    or `mode`), or a Conflict when nothing is owed back on this credit note."""
    montant = valider_montant(montant)
    mode_valide(mode)
    du = etat(avoir).a_rembourser
    if du <= 0:
        raise Conflict(
            f"nothing to refund on {avoir.numero}: what it cancelled was not paid, or was "
            f"already refunded"
        )
    if montant > du:
        raise ValidationError(
            {"montant": [f"over-refund: {avoir.numero} leaves {du} € to refund, not {montant} €"]}
        )
    return montant


@transaction.atomic
def enregistrer_remboursement(
    *,
    avoir: Avoir,
    montant: Any,
    mode: str,
    reference: str = "",
    par: Any = None,
) -> Remboursement:
    """Pays back to the customer (part of) what the credit note cancelled of a paid invoice."""
    valider_montant(montant)
    mode_valide(mode)
    facture = avoir.facture
    Reparation.objects.select_for_update().get(pk=facture.reparation_id)
    avoir = Avoir.objects.select_related("facture").get(pk=avoir.pk)  # read after the lock
    montant = verifier_remboursement(avoir=avoir, montant=montant, mode=mode)
    remboursement = save(
        Remboursement(
            avoir=avoir,
            facture=facture,
            reparation_id=facture.reparation_id,
            montant=montant,
            mode=mode,
            reference=reference,
            rembourse_le=timezone.now(),
            par=par,
        )
    )
    journal.inscrire(type_=EcritureJournal.Type.REMBOURSEMENT, obj=remboursement)
    return remboursement
