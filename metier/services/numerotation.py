"""Gapless numbering of documents (invoices, credit notes, and estimates when they come).

A number is taken by the transaction that issues the document, from a counter row locked
with SELECT ... FOR UPDATE: a second issue waits for the first to commit (or roll back,
which gives the number back), so numbers never repeat and never leave a gap. Call it inside
the issuing `transaction.atomic`, after everything that may still fail cheaply (validation)
and before writing the document.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..models import Compteur


def _formatted(format_: str, annee: int, numero: int, sequence: str) -> str:
    try:
        return format_.format(annee=annee, numero=numero)
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"bad number format for {sequence!r}: {format_!r}") from exc


def prendre_numero(*, sequence: str, format_: str, annee: int | None = None) -> tuple[int, str]:
    """The next number of `sequence`: (the integer, the formatted number).

    `annee` is the document's year (today, local time, by default); the counter restarts
    each year when GARAGE_NUMEROTATION_ANNUELLE is on, otherwise one counter runs for ever.
    Must run inside the issuing transaction (it holds the counter's lock until commit).
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("prendre_numero must run inside the issuing transaction")
    annee = annee if annee is not None else timezone.localdate().year
    cle = annee if settings.GARAGE_NUMEROTATION_ANNUELLE else 0
    # The row is created once, race-free (INSERT ... ON CONFLICT DO NOTHING), then locked.
    Compteur.objects.bulk_create(
        [Compteur(sequence=sequence, annee=cle, dernier=0)], ignore_conflicts=True
    )
    compteur = Compteur.objects.select_for_update().get(sequence=sequence, annee=cle)
    compteur.dernier += 1
    compteur.save(update_fields=["dernier"])
    return compteur.dernier, _formatted(format_, annee, compteur.dernier, sequence)
