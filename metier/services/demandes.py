"""Repair requests (`Demande`) as the intake records them: validated, idempotent on a key."""

from __future__ import annotations

import uuid
from contextlib import nullcontext as _nothing
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from .. import limits
from ..models import Demande, Piece, Voiture
from .common import Conflict, NotFound

# --- Demandes (repair requests) ---------------------------------------------------------
DUREE_BOUNDS = f"must be between {limits.DUREE_MIN} and {limits.DUREE_MAX} hours"


TEXTE_NON_STOCKABLE = "text must not contain NUL characters or lone surrogates"


def texte_stockable(text: str) -> bool:
    """Text every database here can store: valid UTF-8 (no lone surrogate), no NUL."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def validate_duree(duree: Any) -> int:
    """The duration of a request: a whole number of hours within bounds."""
    if isinstance(duree, bool) or not isinstance(duree, int):
        raise ValidationError({"duree": ["must be a whole number of hours"]})
    if not limits.DUREE_MIN <= duree <= limits.DUREE_MAX:
        raise ValidationError({"duree": [DUREE_BOUNDS]})
    return duree


def check_demande(
    *, piece: int, duree: int, voiture: int | None = None, description: str = ""
) -> None:
    """A request's fields within the domain's bounds, or ValidationError naming the field."""
    validate_duree(duree)
    if len(description) > limits.DESCRIPTION_MAX:
        raise ValidationError({"description": [f"at most {limits.DESCRIPTION_MAX} characters"]})
    if not texte_stockable(description):
        raise ValidationError({"description": [TEXTE_NON_STOCKABLE]})
    for name, value in (("piece", piece), ("voiture", voiture)):
        if value is not None and not limits.ID_MIN <= value <= limits.ID_MAX:
            raise ValidationError({name: [f"must be between {limits.ID_MIN} and {limits.ID_MAX}"]})


def enregistrer_demandes(*, demandes: list[dict[str, Any]]) -> list[Demande | None]:
    """Records plain requests (`piece`, `duree`, optionally `description`; each checked by
    `check_demande` already) in one transaction: for each, its row, or None if its part is
    unknown. The intake's group commit (intake/writer.py) gathers concurrent requests
    this way, so that many cost one commit."""
    for fields in demandes:
        fields.setdefault("voiture", None)
        fields.setdefault("description", "")
        fields.setdefault("demandeur", None)
        fields.setdefault("id_requete", "")
    return _insert_if_parts_exist(demandes)


def accept_demande(
    *,
    piece: int,
    duree: int,
    voiture: int | None = None,
    description: str = "",
    cle_idempotence: str | None = None,
    demandeur: Any = None,
    id_requete: str = "",
) -> tuple[Demande, bool]:
    """Records a repair request (the outbox row). Returns (demande, created).
    `id_requete` is the HTTP request's id, kept so that whoever publishes the row (the
    after-commit publisher or the relay) carries it to the worker's logs.

    An idempotency key is the sender's (`demandeur`, a user or None): with a key this sender
    already used for the same request, returns the first one (created=False); for a
    different request, raises Conflict. Another sender's key is never seen.
    """
    check_demande(piece=piece, duree=duree, voiture=voiture, description=description)
    fields = {
        "piece": piece,
        "duree": duree,
        "voiture": voiture,
        "description": description,
        "demandeur": demandeur if getattr(demandeur, "pk", None) is not None else None,
        "id_requete": id_requete[: Demande._meta.get_field("id_requete").max_length],
    }
    if cle_idempotence is None and voiture is None:
        # The hot path: one statement, its own transaction (no BEGIN/COMMIT round trips),
        # which inserts only if the part exists.
        [demande] = _insert_if_parts_exist([fields])
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


def _insert_if_parts_exist(rows: list[dict]) -> list[Demande | None]:
    """`INSERT … SELECT … WHERE EXISTS (the part)` for each row, in one transaction: its
    instance (built here, as `objects.create` would), or None if the part is unknown.
    PostgreSQL takes the rows in one statement (`unnest`); SQLite one statement each.

    Outside a transaction, the per-request connection health check (a round trip) is
    skipped: if the persistent connection turns out dead, the statements are sent again
    once on a new one. The rows' ids are chosen here, so the second attempt cannot add a
    second row (`ON CONFLICT (id) DO NOTHING`) even if the first one was committed."""
    now = timezone.now()
    demandes = [Demande(id=uuid.uuid4(), cree_le=now, **fields) for fields in rows]
    retry = not connection.in_atomic_block
    if retry:
        connection.health_check_done = True
    try:
        inserted = _insert(demandes)
    except (InterfaceError, OperationalError):
        if not retry:
            raise
        connection.close()  # dead: the next statement opens a new connection
        inserted = _insert(demandes)
        inserted |= set(
            Demande.objects.filter(pk__in=[d.pk for d in demandes]).values_list("pk", flat=True)
        )
    found: list[Demande | None] = []
    for demande in demandes:
        if demande.pk in inserted:
            demande._state.adding = False
            demande._state.db = connection.alias
            found.append(demande)
        else:
            found.append(None)
    return found


_COLUMNS = (
    *("id", "piece", "duree", "voiture", "description", "statut", "motif", "cree_le"),
    "demandeur_id",  # the sender (issue 15: idempotency keys are the sender's)
    "id_requete",
)
_PG_TYPES = (
    *("uuid", "bigint", "bigint", "bigint", "text", "text", "text", "timestamptz"),
    *("bigint", "text"),
)


def _insert(demandes: list[Demande]) -> set[uuid.UUID]:
    """The ids inserted."""
    quote = connection.ops.quote_name
    table, pieces = quote(Demande._meta.db_table), quote(Piece._meta.db_table)
    columns = ", ".join(map(quote, _COLUMNS))
    fields = [Demande._meta.get_field(name) for name in _COLUMNS]

    def prep(demande: Demande) -> list:
        return [f.get_db_prep_save(getattr(demande, f.attname), connection) for f in fields]

    if connection.vendor == "postgresql" and len(demandes) > 1:
        arrays = [list(column) for column in zip(*map(prep, demandes), strict=True)]
        sql = (
            f"INSERT INTO {table} ({columns}) SELECT * FROM unnest("
            + ", ".join(f"%s::{t}[]" for t in _PG_TYPES)
            + f") AS t ({columns}) WHERE EXISTS (SELECT 1 FROM {pieces} p WHERE p.id = t.piece) "
            "ON CONFLICT (id) DO NOTHING RETURNING id"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, arrays)
            return {row[0] for row in cursor.fetchall()}
    sql = (
        f"INSERT INTO {table} ({columns}) SELECT {', '.join(['%s'] * len(_COLUMNS))} "
        f"WHERE EXISTS (SELECT 1 FROM {pieces} WHERE id = %s) ON CONFLICT (id) DO NOTHING"
    )
    inserted = set()
    with transaction.atomic(savepoint=False) if len(demandes) > 1 else _nothing():
        for demande in demandes:
            if _execute(sql, [*prep(demande), demande.piece]):
                inserted.add(demande.pk)
    return inserted


def _execute(sql: str, params: list) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount == 1


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
