"""Gapless numbering of documents (invoices, credit notes, and estimates when they come).

A number is taken by the transaction that issues the document, from a counter row locked
with SELECT ... FOR UPDATE: a second issue waits for the first to commit (or roll back,
which gives the number back), so numbers never repeat and never leave a gap. Call it inside
the issuing `transaction.atomic`, after everything that may still fail cheaply (validation)
and before writing the document.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..models import Compteur


def _formatted(format_: str, annee: int, numero: int, sequence: str) -> str:
    try:
        return format_.format(annee=annee, numero=numero)
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"bad number format for {sequence!r}: {format_!r}") from exc


@dataclass(frozen=True)
class Numero:
    valeur: int  # the integer of the sequence
    texte: str  # formatted, e.g. F2026-000123
    le: datetime  # the issue time: read once the counter is locked, so numbers follow time


def _lock(sequence: str, cle: int) -> Compteur:
    # The row is created once, race-free (INSERT ... ON CONFLICT DO NOTHING), then locked.
    Compteur.objects.bulk_create(
        [Compteur(sequence=sequence, annee=cle, dernier=0)], ignore_conflicts=True
    )
    return Compteur.objects.select_for_update().get(sequence=sequence, annee=cle)


def prendre_numero(*, sequence: str, format_: str) -> Numero:
    """The next number of `sequence`, and the issue time that goes with it.

    The counter restarts each year (local time) when GARAGE_NUMEROTATION_ANNUELLE is on,
    otherwise one counter runs for ever. Must run inside the issuing transaction (it holds
    the counter's lock until commit).
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("prendre_numero must run inside the issuing transaction")
    yearly = settings.GARAGE_NUMEROTATION_ANNUELLE
    annee = timezone.localdate().year
    while True:
        compteur = _lock(sequence, annee if yearly else 0)
        le = timezone.now()
        if not yearly or timezone.localdate(le).year == annee:
            break
        annee = timezone.localdate(le).year  # the year turned while waiting for the lock
    compteur.dernier += 1
    compteur.save(update_fields=["dernier"])
    return Numero(compteur.dernier, _formatted(format_, annee, compteur.dernier, sequence), le)
