"""Repair requests (`Demande`) in the pipeline: published, turned into planned repair orders
by the worker, in batches, idempotently."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, replace

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, F, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from metier.limits import DESCRIPTION_MAX
from metier.models import (
    Demande,
    Piece,
    Reparation,
    Voiture,
)
from metier.services import NouvelOrdre, lock_pieces, make_orders, validate_duree

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
    """What became of one request of a batch, in the model's words: `statut` is the
    request's final state (`traitee` or `rejetee`, with its `motif`). A `doublon` was decided
    before (an earlier delivery, or the same message twice in the batch): nothing was done
    this time, and `statut` repeats that first outcome."""

    statut: str
    reparation_id: int | None = None
    motif: str = ""
    doublon: bool = False
    # The message named a known request but contradicted it (or was not valid): it is
    # refused (dead-lettered, `motif` says why) and the request itself is left as it is.
    contredit: bool = False


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
    """Turns a batch of requests into planned repair orders, in one transaction.

    Idempotent: a request whose key is already done or rejected is reported as a `doublon`
    and creates nothing. Requests with a key are locked (in key order, so that two
    consumers cannot deadlock) before they are decided on. The orders themselves are made
    by the domain's `make_orders`, the same function the API's `create_reparation` uses.
    """
    now = timezone.now()
    keyed = {r.key: r for r in requests if r.key is not None}
    demandes: dict[uuid.UUID, Demande] = {}
    contradictions: dict[int, str] = {}
    if keyed:
        demandes = _lock_demandes(keyed)
        # A message is only a pointer to the committed request: the order is made from the
        # row, and a body that says otherwise is refused (never the row rewritten).
        requests, contradictions = _from_rows(requests, demandes)
        keyed = {r.key: r for r in requests if r.key is not None}
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
    valid = [r for i, r in enumerate(requests) if r.invalid is None and i not in contradictions]
    # Parts are locked in id order: stock is reserved below, and no other writer may
    # oversell meanwhile (nor can two workers deadlock).
    pieces = lock_pieces(r.piece for r in valid if isinstance(r.piece, int))
    wanted_cars = {r.voiture for r in valid if r.voiture is not None}
    voitures = set(Voiture.objects.filter(pk__in=wanted_cars).values_list("pk", flat=True))

    results: list[Result | None] = [None] * len(requests)
    first: dict[uuid.UUID, int] = {}  # key -> index of its first occurrence in the batch
    repeats: list[tuple[int, int]] = []
    to_make: list[tuple[int, NouvelOrdre]] = []
    for i, r in enumerate(requests):
        demande = demandes.get(r.key) if r.key is not None else None
        if i in contradictions:
            # Not recorded as the key's first occurrence: the genuine message may follow.
            results[i] = Result(Demande.Statut.REJETEE, motif=contradictions[i], contredit=True)
            continue
        if r.key in first:
            repeats.append((i, first[r.key]))
            continue
        if demande is not None and demande.statut in Demande.FINAL:
            results[i] = Result(demande.statut, motif=demande.motif, doublon=True)
            continue
        if r.key is not None:
            first[r.key] = i
        reason = r.invalid or _refusal(r, pieces, voitures)
        if reason:
            results[i] = Result(Demande.Statut.REJETEE, motif=reason)
            continue
        ordre = NouvelOrdre(
            piece=pieces[r.piece],
            duree=r.duree,
            voiture_id=r.voiture,
            description=r.description,
            demande_id=r.key if demande is not None else None,
            motif=f"demande {r.key}" if r.key else "",
        )
        to_make.append((i, ordre))

    made = make_orders(ordres=[o for _, o in to_make], pieces=pieces)
    for (i, _o), rep in zip(to_make, made, strict=True):
        results[i] = Result(Demande.Statut.TRAITEE, rep.pk)
    for i, j in repeats:
        results[i] = Result(results[j].statut, motif=results[j].motif, doublon=True)

    # The requests' new states: set-based updates, not one statement per row.
    done: list[uuid.UUID] = []
    rejected: dict[str, list[uuid.UUID]] = defaultdict(list)
    for r, res in zip(requests, results, strict=True):
        if r.key is None or res.doublon or res.contredit:
            continue
        if res.statut == Demande.Statut.TRAITEE:
            done.append(r.key)
        else:
            rejected[res.motif[:500]].append(r.key)
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
    fields = ("id", "statut", "motif", "piece", "duree", "voiture", "description")
    return {d.id: d for d in rows.only(*fields)}


CONTRACT = ("piece", "duree", "voiture", "description")


def _from_rows(
    requests: list[RepairRequest], demandes: dict[uuid.UUID, Demande]
) -> tuple[list[RepairRequest], dict[int, str]]:
    """Each message naming a known, undecided request becomes that request as committed;
    one that contradicts it (or cannot be read) is set aside with the reason."""
    out: list[RepairRequest] = []
    contradictions: dict[int, str] = {}
    for i, r in enumerate(requests):
        demande = demandes.get(r.key) if r.key is not None else None
        if demande is None or demande.statut in Demande.FINAL:
            out.append(r)
            continue
        if r.invalid is not None:
            contradictions[i] = f"message for request {r.key} refused: {r.invalid}"
        else:
            differ = [f for f in CONTRACT if getattr(r, f) != getattr(demande, f)]
            if differ:
                contradictions[i] = (
                    f"message contradicts request {r.key} on {', '.join(differ)}: "
                    "the committed request is kept"
                )
        row = {f: getattr(demande, f) for f in CONTRACT}
        out.append(replace(r, invalid=None, **row) if i not in contradictions else r)
    return out, contradictions


@transaction.atomic
def reopen_demandes(*, ids: list[uuid.UUID]) -> int:
    """An operator replays dead letters: their requests, if rejected, are queued again."""
    return Demande.objects.filter(id__in=ids, statut=Demande.Statut.REJETEE).update(
        statut=Demande.Statut.EN_FILE, motif="", traitee_le=None
    )
