"""Repair orders: their lines and money, their status through the day, and the stock they use.

Status (`Reparation.Statut`):

    demandee ─planifier─▶ planifiee ─demarrer─▶ en_cours ─terminer─▶ terminee ─facturer─▶ facturee
        │  ╲                  ▲
        │   ╲ (short of parts) │ (stock received, or planifier again)
        │    ▶ en_attente_pieces
        └───── annuler (from any state before terminee) ─────────────▶ annulee

Estimates (metier/services/devis.py): a line the customer declined stays on the order as
declined work, outside its totals and its stock; `demarrer` refuses (409) an order with an
estimate (or any order, with GARAGE_DEVIS_OBLIGATOIRE) while a line awaits the customer's
approval. Changing the lines withdraws the order's open estimate.

Stock: a planned repair *reserves* its parts (`Piece.reserve`); starting it *consumes*
them (`stock` and `reserve` both go down); cancelling gives back what it held. Rows of the
parts concerned are locked in id order, so concurrent writers queue instead of
overselling, and check constraints refuse a negative stock whatever happens.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F

from ..models import (
    Approbation,
    Devis,
    LigneMainOeuvre,
    LignePiece,
    Origine,
    Piece,
    Reparation,
    Transition,
    Voiture,
)
from .common import Conflict, save

S = Reparation.Statut
CENT = Decimal("0.01")

# States in which the order (its lines, part, hours) may still be changed.
EDITABLE = (S.DEMANDEE, S.EN_ATTENTE_PIECES, S.PLANIFIEE)


@dataclass(frozen=True)
class Action:
    name: str
    sources: tuple[str, ...]
    target: str

    @property
    def permission(self) -> str:
        """The Django permission a user needs for this transition."""
        return f"metier.{self.name}_reparation"


ACTIONS = {
    a.name: a
    for a in (
        Action("planifier", (S.DEMANDEE, S.EN_ATTENTE_PIECES), S.PLANIFIEE),
        Action("demarrer", (S.PLANIFIEE,), S.EN_COURS),
        Action("terminer", (S.EN_COURS,), S.TERMINEE),
        Action("facturer", (S.TERMINEE,), S.FACTUREE),
        Action("annuler", (S.DEMANDEE, S.EN_ATTENTE_PIECES, S.PLANIFIEE, S.EN_COURS), S.ANNULEE),
    )
}


# --- money ----------------------------------------------------------------------------
def cents(amount: Decimal) -> Decimal:
    """Commercial rounding to the cent (half up), applied per line and to the tax."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Totals:
    total_ht: Decimal
    montant_tva: Decimal
    total_ttc: Decimal


def totals(line_amounts: Iterable[Decimal], taux_tva: Decimal) -> Totals:
    ht = sum((cents(a) for a in line_amounts), Decimal("0.00"))
    tva = cents(ht * taux_tva)
    return Totals(ht, tva, ht + tva)


def _counted(lines: Iterable[Any]) -> list[Any]:
    """The lines the order does: declined work is kept on it, but neither priced nor fitted."""
    return [line for line in lines if line.approbation != Approbation.REFUSEE]


def _recompute(reparation: Reparation) -> None:
    amounts = [line.montant for line in _counted(reparation.lignes_pieces.all())]
    amounts += [line.montant for line in _counted(reparation.lignes_main_oeuvre.all())]
    t = totals(amounts, reparation.taux_tva)
    reparation.total_ht, reparation.montant_tva, reparation.total_ttc = (
        t.total_ht,
        t.montant_tva,
        t.total_ttc,
    )
    reparation.save(update_fields=["total_ht", "montant_tva", "total_ttc"])


# --- locking and stock ------------------------------------------------------------------
def _lock(reparation: Reparation) -> Reparation:
    return Reparation.objects.select_for_update().get(pk=reparation.pk)


def lock_pieces(ids: Iterable[int]) -> dict[int, Piece]:
    """Locks part rows in id order (one global order: no deadlock between writers)."""
    return {
        p.pk: p for p in Piece.objects.select_for_update().filter(pk__in=set(ids)).order_by("pk")
    }


def needs(reparation: Reparation) -> dict[int, int]:
    """Quantity of each part the order needs."""
    wanted: dict[int, int] = defaultdict(int)
    for line in _counted(reparation.lignes_pieces.all()):
        wanted[line.piece_id] += line.quantite
    return dict(wanted)


