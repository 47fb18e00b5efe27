"""Repair requests (`Demande`) in the pipeline: published, turned into planned repair orders
by the worker, in batches, idempotently."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, F, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from metier.limits import DESCRIPTION_MAX
from metier.models import (
    Demande,
    LigneMainOeuvre,
    LignePiece,
    Piece,
    Reparation,
    Transition,
    Voiture,
)
from metier.services.demandes import validate_duree
from metier.services.reparations import describe, lock_pieces, totals

S = Reparation.Statut


@transaction.atomic
def mark_published(*, ids: list[uuid.UUID]) -> int:
    """The broker confirmed these requests: they are queued (unless already done).

    Rows are locked in id order, as the worker locks them, and rows the worker holds right
    now are skipped: it is deciding their final state anyway. Publishers and workers thus
    never deadlock.
    """
    locked = list(
        Demande.objects.select_for_update(skip_locked=True)
        .filter(id__in=ids, publiee_le__isnull=True)
        .order_by("id")
        .values_list("id", flat=True)
    )
    if not locked:
        return 0
    return Demande.objects.filter(id__in=locked).update(
        publiee_le=timezone.now(),
        statut=Case(
            When(statut=Demande.Statut.ACCEPTEE, then=Value(Demande.Statut.EN_FILE)),
            default=F("statut"),
        ),
    )


@transaction.atomic
def mark_republished(*, ids: list[uuid.UUID]) -> int:
    """The relay published these queued requests again: their clock starts over."""
    return Demande.objects.filter(id__in=ids, statut=Demande.Statut.EN_FILE).update(
        publiee_le=timezone.now()
    )


@dataclass(frozen=True)
class RepairRequest:
    """One message from the queue, already decoded. `invalid` holds why it can never succeed."""

    key: uuid.UUID | None
    piece: int | None
    duree: int | None
    invalid: str | None = None
    voiture: int | None = None
    description: str = ""


@dataclass(frozen=True)
class Result:
    status: str  # "done", "duplicate" or "rejected"
    reparation_id: int | None = None
    reason: str = ""


def _refusal(r: RepairRequest, pieces: dict[int, Piece], voitures: set[int]) -> str | None:
    """Why this request can never become a repair, or None."""
    try:
        validate_duree(r.duree)
    except ValidationError as exc:
        return "duree " + "; ".join(exc.message_dict["duree"])
    if r.piece not in pieces:
        return f"unknown part: piece {r.piece}"
    if r.voiture is not None and r.voiture not in voitures:
        return f"unknown car: voiture {r.voiture}"
    if len(r.description) > DESCRIPTION_MAX:
        return f"description longer than {DESCRIPTION_MAX} characters"
    return None


@transaction.atomic
def process_demandes(*, requests: list[RepairRequest]) -> list[Result]:
    """Turns a batch of requests into repairs, in one transaction.

    Idempotent: a request whose key is already done or rejected is reported as a duplicate
    and creates nothing. Requests with a key are locked (in key order, so that two
    consumers cannot deadlock) before they are decided on.
    """
    now = timezone.now()
    keyed = {r.key: r for r in requests if r.key is not None}
    demandes: dict[uuid.UUID, Demande] = {}
    if keyed:
        demandes = _lock_demandes(keyed)
        missing = sorted(k for k in keyed if k not in demandes)  # id order, as every writer
        if missing:
            # Published by another program with its own message_id: record it, so that
            # the same id is deduplicated and its outcome can be looked up.
            Demande.objects.bulk_create(
                [
                    Demande(
                        id=k,
                        piece=keyed[k].piece,
                        duree=keyed[k].duree,
                        voiture=keyed[k].voiture,
                        description=keyed[k].description[:DESCRIPTION_MAX],
                        statut=Demande.Statut.EN_FILE,
                        publiee_le=now,
                    )
                    for k in missing
                ],
                ignore_conflicts=True,
            )
            demandes.update(_lock_demandes({k: keyed[k] for k in missing}))
    valid = [r for r in requests if r.invalid is None]
    # Parts are locked in id order: stock is reserved below, and no other writer may
    # oversell meanwhile (nor can two workers deadlock).
    pieces = lock_pieces(r.piece for r in valid if isinstance(r.piece, int))
    wanted_cars = {r.voiture for r in valid if r.voiture is not None}
    voitures = set(Voiture.objects.filter(pk__in=wanted_cars).values_list("pk", flat=True))

    results: list[Result | None] = []
    to_create: list[tuple[int, Reparation, RepairRequest]] = []
    seen: set[uuid.UUID] = set()
    for i, r in enumerate(requests):
        demande = demandes.get(r.key) if r.key is not None else None
        if r.key is not None and (r.key in seen or demande.statut in Demande.FINAL):
            results.append(Result("duplicate", reason=demande.motif))
            continue
        if r.key is not None:
            seen.add(r.key)
        reason = r.invalid or _refusal(r, pieces, voitures)
        if reason:
            results.append(Result("rejected", reason=reason))
            continue
        results.append(None)
        to_create.append((i, _planned_order(r, pieces, demande), r))

    _create_orders(to_create, pieces, now)
    for i, rep, _r in to_create:
        results[i] = Result("done", rep.pk)

    # The requests' new states: set-based updates, not one statement per row.
    done = [
        r.key for r, res in zip(requests, results, strict=True) if r.key and res.status == "done"
    ]
    rejected: dict[str, list[uuid.UUID]] = defaultdict(list)
    for r, res in zip(requests, results, strict=True):
        if r.key is not None and res.status == "rejected":
            rejected[res.reason[:500]].append(r.key)
    final = {"traitee_le": now, "publiee_le": Coalesce("publiee_le", Value(now))}
    if done:
        Demande.objects.filter(id__in=done).update(statut=Demande.Statut.TRAITEE, **final)
    for reason, ids in rejected.items():
        Demande.objects.filter(id__in=ids).update(
            statut=Demande.Statut.REJETEE, motif=reason, **final
        )
    return results  # type: ignore[return-value]


def _lock_demandes(keyed: dict[uuid.UUID, RepairRequest]) -> dict[uuid.UUID, Demande]:
    """Locks the requests' rows in id order (the order every writer uses)."""
    rows = Demande.objects.select_for_update().filter(id__in=keyed).order_by("id")
    return {d.id: d for d in rows.only("id", "statut", "motif")}


