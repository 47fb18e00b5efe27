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
from django.utils import timezone

from .. import evenements, limits
from ..models import (
    Approbation,
    Devis,
    LigneMainOeuvre,
    LignePiece,
    Origine,
    Piece,
    Rappel,
    Reparation,
    Transition,
    Voiture,
)
from .common import Conflict, delete, save

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


def _unreserve(wanted: dict[int, int]) -> None:
    for pid, qty in wanted.items():
        Piece.objects.filter(pk=pid).update(reserve=F("reserve") - qty)


def reserve(
    wanted_by_order: list[dict[int, int]], pieces: dict[int, Piece]
) -> list[dict[int, int]]:
    """Plans orders against the locked `pieces`, one after the other: each gets every part it
    needs reserved, or none. Returns, for each order, what is missing (empty: reserved).

    Set-based: one UPDATE per part concerned, however many orders (the worker plans
    hundreds at once); `pieces` is kept up to date in memory.
    """
    shorts: list[dict[int, int]] = []
    reserved: dict[int, int] = defaultdict(int)
    for wanted in wanted_by_order:
        short = shortages(wanted, pieces)
        if not short:
            for pid, qty in wanted.items():
                pieces[pid].reserve += qty
                reserved[pid] += qty
        shorts.append(short)
    for pid, qty in sorted(reserved.items()):
        Piece.objects.filter(pk=pid).update(reserve=F("reserve") + qty)
    _below_threshold(pieces, reserved)
    return shorts


def _below_threshold(pieces: dict[int, Piece], reserved: dict[int, int]) -> None:
    """`piece.sous_seuil` for each part whose available quantity just fell to or below its
    threshold (it was above before these reservations): once per crossing, not per order."""
    crossed = [
        pieces[pid]
        for pid, qty in sorted(reserved.items())
        if pieces[pid].disponible <= pieces[pid].seuil < pieces[pid].disponible + qty
    ]
    evenements.enregistrer_tous(
        (
            f"piece/{p.pk}",
            "piece.sous_seuil",
            {"piece": p.pk, "nom": p.nom, "disponible": p.disponible, "seuil": p.seuil},
        )
        for p in crossed
    )


def status_event(
    reparation: Reparation, de: str, vers: str, motif: str = "", client_id: int | None = None
) -> tuple[str, str, dict[str, Any]]:
    """The event of a status change (`reparation.<vers>`): (sujet, type, données)."""
    return (
        f"reparation/{reparation.pk}",
        f"reparation.{vers}",
        {
            "reparation": reparation.pk,
            "de": de or None,
            "vers": vers,
            "motif": motif[:500],
            "voiture": reparation.voiture_id,
            "client": client_id,
            "total_ttc": reparation.total_ttc,
        },
    )


def _client_id(reparation: Reparation) -> int | None:
    if reparation.voiture_id is None:
        return None
    return Voiture.objects.filter(pk=reparation.voiture_id).values_list("client_id", flat=True)[0]


def _record(reparation: Reparation, vers: str, par: Any = None, motif: str = "") -> None:
    de = reparation.statut
    Transition.objects.create(reparation=reparation, de=de, vers=vers, par=par, motif=motif[:500])
    reparation.statut = vers
    reparation.save(update_fields=["statut"])
    sujet, type_, donnees = status_event(reparation, de, vers, motif, _client_id(reparation))
    evenements.enregistrer(sujet=sujet, type_=type_, donnees=donnees)


def _plan(
    reparation: Reparation, par: Any, pieces: dict[int, Piece] | None = None
) -> dict[int, int]:
    """Reserves every part of the order, or sets it waiting for parts (reserving none).

    Returns what is missing (empty when planned). A transition is recorded only when the
    status changes.
    """
    wanted = needs(reparation)
    pieces = pieces if pieces is not None else lock_pieces(wanted)
    [short] = reserve([wanted], pieces)
    statut, motif = planned_status(short)
    if reparation.statut != statut:
        _record(reparation, statut, par, motif)
    return short


def planned_status(short: dict[int, int], motif: str = "") -> tuple[str, str]:
    """The status a planned order takes, and the reason its transition records."""
    if short:
        return S.EN_ATTENTE_PIECES, describe(short)
    return S.PLANIFIEE, motif


def describe(short: dict[int, int]) -> str:
    return "waiting for parts: " + ", ".join(
        f"piece {pid} short by {n}" for pid, n in sorted(short.items())
    )


def _release(reparation: Reparation) -> None:
    """Gives back what the order holds: its reservation if planned."""
    if reparation.statut == S.PLANIFIEE:
        wanted = needs(reparation)
        lock_pieces(wanted)
        _unreserve(wanted)


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
def _initial_lines(reparation: Reparation, piece: Piece) -> tuple[LignePiece, LigneMainOeuvre]:
    """The lines an order is made with, from the seed's two fields: the part (quantity 1, its
    price copied) and `duree` hours of labour (the hourly rate copied)."""
    return (
        LignePiece(
            reparation=reparation,
            piece=piece,
            quantite=1,
            prix_unitaire=piece.prix,
            initiale=True,
        ),
        LigneMainOeuvre(
            reparation=reparation,
            heures=Decimal(reparation.duree),
            taux_horaire=settings.GARAGE_TAUX_HORAIRE,
            description="main d'œuvre",
            initiale=True,
        ),
    )


@dataclass(frozen=True)
class NouvelOrdre:
    """What a new repair order is made from: the seed's part and hours; optionally the car,
    the customer's complaint, the request it answers and the reason its planning records."""

    piece: Piece
    duree: int
    voiture_id: int | None = None
    description: str = ""
    demande_id: Any = None
    motif: str = ""


