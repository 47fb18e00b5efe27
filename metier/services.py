"""Functions that change the garage's state. Each runs in one transaction and takes keyword
arguments; the API, the intake, the consumer, the admin and the commands all call these.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from .models import Demande, Piece, Reparation, Voiture


class NotFound(Exception):
    """A referenced object does not exist (the API answers 404)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class Conflict(Exception):
    """The request contradicts the current state (the API answers 409)."""


def _save(instance: Any) -> Any:
    instance.full_clean()
    instance.save()
    return instance


def _update(instance: Any, fields: dict[str, Any]) -> Any:
    for name, value in fields.items():
        setattr(instance, name, value)
    return _save(instance)


def _delete(instance: Any) -> None:
    try:
        instance.delete()
    except ProtectedError as exc:
        raise Conflict(f"{instance._meta.verbose_name} is still used by other records") from exc


# --- Pieces ---------------------------------------------------------------------------
@transaction.atomic
def create_piece(*, nom: str, prix: Decimal) -> Piece:
    return _save(Piece(nom=nom, prix=prix))


@transaction.atomic
def update_piece(*, piece: Piece, **fields: Any) -> Piece:
    return _update(piece, fields)


@transaction.atomic
def delete_piece(*, piece: Piece) -> None:
    _delete(piece)


# --- Voitures -------------------------------------------------------------------------
@transaction.atomic
def create_voiture(*, marque: str, couleur: str) -> Voiture:
    return _save(Voiture(marque=marque, couleur=couleur))


@transaction.atomic
def update_voiture(*, voiture: Voiture, **fields: Any) -> Voiture:
    return _update(voiture, fields)


@transaction.atomic
def delete_voiture(*, voiture: Voiture) -> None:
    _delete(voiture)


# --- Reparations ----------------------------------------------------------------------
@transaction.atomic
def create_reparation(*, piece: Piece, duree: int) -> Reparation:
    return _save(Reparation(piece=piece, duree=duree))


@transaction.atomic
def update_reparation(*, reparation: Reparation, **fields: Any) -> Reparation:
    return _update(reparation, fields)


@transaction.atomic
def delete_reparation(*, reparation: Reparation) -> None:
    _delete(reparation)


# --- Demandes (repair requests) ---------------------------------------------------------
def validate_duree(duree: Any) -> int:
    """The duration of a request: a whole number of hours within bounds."""
    if isinstance(duree, bool) or not isinstance(duree, int):
        raise ValidationError({"duree": ["must be a whole number of hours"]})
    if not 1 <= duree <= settings.GARAGE_MAX_DUREE:
        raise ValidationError(
            {"duree": [f"must be between 1 and {settings.GARAGE_MAX_DUREE} hours"]}
        )
    return duree


def _same_request(demande: Demande, piece: int, duree: int) -> bool:
    return demande.piece == piece and demande.duree == duree


def accept_demande(
    *, piece: int, duree: int, cle_idempotence: str | None = None
) -> tuple[Demande, bool]:
    """Records a repair request (the outbox row). Returns (demande, created).

    With an idempotency key already used for the same request, returns the first one
    (created=False); for a different request, raises Conflict.
    """
    validate_duree(duree)
    if not Piece.objects.filter(pk=piece).exists():
        raise NotFound("piece", f"no part with id {piece}")
    if cle_idempotence is not None:
        existing = Demande.objects.filter(cle_idempotence=cle_idempotence).first()
        if existing is not None:
            return _replayed(existing, piece, duree), False
    try:
        with transaction.atomic():
            demande = Demande.objects.create(
                piece=piece, duree=duree, cle_idempotence=cle_idempotence
            )
    except IntegrityError:
        # Two requests raced with the same key; the other one won.
        existing = Demande.objects.filter(cle_idempotence=cle_idempotence).first()
        if existing is None:
            raise
        return _replayed(existing, piece, duree), False
    return demande, True


def _replayed(existing: Demande, piece: int, duree: int) -> Demande:
    if not _same_request(existing, piece, duree):
        raise Conflict("Idempotency-Key was already used for a different request")
    return existing


