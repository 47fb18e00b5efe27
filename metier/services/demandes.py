"""Repair requests (`Demande`) as the intake records them: validated, idempotent on a key."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Value
from django.db.models.functions import Coalesce

from .. import limits
from ..models import Demande, Piece, Voiture
from .common import Conflict, NotFound

# --- Demandes (repair requests) ---------------------------------------------------------
DUREE_BOUNDS = f"must be between {limits.DUREE_MIN} and {limits.DUREE_MAX} hours"


def validate_duree(duree: Any) -> int:
    """The duration of a request: a whole number of hours within bounds."""
    if isinstance(duree, bool) or not isinstance(duree, int):
        raise ValidationError({"duree": ["must be a whole number of hours"]})
    if not limits.DUREE_MIN <= duree <= limits.DUREE_MAX:
        raise ValidationError({"duree": [DUREE_BOUNDS]})
    return duree


def accept_demande(
    *,
    piece: int,
    duree: int,
    voiture: int | None = None,
    description: str = "",
    cle_idempotence: str | None = None,
    demandeur: Any = None,
) -> tuple[Demande, bool]:
    """Records a repair request (the outbox row). Returns (demande, created).

    An idempotency key is the sender's (`demandeur`, a user or None): with a key this sender
    already used for the same request, returns the first one (created=False); for a
    different request, raises Conflict. Another sender's key is never seen.
    """
    validate_duree(duree)
    if len(description) > limits.DESCRIPTION_MAX:
        raise ValidationError({"description": [f"at most {limits.DESCRIPTION_MAX} characters"]})
    if not Piece.objects.filter(pk=piece).exists():
        raise NotFound("piece", f"no part with id {piece}")
    if voiture is not None and not Voiture.objects.filter(pk=voiture).exists():
        raise NotFound("voiture", f"no car with id {voiture}")
    fields = {
        "piece": piece,
        "duree": duree,
        "voiture": voiture,
        "description": description,
        "demandeur": demandeur if getattr(demandeur, "pk", None) is not None else None,
    }
    if cle_idempotence is None:
        # One INSERT is its own transaction: no BEGIN/COMMIT round trips on the hot path.
        return Demande.objects.create(**fields), True
    return _accept_keyed(cle_idempotence, fields)


@transaction.atomic
def _accept_keyed(cle_idempotence: str, fields: dict) -> tuple[Demande, bool]:
    piece, duree, voiture = fields["piece"], fields["duree"], fields["voiture"]
    mine = _keyed(cle_idempotence, fields["demandeur"])
    existing = mine.first()
    if existing is not None:
        return _replayed(existing, piece, duree, voiture), False
    try:
        # A savepoint, only here: a racing duplicate key must not spoil the transaction.
        with transaction.atomic():
            return Demande.objects.create(cle_idempotence=cle_idempotence, **fields), True
    except IntegrityError:
        # Two requests raced with the same key; the other one won.
        existing = mine.first()
        if existing is None:
            raise
        return _replayed(existing, piece, duree, voiture), False


def _keyed(cle_idempotence: str, demandeur: Any) -> Any:
    """The sender's request with this key (at most one), looked up by the very expression of
    the unique constraint, so that its index answers."""
    return Demande.objects.alias(qui=Coalesce("demandeur", Value(0))).filter(
        qui=demandeur.pk if demandeur is not None else 0, cle_idempotence=cle_idempotence
    )


def _replayed(existing: Demande, piece: int, duree: int, voiture: int | None) -> Demande:
    if (existing.piece, existing.duree, existing.voiture) != (piece, duree, voiture):
        raise Conflict("Idempotency-Key was already used for a different request")
    return existing