def make_orders(
    *,
    ordres: list[NouvelOrdre],
    pieces: dict[int, Piece] | None = None,
    par: Any = None,
    validate: bool = False,
) -> list[Reparation]:
    """Makes repair orders, one or a whole batch: the only place an order is made.

    Each order gets its initial lines, its totals and its first transition. Given the locked
    `pieces`, the orders are also planned, in turn (`reserve`): `planifiee` with its part
    reserved, or `en_attente_pieces`; without, they start `demandee`.

    Set-based: a handful of statements whatever the number of orders (the worker's drain
    speed depends on it). It runs in the caller's transaction; `validate` runs each model's
    full validation first (the API's path; the worker's requests are checked already).
    """
    if not ordres:
        return []
    taux_tva = settings.GARAGE_TAUX_TVA
    if pieces is None:
        plans = [(S.DEMANDEE, "")] * len(ordres)
    else:
        shorts = reserve([{o.piece.pk: 1} for o in ordres], pieces)
        plans = [planned_status(s, o.motif) for s, o in zip(shorts, ordres, strict=True)]
    reparations, lines = [], []
    for o, (statut, _motif) in zip(ordres, plans, strict=True):
        rep = Reparation(
            piece=o.piece,
            duree=o.duree,
            voiture_id=o.voiture_id,
            description=o.description,
            demande_id=o.demande_id,
            statut=statut,
            taux_tva=taux_tva,
        )
        pair = _initial_lines(rep, o.piece)
        t = totals([line.montant for line in pair], taux_tva)
        rep.total_ht, rep.montant_tva, rep.total_ttc = t.total_ht, t.montant_tva, t.total_ttc
        if validate:
            rep.full_clean()
        reparations.append(rep)
        lines.append(pair)
    Reparation.objects.bulk_create(reparations)
    # The lines were made before their order had a primary key: point them at it now.
    for rep, pair in zip(reparations, lines, strict=True):
        for line in pair:
            line.reparation = rep
    LignePiece.objects.bulk_create(lp for lp, _ in lines)
    LigneMainOeuvre.objects.bulk_create(lmo for _, lmo in lines)
    now = timezone.now()
    Transition.objects.bulk_create(
        Transition(reparation=rep, de="", vers=rep.statut, par=par, le=now, motif=motif[:500])
        for rep, (_statut, motif) in zip(reparations, plans, strict=True)
    )
    # Their events (`reparation.<first status>`): one bulk INSERT for the batch, one query
    # for the customers of the cars concerned.
    car_ids = {rep.voiture_id for rep in reparations if rep.voiture_id is not None}
    clients = (
        dict(Voiture.objects.filter(pk__in=car_ids).values_list("pk", "client_id"))
        if car_ids
        else {}
    )
    evenements.enregistrer_nouveaux(
        status_event(rep, "", rep.statut, motif, clients.get(rep.voiture_id))
        for rep, (_statut, motif) in zip(reparations, plans, strict=True)
    )
    return reparations


@transaction.atomic
def create_reparation(
    *,
    piece: Piece,
    duree: int,
    voiture: Voiture | None = None,
    description: str = "",
    nature: str = "",
    par: Any = None,
) -> Reparation:
    """A repair order from the seed's two fields: one part line and one labour line. It
    starts `demandee`; `planifier` reserves its parts. `nature`: the kind of work, for the
    car's reminders."""
    ordre = NouvelOrdre(
        piece=piece,
        duree=duree,
        voiture_id=voiture.pk if voiture is not None else None,
        description=description,
    )
    [reparation] = make_orders(ordres=[ordre], par=par, validate=True)
    if nature:
        reparation.nature = nature
        save(reparation)
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
            part_line, labour_line = _initial_lines(locked, locked.piece)
            part_line.save()
            labour_line.save()
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
    delete(reparation)  # an order holding a deposit (Paiement) is kept: 409


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
            reset_rappels(reparation)
        _record(reparation, act.target, par)
    return reparation


def reset_rappels(reparation: Reparation) -> int:
    """A finished repair of a reminder's kind starts it again from today and from the car's
    mileage recorded at this repair."""
    if not reparation.nature or reparation.voiture_id is None:
        return 0
    km = Voiture.objects.filter(pk=reparation.voiture_id).values_list("kilometrage", flat=True)[0]
    return Rappel.objects.filter(voiture_id=reparation.voiture_id, nature=reparation.nature).update(
        dernier_km=km, derniere_date=timezone.localdate(), du_le=None
    )


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
        or not 1 <= quantite <= limits.QUANTITE_STOCK_MAX
    ):
        raise ValidationError(
            {"quantite": [f"must be a whole number from 1 to {limits.QUANTITE_STOCK_MAX}"]}
        )
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
    room = limits.STOCK_MAX - pieces[piece.pk].stock  # read under the lock
    if quantite > room:
        raise ValidationError(
            {"quantite": [f"a part's stock is at most {limits.STOCK_MAX}: {room} more at most"]}
        )
    Piece.objects.filter(pk=piece.pk).update(stock=F("stock") + quantite)
    pieces[piece.pk].stock += quantite
    planned = [r.pk for r in waiting if not _plan(r, par, pieces)]
    received = pieces[piece.pk]
    evenements.enregistrer(
        sujet=f"piece/{piece.pk}",
        type_="piece.recue",
        donnees={
            "piece": piece.pk,
            "nom": received.nom,
            "quantite": quantite,
            "stock": received.stock,
            "reparations_planifiees": planned,
        },
    )
    return received
