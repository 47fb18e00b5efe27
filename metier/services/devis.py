"""Estimates (`Devis`): made from an order, sent as a link, answered line by line.

    brouillon ─envoyer─▶ envoye ─customer answers─▶ accepte | partiellement_accepte | refuse
        │                  │  (envoyer again: a new link, the old one stops working)
        └──────────────────┴─ annuler, or the order's lines change ─▶ annule
    (an open estimate past its validity date shows as `expire`; its link no longer works)

- A first estimate is made from the order's lines (prices copied) while the work has not
  started. A *supplementary* one, once the work is in progress, proposes new lines; those
  the customer accepts join the order (their parts taken from the shelf at once, the work
  being under way), those declined join it as declined work.
- The link carries a value signed with the project's secret key and a salt used for nothing
  else (single-purpose), holding the estimate's id and a random token of which only the
  SHA-256 is stored: it cannot be guessed or altered, works until the validity date, once.
- The answer: every line accepted or declined, the PIEC choice (reused or new part) for
  each accepted part line that offers a reused part, the customer's typed name; recorded
  with the time, address, user agent, and the SHA-256 of the document as shown.
- Declined lines stay on the order (`approbation = refusee`), outside its totals and stock.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .. import evenements
from ..chiffrement import DEVIS_LIEN, chiffrer
from ..models import (
    Approbation,
    CompteurDevis,
    Devis,
    DevisLigne,
    LigneMainOeuvre,
    LignePiece,
    Origine,
    Piece,
    Reparation,
)
from .common import Conflict
from .reparations import EDITABLE, S, _lock, _plan, _recompute, _release, cents, lock_pieces
from .reparations import totals as compute_totals

# Single purpose: a value signed with this salt is an estimate-approval link, nothing else.
SALT = "garage.devis.approbation"
SIGNATURE_MAX = 100

D = Devis.Statut
DL = DevisLigne


class LienInvalide(Exception):
    """The approval link cannot be used. `code`: `altere` (altered or mistyped), `inconnu`
    (no such estimate), `repondu` (already answered), `retire` (withdrawn), `remplace` (a newer
    link was sent), `expire` (past its validity date)."""

    def __init__(self, code: str, raison: str, devis: Devis | None = None) -> None:
        super().__init__(raison)
        self.code = code
        self.raison = raison
        self.devis = devis


def numero_devis(annee: int) -> str:
    """The next estimate number of the year, e.g. `D2026-000001`.

    Estimates need no gapless numbering (invoices do): a per-year counter row, locked for the
    transaction. The one function to change to use a shared numbering helper.
    """
    CompteurDevis.objects.get_or_create(annee=annee)
    compteur = CompteurDevis.objects.select_for_update().get(annee=annee)
    compteur.dernier = F("dernier") + 1
    compteur.save(update_fields=["dernier"])
    compteur.refresh_from_db(fields=["dernier"])
    return f"D{annee}-{compteur.dernier:06d}"


@dataclass(frozen=True)
class LigneProposee:
    """A line of a supplementary estimate: a part and a quantity, or hours of labour."""

    piece: Piece | None = None
    quantite: int = 1
    heures: Decimal | None = None
    description: str = ""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- making and sending -----------------------------------------------------------------
@transaction.atomic
def create_devis(
    *,
    reparation: Reparation,
    lignes: Sequence[LigneProposee] | None = None,
    validite_jours: int | None = None,
    par: Any = None,
) -> Devis:
    """An estimate for the order: from its lines before the work starts (replacing an earlier
    estimate still open), or a supplementary one proposing `lignes` while it is in progress."""
    reparation = _lock(reparation)
    jours = settings.GARAGE_DEVIS_VALIDITE_JOURS if validite_jours is None else validite_jours
    if not 1 <= jours <= 365:
        raise ValidationError({"validite_jours": ["must be from 1 to 365 days"]})
    if reparation.statut in EDITABLE:
        if lignes:
            raise ValidationError(
                {
                    "lignes": [
                        "before the work starts an estimate is made from the order's lines: "
                        "add the lines to the order instead"
                    ]
                }
            )
        complementaire = False
    elif reparation.statut == S.EN_COURS:
        if not lignes:
            raise ValidationError(
                {"lignes": ["the work has started: a supplementary estimate proposes new lines"]}
            )
        complementaire = True
        short = _short(lignes)
        if short:
            raise Conflict(short)
    else:
        raise Conflict(f"cannot make an estimate for a repair that is {reparation.statut}")

    today = timezone.localdate()
    devis = Devis.objects.create(
        numero=numero_devis(today.year),
        reparation=reparation,
        complementaire=complementaire,
        valide_jusqu_au=today + timedelta(days=jours),
        taux_tva=reparation.taux_tva,
        cree_par=par,
    )
    rows = _lines_of_proposal(devis, lignes) if complementaire else _lines_of_order(devis)
    if not rows:
        raise ValidationError({"reparation": ["the order has no line to put in an estimate"]})
    DevisLigne.objects.bulk_create(rows)
    if not complementaire:
        # One open estimate per order: the new one replaces any earlier one still open.
        Devis.objects.filter(reparation=reparation, statut__in=Devis.OUVERTS).exclude(
            pk=devis.pk
        ).exclude(complementaire=True).update(statut=D.ANNULE, jeton_hash="")
    t = compute_totals([row.montant for row in rows], devis.taux_tva)
    devis.total_ht, devis.montant_tva, devis.total_ttc = t.total_ht, t.montant_tva, t.total_ttc
    devis.save(update_fields=["total_ht", "montant_tva", "total_ttc"])
    return devis


def _lines_of_order(devis: Devis) -> list[DevisLigne]:
    rows = []
    for line in devis.reparation.lignes_pieces.select_related("piece").order_by("id"):
        piece = line.piece
        # A line fitted reused was priced so; the estimate offers both prices again.
        prix = line.prix_unitaire if line.origine == Origine.NEUVE else piece.prix
        rows.append(
            DevisLigne(
                devis=devis,
                nature=DL.Nature.PIECE,
                ligne_piece=line,
                piece=piece,
                designation=piece.nom,
                quantite=Decimal(line.quantite),
                prix_unitaire=prix,
                montant=cents(line.quantite * prix),
                prix_reemploi=piece.prix_reemploi,
            )
        )
    for line in devis.reparation.lignes_main_oeuvre.order_by("id"):
        rows.append(
            DevisLigne(
                devis=devis,
                nature=DL.Nature.MAIN_OEUVRE,
                ligne_main_oeuvre=line,
                designation=line.description or "main d'œuvre",
                quantite=line.heures,
                prix_unitaire=line.taux_horaire,
                montant=cents(line.montant),
            )
        )
    return rows


def _lines_of_proposal(devis: Devis, lignes: Sequence[LigneProposee]) -> list[DevisLigne]:
    rows = []
    for proposed in lignes:
        if proposed.piece is not None:
            piece = proposed.piece
            rows.append(
                DevisLigne(
                    devis=devis,
                    nature=DL.Nature.PIECE,
                    piece=piece,
                    designation=piece.nom,
                    quantite=Decimal(proposed.quantite),
                    prix_unitaire=piece.prix,
                    montant=cents(proposed.quantite * piece.prix),
                    prix_reemploi=piece.prix_reemploi,
                )
            )
        else:
            rate = settings.GARAGE_TAUX_HORAIRE
            rows.append(
                DevisLigne(
                    devis=devis,
                    nature=DL.Nature.MAIN_OEUVRE,
                    designation=proposed.description or "main d'œuvre",
                    quantite=proposed.heures,
                    prix_unitaire=rate,
                    montant=cents(proposed.heures * rate),
                )
            )
    return rows


def _short(lignes: Sequence[Any]) -> str:
    """Why the parts of these lines cannot be taken from the shelf now ('' when they can)."""
    wanted: dict[int, int] = defaultdict(int)
    for line in lignes:
        piece_id = line.piece_id if isinstance(line, DevisLigne) else getattr(line.piece, "pk", 0)
        if piece_id:
            wanted[piece_id] += int(line.quantite)
    pieces = lock_pieces(wanted)
    short = {
        pid: n - pieces[pid].disponible for pid, n in wanted.items() if pieces[pid].disponible < n
    }
    if not short:
        return ""
    return "not enough in stock for the work in progress: " + ", ".join(
        f"piece {pid} short by {n}" for pid, n in sorted(short.items())
    )


@transaction.atomic
def envoyer_devis(*, devis: Devis, par: Any = None) -> tuple[Devis, str]:
    """Makes the estimate's approval link; returns the estimate and the link's signed value.

    Sending again makes a new link and revokes the previous one. The value is shown once:
    only the SHA-256 of its random part is kept.
    """
    devis = Devis.objects.select_for_update().get(pk=devis.pk)
    if devis.statut not in Devis.OUVERTS:
        raise Conflict(f"an estimate that is {devis.statut} cannot be sent")
    if devis.est_expire:
        raise Conflict(f"this estimate expired on {devis.valide_jusqu_au}: make a new one")
    token = secrets.token_urlsafe(32)
    devis.jeton_hash = _hash(token)
    devis.statut = D.ENVOYE
    devis.envoye_le = timezone.now()
    devis.envoye_par = par
    devis.save(update_fields=["jeton_hash", "statut", "envoye_le", "envoye_par"])
    jeton = signing.dumps({"d": devis.pk, "t": token}, salt=SALT)
    # Encrypted: every subscriber (webhooks included) gets the event, only the notifier
    # (which holds the secret key) may read the customer's link.
    _evenement(devis, "devis.envoye", jeton_chiffre=chiffrer(jeton, DEVIS_LIEN))
    return devis, jeton


def _evenement(devis: Devis, type_: str, **extra: Any) -> None:
    """`devis.envoye` carries the link's signed value, encrypted (`jeton_chiffre`): the
    notifier sends the customer their link, which is shown nowhere else (only its hash is
    stored), and no other subscriber can read it."""
    reparation = devis.reparation
    client_id = reparation.voiture.client_id if reparation.voiture_id else None
    evenements.enregistrer(
        sujet=f"devis/{devis.pk}",
        type_=type_,
        donnees={
            "devis": devis.pk,
            "numero": devis.numero,
            "reparation": reparation.pk,
            "client": client_id,
            "complementaire": devis.complementaire,
            "statut": devis.statut,
            "total_ttc": devis.total_ttc,
            "valide_jusqu_au": devis.valide_jusqu_au,
            **extra,
        },
    )


@transaction.atomic
def annuler_devis(*, devis: Devis, par: Any = None) -> Devis:
    """Withdraws an estimate that has not been answered: its link stops working."""
    devis = Devis.objects.select_for_update().get(pk=devis.pk)
    if devis.statut not in Devis.OUVERTS:
        raise Conflict(f"an estimate that is {devis.statut} cannot be withdrawn")
    devis.statut, devis.jeton_hash = D.ANNULE, ""
    devis.save(update_fields=["statut", "jeton_hash"])
    return devis


# --- the customer's link ------------------------------------------------------------------
def devis_du_lien(jeton: str) -> Devis:
    """The estimate a link opens, or LienInvalide saying why it cannot be used."""
    try:
        data = signing.loads(jeton, salt=SALT)
        devis_id, token = int(data["d"]), str(data["t"])
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise LienInvalide("altere", "this link is not valid: altered or mistyped") from exc
    devis = Devis.objects.select_related("reparation__voiture__client").filter(pk=devis_id).first()
    if devis is None:
        raise LienInvalide("inconnu", "this estimate no longer exists")
    if not devis.jeton_hash or not hmac.compare_digest(devis.jeton_hash, _hash(token)):
        if devis.repondu_le is not None:
            when = timezone.localtime(devis.repondu_le).strftime("%d/%m/%Y %H:%M")
            raise LienInvalide("repondu", f"this estimate was already answered, on {when}", devis)
        if devis.statut == D.ANNULE:
            raise LienInvalide("retire", "this estimate was withdrawn by the garage", devis)
        raise LienInvalide("remplace", "this link was replaced by a newer one", devis)
    if devis.est_expire:
        raise LienInvalide(
            "expire", f"this estimate expired on {devis.valide_jusqu_au:%d/%m/%Y}", devis
        )
    return devis


@dataclass(frozen=True)
class Reponse:
    """What the customer sent: per estimate line `acceptee`/`refusee`, and `neuve`/`reemploi`
    for the lines offering a reused part, with their typed name."""

    decisions: Mapping[str, str]
    choix_piec: Mapping[str, str]
    signature: str


def validate_reponse(devis: Devis, reponse: Reponse) -> dict[str, list[str]]:
    """Field → reasons; empty when the answer is complete. Fields are named as the page names
    them: `decision-<line id>`, `piec-<line id>`, `signature`."""
    errors: dict[str, list[str]] = {}
    decisions = (DL.Decision.ACCEPTEE, DL.Decision.REFUSEE)
    for line in devis.lignes.all():
        decision = reponse.decisions.get(str(line.pk))
        if decision not in decisions:
            errors[f"decision-{line.pk}"] = ["accept or decline this line"]
        elif decision == DL.Decision.ACCEPTEE and line.offre_reemploi:
            if reponse.choix_piec.get(str(line.pk)) not in (Origine.NEUVE, Origine.REEMPLOI):
                errors[f"piec-{line.pk}"] = ["choose a new or a reused part"]
    name = " ".join(reponse.signature.split())
    if len(name) < 2:
        errors["signature"] = ["type your full name to sign"]
    elif len(name) > SIGNATURE_MAX:
        errors["signature"] = [f"at most {SIGNATURE_MAX} characters"]
    return errors


@transaction.atomic
def repondre_devis(
    *,
    jeton: str,
    reponse: Reponse,
    document: str,
    adresse_ip: str | None,
    user_agent: str,
) -> Devis:
    """Records the customer's answer to the estimate the link opens, and applies it to the
    order. `document` is the estimate as the page showed it; its SHA-256 is recorded with it.

    Raises LienInvalide (link unusable), ValidationError (incomplete answer: field → reason)
    or Conflict (the order moved on meanwhile: cancelled, finished, parts gone).
    """
    found = devis_du_lien(jeton)
    reparation = _lock(found.reparation)  # orders first, then estimates, as everywhere
    devis = Devis.objects.select_for_update().get(pk=found.pk)
    if devis.jeton_hash != found.jeton_hash or devis.statut != D.ENVOYE:
        raise LienInvalide("retire", "this estimate was answered or withdrawn meanwhile", devis)
    errors = validate_reponse(devis, reponse)
    if errors:
        raise ValidationError(errors)
    lignes = list(devis.lignes.select_related("piece").order_by("id"))
    for line in lignes:
        line.decision = reponse.decisions[str(line.pk)]
        accepted = line.decision == DL.Decision.ACCEPTEE
        line.choix_piec = (
            reponse.choix_piec[str(line.pk)] if accepted and line.offre_reemploi else ""
        )
    if devis.complementaire:
        _apply_supplementary(reparation, lignes)
    else:
        _apply_first(reparation, lignes)
    DevisLigne.objects.bulk_update(
        lignes, ["decision", "choix_piec", "ligne_piece", "ligne_main_oeuvre"]
    )
    accepted = sum(1 for line in lignes if line.decision == DL.Decision.ACCEPTEE)
    devis.statut = (
        D.ACCEPTE
        if accepted == len(lignes)
        else D.REFUSE
        if accepted == 0
        else D.PARTIELLEMENT_ACCEPTE
    )
    devis.repondu_le = timezone.now()
    devis.signature = " ".join(reponse.signature.split())
    devis.adresse_ip = adresse_ip or None
    devis.user_agent = (user_agent or "")[:500]
    devis.document = document
    devis.empreinte = hashlib.sha256(document.encode()).hexdigest()
    devis.jeton_hash = ""  # the link is used
    devis.save()
    _evenement(devis, f"devis.{devis.statut}")
    return devis


def _price(line: DevisLigne) -> tuple[Decimal, str]:
    if line.choix_piec == Origine.REEMPLOI:
        return line.prix_reemploi, Origine.REEMPLOI
    return line.prix_unitaire, Origine.NEUVE


def _apply_first(reparation: Reparation, lignes: list[DevisLigne]) -> None:
    """A first estimate's answer marks the order's lines; the order's reservation follows
    (declined parts are not held), as when staff change lines."""
    if reparation.statut not in EDITABLE:
        raise Conflict(f"the repair is {reparation.statut}: this estimate no longer applies")
    lock_pieces({line.piece_id for line in reparation.lignes_pieces.all()})
    _release(reparation)
    for line in lignes:
        approbation = (
            Approbation.APPROUVEE if line.decision == DL.Decision.ACCEPTEE else Approbation.REFUSEE
        )
        if line.ligne_piece_id is not None:
            prix, origine = _price(line)
            LignePiece.objects.filter(pk=line.ligne_piece_id).update(
                approbation=approbation, prix_unitaire=prix, origine=origine
            )
        elif line.ligne_main_oeuvre_id is not None:
            LigneMainOeuvre.objects.filter(pk=line.ligne_main_oeuvre_id).update(
                approbation=approbation
            )
    _recompute(reparation)
    if reparation.statut in (S.PLANIFIEE, S.EN_ATTENTE_PIECES):
        _plan(reparation, None)


def _apply_supplementary(reparation: Reparation, lignes: list[DevisLigne]) -> None:
    """A supplementary estimate's lines join the order in progress: accepted ones with their
    parts taken from the shelf now, declined ones as declined work."""
    if reparation.statut != S.EN_COURS:
        raise Conflict(f"the repair is {reparation.statut}: this estimate no longer applies")
    accepted = [line for line in lignes if line.decision == DL.Decision.ACCEPTEE]
    short = _short(accepted)
    if short:
        raise Conflict(short)
    for line in lignes:
        approbation = (
            Approbation.APPROUVEE if line.decision == DL.Decision.ACCEPTEE else Approbation.REFUSEE
        )
        if line.nature == DL.Nature.PIECE:
            prix, origine = _price(line)
            line.ligne_piece = LignePiece.objects.create(
                reparation=reparation,
                piece=line.piece,
                quantite=int(line.quantite),
                prix_unitaire=prix,
                approbation=approbation,
                origine=origine,
            )
            if approbation == Approbation.APPROUVEE:
                Piece.objects.filter(pk=line.piece_id).update(stock=F("stock") - int(line.quantite))
        else:
            line.ligne_main_oeuvre = LigneMainOeuvre.objects.create(
                reparation=reparation,
                description=line.designation,
                heures=line.quantite,
                taux_horaire=line.prix_unitaire,
                approbation=approbation,
            )
    _recompute(reparation)