def shortages(wanted: dict[int, int], pieces: dict[int, Piece]) -> dict[int, int]:
    """Part id → how many are missing to cover `wanted` from what is available."""
    return {
        pid: qty - pieces[pid].disponible
        for pid, qty in wanted.items()
        if pieces[pid].disponible < qty
    }


def _move_reserve(pieces: dict[int, Piece], wanted: dict[int, int], sign: int) -> None:
    for pid, qty in wanted.items():
        Piece.objects.filter(pk=pid).update(reserve=F("reserve") + sign * qty)
        pieces[pid].reserve += sign * qty


def _record(reparation: Reparation, vers: str, par: Any = None, motif: str = "") -> None:
    Transition.objects.create(
        reparation=reparation, de=reparation.statut, vers=vers, par=par, motif=motif[:500]
    )
    reparation.statut = vers
    reparation.save(update_fields=["statut"])


def _plan(
    reparation: Reparation, par: Any, pieces: dict[int, Piece] | None = None
) -> dict[int, int]:
    """Reserves every part of the order, or sets it waiting for parts (reserving none).

    Returns what is missing (empty when planned). A transition is recorded only when the
    status changes.
    """
    wanted = needs(reparation)
    pieces = pieces if pieces is not None else lock_pieces(wanted)
    short = shortages(wanted, pieces)
    if short:
        if reparation.statut != S.EN_ATTENTE_PIECES:
            _record(reparation, S.EN_ATTENTE_PIECES, par, describe(short))
        return short
    _move_reserve(pieces, wanted, +1)
    if reparation.statut != S.PLANIFIEE:
        _record(reparation, S.PLANIFIEE, par)
    return {}


def describe(short: dict[int, int]) -> str:
    return "waiting for parts: " + ", ".join(
        f"piece {pid} short by {n}" for pid, n in sorted(short.items())
    )


def _release(reparation: Reparation) -> None:
    """Gives back what the order holds: its reservation if planned."""
    if reparation.statut == S.PLANIFIEE:
        wanted = needs(reparation)
        _move_reserve(lock_pieces(wanted), wanted, -1)


def _change_lines(
    reparation: Reparation,
    par: Any,
    change: Any,
    *,
    parts: bool = True,
    new_pieces: Iterable[int] = (),
    lines_changed: bool = True,
) -> Any:
    """Runs `change` on an editable order, then keeps its totals and reservation true.

    The parts it holds and the parts it is about to hold are locked first, together and in
    id order, as every other writer locks them: no deadlock with a worker or a delivery.
    When the lines change, an estimate still waiting for the customer no longer says what
    the order is: it is withdrawn (its link stops working) and a new one must be sent.
    """
    reparation = _editable(reparation)
    if parts:
        lock_pieces({*needs(reparation), *new_pieces})
        _release(reparation)
    result = change(reparation)
    if lines_changed:
        withdraw_open_devis(reparation)
    _recompute(reparation)
    if parts and reparation.statut in (S.PLANIFIEE, S.EN_ATTENTE_PIECES):
        _plan(reparation, par)
    return result


def withdraw_open_devis(reparation: Reparation) -> int:
    """Withdraws the order's estimates still waiting for an answer (their links stop working)."""
    return Devis.objects.filter(reparation=reparation, statut__in=Devis.OUVERTS).update(
        statut=Devis.Statut.ANNULE, jeton_hash=""
    )


def lines_awaiting_approval(reparation: Reparation) -> list[str]:
    """The lines the customer has yet to approve, when the order needs their approval: it has
    an estimate (not withdrawn), or every order does (GARAGE_DEVIS_OBLIGATOIRE). An order
    that never had one (the seed's path) needs none, unless the setting says so."""
    required = (
        settings.GARAGE_DEVIS_OBLIGATOIRE
        or reparation.devis.exclude(statut=Devis.Statut.ANNULE).exists()
    )
    if not required:
        return []
    waiting = [
        f"part line {line.pk} (piece {line.piece_id})"
        for line in reparation.lignes_pieces.filter(approbation=Approbation.EN_ATTENTE)
    ]
    waiting += [
        f"labour line {line.pk} ({line.description or 'main d oeuvre'})"
        for line in reparation.lignes_main_oeuvre.filter(approbation=Approbation.EN_ATTENTE)
    ]
    return waiting