def _planned_order(
    r: RepairRequest, pieces: dict[int, Piece], demande: Demande | None
) -> Reparation:
    """The repair order for a request, planned against the (locked) stock in memory: the
    worker's asynchronous step checks the part, reserves it, prices the lines and gives the
    order its first status."""
    piece = pieces[r.piece]
    taux_tva = settings.GARAGE_TAUX_TVA
    t = totals([piece.prix, Decimal(r.duree) * settings.GARAGE_TAUX_HORAIRE], taux_tva)
    if piece.disponible >= 1:
        piece.reserve += 1
        statut = S.PLANIFIEE
    else:
        statut = S.EN_ATTENTE_PIECES
    return Reparation(
        demande=demande,
        piece_id=r.piece,
        duree=r.duree,
        voiture_id=r.voiture,
        description=r.description,
        statut=statut,
        taux_tva=taux_tva,
        total_ht=t.total_ht,
        montant_tva=t.montant_tva,
        total_ttc=t.total_ttc,
    )


def _create_orders(
    orders: list[tuple[int, Reparation, RepairRequest]], pieces: dict[int, Piece], now: Any
) -> None:
    """Bulk-writes the orders, their two lines each, their first transition and the stock
    reserved for them: a handful of statements for the whole batch."""
    if not orders:
        return
    Reparation.objects.bulk_create([rep for _, rep, _ in orders])
    rate = settings.GARAGE_TAUX_HORAIRE
    LignePiece.objects.bulk_create(
        LignePiece(
            reparation=rep,
            piece_id=rep.piece_id,
            quantite=1,
            prix_unitaire=pieces[rep.piece_id].prix,
            initiale=True,
        )
        for _, rep, _ in orders
    )
    LigneMainOeuvre.objects.bulk_create(
        LigneMainOeuvre(
            reparation=rep,
            heures=Decimal(rep.duree),
            taux_horaire=rate,
            description="main d'œuvre",
            initiale=True,
        )
        for _, rep, _ in orders
    )
    Transition.objects.bulk_create(
        Transition(
            reparation=rep,
            de="",
            vers=rep.statut,
            le=now,
            motif=describe({rep.piece_id: 1})
            if rep.statut == S.EN_ATTENTE_PIECES
            else f"demande {r.key}"
            if r.key
            else "",
        )
        for _, rep, r in orders
    )
    reserved: dict[int, int] = defaultdict(int)
    for _, rep, _ in orders:
        if rep.statut == S.PLANIFIEE:
            reserved[rep.piece_id] += 1
    for pid, n in reserved.items():
        Piece.objects.filter(pk=pid).update(reserve=F("reserve") + n)


@transaction.atomic
def reopen_demandes(*, ids: list[uuid.UUID]) -> int:
    """An operator replays dead letters: their requests, if rejected, are queued again."""
    return Demande.objects.filter(id__in=ids, statut=Demande.Statut.REJETEE).update(
        statut=Demande.Statut.EN_FILE, motif="", traitee_le=None
    )
