"""Maintenance reminders per car (`Rappel`): by date, by mileage, whichever comes first.

`signaler_rappels_dus` is the scheduler's pass: each reminder that fell due and was not
signalled yet gets its `rappel.du` event and `du_le`, in one transaction per reminder,
locked with SKIP LOCKED, so two passes running at once (two crons, a retry) never signal
one twice. A finished repair of the reminder's kind resets it (reparations.reset_rappels).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .. import evenements
from ..models import Rappel, Voiture
from .common import delete, save


def _interval(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10_000_000:
        raise ValidationError({field: ["a whole number from 1 to 10000000, or null"]})
    return value


@transaction.atomic
def create_rappel(
    *,
    voiture: Voiture,
    nature: str,
    intervalle_km: int | None = None,
    intervalle_jours: int | None = None,
    dernier_km: int | None = None,
    derniere_date: date | None = None,
) -> Rappel:
    """A reminder for a car: e.g. `vidange` every 15,000 km or 365 days. Counted from
    `dernier_km` / `derniere_date` (default: the car's mileage now, today)."""
    intervalle_km = _interval(intervalle_km, "intervalle_km")
    intervalle_jours = _interval(intervalle_jours, "intervalle_jours")
    if intervalle_km is None and intervalle_jours is None:
        raise ValidationError({"intervalle_km": ["give intervalle_km, intervalle_jours or both"]})
    nature = (nature or "").strip()[:60]
    return save(
        Rappel(
            voiture=voiture,
            nature=nature,
            intervalle_km=intervalle_km,
            intervalle_jours=intervalle_jours,
            dernier_km=voiture.kilometrage if dernier_km is None else dernier_km,
            derniere_date=derniere_date or timezone.localdate(),
        )
    )


@transaction.atomic
def delete_rappel(*, rappel: Rappel) -> None:
    delete(rappel)


def raison(rappel: Rappel, aujourdhui: date) -> str | None:
    """Why a reminder is due ("kilometrage" first: it is the more precise), or None."""
    km = rappel.echeance_km
    if km is not None and rappel.voiture.kilometrage >= km:
        return "kilometrage"
    if rappel.echeance is not None and rappel.echeance <= aujourdhui:
        return "date"
    return None


def signaler_rappels_dus(*, aujourdhui: date | None = None, limit: int = 1000) -> list[int]:
    """Emits `rappel.du` once for each due reminder not signalled yet; returns their ids."""
    aujourdhui = aujourdhui or timezone.localdate()
    # One read of the reminders not signalled yet; only the due ones are then locked.
    due = [
        r.pk
        for r in Rappel.objects.filter(du_le__isnull=True).select_related("voiture").order_by("id")
        if raison(r, aujourdhui)
    ]
    signalled = []
    for pk in due:
        if len(signalled) >= limit:
            break
        with transaction.atomic():
            rappel = (
                Rappel.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("voiture")
                .filter(pk=pk, du_le__isnull=True)
                .first()
            )
            if rappel is None:
                continue  # signalled or held by another pass meanwhile
            why = raison(rappel, aujourdhui)
            if why is None:
                continue
            rappel.du_le = timezone.now()
            rappel.save(update_fields=["du_le"])
            evenements.enregistrer(
                sujet=f"rappel/{rappel.pk}",
                type_="rappel.du",
                donnees={
                    "rappel": rappel.pk,
                    "voiture": rappel.voiture_id,
                    "client": rappel.voiture.client_id,
                    "nature": rappel.nature,
                    "raison": why,
                    "echeance": rappel.echeance,
                    "echeance_km": rappel.echeance_km,
                    "kilometrage": rappel.voiture.kilometrage,
                },
            )
            signalled.append(rappel.pk)
    return signalled
