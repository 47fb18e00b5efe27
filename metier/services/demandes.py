"""Repair requests (`Demande`) as the intake records them: validated, idempotent on a key."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

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
) -> tuple[Demande, bool]:
    """Records a repair request (the outbox row). Returns (demande, created).

    With an idempotency key already used for the same request, returns the first one
    (created=False); for a different request, raises Conflict.
    """
    validate_duree(duree)
    if len(description) > limits.DESCRIPTION_MAX:
        raise ValidationError({"description": [f"at most {limits.DESCRIPTION_MAX} characters"]})
    for name, value in (("piece", piece), ("voiture", voiture)):
        if value is not None and not limits.ID_MIN <= value <= limits.ID_MAX:
            raise ValidationError({name: [f"must be between {limits.ID_MIN} and {limits.ID_MAX}"]})
    fields = {"piece": piece, "duree": duree, "voiture": voiture, "description": description}
    if cle_idempotence is None and voiture is None:
        # The hot path: one statement, its own transaction (no BEGIN/COMMIT round trips),
        # which inserts only if the part exists.
        demande = _insert_if_part_exists(fields)
        if demande is None:
            raise NotFound("piece", f"no part with id {piece}")
        return demande, True
    if not Piece.objects.filter(pk=piece).exists():
        raise NotFound("piece", f"no part with id {piece}")
    if voiture is not None and not Voiture.objects.filter(pk=voiture).exists():
        raise NotFound("voiture", f"no car with id {voiture}")
    if cle_idempotence is None:
        return Demande.objects.create(**fields), True
    return _accept_keyed(cle_idempotence, fields)


def _insert_if_part_exists(fields: dict) -> Demande | None:
    """`INSERT … SELECT … WHERE EXISTS (the part)`: the row, or None if the part is unknown.
    The instance is built here, as `objects.create` would (same defaults).

    Outside a transaction, the per-request connection health check (a round trip) is
    skipped: if the persistent connection turns out dead, the statement is sent again once
    on a new one. The row's id is chosen here, so the second attempt cannot add a second
    row (`ON CONFLICT (id) DO NOTHING`) even if the first one was committed."""
    demande = Demande(id=uuid.uuid4(), cree_le=timezone.now(), **fields)
    columns = ("id", "piece", "duree", "voiture", "description", "statut", "motif", "cree_le")
    values = [
        Demande._meta.get_field(name).get_db_prep_save(getattr(demande, name), connection)
        for name in columns
    ]
    quote = connection.ops.quote_name
    table = quote(Demande._meta.db_table)
    sql = (
        f"INSERT INTO {table} ({', '.join(map(quote, columns))}) "
        f"SELECT {', '.join(['%s'] * len(columns))} "
        f"WHERE EXISTS (SELECT 1 FROM {quote(Piece._meta.db_table)} WHERE id = %s) "
        "ON CONFLICT (id) DO NOTHING"
    )
    params = [*values, fields["piece"]]
    retry = not connection.in_atomic_block
    if retry:
        connection.health_check_done = True
    try:
        inserted = _execute(sql, params)
    except (InterfaceError, OperationalError):
        if not retry:
            raise
        connection.close()  # dead: the next statement opens a new connection
        inserted = _execute(sql, params) or Demande.objects.filter(pk=demande.pk).exists()
    if not inserted:
        return None
    demande._state.adding = False
    demande._state.db = connection.alias
    return demande


def _execute(sql: str, params: list) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount == 1


@transaction.atomic
def _accept_keyed(cle_idempotence: str, fields: dict) -> tuple[Demande, bool]:
    piece, duree, voiture = fields["piece"], fields["duree"], fields["voiture"]
    existing = Demande.objects.filter(cle_idempotence=cle_idempotence).first()
    if existing is not None:
        return _replayed(existing, piece, duree, voiture), False
    try:
        # A savepoint, only here: a racing duplicate key must not spoil the transaction.
        with transaction.atomic():
            return Demande.objects.create(cle_idempotence=cle_idempotence, **fields), True
    except IntegrityError:
        # Two requests raced with the same key; the other one won.
        existing = Demande.objects.filter(cle_idempotence=cle_idempotence).first()
        if existing is None:
            raise
        return _replayed(existing, piece, duree, voiture), False


def _replayed(existing: Demande, piece: int, duree: int, voiture: int | None) -> Demande:
    if (existing.piece, existing.duree, existing.voiture) != (piece, duree, voiture):
        raise Conflict("Idempotency-Key was already used for a different request")
    return existing