@transaction.atomic
def mark_published(*, ids: list[uuid.UUID]) -> int:
    """The broker confirmed these requests: they are queued (unless already done)."""
    now = timezone.now()
    Demande.objects.filter(id__in=ids, publiee_le__isnull=True).update(publiee_le=now)
    return Demande.objects.filter(id__in=ids, statut=Demande.Statut.ACCEPTEE).update(
        statut=Demande.Statut.EN_FILE
    )


@dataclass(frozen=True)
class RepairRequest:
    """One message from the queue, already decoded. `invalid` holds why it can never succeed."""

    key: uuid.UUID | None
    piece: int | None
    duree: int | None
    invalid: str | None = None


@dataclass(frozen=True)
class Result:
    status: str  # "done", "duplicate" or "rejected"
    reparation_id: int | None = None
    reason: str = ""


def _refusal(r: RepairRequest, pieces: set[int]) -> str | None:
    """Why this request can never become a repair, or None."""
    try:
        validate_duree(r.duree)
    except ValidationError as exc:
        return "duree " + "; ".join(exc.message_dict["duree"])
    if r.piece not in pieces:
        return f"unknown part: piece {r.piece}"
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
        known = set(Demande.objects.filter(id__in=keyed).values_list("id", flat=True))
        missing = [
            # Published by another program with its own message_id: record it, so that
            # the same id is deduplicated and its outcome can be looked up.
            Demande(
                id=k, piece=r.piece, duree=r.duree, statut=Demande.Statut.EN_FILE, publiee_le=now
            )
            for k, r in keyed.items()
            if k not in known
        ]
        if missing:
            Demande.objects.bulk_create(missing, ignore_conflicts=True)
        demandes = {
            d.id: d for d in Demande.objects.select_for_update().filter(id__in=keyed).order_by("id")
        }
    wanted_pieces = {r.piece for r in requests if r.invalid is None and r.piece is not None}
    pieces = set(Piece.objects.filter(id__in=wanted_pieces).values_list("id", flat=True))

    results: list[Result | None] = []
    to_create: list[tuple[int, Reparation]] = []
    seen: set[uuid.UUID] = set()
    for i, r in enumerate(requests):
        demande = demandes.get(r.key) if r.key is not None else None
        if r.key is not None and (r.key in seen or demande.statut in Demande.FINAL):
            results.append(Result("duplicate", demande.reparation_id, demande.motif))
            continue
        if r.key is not None:
            seen.add(r.key)
        reason = r.invalid or _refusal(r, pieces)
        if reason:
            results.append(Result("rejected", reason=reason))
            continue
        results.append(None)
        to_create.append((i, Reparation(piece_id=r.piece, duree=r.duree)))

    Reparation.objects.bulk_create([rep for _, rep in to_create])
    for i, rep in to_create:
        results[i] = Result("done", rep.pk)

    changed = []
    for r, result in zip(requests, results, strict=True):
        demande = demandes.get(r.key) if r.key is not None else None
        if demande is None or result.status == "duplicate":
            continue
        demande.traitee_le = now
        demande.publiee_le = demande.publiee_le or now
        if result.status == "done":
            demande.statut, demande.reparation_id = Demande.Statut.TRAITEE, result.reparation_id
        else:
            demande.statut, demande.motif = Demande.Statut.REJETEE, result.reason[:500]
        changed.append(demande)
    if changed:
        Demande.objects.bulk_update(
            changed, ["statut", "reparation", "motif", "traitee_le", "publiee_le"]
        )
    return results  # type: ignore[return-value]


@transaction.atomic
def reopen_demandes(*, ids: list[uuid.UUID]) -> int:
    """An operator replays dead letters: their requests, if rejected, are queued again."""
    return Demande.objects.filter(id__in=ids, statut=Demande.Statut.REJETEE).update(
        statut=Demande.Statut.EN_FILE, motif="", traitee_le=None
    )