def _check_approved(reparation: Reparation) -> None:
    waiting = lines_awaiting_approval(reparation)
    if waiting:
        raise Conflict(
            "cannot start: the customer has not approved "
            + ", ".join(waiting)
            + " (send them an estimate and wait for their answer)"
        )
    if not (
        _counted(reparation.lignes_pieces.all()) or _counted(reparation.lignes_main_oeuvre.all())
    ):
        raise Conflict("cannot start: the customer declined every line of the order")


def _editable(reparation: Reparation) -> Reparation:
    reparation = _lock(reparation)
    if reparation.statut not in EDITABLE:
        raise Conflict(f"a repair that is {reparation.statut} can no longer be changed")
    return reparation


# --- orders -----------------------------------------------------------------------------
def _initial_lines(reparation: Reparation) -> None:
    piece = reparation.piece
    LignePiece.objects.create(
        reparation=reparation, piece=piece, quantite=1, prix_unitaire=piece.prix, initiale=True
    )
    LigneMainOeuvre.objects.create(
        reparation=reparation,
        heures=Decimal(reparation.duree),
        taux_horaire=settings.GARAGE_TAUX_HORAIRE,
        description="main d'œuvre",
        initiale=True,
    )


@transaction.atomic
def create_reparation(
    *,
    piece: Piece,
    duree: int,
    voiture: Voiture | None = None,
    description: str = "",
    par: Any = None,
) -> Reparation:
    """A repair order from the seed's two fields: one part line and one labour line."""
    reparation = save(
        Reparation(
            piece=piece,
            duree=duree,
            voiture=voiture,
            description=description,
            taux_tva=settings.GARAGE_TAUX_TVA,
        )
    )
    Transition.objects.create(reparation=reparation, de="", vers=S.DEMANDEE, par=par)
    _initial_lines(reparation)
    _recompute(reparation)
    return reparation


@transaction.atomic
def update_reparation(*, reparation: Reparation, par: Any = None, **fields: Any) -> Reparation:
    seed_changed = any(
        name in fields and fields[name] != getattr(reparation, name) for name in ("piece", "duree")
    )

    def change(locked: Reparation) -> Reparation:
        for name, value in fields.items():
            setattr(locked, name, value)
        save(locked)
        if seed_changed:
            # The lines made from the seed's fields follow them; lines added by staff stay.
            locked.lignes_pieces.filter(initiale=True).delete()
            locked.lignes_main_oeuvre.filter(initiale=True).delete()
            _initial_lines(locked)
        return locked

    new_piece = fields.get("piece")
    return _change_lines(
        reparation,
        par,
        change,
        parts=seed_changed,
        new_pieces=[new_piece.pk] if new_piece is not None else [],
        lines_changed=seed_changed,
    )


@transaction.atomic
def delete_reparation(*, reparation: Reparation) -> None:
    reparation = _lock(reparation)
    if reparation.statut not in (*EDITABLE, S.ANNULEE):
        raise Conflict(f"a repair that is {reparation.statut} is kept: cancel it instead")
    _release(reparation)
    reparation.delete()


@transaction.atomic
def transition(*, reparation: Reparation, action: str, par: Any = None) -> Reparation:
    """Moves a repair through its lifecycle; Conflict (409) says why when it may not."""
    act = ACTIONS.get(action)
    if act is None:
        raise Conflict(f"unknown action {action!r}")
    reparation = _lock(reparation)
    if reparation.statut not in act.sources:
        allowed = ", ".join(act.sources)
        raise Conflict(
            f"cannot {action} a repair that is {reparation.statut} (only from {allowed})"
        )
    if action == "planifier":
        before = reparation.statut
        short = _plan(reparation, par)
        if short and before == S.EN_ATTENTE_PIECES:
            raise Conflict(f"still {describe(short)}")
    elif action == "demarrer":
        _check_approved(reparation)
        wanted = needs(reparation)
        lock_pieces(wanted)
        for pid, qty in wanted.items():
            # Reserved when planned: on the shelf now, taken from it.
            Piece.objects.filter(pk=pid).update(stock=F("stock") - qty, reserve=F("reserve") - qty)
        _record(reparation, act.target, par)
    elif action == "annuler":
        if reparation.statut == S.EN_COURS:
            # Work stopped before the end: the parts taken go back on the shelf.
            wanted = needs(reparation)
            lock_pieces(wanted)
            for pid, qty in wanted.items():
                Piece.objects.filter(pk=pid).update(stock=F("stock") + qty)
        else:
            _release(reparation)
        withdraw_open_devis(reparation)
        _record(reparation, act.target, par)
    else:
        if action == "terminer":
            withdraw_open_devis(reparation)  # a supplementary estimate no longer applies
        _record(reparation, act.target, par)
    return reparation


# --- lines ------------------------------------------------------------------------------
@transaction.atomic
def add_ligne_piece(
    *, reparation: Reparation, piece: Piece, quantite: int = 1, par: Any = None
) -> LignePiece:
    return _change_lines(
        reparation,
        par,
        lambda r: save(
            LignePiece(reparation=r, piece=piece, quantite=quantite, prix_unitaire=piece.prix)
        ),
        new_pieces=[piece.pk],
    )


@transaction.atomic
def update_ligne_piece(*, ligne: LignePiece, par: Any = None, **fields: Any) -> LignePiece:
    fields.pop("reparation", None)  # a line stays on its order
    fields.pop("prix_unitaire", None)  # the price is the one copied when the line was made

    def change(_r: Reparation) -> LignePiece:
        for name, value in fields.items():
            setattr(ligne, name, value)
        if "piece" in fields or ligne.origine == Origine.REEMPLOI:
            ligne.prix_unitaire = ligne.piece.prix
        # The customer approved (or declined) another line: they are asked again.
        ligne.approbation, ligne.origine = Approbation.EN_ATTENTE, Origine.NEUVE
        return save(ligne)

    new_piece = fields.get("piece")
    return _change_lines(
        ligne.reparation, par, change, new_pieces=[new_piece.pk] if new_piece else []
    )


@transaction.atomic
def delete_ligne_piece(*, ligne: LignePiece, par: Any = None) -> None:
    _change_lines(ligne.reparation, par, lambda _r: ligne.delete())


@transaction.atomic
def add_ligne_main_oeuvre(
    *, reparation: Reparation, heures: Decimal, description: str = "", par: Any = None
) -> LigneMainOeuvre:
    return _change_lines(
        reparation,
        par,
        lambda r: save(
            LigneMainOeuvre(
                reparation=r,
                heures=heures,
                description=description,
                taux_horaire=settings.GARAGE_TAUX_HORAIRE,
            )
        ),
        parts=False,
    )


@transaction.atomic
def update_ligne_main_oeuvre(
    *, ligne: LigneMainOeuvre, par: Any = None, **fields: Any
) -> LigneMainOeuvre:
    fields.pop("reparation", None)
    fields.pop("taux_horaire", None)

    def change(_r: Reparation) -> LigneMainOeuvre:
        for name, value in fields.items():
            setattr(ligne, name, value)
        ligne.approbation = Approbation.EN_ATTENTE
        return save(ligne)

    return _change_lines(ligne.reparation, par, change, parts=False)


@transaction.atomic
def delete_ligne_main_oeuvre(*, ligne: LigneMainOeuvre, par: Any = None) -> None:
    _change_lines(ligne.reparation, par, lambda _r: ligne.delete(), parts=False)


# --- stock ------------------------------------------------------------------------------
@transaction.atomic
def receive_stock(*, piece: Piece, quantite: int, par: Any = None) -> Piece:
    """Parts delivered: on the shelf, then repairs waiting for them are planned, oldest first."""
    if (
        isinstance(quantite, bool)
        or not isinstance(quantite, int)
        or not 1 <= quantite <= 1_000_000
    ):
        raise ValidationError({"quantite": ["must be a whole number from 1 to 1000000"]})
    waiting_ids = set(
        LignePiece.objects.filter(piece=piece, reparation__statut=S.EN_ATTENTE_PIECES).values_list(
            "reparation_id", flat=True
        )
    )
    waiting = list(
        Reparation.objects.select_for_update()
        .filter(pk__in=waiting_ids, statut=S.EN_ATTENTE_PIECES)  # still waiting once locked
        .order_by("id")
    )
    # Every part those repairs need, locked once and in order, with the received one.
    wanted_ids = {piece.pk} | set(
        LignePiece.objects.filter(reparation__in=waiting).values_list("piece_id", flat=True)
    )
    pieces = lock_pieces(wanted_ids)
    Piece.objects.filter(pk=piece.pk).update(stock=F("stock") + quantite)
    pieces[piece.pk].stock += quantite
    for reparation in waiting:
        _plan(reparation, par, pieces)
    return pieces[piece.pk]
